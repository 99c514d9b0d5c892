#include "ca.h"

#include "cli.h"
#include "mq_fileio.h"
#include "mq_time.h"
#include "passphrase.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define CA_KEYFILE_MAX (64 * 1024)

/* The innermost OpenSSL reason, for the end of an error line. */
static const char *ca_ossl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	return r ? r : "unknown OpenSSL error";
}

int ca_keytype_parse(const char *s, enum ca_keytype *out)
{
	if (!strcmp(s, "ec"))
		*out = CA_KEY_EC;
	else if (!strcmp(s, "rsa"))
		*out = CA_KEY_RSA;
	else if (!strcmp(s, "ed25519"))
		*out = CA_KEY_ED25519;
	else {
		cli_err("invalid --key-type '%s': use ec (P-256), rsa (3072 bits) or ed25519", s);
		return -1;
	}
	return 0;
}

EVP_PKEY *ca_keygen(enum ca_keytype t)
{
	EVP_PKEY *k = NULL;

	switch (t) {
	case CA_KEY_EC:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case CA_KEY_RSA:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
		break;
	case CA_KEY_ED25519:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	}
	if (!k)
		cli_err("cannot generate a key: %s", ca_ossl_reason());
	return k;
}

/* Copies a memory BIO's contents into a malloc'd buffer. */
static int ca_bio_take(BIO *b, char **out, size_t *len)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);

	if (n < 0 || !(*out = malloc((size_t)n + 1)))
		return -1;
	memcpy(*out, data, (size_t)n);
	(*out)[n] = '\0';
	*len = (size_t)n;
	return 0;
}

int ca_key_pem(EVP_PKEY *key, const char *pass, char **out, size_t *len)
{
	BIO *b = BIO_new(BIO_s_secmem());
	int rc = -1;

	if (!b)
		b = BIO_new(BIO_s_mem());
	if (!b)
		goto out;
	if (!PEM_write_bio_PKCS8PrivateKey(b, key, pass ? EVP_aes_256_cbc() : NULL, NULL, 0, NULL,
					   (void *)pass))
		goto out;
	rc = ca_bio_take(b, out, len);
out:
	if (rc)
		cli_err("cannot encode a private key: %s", ca_ossl_reason());
	BIO_free(b); /* a secmem BIO wipes its buffer */
	return rc;
}

int ca_cert_pem(X509 *cert, char **out, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	int rc = -1;

	if (b && PEM_write_bio_X509(b, cert))
		rc = ca_bio_take(b, out, len);
	if (rc)
		cli_err("cannot encode a certificate: %s", ca_ossl_reason());
	BIO_free(b);
	return rc;
}

static X509 *ca_load_cert(const char *path)
{
	BIO *b = BIO_new_file(path, "r");
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	if (!x)
		cli_err("cannot read the CA certificate %s: %s", path, ca_ossl_reason());
	BIO_free(b);
	return x;
}

static EVP_PKEY *ca_load_key(const char *path, const char *passfile)
{
	char err[512], pass[PASS_MAX], *pem = NULL;
	size_t len = 0;
	EVP_PKEY *k = NULL;
	BIO *b = NULL;
	bool encrypted;

	pass[0] = '\0';
	if (mq_file_read(path, CA_KEYFILE_MAX, &pem, &len, err, sizeof(err))) {
		cli_err("cannot read the CA key: %s", err);
		return NULL;
	}
	encrypted = strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----") != NULL;
	if (encrypted && pass_get(passfile, pass, sizeof(pass)))
		goto out;
	b = BIO_new_mem_buf(pem, (int)len);
	if (b)
		/* With no callback OpenSSL takes the last argument as the
		 * passphrase; "" keeps it from prompting on its own. */
		k = PEM_read_bio_PrivateKey(b, NULL, NULL, pass);
	if (!k) {
		if (encrypted)
			cli_err("cannot decrypt %s: wrong passphrase", path);
		else
			cli_err("cannot read the CA key %s: %s", path, ca_ossl_reason());
	}
out:
	OPENSSL_cleanse(pass, sizeof(pass));
	OPENSSL_cleanse(pem, len);
	free(pem);
	BIO_free(b);
	return k;
}

int ca_load(struct ca *ca, const struct store *st, const char *passfile)
{
	char *crt = store_path(st, "ca.crt"), *key = store_path(st, "ca.key");
	int rc = -1;

	memset(ca, 0, sizeof(*ca));
	if (!crt || !key)
		goto out;
	if (!(ca->cert = ca_load_cert(crt)) || !(ca->key = ca_load_key(key, passfile)))
		goto out;
	if (X509_check_private_key(ca->cert, ca->key) != 1) {
		cli_err("%s does not belong to %s: restore the matching pair", key, crt);
		goto out;
	}
	rc = 0;
out:
	if (rc)
		ca_release(ca);
	free(crt);
	free(key);
	ERR_clear_error();
	return rc;
}

void ca_release(struct ca *ca)
{
	EVP_PKEY_free(ca->key);
	X509_free(ca->cert);
	ca->key = NULL;
	ca->cert = NULL;
}

time_t ca_not_after(const struct ca *ca)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(X509_get0_notAfter(ca->cert), &tm))
		return 0;
	return timegm(&tm);
}

const EVP_MD *ca_digest(EVP_PKEY *key)
{
	return EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
}

/* 16 random bytes, top bit clear (positive) and the next one set, so every
 * serial is exactly 128 bits long in DER and never zero. */
static int ca_set_serial(X509 *x)
{
	unsigned char r[16];
	BIGNUM *bn = NULL;
	int rc = -1;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	r[0] = (unsigned char)((r[0] & 0x7f) | 0x40);
	bn = BN_bin2bn(r, sizeof(r), NULL);
	if (bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		rc = 0;
	BN_free(bn);
	return rc;
}

static int ca_set_subject(X509 *x, const struct ca_req *req)
{
	X509_NAME *n = X509_get_subject_name(x);

	if (req->o && !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
						   (const unsigned char *)req->o, -1, -1, 0))
		return -1;
	for (size_t i = 0; i < req->nou; i++)
		if (!X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_UTF8,
						(const unsigned char *)req->ou[i], -1, -1, 0))
			return -1;
	if (!X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)req->cn,
					-1, -1, 0))
		return -1;
	return 0;
}

static int ca_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	int ok;

	if (!e)
		return -1;
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? 0 : -1;
}

static int ca_add_exts(X509 *x, const X509 *issuer, const struct ca_req *req)
{
	bool rsa = EVP_PKEY_get_base_id(req->pub) == EVP_PKEY_RSA;
	X509V3_CTX ctx;

	X509V3_set_ctx(&ctx, (X509 *)issuer, x, NULL, NULL, 0);
	if (ca_add_ext(x, &ctx, NID_subject_key_identifier, "hash"))
		return -1;
	/* For the self-signed CA the issuer is x itself: SKI must exist first. */
	if (ca_add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always"))
		return -1;
	switch (req->profile) {
	case CA_PROFILE_CA:
		return ca_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
		       ca_add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") ? -1 : 0;
	case CA_PROFILE_SERVER:
	case CA_PROFILE_DEVICE:
		if (ca_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
		    ca_add_ext(x, &ctx, NID_key_usage,
			       rsa ? "critical,digitalSignature,keyEncipherment"
				   : "critical,digitalSignature") ||
		    ca_add_ext(x, &ctx, NID_ext_key_usage,
			       req->profile == CA_PROFILE_SERVER ? "serverAuth" : "clientAuth"))
			return -1;
		if (req->san && ca_add_ext(x, &ctx, NID_subject_alt_name, req->san))
			return -1;
		return 0;
	}
	return -1;
}

X509 *ca_issue(const struct ca *ca, const struct ca_req *req)
{
	X509 *x = X509_new();
	const X509 *issuer;

	if (!x || !X509_set_version(x, X509_VERSION_3) || ca_set_serial(x) ||
	    ca_set_subject(x, req) || !X509_set_pubkey(x, req->pub) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), req->not_before) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), req->not_after))
		goto fail;
	issuer = ca->cert ? ca->cert : x;
	if (!X509_set_issuer_name(x, X509_get_subject_name(issuer)))
		goto fail;
	if (ca_add_exts(x, issuer, req))
		goto fail;
	if (!X509_sign(x, ca->key, ca_digest(ca->key)))
		goto fail;
	return x;
fail:
	cli_err("cannot build the certificate for '%s': %s", req->cn, ca_ossl_reason());
	X509_free(x);
	return NULL;
}

int ca_key_acceptable(EVP_PKEY *key, const char *what)
{
	char curve[64];
	size_t n = 0;

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(key) >= 2048)
			return 0;
		cli_err("%s has a %d-bit RSA key: at least 2048 bits are required", what,
			EVP_PKEY_get_bits(key));
		return -1;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, curve,
						   sizeof(curve), &n) &&
		    (!strcmp(curve, "prime256v1") || !strcmp(curve, "secp384r1") ||
		     !strcmp(curve, "secp521r1") || !strcmp(curve, "P-256") ||
		     !strcmp(curve, "P-384") || !strcmp(curve, "P-521")))
			return 0;
		cli_err("%s uses EC curve '%s': use P-256, P-384 or P-521", what, n ? curve : "unknown");
		return -1;
	case EVP_PKEY_ED25519:
		return 0;
	default:
		cli_err("%s has an unsupported key type: use EC (P-256/P-384/P-521), RSA >= 2048 or Ed25519",
			what);
		return -1;
	}
}
