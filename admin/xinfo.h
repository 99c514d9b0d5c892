/* Reading and describing X.509 objects for people: what doctor and inspect
 * share (loading PEM or DER, key and signature strength, names, SANs). */
#ifndef ADMIN_XINFO_H
#define ADMIN_XINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* The first certificate in path (PEM or DER). NULL with a reason in err
 * ("cannot read ...: why" or "... holds no certificate"). */
X509 *xinfo_load_cert(const char *path, char *err, size_t errlen);

/* Every certificate of a PEM bundle (or the one DER certificate) in path.
 * NULL with err set when there is none. Free with sk_X509_pop_free. */
STACK_OF(X509) *xinfo_load_certs(const char *path, char *err, size_t errlen);

/* The CRL in path (PEM or DER), or NULL with err set. */
X509_CRL *xinfo_load_crl(const char *path, char *err, size_t errlen);

/* "EC P-256", "RSA 3072", "Ed25519"... */
void xinfo_key_desc(const EVP_PKEY *key, char *buf, size_t len);

/* Why the key is too weak to trust (RSA or DSA below 2048 bits, EC below
 * 224 bits), or NULL when it is not. */
const char *xinfo_key_weakness(const EVP_PKEY *key);

/* The signature algorithm's long name ("ecdsa-with-SHA256"). */
const char *xinfo_sig_name(int sig_nid);

/* Whether the certificate's signature uses MD5 or SHA-1 (or older). */
bool xinfo_sig_weak(const X509 *cert);

/* The name as RFC 2253 text (malloc'd), or NULL when out of memory. */
char *xinfo_name(const X509_NAME *name);

/* Subject alternative names as "DNS:a, IP:1.2.3.4" (malloc'd, "" when the
 * certificate has none), or NULL when out of memory. *nip and *nother
 * (optional) count IP and other SANs. */
char *xinfo_sans(const X509 *cert, int *nip, int *nother);

/* Whether ca's key signed cert and ca's subject is cert's issuer. */
bool xinfo_issued_by(X509 *cert, X509 *ca);

/* An ASN1_TIME as time_t; 0 or -1. */
int xinfo_asn1_time(const ASN1_TIME *a, time_t *out);

#endif
