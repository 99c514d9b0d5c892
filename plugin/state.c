/* Who is connected now, as a file mqadmin can read without talking to the
 * broker (written atomically from TICK, at most once a second and only when
 * something changed, plus a heartbeat so a stale file can be told apart), and
 * the watch for cloned certificates: one certificate live from two addresses
 * at once, or taking over its own session again and again from different
 * addresses, is the signature of a copied device key. */
#include "mqcert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "mq_fileio.h"
#include "mq_strmap.h"
#include "mq_time.h"

#define STATE_HEARTBEAT 300  /* seconds: rewritten at least this often */
#define CLONE_WINDOW 600     /* seconds */
#define CLONE_TAKEOVERS 3    /* takeovers from other addresses within the window */
#define CLONE_MAX_ADDRS 8    /* addresses remembered per suspected certificate */
#define CLONE_RELOG 600      /* seconds before the same suspicion is logged again */

/* One certificate (fingerprint) that is connected or under suspicion. */
struct st_fpr {
	char fingerprint[MQ_FPR_LEN];
	const struct mosquitto **conns; /* live clients with this certificate */
	size_t nconns, capconns;
	time_t takeovers[CLONE_TAKEOVERS]; /* latest first */
	bool suspected;
	time_t suspected_at, logged_at;
	char *device;
	char serial[MQ_SERIAL_LEN];
	char *addrs[CLONE_MAX_ADDRS];
	size_t naddrs;
	struct st_fpr *prev, *next;
};

struct mqstate {
	char *path; /* NULL: no file */
	bool dirty;
	/* The store sequence in force; a change is written at the next tick,
	 * whatever the once-a-second limit says: mqadmin --wait reads it. */
	uint64_t applied_seq;
	bool applied_dirty;
	bool failing;
	struct timespec last_write;
	time_t last_write_at; /* the same, wall clock: the idle check */
	time_t last_gc;
	char host[256];
	struct mq_strmap by_fpr;
	struct st_fpr *head;
};

/* ---- the clone watch ---------------------------------------------------- */

static struct st_fpr *st_fpr_get(struct mqstate *s, const char *fpr)
{
	struct st_fpr *e = mq_strmap_get(&s->by_fpr, fpr);

	if (e)
		return e;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	snprintf(e->fingerprint, sizeof(e->fingerprint), "%s", fpr);
	if (mq_strmap_put(&s->by_fpr, e->fingerprint, e)) {
		free(e);
		return NULL;
	}
	e->next = s->head;
	if (e->next)
		e->next->prev = e;
	s->head = e;
	return e;
}

static void st_fpr_free(struct mqstate *s, struct st_fpr *e)
{
	mq_strmap_del(&s->by_fpr, e->fingerprint);
	if (e->prev)
		e->prev->next = e->next;
	else
		s->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	for (size_t i = 0; i < e->naddrs; i++)
		free(e->addrs[i]);
	free(e->device);
	free(e->conns);
	free(e);
}

/* Nothing worth remembering: not connected, not suspected, no recent
 * takeovers. */
static bool st_fpr_idle(const struct st_fpr *e, time_t now)
{
	return !e->nconns && !e->suspected && (!e->takeovers[0] ||
					       now - e->takeovers[0] > CLONE_WINDOW);
}

static void st_note_addr(struct st_fpr *e, const char *addr)
{
	for (size_t i = 0; i < e->naddrs; i++)
		if (!strcmp(e->addrs[i], addr))
			return;
	if (e->naddrs < CLONE_MAX_ADDRS && (e->addrs[e->naddrs] = strdup(addr)))
		e->naddrs++;
}

static void st_remove_conn(struct st_fpr *e, size_t i)
{
	e->conns[i] = e->conns[--e->nconns];
}

static unsigned st_recent_takeovers(const struct st_fpr *e, time_t now)
{
	unsigned n = 0;

	for (size_t i = 0; i < CLONE_TAKEOVERS; i++)
		if (e->takeovers[i] && now - e->takeovers[i] <= CLONE_WINDOW)
			n++;
	return n;
}

static void st_suspect(struct mqcert *st, struct st_fpr *e, struct mqclients_rec *r,
		       const char *kind, unsigned takeovers, const char *other, time_t now)
{
	bool fresh = !e->suspected;

	if (!e->suspected) {
		e->suspected = true;
		e->suspected_at = now;
		mqmet_clone(&st->met);
		free(e->device);
		e->device = strdup(r->device);
		memcpy(e->serial, r->serial, sizeof(e->serial));
		st->state->dirty = true;
	}
	if (!fresh && now - e->logged_at < CLONE_RELOG)
		return;
	e->logged_at = now;
	mqaudit_clone(st->audit, r, kind, e->addrs, e->naddrs, takeovers);
	if (takeovers)
		mqlog(MOSQ_LOG_WARNING, "WARNING: possible cloned certificate: device '%s' (serial %s, "
		      "fingerprint %.16s) took over its own session %u times within %d minutes from "
		      "different addresses (latest from %s)", r->device, r->serial, r->fingerprint,
		      takeovers, CLONE_WINDOW / 60, r->address);
	else
		mqlog(MOSQ_LOG_WARNING, "WARNING: possible cloned certificate: device '%s' (serial %s, "
		      "fingerprint %.16s) is connected from two addresses at once (client '%s' from "
		      "%s, and another from %s)", r->device, r->serial, r->fingerprint,
		      r->client_id, r->address, other);
}

/* ---- the file --------------------------------------------------------------- */

static bool st_add_time(cJSON *o, const char *key, time_t t)
{
	char ts[MQ_TIME_LEN];

	if (mq_time_format(t, ts))
		return cJSON_AddNullToObject(o, key) != NULL;
	return cJSON_AddStringToObject(o, key, ts) != NULL;
}

static cJSON *st_addrs_json(const struct st_fpr *e)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; arr && i < e->naddrs; i++) {
		cJSON *s = cJSON_CreateString(e->addrs[i]);

		if (!s || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			cJSON_Delete(arr);
			return NULL;
		}
	}
	return arr;
}

static cJSON *st_client_json(const struct mqstate *s, const struct mqclients_rec *r)
{
	const struct st_fpr *e = mq_strmap_get(&s->by_fpr, r->fingerprint);
	cJSON *o = cJSON_CreateObject(), *addrs;

	if (!o || !cJSON_AddStringToObject(o, "device", r->device) ||
	    !cJSON_AddStringToObject(o, "username", r->username) ||
	    !cJSON_AddStringToObject(o, "client_id", r->client_id) ||
	    !cJSON_AddStringToObject(o, "address", r->address) ||
	    !cJSON_AddStringToObject(o, "identity", r->identity) ||
	    !cJSON_AddStringToObject(o, "serial", r->serial) ||
	    !cJSON_AddStringToObject(o, "fingerprint", r->fingerprint) ||
	    !st_add_time(o, "not_after", r->not_after) || !st_add_time(o, "since", r->since))
		goto fail;
	if (e && e->suspected) {
		if (!cJSON_AddTrueToObject(o, "clone_suspected") || !(addrs = st_addrs_json(e)) ||
		    !cJSON_AddItemToObject(o, "clone_addresses", addrs))
			goto fail;
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static cJSON *st_clone_json(const struct st_fpr *e)
{
	cJSON *o = cJSON_CreateObject(), *addrs = NULL;

	if (!o || !cJSON_AddStringToObject(o, "device", e->device ? e->device : "?") ||
	    !cJSON_AddStringToObject(o, "serial", e->serial) ||
	    !cJSON_AddStringToObject(o, "fingerprint", e->fingerprint) ||
	    !st_add_time(o, "since", e->suspected_at) || !(addrs = st_addrs_json(e)) ||
	    !cJSON_AddItemToObject(o, "addresses", addrs)) {
		cJSON_Delete(addrs);
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* The document; running false: the broker is stopping (no clients). */
static char *st_render(const struct mqcert *st, bool running, time_t now)
{
	const struct mqstate *s = st->state;
	cJSON *doc = cJSON_CreateObject(), *clients, *clones;
	char *text = NULL;

	if (!doc || !cJSON_AddNumberToObject(doc, "version", 1) ||
	    !st_add_time(doc, "updated", now) ||
	    !cJSON_AddNumberToObject(doc, "broker_pid", (double)getpid()) ||
	    !cJSON_AddStringToObject(doc, "host", s->host) ||
	    !cJSON_AddStringToObject(doc, "instance", st->opt.instance) ||
	    !cJSON_AddBoolToObject(doc, "running", running) ||
	    !cJSON_AddNumberToObject(doc, "applied_seq", (double)s->applied_seq) ||
	    !(clients = cJSON_AddArrayToObject(doc, "clients")) ||
	    !(clones = cJSON_AddArrayToObject(doc, "suspected_clones")))
		goto out;
	for (const struct mqclients_rec *r = st->clients.head; running && r; r = r->next) {
		cJSON *o;

		if (r->deferred)
			continue;
		o = st_client_json(s, r);
		if (!o || !cJSON_AddItemToArray(clients, o)) {
			cJSON_Delete(o);
			goto out;
		}
	}
	for (const struct st_fpr *e = s->head; e; e = e->next) {
		cJSON *o;

		if (!e->suspected)
			continue;
		o = st_clone_json(e);
		if (!o || !cJSON_AddItemToArray(clones, o)) {
			cJSON_Delete(o);
			goto out;
		}
	}
	text = cJSON_Print(doc);
out:
	cJSON_Delete(doc);
	return text;
}

static void st_write(struct mqcert *st, bool running, time_t now)
{
	struct mqstate *s = st->state;
	char *text = st_render(st, running, now);
	char err[512];
	size_t len;

	if (!text) {
		mqlog(MOSQ_LOG_ERR, "state file %s: out of memory", s->path);
		return;
	}
	len = strlen(text);
	text[len++] = '\n'; /* replaces the NUL; cJSON_Print leaves no newline */
	/* No fsync: it would stall the broker thread for the disk's latency,
	 * and who is connected means nothing after a crash anyway. */
	if (mq_file_replace_fast(s->path, text, len, 0640, err, sizeof(err))) {
		if (!s->failing)
			mqlog(MOSQ_LOG_ERR, "state file %s: %s; retrying every second", s->path, err);
		s->failing = true;
	} else {
		if (s->failing)
			mqlog(MOSQ_LOG_NOTICE, "state file %s: writing again", s->path);
		s->failing = false;
		s->dirty = false;
		s->applied_dirty = false;
	}
	cJSON_free(text);
}

/* ---- public ----------------------------------------------------------------- */

int mqstate_open(struct mqcert *st)
{
	struct mqstate *s = calloc(1, sizeof(*s));

	if (!s)
		return -1;
	if (st->opt.state_path && !(s->path = strdup(st->opt.state_path))) {
		free(s);
		return -1;
	}
	if (gethostname(s->host, sizeof(s->host) - 1))
		strcpy(s->host, "?");
	mq_strmap_init(&s->by_fpr);
	s->dirty = true; /* replace a file left by an earlier run at once */
	st->state = s;
	return 0;
}

void mqstate_close(struct mqcert *st)
{
	struct mqstate *s = st->state;

	if (!s)
		return;
	if (s->path)
		st_write(st, false, time(NULL));
	while (s->head)
		st_fpr_free(s, s->head);
	mq_strmap_release(&s->by_fpr);
	free(s->path);
	free(s);
	st->state = NULL;
}

void mqstate_connect(struct mqcert *st, struct mqclients_rec *r, time_t now)
{
	struct mqstate *s = st->state;
	struct st_fpr *e;
	size_t i = 0;

	if (!s)
		return;
	s->dirty = true;
	e = st_fpr_get(s, r->fingerprint);
	if (!e)
		return; /* out of memory: only the clone watch misses this one */
	while (i < e->nconns) {
		struct mqclients_rec *o = e->conns[i] == r->client ? NULL :
			mqclients_find(&st->clients, e->conns[i]);

		if (!o) {
			/* Our own record (a re-run of BASIC_AUTH) or one that
			 * went without a DISCONNECT. */
			st_remove_conn(e, i);
			continue;
		}
		i++;
		if (!strcmp(o->client_id, r->client_id)) {
			/* The broker closes o right after this callback. A
			 * device that changed networks does this once; a
			 * cloned key fights for the session again and again. */
			o->leaving = "takeover";
			if (!strcmp(o->address, r->address))
				continue;
			st_note_addr(e, o->address);
			st_note_addr(e, r->address);
			memmove(e->takeovers + 1, e->takeovers,
				sizeof(e->takeovers) - sizeof(e->takeovers[0]));
			e->takeovers[0] = now;
			if (st_recent_takeovers(e, now) >= CLONE_TAKEOVERS)
				st_suspect(st, e, r, "takeovers", st_recent_takeovers(e, now),
					   o->address, now);
		} else if (strcmp(o->address, r->address)) {
			st_note_addr(e, o->address);
			st_note_addr(e, r->address);
			st_suspect(st, e, r, "concurrent", 0, o->address, now);
		}
	}
	if (e->nconns == e->capconns) {
		size_t cap = e->capconns ? e->capconns * 2 : 2;
		const struct mosquitto **c = realloc(e->conns, cap * sizeof(*c));

		if (!c)
			return;
		e->conns = c;
		e->capconns = cap;
	}
	e->conns[e->nconns++] = r->client;
}

void mqstate_disconnect(struct mqcert *st, const struct mosquitto *client)
{
	struct mqstate *s = st->state;
	const struct mqclients_rec *r = mqclients_find(&st->clients, client);
	struct st_fpr *e;

	if (!s || !r || r->deferred)
		return;
	s->dirty = true;
	e = mq_strmap_get(&s->by_fpr, r->fingerprint);
	if (!e)
		return;
	for (size_t i = 0; i < e->nconns; i++) {
		if (e->conns[i] == client) {
			st_remove_conn(e, i);
			break;
		}
	}
	if (st_fpr_idle(e, time(NULL)))
		st_fpr_free(s, e);
}

void mqstate_applied(struct mqcert *st, uint64_t seq)
{
	struct mqstate *s = st->state;

	if (!s || s->applied_seq == seq)
		return;
	s->applied_seq = seq;
	s->applied_dirty = s->dirty = true;
}

void mqstate_tick(struct mqcert *st, time_t now)
{
	struct mqstate *s = st->state;
	struct timespec t;
	long long ms;

	if (!s)
		return;
	if (now - s->last_gc >= 60) {
		struct st_fpr *e = s->head, *next;

		s->last_gc = now;
		for (; e; e = next) {
			next = e->next;
			if (st_fpr_idle(e, now))
				st_fpr_free(s, e);
		}
	}
	if (!s->path)
		return;
	/* The idle TICK: nothing changed and the heartbeat is not due. */
	if (!s->dirty && now - s->last_write_at < STATE_HEARTBEAT)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t);
	ms = ((long long)t.tv_sec - s->last_write.tv_sec) * 1000 +
	     (t.tv_nsec - s->last_write.tv_nsec) / 1000000;
	if (s->last_write.tv_sec && ms < 1000 && !s->applied_dirty)
		return;
	if (!s->dirty && ms < STATE_HEARTBEAT * 1000LL)
		return;
	s->last_write = t;
	s->last_write_at = now;
	st_write(st, true, now);
}
