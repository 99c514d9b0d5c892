/* What server and device issuing share: their common options, validity
 * checks, SAN syntax and writing the resulting files. */
#ifndef ADMIN_ISSUE_H
#define ADMIN_ISSUE_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "ca.h"
#include "export.h"

struct cli_ctx;

/* The options the issuing commands share, each parsed here once: --days,
 * --key-type and --passphrase-file (init, server issue, device issue, renew
 * and batch) and the device formats --format, --p12-passphrase-file and
 * --p12-modern (device issue, renew and batch). A command puts
 * ISSUE_OPTIONS (and ISSUE_EXPORT_OPTIONS) in its option table, sets its
 * defaults in a struct issue_opts and reads its options with issue_getopt. */
enum {
	ISSUE_OPT_BAD = 0x100, /* beyond any option letter */
	ISSUE_OPT_DAYS,
	ISSUE_OPT_KEY_TYPE,
	ISSUE_OPT_PASSFILE,
	ISSUE_OPT_FORMAT,
	ISSUE_OPT_P12_PASSFILE,
	ISSUE_OPT_P12_MODERN,
};
#define ISSUE_OPTIONS                                                      \
	{"days", required_argument, NULL, ISSUE_OPT_DAYS},                 \
	{"key-type", required_argument, NULL, ISSUE_OPT_KEY_TYPE},         \
	{"passphrase-file", required_argument, NULL, ISSUE_OPT_PASSFILE}
#define ISSUE_EXPORT_OPTIONS                                               \
	{"format", required_argument, NULL, ISSUE_OPT_FORMAT},             \
	{"p12-passphrase-file", required_argument, NULL, ISSUE_OPT_P12_PASSFILE}, \
	{"p12-modern", no_argument, NULL, ISSUE_OPT_P12_MODERN}

/* The longest validity --days takes (100 years). */
#define ISSUE_MAX_DAYS 36500

struct issue_opts {
	enum ca_keytype type; /* the command's default until --key-type */
	int days;             /* the command's default until --days */
	bool type_given, days_given;
	const char *passfile; /* the CA key's passphrase */
	struct export_opts ex;
};

/* cli_opt for an issuing command: the shared options are taken into o,
 * the command's own returned. -1 after the last option; ISSUE_OPT_BAD
 * after printing what is wrong with a shared option's value (the command
 * then fails: exit 1, as for any bad value). */
int issue_getopt(struct cli_ctx *ctx, int argc, char **argv, const struct option *opts,
		 struct issue_opts *o);

/* The export options given together, checked after the last option:
 * CLI_OK, or CLI_USAGE after the message and the command's usage. */
int issue_opts_check(const struct cli_ctx *ctx, const struct issue_opts *o);

/* Seconds a certificate's notBefore lies in the past, so devices whose
 * clock runs a little behind accept it at once. */
#define ISSUE_SKEW 300

/* Refuses a notAfter beyond the CA's own, naming the CA's expiry. */
int issue_check_expiry(const struct ca *ca, time_t not_after);

/* A DNS name for a SAN: labels of A-Za-z0-9- (1-63 characters, no '-' at
 * either end), 253 characters at most, optionally starting with "*.". */
bool issue_dns_valid(const char *s);

/* Validates "DNS:host" or "IP:addr" (IPv4 or IPv6) and appends it, comma
 * separated, to the malloc'd list *sans. 0, or -1 after printing why. */
int issue_add_san(char **sans, const char *spec);

/* SANs one device certificate may carry. */
#define ISSUE_MAX_SANS 16

/* A device SAN: "DNS:", "email:" or "URI:" (the type in any case) checked
 * with mq_san_check and appended in that spelling to the comma separated
 * malloc'd list *sans. IP SANs (servers only) and repeats are refused.
 * what names the value's origin in messages ("--san"). 0, or -1 after
 * printing why. */
int issue_add_device_san(char **sans, const char *arg, const char *what);

/* Writes data to path atomically with mode, printing why on failure. */
int issue_write(const char *path, const void *data, size_t len, mode_t mode);

/* Writes the PEM of key (0600) to path; cert, when not NULL, is the
 * certificate just issued for key (see ca_key_pem). 0 or -1 after printing
 * why. */
int issue_write_key(const char *path, EVP_PKEY *key, const X509 *cert);

/* Writes the PEM of cert (0644) to path. 0 or -1 after printing why. */
int issue_write_cert(const char *path, X509 *cert);

#endif
