/* The certificate authority: key generation, loading the CA, building and
 * signing certificates. Everything through OpenSSL 3 APIs. */
#ifndef ADMIN_CA_H
#define ADMIN_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "store.h"

enum ca_keytype {
	CA_KEY_EC,      /* P-256: what every TLS stack and microcontroller accepts */
	CA_KEY_RSA,     /* 3072 bits */
	CA_KEY_ED25519,
};

enum ca_profile {
	CA_PROFILE_CA,
	CA_PROFILE_SERVER,
	CA_PROFILE_SERVER_CLIENT, /* serverAuth and clientAuth: etcd members, etcd clients */
	CA_PROFILE_DEVICE,
};

struct ca {
	EVP_PKEY *key;
	X509 *cert;          /* NULL while the CA signs its own certificate */
	char *cert_pem;      /* cert as PEM once loaded (ca_load), else NULL */
	size_t cert_pem_len;
	EVP_MD_CTX *sign;    /* initialised signing context (ca_sign_prepare) */
};

/* Makes key after key of one type from a single context: a fresh context
 * per key costs more than the key (OpenSSL rebuilds the curve each time). */
struct ca_keygen {
	EVP_PKEY_CTX *ctx;
};

struct ca_req {
	enum ca_profile profile;
	const char *cn;
	bool no_cn;           /* cn names the request in messages only: etcd's JSON
	                        * gateway refuses a client certificate with a CN */
	const char *o;        /* NULL: none */
	char *const *ou;      /* one OU per entry */
	size_t nou;
	const char *san;      /* "DNS:a,IP:1.2.3.4" or NULL */
	EVP_PKEY *pub;        /* the subject's key */
	time_t not_before;
	time_t not_after;
};

/* "ec", "rsa", "ed25519"; anything else is refused with a message. */
int ca_keytype_parse(const char *s, enum ca_keytype *out);

/* A fresh key; NULL after printing why. */
EVP_PKEY *ca_keygen(enum ca_keytype t);

/* A key generator for many keys of type t. 0, or -1 after printing why;
 * either way ca_keygen_end releases it. */
int ca_keygen_start(struct ca_keygen *g, enum ca_keytype t);
/* The next fresh key; NULL after printing why. */
EVP_PKEY *ca_keygen_next(struct ca_keygen *g);
void ca_keygen_end(struct ca_keygen *g);

/* The private key as PEM PKCS#8, AES-256-CBC encrypted when pass is set.
 * cert, when not NULL, must certify key: its public key is taken from
 * there. *out is malloc'd: wipe and free it. 0 or -1 after printing why. */
int ca_key_pem(EVP_PKEY *key, const char *pass, const X509 *cert, char **out, size_t *len);

/* The certificate as PEM (malloc'd). 0 or -1 after printing why. */
int ca_cert_pem(X509 *cert, char **out, size_t *len);
/* The same, and its fingerprint (mq_x509_fingerprint) into fpr when that
 * is not NULL. */
int ca_cert_pem_fpr(X509 *cert, char **out, size_t *len, char *fpr);

/* Loads DIR/ca.crt and DIR/ca.key, asking for the passphrase only when the
 * key is encrypted. 0 or -1 after printing why. */
int ca_load(struct ca *ca, const struct store *st, const char *passfile);
void ca_release(struct ca *ca);
/* One PEM certificate, or NULL after printing why. */
X509 *ca_load_cert(const char *path);
/* A PEM private key, decrypted with the passphrase (passphrase_get) when it is
 * encrypted; NULL after printing why. */
EVP_PKEY *ca_load_key(const char *path, const char *passfile);
/* Whether the PEM text holds an encrypted private key. */
bool ca_pem_encrypted(const char *pem);

/* Sets up one signing context that ca_issue then copies for every
 * certificate instead of initialising its own (for many certificates).
 * 0 or -1 after printing why. */
int ca_sign_prepare(struct ca *ca);

/* Builds and signs a certificate for req with a random positive 128-bit
 * serial. NULL after printing why. For EC and Ed25519 keys the public key
 * is stored encoded only (decoding it again costs more than signing):
 * X509_get0_pubkey() on the result returns NULL; X509_dup() gives a copy
 * that has it. */
X509 *ca_issue(const struct ca *ca, const struct ca_req *req);

/* notAfter of the CA certificate. */
time_t ca_not_after(const struct ca *ca);

/* Whether a subject key is strong enough to certify (RSA >= 2048, EC
 * P-256/P-384/P-521, Ed25519). 0, or -1 after printing why. */
int ca_key_acceptable(EVP_PKEY *key, const char *what);

/* Digest for signing with key: NULL for Ed25519, SHA-256 otherwise. */
const EVP_MD *ca_digest(EVP_PKEY *key);

#endif
