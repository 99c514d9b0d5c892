/* device list and device show: the policy's devices for humans and JSON. */
#include "cmds.h"

#include "mq_policy.h"
#include "mq_time.h"
#include "store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static const struct mq_cert *devview_newest(const struct mq_device *d)
{
	return d->ncerts ? d->certs[d->ncerts - 1] : NULL;
}

static const char *devview_status(const struct mq_cert *c, time_t now)
{
	enum mq_cert_state s;

	if (!c)
		return "none";
	s = mq_cert_state(c, now);
	/* notBefore lies ISSUE_SKEW in the past: "not yet valid" only
	 * shows a clock problem, and the cert is still the live one. */
	return mq_cert_state_str(s == MQ_STATE_NOT_YET_VALID ? MQ_STATE_ACTIVE : s);
}

static long devview_days_left(const struct mq_cert *c, time_t now)
{
	long long d = (long long)c->not_after - (long long)now;

	return (long)(d >= 0 ? d / 86400 : -((-d + 86399) / 86400));
}

static bool devview_add_time(cJSON *o, const char *key, time_t t)
{
	char ts[MQ_TIME_LEN];

	return !mq_time_format(t, ts) && cJSON_AddStringToObject(o, key, ts);
}

static cJSON *devview_cert_json(const struct mq_cert *c, time_t now)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "serial", c->serial) ||
	    !cJSON_AddStringToObject(o, "fingerprint", c->fingerprint) ||
	    !devview_add_time(o, "not_before", c->not_before) ||
	    !devview_add_time(o, "not_after", c->not_after) ||
	    !cJSON_AddStringToObject(o, "status", devview_status(c, now)))
		goto fail;
	if (c->status == MQ_CERT_REVOKED) {
		if (c->revoked_at && !devview_add_time(o, "revoked_at", c->revoked_at))
			goto fail;
		if (c->revoke_reason && !cJSON_AddStringToObject(o, "reason", c->revoke_reason))
			goto fail;
	}
	if ((c->retired_at && !devview_add_time(o, "retired_at", c->retired_at)) ||
	    (c->retire_reason && !cJSON_AddStringToObject(o, "retire_reason", c->retire_reason)))
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
	if (d->created && !devview_add_time(o, "created", d->created))
		goto fail;
	if (d->suspended && d->suspended_at && !devview_add_time(o, "suspended_at", d->suspended_at))
		goto fail;
	if (c && (!cJSON_AddStringToObject(o, "serial", c->serial) ||
		  !cJSON_AddStringToObject(o, "fingerprint", c->fingerprint) ||
		  !devview_add_time(o, "not_before", c->not_before) ||
		  !devview_add_time(o, "not_after", c->not_after) ||
		  !cJSON_AddNumberToObject(o, "days_left", (double)devview_days_left(c, now))))
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

/* Prints one JSON document (and a newline). 0 or -1. */
static int devview_print_json(cJSON *doc)
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
		cli_expiry_str(c->not_after, now, buf, len);
}

static int devview_table(const struct mq_policy *p, time_t now)
{
	static const char *const head[] = {"NAME", "USERNAME", "GROUPS", "STATUS", "EXPIRES", "SERIAL"};
	size_t w[5];
	char exp[48];

	for (size_t k = 0; k < 5; k++)
		w[k] = strlen(head[k]);
	for (size_t i = 0; i < p->ndevices; i++) {
		const struct mq_device *d = p->devices[i];
		char *g = devview_groups(d);

		if (!g)
			return -1;
		devview_expiry(devview_newest(d), now, exp, sizeof(exp));
		if (strlen(d->name) > w[0])
			w[0] = strlen(d->name);
		if (strlen(d->username) > w[1])
			w[1] = strlen(d->username);
		if (strlen(g) > w[2])
			w[2] = strlen(g);
		if (strlen(devview_status(devview_newest(d), now)) > w[3])
			w[3] = strlen(devview_status(devview_newest(d), now));
		if (strlen(exp) > w[4])
			w[4] = strlen(exp);
		free(g);
	}
	printf("%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], head[0], (int)w[1], head[1],
	       (int)w[2], head[2], (int)w[3], head[3], (int)w[4], head[4], head[5]);
	for (size_t i = 0; i < p->ndevices; i++) {
		const struct mq_device *d = p->devices[i];
		const struct mq_cert *c = devview_newest(d);
		char *g = devview_groups(d);

		if (!g)
			return -1;
		devview_expiry(c, now, exp, sizeof(exp));
		printf("%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], d->name, (int)w[1],
		       d->username, (int)w[2], g, (int)w[3], devview_status(c, now), (int)w[4], exp,
		       c ? c->serial : "-");
		free(g);
	}
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

/* Parses [NAME] [--json] for list (want_name false) and show (true). */
static int devview_parse(struct cli_ctx *ctx, int argc, char **argv, bool want_name,
			 const char **name, bool *json)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 0;
	while ((c = cli_getopt(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_usage_error(ctx, NULL);
		*json = true;
	}
	if (want_name) {
		if (optind >= argc)
			return cli_usage_error(ctx, "missing device NAME");
		*name = argv[optind++];
	}
	if (optind != argc)
		return cli_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	return CLI_OK;
}

struct devview_stream {
	time_t now;
	bool first;
	struct mq_policy *p; /* holds one device at a time: its maps are reused */
	char err[512];
};

/* One element of list --json, straight from the store's cursor. */
static int devview_stream_one(void *arg, const char *name, const char *json, size_t len)
{
	struct devview_stream *x = arg;
	struct mq_device *d = !mq_policy_read_device_json(x->p, json, len, x->err, sizeof(x->err)) &&
			      x->p->ndevices ? x->p->devices[0] : NULL;
	cJSON *o = d ? devview_device_json(d, x->now) : NULL;
	char *text = o ? cJSON_PrintUnformatted(o) : NULL;
	int rc = -1;

	if (!d) {
		size_t n = strlen(x->err);

		snprintf(x->err + n, sizeof(x->err) - n, " (record '%s')", name);
		goto out;
	}
	if (!text) {
		snprintf(x->err, sizeof(x->err), "out of memory");
		goto out;
	}
	fputs(x->first ? "[\n" : ",\n", stdout);
	fputs(text, stdout);
	x->first = false;
	rc = ferror(stdout) ? -1 : 0;
out:
	cJSON_free(text);
	cJSON_Delete(o);
	if (d)
		mq_policy_remove_device(x->p, d);
	return rc;
}

/* list --json: one device a line, streamed in name order from one read
 * transaction (memory does not grow with the fleet). */
static int devview_stream(struct store *st, time_t now)
{
	struct devview_stream x = {.now = now, .first = true, .p = mq_policy_new()};
	struct mq_store *db = store_db(st);

	if (!db || !x.p) {
		mq_policy_free(x.p);
		return -1;
	}
	if (mq_store_read_begin(db, x.err, sizeof(x.err)) ||
	    mq_store_devices_each(db, devview_stream_one, &x, x.err, sizeof(x.err))) {
		mq_store_read_end(db);
		mq_policy_free(x.p);
		cli_err("cannot list the devices: %s", *x.err ? x.err : "write error");
		return -1;
	}
	mq_store_read_end(db);
	mq_policy_free(x.p);
	fputs(x.first ? "[]\n" : "\n]\n", stdout);
	return cli_flush_stdout();
}

int cmd_device_list(struct cli_ctx *ctx, int argc, char **argv)
{
	struct store st = {.lockfd = -1};
	time_t now = time(NULL);
	bool json = false;
	int rc = devview_parse(ctx, argc, argv, false, NULL, &json);

	if (rc)
		return rc;
	rc = CLI_FAIL;
	if (store_open(&st, ctx->dir, STORE_READ))
		goto out;
	if (json) {
		rc = devview_stream(&st, now) ? CLI_FAIL : CLI_OK;
		goto out;
	}
	/* The table sizes its columns from every row: the whole model. */
	if (store_load_policy(&st))
		goto out;
	rc = devview_table(st.policy, now) ? CLI_FAIL : CLI_OK;
out:
	if (st.dir)
		store_close(&st);
	return rc;
}

int cmd_device_show(struct cli_ctx *ctx, int argc, char **argv)
{
	struct store st = {.lockfd = -1};
	const struct mq_device *d;
	const struct mq_deleted *gone;
	const char *name = NULL;
	cJSON *o = NULL;
	bool json = false;
	int rc = devview_parse(ctx, argc, argv, true, &name, &json);

	if (rc)
		return rc;
	rc = CLI_FAIL;
	/* O(change): the one record and the deleted list. */
	if (!cli_name_ok("device", name) || store_open(&st, ctx->dir, STORE_READ) ||
	    store_load_devices(&st, &name, 1))
		goto out;
	d = mq_policy_find_device(st.policy, name);
	gone = d ? NULL : mq_policy_find_deleted(st.policy, name);
	if (gone) {
		cli_err("device '%s' was deleted ('mqadmin device delete')%s%s%s%s", name,
			gone->archive ? "; its files are in " : "", gone->archive ? st.dir : "",
			gone->archive ? "/" : "", gone->archive ? gone->archive : "");
		goto out;
	}
	if (!d) {
		cli_err("no device '%s' in %s; see 'mqadmin device list'", name, st.dir);
		goto out;
	}
	if (json) {
		o = devview_device_json(d, time(NULL));
		rc = devview_print_json(o) ? CLI_FAIL : CLI_OK;
	} else {
		devview_human(d, time(NULL));
		rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
	}
out:
	cJSON_Delete(o);
	if (st.dir)
		store_close(&st);
	return rc;
}
