#include "mq_certid.h"
#include "mq_names.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

static const char *const certid_field_names[] = {
	[MQ_ID_CN] = "cn",
	[MQ_ID_DN] = "dn",
	[MQ_ID_SAN_DNS] = "san-dns",
	[MQ_ID_SAN_EMAIL] = "san-email",
	[MQ_ID_SAN_URI] = "san-uri",
	[MQ_ID_FINGERPRINT] = "fingerprint",
};

int mq_idfield_parse(const char *s, enum mq_idfield *out)
{
	for (size_t i = 0; i < sizeof(certid_field_names) / sizeof(*certid_field_names); i++) {
		if (s && !strcmp(s, certid_field_names[i])) {
			*out = (enum mq_idfield)i;
			return 0;
		}
	}
	return -1;
}

const char *mq_idfield_name(enum mq_idfield f)
{
	if ((size_t)f >= sizeof(certid_field_names) / sizeof(*certid_field_names))
		return "?";
	return certid_field_names[f];
}

const char *mq_id_result_str(enum mq_id_result r)
{
	switch (r) {
	case MQ_IDR_OK:
		return "ok";
	case MQ_IDR_MISSING:
		return "certificate has no such field";
	case MQ_IDR_UNSAFE:
		return "field contains '+', '#', '/', control characters or invalid UTF-8";
	default:
		return "internal error";
	}
}

void mq_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int mq_cert_fingerprint(const X509 *cert, char out[MQ_FPR_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!cert || !X509_digest(cert, EVP_sha256(), md, &n) || n != 32)
		return -1;
	mq_hex(md, n, out);
	return 0;
}

int mq_der_fingerprint(const unsigned char *der, size_t len, char out[MQ_FPR_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!der || !EVP_Digest(der, len, md, &n, EVP_sha256(), NULL) || n != 32)
		return -1;
	mq_hex(md, n, out);
	return 0;
}

int mq_fingerprint_valid(const char *s)
{
	if (!s || strlen(s) != MQ_FPR_LEN - 1)
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}

bool mq_dns_name_valid(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char c = s[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c == '-' && label > 0)))
			return false;
		label++;
	}
	return true;
}

static bool certid_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 5322 atext minus what the identity check or the list refuses. */
static bool certid_email_valid(const char *v)
{
	const char *at = strchr(v, '@');

	if (!at || at == v || at - v > 64 || *(at - 1) == '.' || *v == '.' || strstr(v, ".."))
		return false;
	for (const char *p = v; p < at; p++)
		if (!certid_alnum(*p) && !strchr("!$%&'*=?^_`{|}~.-", *p))
			return false;
	return mq_dns_name_valid(at + 1);
}

/* RFC 3986: scheme ":" then unreserved, reserved or %XX characters. */
static bool certid_uri_valid(const char *v)
{
	const char *p = v;

	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return false;
	while (certid_alnum(*p) || *p == '.' || *p == '-')
		p++;
	if (*p++ != ':' || !*p)
		return false;
	for (; *p; p++) {
		if (*p == '%') {
			if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
				return false;
			p += 2;
		} else if (!certid_alnum(*p) && !strchr("-._~:?[]@!$&'()*;=", *p)) {
			return false;
		}
	}
	return true;
}

const char *mq_san_check(const char *spec, enum mq_idfield *type)
{
	static const struct {
		const char *prefix;
		enum mq_idfield f;
	} kinds[] = {
		{"DNS:", MQ_ID_SAN_DNS},
		{"email:", MQ_ID_SAN_EMAIL},
		{"URI:", MQ_ID_SAN_URI},
	};
	const char *v = NULL;
	enum mq_idfield f = MQ_ID_SAN_DNS;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++) {
		if (!strncmp(spec, kinds[i].prefix, strlen(kinds[i].prefix))) {
			v = spec + strlen(kinds[i].prefix);
			f = kinds[i].f;
		}
	}
	if (!v)
		return "use DNS:name, email:address or URI:uri";
	if (!*v)
		return "the value is empty";
	if (strlen(v) > MQ_SAN_MAX)
		return "longer than 255 characters";
	for (const char *p = v; *p; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return "holds a space, a control or a non-ASCII character (a SAN is ASCII)";
		if (*p == '/' || *p == '+' || *p == '#')
			return "holds '/', '+' or '#': plugin_opt_identity san-* refuses such an identity "
			       "(for a URI use a URN, e.g. urn:dev:sensor-1)";
		if (*p == ',')
			return "holds ',', which mqadmin does not put into a SAN";
	}
	if (!mq_identity_safe(v, strlen(v)))
		return "not a safe identity";
	if (f == MQ_ID_SAN_DNS && !mq_dns_name_valid(v))
		return "not a host name: labels of A-Za-z0-9- (1-63 characters, no '-' at either end), "
		       "253 characters at most, no wildcard";
	if (f == MQ_ID_SAN_EMAIL && !certid_email_valid(v))
		return "not an email address: LOCAL@host.example, LOCAL of A-Za-z0-9 and "
		       "!$%&'*=?^_`{|}~.- (at most 64)";
	if (f == MQ_ID_SAN_URI && !certid_uri_valid(v))
		return "not a URI without '/': scheme:rest of RFC 3986 characters, e.g. urn:dev:sensor-1";
	if (type)
		*type = f;
	return NULL;
}

bool mq_san_list_has(const char *sans, enum mq_idfield f)
{
	const char *prefix = f == MQ_ID_SAN_DNS ? "DNS:" : f == MQ_ID_SAN_EMAIL ? "email:"
			   : f == MQ_ID_SAN_URI ? "URI:" : NULL;
	size_t n = prefix ? strlen(prefix) : 0;

	for (const char *p = sans; prefix && p; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (!strncmp(p, prefix, n))
			return true;
	}
	return false;
}

int mq_cert_serial(const X509 *cert, char out[MQ_SERIAL_LEN])
{
	return cert ? mq_serial_hex(X509_get0_serialNumber(cert), out) : -1;
}

int mq_serial_hex(const ASN1_INTEGER *sn, char out[MQ_SERIAL_LEN])
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

int mq_cert_validity(const X509 *cert, time_t *not_before, time_t *not_after)
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
static enum mq_id_result certid_asn1_utf8(const ASN1_STRING *s, char **out)
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

static enum mq_id_result certid_cn(const X509 *cert, char **out)
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
	return certid_asn1_utf8(X509_NAME_ENTRY_get_data(e), out);
}

char *mq_cert_cn(const X509 *cert)
{
	char *cn = NULL;

	if (certid_cn(cert, &cn) != MQ_IDR_OK)
		return NULL;
	return cn;
}

/* Without ASN1_STRFLGS_ESC_MSB, RFC 2253 output passes bytes above 0x7f
 * through unchecked, C1 controls included. The DN may hold '/', '+' and
 * '#'; every run between them must pass the identity check. */
static bool certid_dn_safe(const char *s, size_t n)
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

static enum mq_id_result certid_dn(const X509 *cert, char **out)
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
	if (!certid_dn_safe(data, (size_t)n)) {
		r = MQ_IDR_UNSAFE;
		goto out;
	}
	*out = strndup(data, (size_t)n);
	r = *out ? MQ_IDR_OK : MQ_IDR_ERROR;
out:
	BIO_free(b);
	return r;
}

static enum mq_id_result certid_san(const X509 *cert, int type, char **out)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	enum mq_id_result r = MQ_IDR_MISSING;

	for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

		if (gn->type != type)
			continue;
		r = certid_asn1_utf8(gn->d.ia5, out);
		break;
	}
	GENERAL_NAMES_free(names);
	return r;
}

enum mq_id_result mq_cert_identity(const X509 *cert, enum mq_idfield f, char **out)
{
	char fpr[MQ_FPR_LEN];

	*out = NULL;
	if (!cert)
		return MQ_IDR_MISSING;
	switch (f) {
	case MQ_ID_CN:
		return certid_cn(cert, out);
	case MQ_ID_DN:
		return certid_dn(cert, out);
	case MQ_ID_SAN_DNS:
		return certid_san(cert, GEN_DNS, out);
	case MQ_ID_SAN_EMAIL:
		return certid_san(cert, GEN_EMAIL, out);
	case MQ_ID_SAN_URI:
		return certid_san(cert, GEN_URI, out);
	case MQ_ID_FINGERPRINT:
		if (mq_cert_fingerprint(cert, fpr))
			return MQ_IDR_ERROR;
		*out = strdup(fpr);
		return *out ? MQ_IDR_OK : MQ_IDR_ERROR;
	}
	return MQ_IDR_ERROR;
}

int mq_cert_ous(const X509 *cert, size_t max, char ***out, size_t *n)
{
	const X509_NAME *subj = X509_get_subject_name(cert);
	char **ous = NULL;
	size_t k = 0;
	int pos = -1;

	*out = NULL;
	*n = 0;
	while (k < max && (pos = X509_NAME_get_index_by_NID(subj, NID_organizationalUnitName, pos)) >= 0) {
		char *v = NULL;
		enum mq_id_result r = certid_asn1_utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, pos)), &v);

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
	mq_cert_ous_free(ous, k);
	return -1;
}

void mq_cert_ous_free(char **ous, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ous[i]);
	free(ous);
}
