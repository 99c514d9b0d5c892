/* device list and device show: the policy's devices for humans and JSON. */
#include "cmds.h"
#include "out.h"

#include "mq_policy.h"
#include "mq_time.h"
#include "store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* device list's filters; all given ones must hold. */
struct devview_filter {
	const char *group;     /* NULL: any */
	const char *state;     /* NULL: any; else a devview_status() word */
	time_t expiring_by;    /* 0: any; else the newest cert ends by then */
};

static const struct mq_cert *devview_newest(const struct mq_device *d)
{
	return d->ncerts ? d->certs[d->ncerts - 1] : NULL;
}

static const char *devview_status(const struct mq_cert *c, time_t now)
{
	return c ? mq_cert_state_str(out_cert_state(c, now)) : "none";
}

static cJSON *devview_cert_json(const struct mq_cert *c, time_t now)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !out_json_cert(o, c) ||
	    !cJSON_AddStringToObject(o, "status", devview_status(c, now)) ||
	    !out_json_cert_end(o, c))
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static cJSON *devview_device_json(const struct mq_device *d, time_t now)
{
	const struct mq_cert *c = devview_newest(d);
	cJSON *o = cJSON_CreateObject(), *groups, *certs;

	if (!o || !cJSON_AddStringToObject(o, "name", d->name) ||
	    !cJSON_AddStringToObject(o, "username", d->username) ||
	    !(groups = cJSON_AddArrayToObject(o, "groups")))
		goto fail;
	for (size_t i = 0; i < d->ngroups; i++) {
		cJSON *g = cJSON_CreateString(d->groups[i]);

		if (!g || !cJSON_AddItemToArray(groups, g)) {
			cJSON_Delete(g);
			goto fail;
		}
	}
	if (d->created && !out_json_time(o, "created", d->created))
		goto fail;
	if (d->suspended && d->suspended_at && !out_json_time(o, "suspended_at", d->suspended_at))
		goto fail;
	if (c && (!out_json_cert(o, c) ||
		  !cJSON_AddNumberToObject(o, "days_left", (double)out_days_left(c->not_after, now))))
		goto fail;
	if (!cJSON_AddStringToObject(o, "status", devview_status(c, now)) ||
	    !(certs = cJSON_AddArrayToObject(o, "certs")))
		goto fail;
	for (size_t i = 0; i < d->ncerts; i++) {
		cJSON *jc = devview_cert_json(d->certs[i], now);

		if (!jc || !cJSON_AddItemToArray(certs, jc)) {
			cJSON_Delete(jc);
			goto fail;
		}
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static char *devview_groups(const struct mq_device *d)
{
	size_t n = 2;
	char *s;

	for (size_t i = 0; i < d->ngroups; i++)
		n += strlen(d->groups[i]) + 1;
	s = malloc(n);
	if (!s)
		return NULL;
	strcpy(s, d->ngroups ? "" : "-");
	for (size_t i = 0; i < d->ngroups; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, d->groups[i]);
	}
	return s;
}

static void devview_expiry(const struct mq_cert *c, time_t now, char *buf, size_t len)
{
	if (!c)
		snprintf(buf, len, "-");
	else
		out_expiry(c->not_after, now, buf, len);
}

static bool devview_match(const struct devview_filter *f, const struct mq_device *d, time_t now)
{
	const struct mq_cert *c = devview_newest(d);

	if (f->group && !mq_device_in_group(d, f->group))
		return false;
	if (f->state && strcmp(devview_status(c, now), f->state))
		return false;
	/* Expired ones count as expiring, as in 'expiring': they need renewal most. */
	if (f->expiring_by && (!c || c->not_after > f->expiring_by))
		return false;
	return true;
}

/* Fills row (6 cells) for d; exp holds the expiry text, *g the groups
 * (malloc'd, the caller frees it). 0 or -1 (out of memory). */
static int devview_row(const struct mq_device *d, time_t now, const char *row[6], char *exp,
		       size_t explen, char **g)
{
	const struct mq_cert *c = devview_newest(d);

	if (!(*g = devview_groups(d)))
		return -1;
	devview_expiry(c, now, exp, explen);
	row[0] = d->name;
	row[1] = d->username;
	row[2] = *g;
	row[3] = devview_status(c, now);
	row[4] = exp;
	row[5] = c ? c->serial : "-";
	return 0;
}

static int devview_table(const struct mq_policy *p, const struct devview_filter *f, time_t now)
{
	static const char *const head[] = {"NAME", "USERNAME", "GROUPS", "STATUS", "EXPIRES", "SERIAL"};
	struct out_cols cols;
	size_t shown = 0;
	const char *row[6];
	char exp[48], *g;

	/* Two passes, nothing stored: widths first, then the rows. */
	out_cols_init(&cols, head, 6);
	for (int pass = 0; pass < 2; pass++) {
		if (pass)
			out_cols_row(&cols, head);
		for (size_t i = 0; i < p->ndevices; i++) {
			if (!devview_match(f, p->devices[i], now))
				continue;
			if (devview_row(p->devices[i], now, row, exp, sizeof(exp), &g))
				return -1;
			if (pass) {
				out_cols_row(&cols, row);
				shown++;
			} else {
				out_cols_fit(&cols, row);
			}
			free(g);
		}
	}
	printf("%zu device%s (%zu shown)\n", p->ndevices, p->ndevices == 1 ? "" : "s", shown);
	return cli_flush_stdout();
}

static void devview_human(const struct mq_device *d, time_t now)
{
	char *g = devview_groups(d), ts[MQ_TIME_LEN], te[MQ_TIME_LEN], exp[48];
	char esc[CLI_ESCAPE_SIZE(200)];
	const struct mq_cert *c = devview_newest(d);

	printf("name:        %s\n", d->name);
	printf("username:    %s\n", d->username);
	printf("groups:      %s\n", g ? g : "?");
	if (d->created && !mq_time_format(d->created, ts))
		printf("created:     %s\n", ts);
	printf("status:      %s\n", devview_status(c, now));
	if (d->suspended && d->suspended_at && !mq_time_format(d->suspended_at, ts))
		printf("suspended:   %s ('mqadmin device resume %s' lets it back in)\n", ts, d->name);
	if (c) {
		devview_expiry(c, now, exp, sizeof(exp));
		printf("serial:      %s\n", c->serial);
		printf("fingerprint: %s\n", c->fingerprint);
		printf("expires:     %s\n", exp);
	}
	printf("certificates:\n");
	for (size_t i = 0; i < d->ncerts; i++) {
		c = d->certs[i];
		if (mq_time_format(c->not_before, ts) || mq_time_format(c->not_after, te))
			strcpy(ts, "?");
		printf("  %s  %-7s  %s .. %s", c->serial, devview_status(c, now), ts, te);
		if (c->status == MQ_CERT_REVOKED && c->revoked_at && !mq_time_format(c->revoked_at, ts))
			printf("  revoked %s%s%s", ts, c->revoke_reason ? ": " : "",
			       c->revoke_reason ? cli_escape(esc, sizeof(esc), c->revoke_reason) : "");
		else if (c->status == MQ_CERT_RETIRED && c->retired_at &&
			 !mq_time_format(c->retired_at, ts))
			printf("  retired %s%s%s", ts, c->retire_reason ? ": " : "",
			       c->retire_reason ? cli_escape(esc, sizeof(esc), c->retire_reason) : "");
		printf("\n");
	}
	free(g);
}

/* Parses [NAME] [--json] for show (want_name) and list (f: its filters). */
static int devview_parse(struct cli_ctx *ctx, int argc, char **argv, bool want_name,
			 const char **name, bool *json, struct devview_filter *f)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"group", required_argument, NULL, 'g'},
		{"state", required_argument, NULL, 's'},
		{"expiring", required_argument, NULL, 'e'},
		{NULL, 0, NULL, 0},
	};
	static const char *const states[] = {"active", "suspended", "retired", "revoked",
					     "expired", "none"};
	const size_t nstates = sizeof(states) / sizeof(states[0]);
	char dym[128];
	long secs;
	size_t k;
	int c;

	while ((c = cli_opt(ctx, argc, argv, opts)) != -1) {
		if (c == 'j') {
			*json = true;
		} else if (!f) {
			return cli_usage_error(ctx, NULL);
		} else if (c == 'g') {
			if (!cli_name_ok("group", optarg))
				return CLI_USAGE;
			f->group = optarg;
		} else if (c == 's') {
			for (k = 0; k < nstates && strcmp(optarg, states[k]); k++)
				;
			if (k == nstates)
				return cli_usage_error(ctx, "invalid --state '%s': use active, suspended, "
						       "retired, revoked, expired or none%s", optarg,
						       cli_did_you_mean(optarg, states, nstates, "",
									dym, sizeof(dym)));
			f->state = states[k];
		} else if (c == 'e') {
			if (cli_parse_duration("--expiring", optarg, &secs))
				return CLI_USAGE;
			f->expiring_by = time(NULL) + secs;
		} else {
			return cli_usage_error(ctx, NULL);
		}
	}
	if (cli_operands(ctx, argc, argv, want_name, want_name, "device NAME"))
		return CLI_USAGE;
	if (want_name)
		*name = argv[optind];
	return CLI_OK;
}

struct devview_stream {
	const struct devview_filter *f;
	time_t now;
	bool first;
	bool bad; /* a time mq_time_format refuses: the element fails */
	struct mq_policy *p; /* holds one device at a time: its maps are reused */
	char err[512];
};

/* list --json writes its elements itself, byte for byte what
 * cJSON_PrintUnformatted makes of devview_device_json, without building
 * them: at a million devices the cJSON tree, its mallocs and strftime were
 * half of the time (issue 15: >= 200,000 devices/s streamed). */

/* The output buffer: stdio's per-call overhead was a third of what is
 * left once cJSON is gone. */
static char dvs_buf[1 << 16];
static size_t dvs_used;

static void dvs_flush(void)
{
	fwrite(dvs_buf, 1, dvs_used, stdout);
	dvs_used = 0;
}

static void dvs_put(const char *s, size_t n)
{
	if (dvs_used + n > sizeof(dvs_buf)) {
		dvs_flush();
		if (n > sizeof(dvs_buf)) {
			fwrite(s, 1, n, stdout);
			return;
		}
	}
	memcpy(dvs_buf + dvs_used, s, n);
	dvs_used += n;
}

static void dvs_putc(char c)
{
	if (dvs_used == sizeof(dvs_buf))
		dvs_flush();
	dvs_buf[dvs_used++] = c;
}

#define dvs_lit(s) dvs_put(s, sizeof(s) - 1)

/* A JSON string as cJSON writes it (UTF-8 as is; quote, backslash and
 * control characters escaped). */
static void dvs_str(const char *s)
{
	const char *run = s;

	dvs_putc('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		dvs_put(run, (size_t)(s - run));
		run = s + 1;
		dvs_putc('\\');
		switch (c) {
		case '"': dvs_putc('"'); break;
		case '\\': dvs_putc('\\'); break;
		case '\b': dvs_putc('b'); break;
		case '\f': dvs_putc('f'); break;
		case '\n': dvs_putc('n'); break;
		case '\r': dvs_putc('r'); break;
		case '\t': dvs_putc('t'); break;
		default: {
			char u[8];

			snprintf(u, sizeof(u), "u%04x", c);
			dvs_put(u, 5);
			break;
		}
		}
	}
	dvs_put(run, (size_t)(s - run));
	dvs_putc('"');
}

/* ,"key": then a string value. */
static void dvs_kv(const char *key, const char *v)
{
	dvs_putc(',');
	dvs_str(key);
	dvs_putc(':');
	dvs_str(v);
}

static void dvs_digits(char *out, long long v, int n)
{
	while (n-- > 0) {
		out[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* ,"key":"YYYY-MM-DDTHH:MM:SSZ" (mq_time_format's text and range: years
 * 1970 to 9999), computed without gmtime and strftime. */
static void dvs_time(struct devview_stream *x, const char *key, time_t t)
{
	char ts[MQ_TIME_LEN];
	long long days = (long long)t / 86400, sec = (long long)t % 86400, z, era, doe, yoe, y, doy,
		  mp, d, m;

	if (t < 0 || t > 253402300799LL) {
		x->bad = true;
		return;
	}
	/* Days to civil date (H. Hinnant's algorithm). */
	z = days + 719468;
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	memcpy(ts, "0000-00-00T00:00:00Z", MQ_TIME_LEN);
	dvs_digits(ts, y, 4);
	dvs_digits(ts + 5, m, 2);
	dvs_digits(ts + 8, d, 2);
	dvs_digits(ts + 11, sec / 3600, 2);
	dvs_digits(ts + 14, sec / 60 % 60, 2);
	dvs_digits(ts + 17, sec % 60, 2);
	dvs_kv(key, ts);
}

static void dvs_cert(struct devview_stream *x, const struct mq_cert *c)
{
	dvs_lit("{\"serial\":");
	dvs_str(c->serial);
	dvs_kv("fingerprint", c->fingerprint);
	dvs_time(x, "not_before", c->not_before);
	dvs_time(x, "not_after", c->not_after);
	dvs_kv("status", devview_status(c, x->now));
	if (c->status == MQ_CERT_REVOKED) {
		if (c->revoked_at)
			dvs_time(x, "revoked_at", c->revoked_at);
		if (c->revoke_reason)
			dvs_kv("reason", c->revoke_reason);
	}
	if (c->retired_at)
		dvs_time(x, "retired_at", c->retired_at);
	if (c->retire_reason)
		dvs_kv("retire_reason", c->retire_reason);
	dvs_putc('}');
}

/* devview_device_json(d), unformatted, onto stdout. */
static void dvs_device(struct devview_stream *x, const struct mq_device *d)
{
	const struct mq_cert *c = devview_newest(d);
	char n[32];

	dvs_lit("{\"name\":");
	dvs_str(d->name);
	dvs_kv("username", d->username);
	dvs_lit(",\"groups\":[");
	for (size_t i = 0; i < d->ngroups; i++) {
		if (i)
			dvs_putc(',');
		dvs_str(d->groups[i]);
	}
	dvs_putc(']');
	if (d->created)
		dvs_time(x, "created", d->created);
	if (d->suspended && d->suspended_at)
		dvs_time(x, "suspended_at", d->suspended_at);
	if (c) {
		dvs_kv("serial", c->serial);
		dvs_kv("fingerprint", c->fingerprint);
		dvs_time(x, "not_before", c->not_before);
		dvs_time(x, "not_after", c->not_after);
		dvs_lit(",\"days_left\":");
		dvs_put(n, (size_t)snprintf(n, sizeof(n), "%ld", out_days_left(c->not_after, x->now)));
	}
	dvs_kv("status", devview_status(c, x->now));
	dvs_lit(",\"certs\":[");
	for (size_t i = 0; i < d->ncerts; i++) {
		if (i)
			dvs_putc(',');
		dvs_cert(x, d->certs[i]);
	}
	dvs_lit("]}");
}

/* One element of list --json, straight from the store's cursor. */
static int devview_stream_one(void *arg, const char *name, const char *json, size_t len)
{
	struct devview_stream *x = arg;
	struct mq_device *d = !mq_policy_read_device_json(x->p, json, len, x->err, sizeof(x->err)) &&
			      x->p->ndevices ? x->p->devices[0] : NULL;
	bool want = d && devview_match(x->f, d, x->now);
	int rc = -1;

	if (!d) {
		size_t n = strlen(x->err);

		snprintf(x->err + n, sizeof(x->err) - n, " (record '%s')", name);
		goto out;
	}
	if (!want) {
		rc = 0;
		goto out;
	}
	dvs_put(x->first ? "[\n" : ",\n", 2);
	dvs_device(x, d);
	x->first = false;
	if (x->bad) {
		snprintf(x->err, sizeof(x->err), "device '%s': a time outside 1970-9999", name);
		goto out;
	}
	/* A write error (a closed pipe) stops the walk at the next flush. */
	rc = ferror(stdout) ? -1 : 0;
out:
	if (d)
		mq_policy_remove_device(x->p, d);
	return rc;
}

/* list --json: one device a line, streamed in name order from one read
 * transaction (memory does not grow with the fleet). */
static int devview_stream(struct store *st, const struct devview_filter *f, time_t now)
{
	struct devview_stream x = {.f = f, .now = now, .first = true, .p = mq_policy_new()};
	struct mq_store *db = store_db(st);

	if (!db || !x.p) {
		mq_policy_free(x.p);
		return -1;
	}
	if (mq_store_read_begin(db, x.err, sizeof(x.err)) ||
	    mq_store_devices_each(db, devview_stream_one, &x, x.err, sizeof(x.err))) {
		mq_store_read_end(db);
		mq_policy_free(x.p);
		dvs_flush();
		cli_err("cannot list the devices: %s", *x.err ? x.err : "write error");
		return -1;
	}
	mq_store_read_end(db);
	mq_policy_free(x.p);
	dvs_flush();
	fputs(x.first ? "[]\n" : "\n]\n", stdout);
	return cli_flush_stdout();
}

int cmd_device_list(struct cli_ctx *ctx, int argc, char **argv)
{
	struct store *st = NULL;
	struct devview_filter f = {0};
	time_t now = time(NULL);
	bool json = false;
	int rc = devview_parse(ctx, argc, argv, false, NULL, &json, &f);

	if (rc)
		return rc;
	rc = CLI_FAIL;
	if (!(st = cmdtab_pki(ctx)))
		goto out;
	if (json) {
		rc = devview_stream(st, &f, now) ? CLI_FAIL : CLI_OK;
		goto out;
	}
	/* The table sizes its columns from every row: the whole model. */
	if (store_load_policy(st))
		goto out;
	rc = devview_table(st->policy, &f, now) ? CLI_FAIL : CLI_OK;
out:
	return rc;
}

int cmd_device_show(struct cli_ctx *ctx, int argc, char **argv)
{
	struct store *st = NULL;
	const struct mq_device *d;
	const struct mq_deleted *gone;
	const char *name = NULL;
	cJSON *o = NULL;
	bool json = false;
	int rc = devview_parse(ctx, argc, argv, true, &name, &json, NULL);

	if (rc)
		return rc;
	rc = CLI_FAIL;
	/* O(change): the one record and the deleted list. */
	if (!cli_name_ok("device", name) || !(st = cmdtab_pki(ctx)) ||
	    store_load_devices(st, &name, 1))
		goto out;
	d = mq_policy_find_device(st->policy, name);
	gone = d ? NULL : mq_policy_find_deleted(st->policy, name);
	if (gone) {
		cli_err("device '%s' was deleted ('mqadmin device delete')%s%s%s%s", name,
			gone->archive ? "; its files are in " : "", gone->archive ? st->dir : "",
			gone->archive ? "/" : "", gone->archive ? gone->archive : "");
		goto out;
	}
	if (!d) {
		cli_err("no device '%s' in %s; see 'mqadmin device list'", name, st->dir);
		goto out;
	}
	if (json) {
		o = devview_device_json(d, time(NULL));
		rc = out_json(o) ? CLI_FAIL : CLI_OK;
	} else {
		devview_human(d, time(NULL));
		rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
	}
out:
	cJSON_Delete(o);
	return rc;
}
