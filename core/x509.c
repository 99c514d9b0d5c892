/* What a client's X509 certificate says: fingerprint, serial, validity,
 * identity field, CN and OUs (OpenSSL). */
#include "mq_x509.h"
#include "mq_names.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

int mq_x509_fingerprint(const X509 *cert, char out[MQ_FPR_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!cert || !X509_digest(cert, EVP_sha256(), md, &n) || n != 32)
		return -1;
	mq_hex(md, n, out);
	return 0;
}

int mq_x509_der_fingerprint(const unsigned char *der, size_t len, char out[MQ_FPR_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!der || !EVP_Digest(der, len, md, &n, EVP_sha256(), NULL) || n != 32)
		return -1;
	mq_hex(md, n, out);
	return 0;
}

int mq_x509_serial(const X509 *cert, char out[MQ_SERIAL_LEN])
{
	return cert ? mq_x509_serial_hex(X509_get0_serialNumber(cert), out) : -1;
}

int mq_x509_serial_hex(const ASN1_INTEGER *sn, char out[MQ_SERIAL_LEN])
{
	BIGNUM *bn = NULL;
	unsigned char buf[MQ_SERIAL_LEN / 2];
	int n, rc = -1;

	if (!sn)
		return -1;
	bn = ASN1_INTEGER_to_BN(sn, NULL);
	if (!bn)
		goto out;
	n = BN_num_bytes(bn);
	if (n > (int)sizeof(buf))
		goto out;
	if (n == 0) {
		strcpy(out, "00");
		rc = 0;
		goto out;
	}
	BN_bn2bin(bn, buf);
	mq_hex(buf, (size_t)n, out);
	rc = 0;
out:
	BN_free(bn);
	return rc;
}

int mq_x509_validity(const X509 *cert, time_t *not_before, time_t *not_after)
{
	struct tm tm;

	if (!cert || !ASN1_TIME_to_tm(X509_get0_notBefore(cert), &tm))
		return -1;
	*not_before = timegm(&tm);
	if (!ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm))
		return -1;
	*not_after = timegm(&tm);
	return 0;
}

/* ASN1 string to a malloc'd UTF-8 C string; rejects embedded NULs, which
 * would otherwise truncate the identity that a later check sees. */
static enum mq_id_result x509_asn1_utf8(const ASN1_STRING *s, char **out)
{
	unsigned char *utf8 = NULL;
	int n = ASN1_STRING_to_UTF8(&utf8, s);
	enum mq_id_result r = MQ_IDR_ERROR;

	if (n < 0)
		return MQ_IDR_UNSAFE;
	if (memchr(utf8, '\0', (size_t)n) || !mq_identity_safe((char *)utf8, (size_t)n)) {
		r = n == 0 ? MQ_IDR_MISSING : MQ_IDR_UNSAFE;
		goto out;
	}
	*out = strndup((char *)utf8, (size_t)n);
	r = *out ? MQ_IDR_OK : MQ_IDR_ERROR;
out:
	OPENSSL_free(utf8);
	return r;
}

static enum mq_id_result x509_cn(const X509 *cert, char **out)
{
	const X509_NAME *name = X509_get_subject_name(cert);
	int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	X509_NAME_ENTRY *e;

	if (idx < 0)
		return MQ_IDR_MISSING;
	/* Two CNs make "the" name ambiguous; a verifier may pick either. */
	if (X509_NAME_get_index_by_NID(name, NID_commonName, idx) >= 0)
		return MQ_IDR_UNSAFE;
	e = X509_NAME_get_entry(name, idx);
	return x509_asn1_utf8(X509_NAME_ENTRY_get_data(e), out);
}

char *mq_x509_cn(const X509 *cert)
{
	char *cn = NULL;

	if (x509_cn(cert, &cn) != MQ_IDR_OK)
		return NULL;
	return cn;
}

/* Without ASN1_STRFLGS_ESC_MSB, RFC 2253 output passes bytes above 0x7f
 * through unchecked, C1 controls included. The DN may hold '/', '+' and
 * '#'; every run between them must pass the identity check. */
static bool x509_dn_safe(const char *s, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '/' && s[i] != '+' && s[i] != '#')
			continue;
		if (i > start && !mq_identity_safe(s + start, i - start))
			return false;
		start = i + 1;
	}
	return true;
}

static enum mq_id_result x509_dn(const X509 *cert, char **out)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;
	enum mq_id_result r = MQ_IDR_ERROR;

	if (!b)
		return MQ_IDR_ERROR;
	if (X509_NAME_entry_count(X509_get_subject_name(cert)) == 0) {
		r = MQ_IDR_MISSING;
		goto out;
	}
	/* RFC 2253 escapes separators and non-printables, so the text is
	 * unambiguous; UTF-8 is kept as is. */
	if (X509_NAME_print_ex(b, X509_get_subject_name(cert), 0,
			       XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
		goto out;
	n = BIO_get_mem_data(b, &data);
	if (n <= 0) {
		r = MQ_IDR_MISSING;
		goto out;
	}
	if (!x509_dn_safe(data, (size_t)n)) {
		r = MQ_IDR_UNSAFE;
		goto out;
	}
	*out = strndup(data, (size_t)n);
	r = *out ? MQ_IDR_OK : MQ_IDR_ERROR;
out:
	BIO_free(b);
	return r;
}

static enum mq_id_result x509_san(const X509 *cert, int type, char **out)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	enum mq_id_result r = MQ_IDR_MISSING;

	for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

		if (gn->type != type)
			continue;
		r = x509_asn1_utf8(gn->d.ia5, out);
		break;
	}
	GENERAL_NAMES_free(names);
	return r;
}

enum mq_id_result mq_x509_identity(const X509 *cert, enum mq_idfield f, char **out)
{
	char fpr[MQ_FPR_LEN];

	*out = NULL;
	if (!cert)
		return MQ_IDR_MISSING;
	switch (f) {
	case MQ_ID_CN:
		return x509_cn(cert, out);
	case MQ_ID_DN:
		return x509_dn(cert, out);
	case MQ_ID_SAN_DNS:
		return x509_san(cert, GEN_DNS, out);
	case MQ_ID_SAN_EMAIL:
		return x509_san(cert, GEN_EMAIL, out);
	case MQ_ID_SAN_URI:
		return x509_san(cert, GEN_URI, out);
	case MQ_ID_FINGERPRINT:
		if (mq_x509_fingerprint(cert, fpr))
			return MQ_IDR_ERROR;
		*out = strdup(fpr);
		return *out ? MQ_IDR_OK : MQ_IDR_ERROR;
	}
	return MQ_IDR_ERROR;
}

int mq_x509_ous(const X509 *cert, size_t max, char ***out, size_t *n)
{
	const X509_NAME *subj = X509_get_subject_name(cert);
	char **ous = NULL;
	size_t k = 0;
	int pos = -1;

	*out = NULL;
	*n = 0;
	while (k < max && (pos = X509_NAME_get_index_by_NID(subj, NID_organizationalUnitName, pos)) >= 0) {
		char *v = NULL;
		enum mq_id_result r = x509_asn1_utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, pos)), &v);

		if (r == MQ_IDR_ERROR)
			goto oom;
		if (r != MQ_IDR_OK)
			continue;
		if (!ous && !(ous = calloc(max, sizeof(*ous)))) {
			free(v);
			goto oom;
		}
		ous[k++] = v;
	}
	ERR_clear_error();
	*out = ous;
	*n = k;
	return 0;
oom:
	mq_x509_ous_free(ous, k);
	return -1;
}

void mq_x509_ous_free(char **ous, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ous[i]);
	free(ous);
}
