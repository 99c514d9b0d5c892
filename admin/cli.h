/* What every mqadmin command shares: the context, messages, exit codes and
 * argument parsing helpers. */
#ifndef ADMIN_CLI_H
#define ADMIN_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum {
	CLI_OK = 0,
	CLI_FAIL = 1,  /* the operation failed */
	CLI_USAGE = 2, /* the command line was wrong */
};

struct store;

/* What main hands a command: set up from the command table (cmdtab.h) and
 * the global options, so that no command reads another module's state. */
struct cli_ctx {
	const char *dir;   /* PKI directory as given (-d, $MQADMIN_DIR, ./pki) */
	const char *usage; /* usage text of the running command */
	int dir_from;      /* where dir came from: an enum pkidir_from */
	bool fleet;        /* etcd is configured (--etcd, $MQADMIN_ETCD, config) */
	unsigned pki;      /* the table's CMD_PKI_* mode (cmdtab.h): what cmdtab_pki opens */
	bool read_only;    /* set by the command before cmdtab_pki (--dry-run): no lock */
	struct store *st;  /* main's store, which cmdtab_pki opens and main closes */
	bool parsing;      /* cli_opt has started on this command's argv */
};

/* "mqadmin: <message>\n" on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints ctx->usage to stderr and returns CLI_USAGE; with fmt, first one
 * "mqadmin: ..." line saying what was wrong. */
int cli_usage_error(const struct cli_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The next option of the command's argv (argv[0] names the command),
 * parsed with cli_getopt against opts (long options only): the first call
 * of a run starts at argv[1], so no command resets getopt. -1 after the
 * last option (optind is then the first operand); '?' after printing what
 * was wrong with it (the caller prints the usage: cli_usage_error). */
int cli_opt(struct cli_ctx *ctx, int argc, char **argv, const struct option *opts);

/* After cli_opt: between min and max operands remain from optind (max < 0:
 * any number). 0, or CLI_USAGE after "missing WHAT" or "unexpected
 * argument 'x'" and the usage. */
int cli_operands(const struct cli_ctx *ctx, int argc, char **argv, int min, int max,
		 const char *what);

/* Parses a --days value in 1..max; prints an error and returns -1. */
int cli_parse_days(const char *s, long max, int *out);

/* Parses a duration option (--within, ...) with mq_duration_parse, the one
 * syntax of every duration: 30d, 12h, 45m, 90s, 2w, a bare number of days.
 * opt names the option for the error. 0, or -1 after printing why. */
int cli_parse_duration(const char *opt, const char *s, long *secs);

/* --since: an ISO 8601 UTC time, or an age (a duration) before now. 0, or
 * CLI_USAGE after printing why and ctx's usage. */
int cli_parse_since(const struct cli_ctx *ctx, const char *s, time_t now, time_t *since);

/* Parses a decimal in lo..hi; 0 or -1 (no message). */
int cli_parse_long(const char *s, long lo, long hi, long *out);

/* Checks a device/server/group/user name, printing why it is refused. */
bool cli_name_ok(const char *what, const char *name);

/* CLI_MAX_GROUPS: how many --group options a command takes. cli_group_add
 * appends a --group's value to groups (*n of them so far), checking the
 * name and the count. 0, or -1 after printing why. */
#define CLI_MAX_GROUPS 64
int cli_group_add(char **groups, size_t *n, char *group);

/* s made safe for a terminal: control characters (C0, DEL, C1), bytes
 * that are not valid UTF-8 and '\' become \xNN (\\ for '\'); NULL becomes
 * "-". Written to out (a result cut to fit ends in "..."), which is
 * returned. CLI_ESCAPE_SIZE(n) bytes always hold the whole of n bytes. */
#define CLI_ESCAPE_SIZE(n) (4 * (n) + 4)
const char *cli_escape(char *out, size_t outlen, const char *s);

/* getopt_long with mqadmin's own messages: an unknown option names the
 * nearest valid one ("unknown option '--dyas'; did you mean '--days'?"),
 * a missing or surplus value names the option. Same arguments and return
 * values as getopt_long ('?' after printing the message); main's global
 * options and every command's (through cli_opt) are parsed with it. */
int cli_getopt(int argc, char *const *argv, const char *optstring,
	       const struct option *longopts, int *longindex);

/* The candidates nearest to word by edit distance (typos: one swap, a
 * missing, extra or wrong letter per three letters or so), in out (at most
 * max); returns how many. None when nothing is close. */
size_t cli_nearest(const char *word, const char *const *cands, size_t ncands,
		   const char **out, size_t max);

/* "; did you mean 'a'?" or "; did you mean 'a' or 'b'?" naming the nearest
 * candidates, each with prefix ("--") in front; "" when none is close.
 * Written into buf, which is returned. */
const char *cli_did_you_mean(const char *word, const char *const *cands, size_t ncands,
			     const char *prefix, char *buf, size_t len);

/* Flushes stdout; -1 (with a message) when anything written to it was lost. */
int cli_flush_stdout(void);

#endif
