/* Error text for the core's callers: every core function that can fail
 * for a reason a human must fix writes one line into a caller's buffer. */
#ifndef MQ_ERR_H
#define MQ_ERR_H

#include <stddef.h>

/* snprintf into err (errlen bytes); does nothing when err is NULL. */
void mq_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
