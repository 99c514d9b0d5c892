/* Broker log lines from the plugin, all prefixed "mqcert: " so operators can
 * grep one word. */
#include "mqcert.h"

#include <stdarg.h>
#include <stdio.h>

void mqlog(int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	mosquitto_log_printf(level, "mqcert: %s", buf);
}
