#include "cli.h"

#include "mq_names.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("mqadmin: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_error(const struct cli_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (fmt) {
		fputs("mqadmin: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	if (ctx && ctx->usage)
		fputs(ctx->usage, stderr);
	return CLI_USAGE;
}

int cli_one_operand(const struct cli_ctx *ctx, int argc, char **argv, const char *what)
{
	if (optind >= argc)
		return cli_usage_error(ctx, "missing %s", what);
	if (optind + 1 != argc)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind + 1]);
	return 0;
}

int cli_parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	if (!s || !*s || *s == ' ' || *s == '+')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int cli_parse_days(const char *s, long max, int *out)
{
	long v;

	if (cli_parse_long(s, 1, max, &v)) {
		cli_err("invalid --days '%s': use a whole number of days from 1 to %ld", s, max);
		return -1;
	}
	*out = (int)v;
	return 0;
}

bool cli_name_ok(const char *what, const char *name)
{
	if (mq_name_valid(name))
		return true;
	cli_err("invalid %s name '%s': use 1-64 characters of A-Za-z0-9._- (not '.' or '..')",
		what, name);
	return false;
}

void cli_expiry_str(time_t not_after, time_t now, char *buf, size_t len)
{
	long long d = (long long)not_after - (long long)now;
	long long a = d < 0 ? -d : d;
	const char *unit = "d";
	long long v = a / 86400;

	if (a < 86400) {
		v = a / 3600;
		unit = "h";
		if (a < 3600) {
			v = a / 60;
			unit = "m";
		}
	}
	if (d >= 0)
		snprintf(buf, len, "in %lld%s", v, unit);
	else
		snprintf(buf, len, "expired %lld%s ago", v, unit);
}

const char *cli_escape(char *out, size_t outlen, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "-");
	size_t left = strlen((const char *)p), o = 0;

	if (outlen < 4) {
		if (outlen)
			out[0] = '\0';
		return out;
	}
	while (*p) {
		size_t n = mq_utf8_seq(p, left);
		char esc[5];
		const char *put = (const char *)p;
		size_t k = n;

		if (*p == '\\') {
			put = "\\\\";
			k = 2;
			n = 1;
		} else if (!n || *p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
			put = esc;
			k = 4;
			n = 1;
		}
		/* Room for "..." stays free: o + 4 <= outlen always holds. */
		if (o + k + 4 > outlen) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, put, k);
		o += k;
		p += n;
		left -= n;
	}
	out[o] = '\0';
	return out;
}

int cli_flush_stdout(void)
{
	if (fflush(stdout) || ferror(stdout)) {
		cli_err("cannot write to standard output: %s", strerror(errno));
		return -1;
	}
	return 0;
}
