/* ISO 8601 UTC timestamps and durations, the only time formats in policy,
 * audit and command lines. */
#include "mq_time.h"

#include <stdio.h>
#include <string.h>

int mq_time_format(time_t t, char out[MQ_TIME_LEN])
{
	struct tm tm;

	/* Only what mq_time_parse reads back: years 1970..9999 (tm_year is
	 * compared unshifted since adding 1900 to it may overflow). */
	if (!gmtime_r(&t, &tm) || tm.tm_year < 70 || tm.tm_year > 9999 - 1900)
		return -1;
	if (strftime(out, MQ_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) != MQ_TIME_LEN - 1)
		return -1;
	return 0;
}

static int mqtime_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int mqtime_digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int mq_time_parse(const char *s, time_t *out)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	struct tm tm;
	int y, mo, d, h, mi, se;

	if (!s || strlen(s) != MQ_TIME_LEN - 1 || s[4] != '-' || s[7] != '-' ||
	    s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
		return -1;
	if (mqtime_digits(s, 4, &y) || mqtime_digits(s + 5, 2, &mo) ||
	    mqtime_digits(s + 8, 2, &d) || mqtime_digits(s + 11, 2, &h) ||
	    mqtime_digits(s + 14, 2, &mi) || mqtime_digits(s + 17, 2, &se))
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !mqtime_leap(y)) || h > 23 || mi > 59 || se > 59)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	*out = timegm(&tm);
	return 0;
}

int mq_duration_parse(const char *s, long *secs)
{
	static const struct {
		char unit;
		long mult;
	} units[] = {{'w', 7 * 86400}, {'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
	long mult = 86400, v = 0;
	size_t n;

	if (!s || !*s)
		return -1;
	n = strlen(s);
	for (size_t i = 0; i < sizeof(units) / sizeof(*units); i++) {
		if (s[n - 1] == units[i].unit) {
			mult = units[i].mult;
			n--;
			break;
		}
	}
	if (n == 0)
		return -1;
	/* Digits only: no sign, no spaces, no "1e3"; the bound keeps v * mult
	 * far from overflowing. */
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
		if (v > MQ_DURATION_MAX / mult)
			return -1;
	}
	*secs = v * mult;
	return 0;
}

double mq_time_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
