/* mq_errf: the one-line error text every core function that can fail
 * leaves for its caller. */
#include "mq_err.h"

#include <stdarg.h>
#include <stdio.h>

void mq_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
