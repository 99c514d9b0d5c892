#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mq_names.h"

static void name_valid_should_accept_the_allowed_alphabet(void **state)
{
	char longest[MQ_NAME_MAX + 1];

	memset(longest, 'a', MQ_NAME_MAX);
	longest[MQ_NAME_MAX] = '\0';
	assert_true(mq_name_valid("dev1"));
	assert_true(mq_name_valid("A-Za-z0-9._-"));
	assert_true(mq_name_valid("a"));
	assert_true(mq_name_valid("..."));
	assert_true(mq_name_valid(".hidden"));
	assert_true(mq_name_valid("-leading-dash"));
	assert_true(mq_name_valid(longest));
}

static void name_valid_should_refuse_everything_else(void **state)
{
	static const char *const bad[] = {
		"", ".", "..", "a/b", "/", "a+b", "+", "a#b", "#", "a b", " ", "a\tb",
		"a\nb", "a\rb", "a\x1b", "a\x7f", "\xc3\xa9t\xc3\xa9", "caf\xc3\xa9", "a:b",
		"a%b", "a*b", "a\\b", "a,b", "a=b", "$SYS",
	};
	char too_long[MQ_NAME_MAX + 2];

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		if (mq_name_valid(bad[i]))
			fail_msg("name '%s' was accepted", bad[i]);
	memset(too_long, 'a', MQ_NAME_MAX + 1);
	too_long[MQ_NAME_MAX + 1] = '\0';
	assert_false(mq_name_valid(too_long));
	assert_false(mq_name_valid(NULL));
}

#define SAFE(lit) mq_identity_safe(lit, sizeof(lit) - 1)

static void identity_safe_should_accept_printable_utf8(void **state)
{
	assert_true(SAFE("dev1"));
	assert_true(SAFE("dev 1 (kitchen)"));
	assert_true(SAFE("a.b@example.com"));
	assert_true(SAFE("CN=dev1,OU=a")); /* '=' and ',' are harmless in a level */
	assert_true(SAFE("caf\xc3\xa9"));          /* U+00E9, 2 bytes */
	assert_true(SAFE("\xe2\x82\xac"));         /* U+20AC, 3 bytes */
	assert_true(SAFE("\xed\x9f\xbf"));         /* U+D7FF, last before surrogates */
	assert_true(SAFE("\xee\x80\x80"));         /* U+E000, first after them */
	assert_true(SAFE("\xf0\x9f\x98\x80"));     /* U+1F600, 4 bytes */
	assert_true(SAFE("\xf4\x8f\xbf\xbf"));     /* U+10FFFF, the last one */
	assert_true(SAFE("\xc2\xa0"));             /* U+00A0, first after C1 */
	assert_true(SAFE("~"));
}

static void identity_safe_should_refuse_mqtt_wildcards_and_separators(void **state)
{
	assert_false(SAFE("+"));
	assert_false(SAFE("dev+1"));
	assert_false(SAFE("#"));
	assert_false(SAFE("dev#"));
	assert_false(SAFE("a/b"));
	assert_false(SAFE("/"));
	assert_false(mq_identity_safe("", 0));
	assert_false(mq_identity_safe(NULL, 0));
	assert_false(mq_identity_safe(NULL, 3));
}

static void identity_safe_should_refuse_nul_inside_the_length(void **state)
{
	/* "dev1\0evil": a C string check would see only "dev1". */
	assert_false(mq_identity_safe("dev1\0evil", 9));
	assert_false(mq_identity_safe("\0", 1));
	/* The length is what is checked, not the terminator. */
	assert_true(mq_identity_safe("dev1\0evil", 4));
}

static void identity_safe_should_refuse_c0_c1_and_del(void **state)
{
	char s[4] = "a?b";

	for (int c = 1; c < 0x20; c++) {
		s[1] = (char)c;
		if (mq_identity_safe(s, 3))
			fail_msg("C0 control 0x%02x accepted", c);
	}
	assert_false(SAFE("a\x7f"));
	for (int c = 0x80; c <= 0x9f; c++) {
		char u[3] = { (char)0xc2, (char)(c & 0xff), 0 };

		if (mq_identity_safe(u, 2))
			fail_msg("C1 control U+%04X accepted", c);
	}
}

static void identity_safe_should_refuse_malformed_utf8(void **state)
{
	assert_false(SAFE("\x80"));                 /* lone continuation */
	assert_false(SAFE("\xbf"));
	assert_false(SAFE("\xc3"));                 /* truncated 2-byte */
	assert_false(SAFE("\xe2\x82"));             /* truncated 3-byte */
	assert_false(SAFE("\xf0\x9f\x98"));         /* truncated 4-byte */
	assert_false(SAFE("\xc3" "a"));             /* bad continuation */
	assert_false(SAFE("\xe2\x28\xa1"));
	assert_false(SAFE("\xc0\xaf"));             /* overlong '/' */
	assert_false(SAFE("\xc1\xbf"));             /* overlong 2-byte */
	assert_false(SAFE("\xe0\x80\xaf"));         /* overlong 3-byte '/' */
	assert_false(SAFE("\xe0\x9f\xbf"));         /* overlong U+07FF */
	assert_false(SAFE("\xf0\x80\x80\xaf"));     /* overlong 4-byte '/' */
	assert_false(SAFE("\xf0\x8f\xbf\xbf"));     /* overlong U+FFFF */
	assert_false(SAFE("\xc0\x80"));             /* overlong NUL */
	assert_false(SAFE("\xc0\xab"));             /* overlong '+' */
	assert_false(SAFE("\xed\xa0\x80"));         /* U+D800, high surrogate */
	assert_false(SAFE("\xed\xbf\xbf"));         /* U+DFFF, low surrogate */
	assert_false(SAFE("\xed\xa0\xbd\xed\xb8\x80")); /* CESU-8 pair */
	assert_false(SAFE("\xf4\x90\x80\x80"));     /* U+110000 */
	assert_false(SAFE("\xf5\x80\x80\x80"));
	assert_false(SAFE("\xf8\x88\x80\x80\x80")); /* 5-byte form */
	assert_false(SAFE("\xfc\x84\x80\x80\x80\x80"));
	assert_false(SAFE("\xfe"));
	assert_false(SAFE("\xff"));
	/* A valid sequence cut by the length is truncated, not valid. */
	assert_false(mq_identity_safe("\xe2\x82\xac", 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(name_valid_should_accept_the_allowed_alphabet),
		cmocka_unit_test(name_valid_should_refuse_everything_else),
		cmocka_unit_test(identity_safe_should_accept_printable_utf8),
		cmocka_unit_test(identity_safe_should_refuse_mqtt_wildcards_and_separators),
		cmocka_unit_test(identity_safe_should_refuse_nul_inside_the_length),
		cmocka_unit_test(identity_safe_should_refuse_c0_c1_and_del),
		cmocka_unit_test(identity_safe_should_refuse_malformed_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
