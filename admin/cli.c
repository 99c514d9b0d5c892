/* What every command shares (cli.h): error and usage messages, option and
 * operand parsing, number and duration arguments, names, escaping untrusted
 * text for the terminal and "did you mean" suggestions. */
#include "cli.h"

#include "mq_names.h"
#include "mq_time.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
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

int cli_opt(struct cli_ctx *ctx, int argc, char **argv, const struct option *opts)
{
	if (!ctx->parsing) {
		optind = 0; /* GNU getopt: re-initialise for this argv */
		ctx->parsing = true;
	}
	return cli_getopt(argc, argv, "", opts, NULL);
}

int cli_operands(const struct cli_ctx *ctx, int argc, char **argv, int min, int max,
		 const char *what)
{
	if (argc - optind < min)
		return cli_usage_error(ctx, "missing %s", what);
	if (max >= 0 && argc - optind > max)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind + max]);
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

int cli_group_add(char **groups, size_t *n, char *group)
{
	if (!cli_name_ok("group", group))
		return -1;
	if (*n == CLI_MAX_GROUPS) {
		cli_err("too many --group options: at most %d", CLI_MAX_GROUPS);
		return -1;
	}
	groups[(*n)++] = group;
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

int cli_parse_duration(const char *opt, const char *s, long *secs)
{
	if (mq_duration_parse(s, secs) == 0)
		return 0;
	cli_err("invalid %s '%s': use a duration like 30d, 12h, 45m, 90s or 2w (a bare number "
		"is days), at most 36500d",
		opt, s);
	return -1;
}

int cli_parse_since(const struct cli_ctx *ctx, const char *s, time_t now, time_t *since)
{
	long secs;

	if (!mq_time_parse(s, since))
		return 0;
	if (mq_duration_parse(s, &secs))
		return cli_usage_error(ctx, "invalid --since '%s': use an ISO 8601 UTC time "
				       "(2026-01-31T08:00:00Z) or an age like 30m, 2h or 3d", s);
	*since = now - secs;
	return 0;
}

#define CLI_WORD_MAX 64

/* Optimal string alignment distance: insertions, deletions, substitutions
 * and swaps of two neighbours each cost 1 (typing errors). Words longer
 * than CLI_WORD_MAX count as far from everything. */
static size_t cli_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[CLI_WORD_MAX + 1][CLI_WORD_MAX + 1];

	if (la > CLI_WORD_MAX || lb > CLI_WORD_MAX)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

size_t cli_nearest(const char *word, const char *const *cands, size_t ncands,
		   const char **out, size_t max)
{
	/* One typo per three letters, at least one, at most three: "isue" is
	 * "issue", "xyz" is nothing. */
	size_t len = strlen(word), limit = len / 3, best = SIZE_MAX, n = 0;

	if (limit < 1)
		limit = 1;
	if (limit > 3)
		limit = 3;
	for (size_t i = 0; i < ncands; i++) {
		size_t d = cli_distance(word, cands[i]);
		bool dup = false;

		if (d > limit || d > best || d >= len)
			continue;
		if (d < best) {
			best = d;
			n = 0;
		}
		for (size_t k = 0; k < n; k++)
			dup = dup || !strcmp(out[k], cands[i]);
		if (!dup && n < max)
			out[n++] = cands[i];
	}
	return n;
}

const char *cli_did_you_mean(const char *word, const char *const *cands, size_t ncands,
			     const char *prefix, char *buf, size_t len)
{
	const char *near[3];
	size_t n = cli_nearest(word, cands, ncands, near, 3), used;

	buf[0] = '\0';
	if (!n || len == 0)
		return buf;
	used = (size_t)snprintf(buf, len, "; did you mean ");
	for (size_t i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s'%s%s'",
					 i == 0 ? "" : i + 1 == n ? " or " : ", ", prefix, near[i]);
	if (used < len)
		snprintf(buf + used, len - used, "?");
	return buf;
}

/* The long option that `name` (no dashes, no "=value") abbreviates or is;
 * NULL when none or several do (getopt's "ambiguous"). */
static const struct option *cli_find_long(const struct option *opts, const char *name,
					   size_t n, int *matches)
{
	const struct option *found = NULL;

	*matches = 0;
	for (const struct option *o = opts; o && o->name; o++) {
		if (strncmp(o->name, name, n))
			continue;
		if (strlen(o->name) == n) {
			*matches = 1;
			return o;
		}
		found = o;
		(*matches)++;
	}
	return *matches == 1 ? found : NULL;
}

static void cli_getopt_global(const char *cmd, const char *opt)
{
	fprintf(stderr, "%s: '%s' is a global option: put it before the command "
		"(mqadmin -d DIR COMMAND ...)\n", cmd, opt);
}

/* Why getopt refused argv[optind - 1] (or the short option optopt). */
static void cli_getopt_explain(char *const *argv, int bad, const char *optstring,
			       const struct option *opts)
{
	/* Commands get argv[0] = "mqadmin device issue"; main the program's path. */
	const char *cmd = strncmp(argv[0], "mqadmin ", 8) ? "mqadmin" : argv[0];
	const char *arg = argv[bad], *eq;
	const char *names[64];
	size_t nnames = 0, n;
	const struct option *o;
	char name[CLI_WORD_MAX + 1], hint[256];
	int matches;

	if (strncmp(arg, "--", 2) || !arg[2]) {
		/* A short option: only main takes any (-d, -h). */
		if (optopt && strchr(optstring, optopt) && optopt != ':')
			fprintf(stderr, "%s: option '-%c' needs a value\n", cmd, optopt);
		else if (optopt == 'd')
			cli_getopt_global(cmd, "-d DIR");
		else
			fprintf(stderr, "%s: unknown option '-%c'\n", cmd, optopt ? optopt : '?');
		return;
	}
	eq = strchr(arg + 2, '=');
	n = eq ? (size_t)(eq - (arg + 2)) : strlen(arg + 2);
	o = cli_find_long(opts, arg + 2, n, &matches);
	if (!o && matches == 0 && n == 3 && !strncmp(arg + 2, "dir", 3)) {
		cli_getopt_global(cmd, "--dir DIR");
		return;
	}
	if (o && eq && o->has_arg == no_argument) {
		fprintf(stderr, "%s: option '--%s' takes no value\n", cmd, o->name);
		return;
	}
	if (o && o->has_arg == required_argument) {
		fprintf(stderr, "%s: option '--%s' needs a value\n", cmd, o->name);
		return;
	}
	if (matches > 1) {
		fprintf(stderr, "%s: option '%.*s' is ambiguous:", cmd, (int)(n + 2), arg);
		for (o = opts; o->name; o++)
			if (!strncmp(o->name, arg + 2, n))
				fprintf(stderr, "%s'--%s'", --matches ? " " : " or ", o->name);
		fputc('\n', stderr);
		return;
	}
	for (o = opts; o && o->name && nnames < sizeof(names) / sizeof(*names); o++)
		names[nnames++] = o->name;
	snprintf(name, sizeof(name), "%.*s", (int)(n < CLI_WORD_MAX ? n : CLI_WORD_MAX), arg + 2);
	fprintf(stderr, "%s: unknown option '--%s'%s\n", cmd, name,
		cli_did_you_mean(name, names, nnames, "--", hint, sizeof(hint)));
}

int cli_getopt(int argc, char *const *argv, const char *optstring,
	       const struct option *longopts, int *longindex)
{
	int save = opterr, c, before = optind ? optind : 1;

	opterr = 0;
	c = getopt_long(argc, argv, optstring, longopts, longindex);
	opterr = save;
	/* GNU getopt steps past the refused element, so it sits just before
	 * optind, and argv is not permuted for it. A short option inside a
	 * cluster ("-xd") leaves optind where it was. */
	if (c == '?' || c == ':')
		cli_getopt_explain(argv, optind > before ? optind - 1 : before, optstring, longopts);
	return c;
}
