/* The certificate authority (ca.h): generating keys, loading DIR's CA
 * certificate and key, and building and signing every certificate mqadmin
 * issues (CA, broker, device), with OpenSSL 3. */
#include "ca.h"

#include "cli.h"
#include "mq_x509.h"
#include "mq_fileio.h"
#include "mq_time.h"
#include "passphrase.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define CA_KEYFILE_MAX (64 * 1024)
#define CA_POINT_MAX 133 /* an uncompressed P-521 point */
#define CA_P8_MAX 512    /* PKCS#8 of a P-521 key: 241 bytes */

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

int ca_keygen_start(struct ca_keygen *g, enum ca_keytype t)
{
	static const char *const algs[] = {
		[CA_KEY_EC] = "EC", [CA_KEY_RSA] = "RSA", [CA_KEY_ED25519] = "ED25519",
	};
	int ok;

	g->ctx = EVP_PKEY_CTX_new_from_name(NULL, algs[t], NULL);
	ok = g->ctx && EVP_PKEY_keygen_init(g->ctx) == 1;
	if (ok && t == CA_KEY_EC)
		ok = EVP_PKEY_CTX_set_group_name(g->ctx, "P-256") == 1;
	else if (ok && t == CA_KEY_RSA)
		ok = EVP_PKEY_CTX_set_rsa_keygen_bits(g->ctx, 3072) == 1;
	if (!ok) {
		cli_err("cannot generate a key: %s", ca_ossl_reason());
		return -1;
	}
	return 0;
}

EVP_PKEY *ca_keygen_next(struct ca_keygen *g)
{
	EVP_PKEY *k = NULL;

	if (EVP_PKEY_generate(g->ctx, &k) != 1) {
		cli_err("cannot generate a key: %s", ca_ossl_reason());
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

void ca_keygen_end(struct ca_keygen *g)
{
	EVP_PKEY_CTX_free(g->ctx);
	g->ctx = NULL;
}

EVP_PKEY *ca_keygen(enum ca_keytype t)
{
	struct ca_keygen g = {0};
	EVP_PKEY *k = NULL;

	if (!ca_keygen_start(&g, t))
		k = ca_keygen_next(&g);
	ca_keygen_end(&g);
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

/* The curve and public point of an EC key on a named curve: what its
 * subjectPublicKeyInfo and ECPrivateKey hold. 0, or -1 when the key is
 * anything else (explicit parameters, an unknown curve). */
static int ca_ec_pub(EVP_PKEY *key, int *nid, unsigned char *pt, size_t cap, size_t *len)
{
	char curve[64] = "", enc[32] = "";
	OSSL_PARAM params[] = {
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof(curve)),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, enc, sizeof(enc)),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, cap),
		OSSL_PARAM_END,
	};

	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC || !EVP_PKEY_get_params(key, params) ||
	    !OSSL_PARAM_modified(&params[0]) || !OSSL_PARAM_modified(&params[1]) ||
	    !OSSL_PARAM_modified(&params[2]) || strcmp(enc, OSSL_PKEY_EC_ENCODING_GROUP))
		goto no;
	*nid = OBJ_sn2nid(curve);
	if (*nid == NID_undef)
		*nid = EC_curve_nist2nid(curve);
	if (*nid == NID_undef)
		goto no;
	*len = params[2].return_size;
	return 0;
no:
	ERR_clear_error();
	return -1;
}

/* DER built backwards from the end of a buffer, so every length is known
 * when its header is written. */
struct der {
	unsigned char *buf;
	size_t pos; /* the encoding is buf[pos..end) */
	bool failed;
};

static void der_put(struct der *d, const void *p, size_t n)
{
	if (d->failed || n > d->pos) {
		d->failed = true;
		return;
	}
	d->pos -= n;
	memcpy(d->buf + d->pos, p, n);
}

/* Makes buf[pos..end) the contents of one tag. */
static void der_wrap(struct der *d, unsigned char tag, size_t end)
{
	size_t len = end - d->pos;
	unsigned char h[4];
	size_t n = 0;

	h[n++] = tag;
	if (len >= 0x100)
		h[n++] = 0x82;
	else if (len >= 0x80)
		h[n++] = 0x81;
	if (len >= 0x100)
		h[n++] = (unsigned char)(len >> 8);
	h[n++] = (unsigned char)len;
	if (len > 0xffff)
		d->failed = true;
	der_put(d, h, n);
}

static void der_oid(struct der *d, int nid)
{
	unsigned char b[32], *p = b;
	int n = i2d_ASN1_OBJECT(OBJ_nid2obj(nid), NULL);

	if (n <= 0 || n > (int)sizeof(b) || i2d_ASN1_OBJECT(OBJ_nid2obj(nid), &p) != n) {
		d->failed = true;
		return;
	}
	der_put(d, b, (size_t)n);
}

/* The curve and point of cert's EC public key (which is key's): the
 * provider would compute the point's encoding again. 0, or -1 when there
 * is no such certificate. */
static int ca_cert_ec_pub(EVP_PKEY *key, const X509 *cert, int *nid, unsigned char *pt,
			  size_t cap, size_t *len)
{
	const ASN1_OBJECT *alg = NULL;
	const unsigned char *p = NULL;
	const void *par = NULL;
	X509_ALGOR *a = NULL;
	int n = 0, ptype = V_ASN1_UNDEF;

	if (!cert || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
	    !X509_PUBKEY_get0_param(NULL, &p, &n, &a, X509_get_X509_PUBKEY(cert)) || !a)
		return -1;
	X509_ALGOR_get0(&alg, &ptype, &par, a);
	if (OBJ_obj2nid(alg) != NID_X9_62_id_ecPublicKey || ptype != V_ASN1_OBJECT ||
	    (*nid = OBJ_obj2nid(par)) == NID_undef || n <= 0 || (size_t)n > cap)
		return -1;
	memcpy(pt, p, (size_t)n);
	*len = (size_t)n;
	return 0;
}

/* Unencrypted PKCS#8 DER of an EC (named curve) or Ed25519 key, written
 * directly: the encoder framework OpenSSL 3 uses for this costs more than
 * making the key. The bytes are exactly what OpenSSL writes: the curve OID
 * as algorithm parameter, an ECPrivateKey without parameters and with the
 * public key, the private scalar padded to the order's length; Ed25519 as
 * RFC 8410 v1. 1 when written, 0 for any other key (use OpenSSL), -1 on
 * error. der[pos..CA_P8_MAX) holds the result. */
static int ca_p8_der(EVP_PKEY *key, const X509 *cert, unsigned char der[CA_P8_MAX], size_t *pos)
{
	static const unsigned char v0[] = {0x02, 0x01, 0x00}, v1[] = {0x02, 0x01, 0x01};
	unsigned char pt[CA_POINT_MAX], priv[66];
	struct der d = {der, CA_P8_MAX, false};
	size_t end = CA_P8_MAX, mark, ptlen = 0, plen = sizeof(priv);
	BIGNUM *bn = NULL;
	int nid = NID_undef, rc = -1;

	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
		if (EVP_PKEY_get_raw_private_key(key, priv, &plen) != 1)
			goto out;
		der_put(&d, priv, plen);
		der_wrap(&d, V_ASN1_OCTET_STRING, end);
		der_wrap(&d, V_ASN1_OCTET_STRING, end);
		mark = d.pos;
		der_oid(&d, NID_ED25519);
		der_wrap(&d, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, mark);
	} else {
		if (ca_cert_ec_pub(key, cert, &nid, pt, sizeof(pt), &ptlen) &&
		    ca_ec_pub(key, &nid, pt, sizeof(pt), &ptlen)) {
			rc = 0;
			goto out;
		}
		plen = ((size_t)EVP_PKEY_get_bits(key) + 7) / 8;
		if (plen > sizeof(priv) ||
		    !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &bn) ||
		    BN_bn2binpad(bn, priv, (int)plen) != (int)plen)
			goto out;
		/* ECPrivateKey: version 1, privateKey, [1] publicKey */
		der_put(&d, pt, ptlen);
		der_put(&d, "", 1); /* no unused bits */
		der_wrap(&d, V_ASN1_BIT_STRING, end);
		der_wrap(&d, 0xa1, end);
		mark = d.pos;
		der_put(&d, priv, plen);
		der_wrap(&d, V_ASN1_OCTET_STRING, mark);
		der_put(&d, v1, sizeof(v1));
		der_wrap(&d, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, end);
		der_wrap(&d, V_ASN1_OCTET_STRING, end);
		mark = d.pos;
		der_oid(&d, nid);
		der_oid(&d, NID_X9_62_id_ecPublicKey);
		der_wrap(&d, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, mark);
	}
	der_put(&d, v0, sizeof(v0));
	der_wrap(&d, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, end);
	if (d.failed)
		goto out;
	*pos = d.pos;
	rc = 1;
out:
	BN_clear_free(bn);
	OPENSSL_cleanse(priv, sizeof(priv));
	if (rc != 1)
		OPENSSL_cleanse(der, CA_P8_MAX);
	return rc;
}

int ca_key_pem(EVP_PKEY *key, const char *pass, const X509 *cert, char **out, size_t *len)
{
	unsigned char der[CA_P8_MAX];
	size_t pos = 0;
	BIO *b = BIO_new(BIO_s_secmem());
	int rc = -1, fast = 0;

	if (!b)
		b = BIO_new(BIO_s_mem());
	if (!b)
		goto out;
	if (!pass && (fast = ca_p8_der(key, cert, der, &pos)) < 0)
		goto out;
	if (fast ? !PEM_write_bio(b, PEM_STRING_PKCS8INF, "", der + pos, (long)(CA_P8_MAX - pos))
		 : !PEM_write_bio_PKCS8PrivateKey(b, key, pass ? EVP_aes_256_cbc() : NULL, NULL, 0,
						  NULL, (void *)pass))
		goto out;
	rc = ca_bio_take(b, out, len);
out:
	if (rc)
		cli_err("cannot encode a private key: %s", ca_ossl_reason());
	if (fast)
		OPENSSL_cleanse(der, sizeof(der));
	BIO_free(b); /* a secmem BIO wipes its buffer */
	return rc;
}

int ca_cert_pem_fpr(X509 *cert, char **out, size_t *len, char *fpr)
{
	BIO *b = BIO_new(BIO_s_mem());
	unsigned char *der = NULL;
	int n = i2d_X509(cert, &der), rc = -1;

	/* One encoding for both: each i2d_X509 encodes the whole certificate
	 * again. */
	if (b && n > 0 && PEM_write_bio(b, PEM_STRING_X509, "", der, n) &&
	    (!fpr || !mq_x509_der_fingerprint(der, (size_t)n, fpr)))
		rc = ca_bio_take(b, out, len);
	if (rc)
		cli_err("cannot encode a certificate: %s", ca_ossl_reason());
	OPENSSL_free(der);
	BIO_free(b);
	return rc;
}

int ca_cert_pem(X509 *cert, char **out, size_t *len)
{
	return ca_cert_pem_fpr(cert, out, len, NULL);
}

X509 *ca_load_cert(const char *path)
{
	BIO *b = BIO_new_file(path, "r");
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	if (!x)
		cli_err("cannot read the CA certificate %s: %s", path, ca_ossl_reason());
	BIO_free(b);
	return x;
}

bool ca_pem_encrypted(const char *pem)
{
	/* PKCS#8 (mqadmin, easy-rsa 3) or the traditional "Proc-Type" form
	 * that 'openssl genrsa -aes256' and older scripts write. */
	return strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----") ||
	       strstr(pem, "Proc-Type: 4,ENCRYPTED");
}

EVP_PKEY *ca_load_key(const char *path, const char *passfile)
{
	char err[512], pass[PASSPHRASE_MAX], *pem = NULL;
	size_t len = 0;
	EVP_PKEY *k = NULL;
	BIO *b = NULL;
	bool encrypted;

	pass[0] = '\0';
	if (mq_file_read(path, CA_KEYFILE_MAX, &pem, &len, err, sizeof(err))) {
		cli_err("cannot read the CA key: %s", err);
		return NULL;
	}
	encrypted = ca_pem_encrypted(pem);
	if (encrypted && passphrase_get(passfile, pass, sizeof(pass)))
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
	if (ca_cert_pem(ca->cert, &ca->cert_pem, &ca->cert_pem_len))
		goto out;
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
	EVP_MD_CTX_free(ca->sign);
	EVP_PKEY_free(ca->key);
	X509_free(ca->cert);
	free(ca->cert_pem);
	memset(ca, 0, sizeof(*ca));
}

int ca_sign_prepare(struct ca *ca)
{
	ca->sign = EVP_MD_CTX_new();
	if (!ca->sign || EVP_DigestSignInit(ca->sign, NULL, ca_digest(ca->key), NULL, ca->key) != 1) {
		cli_err("cannot set up signing with the CA key: %s", ca_ossl_reason());
		EVP_MD_CTX_free(ca->sign);
		ca->sign = NULL;
		return -1;
	}
	return 0;
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
	if (!req->no_cn && !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
						       (const unsigned char *)req->cn, -1, -1, 0))
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
	case CA_PROFILE_SERVER_CLIENT:
	case CA_PROFILE_DEVICE:
		if (ca_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
		    ca_add_ext(x, &ctx, NID_key_usage,
			       rsa ? "critical,digitalSignature,keyEncipherment"
				   : "critical,digitalSignature") ||
		    ca_add_ext(x, &ctx, NID_ext_key_usage,
			       req->profile == CA_PROFILE_SERVER ? "serverAuth" :
			       req->profile == CA_PROFILE_DEVICE ? "clientAuth" :
								   "serverAuth,clientAuth"))
			return -1;
		if (req->san && ca_add_ext(x, &ctx, NID_subject_alt_name, req->san))
			return -1;
		return 0;
	}
	return -1;
}

/* The subject's key into x. X509_set_pubkey makes OpenSSL 3 encode the key
 * and decode it again through its provider framework, half the cost of a
 * device; for EC and Ed25519 keys the few fields are set directly, giving
 * the same DER. Other keys (RSA) take the general path. */
static int ca_set_pubkey(X509 *x, EVP_PKEY *pub)
{
	unsigned char pt[CA_POINT_MAX], *copy;
	ASN1_OBJECT *alg, *par = NULL;
	size_t n = sizeof(pt);
	int nid, ptype = V_ASN1_UNDEF;

	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_ED25519 &&
	    EVP_PKEY_get_raw_public_key(pub, pt, &n) == 1) {
		alg = OBJ_nid2obj(NID_ED25519);
	} else if (!ca_ec_pub(pub, &nid, pt, sizeof(pt), &n)) {
		alg = OBJ_nid2obj(NID_X9_62_id_ecPublicKey);
		par = OBJ_nid2obj(nid);
		ptype = V_ASN1_OBJECT;
	} else {
		ERR_clear_error();
		return X509_set_pubkey(x, pub) ? 0 : -1;
	}
	copy = OPENSSL_memdup(pt, n);
	if (!copy || !X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), alg, ptype, par, copy,
					     (int)n)) {
		OPENSSL_free(copy);
		return -1;
	}
	return 0;
}

static int ca_sign(X509 *x, const struct ca *ca)
{
	EVP_MD_CTX *c = ca->sign ? EVP_MD_CTX_new() : NULL;
	int ok;

	/* A copy of a ready context fetches no algorithm per certificate;
	 * where a copy is refused, sign the usual way. */
	if (c && EVP_MD_CTX_copy_ex(c, ca->sign)) {
		ok = X509_sign_ctx(x, c) > 0;
	} else {
		ERR_clear_error();
		ok = X509_sign(x, ca->key, ca_digest(ca->key)) > 0;
	}
	EVP_MD_CTX_free(c);
	return ok ? 0 : -1;
}

X509 *ca_issue(const struct ca *ca, const struct ca_req *req)
{
	X509 *x = X509_new();
	const X509 *issuer;

	if (!x || !X509_set_version(x, X509_VERSION_3) || ca_set_serial(x) ||
	    ca_set_subject(x, req) || ca_set_pubkey(x, req->pub) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), req->not_before) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), req->not_after))
		goto fail;
	issuer = ca->cert ? ca->cert : x;
	if (!X509_set_issuer_name(x, X509_get_subject_name(issuer)))
		goto fail;
	if (ca_add_exts(x, issuer, req))
		goto fail;
	if (ca_sign(x, ca))
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
