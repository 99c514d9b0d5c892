/* ISO 8601 UTC timestamps, the only time format in policy, audit and CLI. */
#ifndef MQ_TIME_H
#define MQ_TIME_H

#include <time.h>

#define MQ_TIME_LEN 21 /* "2026-11-22T07:45:34Z" + NUL */

/* Writes "YYYY-MM-DDTHH:MM:SSZ"; returns 0, or -1 for a t outside years
 * 1970..9999 (what mq_time_parse accepts, so the two are inverses). */
int mq_time_format(time_t t, char out[MQ_TIME_LEN]);

/* Accepts exactly "YYYY-MM-DDTHH:MM:SSZ", a real calendar date from 1970
 * on, no leap second; returns 0 or -1. */
int mq_time_parse(const char *s, time_t *out);

/* The longest duration any option takes: 100 years, in seconds. */
#define MQ_DURATION_MAX (36500L * 86400)

/* The one duration syntax of every option that takes one (--within, the
 * ages of --since): digits and a unit, w(eeks) d(ays) h(ours) m(inutes)
 * s(econds); a bare number is days. 0 up to MQ_DURATION_MAX seconds.
 * Returns 0 with *secs set, or -1 (nothing printed). */
int mq_duration_parse(const char *s, long *secs);

/* Seconds on the monotonic clock (CLOCK_MONOTONIC): for deadlines and
 * elapsed times that must not jump with the wall clock. */
double mq_time_monotonic(void);

/* Milliseconds on CLOCK_MONOTONIC_COARSE (the kernel's last tick, read
 * through the vDSO with no system call; a few ms of resolution): for
 * rate-limiting work on hot paths. Falls back to mq_time_monotonic. */
static inline long long mq_time_coarse_ms(void)
{
	struct timespec t;

	if (__builtin_expect(clock_gettime(CLOCK_MONOTONIC_COARSE, &t) != 0, 0))
		return (long long)(mq_time_monotonic() * 1000);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

#endif
