/* Certificate identity as text (no OpenSSL): identity field names, hex,
 * fingerprint syntax, host names and subjectAltName specs. */
#include "mq_ident.h"
#include "mq_names.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ident_field_names[] = {
	[MQ_ID_CN] = "cn",
	[MQ_ID_DN] = "dn",
	[MQ_ID_SAN_DNS] = "san-dns",
	[MQ_ID_SAN_EMAIL] = "san-email",
	[MQ_ID_SAN_URI] = "san-uri",
	[MQ_ID_FINGERPRINT] = "fingerprint",
};

int mq_idfield_parse(const char *s, enum mq_idfield *out)
{
	for (size_t i = 0; i < sizeof(ident_field_names) / sizeof(*ident_field_names); i++) {
		if (s && !strcmp(s, ident_field_names[i])) {
			*out = (enum mq_idfield)i;
			return 0;
		}
	}
	return -1;
}

const char *mq_idfield_name(enum mq_idfield f)
{
	if ((size_t)f >= sizeof(ident_field_names) / sizeof(*ident_field_names))
		return "?";
	return ident_field_names[f];
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

static bool ident_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 5322 atext minus what the identity check or the list refuses. */
static bool ident_email_valid(const char *v)
{
	const char *at = strchr(v, '@');

	if (!at || at == v || at - v > 64 || *(at - 1) == '.' || *v == '.' || strstr(v, ".."))
		return false;
	for (const char *p = v; p < at; p++)
		if (!ident_alnum(*p) && !strchr("!$%&'*=?^_`{|}~.-", *p))
			return false;
	return mq_dns_name_valid(at + 1);
}

/* RFC 3986: scheme ":" then unreserved, reserved or %XX characters. */
static bool ident_uri_valid(const char *v)
{
	const char *p = v;

	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return false;
	while (ident_alnum(*p) || *p == '.' || *p == '-')
		p++;
	if (*p++ != ':' || !*p)
		return false;
	for (; *p; p++) {
		if (*p == '%') {
			if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
				return false;
			p += 2;
		} else if (!ident_alnum(*p) && !strchr("-._~:?[]@!$&'()*;=", *p)) {
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
	if (f == MQ_ID_SAN_EMAIL && !ident_email_valid(v))
		return "not an email address: LOCAL@host.example, LOCAL of A-Za-z0-9 and "
		       "!$%&'*=?^_`{|}~.- (at most 64)";
	if (f == MQ_ID_SAN_URI && !ident_uri_valid(v))
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
