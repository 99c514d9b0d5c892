#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "mq_x509.h"

/* ---- certificate builder ---------------------------------------------- */

/* One subject entry. type is an MBSTRING_* to let OpenSSL pick the string
 * type, or a V_ASN1_* tag to store the bytes verbatim (hostile encodings);
 * len < 0 means strlen. */
struct rdn {
	const char *field;
	int type;
	const char *value;
	int len;
};

/* One subjectAltName entry: GEN_DNS, GEN_EMAIL, GEN_URI or GEN_IPADD. */
struct san {
	int type;
	const char *value;
	int len;
};

struct cert_spec {
	const struct rdn *subject;
	size_t nsubject;
	const struct san *sans;
	size_t nsans;
	const unsigned char *serial; /* big-endian magnitude; NULL = 1 */
	size_t serial_len;
	time_t not_before, not_after; /* 0 = a default */
};

static EVP_PKEY *test_key;

static int group_setup(void **state)
{
	test_key = EVP_EC_gen("P-256");
	return test_key ? 0 : -1;
}

static int group_teardown(void **state)
{
	EVP_PKEY_free(test_key);
	return 0;
}

static void add_sans(X509 *x, const struct san *sans, size_t n)
{
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();

	assert_non_null(names);
	for (size_t i = 0; i < n; i++) {
		GENERAL_NAME *gn = GENERAL_NAME_new();
		ASN1_STRING *s = sans[i].type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
		int len = sans[i].len < 0 ? (int)strlen(sans[i].value) : sans[i].len;

		assert_non_null(gn);
		assert_non_null(s);
		assert_int_equal(ASN1_STRING_set(s, sans[i].value, len), 1);
		GENERAL_NAME_set0_value(gn, sans[i].type, s);
		assert_true(sk_GENERAL_NAME_push(names, gn) > 0);
	}
	assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT), 1);
	GENERAL_NAMES_free(names);
}

/* A self-signed EC P-256 certificate shaped by spec. */
static X509 *make_cert(const struct cert_spec *spec)
{
	static const unsigned char one = 1;
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	BIGNUM *bn;
	ASN1_INTEGER *sn;

	assert_non_null(x);
	assert_non_null(name);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	bn = spec->serial ? BN_bin2bn(spec->serial, (int)spec->serial_len, NULL)
			  : BN_bin2bn(&one, 1, NULL);
	assert_non_null(bn);
	sn = BN_to_ASN1_INTEGER(bn, NULL);
	assert_non_null(sn);
	assert_int_equal(X509_set_serialNumber(x, sn), 1);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	for (size_t i = 0; i < spec->nsubject; i++) {
		const struct rdn *r = &spec->subject[i];

		if (r->type & MBSTRING_FLAG) {
			assert_int_equal(X509_NAME_add_entry_by_txt(name, r->field, r->type,
					 (const unsigned char *)r->value, r->len, -1, 0), 1);
		} else {
			/* Bypass the string table: store exactly these bytes. */
			X509_NAME_ENTRY *e = X509_NAME_ENTRY_create_by_txt(NULL, r->field, r->type,
					(const unsigned char *)r->value,
					r->len < 0 ? (int)strlen(r->value) : r->len);

			assert_non_null(e);
			assert_int_equal(X509_NAME_add_entry(name, e, -1, 0), 1);
			X509_NAME_ENTRY_free(e);
		}
	}
	assert_int_equal(X509_set_subject_name(x, name), 1);
	assert_int_equal(X509_set_issuer_name(x, name), 1);
	X509_NAME_free(name);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), spec->not_before ? spec->not_before : 1700000000));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), spec->not_after ? spec->not_after : 1800000000));
	assert_int_equal(X509_set_pubkey(x, test_key), 1);
	if (spec->nsans)
		add_sans(x, spec->sans, spec->nsans);
	assert_true(X509_sign(x, test_key, EVP_sha256()) > 0);
	return x;
}

static X509 *make_cn_cert(const char *cn)
{
	struct rdn subject[] = { { "CN", MBSTRING_UTF8, cn, -1 } };
	struct cert_spec spec = { .subject = subject, .nsubject = 1 };

	return make_cert(&spec);
}

/* Asserts the identity result of x for f, and the text when OK. */
static void expect_identity(X509 *x, enum mq_idfield f, enum mq_id_result want, const char *text)
{
	char *id = (char *)"unset";
	enum mq_id_result r = mq_x509_identity(x, f, &id);

	if (r != want)
		fail_msg("field %s: got %s, want %s", mq_idfield_name(f), mq_id_result_str(r),
			 mq_id_result_str(want));
	if (want == MQ_IDR_OK) {
		assert_non_null(id);
		assert_string_equal(id, text);
	} else {
		assert_null(id);
	}
	free(id);
}

static void hex(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
	out[2 * n] = '\0';
}

/* ---- field names ------------------------------------------------------ */

static void idfield_parse_should_round_trip_with_name(void **state)
{
	static const char *const names[] = { "cn", "dn", "san-dns", "san-email", "san-uri", "fingerprint" };

	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		enum mq_idfield f = MQ_ID_FINGERPRINT;

		assert_int_equal(mq_idfield_parse(names[i], &f), 0);
		assert_int_equal(f, (enum mq_idfield)i);
		assert_string_equal(mq_idfield_name(f), names[i]);
	}
}

static void idfield_parse_should_refuse_unknown_names(void **state)
{
	enum mq_idfield f = MQ_ID_DN;

	assert_int_equal(mq_idfield_parse("CN", &f), -1);
	assert_int_equal(mq_idfield_parse("", &f), -1);
	assert_int_equal(mq_idfield_parse("san", &f), -1);
	assert_int_equal(mq_idfield_parse("cn ", &f), -1);
	assert_int_equal(mq_idfield_parse(NULL, &f), -1);
	assert_int_equal(f, MQ_ID_DN);
	assert_string_equal(mq_idfield_name((enum mq_idfield)99), "?");
}

/* ---- CN ---------------------------------------------------------------- */

static void cert_identity_should_return_the_cn(void **state)
{
	struct rdn subject[] = {
		{ "O", MBSTRING_ASC, "Acme", -1 },
		{ "OU", MBSTRING_ASC, "sensors", -1 },
		{ "CN", MBSTRING_ASC, "dev1", -1 },
	};
	struct cert_spec spec = { .subject = subject, .nsubject = 3 };
	X509 *x = make_cert(&spec);
	char *cn;

	expect_identity(x, MQ_ID_CN, MQ_IDR_OK, "dev1");
	cn = mq_x509_cn(x);
	assert_non_null(cn);
	assert_string_equal(cn, "dev1");
	free(cn);
	X509_free(x);
}

static void cert_identity_should_keep_utf8_cn(void **state)
{
	X509 *x = make_cn_cert("capteur-\xc3\xa9t\xc3\xa9-\xe2\x82\xac");

	expect_identity(x, MQ_ID_CN, MQ_IDR_OK, "capteur-\xc3\xa9t\xc3\xa9-\xe2\x82\xac");
	X509_free(x);
}

static void cert_identity_should_report_a_missing_cn(void **state)
{
	struct rdn subject[] = { { "O", MBSTRING_ASC, "Acme", -1 } };
	struct cert_spec spec = { .subject = subject, .nsubject = 1 };
	X509 *x = make_cert(&spec);

	expect_identity(x, MQ_ID_CN, MQ_IDR_MISSING, NULL);
	assert_null(mq_x509_cn(x));
	X509_free(x);
	x = make_cert(&(struct cert_spec){ 0 });
	expect_identity(x, MQ_ID_CN, MQ_IDR_MISSING, NULL);
	expect_identity(x, MQ_ID_DN, MQ_IDR_MISSING, NULL);
	X509_free(x);
}

static void cert_identity_should_treat_an_empty_cn_as_missing(void **state)
{
	struct rdn subject[] = { { "CN", V_ASN1_UTF8STRING, "", 0 } };
	struct cert_spec spec = { .subject = subject, .nsubject = 1 };
	X509 *x = make_cert(&spec);

	expect_identity(x, MQ_ID_CN, MQ_IDR_MISSING, NULL);
	X509_free(x);
}

static void cert_identity_should_refuse_two_cns(void **state)
{
	struct rdn subject[] = {
		{ "CN", MBSTRING_ASC, "dev1", -1 },
		{ "CN", MBSTRING_ASC, "dev2", -1 },
	};
	struct cert_spec spec = { .subject = subject, .nsubject = 2 };
	X509 *x = make_cert(&spec);

	expect_identity(x, MQ_ID_CN, MQ_IDR_UNSAFE, NULL);
	assert_null(mq_x509_cn(x));
	X509_free(x);
}

static void cert_identity_should_refuse_cn_with_wildcards_or_slash(void **state)
{
	static const char *const hostile[] = { "+", "#", "dev+", "dev/1", "/", "a/#", "dev1\n", "\x7f" };

	for (size_t i = 0; i < sizeof(hostile) / sizeof(*hostile); i++) {
		X509 *x = make_cn_cert(hostile[i]);

		expect_identity(x, MQ_ID_CN, MQ_IDR_UNSAFE, NULL);
		X509_free(x);
	}
}

static void cert_identity_should_refuse_cn_with_embedded_nul(void **state)
{
	struct rdn asc[] = { { "CN", MBSTRING_ASC, "dev1\0evil", 9 } };
	struct rdn raw[] = { { "CN", V_ASN1_UTF8STRING, "dev1\0", 5 } };
	struct cert_spec spec = { .subject = asc, .nsubject = 1 };
	X509 *x = make_cert(&spec);

	/* OpenSSL really stored the NUL: the entry is 9 bytes long. */
	assert_int_equal(ASN1_STRING_length(X509_NAME_ENTRY_get_data(
		X509_NAME_get_entry(X509_get_subject_name(x), 0))), 9);
	expect_identity(x, MQ_ID_CN, MQ_IDR_UNSAFE, NULL);
	X509_free(x);
	spec.subject = raw;
	x = make_cert(&spec);
	expect_identity(x, MQ_ID_CN, MQ_IDR_UNSAFE, NULL);
	X509_free(x);
}

static void cert_identity_should_convert_bmpstring_cn_to_utf8(void **state)
{
	/* UCS-2 big endian "d\u00e9v\u20ac1" */
	static const char ucs2[] = { 0, 'd', 0, (char)0xe9, 0, 'v', 0x20, (char)0xac, 0, '1' };
	struct rdn subject[] = { { "CN", V_ASN1_BMPSTRING, ucs2, sizeof(ucs2) } };
	struct cert_spec spec = { .subject = subject, .nsubject = 1 };
	X509 *x = make_cert(&spec);

	assert_int_equal(ASN1_STRING_type(X509_NAME_ENTRY_get_data(
		X509_NAME_get_entry(X509_get_subject_name(x), 0))), V_ASN1_BMPSTRING);
	expect_identity(x, MQ_ID_CN, MQ_IDR_OK, "d\xc3\xa9v\xe2\x82\xac" "1");
	X509_free(x);
}

static void cert_identity_should_refuse_hostile_bmpstring_cn(void **state)
{
	static const char slash[] = { 0, 'a', 0, '/', 0, 'b' };
	static const char plus[] = { 0, '+' };
	static const char nul[] = { 0, 'a', 0, 0 };
	static const char c1[] = { 0, 'a', 0, (char)0x85 };
	static const char del[] = { 0, 'a', 0, 0x7f };
	const struct { const char *b; int n; } cases[] = {
		{ slash, sizeof(slash) }, { plus, sizeof(plus) }, { nul, sizeof(nul) },
		{ c1, sizeof(c1) }, { del, sizeof(del) },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct rdn subject[] = { { "CN", V_ASN1_BMPSTRING, cases[i].b, cases[i].n } };
		struct cert_spec spec = { .subject = subject, .nsubject = 1 };
		X509 *x = make_cert(&spec);

		expect_identity(x, MQ_ID_CN, MQ_IDR_UNSAFE, NULL);
		X509_free(x);
	}
}

/* Names that are not Unicode (odd-length BMPString, lone surrogate, broken
 * UTF8String) never reach the plugin: OpenSSL cannot encode, and so cannot
 * decode, them. The identity code relies on that; check it still holds. */
static void openssl_should_refuse_names_that_are_not_unicode(void **state)
{
	const struct { int type; const char *b; int n; } cases[] = {
		{ V_ASN1_BMPSTRING, "\0a\0", 3 },
		{ V_ASN1_BMPSTRING, "\0a\xd8\0", 4 },
		{ V_ASN1_UTF8STRING, "\xc0\xaf", 2 },
		{ V_ASN1_UTF8STRING, "a\xff", 2 },
		{ V_ASN1_UTF8STRING, "\xed\xa0\x80", 3 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		X509_NAME *name = X509_NAME_new();
		X509_NAME_ENTRY *e = X509_NAME_ENTRY_create_by_txt(NULL, "CN", cases[i].type,
				(const unsigned char *)cases[i].b, cases[i].n);
		unsigned char *der = NULL;
		int ok = e && X509_NAME_add_entry(name, e, -1, 0) == 1 && i2d_X509_NAME(name, &der) > 0;

		if (ok)
			fail_msg("case %zu: OpenSSL encoded a non-Unicode name", i);
		OPENSSL_free(der);
		X509_NAME_ENTRY_free(e);
		X509_NAME_free(name);
		ERR_clear_error();
	}
}

static void cert_identity_should_refuse_c1_controls_in_utf8string_cn(void **state)
{
	static const char *const bad[] = { "\xc2\x85", "a\xc2\x9b[2J", "\xc2\x80" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct rdn subject[] = { { "CN", V_ASN1_UTF8STRING, bad[i], -1 } };
		struct cert_spec spec = { .subject = subject, .nsubject = 1 };
		X509 *x = make_cert(&spec);

		expect_identity(x, MQ_ID_CN, MQ_IDR_UNSAFE, NULL);
		X509_free(x);
	}
}

/* T61String is read as Latin-1: 0x85 becomes the C1 control U+0085. */
static void cert_identity_should_read_t61string_as_latin1(void **state)
{
	struct rdn ok[] = { { "CN", V_ASN1_T61STRING, "caf\xe9", -1 } };
	struct rdn c1[] = { { "CN", V_ASN1_T61STRING, "a\x85", -1 } };
	struct cert_spec spec = { .subject = ok, .nsubject = 1 };
	X509 *x = make_cert(&spec);

	expect_identity(x, MQ_ID_CN, MQ_IDR_OK, "caf\xc3\xa9");
	X509_free(x);
	spec.subject = c1;
	x = make_cert(&spec);
	expect_identity(x, MQ_ID_CN, MQ_IDR_UNSAFE, NULL);
	X509_free(x);
}

/* ---- DN ---------------------------------------------------------------- */

static void cert_ous_should_keep_safe_values_in_order_up_to_max(void **state)
{
	struct rdn subject[] = {
		{ "OU", MBSTRING_ASC, "sensors", -1 },
		{ "OU", MBSTRING_ASC, "a/+", -1 },
		{ "OU", MBSTRING_UTF8, "k\xc3\xbc" "che", -1 },
		{ "OU", MBSTRING_ASC, "floor1", -1 },
		{ "CN", MBSTRING_ASC, "dev1", -1 },
	};
	struct cert_spec spec = { .subject = subject, .nsubject = 5 };
	X509 *x = make_cert(&spec), *none = make_cn_cert("dev1");
	char **ous;
	size_t n;

	assert_int_equal(mq_x509_ous(x, 8, &ous, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(ous[0], "sensors");
	assert_string_equal(ous[1], "k\xc3\xbc" "che");
	assert_string_equal(ous[2], "floor1");
	mq_x509_ous_free(ous, n);
	assert_int_equal(mq_x509_ous(x, 1, &ous, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ous[0], "sensors");
	mq_x509_ous_free(ous, n);
	assert_int_equal(mq_x509_ous(none, 8, &ous, &n), 0);
	assert_int_equal(n, 0);
	assert_null(ous);
	X509_free(x);
	X509_free(none);
}

static void cert_identity_should_format_dn_as_rfc2253(void **state)
{
	struct rdn subject[] = {
		{ "OU", MBSTRING_ASC, "a", -1 },
		{ "OU", MBSTRING_ASC, "b", -1 },
		{ "CN", MBSTRING_ASC, "dev1", -1 },
	};
	struct cert_spec spec = { .subject = subject, .nsubject = 3 };
	X509 *x = make_cert(&spec);

	/* RFC 2253 lists the most significant RDN last. */
	expect_identity(x, MQ_ID_DN, MQ_IDR_OK, "CN=dev1,OU=b,OU=a");
	X509_free(x);
}

static void cert_identity_should_escape_dn_specials(void **state)
{
	struct rdn subject[] = {
		{ "O", MBSTRING_UTF8, "caf\xc3\xa9", -1 },
		{ "OU", MBSTRING_ASC, "a,b", -1 },
		{ "CN", MBSTRING_ASC, "#a+b/c", -1 },
	};
	struct cert_spec spec = { .subject = subject, .nsubject = 3 };
	X509 *x = make_cert(&spec);

	/* '/' is allowed in the DN, UTF-8 is kept, separators are escaped. */
	expect_identity(x, MQ_ID_DN, MQ_IDR_OK, "CN=\\#a\\+b/c,OU=a\\,b,O=caf\xc3\xa9");
	X509_free(x);
}

static void cert_identity_should_escape_dn_controls_and_nul(void **state)
{
	struct rdn subject[] = { { "CN", MBSTRING_ASC, "a\0b\nc", 5 } };
	struct cert_spec spec = { .subject = subject, .nsubject = 1 };
	X509 *x = make_cert(&spec);

	expect_identity(x, MQ_ID_DN, MQ_IDR_OK, "CN=a\\00b\\0Ac");
	X509_free(x);
}

/* RFC 2253 output leaves bytes above 0x7f alone, so a DN holding a C1
 * control (here U+009B, CSI) must be refused; C0 controls and DEL are
 * escaped by OpenSSL or refused. */
static void cert_identity_should_refuse_dn_with_raw_controls(void **state)
{
	static const struct rdn c1_t61[] = { { "CN", V_ASN1_T61STRING, "a\x9b" "b", -1 } };
	static const struct rdn c1_utf8[] = {
		{ "OU", MBSTRING_ASC, "x/y", -1 },
		{ "CN", V_ASN1_UTF8STRING, "a\xc2\x85", -1 },
	};
	static const struct rdn del[] = { { "CN", MBSTRING_ASC, "a\x7f" "b", -1 } };
	const struct { const struct rdn *r; size_t n; } cases[] = { { c1_t61, 1 }, { c1_utf8, 2 }, { del, 1 } };

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct cert_spec spec = { .subject = cases[i].r, .nsubject = cases[i].n };
		X509 *x = make_cert(&spec);
		char *id = NULL;
		enum mq_id_result r = mq_x509_identity(x, MQ_ID_DN, &id);

		if (r == MQ_IDR_OK) {
			for (const unsigned char *p = (const unsigned char *)id; *p; p++)
				if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
					fail_msg("case %zu: DN '%s' holds a raw control", i, id);
		} else if (r != MQ_IDR_UNSAFE) {
			fail_msg("case %zu: %s", i, mq_id_result_str(r));
		}
		/* The C1 cases cannot be escaped away: they must be refused. */
		if (i < 2)
			assert_int_equal(r, MQ_IDR_UNSAFE);
		free(id);
		X509_free(x);
	}
}

/* ---- SAN --------------------------------------------------------------- */

static void cert_identity_should_take_the_first_san_of_each_type(void **state)
{
	static const char ip[] = { 127, 0, 0, 1 };
	struct san sans[] = {
		{ GEN_IPADD, ip, 4 },
		{ GEN_EMAIL, "first@example.com", -1 },
		{ GEN_DNS, "dev1.example.com", -1 },
		{ GEN_URI, "urn:dev:1", -1 },
		{ GEN_DNS, "dev2.example.com", -1 },
		{ GEN_EMAIL, "second@example.com", -1 },
		{ GEN_URI, "urn:dev:2", -1 },
	};
	struct rdn subject[] = { { "CN", MBSTRING_ASC, "dev1", -1 } };
	struct cert_spec spec = { .subject = subject, .nsubject = 1, .sans = sans, .nsans = 7 };
	X509 *x = make_cert(&spec);

	expect_identity(x, MQ_ID_SAN_DNS, MQ_IDR_OK, "dev1.example.com");
	expect_identity(x, MQ_ID_SAN_EMAIL, MQ_IDR_OK, "first@example.com");
	expect_identity(x, MQ_ID_SAN_URI, MQ_IDR_OK, "urn:dev:1");
	X509_free(x);
}

static void cert_identity_should_report_missing_sans(void **state)
{
	struct san dns_only[] = { { GEN_DNS, "dev1.example.com", -1 } };
	struct rdn subject[] = { { "CN", MBSTRING_ASC, "dev1", -1 } };
	struct cert_spec spec = { .subject = subject, .nsubject = 1 };
	X509 *x = make_cert(&spec);

	expect_identity(x, MQ_ID_SAN_DNS, MQ_IDR_MISSING, NULL);
	expect_identity(x, MQ_ID_SAN_EMAIL, MQ_IDR_MISSING, NULL);
	expect_identity(x, MQ_ID_SAN_URI, MQ_IDR_MISSING, NULL);
	X509_free(x);
	spec.sans = dns_only;
	spec.nsans = 1;
	x = make_cert(&spec);
	expect_identity(x, MQ_ID_SAN_DNS, MQ_IDR_OK, "dev1.example.com");
	expect_identity(x, MQ_ID_SAN_EMAIL, MQ_IDR_MISSING, NULL);
	expect_identity(x, MQ_ID_SAN_URI, MQ_IDR_MISSING, NULL);
	X509_free(x);
}

/* The first SAN of the type decides: an unsafe one is not skipped in
 * favour of a later, innocent-looking one. */
static void cert_identity_should_refuse_hostile_first_san(void **state)
{
	struct san sans[] = {
		{ GEN_DNS, "dev1\0.evil.com", 14 },
		{ GEN_DNS, "dev1.example.com", -1 },
		{ GEN_URI, "urn:dev/1", -1 },
		{ GEN_EMAIL, "a+b@example.com", -1 },
	};
	struct cert_spec spec = { .sans = sans, .nsans = 4 };
	X509 *x = make_cert(&spec);

	expect_identity(x, MQ_ID_SAN_DNS, MQ_IDR_UNSAFE, NULL);
	expect_identity(x, MQ_ID_SAN_URI, MQ_IDR_UNSAFE, NULL);
	expect_identity(x, MQ_ID_SAN_EMAIL, MQ_IDR_UNSAFE, NULL);
	X509_free(x);
}

/* ---- fingerprint ------------------------------------------------------- */

static void cert_fingerprint_should_be_sha256_of_der_in_lowercase_hex(void **state)
{
	X509 *x = make_cn_cert("dev1");
	unsigned char *der = NULL, md[32];
	unsigned int mdlen = 0;
	int n = i2d_X509(x, &der);
	char want[MQ_FPR_LEN], got[MQ_FPR_LEN];
	char *id = NULL;

	assert_true(n > 0);
	assert_int_equal(EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL), 1);
	assert_int_equal(mdlen, 32);
	hex(md, 32, want);
	assert_int_equal(mq_x509_fingerprint(x, got), 0);
	assert_string_equal(got, want);
	assert_true(mq_fingerprint_valid(got));
	assert_int_equal(mq_x509_identity(x, MQ_ID_FINGERPRINT, &id), MQ_IDR_OK);
	assert_string_equal(id, want);
	free(id);
	OPENSSL_free(der);
	X509_free(x);
	assert_int_equal(mq_x509_fingerprint(NULL, got), -1);
}

static void cert_fingerprint_should_differ_for_same_subject(void **state)
{
	X509 *a = make_cn_cert("dev1"), *b = make_cn_cert("dev1");
	char fa[MQ_FPR_LEN], fb[MQ_FPR_LEN];

	/* ECDSA signatures are randomised, so the DER differs. */
	assert_int_equal(mq_x509_fingerprint(a, fa), 0);
	assert_int_equal(mq_x509_fingerprint(b, fb), 0);
	assert_string_not_equal(fa, fb);
	X509_free(a);
	X509_free(b);
}

static void fingerprint_valid_should_want_64_lowercase_hex(void **state)
{
	char s[MQ_FPR_LEN + 1];

	memset(s, 'a', 64);
	s[64] = '\0';
	assert_true(mq_fingerprint_valid(s));
	s[10] = 'A';
	assert_false(mq_fingerprint_valid(s));
	s[10] = 'g';
	assert_false(mq_fingerprint_valid(s));
	s[10] = ':';
	assert_false(mq_fingerprint_valid(s));
	s[10] = '0';
	s[63] = '\0';
	assert_false(mq_fingerprint_valid(s));
	s[63] = 'f';
	s[64] = 'f';
	s[65] = '\0';
	assert_false(mq_fingerprint_valid(s));
	assert_false(mq_fingerprint_valid(""));
	assert_false(mq_fingerprint_valid(NULL));
}

/* ---- serial ------------------------------------------------------------ */

static void expect_serial(const unsigned char *bytes, size_t n, int rc, const char *want)
{
	struct cert_spec spec = { .serial = bytes, .serial_len = n };
	X509 *x = make_cert(&spec);
	char got[MQ_SERIAL_LEN];

	assert_int_equal(mq_x509_serial(x, got), rc);
	if (rc == 0)
		assert_string_equal(got, want);
	X509_free(x);
}

static void cert_serial_should_be_lowercase_hex_of_the_value(void **state)
{
	static const unsigned char small[] = { 0x05 };
	static const unsigned char leading_zeros[] = { 0x00, 0x00, 0x01, 0x0a };
	static const unsigned char high_bit[] = { 0x80, 0x01 };
	static const unsigned char zero[] = { 0x00 };

	expect_serial(small, sizeof(small), 0, "05");
	expect_serial(leading_zeros, sizeof(leading_zeros), 0, "010a");
	expect_serial(high_bit, sizeof(high_bit), 0, "8001");
	expect_serial(zero, sizeof(zero), 0, "00");
}

static void cert_serial_should_format_random_128_bit_serials(void **state)
{
	for (int i = 0; i < 50; i++) {
		unsigned char b[16];
		char want[33];

		assert_int_equal(RAND_bytes(b, sizeof(b)), 1);
		b[0] |= 0x01; /* keep all 16 bytes significant */
		hex(b, sizeof(b), want);
		expect_serial(b, sizeof(b), 0, want);
	}
}

static void cert_serial_should_handle_the_rfc5280_maximum(void **state)
{
	unsigned char b[22];
	char want[45];

	memset(b, 0xff, sizeof(b));
	memset(want, 'f', 40);
	want[40] = '\0';
	expect_serial(b, 20, 0, want);   /* 20 bytes, 21 in DER with the sign byte */
	memset(want, 'f', 42);
	want[42] = '\0';
	expect_serial(b, 21, 0, want);   /* one byte of slack */
	expect_serial(b, 22, -1, NULL);  /* longer does not fit the buffer */
	assert_int_equal(mq_x509_serial(NULL, want), -1);
}

/* ---- validity ---------------------------------------------------------- */

static void cert_validity_should_return_both_bounds(void **state)
{
	struct cert_spec spec = { .not_before = 1700000000, .not_after = 1795333534 };
	X509 *x = make_cert(&spec);
	time_t nb = 0, na = 0;

	assert_int_equal(mq_x509_validity(x, &nb, &na), 0);
	assert_int_equal(nb, 1700000000);
	assert_int_equal(na, 1795333534);
	X509_free(x);
	/* After 2049 the certificate uses GeneralizedTime. */
	spec.not_after = 4102444800; /* 2100-01-01 */
	x = make_cert(&spec);
	assert_int_equal(ASN1_STRING_type(X509_get0_notAfter(x)), V_ASN1_GENERALIZEDTIME);
	assert_int_equal(mq_x509_validity(x, &nb, &na), 0);
	assert_int_equal(na, 4102444800);
	X509_free(x);
	assert_int_equal(mq_x509_validity(NULL, &nb, &na), -1);
}

static void id_result_str_should_name_every_result(void **state)
{
	assert_string_equal(mq_id_result_str(MQ_IDR_OK), "ok");
	assert_non_null(strstr(mq_id_result_str(MQ_IDR_MISSING), "no such field"));
	assert_non_null(strstr(mq_id_result_str(MQ_IDR_UNSAFE), "'+'"));
	assert_non_null(strstr(mq_id_result_str(MQ_IDR_ERROR), "error"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(idfield_parse_should_round_trip_with_name),
		cmocka_unit_test(idfield_parse_should_refuse_unknown_names),
		cmocka_unit_test(cert_identity_should_return_the_cn),
		cmocka_unit_test(cert_identity_should_keep_utf8_cn),
		cmocka_unit_test(cert_identity_should_report_a_missing_cn),
		cmocka_unit_test(cert_identity_should_treat_an_empty_cn_as_missing),
		cmocka_unit_test(cert_identity_should_refuse_two_cns),
		cmocka_unit_test(cert_identity_should_refuse_cn_with_wildcards_or_slash),
		cmocka_unit_test(cert_identity_should_refuse_cn_with_embedded_nul),
		cmocka_unit_test(cert_identity_should_convert_bmpstring_cn_to_utf8),
		cmocka_unit_test(cert_identity_should_refuse_hostile_bmpstring_cn),
		cmocka_unit_test(openssl_should_refuse_names_that_are_not_unicode),
		cmocka_unit_test(cert_identity_should_refuse_c1_controls_in_utf8string_cn),
		cmocka_unit_test(cert_identity_should_read_t61string_as_latin1),
		cmocka_unit_test(cert_ous_should_keep_safe_values_in_order_up_to_max),
		cmocka_unit_test(cert_identity_should_format_dn_as_rfc2253),
		cmocka_unit_test(cert_identity_should_escape_dn_specials),
		cmocka_unit_test(cert_identity_should_escape_dn_controls_and_nul),
		cmocka_unit_test(cert_identity_should_refuse_dn_with_raw_controls),
		cmocka_unit_test(cert_identity_should_take_the_first_san_of_each_type),
		cmocka_unit_test(cert_identity_should_report_missing_sans),
		cmocka_unit_test(cert_identity_should_refuse_hostile_first_san),
		cmocka_unit_test(cert_fingerprint_should_be_sha256_of_der_in_lowercase_hex),
		cmocka_unit_test(cert_fingerprint_should_differ_for_same_subject),
		cmocka_unit_test(fingerprint_valid_should_want_64_lowercase_hex),
		cmocka_unit_test(cert_serial_should_be_lowercase_hex_of_the_value),
		cmocka_unit_test(cert_serial_should_format_random_128_bit_serials),
		cmocka_unit_test(cert_serial_should_handle_the_rfc5280_maximum),
		cmocka_unit_test(cert_validity_should_return_both_bounds),
		cmocka_unit_test(id_result_str_should_name_every_result),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
