/* mqadmin's output helpers: see out.h. */
#include "out.h"

#include "cli.h"
#include "mq_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int out_json(const cJSON *doc)
{
	char *text = doc ? cJSON_Print(doc) : NULL;

	if (!text) {
		cli_err("cannot format JSON: out of memory");
		return -1;
	}
	fputs(text, stdout);
	fputc('\n', stdout);
	cJSON_free(text);
	return cli_flush_stdout();
}

bool out_json_time(cJSON *o, const char *key, time_t t)
{
	char ts[MQ_TIME_LEN];

	if (mq_time_format(t, ts))
		return cJSON_AddNullToObject(o, key) != NULL;
	return cJSON_AddStringToObject(o, key, ts) != NULL;
}

bool out_json_cert(cJSON *o, const struct mq_cert *c)
{
	return cJSON_AddStringToObject(o, "serial", c->serial) &&
	       cJSON_AddStringToObject(o, "fingerprint", c->fingerprint) &&
	       out_json_time(o, "not_before", c->not_before) &&
	       out_json_time(o, "not_after", c->not_after);
}

bool out_json_cert_end(cJSON *o, const struct mq_cert *c)
{
	bool revoked = c->status == MQ_CERT_REVOKED;

	return (!revoked || !c->revoked_at || out_json_time(o, "revoked_at", c->revoked_at)) &&
	       (!revoked || !c->revoke_reason ||
		cJSON_AddStringToObject(o, "reason", c->revoke_reason)) &&
	       (!c->retired_at || out_json_time(o, "retired_at", c->retired_at)) &&
	       (!c->retire_reason || cJSON_AddStringToObject(o, "retire_reason", c->retire_reason));
}

long out_days_left(time_t t, time_t now)
{
	long long d = (long long)t - (long long)now;

	return (long)(d >= 0 ? d / 86400 : -((-d + 86399) / 86400));
}

void out_expiry(time_t not_after, time_t now, char *buf, size_t len)
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

enum mq_cert_state out_cert_state(const struct mq_cert *c, time_t now)
{
	enum mq_cert_state s = mq_cert_state(c, now);

	return s == MQ_STATE_NOT_YET_VALID ? MQ_STATE_ACTIVE : s;
}

void out_warn(const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	cli_err("warning: %s", n < 0 ? fmt : msg);
	free(msg);
}

void out_cols_init(struct out_cols *c, const char *const *head, size_t n)
{
	memset(c, 0, sizeof(*c));
	c->n = n < OUT_COLS_MAX ? n : OUT_COLS_MAX;
	out_cols_fit(c, head);
}

void out_cols_fit(struct out_cols *c, const char *const *row)
{
	for (size_t i = 0; i < c->n; i++)
		if (strlen(row[i]) > c->w[i])
			c->w[i] = strlen(row[i]);
}

void out_cols_row(const struct out_cols *c, const char *const *row)
{
	for (size_t i = 0; i + 1 < c->n; i++)
		printf("%-*s  ", (int)c->w[i], row[i]);
	printf("%s\n", c->n ? row[c->n - 1] : "");
}

int out_tbl_row(struct out_tbl *t, const char *const *row)
{
	if ((t->nrows + 1) * t->ncols > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : t->ncols * 16;
		char **c = realloc(t->cells, cap * sizeof(*c));

		if (!c)
			return -1;
		t->cells = c;
		t->cap = cap;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		const char *v = row[i] && *row[i] ? row[i] : "-";
		size_t n = CLI_ESCAPE_SIZE(strlen(v));
		char *s = malloc(n);

		if (!s) {
			while (i-- > 0)
				free(t->cells[t->nrows * t->ncols + i]);
			return -1;
		}
		cli_escape(s, n, v);
		t->cells[t->nrows * t->ncols + i] = s;
	}
	t->nrows++;
	return 0;
}

void out_tbl_fit(const struct out_tbl *t, struct out_cols *c)
{
	for (size_t r = 0; r < t->nrows; r++)
		out_cols_fit(c, (const char *const *)t->cells + r * t->ncols);
}

void out_tbl_print(const struct out_tbl *t)
{
	struct out_cols c = {.n = t->ncols < OUT_COLS_MAX ? t->ncols : OUT_COLS_MAX};

	out_tbl_fit(t, &c);
	for (size_t r = 0; r < t->nrows; r++)
		out_cols_row(&c, (const char *const *)t->cells + r * t->ncols);
}

void out_tbl_free(struct out_tbl *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}
