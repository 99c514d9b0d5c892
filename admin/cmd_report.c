/* mqadmin report: one self-contained HTML page about the fleet, from the
 * policy and the plugin's audit log: certificate expiry ahead, connects,
 * refusals and ACL denials over time, devices by group and state, devices
 * never or long not seen, suspected clones. Read-only but for the page. */
#include "cmds.h"
#include "out.h"

#include "mq_fileio.h"
#include "mq_strmap.h"
#include "mq_time.h"
#include "report_html.h"
#include "report_log.h"
#include "store.h"
#include "sync.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define DAY 86400L
/* Distinct refusal reasons, clones and brokers kept by name; more are
 * counted under "other". */
#define REP_NAMED_MAX 200
/* Rows of the never-seen and stale device lists (the counts are exact). */
#define REP_LIST_MAX 500
#define REP_BUCKETS_MAX 120

enum rep_kind { REP_CONNECT, REP_REFUSED, REP_DENIED, REP_NKINDS };

struct rep_event {
	time_t ts;
	unsigned char kind;
	unsigned long count;
};

/* A name with a count: refusal reasons, broker instances. */
struct rep_named {
	char *name;
	unsigned long count;
};

struct rep_clone {
	char *device, *serial, *kind, *addresses;
	unsigned long count;
	time_t last;
};

struct rep {
	const struct mq_policy *p;
	time_t now, since, stale;
	struct rep_event *ev;
	size_t nev, capev;
	unsigned long total[REP_NKINDS];
	time_t *last_seen; /* per policy device; 0: never */
	struct mq_strmap by_name; /* device name -> its index + 1 */
	struct rep_named reasons[REP_NAMED_MAX + 1], brokers[REP_NAMED_MAX + 1];
	size_t nreasons, nbrokers;
	struct rep_clone clones[REP_NAMED_MAX];
	size_t nclones;
	unsigned long clone_events, logs_read, bad;
};

/* Counts name in list (n entries, at most REP_NAMED_MAX named, then
 * "other"). 0 or -1 (out of memory). */
static int rep_count(struct rep_named *list, size_t *n, const char *name)
{
	size_t i;

	if (!name)
		name = "?";
	for (i = 0; i < *n; i++)
		if (!strcmp(list[i].name, name))
			break;
	if (i == *n) {
		if (*n >= REP_NAMED_MAX) {
			i = REP_NAMED_MAX; /* the last slot: "other" */
			name = "other";
		}
		if (!list[i].name && !(list[i].name = strdup(name)))
			return -1;
		if (i >= *n)
			*n = i + 1;
	}
	list[i].count++;
	return 0;
}

static int rep_add_event(struct rep *r, time_t ts, enum rep_kind kind, unsigned long count)
{
	if (r->nev == r->capev) {
		size_t cap = r->capev ? r->capev * 2 : 1024;
		struct rep_event *e = realloc(r->ev, cap * sizeof(*e));

		if (!e)
			return -1;
		r->ev = e;
		r->capev = cap;
	}
	r->ev[r->nev++] = (struct rep_event){ts, (unsigned char)kind, count};
	r->total[kind] += count;
	return 0;
}

static void rep_seen(struct rep *r, const char *device, time_t ts)
{
	void *v = device ? mq_strmap_get(&r->by_name, device) : NULL;
	size_t i = (size_t)(uintptr_t)v;

	if (i && r->last_seen[i - 1] < ts)
		r->last_seen[i - 1] = ts;
}

static int rep_clone(struct rep *r, const cJSON *o, time_t ts)
{
	const char *dev = report_log_str(o, "device", "?");
	const cJSON *ad;
	struct rep_clone *c = NULL;
	char addrs[512] = "";

	r->clone_events++;
	cJSON_ArrayForEach(ad, cJSON_GetObjectItemCaseSensitive(o, "addresses"))
		if (cJSON_IsString(ad) && strlen(addrs) + strlen(ad->valuestring) + 3 < sizeof(addrs))
			snprintf(addrs + strlen(addrs), sizeof(addrs) - strlen(addrs), "%s%s",
				 addrs[0] ? ", " : "", ad->valuestring);
	for (size_t i = 0; i < r->nclones && !c; i++)
		if (!strcmp(r->clones[i].device, dev) && !strcmp(r->clones[i].addresses, addrs))
			c = &r->clones[i];
	if (!c) {
		if (r->nclones == REP_NAMED_MAX)
			return 0;
		c = &r->clones[r->nclones];
		if (!(c->device = strdup(dev)) ||
		    !(c->serial = strdup(report_log_str(o, "serial", "-"))) ||
		    !(c->kind = strdup(report_log_str(o, "kind", "-"))) ||
		    !(c->addresses = strdup(addrs)))
			return -1;
		r->nclones++;
	}
	c->count++;
	if (ts > c->last)
		c->last = ts;
	return 0;
}

/* One audit line's contribution. 0 or -1 (out of memory). */
static int rep_line(struct rep *r, const cJSON *o, time_t ts)
{
	const char *ev = report_log_str(o, "event", NULL);

	/* A refused device still reached the broker: it is alive. */
	if (!strcmp(ev, "connect") || !strcmp(ev, "disconnect") || !strcmp(ev, "refused"))
		rep_seen(r, report_log_str(o, "device", NULL), ts);
	if (r->since && ts < r->since)
		return 0;
	if (rep_count(r->brokers, &r->nbrokers, report_log_str(o, "broker", NULL)))
		return -1;
	if (!strcmp(ev, "connect"))
		return rep_add_event(r, ts, REP_CONNECT, 1);
	if (!strcmp(ev, "refused"))
		return rep_add_event(r, ts, REP_REFUSED, 1) ||
		       rep_count(r->reasons, &r->nreasons, report_log_str(o, "reason", NULL)) ? -1 : 0;
	if (!strcmp(ev, "acl_denied"))
		return rep_add_event(r, ts, REP_DENIED, 1);
	/* Denials the plugin counted but did not log one by one. */
	if (!strcmp(ev, "acl_denied_suppressed")) {
		double n = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "count"));

		return n >= 1 && n < 1e12 ? rep_add_event(r, ts, REP_DENIED, (unsigned long)n) : 0;
	}
	if (!strcmp(ev, "clone"))
		return rep_clone(r, o, ts);
	return 0;
}

/* Reads one audit log (missing: 1, nothing read). 0, 1, or -1 after
 * saying why. */
static int rep_read_log(struct rep *r, const char *path)
{
	struct report_log lg = {.fd = -1};
	char *line, e[CLI_ESCAPE_SIZE(PATH_MAX)];
	size_t n;
	int got, rc = -1;

	cli_escape(e, sizeof(e), path);
	if (report_log_open(&lg, path)) {
		if (errno == ENOENT)
			return 1;
		cli_err("cannot read the audit log %s: %s", e,
			errno == EINVAL ? "not a regular file" : strerror(errno));
		return -1;
	}
	while ((got = report_log_next(&lg, true, &line, &n)) > 0) {
		time_t ts;
		cJSON *o = report_log_parse(&lg, line, n, &ts);

		if (!o)
			continue;
		got = rep_line(r, o, ts);
		cJSON_Delete(o);
		if (got) {
			cli_err("out of memory");
			goto out;
		}
	}
	if (got < 0) {
		cli_err("cannot read the audit log %s: %s", e, strerror(errno));
		goto out;
	}
	r->bad += lg.bad;
	r->logs_read++;
	rc = 0;
out:
	report_log_close(&lg);
	return rc;
}

/* ---- the page ------------------------------------------------------------------ */

static const char rep_css[] =
	"body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
	"margin:24px;color:#1d2330;background:#fff}"
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;"
	"border-bottom:1px solid #d6dbe4;padding-bottom:4px}"
	".meta{color:#5b6475;margin:0 0 16px}"
	"dl.sum{display:flex;flex-wrap:wrap;gap:10px;margin:0}"
	"dl.sum div{border:1px solid #d6dbe4;border-radius:6px;padding:8px 14px;min-width:110px}"
	"dl.sum dt{color:#5b6475;font-size:12px}dl.sum dd{margin:0;font-size:22px;font-weight:600}"
	"figure{margin:0 0 18px}figcaption{font-weight:600;margin:0 0 6px}"
	".pair{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}"
	".numbers{max-height:230px;overflow:auto}"
	"table{border-collapse:collapse;font-size:12px}"
	"th,td{padding:2px 8px;border-bottom:1px solid #eceff4;text-align:left}"
	"td[data-value]{text-align:right;font-variant-numeric:tabular-nums}"
	"tfoot th,tfoot td{font-weight:600;border-top:1px solid #9aa3b2}"
	"svg.chart{background:#fafbfc;border:1px solid #eceff4;border-radius:4px}"
	"svg .grid{stroke:#e3e7ee}svg .axis{stroke:#9aa3b2}"
	"svg text{font-size:10px;fill:#5b6475}svg .ytick{text-anchor:end}"
	"svg .xtick{text-anchor:end}svg .legend{font-size:11px}"
	".note{color:#5b6475;font-size:12px}.warn{color:#a33}";

static void rep_summary_item(struct report_html *h, const char *id, const char *what,
			     unsigned long v)
{
	report_html_printf(h, "<div><dt>%s</dt><dd id=\"%s\" data-value=\"%lu\">%lu</dd></div>\n", what,
		     id, v, v);
}

static void rep_time(struct report_html *h, time_t t)
{
	char ts[MQ_TIME_LEN];

	report_html_printf(h, "%s", t && !mq_time_format(t, ts) ? ts : "never");
}

static const char *rep_state(const struct mq_device *d, time_t now)
{
	const struct mq_cert *c = d->ncerts ? d->certs[d->ncerts - 1] : NULL;
	enum mq_cert_state s;

	if (!c)
		return "none";
	s = mq_cert_state(c, now);
	return mq_cert_state_str(s == MQ_STATE_NOT_YET_VALID ? MQ_STATE_ACTIVE : s);
}

/* The timeline: connects, refusals and denials per day (per week or 30
 * days over a long span). */
static int rep_timeline(struct report_html *h, const struct rep *r)
{
	static const char *const names[] = {"connects", "refused", "acl_denied"};
	static const char *const colors[] = {"#3b7dd8", "#d8573b", "#e0a526"};
	time_t first = r->since, step = DAY;
	size_t n;
	unsigned long *v = NULL;
	char (*lab)[24] = NULL;
	const char **labels = NULL;
	struct report_html_series s[REP_NKINDS];
	int rc = -1;

	for (size_t i = 0; i < r->nev; i++)
		if (!first || r->ev[i].ts < first)
			first = r->ev[i].ts;
	if (!first || first > r->now)
		first = r->now;
	first -= first % DAY;
	while ((size_t)((r->now - first) / step) + 1 > REP_BUCKETS_MAX)
		step = step == DAY ? 7 * DAY : step * 2;
	n = (size_t)((r->now - first) / step) + 1;
	if (!(v = calloc(n * REP_NKINDS, sizeof(*v))) || !(lab = calloc(n, sizeof(*lab))) ||
	    !(labels = calloc(n, sizeof(*labels))))
		goto out;
	for (size_t i = 0; i < r->nev; i++) {
		size_t b = r->ev[i].ts < first ? 0 : (size_t)((r->ev[i].ts - first) / step);

		if (b < n)
			v[r->ev[i].kind * n + b] += r->ev[i].count;
	}
	for (size_t i = 0; i < n; i++) {
		time_t t = first + (time_t)i * step;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(lab[i], sizeof(lab[i]), "%Y-%m-%d", &tm);
		labels[i] = lab[i];
	}
	for (int k = 0; k < REP_NKINDS; k++)
		s[k] = (struct report_html_series){names[k], colors[k], v + (size_t)k * n};
	report_html_printf(h, "<h2>Connects, refusals and ACL denials</h2>\n<p class=\"note\">Per %s "
		     "(UTC), from the audit log of every broker instance; a row is the %s "
		     "starting that day. ACL denials include those the plugin counted without "
		     "logging each (acl_denied_suppressed).</p>\n",
		     step == DAY ? "day" : step == 7 * DAY ? "week" : "period",
		     step == DAY ? "day" : "period");
	report_html_chart(h, "timeline", "Events over time", labels, n, s, REP_NKINDS);
	rc = 0;
out:
	free(v);
	free(lab);
	free(labels);
	return rc;
}

static void rep_expiry(struct report_html *h, const struct rep *r)
{
	enum { WEEKS = 12, MONTHS = 12 };
	unsigned long wv[WEEKS + 2] = {0}, mv[MONTHS + 2] = {0};
	char wl[WEEKS + 2][24], ml[MONTHS + 2][24];
	const char *wlab[WEEKS + 2], *mlab[MONTHS + 2];
	struct report_html_series ws = {"certificates", "#6a4fc9", wv};
	struct report_html_series ms = {"certificates", "#6a4fc9", mv};
	int y, m;
	struct tm tm;

	gmtime_r(&r->now, &tm);
	y = tm.tm_year + 1900;
	m = tm.tm_mon;
	snprintf(wl[0], sizeof(wl[0]), "expired");
	snprintf(ml[0], sizeof(ml[0]), "expired");
	for (int i = 1; i <= WEEKS; i++) {
		time_t t = r->now + (time_t)(i - 1) * 7 * DAY;
		struct tm w;

		gmtime_r(&t, &w);
		strftime(wl[i], sizeof(wl[i]), "wk %m-%d", &w);
	}
	snprintf(wl[WEEKS + 1], sizeof(wl[0]), "later");
	for (int i = 1; i <= MONTHS; i++)
		snprintf(ml[i], sizeof(ml[i]), "%04d-%02d", y + (m + i - 1) / 12, (m + i - 1) % 12 + 1);
	snprintf(ml[MONTHS + 1], sizeof(ml[0]), "later");
	for (size_t i = 0; i < r->p->ndevices; i++) {
		const struct mq_cert *c = mq_device_cert_in_use(r->p->devices[i], r->now);
		struct tm e;
		long months;

		if (!c)
			continue;
		if (c->not_after <= r->now) {
			wv[0]++;
			mv[0]++;
			continue;
		}
		wv[(c->not_after - r->now) / (7 * DAY) < WEEKS ? 1 + (c->not_after - r->now) / (7 * DAY)
							       : WEEKS + 1]++;
		gmtime_r(&c->not_after, &e);
		months = ((long)e.tm_year + 1900 - y) * 12 + e.tm_mon - m;
		mv[months < MONTHS ? 1 + months : MONTHS + 1]++;
	}
	for (int i = 0; i < WEEKS + 2; i++)
		wlab[i] = wl[i];
	for (int i = 0; i < MONTHS + 2; i++)
		mlab[i] = ml[i];
	report_html_printf(h, "<h2>Certificate expiry ahead</h2>\n<p class=\"note\">Each device's "
		     "newest certificate that is neither revoked nor retired, by when it "
		     "ends.</p>\n");
	report_html_chart(h, "expiry-weeks", "Per week, the next 12 weeks", wlab, WEEKS + 2, &ws, 1);
	report_html_chart(h, "expiry-months", "Per calendar month, the next 12 months", mlab, MONTHS + 2,
		    &ms, 1);
}

static int rep_groups_states(struct report_html *h, const struct rep *r)
{
	static const char *const states[] = {"active", "suspended", "retired", "revoked",
					     "expired", "none"};
	enum { NSTATES = sizeof(states) / sizeof(states[0]) };
	unsigned long sv[NSTATES] = {0}, *gv = NULL;
	const char **gl = NULL;
	size_t ng = 0, cap = 0;
	struct report_html_series ss = {"devices", "#2f9e6e", sv}, gs = {"devices", "#2f9e6e", NULL};
	int rc = -1;

	for (size_t i = 0; i < r->p->ndevices; i++) {
		const struct mq_device *d = r->p->devices[i];
		const char *st = rep_state(d, r->now);

		for (size_t k = 0; k < NSTATES; k++)
			if (!strcmp(st, states[k]))
				sv[k]++;
		for (size_t g = 0; g < (d->ngroups ? d->ngroups : 1); g++) {
			const char *name = d->ngroups ? d->groups[g] : "(no group)";
			size_t k;

			for (k = 0; k < ng && strcmp(gl[k], name); k++)
				;
			if (k == ng) {
				if (ng == cap) {
					size_t nc = cap ? cap * 2 : 16;
					const char **l = realloc(gl, nc * sizeof(*l));
					unsigned long *v = l ? realloc(gv, nc * sizeof(*v)) : NULL;

					if (l)
						gl = l;
					if (!v)
						goto out;
					gv = v;
					cap = nc;
				}
				gl[ng] = name;
				gv[ng++] = 0;
			}
			gv[k]++;
		}
	}
	gs.v = gv;
	report_html_printf(h, "<h2>Devices by state and by group</h2>\n<p class=\"note\">The state of "
		     "a device's newest certificate, as 'mqadmin device list' shows it. A device "
		     "in several groups counts in each.</p>\n");
	report_html_chart(h, "states", "By state", states, NSTATES, &ss, 1);
	report_html_chart(h, "groups", "By group", gl, ng, &gs, 1);
	rc = 0;
out:
	free(gl);
	free(gv);
	return rc;
}

static void rep_device_row(struct report_html *h, const struct rep *r, size_t i)
{
	const struct mq_device *d = r->p->devices[i];

	report_html_printf(h, "<tr data-device=\"");
	report_html_esc(h, d->name);
	report_html_printf(h, "\"><td>");
	report_html_esc(h, d->name);
	report_html_printf(h, "</td><td>");
	for (size_t g = 0; g < d->ngroups; g++) {
		report_html_printf(h, "%s", g ? "," : "");
		report_html_esc(h, d->groups[g]);
	}
	report_html_printf(h, "</td><td>%s</td><td>", rep_state(d, r->now));
	rep_time(h, r->last_seen[i]);
	report_html_printf(h, "</td></tr>\n");
}

static void rep_seen_section(struct report_html *h, const struct rep *r, const char *stale_txt,
			     unsigned long *never, unsigned long *stale)
{
	unsigned long v[3] = {0};
	const char *labels[] = {"seen recently", "not seen lately", "never seen"};
	struct report_html_series s = {"devices", "#3b7dd8", v};
	size_t shown;

	for (size_t i = 0; i < r->p->ndevices; i++)
		v[!r->last_seen[i] ? 2 : r->last_seen[i] < r->now - r->stale ? 1 : 0]++;
	*stale = v[1];
	*never = v[2];
	report_html_printf(h, "<h2>Devices never seen, and not seen for %s</h2>\n<p class=\"note\">Last "
		     "seen: the newest connect, disconnect or refused connect of the device in "
		     "the audit logs read.</p>\n", stale_txt);
	report_html_chart(h, "seen", "Last seen", labels, 3, &s, 1);
	for (int which = 2; which >= 1; which--) {
		report_html_printf(h, "<h3>%s</h3>\n<table id=\"%s-list\"><thead><tr><th>device</th>"
			     "<th>groups</th><th>state</th><th>last seen</th></tr></thead><tbody>\n",
			     which == 2 ? "Never seen" : "Not seen lately",
			     which == 2 ? "never" : "stale");
		shown = 0;
		for (size_t i = 0; i < r->p->ndevices && shown < REP_LIST_MAX; i++) {
			int w = !r->last_seen[i] ? 2 : r->last_seen[i] < r->now - r->stale ? 1 : 0;

			if (w == which) {
				rep_device_row(h, r, i);
				shown++;
			}
		}
		report_html_printf(h, "</tbody></table>\n");
		if (v[which] > shown)
			report_html_printf(h, "<p class=\"note\">%lu more not listed.</p>\n", v[which] - shown);
	}
}

static void rep_named_table(struct report_html *h, const char *id, const char *head,
			    const struct rep_named *list, size_t n)
{
	report_html_printf(h, "<table id=\"%s\"><thead><tr><th>%s</th><th>events</th></tr></thead>"
		     "<tbody>\n", id, head);
	for (size_t i = 0; i <= n && i <= REP_NAMED_MAX; i++) {
		if (!list[i].name)
			continue;
		report_html_printf(h, "<tr data-label=\"");
		report_html_esc(h, list[i].name);
		report_html_printf(h, "\"><td>");
		report_html_esc(h, list[i].name);
		report_html_printf(h, "</td><td data-value=\"%lu\">%lu</td></tr>\n", list[i].count,
			     list[i].count);
	}
	report_html_printf(h, "</tbody></table>\n");
}

static void rep_clones(struct report_html *h, const struct rep *r)
{
	report_html_printf(h, "<h2>Suspected clones</h2>\n<p class=\"note\">The same certificate seen "
		     "from several addresses at once (clone events of the audit log). If the "
		     "device was not moved: 'mqadmin device revoke NAME' and a new key.</p>\n"
		     "<table id=\"clones\"><thead><tr><th>device</th><th>serial</th><th>kind</th>"
		     "<th>addresses</th><th>events</th><th>last</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < r->nclones; i++) {
		const struct rep_clone *c = &r->clones[i];

		report_html_printf(h, "<tr data-device=\"");
		report_html_esc(h, c->device);
		report_html_printf(h, "\"><td>");
		report_html_esc(h, c->device);
		report_html_printf(h, "</td><td>");
		report_html_esc(h, c->serial);
		report_html_printf(h, "</td><td>");
		report_html_esc(h, c->kind);
		report_html_printf(h, "</td><td>");
		report_html_esc(h, c->addresses);
		report_html_printf(h, "</td><td data-value=\"%lu\">%lu</td><td>", c->count, c->count);
		rep_time(h, c->last);
		report_html_printf(h, "</td></tr>\n");
	}
	if (!r->nclones)
		report_html_printf(h, "<tr><td colspan=\"6\">none</td></tr>\n");
	report_html_printf(h, "</tbody></table>\n");
}

/* A broker whose 'mqadmin sync' cannot reach etcd (its status file,
 * DIR/audit/sync-INSTANCE.json): the fleet's changes do not reach it. */
static void rep_sync_down(void *arg, const char *instance, const struct sync_status *ss)
{
	struct report_html *h = arg;

	if (ss->up)
		return;
	report_html_printf(h, "<p class=\"warn\" data-sync=\"");
	report_html_esc(h, instance);
	report_html_printf(h, "\">Broker <code>");
	report_html_esc(h, instance);
	report_html_printf(h, "</code>: etcd unreachable since ");
	report_html_esc(h, ss->down_since[0] ? ss->down_since : "?");
	report_html_printf(h, " (its sync's status file); it enforces the policy it applied last "
		     "(etcd revision %llu).</p>\n", (unsigned long long)ss->applied_rev);
}

static int rep_page(struct report_html *h, struct rep *r, const char *dir, const char *stale_txt,
		    unsigned long *never, unsigned long *stale)
{
	struct report_html body = {0};
	int rc;

	report_html_printf(&body, "<h2>Connects refused, by reason</h2>\n");
	rep_named_table(&body, "reasons", "reason", r->reasons, r->nreasons);
	report_html_printf(&body, "<h2>Events by broker instance</h2>\n");
	rep_named_table(&body, "brokers", "broker", r->brokers, r->nbrokers);
	rep_seen_section(&body, r, stale_txt, never, stale);
	rep_clones(&body, r);
	report_html_printf(h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		     "<meta name=\"viewport\" content=\"width=device-width\">\n"
		     "<title>mqcert report</title>\n<style>%s</style>\n</head><body>\n"
		     "<h1>mqcert fleet report</h1>\n<p class=\"meta\">PKI directory <code>", rep_css);
	report_html_esc(h, dir);
	report_html_printf(h, "</code>, policy generation %lu, made <time id=\"generated\">",
		     r->p->generation);
	rep_time(h, r->now);
	report_html_printf(h, "</time>; events since ");
	if (r->since)
		rep_time(h, r->since);
	else
		report_html_printf(h, "the start of the log");
	report_html_printf(h, ", from %lu audit log file%s.</p>\n<dl class=\"sum\">\n", r->logs_read,
		     r->logs_read == 1 ? "" : "s");
	rep_summary_item(h, "sum-devices", "devices", r->p->ndevices);
	rep_summary_item(h, "sum-connects", "connects", r->total[REP_CONNECT]);
	rep_summary_item(h, "sum-refused", "refused", r->total[REP_REFUSED]);
	rep_summary_item(h, "sum-acl-denied", "ACL denials", r->total[REP_DENIED]);
	rep_summary_item(h, "sum-clones", "suspected clones", r->nclones);
	rep_summary_item(h, "sum-never-seen", "never seen", *never);
	rep_summary_item(h, "sum-stale", "not seen lately", *stale);
	report_html_printf(h, "</dl>\n");
	if (r->bad)
		report_html_printf(h, "<p class=\"warn\">%lu malformed audit line%s skipped.</p>\n", r->bad,
			     r->bad == 1 ? "" : "s");
	sync_statuses_each(dir, rep_sync_down, h);
	rep_expiry(h, r);
	rc = rep_timeline(h, r);
	if (!rc)
		rc = rep_groups_states(h, r);
	report_html_printf(h, "%s</body></html>\n", body.s ? body.s : "");
	if (body.oom)
		h->oom = true;
	report_html_free(&body);
	return rc || h->oom ? -1 : 0;
}

int cmd_report(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"html", required_argument, NULL, 'H'},
		{"since", required_argument, NULL, 's'},
		{"stale", required_argument, NULL, 'S'},
		{NULL, 0, NULL, 0},
	};
	struct store *st = NULL;
	struct rep r = {.now = time(NULL), .stale = 30 * DAY};
	struct report_html h = {0};
	const char *out = NULL, *stale_txt = "30d";
	char *log = NULL, *log1 = NULL, err[PATH_MAX + 256], e[CLI_ESCAPE_SIZE(PATH_MAX)];
	unsigned long never = 0, stale = 0;
	int c, rc, got0, got1;

	while ((c = cli_opt(ctx, argc, argv, opts)) != -1) {
		if (c == 'H') {
			out = optarg;
		} else if (c == 's') {
			if (cli_parse_since(ctx, optarg, r.now, &r.since))
				return CLI_USAGE;
		} else if (c == 'S') {
			if (cli_parse_duration("--stale", optarg, &r.stale))
				return CLI_USAGE;
			stale_txt = optarg;
		} else {
			return cli_usage_error(ctx, NULL);
		}
	}
	if (cli_operands(ctx, argc, argv, 0, 0, NULL))
		return CLI_USAGE;
	if (!out)
		return cli_usage_error(ctx, "missing --html FILE: where to write the page");
	rc = CLI_FAIL;
	mq_strmap_init(&r.by_name);
	if (!(st = cmdtab_pki(ctx)) || store_load_policy(st))
		goto out;
	r.p = st->policy;
	if (!(r.last_seen = calloc(r.p->ndevices + 1, sizeof(*r.last_seen))) ||
	    mq_strmap_reserve(&r.by_name, r.p->ndevices))
		goto oom;
	for (size_t i = 0; i < r.p->ndevices; i++)
		if (mq_strmap_put(&r.by_name, r.p->devices[i]->name, (void *)(uintptr_t)(i + 1)))
			goto oom;
	if (!(log = store_path(st, "audit/audit.log")) || !(log1 = store_path(st, "audit/audit.log.1")))
		goto oom;
	/* Oldest first: logrotate's previous file, then the current one. */
	if ((got1 = rep_read_log(&r, log1)) < 0 || (got0 = rep_read_log(&r, log)) < 0)
		goto out;
	if (got0 && got1)
		out_warn("no audit log in %s/audit (audit.log, audit.log.1): "
			"the page shows no connects, refusals or denials; the broker's mqcert plugin "
			"writes it (plugin_opt_audit_log)", st->dir);
	if (r.bad)
		cli_err("skipped %lu malformed audit line%s", r.bad,
			r.bad == 1 ? "" : "s");
	if (rep_page(&h, &r, st->dir, stale_txt, &never, &stale))
		goto oom;
	c = mq_file_write_atomic(out, h.s, h.len, 0644, err, sizeof(err));
	if (c && c != MQ_FILE_NOT_DURABLE) {
		cli_err("cannot write %s: %s", cli_escape(e, sizeof(e), out), err);
		goto out;
	}
	printf("wrote %s: %zu devices, %lu connects, %lu refused, %lu ACL denials, %zu suspected "
	       "clones, %lu never seen, %lu not seen for %s\n", cli_escape(e, sizeof(e), out),
	       r.p->ndevices, r.total[REP_CONNECT], r.total[REP_REFUSED], r.total[REP_DENIED],
	       r.nclones, never, stale, stale_txt);
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
	goto out;
oom:
	cli_err("out of memory");
out:
	for (size_t i = 0; i <= REP_NAMED_MAX; i++) {
		free(r.reasons[i].name);
		free(r.brokers[i].name);
	}
	for (size_t i = 0; i < r.nclones; i++) {
		free(r.clones[i].device);
		free(r.clones[i].serial);
		free(r.clones[i].kind);
		free(r.clones[i].addresses);
	}
	free(r.ev);
	free(r.last_seen);
	mq_strmap_release(&r.by_name);
	report_html_free(&h);
	free(log);
	free(log1);
	return rc;
}
