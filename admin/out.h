/* What mqadmin's commands print, each written once: JSON documents,
 * aligned tables, timestamps in JSON, "days left", "in 364d" and warnings. */
#ifndef ADMIN_OUT_H
#define ADMIN_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "mq_policy.h"

/* Prints doc formatted, then a newline, and flushes stdout. 0, or -1 after
 * saying why (doc NULL counts as out of memory: callers may pass a failed
 * build straight in). */
int out_json(const cJSON *doc);

/* Adds t to o under key as an ISO 8601 UTC string, or as null when t lies
 * outside what that format holds (years 1970..9999). false when out of
 * memory. */
bool out_json_time(cJSON *o, const char *key, time_t t);

/* Adds what names a certificate record in every listing: "serial",
 * "fingerprint", "not_before", "not_after". false when out of memory. */
bool out_json_cert(cJSON *o, const struct mq_cert *c);
/* Adds how a certificate ended, when it did: "revoked_at" and "reason" (a
 * revoked one), "retired_at" and "retire_reason". false when out of memory. */
bool out_json_cert_end(cJSON *o, const struct mq_cert *c);

/* Whole days from now to t, rounded towards minus infinity (-1 the day
 * after t). */
long out_days_left(time_t t, time_t now);

/* "in 364d", "expired 3d ago", "in 5h"... relative to now. */
void out_expiry(time_t not_after, time_t now, char *buf, size_t len);

/* The state lists show: not-yet-valid only means a skewed clock (notBefore
 * lies ISSUE_SKEW in the past), so that certificate counts as active. */
enum mq_cert_state out_cert_state(const struct mq_cert *c, time_t now);

/* "mqadmin: warning: <message>\n" on stderr. */
void out_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Column widths of an aligned table printed in two passes (nothing is
 * stored: a million rows cost no memory): out_cols_init with the header,
 * out_cols_fit for every row, then out_cols_row for the header and every
 * row. Columns are two spaces apart, the last one unpadded. Cells are
 * printed as given: escape untrusted ones first (cli_escape, out_tbl). */
#define OUT_COLS_MAX 16
struct out_cols {
	size_t n;
	size_t w[OUT_COLS_MAX];
};
void out_cols_init(struct out_cols *c, const char *const *head, size_t n);
void out_cols_fit(struct out_cols *c, const char *const *row);
void out_cols_row(const struct out_cols *c, const char *const *row);

/* A stored aligned table whose cells are copied escaped (cli_escape), so
 * that attacker-chosen client ids or topics cannot drive the terminal;
 * NULL and empty cells show as "-". Zero-initialize with ncols set. */
struct out_tbl {
	size_t ncols, nrows, cap;
	char **cells;
};
int out_tbl_row(struct out_tbl *t, const char *const *row); /* 0 or -1 (out of memory) */
void out_tbl_print(const struct out_tbl *t);
/* Widens c to t's cells (a stored table continued by streamed rows). */
void out_tbl_fit(const struct out_tbl *t, struct out_cols *c);
void out_tbl_free(struct out_tbl *t);

#endif
