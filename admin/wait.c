/* --wait (wait.h): after a committed change, polls until every running
 * broker using DIR (or, with a fleet, every sync in etcd) has applied it. */
#include "wait.h"

#include "cli.h"
#include "etcd.h"
#include "fleet.h"
#include "mq_fileio.h"
#include "mq_names.h"
#include "mq_time.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define WAIT_STATE_MAX (64L << 20)
#define WAIT_POLL_MS 50

int wait_take_option(int *argc, char **argv, long *secs)
{
	int out = 0;
	bool done = false;

	*secs = -1;
	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i];

		if (!done && !strcmp(a, "--"))
			done = true;
		if (done || strncmp(a, "--wait", 6) || (a[6] && a[6] != '=')) {
			argv[out++] = argv[i];
			continue;
		}
		*secs = WAIT_DEFAULT_SECONDS;
		if (a[6] == '=' && cli_parse_long(a + 7, 0, WAIT_MAX_SECONDS, secs)) {
			cli_err("invalid --wait '%s': use a number of seconds from 0 to %d (default %d)",
				a + 7, WAIT_MAX_SECONDS, WAIT_DEFAULT_SECONDS);
			return -1;
		}
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

/* One broker's state file. */
struct wait_broker {
	char instance[MQ_NAME_MAX + 1];
	bool running;
	bool has_seq;
	uint64_t applied;
};

/* A state file that says running but whose broker pid is gone (on this
 * host) belongs to a broker that died: not waited for. */
bool wait_state_pid_gone(const cJSON *doc)
{
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(doc, "broker_pid");
	const cJSON *host = cJSON_GetObjectItemCaseSensitive(doc, "host");
	char me[256] = "";

	gethostname(me, sizeof(me) - 1);
	return cJSON_IsNumber(pid) && cJSON_IsString(host) && !strcmp(host->valuestring, me) &&
	       pid->valuedouble > 0 && pid->valuedouble < 1e9 &&
	       kill((pid_t)pid->valuedouble, 0) && errno == ESRCH;
}

static void wait_read_one(const char *path, const char *base, struct wait_broker *b)
{
	char err[PATH_MAX + 128], *buf = NULL;
	const cJSON *inst, *seq;
	cJSON *doc = NULL;
	size_t len;

	memset(b, 0, sizeof(*b));
	snprintf(b->instance, sizeof(b->instance), "%.*s",
		 (int)(strlen(base) > 15 ? strlen(base) - 15 : 0), base + 10);
	/* A file being replaced or unreadable counts as not (yet) applied. */
	if (mq_file_read_regular(path, WAIT_STATE_MAX, &buf, &len, err, sizeof(err)))
		return;
	doc = cJSON_ParseWithLength(buf, len);
	free(buf);
	if (!cJSON_IsObject(doc))
		goto out;
	inst = cJSON_GetObjectItemCaseSensitive(doc, "instance");
	if (cJSON_IsString(inst) && mq_name_valid(inst->valuestring))
		snprintf(b->instance, sizeof(b->instance), "%s", inst->valuestring);
	b->running = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "running")) &&
		     !wait_state_pid_gone(doc);
	seq = cJSON_GetObjectItemCaseSensitive(doc, "applied_seq");
	if (cJSON_IsNumber(seq) && seq->valuedouble >= 0) {
		b->has_seq = true;
		b->applied = (uint64_t)seq->valuedouble;
	}
out:
	cJSON_Delete(doc);
}

/* Every state file in dir/audit: n brokers into *out. 0 or -1. */
static int wait_scan(const char *dir, struct wait_broker **out, size_t *n)
{
	char *audit = NULL, *path = NULL;
	struct dirent *e;
	DIR *d;

	*n = 0;
	if (asprintf(&audit, "%s/audit", dir) < 0)
		return -1;
	d = opendir(audit);
	if (!d) {
		int rc = errno == ENOENT ? 0 : -1;

		if (rc)
			cli_err("--wait: cannot read %s: %s", audit, strerror(errno));
		free(audit);
		return rc;
	}
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		struct wait_broker *nb;

		if (strncmp(e->d_name, "connected-", 10) || l <= 15 || strcmp(e->d_name + l - 5, ".json"))
			continue;
		if (!(nb = realloc(*out, (*n + 1) * sizeof(*nb))) ||
		    asprintf(&path, "%s/%s", audit, e->d_name) < 0) {
			if (nb)
				*out = nb;
			closedir(d);
			free(audit);
			return -1;
		}
		*out = nb;
		wait_read_one(path, e->d_name, &nb[*n]);
		free(path);
		(*n)++;
	}
	closedir(d);
	free(audit);
	return 0;
}

int wait_lowest_applied(const char *dir, uint64_t *lowest)
{
	struct wait_broker *b = NULL;
	size_t n = 0;
	int rc = 0;

	if (wait_scan(dir, &b, &n)) {
		free(b);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!b[i].running)
			continue;
		/* One that does not say: as if it applied nothing yet. */
		if (rc == 0 || (b[i].has_seq ? b[i].applied : 0) < *lowest)
			*lowest = b[i].has_seq ? b[i].applied : 0;
		rc = 1;
	}
	free(b);
	return rc;
}

int wait_applied(const char *dir, uint64_t seq, long secs)
{
	struct wait_broker *b = NULL;
	double start = mq_time_monotonic();
	size_t n = 0, running = 0, behind = 0;
	char esc[CLI_ESCAPE_SIZE(MQ_NAME_MAX)];
	int rc = -1;

	if (!seq)
		return 0; /* nothing was committed: nothing to wait for */
	for (;;) {
		if (wait_scan(dir, &b, &n)) {
			cli_err("--wait: out of memory");
			goto out;
		}
		running = behind = 0;
		for (size_t i = 0; i < n; i++) {
			running += b[i].running;
			behind += b[i].running && (!b[i].has_seq || b[i].applied < seq);
		}
		if (!running) {
			fprintf(stderr, "mqadmin: note: --wait: no running broker reports on %s "
				"(DIR/audit/connected-*.json): nothing to wait for\n", dir);
			rc = 0;
			goto out;
		}
		if (!behind) {
			fprintf(stderr, "mqadmin: applied by %zu running broker%s in %.2f s (change %llu)\n",
				running, running == 1 ? "" : "s", mq_time_monotonic() - start,
				(unsigned long long)seq);
			rc = 0;
			goto out;
		}
		if (mq_time_monotonic() - start >= (double)secs)
			break;
		usleep(WAIT_POLL_MS * 1000);
	}
	for (size_t i = 0; i < n; i++) {
		if (!b[i].running || (b[i].has_seq && b[i].applied >= seq))
			continue;
		if (b[i].has_seq)
			cli_err("--wait: broker '%s' has not applied change %llu after %ld s (it is at %llu); "
				"the change is in the store and applies when it catches up",
				cli_escape(esc, sizeof(esc), b[i].instance), (unsigned long long)seq, secs,
				(unsigned long long)b[i].applied);
		else
			cli_err("--wait: broker '%s' does not report which change it applied "
				"(no \"applied_seq\" in its state file: a plugin without the policy store?)",
				cli_escape(esc, sizeof(esc), b[i].instance));
	}
	rc = 1;
out:
	free(b);
	return rc;
}

/* ---- the fleet: P brokers/INSTANCE in etcd, under each sync's lease ---------------- */

/* One live broker as its sync reports it. */
struct wait_fleet_broker {
	char instance[MQ_NAME_MAX + 1];
	int64_t applied;
	bool live; /* its key is there now */
	bool done; /* it reported the revision */
};

struct wait_fleet {
	struct wait_fleet_broker *b;
	size_t n;
	int64_t rev;
};

static int wait_fleet_one(void *arg, const struct etcd_kv *kv)
{
	struct wait_fleet *w = arg;
	cJSON *doc = kv->value ? cJSON_ParseWithLength(kv->value, kv->vlen) : NULL;
	const cJSON *inst = cJSON_GetObjectItemCaseSensitive(doc, "instance");
	const cJSON *rev = cJSON_GetObjectItemCaseSensitive(doc, "applied_rev");
	struct wait_fleet_broker *b = NULL;
	const char *name = strrchr(kv->key, '/') ? strrchr(kv->key, '/') + 1 : kv->key;

	if (cJSON_IsString(inst) && mq_name_valid(inst->valuestring))
		name = inst->valuestring;
	for (size_t i = 0; i < w->n && !b; i++)
		if (!strcmp(w->b[i].instance, name))
			b = &w->b[i];
	if (!b) {
		struct wait_fleet_broker *nb = realloc(w->b, (w->n + 1) * sizeof(*nb));

		if (!nb) {
			cJSON_Delete(doc);
			return -1;
		}
		w->b = nb;
		b = &nb[w->n++];
		memset(b, 0, sizeof(*b));
		snprintf(b->instance, sizeof(b->instance), "%s", name);
	}
	b->live = true;
	b->applied = cJSON_IsNumber(rev) ? (int64_t)rev->valuedouble : 0;
	b->done = b->done || b->applied >= w->rev;
	cJSON_Delete(doc);
	return 0;
}

int wait_fleet(struct etcd *e, const char *prefix, int64_t rev, long secs)
{
	struct wait_fleet w = {.rev = rev};
	struct etcd_range_req r = {.range_end = ""};
	char err[1024], esc[CLI_ESCAPE_SIZE(MQ_NAME_MAX)], *key = NULL;
	double start = mq_time_monotonic();
	int64_t at;
	size_t live, behind, lost;
	int rc = -1;

	if (!rev)
		return 0; /* nothing was committed */
	if (asprintf(&key, "%sbrokers/", prefix) < 0) {
		cli_err("--wait: out of memory");
		return -1;
	}
	r.key = key;
	for (;;) {
		for (size_t i = 0; i < w.n; i++)
			w.b[i].live = false;
		if (etcd_range_each(e, &r, 1000, wait_fleet_one, &w, &at, err, sizeof(err))) {
			cli_err("--wait: cannot read which brokers applied revision %" PRId64 ": %s",
				rev, err);
			goto out;
		}
		live = behind = lost = 0;
		for (size_t i = 0; i < w.n; i++) {
			live += w.b[i].live;
			behind += w.b[i].live && !w.b[i].done;
			lost += !w.b[i].live && !w.b[i].done;
		}
		if (!w.n) {
			fprintf(stderr, "mqadmin: note: --wait: no live broker reports in etcd "
				"(%sbrokers/): nothing to wait for\n", prefix);
			rc = 0;
			goto out;
		}
		if (!behind && !lost) {
			fprintf(stderr, "mqadmin: applied by %zu live broker%s in %.2f s (revision %"
				PRId64 ")\n", live, live == 1 ? "" : "s", mq_time_monotonic() - start, rev);
			rc = 0;
			goto out;
		}
		if (!behind || mq_time_monotonic() - start >= (double)secs)
			break;
		usleep(WAIT_POLL_MS * 1000);
	}
	for (size_t i = 0; i < w.n; i++) {
		if (w.b[i].done)
			continue;
		if (w.b[i].live)
			cli_err("--wait: broker '%s' has not applied revision %" PRId64 " after %ld s "
				"(it is at %" PRId64 "); the change is in etcd and applies when its "
				"sync catches up", cli_escape(esc, sizeof(esc), w.b[i].instance), rev,
				secs, w.b[i].applied);
		else
			cli_err("--wait: broker '%s' stopped reporting before it applied revision %"
				PRId64 " (its sync's lease ended: the sync stopped or lost etcd); "
				"check 'mqadmin sync' beside it", cli_escape(esc, sizeof(esc),
									   w.b[i].instance), rev);
	}
	rc = 1;
out:
	free(w.b);
	free(key);
	return rc;
}

int wait_fleet_after(uint64_t seq, long secs)
{
	struct etcd *e = NULL;
	char err[1024];
	/* The revision of this command's etcd transaction (not P meta/txn
	 * read again, which may be a later administrator's). */
	int64_t rev = fleet_txn_rev();
	int rc;

	if (!seq || !rev)
		return 0; /* nothing was committed to the fleet: nothing to wait for */
	if (fleet_connect(&e, err, sizeof(err))) {
		cli_err("--wait: %s", err);
		return -1;
	}
	rc = wait_fleet(e, fleet_prefix(), rev, secs);
	etcd_free(e);
	return rc;
}
