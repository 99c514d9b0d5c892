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

#endif
