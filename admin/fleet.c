/* The fleet's policy in etcd (fleet.h, docs/FLEET.md): the key layout,
 * applying etcd's keys to a local store and pushing a command's local
 * changes to etcd as one revision-checked transaction. */
#include "fleet.h"

#include "cli.h"
#include "out.h"
#include "mq_fileio.h"
#include "mq_err.h"
#include "mq_policy.h"
#include "mq_x509.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* ---- configuration ------------------------------------------------------- */

static int64_t fleet_last_rev; /* the revision of this process's last etcd transaction */

int64_t fleet_txn_rev(void)
{
	return fleet_last_rev;
}

static struct {
	char *endpoints, *prefix, *cacert, *cert, *key, *user, *pwfile;
} fleet_cfg;

static int fleet_set(char **dst, const char *v)
{
	char *n;

	if (!v)
		return 0;
	if (!(n = strdup(v)))
		return -1;
	free(*dst);
	*dst = n;
	return 0;
}

int fleet_configure(const struct fleet_cfg *c)
{
	if (fleet_set(&fleet_cfg.endpoints, c->endpoints) || fleet_set(&fleet_cfg.prefix, c->prefix) ||
	    fleet_set(&fleet_cfg.cacert, c->cacert) || fleet_set(&fleet_cfg.cert, c->cert) ||
	    fleet_set(&fleet_cfg.key, c->key) || fleet_set(&fleet_cfg.user, c->user) ||
	    fleet_set(&fleet_cfg.pwfile, c->password_file)) {
		cli_err("out of memory");
		return -1;
	}
	if (fleet_cfg.endpoints && !*fleet_cfg.endpoints) {
		free(fleet_cfg.endpoints);
		fleet_cfg.endpoints = NULL;
	}
	return 0;
}

bool fleet_enabled(void)
{
	return fleet_cfg.endpoints != NULL;
}

const char *fleet_prefix(void)
{
	return fleet_cfg.prefix && *fleet_cfg.prefix ? fleet_cfg.prefix : FLEET_PREFIX_DEFAULT;
}

int fleet_connect(struct etcd **e, char *err, size_t errlen)
{
	struct etcd_opts o = {fleet_cfg.endpoints, fleet_cfg.cacert, fleet_cfg.cert, fleet_cfg.key, 0,
			      fleet_cfg.user, fleet_cfg.pwfile};

	return etcd_new(e, &o, err, errlen);
}

/* ---- key layout ---------------------------------------------------------- */

char *fleet_key(const char *prefix, const char *rel)
{
	char *k = NULL;

	if (asprintf(&k, "%s%s", prefix, rel) < 0)
		return NULL;
	return k;
}

int fleet_policy_range(const char *prefix, char **key, char **end)
{
	*key = fleet_key(prefix, "crl.pem");
	*end = fleet_key(prefix, "rules0"); /* '0' follows '/' */
	if (!*key || !*end) {
		free(*key);
		free(*end);
		return -1;
	}
	return 0;
}

enum fleet_kind fleet_key_kind(const char *prefix, const char *key, const char **rest)
{
	static const struct {
		const char *sub;
		enum fleet_kind kind;
	} subs[] = {{"devices/", FLEET_DEVICE},	  {"rules/", FLEET_RULE},
		    {"meta/", FLEET_META},	  {"brokers/", FLEET_BROKER},
		    {"connected/", FLEET_CONNECTED}};
	size_t pl = strlen(prefix);

	*rest = key;
	if (strncmp(key, prefix, pl))
		return FLEET_OTHER;
	key += pl;
	if (!strcmp(key, "crl.pem")) {
		*rest = key;
		return FLEET_CRL;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		size_t sl = strlen(subs[i].sub);

		if (!strncmp(key, subs[i].sub, sl)) {
			*rest = key + sl;
			return subs[i].kind;
		}
	}
	*rest = key;
	return FLEET_OTHER;
}

/* The local meta key holding the etcd mod revision of P rel. */
static int fleet_rev_key(char *buf, size_t len, const char *rel)
{
	return (size_t)snprintf(buf, len, "etcd:%s", rel) < len ? 0 : -1;
}

void fleet_result_free(struct fleet_result *r)
{
	free(r->crl_pem);
	memset(r, 0, sizeof(*r));
}

/* ---- etcd -> local store ------------------------------------------------- */

static void fleet_skip(struct fleet_result *res, const char *key, const char *why)
{
	char k[CLI_ESCAPE_SIZE(256)], w[CLI_ESCAPE_SIZE(512)];

	out_warn("etcd key %s: %s; skipped, not applied (fix or delete the "
		"key in etcd)", cli_escape(k, sizeof(k), key), cli_escape(w, sizeof(w), why));
	res->skipped++;
}

static int fleet_parse_u64(const char *s, size_t len, uint64_t *v)
{
	char buf[32], *end;

	if (!len || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (buf[0] < '0' || buf[0] > '9')
		return -1;
	*v = strtoull(buf, &end, 10);
	return *end ? -1 : 0;
}

static int fleet_set_rev(struct mq_store *db, const char *rel, int64_t rev, char *err,
			 size_t errlen)
{
	char rk[600];

	if (fleet_rev_key(rk, sizeof(rk), rel))
		return 0; /* a name too long for a meta key: no compare, still safe */
	return mq_store_meta_set(db, rk, (uint64_t)(rev > 0 ? rev : 0), err, errlen);
}

static int fleet_apply_device(struct mq_store *db, const struct etcd_event *ev, const char *name,
			      struct fleet_result *res, char *err, size_t errlen)
{
	char why[512];
	struct mq_device *d;
	int rc;

	if (ev->type == ETCD_EV_DELETE) {
		if (mq_store_delete_device(db, name, err, errlen) < 0)
			return -1;
		res->applied++;
		return 0;
	}
	if (!(d = mq_device_parse(ev->kv.value, ev->kv.vlen, why, sizeof(why)))) {
		fleet_skip(res, ev->kv.key, why);
		return 1;
	}
	if (strcmp(d->name, name)) {
		mq_device_free(d);
		fleet_skip(res, ev->kv.key, "the record names another device");
		return 1;
	}
	rc = mq_store_put_device(db, d, why, sizeof(why));
	mq_device_free(d);
	if (rc) {
		fleet_skip(res, ev->kv.key, why);
		return 1;
	}
	res->applied++;
	return 0;
}

static int fleet_apply_rule(struct mq_store *db, const struct etcd_event *ev, const char *id_s,
			    struct fleet_result *res, char *err, size_t errlen)
{
	char why[512];
	struct mq_policy *p;
	uint64_t id;
	int rc = 1;

	if (fleet_parse_u64(id_s, strlen(id_s), &id) || !id) {
		fleet_skip(res, ev->kv.key, "not a rule id (decimal)");
		return 1;
	}
	if (ev->type == ETCD_EV_DELETE) {
		if (mq_store_delete_rule(db, (unsigned long)id, err, errlen) < 0)
			return -1;
		res->applied++;
		return 0;
	}
	if (!(p = mq_policy_new())) {
		mq_errf(err, errlen, "out of memory");
		return -1;
	}
	if (mq_policy_read_rule_json(p, ev->kv.value, ev->kv.vlen, why, sizeof(why))) {
		fleet_skip(res, ev->kv.key, why);
	} else if (p->nrules != 1 || p->rules[0]->id != id) {
		fleet_skip(res, ev->kv.key, "the record's id is not the key's");
	} else if (mq_store_put_rule(db, p->rules[0], err, errlen)) {
		rc = -1;
	} else {
		res->applied++;
		rc = 0;
	}
	mq_policy_free(p);
	return rc;
}

static int fleet_apply_meta(struct mq_store *db, const struct etcd_event *ev, const char *key,
			    struct fleet_result *res, char *err, size_t errlen)
{
	char why[512];
	uint64_t v, cur = 0;

	if (!strcmp(key, "txn"))
		/* The marker of the last mqadmin transaction: its revision is
		 * recorded (etcd:meta/txn) to notice an etcd that went back. */
		return ev->type == ETCD_EV_PUT ? 0 : 1;
	if (!strcmp(key, "ca_fingerprint"))
		return 1; /* checked against DIR/ca.crt (fleet_check_ca), not stored */
	if (!strcmp(key, "epoch")) {
		/* Which reseed the policy comes from: a sync follows an etcd
		 * that went back in revisions only into a new epoch. */
		if (ev->type == ETCD_EV_DELETE)
			v = 0;
		else if (fleet_parse_u64(ev->kv.value, ev->kv.vlen, &v)) {
			fleet_skip(res, ev->kv.key, "not a decimal number");
			return 1;
		}
		return mq_store_meta_set(db, "epoch", v, err, errlen) ? -1 : 0;
	}
	if (!strcmp(key, "deleted")) {
		struct mq_policy *p;
		int bad;

		if (ev->type == ETCD_EV_DELETE)
			return mq_store_meta_set_text(db, "deleted", NULL, err, errlen) ||
			       mq_store_log(db, 'C', "deleted", err, errlen) ? -1 : 0;
		if (!(p = mq_policy_new())) {
			mq_errf(err, errlen, "out of memory");
			return -1;
		}
		bad = mq_policy_read_deleted_json(p, ev->kv.value, ev->kv.vlen, why, sizeof(why));
		mq_policy_free(p);
		if (bad) {
			fleet_skip(res, ev->kv.key, why);
			return 1;
		}
		{
			char *cur_text = NULL;
			size_t cur_len = 0;
			bool same = !mq_store_meta_get_text(db, "deleted", &cur_text, &cur_len) &&
				    cur_text && cur_len == ev->kv.vlen &&
				    !memcmp(cur_text, ev->kv.value, cur_len);

			free(cur_text);
			if (same)
				return 0;
		}
		if (mq_store_meta_set_text(db, "deleted", ev->kv.value, err, errlen) ||
		    mq_store_log(db, 'C', "deleted", err, errlen))
			return -1;
		res->applied++;
		return 0;
	}
	if (strcmp(key, "crl_number") && strcmp(key, "next_rule_id")) {
		fleet_skip(res, ev->kv.key, "not a meta key mqcert knows");
		return 1;
	}
	if (ev->type == ETCD_EV_DELETE)
		return 0; /* counters never go down */
	if (fleet_parse_u64(ev->kv.value, ev->kv.vlen, &v)) {
		fleet_skip(res, ev->kv.key, "not a decimal number");
		return 1;
	}
	mq_store_meta_get(db, key, &cur);
	if (v <= cur)
		return 0; /* never down: a CRL number once signed is not reused */
	if (mq_store_meta_set(db, key, v, err, errlen) ||
	    (!strcmp(key, "crl_number") && mq_store_log(db, 'C', "crl", err, errlen)))
		return -1;
	res->applied++;
	return 0;
}

int fleet_apply(struct mq_store *db, const char *prefix, const struct etcd_event *ev, size_t n,
		int64_t rev, struct fleet_result *res, char *err, size_t errlen)
{
	int rc = -1;

	if (mq_store_write_begin(db, err, errlen))
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *rest;
		enum fleet_kind k = fleet_key_kind(prefix, ev[i].kv.key, &rest);
		const char *rel = ev[i].kv.key + strlen(prefix);
		int r;

		switch (k) {
		case FLEET_DEVICE:
			r = fleet_apply_device(db, &ev[i], rest, res, err, errlen);
			break;
		case FLEET_RULE:
			r = fleet_apply_rule(db, &ev[i], rest, res, err, errlen);
			break;
		case FLEET_META:
			r = fleet_apply_meta(db, &ev[i], rest, res, err, errlen);
			break;
		case FLEET_CRL:
			free(res->crl_pem);
			res->crl_pem = NULL;
			res->crl_len = 0;
			if (ev[i].type == ETCD_EV_PUT) {
				if (!(res->crl_pem = strdup(ev[i].kv.value))) {
					mq_errf(err, errlen, "out of memory");
					goto out;
				}
				res->crl_len = ev[i].kv.vlen;
			}
			r = 0;
			break;
		default:
			continue; /* brokers/, connected/: not the policy */
		}
		if (r < 0)
			goto out;
		if (r == 0 && fleet_set_rev(db, rel, ev[i].type == ETCD_EV_DELETE ? 0 : ev[i].kv.mod_rev,
					    err, errlen))
			goto out;
	}
	if (rev > 0 && (mq_store_meta_set(db, "etcd_rev", (uint64_t)rev, err, errlen) ||
			mq_store_meta_set_text(db, "etcd_prefix", prefix, err, errlen)))
		goto out;
	if (mq_store_write_commit(db, NULL, err, errlen))
		goto out;
	return 0;
out:
	mq_store_write_abort(db);
	return rc;
}

/* ---- event lists ---------------------------------------------------------- */

struct fleet_events {
	struct etcd_event *v;
	size_t n, cap;
	size_t read; /* keys read from etcd */
	int64_t until; /* watch: stop at this revision */
};

static void fleet_events_free(struct fleet_events *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].kv.key);
		free(l->v[i].kv.value);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int fleet_events_add(struct fleet_events *l, int type, const struct etcd_kv *kv)
{
	struct etcd_event *e;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct etcd_event *nv = realloc(l->v, cap * sizeof(*nv));

		if (!nv)
			return -1;
		l->v = nv;
		l->cap = cap;
	}
	e = &l->v[l->n];
	e->type = type;
	e->kv = *kv;
	e->kv.key = strdup(kv->key);
	e->kv.value = kv->value ? malloc(kv->vlen + 1) : strdup("");
	if (!e->kv.key || !e->kv.value) {
		free(e->kv.key);
		free(e->kv.value);
		return -1;
	}
	if (kv->value) {
		memcpy(e->kv.value, kv->value, kv->vlen);
		e->kv.value[kv->vlen] = '\0';
	}
	l->n++;
	return 0;
}

static int fleet_collect_kv(void *arg, const struct etcd_kv *kv)
{
	struct fleet_events *l = arg;

	l->read++;
	return fleet_events_add(l, ETCD_EV_PUT, kv) ? -1 : 0;
}

static int fleet_collect_watch(void *arg, const struct etcd_event *ev, size_t n, int64_t rev)
{
	struct fleet_events *l = arg;
	bool done = false;

	(void)rev;
	for (size_t i = 0; i < n; i++) {
		l->read++;
		if (fleet_events_add(l, ev[i].type, &ev[i].kv))
			return -1;
		if (ev[i].kv.mod_rev >= l->until)
			done = true;
	}
	return done ? 1 : 0;
}

/* ---- resync -------------------------------------------------------------- */

struct fleet_gone {
	const struct fleet_events *have;
	const char *prefix;
	struct fleet_events *out;
	const char *sub;
	int rc;
};

static int fleet_cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, ((const struct etcd_event *)b)->kv.key);
}

static int fleet_mark_gone(struct fleet_gone *g, const char *rel)
{
	char *key = fleet_key(g->prefix, rel);
	struct etcd_kv kv = {0};
	int rc = 0;

	if (!key)
		return -1;
	/* etcd returns keys in byte order: bsearch them. */
	if (!bsearch(&key, g->have->v, g->have->n, sizeof(*g->have->v), fleet_cmp_key)) {
		kv.key = key;
		rc = fleet_events_add(g->out, ETCD_EV_DELETE, &kv);
	}
	free(key);
	return rc;
}

static int fleet_gone_device(void *arg, const char *name, const char *json, size_t len)
{
	char rel[300];

	(void)json;
	(void)len;
	snprintf(rel, sizeof(rel), "devices/%s", name);
	return fleet_mark_gone(arg, rel);
}

static int fleet_gone_rule(void *arg, unsigned long id, const char *json, size_t len)
{
	char rel[64];

	(void)json;
	(void)len;
	snprintf(rel, sizeof(rel), "rules/%lu", id);
	return fleet_mark_gone(arg, rel);
}

enum fleet_push_mode { FLEET_PUSH_COMPARE, FLEET_PUSH_FRESH, FLEET_PUSH_FORCE };
static int fleet_seed(struct mq_store *db, struct etcd *e, const char *prefix,
		      enum fleet_push_mode mode);

int fleet_resync(struct mq_store *db, struct etcd *e, const char *prefix,
		 struct fleet_result *res, char *err, size_t errlen)
{
	struct fleet_events have = {0}, gone = {0};
	struct fleet_gone g = {&have, prefix, &gone, NULL, 0};
	struct etcd_range_req r = {0};
	char *key = NULL, *end = NULL;
	int64_t rev = 0;
	size_t local;
	int rc = -1;

	if (fleet_policy_range(prefix, &key, &end)) {
		mq_errf(err, errlen, "out of memory");
		return -1;
	}
	r.key = key;
	r.range_end = end;
	rc = etcd_range_each(e, &r, 1000, fleet_collect_kv, &have, &rev, err, errlen);
	if (rc)
		goto out;
	rc = -1;
	if (mq_store_read_begin(db, err, errlen))
		goto out;
	local = mq_store_device_count(db);
	if (!have.n && local && local != (size_t)-1) {
		mq_store_read_end(db);
		rc = fleet_seed(db, e, prefix, FLEET_PUSH_FRESH) ? -1 : 0;
		if (rc)
			mq_errf(err, errlen, "seeding etcd failed (see above)");
		goto out;
	}
	if (mq_store_devices_each(db, fleet_gone_device, &g, err, errlen) < 0 ||
	    mq_store_rules_each(db, fleet_gone_rule, &g, err, errlen) < 0) {
		mq_store_read_end(db);
		goto out;
	}
	mq_store_read_end(db);
	for (size_t i = 0; i < gone.n; i++)
		if (fleet_events_add(&have, gone.v[i].type, &gone.v[i].kv))
			goto out;
	if (getenv("MQADMIN_ETCD_DEBUG"))
		fprintf(stderr, "mqadmin: etcd: full resync at revision %" PRId64 ": %zu key(s) read, "
			"%zu local record(s) gone\n", rev, have.n - gone.n, gone.n);
	rc = fleet_apply(db, prefix, have.v, have.n, rev, res, err, errlen);
out:
	fleet_events_free(&have);
	fleet_events_free(&gone);
	free(key);
	free(end);
	return rc;
}

int fleet_marks_read(struct etcd *e, const char *prefix, struct fleet_marks *m, char *err,
		     size_t errlen)
{
	char *key = fleet_key(prefix, "meta/epoch"), *end = fleet_key(prefix, "meta/txo");
	struct etcd_range_req r = {.key = key, .range_end = end};
	struct etcd_kvs k = {0};
	int rc = -1;

	memset(m, 0, sizeof(*m));
	if (!key || !end) {
		mq_errf(err, errlen, "out of memory");
		goto out;
	}
	/* One read: P meta/epoch, meta/next_rule_id and meta/txn (the marker). */
	if ((rc = etcd_range(e, &r, &k, err, errlen)))
		goto out;
	m->rev = k.rev;
	m->read = k.n;
	for (size_t i = 0; i < k.n; i++) {
		const char *rel = k.v[i].key + strlen(prefix);

		if (!strcmp(rel, "meta/txn"))
			m->txn_rev = k.v[i].mod_rev;
		else if (!strcmp(rel, "meta/epoch") &&
			 fleet_parse_u64(k.v[i].value, k.v[i].vlen, &m->epoch))
			m->epoch = 0;
	}
out:
	etcd_kvs_free(&k);
	free(key);
	free(end);
	return rc;
}

bool fleet_went_back(const struct fleet_marks *m, uint64_t rev_seen, uint64_t txn_seen,
		     size_t ndev)
{
	return m->rev < (int64_t)rev_seen || (!m->txn_rev && ndev && ndev != (size_t)-1) ||
	       (txn_seen && m->txn_rev < (int64_t)txn_seen);
}

int fleet_catchup(struct mq_store *db, struct etcd *e, const char *prefix, size_t *keys_read,
		  char *err, size_t errlen)
{
	struct fleet_result res = {0};
	struct fleet_events l = {0};
	struct etcd_watch_req w = {0};
	struct fleet_marks m;
	char *key = NULL, *end = NULL;
	uint64_t from = 0, txn_seen = 0, epoch_seen = 0;
	size_t ndev;
	int rc = -1;

	if (keys_read)
		*keys_read = 0;
	if (fleet_policy_range(prefix, &key, &end)) {
		mq_errf(err, errlen, "out of memory");
		goto out;
	}
	if (mq_store_read_begin(db, err, errlen))
		goto out;
	mq_store_meta_get(db, "etcd_rev", &from);
	mq_store_meta_get(db, "etcd:meta/txn", &txn_seen);
	mq_store_meta_get(db, "epoch", &epoch_seen);
	ndev = mq_store_device_count(db);
	if (from) {
		/* A cache of another prefix (or one an import cleared) starts over. */
		char *was = NULL;
		size_t wl;

		if (mq_store_meta_get_text(db, "etcd_prefix", &was, &wl) || !was || strcmp(was, prefix))
			from = 0;
		free(was);
	}
	mq_store_read_end(db);
	if (!from)
		goto full;
	if ((rc = fleet_marks_read(e, prefix, &m, err, errlen)))
		goto out;
	/* An administrator reseeded etcd since this cache read it: the
	 * revisions this cache recorded mean nothing there any more. */
	if (m.epoch && m.epoch != epoch_seen) {
		fprintf(stderr, "mqadmin: note: etcd at %s was reseeded by an administrator (epoch %"
			PRIu64 "): reading the whole policy from etcd\n", etcd_endpoint_last(e), m.epoch);
		goto full;
	}
	/* Catching up from an etcd that went back would take its older
	 * policy for the truth, and writing would push only this command's
	 * keys into it. */
	if (fleet_went_back(&m, from, txn_seen, ndev)) {
		mq_errf(err, errlen, "etcd at %s holds an older policy under %s than this store last "
			"saw (etcd revision %" PRId64 ", last mqadmin transaction %" PRId64 "; this "
			"store saw revision %" PRIu64 ", transaction %" PRIu64 "): etcd was rebuilt or "
			"restored from a backup", etcd_endpoint_last(e), prefix, m.rev, m.txn_rev, from,
			txn_seen);
		rc = FLEET_REBUILT;
		goto out;
	}
	rc = -1;
	if (!m.txn_rev || m.txn_rev <= (int64_t)from) {
		rc = 0; /* nothing since: O(1) */
		l.read = m.read;
		goto out;
	}
	l.until = m.txn_rev;
	w.key = key;
	w.range_end = end;
	w.start_revision = (int64_t)from + 1;
	w.timeout_ms = 30000;
	rc = etcd_watch(e, &w, fleet_collect_watch, &l, NULL, err, errlen);
	if (rc == ETCD_COMPACTED) {
		fprintf(stderr, "mqadmin: note: etcd compacted its history past this store's revision "
			"%" PRIu64 ": reading the whole policy from etcd\n", from);
		goto full;
	}
	if (rc != 1) {
		if (!rc)
			mq_errf(err, errlen, "etcd at %s did not send the changes up to revision %" PRId64
				" within 30 s", etcd_endpoint_last(e), l.until);
		rc = rc ? rc : ETCD_ERR;
		goto out;
	}
	l.read++; /* the marker */
	if (getenv("MQADMIN_ETCD_DEBUG"))
		fprintf(stderr, "mqadmin: etcd: caught up from revision %" PRIu64 " to %" PRId64
			": %zu key(s) read\n", from, l.until, l.read);
	rc = fleet_apply(db, prefix, l.v, l.n, l.until, &res, err, errlen);
	goto out;
full:
	rc = fleet_resync(db, e, prefix, &res, err, errlen);
out:
	if (keys_read)
		*keys_read = l.read;
	fleet_result_free(&res);
	fleet_events_free(&l);
	free(key);
	free(end);
	return rc;
}

/* ---- local changes -> etcd ------------------------------------------------ */

struct fleet_keys {
	char **v;
	size_t n;
	bool all;
};

static int fleet_keys_add(struct fleet_keys *ks, const char *sub, const char *arg)
{
	char **nv, *k;

	if (asprintf(&k, "%s%s", sub, arg) < 0)
		return -1;
	if (!(nv = realloc(ks->v, (ks->n + 1) * sizeof(*nv)))) {
		free(k);
		return -1;
	}
	ks->v = nv;
	ks->v[ks->n++] = k;
	return 0;
}

static int fleet_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, each key once (a log names a key once per change). */
static void fleet_keys_unique(struct fleet_keys *ks)
{
	size_t o = 0;

	if (!ks->n)
		return;
	qsort(ks->v, ks->n, sizeof(*ks->v), fleet_cmp_str);
	for (size_t i = 1; i < ks->n; i++) {
		if (!strcmp(ks->v[i], ks->v[o]))
			free(ks->v[i]);
		else
			ks->v[++o] = ks->v[i];
	}
	ks->n = o + 1;
}

static int fleet_keys_change(void *arg, uint64_t seq, char kind, const char *key)
{
	struct fleet_keys *ks = arg;

	(void)seq;
	switch (kind) {
	case 'D':
		return fleet_keys_add(ks, "devices/", key);
	case 'R':
		return fleet_keys_add(ks, "rules/", key) || fleet_keys_add(ks, "meta/", "next_rule_id");
	case 'C':
		return fleet_keys_add(ks, "meta/", !strcmp(key, "crl") ? "crl_number" : key);
	case 'I':
		ks->all = true;
		return 0;
	default:
		return 0;
	}
}

static int fleet_keys_device(void *arg, const char *name, const char *json, size_t len)
{
	(void)json;
	(void)len;
	return fleet_keys_add(arg, "devices/", name);
}

static int fleet_keys_rule(void *arg, unsigned long id, const char *json, size_t len)
{
	char s[24];

	(void)json;
	(void)len;
	snprintf(s, sizeof(s), "%lu", id);
	return fleet_keys_add(arg, "rules/", s);
}

struct fleet_rule_find {
	unsigned long id;
	char *json;
};

static int fleet_rule_find(void *arg, unsigned long id, const char *json, size_t len)
{
	struct fleet_rule_find *f = arg;

	if (id != f->id)
		return 0;
	f->json = strndup(json, len);
	return 2;
}

/* The local value of rel in db's transaction: 0 (*val malloc'd), 1 absent, -1. */
static int fleet_local_value(struct mq_store *db, const char *rel, char **val, char *err,
			     size_t errlen)
{
	const char *json;
	size_t len;
	uint64_t v;
	int rc;

	*val = NULL;
	if (!strncmp(rel, "devices/", 8)) {
		rc = mq_store_device_json(db, rel + 8, &json, &len, err, errlen);
		if (rc)
			return rc;
		*val = strndup(json, len);
	} else if (!strncmp(rel, "rules/", 6)) {
		struct fleet_rule_find f = {strtoul(rel + 6, NULL, 10), NULL};

		if (mq_store_rules_each(db, fleet_rule_find, &f, err, errlen) < 0)
			return -1;
		if (!f.json)
			return 1;
		*val = f.json;
	} else if (!strcmp(rel, "meta/deleted")) {
		if (mq_store_meta_get_text(db, "deleted", val, &len))
			return -1;
		return *val ? 0 : 1;
	} else {
		if (mq_store_meta_get(db, rel + 5, &v))
			return 1;
		if (asprintf(val, "%" PRIu64, v) < 0)
			*val = NULL;
	}
	if (!*val) {
		mq_errf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* "device dev1" for devices/dev1. */
static void fleet_describe(const char *rel, char *buf, size_t len)
{
	char esc[CLI_ESCAPE_SIZE(256)];

	if (!strncmp(rel, "devices/", 8))
		snprintf(buf, len, "device %s", cli_escape(esc, sizeof(esc), rel + 8));
	else if (!strncmp(rel, "rules/", 6))
		snprintf(buf, len, "rule %s", cli_escape(esc, sizeof(esc), rel + 6));
	else
		snprintf(buf, len, "the fleet's %s", cli_escape(esc, sizeof(esc), rel + 5));
}

/* Tests only (tests/cli/t0330): $MQADMIN_ETCD_TEST_HOLD names a file this
 * run creates once it has read the cache and built its transaction, then
 * waits (up to 30 s) for the test to remove it: another administrator's
 * change can land in between, deterministically. */
static void fleet_test_hold(void)
{
	const char *f = getenv("MQADMIN_ETCD_TEST_HOLD");
	FILE *fp;

	if (!f || !*f || !(fp = fopen(f, "w")))
		return;
	fclose(fp);
	for (int i = 0; i < 300 && !access(f, F_OK); i++)
		usleep(100000);
}

/* FLEET_PUSH_FRESH (seeding): every key must be absent from etcd, whatever
 * revisions the cache recorded (from another prefix). FLEET_PUSH_FORCE
 * (reseeding a rebuilt etcd, confirmed by the operator): no compares, the
 * store's keys put and the others in ks deleted. */

static int fleet_push_keys(struct mq_store *db, struct etcd *e, const char *prefix,
			   struct fleet_keys *ks, const char *crl_pem, enum fleet_push_mode mode,
			   int64_t *rev_out)
{
	bool fresh = mode != FLEET_PUSH_COMPARE;
	char err[1024], rk[600], host[256] = "", marker[512];
	struct etcd_txn *t = etcd_txn_new();
	bool *put = NULL, ok;
	int64_t rev = 0;
	int rc = -1;

	fleet_keys_unique(ks);

	if (!t || !(put = calloc(ks->n + 1, sizeof(*put)))) {
		cli_err("out of memory");
		goto out;
	}
	for (size_t i = 0; i < ks->n; i++) {
		char *key = fleet_key(prefix, ks->v[i]), *val = NULL;
		uint64_t r = 0;
		int got;

		if (!key) {
			cli_err("out of memory");
			goto out;
		}
		if (!fresh && !fleet_rev_key(rk, sizeof(rk), ks->v[i]))
			mq_store_meta_get(db, rk, &r);
		got = fleet_local_value(db, ks->v[i], &val, err, sizeof(err));
		if (got < 0) {
			free(key);
			cli_err("cannot read the policy store: %s", err);
			goto out;
		}
		if (mode == FLEET_PUSH_FORCE)
			r = 1; /* "seen": a key the store does not have goes */
		if (got == 1 && !r) {
			/* Never in etcd as far as this store knows, and gone. */
			free(key);
			continue;
		}
		/* The key must be as this store last saw it in etcd: its mod
		 * revision then, or absent if it never saw it. */
		if ((mode == FLEET_PUSH_FORCE ? 0
		     : r ? etcd_txn_compare(t, key, ETCD_MOD, ETCD_EQUAL, (int64_t)r)
			 : etcd_txn_compare(t, key, ETCD_CREATE, ETCD_EQUAL, 0)) ||
		    (got == 0 ? etcd_txn_put(t, key, val, strlen(val), 0)
			      : r ? etcd_txn_delete(t, key) : 0)) {
			free(key);
			free(val);
			cli_err("out of memory");
			goto out;
		}
		put[i] = got == 0;
		free(key);
		free(val);
	}
	if (crl_pem) {
		char *key = fleet_key(prefix, "crl.pem");

		if (!key || etcd_txn_put(t, key, crl_pem, strlen(crl_pem), 0)) {
			free(key);
			cli_err("out of memory");
			goto out;
		}
		free(key);
	}
	if (!etcd_txn_ops(t)) {
		rc = 0;
		goto out;
	}
	gethostname(host, sizeof(host) - 1);
	snprintf(marker, sizeof(marker), "{\"host\":\"%.200s\",\"at\":%lld,\"keys\":%zu}", host,
		 (long long)time(NULL), ks->n);
	{
		char *key = fleet_key(prefix, "meta/txn");

		if (!key || etcd_txn_put(t, key, marker, strlen(marker), 0)) {
			free(key);
			cli_err("out of memory");
			goto out;
		}
		free(key);
	}
	fleet_test_hold();
	rc = etcd_txn_commit(e, t, &ok, &rev, err, sizeof(err));
	if (rc) {
		cli_err("%s; nothing was written", err);
		rc = -1;
		goto out;
	}
	if (!ok) {
		const char *fk;
		int64_t now;
		char what[600];

		if (etcd_txn_failed(t, &fk, &now)) {
			cli_err("the policy in etcd changed after this command read it; nothing was "
				"written; run the command again");
		} else {
			fleet_describe(fk + strlen(prefix), what, sizeof(what));
			if (now)
				cli_err("%s was changed in etcd by another administrator (revision %" PRId64
					") after this command read it; nothing was written; run the "
					"command again", what, now);
			else
				cli_err("%s was deleted in etcd by another administrator after this "
					"command read it; nothing was written; run the command again", what);
		}
		rc = 1;
		goto out;
	}
	for (size_t i = 0; i < ks->n; i++) {
		if (fleet_rev_key(rk, sizeof(rk), ks->v[i]))
			continue;
		if (mq_store_meta_set(db, rk, put[i] ? (uint64_t)rev : 0, err, sizeof(err))) {
			cli_err("etcd took the change (revision %" PRId64 ") but the local store "
				"cannot record it: %s; the next command catches up", rev, err);
			goto out;
		}
	}
	if (fleet_set_rev(db, "meta/txn", rev, err, sizeof(err))) {
		cli_err("etcd took the change (revision %" PRId64 ") but the local store cannot "
			"record it: %s; the next command catches up", rev, err);
		goto out;
	}
	fleet_last_rev = rev;
	if (rev_out)
		*rev_out = rev;
	rc = 0;
out:
	free(put);
	etcd_txn_free(t);
	return rc;
}

static void fleet_keys_free(struct fleet_keys *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		free(ks->v[i]);
	free(ks->v);
	memset(ks, 0, sizeof(*ks));
}

/* Every local policy key (import, seeding). */
static int fleet_keys_all(struct mq_store *db, struct fleet_keys *ks, char *err, size_t errlen)
{
	if (mq_store_devices_each(db, fleet_keys_device, ks, err, errlen) < 0 ||
	    mq_store_rules_each(db, fleet_keys_rule, ks, err, errlen) < 0 ||
	    fleet_keys_add(ks, "meta/", "crl_number") || fleet_keys_add(ks, "meta/", "next_rule_id") ||
	    fleet_keys_add(ks, "meta/", "deleted"))
		return -1;
	return 0;
}

struct fleet_etcd_keys {
	struct fleet_keys *ks;
	size_t pl;
};

static int fleet_keys_etcd(void *arg, const struct etcd_kv *kv)
{
	struct fleet_etcd_keys *x = arg;

	return fleet_keys_add(x->ks, "", kv->key + x->pl);
}

/* An import replaces everything: the devices and rules etcd holds that
 * the store no longer has go too (each compared like any other key). */
static int fleet_keys_in_etcd(struct etcd *e, const char *prefix, struct fleet_keys *ks)
{
	static const char *const subs[] = {"devices/", "rules/"};
	struct fleet_etcd_keys x = {ks, strlen(prefix)};
	char err[1024];

	for (size_t i = 0; i < 2; i++) {
		char *key = fleet_key(prefix, subs[i]);
		struct etcd_range_req r = {.key = key, .range_end = "", .keys_only = true};
		int64_t rev;
		int rc;

		if (!key) {
			cli_err("out of memory");
			return -1;
		}
		rc = etcd_range_each(e, &r, 1000, fleet_keys_etcd, &x, &rev, err, sizeof(err));
		free(key);
		if (rc) {
			cli_err("%s; nothing was written", *err ? err : "out of memory");
			return -1;
		}
	}
	return 0;
}

int fleet_push(struct mq_store *db, struct etcd *e, const char *prefix, uint64_t seq_before,
	       const char *crl_pem)
{
	struct fleet_keys ks = {0};
	char err[512] = "";
	int rc = -1;

	if (mq_store_changes(db, seq_before, fleet_keys_change, &ks, err, sizeof(err)) < 0 ||
	    (ks.all && fleet_keys_all(db, &ks, err, sizeof(err)))) {
		cli_err("cannot read the policy store's changes: %s", *err ? err : "out of memory");
		goto out;
	}
	if (ks.all && fleet_keys_in_etcd(e, prefix, &ks))
		goto out;
	rc = fleet_push_keys(db, e, prefix, &ks, crl_pem, FLEET_PUSH_COMPARE, NULL);
out:
	fleet_keys_free(&ks);
	return rc;
}

/* A reseed starts a new epoch (P meta/epoch, a random number): the
 * brokers' syncs see etcd's revision go back and must tell a deliberate
 * reseed, which they follow, from a restored backup or a rebuilt etcd,
 * which would roll their policy back and which they refuse. */
static int fleet_new_epoch(struct mq_store *db, struct fleet_keys *ks, char *err, size_t errlen)
{
	uint64_t v = 0, cur = 0;

	mq_store_meta_get(db, "epoch", &cur);
	while (!v || v == cur) {
		if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1) {
			mq_errf(err, errlen, "no random numbers from OpenSSL");
			return -1;
		}
		v >>= 11; /* exact in JSON numbers and etcdctl's output alike */
	}
	if (mq_store_meta_set(db, "epoch", v, err, errlen))
		return -1;
	if (fleet_keys_add(ks, "meta/", "epoch")) {
		mq_errf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* etcd holds no policy and db does: this store becomes etcd's first
 * content, every key compared as absent. FLEET_PUSH_FORCE (fleet_reseed):
 * the store replaces whatever etcd holds under the prefix. */
static int fleet_seed(struct mq_store *db, struct etcd *e, const char *prefix,
		      enum fleet_push_mode mode)
{
	struct fleet_keys ks = {0};
	char err[512] = "";
	int64_t rev = 0;
	int rc = -1;

	if (mq_store_write_begin(db, err, sizeof(err)) || fleet_keys_all(db, &ks, err, sizeof(err))) {
		cli_err("cannot read the policy store: %s", *err ? err : "out of memory");
		goto out;
	}
	if (mode == FLEET_PUSH_FORCE && (fleet_new_epoch(db, &ks, err, sizeof(err)) ||
					 fleet_keys_in_etcd(e, prefix, &ks))) {
		if (*err)
			cli_err("cannot write the policy store: %s", err);
		goto out;
	}
	if (fleet_push_keys(db, e, prefix, &ks, NULL, mode, &rev))
		goto out;
	if ((rev && (mq_store_meta_set(db, "etcd_rev", (uint64_t)rev, err, sizeof(err)) ||
		     mq_store_meta_set_text(db, "etcd_prefix", prefix, err, sizeof(err)))) ||
	    mq_store_write_commit(db, NULL, err, sizeof(err))) {
		cli_err("cannot write the policy store: %s", err);
		goto out;
	}
	if (mode == FLEET_PUSH_FORCE)
		fprintf(stderr, "mqadmin: note: put this store's policy back into etcd at %s under %s: "
			"%zu key(s) (revision %" PRId64 "); the brokers' syncs resynchronise\n",
			etcd_endpoint_last(e), prefix, ks.n, rev);
	else
		fprintf(stderr, "mqadmin: note: etcd at %s held no policy under %s: this store's %zu "
			"key(s) are now there (revision %" PRId64 ")\n", etcd_endpoint_last(e), prefix, ks.n,
			rev);
	rc = 0;
out:
	if (rc)
		mq_store_write_abort(db);
	fleet_keys_free(&ks);
	return rc;
}

int fleet_reseed(struct mq_store *db, struct etcd *e, const char *prefix)
{
	return fleet_seed(db, e, prefix, FLEET_PUSH_FORCE);
}

int fleet_ca_fingerprint(const char *dir, char fpr[MQ_FPR_LEN], char *err, size_t errlen)
{
	char *path = NULL;
	BIO *b = NULL;
	X509 *ca = NULL;
	int rc = -1;

	if (asprintf(&path, "%s/ca.crt", dir) < 0) {
		path = NULL;
		mq_errf(err, errlen, "out of memory");
		goto out;
	}
	if (access(path, F_OK)) {
		rc = 1;
		goto out;
	}
	if (!(b = BIO_new_file(path, "r")) || !(ca = PEM_read_bio_X509(b, NULL, NULL, NULL)) ||
	    mq_x509_fingerprint(ca, fpr)) {
		mq_errf(err, errlen, "cannot read the CA certificate %s", path);
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	X509_free(ca);
	BIO_free(b);
	free(path);
	return rc;
}

int fleet_check_ca(struct etcd *e, const char *prefix, const char *fpr, unsigned flags,
		   char *err, size_t errlen)
{
	char *key = fleet_key(prefix, "meta/ca_fingerprint"), *dev = fleet_key(prefix, "devices/");
	struct etcd_range_req r = {.key = key};
	struct etcd_kvs k = {0};
	int rc = -1;

	if (!key || !dev) {
		mq_errf(err, errlen, "out of memory");
		goto out;
	}
	if ((rc = etcd_range(e, &r, &k, err, errlen)))
		goto out;
	if (k.n && (k.v[0].vlen != strlen(fpr) || memcmp(k.v[0].value, fpr, k.v[0].vlen))) {
		char esc[CLI_ESCAPE_SIZE(80)];

		mq_errf(err, errlen, "etcd at %s holds a fleet signed by another CA under %s (CA "
			"fingerprint %s, this CA's is %s)", etcd_endpoint_last(e), prefix,
			cli_escape(esc, sizeof(esc), k.v[0].vlen > 70 ? "(garbage)" : k.v[0].value),
			fpr);
		rc = 1;
		goto out;
	}
	if (k.n)
		goto out; /* rc 0: the same CA */
	if (flags & FLEET_CA_NEW) {
		/* A fleet seeded before the fingerprint was kept: a CA made
		 * just now cannot be the one that signed its devices. */
		struct etcd_range_req c = {.key = dev, .range_end = "", .count_only = true};

		etcd_kvs_free(&k);
		if ((rc = etcd_range(e, &c, &k, err, errlen)))
			goto out;
		if (k.count) {
			mq_errf(err, errlen, "etcd at %s holds a fleet signed by another CA under %s "
				"(%" PRId64 " device(s); a CA made now cannot have signed them)",
				etcd_endpoint_last(e), prefix, k.count);
			rc = 1;
			goto out;
		}
	}
	if (flags & FLEET_CA_CLAIM) {
		struct etcd_txn *t = etcd_txn_new();
		bool ok = false;

		if (!t || etcd_txn_compare(t, key, ETCD_CREATE, ETCD_EQUAL, 0) ||
		    etcd_txn_put(t, key, fpr, strlen(fpr), 0)) {
			etcd_txn_free(t);
			mq_errf(err, errlen, "out of memory");
			rc = -1;
			goto out;
		}
		rc = etcd_txn_commit(e, t, &ok, NULL, err, errlen);
		etcd_txn_free(t);
		if (!rc && !ok) /* another CA claimed it just now: look again */
			rc = fleet_check_ca(e, prefix, fpr, flags & ~FLEET_CA_CLAIM, err, errlen);
	}
out:
	etcd_kvs_free(&k);
	free(key);
	free(dev);
	return rc;
}

/* The CRL number of a PEM CRL, or -1. */
static long fleet_crl_number(const char *pem, size_t len)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509_CRL *crl = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
	ASN1_INTEGER *n = crl ? X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL) : NULL;
	long v = n ? ASN1_INTEGER_get(n) : -1;

	ASN1_INTEGER_free(n);
	X509_CRL_free(crl);
	BIO_free(b);
	return v;
}

int fleet_put_crl(struct etcd *e, const char *prefix, const char *pem, size_t len, char *err,
		  size_t errlen)
{
	char *key = fleet_key(prefix, "crl.pem");
	long mine = fleet_crl_number(pem, len);
	int rc = -1;

	if (!key) {
		mq_errf(err, errlen, "out of memory");
		return -1;
	}
	/* Another administrator may publish at the same time: put only over
	 * the CRL read (compare its revision), and never over a newer one. */
	for (int tries = 0; tries < 5; tries++) {
		struct etcd_range_req r = {.key = key};
		struct etcd_kvs k;
		struct etcd_txn *t;
		bool ok = false;

		if ((rc = etcd_range(e, &r, &k, err, errlen)))
			break;
		if (k.n && fleet_crl_number(k.v[0].value, k.v[0].vlen) >= mine) {
			etcd_kvs_free(&k);
			rc = 0; /* etcd already holds this CRL or a newer one */
			break;
		}
		rc = -1;
		if (!(t = etcd_txn_new()) ||
		    (k.n ? etcd_txn_compare(t, key, ETCD_MOD, ETCD_EQUAL, k.v[0].mod_rev)
			 : etcd_txn_compare(t, key, ETCD_CREATE, ETCD_EQUAL, 0)) ||
		    etcd_txn_put(t, key, pem, len, 0)) {
			etcd_txn_free(t);
			etcd_kvs_free(&k);
			mq_errf(err, errlen, "out of memory");
			break;
		}
		etcd_kvs_free(&k);
		rc = etcd_txn_commit(e, t, &ok, NULL, err, errlen);
		etcd_txn_free(t);
		if (rc || ok)
			break;
		mq_errf(err, errlen, "another administrator kept publishing a CRL meanwhile");
		rc = -1;
	}
	free(key);
	return rc;
}

int fleet_install_crl(const char *dir, const char *pem, size_t len, char *err, size_t errlen)
{
	char *capath = NULL, *path = NULL, *old = NULL;
	BIO *b = BIO_new_mem_buf(pem, (int)len), *cb = NULL;
	X509_CRL *crl = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
	X509 *ca = NULL;
	EVP_PKEY *key = NULL;
	size_t oldlen = 0;
	long mine, have = 0;
	int rc = -1, w;

	if (asprintf(&capath, "%s/ca.crt", dir) < 0 || asprintf(&path, "%s/crl.pem", dir) < 0) {
		capath = path = NULL;
		mq_errf(err, errlen, "out of memory");
		goto out;
	}
	if (!crl) {
		mq_errf(err, errlen, "the fleet's crl.pem in etcd is not a PEM CRL; not installed");
		goto out;
	}
	if (!(cb = BIO_new_file(capath, "r")) || !(ca = PEM_read_bio_X509(cb, NULL, NULL, NULL)) ||
	    !(key = X509_get0_pubkey(ca))) {
		mq_errf(err, errlen, "cannot read %s to check the fleet's CRL; not installed", capath);
		goto out;
	}
	/* Write access to etcd alone must not replace the CA's CRL. */
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) ||
	    X509_CRL_verify(crl, key) != 1) {
		mq_errf(err, errlen, "the fleet's crl.pem in etcd is not signed by the CA of %s; not "
			"installed (the one in place stays)", capath);
		goto out;
	}
	mine = fleet_crl_number(pem, len);
	if (!mq_file_read(path, 1 << 24, &old, &oldlen, err, errlen))
		have = fleet_crl_number(old, oldlen);
	if (mine <= have) {
		rc = 1; /* the CRL in place is the same or newer */
		goto out;
	}
	w = mq_file_write_atomic(path, pem, len, 0644, err, errlen);
	rc = w == 0 || w == MQ_FILE_NOT_DURABLE ? 0 : -1;
out:
	ERR_clear_error();
	X509_free(ca);
	BIO_free(cb);
	X509_CRL_free(crl);
	BIO_free(b);
	free(old);
	free(capath);
	free(path);
	return rc;
}
