/* What every mqadmin command shares: the context, messages, exit codes and
 * argument parsing helpers. */
#ifndef ADMIN_CLI_H
#define ADMIN_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum {
	CLI_OK = 0,
	CLI_FAIL = 1,  /* the operation failed */
	CLI_USAGE = 2, /* the command line was wrong */
};

struct cli_ctx {
	const char *dir;   /* PKI directory as given (-d, $MQADMIN_DIR, ./pki) */
	const char *usage; /* usage text of the running command */
};

/* "mqadmin: <message>\n" on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints ctx->usage to stderr and returns CLI_USAGE; with fmt, first one
 * "mqadmin: ..." line saying what was wrong. */
int cli_usage_error(const struct cli_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* After getopt: exactly one operand must remain at argv[optind]; what
 * names it for the error ("device NAME"). 0, or CLI_USAGE after printing
 * the error and the usage. */
int cli_one_operand(const struct cli_ctx *ctx, int argc, char **argv, const char *what);

/* Parses a --days value in 1..max; prints an error and returns -1. */
int cli_parse_days(const char *s, long max, int *out);

/* Parses a decimal in lo..hi; 0 or -1 (no message). */
int cli_parse_long(const char *s, long lo, long hi, long *out);

/* Checks a device/server/group/user name, printing why it is refused. */
bool cli_name_ok(const char *what, const char *name);

/* "in 364d", "expired 3d ago", "in 5h"... relative to now. */
void cli_expiry_str(time_t not_after, time_t now, char *buf, size_t len);

/* s made safe for a terminal: control characters (C0, DEL, C1), bytes
 * that are not valid UTF-8 and '\' become \xNN (\\ for '\'); NULL becomes
 * "-". Written to out (a result cut to fit ends in "..."), which is
 * returned. CLI_ESCAPE_SIZE(n) bytes always hold the whole of n bytes. */
#define CLI_ESCAPE_SIZE(n) (4 * (n) + 4)
const char *cli_escape(char *out, size_t outlen, const char *s);

/* Flushes stdout; -1 (with a message) when anything written to it was lost. */
int cli_flush_stdout(void);

#endif
