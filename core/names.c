/* Name rules: device and group names, identities safe as MQTT usernames
 * and topic levels, UTF-8 sequences. */
#include "mq_names.h"

#include <string.h>

static bool names_char_ok(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool mq_name_valid(const char *s)
{
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	if (n == 0 || n > MQ_NAME_MAX)
		return false;
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!names_char_ok((unsigned char)s[i]))
			return false;
	return true;
}

size_t mq_utf8_seq(const unsigned char *s, size_t left)
{
	unsigned int cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xE0) == 0xC0) {
		n = 2;
		cp = s[0] & 0x1Fu;
	} else if ((s[0] & 0xF0) == 0xE0) {
		n = 3;
		cp = s[0] & 0x0Fu;
	} else if ((s[0] & 0xF8) == 0xF0) {
		n = 4;
		cp = s[0] & 0x07u;
	} else {
		return 0;
	}
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3Fu);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	/* C1 controls are as dangerous in logs as C0 ones. */
	if (cp >= 0x80 && cp <= 0x9F)
		return 0;
	return n;
}

bool mq_identity_safe(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	if (!s || len == 0)
		return false;
	while (i < len) {
		size_t n;

		if (p[i] < 0x20 || p[i] == 0x7F || p[i] == '+' || p[i] == '#' ||
		    p[i] == '/')
			return false;
		n = mq_utf8_seq(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}
