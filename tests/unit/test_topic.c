#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "naive.h"
#include "mq_topic.h"

struct pattern_case {
	const char *pattern;
	bool valid;
	const char *err_has; /* substring of the message when invalid */
};

static void pattern_valid_should_follow_the_table(void **state)
{
	static const struct pattern_case cases[] = {
		{ "a/b", true, NULL },
		{ "#", true, NULL },
		{ "+", true, NULL },
		{ "a/+/b/#", true, NULL },
		{ "/", true, NULL },
		{ "a//b", true, NULL },
		{ "$SYS/#", true, NULL },
		{ "devices/%u/#", true, NULL },
		{ "devices/%c", true, NULL },
		{ "%{cn}/%{ou}/x", true, NULL },
		{ "dev-%u", true, NULL },
		{ "%u-%c-%{cn}-%{ou}", true, NULL },
		{ "100%%/x", true, NULL },
		{ "", false, "empty" },
		{ "a/b+", false, "'+' must fill" },
		{ "a/+b", false, "'+' must fill" },
		{ "a/#/b", false, "'#' must be the last" },
		{ "a#", false, "'#' must be the last" },
		{ "a/%x", false, "%{cn} (certificate CN)" },
		{ "a/%", false, "unknown placeholder" },
		{ "a/%{dn}", false, "unknown placeholder" },
		{ "a/%{cn", false, "unknown placeholder" },
		{ "%{ou}-%{ou}", false, "more than one %{ou}" },
		{ "a\tb", false, "control character" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		int rc = mq_pattern_valid(cases[i].pattern, err, sizeof(err));

		if ((rc == 0) != cases[i].valid)
			fail_msg("pattern '%s': expected %s, got %d (%s)", cases[i].pattern,
				 cases[i].valid ? "valid" : "invalid", rc, err);
		if (!cases[i].valid && !strstr(err, cases[i].err_has))
			fail_msg("pattern '%s': message '%s' lacks '%s'", cases[i].pattern, err,
				 cases[i].err_has);
	}
}

static void pattern_valid_should_limit_levels(void **state)
{
	char buf[2 * (MQ_PATTERN_MAX_LEVELS + 1) + 1];
	size_t n = 0;

	for (int i = 0; i < MQ_PATTERN_MAX_LEVELS; i++) {
		buf[n++] = 'a';
		buf[n++] = '/';
	}
	buf[n - 1] = '\0';
	assert_int_equal(mq_pattern_valid(buf, NULL, 0), 0);
	buf[n - 1] = '/';
	buf[n++] = 'a';
	buf[n] = '\0';
	assert_int_equal(mq_pattern_valid(buf, NULL, 0), -1);
}

struct match_case {
	const char *filter, *topic;
	bool match;
};

static void topic_match_should_follow_mqtt(void **state)
{
	static const struct match_case cases[] = {
		{ "a/b", "a/b", true },       { "a/b", "a/c", false },    { "a/+", "a/b", true },
		{ "a/+", "a/b/c", false },    { "a/#", "a", true },       { "a/#", "a/b/c", true },
		{ "#", "a/b", true },         { "#", "$SYS/x", false },   { "+/x", "$SYS/x", false },
		{ "$SYS/#", "$SYS/x", true }, { "a/+/b", "a//b", true },  { "+", "", true },
		{ "/+", "/x", true },         { "+/+", "/x", true },      { "a/", "a", false },
		{ "a", "a/", false },         { "a/#", "ab", false },     { "+/#", "a", true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (naive_topic_match(cases[i].filter, cases[i].topic) != cases[i].match)
			fail_msg("'%s' vs '%s': expected %d", cases[i].filter, cases[i].topic,
				 cases[i].match);
	}
}

static void names_and_filters_should_be_validated(void **state)
{
	assert_true(mq_topic_name_valid("a/b"));
	assert_true(mq_topic_name_valid("/"));
	assert_true(mq_topic_name_valid("$SYS/x"));
	assert_false(mq_topic_name_valid(""));
	assert_false(mq_topic_name_valid("a/+"));
	assert_false(mq_topic_name_valid("a#"));
	assert_false(mq_topic_name_valid(NULL));

	assert_true(mq_filter_valid("#"));
	assert_true(mq_filter_valid("+/+/#"));
	assert_true(mq_filter_valid("a//b"));
	assert_false(mq_filter_valid(""));
	assert_false(mq_filter_valid("a/#/b"));
	assert_false(mq_filter_valid("a+"));
	assert_false(mq_filter_valid("a/b#"));
}

static void unshare_should_strip_and_refuse_malformed_shares(void **state)
{
	assert_string_equal(mq_filter_unshare("a/b"), "a/b");
	assert_string_equal(mq_filter_unshare("$share/g/a/#"), "a/#");
	assert_string_equal(mq_filter_unshare("$share/g/#"), "#");
	assert_string_equal(mq_filter_unshare("$share"), "$share");
	assert_string_equal(mq_filter_unshare("$sharex/g/a"), "$sharex/g/a");
	assert_null(mq_filter_unshare("$share/g"));
	assert_null(mq_filter_unshare("$share/g/"));
	assert_null(mq_filter_unshare("$share//a"));
	assert_null(mq_filter_unshare("$share/+/a"));
	assert_null(mq_filter_unshare("$share/g#/a"));
	assert_null(mq_filter_unshare("$share/g/a/#/b"));
	assert_null(mq_filter_unshare("a/#/b"));
	assert_null(mq_filter_unshare(""));
}

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

struct cmp_case {
	const char *a, *b;
	int cmp;
};

static void pattern_cmp_should_rank_names_over_plus_over_hash(void **state)
{
	static const struct cmp_case cases[] = {
		{ "a/b", "a/+", 1 },          { "a/+", "a/#", 1 },        { "a/b/+", "a/+/c", 1 },
		{ "a", "a/#", 1 },            { "a/+/c/#", "a/+/#", 1 },  { "a/%u", "a/b", 0 },
		{ "x/y", "a/b", 0 },          { "#", "+", -1 },           { "+/+/+", "#", 1 },
		{ "a/+/+", "a/b/#", -1 },     { "%{ou}/#", "+/#", 1 },    { "a/#", "a/#", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int c = sign(mq_pattern_cmp(cases[i].a, cases[i].b));
		int r = sign(mq_pattern_cmp(cases[i].b, cases[i].a));

		if (c != cases[i].cmp || r != -cases[i].cmp)
			fail_msg("cmp('%s', '%s') = %d / %d, expected %d", cases[i].a, cases[i].b,
				 c, r, cases[i].cmp);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pattern_valid_should_follow_the_table),
		cmocka_unit_test(pattern_valid_should_limit_levels),
		cmocka_unit_test(topic_match_should_follow_mqtt),
		cmocka_unit_test(names_and_filters_should_be_validated),
		cmocka_unit_test(unshare_should_strip_and_refuse_malformed_shares),
		cmocka_unit_test(pattern_cmp_should_rank_names_over_plus_over_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
