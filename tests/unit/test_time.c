#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "mq_time.h"

static void time_format_should_write_iso8601_utc(void **state)
{
	char buf[MQ_TIME_LEN];

	assert_int_equal(mq_time_format(0, buf), 0);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	assert_int_equal(mq_time_format(1795333534, buf), 0);
	assert_string_equal(buf, "2026-11-22T07:45:34Z");
	assert_int_equal(mq_time_format(951782400, buf), 0); /* leap day 2000 */
	assert_string_equal(buf, "2000-02-29T00:00:00Z");
	assert_int_equal(mq_time_format(253402300799, buf), 0);
	assert_string_equal(buf, "9999-12-31T23:59:59Z");
}

static void time_format_should_refuse_years_it_cannot_write(void **state)
{
	char buf[MQ_TIME_LEN];

	assert_int_equal(mq_time_format(253402300800, buf), -1); /* year 10000 */
	/* Years whose tm_year sits near INT_MAX must not overflow. */
	assert_int_equal(mq_time_format((time_t)67768018898544000LL, buf), -1);
	assert_int_equal(mq_time_format((time_t)INT64_MAX, buf), -1);
	assert_int_equal(mq_time_format((time_t)INT64_MIN, buf), -1);
	/* Parse refuses years before 1970, so format must not write them. */
	assert_int_equal(mq_time_format(-1, buf), -1);
}

static void time_parse_should_read_what_format_wrote(void **state)
{
	static const time_t samples[] = {
		0, 1, 59, 86399, 86400, 951782400, 1700000000, 1795333534,
		2147483647, 2147483648, 4102444800, 253402300799,
	};
	char buf[MQ_TIME_LEN];

	for (size_t i = 0; i < sizeof(samples) / sizeof(*samples); i++) {
		time_t t = -1;

		assert_int_equal(mq_time_format(samples[i], buf), 0);
		assert_int_equal(mq_time_parse(buf, &t), 0);
		assert_int_equal(t, samples[i]);
	}
	for (time_t t0 = 0; t0 < 4102444800; t0 += 7919 * 3607) {
		time_t t = -1;

		assert_int_equal(mq_time_format(t0, buf), 0);
		assert_int_equal(mq_time_parse(buf, &t), 0);
		assert_int_equal(t, t0);
	}
}

static void time_parse_should_accept_valid_calendar_dates(void **state)
{
	time_t t;

	assert_int_equal(mq_time_parse("2024-02-29T12:00:00Z", &t), 0);
	assert_int_equal(t, 1709208000);
	assert_int_equal(mq_time_parse("2000-02-29T00:00:00Z", &t), 0);
	assert_int_equal(mq_time_parse("2026-12-31T23:59:59Z", &t), 0);
	assert_int_equal(mq_time_parse("2026-04-30T00:00:00Z", &t), 0);
}

static void time_parse_should_refuse_malformed_text(void **state)
{
	static const char *const bad[] = {
		"",
		"2026",
		"2026-11-22",
		"2026-11-22T07:45:34",        /* no zone */
		"2026-11-22T07:45:34+00:00",  /* not Z */
		"2026-11-22T07:45:34z",
		"2026-11-22 07:45:34Z",
		"2026-11-22T07:45:34.5Z",
		"2026-11-22T07:45:34ZZ",
		" 2026-11-22T07:45:34Z",
		"2026/11/22T07:45:34Z",
		"26-11-22T07:45:34Z",
		"2026-1-22T07:45:34Z ",
		"+026-11-22T07:45:34Z",
		"2026-11-2xT07:45:34Z",
		"2026-11-22T7:45:34Z0",
		"2026-00-22T07:45:34Z",      /* month 0 */
		"2026-13-22T07:45:34Z",      /* month 13 */
		"2026-11-00T07:45:34Z",      /* day 0 */
		"2026-11-31T07:45:34Z",      /* November has 30 */
		"2026-02-30T07:45:34Z",      /* Feb 30 */
		"2026-02-29T07:45:34Z",      /* not a leap year */
		"1900-02-29T00:00:00Z",      /* century, not leap */
		"2026-11-22T24:00:00Z",
		"2026-11-22T07:60:00Z",
		"2026-11-22T07:45:60Z",      /* format never writes a leap second */
		"2026-11-22T07:45:61Z",
		"1969-12-31T23:59:59Z",      /* before the epoch */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		time_t t = 42;

		if (mq_time_parse(bad[i], &t) == 0)
			fail_msg("'%s' was accepted as %lld", bad[i], (long long)t);
	}
	assert_int_equal(mq_time_parse(NULL, &(time_t){0}), -1);
}

static void duration_parse_should_read_every_unit(void **state)
{
	static const struct {
		const char *text;
		long secs;
	} ok[] = {
		{"30d", 30 * 86400}, {"30", 30 * 86400}, {"12h", 12 * 3600}, {"45m", 45 * 60},
		{"90s", 90}, {"2w", 14 * 86400}, {"0", 0}, {"0d", 0}, {"36500d", MQ_DURATION_MAX},
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		long secs = -1;

		assert_int_equal(mq_duration_parse(ok[i].text, &secs), 0);
		assert_int_equal(secs, ok[i].secs);
	}
}

static void duration_parse_should_refuse_anything_else(void **state)
{
	static const char *const bad[] = {
		"", "d", "-1d", "+1d", " 1d", "1d ", "1.5d", "1e3", "soon", "30dd", "30y", "30D",
		"36501d", "99999999999999999999", "9223372036854775807s",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		long secs = 42;

		if (mq_duration_parse(bad[i], &secs) == 0)
			fail_msg("'%s' was accepted as %ld s", bad[i], secs);
	}
	assert_int_equal(mq_duration_parse(NULL, &(long){0}), -1);
}

static void time_monotonic_should_not_go_back_and_should_follow_a_sleep(void **state)
{
	struct timespec pause = {0, 20 * 1000 * 1000};
	double a, b;

	(void)state;
	a = mq_time_monotonic();
	assert_true(a > 0);
	nanosleep(&pause, NULL);
	b = mq_time_monotonic();
	assert_true(b - a >= 0.019);
	assert_true(b - a < 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(time_format_should_write_iso8601_utc),
		cmocka_unit_test(time_format_should_refuse_years_it_cannot_write),
		cmocka_unit_test(time_parse_should_read_what_format_wrote),
		cmocka_unit_test(time_parse_should_accept_valid_calendar_dates),
		cmocka_unit_test(time_parse_should_refuse_malformed_text),
		cmocka_unit_test(duration_parse_should_read_every_unit),
		cmocka_unit_test(duration_parse_should_refuse_anything_else),
		cmocka_unit_test(time_monotonic_should_not_go_back_and_should_follow_a_sleep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
