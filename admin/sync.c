/* mqadmin sync: one broker's side of the fleet (sync.h). Single-threaded:
 * the watch's callbacks apply etcd's changes, and its idle tick reads the
 * plugin's state file to report what the broker applied and who is
 * connected. With etcd unreachable the local store stays as it is (the
 * broker keeps enforcing it) and the status file says since when. */
#include "sync.h"

#include "cli.h"
#include "etcd.h"
#include "fleet.h"
#include "wait.h"

#include "mq_fileio.h"
#include "mq_names.h"
#include "mq_store.h"
#include "mq_strmap.h"
#include "mq_time.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define SYNC_STATE_MAX (64L << 20)
#define SYNC_TICK_MS 100
#define SYNC_BACKOFF_MAX_MS 5000
#define SYNC_SETTLE_GAP 0.3 /* s since the previous batch: not a burst */
#define SYNC_SETTLE_MAX 0.5 /* s */
#define SYNC_SETTLE_POLL_MS 20

/* A connected client as last published: key client_id, the entry's JSON. */
struct sync_client {
	char *id;
	char *json;
	unsigned gen;
};

/* etcd revision rev is in the local store once the broker applied seq. */
struct sync_pair {
	int64_t rev;
	uint64_t seq;
};

struct sync {
	const struct sync_opts *o;
	volatile sig_atomic_t *stop;
	char instance[MQ_NAME_MAX + 1];
	char host[256];
	char *state_path, *status_path, *crl_path, *ca_path, *store_dir;
	const char *prefix;
	char *k_broker, *k_conn, *k_policy, *k_policy_end;
	struct mq_store *db;
	struct etcd *etcd;
	/* the local store */
	int64_t rev;     /* etcd revision the local store holds (meta etcd_rev) */
	uint64_t seq;    /* the local store's seq after our last commit */
	struct sync_pair *pairs;
	size_t npairs;
	/* the broker */
	uint64_t broker_seq;
	int64_t broker_rev; /* the etcd revision the broker has applied */
	bool broker_running;
	struct mq_file_sig state_sig;
	/* etcd */
	bool up;
	time_t down_since; /* 0: up (or never reached yet at start) */
	int64_t lease;
	double lease_renewed;
	bool resync; /* the next connection resynchronises in full */
	/* what is published under the lease */
	bool published;
	int64_t pub_rev;
	uint64_t pub_seq;
	bool pub_running;
	struct mq_strmap clients;
	unsigned gen;
	/* local reports */
	bool status_written;
	bool st_up;
	int64_t st_rev;
	double last_tick;
	double last_batch;
};

/* ---- logging ------------------------------------------------------------------ */

static void sync_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sync_log(const char *fmt, ...)
{
	char ts[MQ_TIME_LEN];
	va_list ap;

	if (mq_time_format(time(NULL), ts))
		snprintf(ts, sizeof(ts), "?");
	fprintf(stderr, "%s mqadmin sync: ", ts);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

/* The revision to report as the broker's: a broker that is not running
 * enforces nothing now and loads the store as it is when it starts, so the
 * store's revision is the one it will have. */
static int64_t sync_broker_rev(const struct sync *s)
{
	return s->broker_running ? s->broker_rev : s->rev;
}

/* ---- the instance ------------------------------------------------------------- */

int sync_default_instance(const char *dir, char *out, size_t len)
{
	char *audit = NULL, found[1024] = "";
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	if (asprintf(&audit, "%s/audit", dir) < 0)
		return -1;
	d = opendir(audit);
	while (d && (e = readdir(d))) {
		size_t l = strlen(e->d_name);

		if (strncmp(e->d_name, "connected-", 10) || l <= 15 || strcmp(e->d_name + l - 5, ".json"))
			continue;
		if (!n++)
			snprintf(out, len, "%.*s", (int)(l - 15), e->d_name + 10);
		snprintf(found + strlen(found), sizeof(found) - strlen(found), "%s%.*s",
			 n > 1 ? ", " : "", (int)(l - 15), e->d_name + 10);
	}
	if (d)
		closedir(d);
	free(audit);
	if (n == 1 && mq_name_valid(out))
		return 0;
	if (!n)
		cli_err("no broker state file in %s/audit (connected-INSTANCE.json): start the "
			"broker with the plugin first, or name its instance with --instance NAME "
			"(plugin_opt_instance)", dir);
	else
		cli_err("several broker state files in %s/audit (%s): say which broker this sync "
			"serves with --instance NAME", dir, found);
	return -1;
}

/* ---- the status file and the metrics --------------------------------------------- */

static char *sync_status_path(const char *dir, const char *instance)
{
	char *p = NULL;

	return asprintf(&p, "%s/audit/sync-%s.json", dir, instance) < 0 ? NULL : p;
}

void sync_status_read(const char *dir, const char *instance, struct sync_status *s)
{
	char *path = sync_status_path(dir, instance), *buf = NULL, err[256];
	const cJSON *v;
	cJSON *doc = NULL;
	size_t len;

	memset(s, 0, sizeof(*s));
	if (!path || mq_file_read_regular(path, 1 << 20, &buf, &len, err, sizeof(err)))
		goto out;
	doc = cJSON_ParseWithLength(buf, len);
	if (!cJSON_IsObject(doc))
		goto out;
	s->present = true;
	v = cJSON_GetObjectItemCaseSensitive(doc, "etcd");
	s->up = cJSON_IsString(v) && !strcmp(v->valuestring, "up");
	v = cJSON_GetObjectItemCaseSensitive(doc, "down_since");
	if (cJSON_IsString(v))
		snprintf(s->down_since, sizeof(s->down_since), "%s", v->valuestring);
	v = cJSON_GetObjectItemCaseSensitive(doc, "updated");
	if (cJSON_IsString(v))
		snprintf(s->updated, sizeof(s->updated), "%s", v->valuestring);
	v = cJSON_GetObjectItemCaseSensitive(doc, "applied_rev");
	if (cJSON_IsNumber(v) && v->valuedouble >= 0)
		s->applied_rev = (uint64_t)v->valuedouble;
out:
	cJSON_Delete(doc);
	free(buf);
	free(path);
}

void sync_statuses_each(const char *dir,
			void (*cb)(void *arg, const char *instance, const struct sync_status *s),
			void *arg)
{
	char *adir = NULL, inst[MQ_NAME_MAX + 1];
	struct sync_status ss;
	struct dirent *e;
	DIR *d;

	if (asprintf(&adir, "%s/audit", dir) < 0)
		return;
	d = opendir(adir);
	while (d && (e = readdir(d))) {
		size_t l = strlen(e->d_name);

		if (strncmp(e->d_name, "sync-", 5) || l <= 10 || l - 10 > MQ_NAME_MAX ||
		    strcmp(e->d_name + l - 5, ".json"))
			continue;
		snprintf(inst, sizeof(inst), "%.*s", (int)(l - 10), e->d_name + 5);
		if (!mq_name_valid(inst))
			continue;
		sync_status_read(dir, inst, &ss);
		if (ss.present)
			cb(arg, inst, &ss);
	}
	if (d)
		closedir(d);
	free(adir);
}

static void sync_metrics(struct sync *s)
{
	char *text = NULL, err[PATH_MAX + 128];
	int n;

	if (!s->o->metrics_path)
		return;
	n = asprintf(&text,
		     "# HELP mqcert_sync_etcd_up Whether the sync reaches etcd (1) or not (0).\n"
		     "# TYPE mqcert_sync_etcd_up gauge\n"
		     "mqcert_sync_etcd_up{mqcert_instance=\"%s\"} %d\n"
		     "# HELP mqcert_sync_applied_revision The etcd revision the broker has applied.\n"
		     "# TYPE mqcert_sync_applied_revision gauge\n"
		     "mqcert_sync_applied_revision{mqcert_instance=\"%s\"} %" PRId64 "\n"
		     "# HELP mqcert_sync_etcd_down_since_seconds Since when etcd is unreachable "
		     "(Unix time; 0: reachable).\n"
		     "# TYPE mqcert_sync_etcd_down_since_seconds gauge\n"
		     "mqcert_sync_etcd_down_since_seconds{mqcert_instance=\"%s\"} %lld\n",
		     s->instance, s->up ? 1 : 0, s->instance, sync_broker_rev(s), s->instance,
		     s->up ? 0LL : (long long)s->down_since);
	if (n < 0)
		return;
	if (mq_file_replace_fast(s->o->metrics_path, text, (size_t)n, 0644, err, sizeof(err)))
		sync_log("cannot write the metrics file: %s", err);
	free(text);
}

/* Rewrites the status file and the metrics when what they say changed. */
static void sync_report_local(struct sync *s)
{
	char ts[MQ_TIME_LEN], since[MQ_TIME_LEN], err[PATH_MAX + 128];
	cJSON *doc;
	char *text;

	if (s->status_written && s->st_up == s->up && s->st_rev == sync_broker_rev(s))
		return;
	mq_time_format(time(NULL), ts);
	doc = cJSON_CreateObject();
	if (!doc || !cJSON_AddNumberToObject(doc, "version", 1) ||
	    !cJSON_AddStringToObject(doc, "instance", s->instance) ||
	    !cJSON_AddStringToObject(doc, "etcd", s->up ? "up" : "down") ||
	    (!s->up && s->down_since && (mq_time_format(s->down_since, since) ||
					 !cJSON_AddStringToObject(doc, "down_since", since))) ||
	    !cJSON_AddNumberToObject(doc, "applied_rev", (double)sync_broker_rev(s)) ||
	    !cJSON_AddBoolToObject(doc, "broker_running", s->broker_running) ||
	    !cJSON_AddNumberToObject(doc, "sync_pid", (double)getpid()) ||
	    !cJSON_AddStringToObject(doc, "updated", ts) || !(text = cJSON_Print(doc))) {
		cJSON_Delete(doc);
		sync_log("cannot write the status file %s: out of memory", s->status_path);
		return;
	}
	cJSON_Delete(doc);
	if (mq_file_replace_fast(s->status_path, text, strlen(text), 0644, err, sizeof(err))) {
		sync_log("cannot write the status file: %s", err);
	} else {
		s->status_written = true;
		s->st_up = s->up;
		s->st_rev = sync_broker_rev(s);
	}
	cJSON_free(text);
	sync_metrics(s);
}

static void sync_set_down(struct sync *s, const char *why)
{
	char ts[MQ_TIME_LEN];

	if (!s->up && s->down_since) {
		s->lease = 0;
		return;
	}
	s->up = false;
	s->down_since = time(NULL);
	s->lease = 0;
	s->published = false;
	mq_time_format(s->down_since, ts);
	sync_log("etcd unreachable since %s (%s); the broker keeps enforcing the policy it has "
		 "(revision %" PRId64 "); retrying", ts, *why ? why : "the connection broke", s->rev);
	sync_report_local(s);
}

static void sync_set_up(struct sync *s)
{
	char ts[MQ_TIME_LEN];

	if (s->up)
		return;
	if (s->down_since) {
		mq_time_format(s->down_since, ts);
		sync_log("etcd reachable again at %s (unreachable since %s)", etcd_endpoint_last(s->etcd), ts);
	}
	s->up = true;
	s->down_since = 0;
	sync_report_local(s);
}

/* ---- the CRL ----------------------------------------------------------------------- */

/* P crl.pem becomes DIR/crl.pem only when DIR/ca.crt signed it and it is
 * newer (fleet_install_crl): write access to etcd alone must not change
 * what the broker believes revoked. Refusals are logged. */
static void sync_crl_install(struct sync *s, const char *pem, size_t len)
{
	char err[PATH_MAX + 256];
	int rc = fleet_install_crl(s->o->dir, pem, len, err, sizeof(err));

	if (rc < 0)
		sync_log("refused the fleet's CRL (%scrl.pem): %s", s->prefix, err);
	else if (!rc)
		sync_log("installed the fleet's CRL as %s", s->crl_path);
}

/* ---- the broker: its state file ------------------------------------------------------ */

/* The revision the broker has applied: the newest pair whose local commit
 * the plugin reports in force. Older pairs are dropped. */
static void sync_map_applied(struct sync *s)
{
	size_t k = 0;

	while (k < s->npairs && s->pairs[k].seq <= s->broker_seq) {
		if (s->pairs[k].rev > s->broker_rev)
			s->broker_rev = s->pairs[k].rev;
		k++;
	}
	if (!k)
		return;
	memmove(s->pairs, s->pairs + k, (s->npairs - k) * sizeof(*s->pairs));
	s->npairs -= k;
}

/* Records that revision rev is the local store's state at seq. */
static int sync_pair_add(struct sync *s, int64_t rev, uint64_t seq)
{
	struct sync_pair *p;

	if (s->npairs && s->pairs[s->npairs - 1].seq == seq) {
		s->pairs[s->npairs - 1].rev = rev;
	} else {
		if (!(p = realloc(s->pairs, (s->npairs + 1) * sizeof(*p))))
			return -1;
		s->pairs = p;
		s->pairs[s->npairs++] = (struct sync_pair){rev, seq};
	}
	sync_map_applied(s);
	return 0;
}

static void sync_client_free(struct sync_client *c)
{
	if (!c)
		return;
	free(c->id);
	free(c->json);
	free(c);
}

static char *sync_conn_key(const struct sync *s, const char *client_id)
{
	char *k = NULL;

	return asprintf(&k, "%s%s", s->k_conn, client_id) < 0 ? NULL : k;
}

/* Publishes one client (put) when it is new or changed. 0, -1 out of
 * memory, or an etcd error. */
static int sync_client_seen(struct sync *s, const cJSON *cl, char *err, size_t errlen)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(cl, "client_id");
	struct sync_client *c;
	char *json = NULL, *key = NULL;
	cJSON *copy = NULL;
	int rc = -1;

	if (!cJSON_IsString(id) || !*id->valuestring)
		return 0;
	c = mq_strmap_get(&s->clients, id->valuestring);
	if (!(copy = cJSON_Duplicate(cl, true)) ||
	    !cJSON_AddStringToObject(copy, "broker", s->instance) ||
	    !cJSON_AddStringToObject(copy, "host", s->host) ||
	    !(json = cJSON_PrintUnformatted(copy)))
		goto out;
	if (c && !strcmp(c->json, json)) {
		c->gen = s->gen;
		rc = 0;
		goto out;
	}
	if (!(key = sync_conn_key(s, id->valuestring)))
		goto out;
	rc = etcd_put(s->etcd, key, json, strlen(json), s->lease, NULL, err, errlen);
	if (rc)
		goto out;
	rc = -1;
	if (!c) {
		if (!(c = calloc(1, sizeof(*c))) || !(c->id = strdup(id->valuestring)) ||
		    mq_strmap_put(&s->clients, c->id, c)) {
			sync_client_free(c);
			goto out;
		}
	}
	free(c->json);
	c->json = json;
	json = NULL;
	c->gen = s->gen;
	rc = 0;
out:
	cJSON_Delete(copy);
	cJSON_free(json);
	free(key);
	return rc;
}

/* Deletes the published clients not seen in this generation. */
static int sync_clients_gone(struct sync *s, char *err, size_t errlen)
{
	for (size_t i = 0; i < s->clients.cap; i++) {
		struct sync_client *c = s->clients.slots[i].key ? s->clients.slots[i].value : NULL;
		char *key;
		int rc;

		if (!c || c->gen == s->gen)
			continue;
		if (!(key = sync_conn_key(s, c->id)))
			return -1;
		rc = etcd_delete(s->etcd, key, NULL, NULL, err, errlen);
		free(key);
		if (rc)
			return rc;
		mq_strmap_del(&s->clients, c->id);
		sync_client_free(c);
		i = (size_t)-1; /* the table may have moved entries: walk again */
	}
	return 0;
}

static void sync_clients_forget(struct sync *s)
{
	for (size_t i = 0; i < s->clients.cap; i++)
		if (s->clients.slots[i].key)
			sync_client_free(s->clients.slots[i].value);
	mq_strmap_release(&s->clients);
	mq_strmap_init(&s->clients);
}

/* Puts P brokers/INSTANCE when what it says changed. */
static int sync_publish_broker(struct sync *s, char *err, size_t errlen)
{
	char ts[MQ_TIME_LEN];
	cJSON *doc;
	char *text = NULL;
	int rc = -1;

	if (s->published && s->pub_rev == sync_broker_rev(s) && s->pub_seq == s->broker_seq &&
	    s->pub_running == s->broker_running)
		return 0;
	mq_time_format(time(NULL), ts);
	doc = cJSON_CreateObject();
	if (!doc || !cJSON_AddStringToObject(doc, "instance", s->instance) ||
	    !cJSON_AddStringToObject(doc, "host", s->host) ||
	    !cJSON_AddNumberToObject(doc, "applied_rev", (double)sync_broker_rev(s)) ||
	    !cJSON_AddNumberToObject(doc, "applied_seq", (double)s->broker_seq) ||
	    !cJSON_AddBoolToObject(doc, "broker_running", s->broker_running) ||
	    !cJSON_AddStringToObject(doc, "updated", ts) ||
	    !(text = cJSON_PrintUnformatted(doc))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = etcd_put(s->etcd, s->k_broker, text, strlen(text), s->lease, NULL, err, errlen);
	if (!rc) {
		s->published = true;
		s->pub_rev = sync_broker_rev(s);
		s->pub_running = s->broker_running;
		s->pub_seq = s->broker_seq;
	}
out:
	cJSON_Delete(doc);
	cJSON_free(text);
	return rc;
}

/* Reads the plugin's state file when it changed (what the broker applied,
 * and with etcd up who is connected), then reports. 0, or an etcd error
 * code. */
static int sync_read_broker(struct sync *s, char *err, size_t errlen)
{
	struct mq_file_sig sig;
	const cJSON *seq, *cl;
	char *buf = NULL, ferr[PATH_MAX + 128];
	cJSON *doc = NULL;
	size_t len;
	int rc = 0;

	mq_file_sig_get(s->state_path, &sig);
	if (s->published && mq_file_sig_same(&sig, &s->state_sig))
		goto report;
	if (mq_file_read_regular(s->state_path, SYNC_STATE_MAX, &buf, &len, ferr, sizeof(ferr))) {
		if (errno != ENOENT)
			return 0; /* being replaced, or unreadable for now: next tick */
		/* No broker has run with this instance yet: none to report on,
		 * but the sync is live and the store in step. */
		doc = cJSON_CreateObject();
	} else {
		doc = cJSON_ParseWithLength(buf, len);
		free(buf);
	}
	if (!cJSON_IsObject(doc))
		goto out;
	/* A broker that crashed leaves "running": true behind. */
	s->broker_running = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "running")) &&
			    !wait_state_pid_gone(doc);
	seq = cJSON_GetObjectItemCaseSensitive(doc, "applied_seq");
	if (cJSON_IsNumber(seq) && seq->valuedouble >= 0 && s->broker_running) {
		s->broker_seq = (uint64_t)seq->valuedouble;
		sync_map_applied(s);
	}
	if (!s->up || !s->lease)
		goto out;
	s->gen++;
	cJSON_ArrayForEach(cl, cJSON_GetObjectItemCaseSensitive(doc, "clients"))
		if (cJSON_IsObject(cl) && s->broker_running &&
		    (rc = sync_client_seen(s, cl, err, errlen)))
			goto out;
	if ((rc = sync_clients_gone(s, err, errlen)))
		goto out;
	s->state_sig = sig;
report:
	/* Also when only the store moved (a stopped broker reports it). */
	if (s->up && s->lease)
		rc = sync_publish_broker(s, err, errlen);
out:
	sync_report_local(s);
	cJSON_Delete(doc);
	return rc;
}

/* ---- etcd --------------------------------------------------------------------------- */

/* A new lease, and everything published under the old one forgotten (it
 * expired with it, or is about to). */
static int sync_lease(struct sync *s, char *err, size_t errlen)
{
	int rc;

	s->lease = 0;
	s->published = false;
	sync_clients_forget(s);
	memset(&s->state_sig, 0, sizeof(s->state_sig));
	rc = etcd_lease_grant(s->etcd, s->o->lease_ttl, &s->lease, err, errlen);
	if (!rc)
		s->lease_renewed = mq_time_monotonic();
	return rc;
}

/* The periodic work: the lease's keepalive, the broker's state file. 0 or
 * an etcd error code. */
static int sync_tick(struct sync *s, char *err, size_t errlen)
{
	double now = mq_time_monotonic();
	int64_t ttl = 0;
	int rc;

	s->last_tick = now;
	if (s->lease && now - s->lease_renewed >= (double)s->o->lease_ttl / 3) {
		rc = etcd_lease_keepalive(s->etcd, s->lease, &ttl, err, errlen);
		if (rc == ETCD_UNREACHABLE)
			return rc;
		if (rc || ttl <= 0) {
			sync_log("lease %" PRIx64 " lost (%s): reporting under a new one",
				 (uint64_t)s->lease, rc ? err : "expired");
			if ((rc = sync_lease(s, err, errlen)))
				return rc;
		} else {
			s->lease_renewed = now;
		}
	}
	return sync_read_broker(s, err, errlen);
}

/* Commits what fleet_apply wrote at etcd revision rev: the pair, the
 * reports. */
static int sync_applied(struct sync *s, int64_t rev, uint64_t seq)
{
	s->rev = rev;
	s->seq = seq;
	if (sync_pair_add(s, rev, seq)) {
		sync_log("out of memory");
		return -1;
	}
	return 0;
}

/* The local store's sequence now. */
static uint64_t sync_store_seq(struct sync *s)
{
	char err[256];
	uint64_t seq = s->seq;

	if (!mq_store_read_begin(s->db, err, sizeof(err))) {
		seq = mq_store_seq(s->db);
		mq_store_read_end(s->db);
	}
	return seq;
}

/* After fleet_apply or fleet_resync: the CRL it saw installed (when good),
 * the revision paired with the store's sequence. */
static int sync_after_apply(struct sync *s, int64_t rev, struct fleet_result *res)
{
	if (res->crl_pem)
		sync_crl_install(s, res->crl_pem, res->crl_len);
	if (res->skipped)
		sync_log("revision %" PRId64 ": %zu key(s) skipped (reported above), the broker's "
			 "policy is unaffected by them", rev, res->skipped);
	return sync_applied(s, rev, sync_store_seq(s));
}

/* After an isolated change (not inside a burst: a burst's batches follow
 * each other at once), watch the broker's state file briefly so that its
 * report, and so --wait, follow within the plugin's own delay rather than
 * at the watch's next idle tick (about a second). Bounded; a burst is
 * never slowed down. */
static void sync_settle(struct sync *s, double prev_batch)
{
	char err[1024];
	double start = mq_time_monotonic();

	if (!s->broker_running || start - prev_batch < SYNC_SETTLE_GAP)
		return;
	while (s->broker_rev < s->rev && mq_time_monotonic() - start < SYNC_SETTLE_MAX && !*s->stop) {
		usleep(SYNC_SETTLE_POLL_MS * 1000);
		if (sync_read_broker(s, err, sizeof(err)))
			return; /* the next tick says why */
	}
}

/* The watch's batch: into the local store in one transaction. */
static int sync_on_batch(void *arg, const struct etcd_event *ev, size_t n, int64_t rev)
{
	struct sync *s = arg;
	struct fleet_result res = {0};
	char err[1024];
	int64_t last = 0;
	double prev;
	int rc;

	(void)rev;
	if (!n)
		return 0; /* creation or progress: nothing to apply */
	for (size_t i = 0; i < n; i++)
		if (ev[i].kv.mod_rev > last)
			last = ev[i].kv.mod_rev;
	if (fleet_apply(s->db, s->prefix, ev, n, last, &res, err, sizeof(err))) {
		sync_log("cannot apply revision %" PRId64 " to the local store: %s; retrying", last,
			 err);
		fleet_result_free(&res);
		return ETCD_ERR;
	}
	rc = sync_after_apply(s, last, &res) ? ETCD_ERR : 0;
	fleet_result_free(&res);
	prev = s->last_batch;
	s->last_batch = mq_time_monotonic();
	if (!rc)
		sync_settle(s, prev);
	return rc;
}

static int sync_watch_tick(void *arg)
{
	struct sync *s = arg;
	char err[1024];
	int rc = sync_tick(s, err, sizeof(err));

	if (rc)
		sync_log("%s", err);
	return rc;
}

/* The whole policy range at one revision into the local store (records
 * that did not change are not rewritten, so the plugin re-judges only the
 * devices that did). A sync never writes the policy to etcd: an etcd
 * without policy keys (a wrong prefix, a wiped cluster) is not applied
 * over a store that has devices, and not seeded from it either. */
static int sync_full(struct sync *s, char *err, size_t errlen)
{
	struct etcd_range_req cr = {.key = s->k_policy, .range_end = s->k_policy_end,
				    .count_only = true};
	struct etcd_kvs k = {0};
	struct fleet_result res = {0};
	uint64_t rev = 0;
	size_t local = 0;
	int rc;

	sync_log("full resynchronisation from etcd (local revision %" PRId64 ")", s->rev);
	if ((rc = etcd_range(s->etcd, &cr, &k, err, errlen)))
		return rc;
	if (!mq_store_read_begin(s->db, err, errlen)) {
		local = mq_store_device_count(s->db);
		mq_store_read_end(s->db);
	}
	if (!k.count && local) {
		snprintf(err, errlen, "etcd holds no policy under %s but this broker's store has %zu "
			 "device(s): not applied (it would remove them all); check --etcd-prefix, or "
			 "seed etcd from the administrator's DIR ('mqadmin --etcd URL device list')",
			 s->prefix, local);
		etcd_kvs_free(&k);
		return ETCD_ERR;
	}
	etcd_kvs_free(&k);
	rc = fleet_resync(s->db, s->etcd, s->prefix, &res, err, errlen);
	if (!rc && !mq_store_read_begin(s->db, err, errlen)) {
		mq_store_meta_get(s->db, "etcd_rev", &rev);
		mq_store_read_end(s->db);
		sync_log("resynchronised at revision %" PRIu64 ": %zu key(s) applied (unchanged "
			 "records are not rewritten), %zu skipped", rev, res.applied, res.skipped);
		rc = sync_after_apply(s, (int64_t)rev, &res);
	}
	fleet_result_free(&res);
	return rc;
}

/* A fleet signed by another CA than the broker's DIR/ca.crt (P
 * meta/ca_fingerprint; a wrong --etcd-prefix, or another fleet's etcd)
 * is never applied: the broker keeps the policy it has. */
static int sync_check_ca(struct sync *s, char *err, size_t errlen)
{
	char fpr[65];
	int rc = fleet_ca_fingerprint(s->o->dir, fpr, err, errlen);

	if (rc)
		return rc > 0 ? 0 : ETCD_ERR; /* no ca.crt: CRLs are refused anyway */
	rc = fleet_check_ca(s->etcd, s->prefix, fpr, 0, err, errlen);
	if (rc == 1) {
		size_t l = strlen(err);

		snprintf(err + l, errlen - l, ": not applied to broker '%s' (its CA is %s/ca.crt); "
			 "check --etcd-prefix and -d", s->instance, s->o->dir);
		return ETCD_ERR;
	}
	return rc;
}

/* An etcd whose revision is below the one the store applied is another
 * cluster: watching from our revision would wait for revisions that mean
 * something else. An administrator's reseed (a new epoch) is followed in
 * full; anything else is a restored backup or a rebuilt etcd, whose older
 * policy would bring back suspended, deleted or narrowed devices on this
 * broker: refused, and the broker keeps the policy it has. */
static int sync_check_rev(struct sync *s, char *err, size_t errlen)
{
	struct fleet_marks m;
	uint64_t epoch = 0, txn_seen = 0;
	size_t ndev;
	int rc = fleet_marks_read(s->etcd, s->prefix, &m, err, errlen);

	if (rc)
		return rc;
	if (mq_store_read_begin(s->db, err, errlen))
		return ETCD_ERR;
	mq_store_meta_get(s->db, "epoch", &epoch);
	mq_store_meta_get(s->db, "etcd:meta/txn", &txn_seen);
	ndev = mq_store_device_count(s->db);
	mq_store_read_end(s->db);
	/* The syncs' own keys move etcd's revision on, so a restored etcd
	 * soon passes ours again: the last mqadmin transaction (P meta/txn)
	 * says it too. And a reseed may land at a revision this store already
	 * applied: the epoch tells, whatever the revisions say. */
	if (m.epoch && m.epoch != epoch) {
		sync_log("etcd was reseeded by an administrator (epoch %" PRIu64 "; etcd at revision %"
			 PRId64 ", this store applied %" PRId64 "): resynchronising in full", m.epoch,
			 m.rev, s->rev);
		s->resync = true;
	} else if (fleet_went_back(&m, (uint64_t)s->rev, txn_seen, ndev)) {
		snprintf(err, errlen, "etcd is at revision %" PRId64 " (last mqadmin transaction %"
			 PRId64 "), behind the %" PRId64 " (%" PRIu64 ") this store applied, and no "
			 "administrator reseeded it: it was restored from an older backup or "
			 "rebuilt. Not applied: broker '%s' keeps enforcing the policy it has. On "
			 "the administrator's host whose store is newest run: "
			 "MQADMIN_ETCD_RESEED=1 mqadmin -d DIR device list (to roll the fleet "
			 "back to the backup on purpose, reseed from a store that caught up from "
			 "it)", m.rev, m.txn_rev, s->rev, txn_seen, s->instance);
		rc = ETCD_ERR;
	}
	return rc;
}

/* One connection: lease, catch-up, watch until it breaks. 0 on stop, else
 * an etcd error code (the caller backs off and comes again). */
static int sync_session(struct sync *s)
{
	struct etcd_watch_req w = {.key = s->k_policy, .range_end = s->k_policy_end,
				   .idle_ms = 0, .stop = (const volatile int *)s->stop,
				   .tick = sync_watch_tick};
	char err[1024] = "";
	int64_t compact = 0;
	int rc;

	if ((rc = sync_lease(s, err, sizeof(err))))
		goto fail;
	sync_set_up(s);
	if ((rc = sync_check_ca(s, err, sizeof(err))))
		goto fail;
	if (s->rev && !s->resync && (rc = sync_check_rev(s, err, sizeof(err))))
		goto fail;
	if ((!s->rev || s->resync) && (rc = sync_full(s, err, sizeof(err))))
		goto fail;
	s->resync = false;
	if ((rc = sync_tick(s, err, sizeof(err))))
		goto fail;
	sync_log("watching %s from revision %" PRId64, s->prefix, s->rev + 1);
	w.start_revision = s->rev + 1;
	rc = etcd_watch(s->etcd, &w, sync_on_batch, s, &compact, err, sizeof(err));
	if (rc == ETCD_COMPACTED) {
		sync_log("etcd compacted revision %" PRId64 " (oldest kept: %" PRId64
			 "): resynchronising in full", s->rev + 1, compact);
		s->resync = true;
		return rc;
	}
	if (!rc)
		return 0;
fail:
	if (rc == ETCD_UNREACHABLE)
		sync_set_down(s, err);
	else if (*err)
		sync_log("%s", err);
	return rc;
}

/* Sleeps ms while keeping the local reports (the broker's applied
 * sequence, the status file) current. */
static void sync_pause(struct sync *s, long ms)
{
	char err[1024];
	double until = mq_time_monotonic() + (double)ms / 1000;

	while (!*s->stop && mq_time_monotonic() < until) {
		sync_read_broker(s, err, sizeof(err));
		usleep(SYNC_TICK_MS * 1000);
	}
}

/* A store written before an index existed is re-indexed by its first
 * write: the batch that does it takes longer, once; say why. */
static void sync_notice(void *arg, const char *what, size_t n)
{
	const struct sync *s = arg;

	sync_log("indexing the certificates in use of %zu device(s) in %s for '%s' (once; about "
		 "5 s per million devices)", n, s->store_dir, what);
}

static int sync_paths(struct sync *s)
{
	const char *p = s->prefix, *d = s->o->dir, *i = s->instance;

	return asprintf(&s->state_path, "%s/audit/connected-%s.json", d, i) < 0 ||
	       !(s->status_path = sync_status_path(d, i)) ||
	       asprintf(&s->crl_path, "%s/crl.pem", d) < 0 ||
	       asprintf(&s->ca_path, "%s/ca.crt", d) < 0 ||
	       asprintf(&s->store_dir, "%s/store", d) < 0 ||
	       asprintf(&s->k_broker, "%sbrokers/%s", p, i) < 0 ||
	       asprintf(&s->k_conn, "%sconnected/%s/", p, i) < 0 ||
	       fleet_policy_range(p, &s->k_policy, &s->k_policy_end) ? -1 : 0;
}

static void sync_release(struct sync *s)
{
	char err[512];

	if (s->etcd && s->lease && s->up &&
	    etcd_lease_revoke(s->etcd, s->lease, err, sizeof(err)) == 0)
		sync_log("lease revoked: this broker's keys are gone from etcd");
	sync_clients_forget(s);
	etcd_free(s->etcd);
	if (s->db)
		mq_store_close(s->db);
	free(s->pairs);
	free(s->state_path);
	free(s->status_path);
	free(s->crl_path);
	free(s->ca_path);
	free(s->store_dir);
	free(s->k_broker);
	free(s->k_conn);
	free(s->k_policy);
	free(s->k_policy_end);
}

int sync_run(const struct sync_opts *o, volatile sig_atomic_t *stop)
{
	struct sync s = {.o = o, .stop = stop, .prefix = fleet_prefix()};
	char err[1024], *prefix = NULL;
	size_t plen = 0;
	uint64_t rev = 0;
	long backoff = 100;
	int rc = -1;

	mq_strmap_init(&s.clients);
	snprintf(s.instance, sizeof(s.instance), "%s", o->instance);
	gethostname(s.host, sizeof(s.host) - 1);
	if (sync_paths(&s)) {
		cli_err("out of memory");
		goto out;
	}
	if (mq_store_open(&s.db, s.store_dir, 0, err, sizeof(err))) {
		cli_err("%s", err);
		goto out;
	}
	mq_store_set_notice(s.db, sync_notice, &s);
	if (mq_store_read_begin(s.db, err, sizeof(err))) {
		cli_err("%s", err);
		goto out;
	}
	mq_store_meta_get(s.db, "etcd_rev", &rev);
	s.seq = mq_store_seq(s.db);
	if (mq_store_meta_get_text(s.db, "etcd_prefix", &prefix, &plen) || !prefix ||
	    strcmp(prefix, s.prefix))
		rev = 0; /* another prefix's revision (fleet_apply records it): resync in full */
	mq_store_read_end(s.db);
	free(prefix);
	s.rev = (int64_t)rev;
	/* What the store holds now is what the broker has once it reports
	 * this sequence. */
	if (s.rev && sync_pair_add(&s, s.rev, s.seq)) {
		cli_err("out of memory");
		goto out;
	}
	if (fleet_connect(&s.etcd, err, sizeof(err))) {
		cli_err("%s", err);
		goto out;
	}
	s.up = true; /* until the first failure says otherwise */
	sync_report_local(&s);
	sync_log("started for broker '%s' (%s), etcd %s, prefix %s, local revision %" PRId64
		 ", lease TTL %ld s", s.instance, o->dir, etcd_endpoints(s.etcd), s.prefix,
		 s.rev, o->lease_ttl);
	while (!*stop) {
		int r = sync_session(&s);

		if (*stop)
			break;
		if (r == ETCD_COMPACTED) {
			backoff = 100;
			continue;
		}
		/* A watch that ran a while and broke: come back at once. */
		if (s.up && (uint64_t)s.rev > rev)
			backoff = 100;
		rev = (uint64_t)s.rev;
		sync_pause(&s, backoff);
		backoff = backoff * 2 > SYNC_BACKOFF_MAX_MS ? SYNC_BACKOFF_MAX_MS : backoff * 2;
	}
	sync_log("stopping (local revision %" PRId64 ")", s.rev);
	rc = 0;
out:
	sync_release(&s);
	return rc;
}
