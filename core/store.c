/* The policy store (mq_store.h, docs/STORE.md): DIR/store as an LMDB
 * environment. Device records with their fingerprint, username, serial and
 * expiry indexes, rules, meta and the change log; short read transactions
 * for the plugin, one write transaction per mqadmin command. */
#include "mq_store.h"
#include "mq_err.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

/* Address space only: the file grows as it fills. 16 GiB holds ten
 * million devices; the writer doubles it when three quarters are used. */
#define STORE_MAP_SIZE ((size_t)16 << 30)
#define STORE_FP_BYTES 32
#define STORE_SERIAL_BYTES 22

struct mq_store {
	MDB_env *env;
	MDB_txn *rtxn; /* the reader's handle: renewed and reset per event */
	MDB_txn *wtxn;
	bool reading;
	unsigned flags;
	uint64_t wseq; /* meta.seq as the write transaction will leave it */
	uint64_t wseq0;
	bool quiet; /* record writes append no log entry (import: one 'I') */
	MDB_dbi devices, by_fp, by_user, by_serial, expiry, rules, meta, log;
	MDB_dbi revoked; /* serial -> device name, certificates not active (the CRL) */
	/* The CRL's entries themselves (mq_store_crl_each), so that a revoke
	 * signs the CRL without reading device records. Current when meta
	 * crl_seq equals meta seq: a write by an mqadmin that did not keep
	 * it (older, or a store from before it) leaves crl_seq behind, and
	 * the next write transaction rebuilds it from the revoked index. */
	MDB_dbi crl;
	bool has_crl; /* a read-only open of a store from before the index: no crl */
	bool crl_rebuilt; /* by this write transaction: commit records crl_seq */
	/* The covering index of `expiring` (mq_store_expiring_range): one
	 * entry per device, its certificate in use. Current when meta
	 * expiring_seq equals meta seq, kept like crl (rebuilt from the
	 * records, O(fleet), by the first write transaction that finds it
	 * behind). */
	MDB_dbi expiring;
	bool has_expiring;
	bool exp_rebuilt;
	void (*notice)(void *arg, const char *what, size_t n);
	void *notice_arg;
};

static int store_fail(char *err, size_t errlen, int rc, const char *what)
{
	mq_errf(err, errlen, "policy store: %s: %s", what, mdb_strerror(rc));
	return -1;
}

static MDB_txn *store_txn(const struct mq_store *s)
{
	if (s->wtxn)
		return s->wtxn;
	return s->reading ? s->rtxn : NULL;
}

static void store_be64(uint64_t v, unsigned char out[8])
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		out[i] = (unsigned char)(v & 0xff);
}

static uint64_t store_get_be64(const unsigned char *in)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | in[i];
	return v;
}

static int store_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex text (an odd length gets a leading zero) into bytes; the count or -1. */
static int store_unhex(const char *hex, unsigned char *out, size_t max)
{
	size_t n = strlen(hex), odd = n & 1, len = (n + 1) / 2;

	if (!n || len > max)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int hi = (i == 0 && odd) ? 0 : store_nibble(hex[2 * i - odd]);
		int lo = store_nibble(hex[2 * i + 1 - odd]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return (int)len;
}

static MDB_val store_str(const char *s)
{
	MDB_val v = {strlen(s), (void *)s};

	return v;
}

/* ---- open ------------------------------------------------------------ */

static int store_meta_get_txn(struct mq_store *s, MDB_txn *txn, const char *key, uint64_t *v)
{
	MDB_val k = store_str(key), d;
	int rc = mdb_get(txn, s->meta, &k, &d);

	*v = 0;
	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc || d.mv_size != 8)
		return -1;
	*v = store_get_be64(d.mv_data);
	return 0;
}

static int store_meta_put_txn(struct mq_store *s, MDB_txn *txn, const char *key, uint64_t v)
{
	unsigned char b[8];
	MDB_val k = store_str(key), d = {8, b};

	store_be64(v, b);
	return mdb_put(txn, s->meta, &k, &d, 0);
}

static int store_open_dbs(struct mq_store *s, MDB_txn *txn, unsigned dflags)
{
	struct {
		const char *name;
		MDB_dbi *dbi;
	} dbs[] = {
		{"devices", &s->devices}, {"by_fp", &s->by_fp}, {"by_user", &s->by_user},
		{"by_serial", &s->by_serial}, {"expiry", &s->expiry}, {"rules", &s->rules},
		{"meta", &s->meta}, {"log", &s->log}, {"revoked", &s->revoked},
	};
	int rc;

	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		rc = mdb_dbi_open(txn, dbs[i].name, dflags, dbs[i].dbi);
		if (rc)
			return rc;
	}
	/* Optional for a reader: the plugin opens stores of any age read-only. */
	rc = mdb_dbi_open(txn, "crl", dflags, &s->crl);
	s->has_crl = !rc;
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	rc = mdb_dbi_open(txn, "expiring", dflags, &s->expiring);
	s->has_expiring = !rc;
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Opens the named databases and checks (read-write: sets) the version. */
static int store_init(struct mq_store *s, const char *dir, char *err, size_t errlen)
{
	bool ro = s->flags & MQ_STORE_RDONLY;
	MDB_txn *txn = NULL;
	uint64_t version = 0;
	int rc, got;

	rc = mdb_txn_begin(s->env, NULL, ro ? MDB_RDONLY : 0, &txn);
	if (rc == MDB_MAP_RESIZED && !mdb_env_set_mapsize(s->env, 0))
		rc = mdb_txn_begin(s->env, NULL, ro ? MDB_RDONLY : 0, &txn);
	if (rc)
		return store_fail(err, errlen, rc, dir);
	rc = store_open_dbs(s, txn, ro ? 0 : MDB_CREATE);
	if (rc == MDB_NOTFOUND) {
		mq_errf(err, errlen, "policy store %s is empty or not an mqcert store: "
			"run any mqadmin command on its PKI directory to create it", dir);
		goto fail;
	}
	if (rc) {
		store_fail(err, errlen, rc, dir);
		goto fail;
	}
	got = store_meta_get_txn(s, txn, "version", &version);
	if (got < 0) {
		mq_errf(err, errlen, "policy store %s: unreadable \"version\"", dir);
		goto fail;
	}
	if (got == 1 && ro) {
		mq_errf(err, errlen, "policy store %s has no version: not an mqcert store", dir);
		goto fail;
	}
	if (got == 1) {
		if ((rc = store_meta_put_txn(s, txn, "version", MQ_STORE_VERSION)) ||
		    (rc = store_meta_put_txn(s, txn, "seq", 0)) ||
		    (rc = store_meta_put_txn(s, txn, "log_floor", 1))) {
			store_fail(err, errlen, rc, dir);
			goto fail;
		}
		version = MQ_STORE_VERSION;
	}
	if (version != MQ_STORE_VERSION) {
		mq_errf(err, errlen, "policy store %s is version %" PRIu64 "; this mqcert reads version %d: %s",
			dir, version, MQ_STORE_VERSION,
			version > MQ_STORE_VERSION ? "upgrade mqcert" : "re-create it with mqadmin policy import");
		goto fail;
	}
	/* Commit (even read-only): the database handles outlive it only then. */
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc)
		return store_fail(err, errlen, rc, dir);
	return 0;
fail:
	mdb_txn_abort(txn);
	return -1;
}

int mq_store_open(struct mq_store **out, const char *store_dir, unsigned flags,
		  char *err, size_t errlen)
{
	struct mq_store *s = calloc(1, sizeof(*s));
	unsigned eflags = MDB_NOTLS | ((flags & MQ_STORE_RDONLY) ? MDB_RDONLY : 0) |
			  ((flags & MQ_STORE_NOLOCK) ? MDB_NOLOCK : 0);
	int rc, dead = 0;

	*out = NULL;
	if (!s) {
		mq_errf(err, errlen, "out of memory");
		return -1;
	}
	s->flags = flags;
	if ((rc = mdb_env_create(&s->env)) || (rc = mdb_env_set_maxdbs(s->env, 16)) ||
	    (rc = mdb_env_set_mapsize(s->env, STORE_MAP_SIZE))) {
		store_fail(err, errlen, rc, store_dir);
		goto fail;
	}
	rc = mdb_env_open(s->env, store_dir, eflags, 0644);
	if (rc) {
		store_fail(err, errlen, rc, store_dir);
		goto fail;
	}
	/* Slots of readers that died inside a transaction pin old pages. */
	if (!(flags & MQ_STORE_NOLOCK))
		mdb_reader_check(s->env, &dead);
	if (store_init(s, store_dir, err, errlen))
		goto fail;
	*out = s;
	return 0;
fail:
	mq_store_close(s);
	return -1;
}

void mq_store_close(struct mq_store *s)
{
	if (!s)
		return;
	if (s->wtxn)
		mdb_txn_abort(s->wtxn);
	if (s->rtxn)
		mdb_txn_abort(s->rtxn);
	if (s->env)
		mdb_env_close(s->env);
	free(s);
}

/* ---- reader ------------------------------------------------------------ */

int mq_store_read_begin(struct mq_store *s, char *err, size_t errlen)
{
	int rc;

	if (s->reading || s->wtxn)
		return 0;
	rc = s->rtxn ? mdb_txn_renew(s->rtxn) : mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
	if (rc == MDB_MAP_RESIZED) {
		/* The writer grew the map: adopt its size, then start afresh. */
		if (s->rtxn)
			mdb_txn_abort(s->rtxn);
		s->rtxn = NULL;
		rc = mdb_env_set_mapsize(s->env, 0);
		if (!rc)
			rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
	}
	if (rc) {
		if (s->rtxn)
			mdb_txn_abort(s->rtxn);
		s->rtxn = NULL;
		return store_fail(err, errlen, rc, "read transaction");
	}
	s->reading = true;
	return 0;
}

void mq_store_read_end(struct mq_store *s)
{
	if (!s->reading)
		return;
	mdb_txn_reset(s->rtxn);
	s->reading = false;
}

uint64_t mq_store_seq(struct mq_store *s)
{
	uint64_t v = 0;

	if (s->wtxn)
		return s->wseq;
	if (store_txn(s))
		store_meta_get_txn(s, store_txn(s), "seq", &v);
	return v;
}

uint64_t mq_store_last_txnid(struct mq_store *s)
{
	MDB_envinfo info;

	if (mdb_env_info(s->env, &info))
		return 0;
	return (uint64_t)info.me_last_txnid;
}

uint64_t mq_store_read_txnid(struct mq_store *s)
{
	return s->reading ? (uint64_t)mdb_txn_id(s->rtxn) : 0;
}

static int store_need_txn(const struct mq_store *s, char *err, size_t errlen)
{
	if (store_txn(s))
		return 0;
	mq_errf(err, errlen, "policy store: no transaction (mq_store_read_begin first)");
	return -1;
}

/* name's raw record: 0, 1 absent, -1. */
static int store_get_raw(struct mq_store *s, const char *name, MDB_val *val, char *err, size_t errlen)
{
	MDB_val k = store_str(name);
	int rc;

	if (store_need_txn(s, err, errlen))
		return -1;
	if (!*name)
		return 1;
	rc = mdb_get(store_txn(s), s->devices, &k, val);
	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc)
		return store_fail(err, errlen, rc, "devices");
	return 0;
}

int mq_store_device_get(struct mq_store *s, const char *name, struct mq_device **out,
			char *err, size_t errlen)
{
	MDB_val v;
	int rc = store_get_raw(s, name, &v, err, errlen);
	char where[120];
	size_t n;

	*out = NULL;
	if (rc)
		return rc;
	*out = mq_device_parse(v.mv_data, v.mv_size, err, errlen);
	if (*out)
		return 0;
	/* A bad record: name it, so the operator knows what to fix. */
	snprintf(where, sizeof(where), "policy store: device record '%.64s': ", name);
	n = strlen(where);
	if (err && errlen > n + 1) {
		memmove(err + n, err, errlen - n - 1);
		err[errlen - 1] = '\0';
		memcpy(err, where, n);
	}
	return -1;
}

/* The device name an index maps key to: 0, 1 absent, -1. */
static int store_index_get(struct mq_store *s, MDB_dbi dbi, MDB_val *k, char *name, size_t len,
			   char *err, size_t errlen)
{
	MDB_val v;
	int rc;

	if (store_need_txn(s, err, errlen))
		return -1;
	rc = mdb_get(store_txn(s), dbi, k, &v);
	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc)
		return store_fail(err, errlen, rc, "index");
	if (v.mv_size >= len) {
		mq_errf(err, errlen, "policy store: index entry too long");
		return -1;
	}
	memcpy(name, v.mv_data, v.mv_size);
	name[v.mv_size] = '\0';
	return 0;
}

int mq_store_device_by_fpr(struct mq_store *s, const char *fpr_hex, struct mq_device **out,
			   char *err, size_t errlen)
{
	unsigned char fp[STORE_FP_BYTES];
	MDB_val k = {sizeof(fp), fp};
	char name[256];
	int rc;

	*out = NULL;
	if (store_unhex(fpr_hex, fp, sizeof(fp)) != STORE_FP_BYTES)
		return 1;
	rc = store_index_get(s, s->by_fp, &k, name, sizeof(name), err, errlen);
	if (rc)
		return rc;
	rc = mq_store_device_get(s, name, out, err, errlen);
	/* An index entry without its record: as if absent, never a crash. */
	return rc;
}

int mq_store_device_by_user(struct mq_store *s, const char *username, struct mq_device **out,
			    char *err, size_t errlen)
{
	MDB_val k = store_str(username);
	char name[256];
	int rc;

	*out = NULL;
	if (!*username)
		return 1;
	rc = store_index_get(s, s->by_user, &k, name, sizeof(name), err, errlen);
	if (rc)
		return rc;
	return mq_store_device_get(s, name, out, err, errlen);
}

/* Walks dbi from key `from` (NULL: the start); cb returns non-zero to stop. */
static int store_walk(struct mq_store *s, MDB_dbi dbi, MDB_val *from,
		      int (*cb)(void *arg, MDB_val *k, MDB_val *v), void *arg, char *err, size_t errlen)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if (store_need_txn(s, err, errlen))
		return -1;
	rc = mdb_cursor_open(store_txn(s), dbi, &c);
	if (rc)
		return store_fail(err, errlen, rc, "cursor");
	if (from) {
		k = *from;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	} else {
		rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	}
	while (!rc) {
		int stop = cb(arg, &k, &v);

		if (stop) {
			mdb_cursor_close(c);
			return stop;
		}
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return store_fail(err, errlen, rc, "cursor");
	return 0;
}

struct store_rules_ctx {
	struct mq_policy *p;
	char *err;
	size_t errlen;
};

static int store_rule_cb(void *arg, MDB_val *k, MDB_val *v)
{
	struct store_rules_ctx *x = arg;

	(void)k;
	return mq_policy_read_rule_json(x->p, v->mv_data, v->mv_size, x->err, x->errlen) ? -1 : 0;
}

int mq_store_rules_load(struct mq_store *s, struct mq_policy *p, char *err, size_t errlen)
{
	struct store_rules_ctx x = {p, err, errlen};
	uint64_t next = 0;

	if (store_walk(s, s->rules, NULL, store_rule_cb, &x, err, errlen))
		return -1;
	if (mq_store_meta_get(s, "next_rule_id", &next) == 0 && next > p->next_rule_id)
		p->next_rule_id = (unsigned long)next;
	return 0;
}

struct store_changes_ctx {
	int (*cb)(void *arg, uint64_t seq, char kind, const char *key);
	void *arg;
};

static int store_change_cb(void *arg, MDB_val *k, MDB_val *v)
{
	struct store_changes_ctx *x = arg;
	char key[300];
	size_t n = v->mv_size ? v->mv_size - 1 : 0;

	if (k->mv_size != 8 || !v->mv_size || n >= sizeof(key))
		return 0; /* not an entry this version writes: skip it */
	memcpy(key, (const char *)v->mv_data + 1, n);
	key[n] = '\0';
	return x->cb(x->arg, store_get_be64(k->mv_data), *(const char *)v->mv_data, key);
}

int mq_store_changes(struct mq_store *s, uint64_t after,
		     int (*cb)(void *arg, uint64_t seq, char kind, const char *key), void *arg,
		     char *err, size_t errlen)
{
	struct store_changes_ctx x = {cb, arg};
	unsigned char kb[8];
	MDB_val from = {8, kb};
	uint64_t floor = 1;

	if (store_need_txn(s, err, errlen))
		return -1;
	mq_store_meta_get(s, "log_floor", &floor);
	if (after + 1 < floor)
		return 1;
	store_be64(after + 1, kb);
	return store_walk(s, s->log, &from, store_change_cb, &x, err, errlen);
}

struct store_each_ctx {
	int (*cb)(void *arg, const char *name, const char *json, size_t len);
	void *arg;
};

static int store_each_cb(void *arg, MDB_val *k, MDB_val *v)
{
	struct store_each_ctx *x = arg;
	char name[256];

	if (k->mv_size >= sizeof(name))
		return 0;
	memcpy(name, k->mv_data, k->mv_size);
	name[k->mv_size] = '\0';
	return x->cb(x->arg, name, v->mv_data, v->mv_size);
}

int mq_store_devices_each(struct mq_store *s,
			  int (*cb)(void *arg, const char *name, const char *json, size_t len),
			  void *arg, char *err, size_t errlen)
{
	struct store_each_ctx x = {cb, arg};

	return store_walk(s, s->devices, NULL, store_each_cb, &x, err, errlen);
}

int mq_store_device_json(struct mq_store *s, const char *name, const char **json, size_t *len,
			 char *err, size_t errlen)
{
	MDB_val v;
	int rc = store_get_raw(s, name, &v, err, errlen);

	*json = NULL;
	*len = 0;
	if (rc)
		return rc;
	*json = v.mv_data;
	*len = v.mv_size;
	return 0;
}

int mq_store_name_by_user(struct mq_store *s, const char *username, char *name, size_t len,
			  char *err, size_t errlen)
{
	MDB_val k = store_str(username);

	if (!*username)
		return 1;
	return store_index_get(s, s->by_user, &k, name, len, err, errlen);
}

struct store_revoked_ctx {
	int (*cb)(void *arg, const char *name);
	void *arg;
};

static int store_revoked_cb(void *arg, MDB_val *k, MDB_val *v)
{
	struct store_revoked_ctx *x = arg;
	char name[256];

	(void)k;
	if (v->mv_size >= sizeof(name))
		return 0;
	memcpy(name, v->mv_data, v->mv_size);
	name[v->mv_size] = '\0';
	return x->cb(x->arg, name);
}

int mq_store_revoked_each(struct mq_store *s, int (*cb)(void *arg, const char *name), void *arg,
			  char *err, size_t errlen)
{
	struct store_revoked_ctx x = {cb, arg};

	return store_walk(s, s->revoked, NULL, store_revoked_cb, &x, err, errlen);
}

struct store_crl_ctx {
	int (*cb)(void *arg, const unsigned char *serial, size_t len, bool retired, time_t when,
		  const char *reason);
	void *arg;
};

static int store_crl_cb(void *arg, MDB_val *k, MDB_val *v)
{
	struct store_crl_ctx *x = arg;
	const unsigned char *kb = k->mv_data, *vb = v->mv_data;
	char reason[256];
	size_t rlen = v->mv_size - 9;

	if (k->mv_size < 2 || k->mv_size != 1 + (size_t)kb[0] + STORE_FP_BYTES || v->mv_size < 9 ||
	    rlen >= sizeof(reason))
		return 0; /* not an entry this version writes: skip it */
	memcpy(reason, vb + 9, rlen);
	reason[rlen] = '\0';
	return x->cb(x->arg, kb + 1, kb[0], vb[0] == 'T', (time_t)store_get_be64(vb + 1),
		     rlen ? reason : NULL);
}

int mq_store_crl_each(struct mq_store *s,
		      int (*cb)(void *arg, const unsigned char *serial, size_t len, bool retired,
				time_t when, const char *reason),
		      void *arg, char *err, size_t errlen)
{
	struct store_crl_ctx x = {cb, arg};
	uint64_t crl_seq;

	if (store_need_txn(s, err, errlen))
		return -1;
	/* A write transaction brought it up to date at its start. */
	if (!s->has_crl || (!s->wtxn && (store_meta_get_txn(s, store_txn(s), "crl_seq", &crl_seq) ||
					  crl_seq != mq_store_seq(s))))
		return 1;
	return store_walk(s, s->crl, NULL, store_crl_cb, &x, err, errlen);
}

/* Names of the devices whose certificate may have a serial or fingerprint
 * starting with hex (a superset: the caller compares the text). */
struct store_prefix_ctx {
	struct mq_store *s;
	unsigned char pre[STORE_FP_BYTES];
	size_t len;
	bool serial; /* values are fingerprints: map them to names */
	int (*cb)(void *arg, const char *name);
	void *arg;
};

static int store_prefix_cb(void *arg, MDB_val *k, MDB_val *v)
{
	struct store_prefix_ctx *x = arg;
	char name[256];
	MDB_val n = *v;

	if (k->mv_size < x->len || memcmp(k->mv_data, x->pre, x->len))
		return 2; /* past the prefix: stop */
	if (x->serial && mdb_get(store_txn(x->s), x->s->by_fp, v, &n))
		return 0; /* a serial without its fingerprint entry: skip it */
	if (n.mv_size >= sizeof(name))
		return 0;
	memcpy(name, n.mv_data, n.mv_size);
	name[n.mv_size] = '\0';
	return x->cb(x->arg, name);
}

/* Walks dbi over the keys starting with the bytes of hex (an odd last
 * digit dropped: a wider range, never a narrower one). */
static int store_prefix_walk(struct store_prefix_ctx *x, MDB_dbi dbi, const char *hex,
			     char *err, size_t errlen)
{
	char even[2 * STORE_FP_BYTES + 1];
	size_t n = strlen(hex) & ~(size_t)1;
	MDB_val from = {0, x->pre};
	int rc, got;

	if (n > 2 * STORE_FP_BYTES)
		return 0;
	memcpy(even, hex, n);
	even[n] = '\0';
	got = n ? store_unhex(even, x->pre, sizeof(x->pre)) : 0;
	if (got < 0)
		return 0;
	x->len = (size_t)got;
	from.mv_size = x->len;
	rc = store_walk(x->s, dbi, x->len ? &from : NULL, store_prefix_cb, x, err, errlen);
	return rc == 2 ? 0 : rc;
}

int mq_store_cert_names(struct mq_store *s, const char *hex,
			int (*cb)(void *arg, const char *name), void *arg, char *err, size_t errlen)
{
	struct store_prefix_ctx x = {.s = s, .cb = cb, .arg = arg};
	char odd[2 * STORE_FP_BYTES + 2];
	unsigned char ser[STORE_SERIAL_BYTES];
	MDB_val k = {0, ser}, v;
	int rc, n;

	if (store_need_txn(s, err, errlen))
		return -1;
	/* The whole serial, however short. */
	n = store_unhex(hex, ser, sizeof(ser));
	if (n > 0) {
		k.mv_size = (size_t)n;
		x.serial = true;
		rc = mdb_get(store_txn(s), s->by_serial, &k, &v);
		if (!rc && (rc = store_prefix_cb(&x, &k, &v)) != 0 && rc != 2)
			return rc;
	}
	if (strlen(hex) < 4)
		return 0;
	/* Prefixes: of a fingerprint, of an even-length serial, and of an
	 * odd-length one (stored with a leading zero nibble). */
	x.serial = false;
	if ((rc = store_prefix_walk(&x, s->by_fp, hex, err, errlen)))
		return rc;
	x.serial = true;
	if ((rc = store_prefix_walk(&x, s->by_serial, hex, err, errlen)))
		return rc;
	snprintf(odd, sizeof(odd), "0%s", hex);
	return store_prefix_walk(&x, s->by_serial, odd, err, errlen);
}

struct store_rules_each_ctx {
	int (*cb)(void *arg, unsigned long id, const char *json, size_t len);
	void *arg;
};

static int store_rules_each_cb(void *arg, MDB_val *k, MDB_val *v)
{
	struct store_rules_each_ctx *x = arg;

	if (k->mv_size != 8)
		return 0;
	return x->cb(x->arg, (unsigned long)store_get_be64(k->mv_data), v->mv_data, v->mv_size);
}

int mq_store_rules_each(struct mq_store *s,
			int (*cb)(void *arg, unsigned long id, const char *json, size_t len),
			void *arg, char *err, size_t errlen)
{
	struct store_rules_each_ctx x = {cb, arg};

	return store_walk(s, s->rules, NULL, store_rules_each_cb, &x, err, errlen);
}

struct store_expiry_ctx {
	int (*cb)(void *arg, time_t not_after, const char *fpr, const char *name);
	void *arg;
	uint64_t to;
};

static int store_expiry_cb(void *arg, MDB_val *k, MDB_val *v)
{
	struct store_expiry_ctx *x = arg;
	char fpr[MQ_FPR_LEN], name[256];
	uint64_t t;

	if (k->mv_size != 8 + STORE_FP_BYTES || v->mv_size >= sizeof(name))
		return 0;
	t = store_get_be64(k->mv_data);
	if (t >= x->to)
		return 2; /* past the range: stop */
	mq_hex((const unsigned char *)k->mv_data + 8, STORE_FP_BYTES, fpr);
	memcpy(name, v->mv_data, v->mv_size);
	name[v->mv_size] = '\0';
	return x->cb(x->arg, (time_t)t, fpr, name);
}

int mq_store_expiry_range(struct mq_store *s, time_t from, time_t to,
			  int (*cb)(void *arg, time_t not_after, const char *fpr, const char *name),
			  void *arg, char *err, size_t errlen)
{
	struct store_expiry_ctx x = {cb, arg, to < 0 ? 0 : (uint64_t)to};
	unsigned char kb[8];
	MDB_val k = {8, kb};
	int rc;

	store_be64(from < 0 ? 0 : (uint64_t)from, kb);
	rc = store_walk(s, s->expiry, &k, store_expiry_cb, &x, err, errlen);
	return rc == 2 ? 0 : rc;
}

/* The expiring entry of d: the certificate in use whatever the time
 * (*best: mq_device_cert_in_use's answer while no retire_after deadline
 * has passed), and the one its key names (*key). A retire_after deadline
 * makes the answer depend on the time (*timed): the key is then the
 * soonest not_after of the candidates, never later than the answer at any
 * time, and readers check the record. false: no entry (nothing in use). */
static bool store_exp_pick(const struct mq_device *d, const struct mq_cert **best,
			   const struct mq_cert **key, bool *timed)
{
	const struct mq_cert *low = NULL;

	*best = NULL;
	*timed = false;
	for (size_t k = 0; k < d->ncerts; k++) {
		const struct mq_cert *c = d->certs[k];

		if (c->status != MQ_CERT_ACTIVE)
			continue;
		*timed |= c->retire_after != 0;
		if (!*best || c->not_after > (*best)->not_after)
			*best = c;
		if (!low || c->not_after < low->not_after)
			low = c;
	}
	*key = *timed ? low : *best;
	return *best != NULL;
}

/* The value of an expiring entry: 'A' (the answer) or 'T' (timed: check
 * the record), the serial's text, NUL, the device name. */
#define STORE_EXP_VAL (1 + MQ_SERIAL_LEN + 256)

struct store_expiring_ctx {
	int (*cb)(void *arg, time_t not_after, const char *serial, const char *name, bool timed);
	void *arg;
	uint64_t to;
};

static int store_expiring_cb(void *arg, MDB_val *k, MDB_val *v)
{
	struct store_expiring_ctx *x = arg;
	const char *vb = v->mv_data, *nul;
	char serial[MQ_SERIAL_LEN], name[256];
	size_t slen, nlen;
	uint64_t t;

	if (k->mv_size < 8)
		return 0;
	t = store_get_be64(k->mv_data);
	if (t >= x->to)
		return 2; /* past the range: stop */
	if (v->mv_size < 2 || !(nul = memchr(vb + 1, '\0', v->mv_size - 1)))
		return 0; /* not an entry this version writes: skip it */
	slen = (size_t)(nul - vb - 1);
	nlen = v->mv_size - slen - 2;
	if (slen >= sizeof(serial) || !nlen || nlen >= sizeof(name))
		return 0;
	memcpy(serial, vb + 1, slen);
	serial[slen] = '\0';
	memcpy(name, nul + 1, nlen);
	name[nlen] = '\0';
	return x->cb(x->arg, (time_t)t, serial, name, vb[0] == 'T');
}

int mq_store_expiring_range(struct mq_store *s, time_t to,
			    int (*cb)(void *arg, time_t not_after, const char *serial,
				      const char *name, bool timed),
			    void *arg, char *err, size_t errlen)
{
	struct store_expiring_ctx x = {cb, arg, to < 0 ? 0 : (uint64_t)to};
	uint64_t exp_seq;
	int rc;

	if (store_need_txn(s, err, errlen))
		return -1;
	/* A write transaction brought it up to date at its start. */
	if (!s->has_expiring ||
	    (!s->wtxn && (store_meta_get_txn(s, store_txn(s), "expiring_seq", &exp_seq) ||
			  exp_seq != mq_store_seq(s))))
		return 1;
	rc = store_walk(s, s->expiring, NULL, store_expiring_cb, &x, err, errlen);
	return rc == 2 ? 0 : rc;
}

void mq_store_set_notice(struct mq_store *s, void (*cb)(void *arg, const char *what, size_t n),
			 void *arg)
{
	s->notice = cb;
	s->notice_arg = arg;
}

size_t mq_store_device_count(struct mq_store *s)
{
	MDB_stat st;

	if (!store_txn(s) || mdb_stat(store_txn(s), s->devices, &st))
		return (size_t)-1;
	return st.ms_entries;
}

size_t mq_store_log_count(struct mq_store *s)
{
	MDB_stat st;

	if (!store_txn(s) || mdb_stat(store_txn(s), s->log, &st))
		return (size_t)-1;
	return st.ms_entries;
}

int mq_store_meta_get(struct mq_store *s, const char *key, uint64_t *v)
{
	*v = 0;
	if (!store_txn(s))
		return -1;
	if (s->wtxn && !strcmp(key, "seq")) {
		*v = s->wseq;
		return 0;
	}
	return store_meta_get_txn(s, store_txn(s), key, v);
}

int mq_store_meta_get_text(struct mq_store *s, const char *key, char **out, size_t *len)
{
	MDB_val k = store_str(key), v;
	int rc;

	*out = NULL;
	*len = 0;
	if (!store_txn(s))
		return -1;
	rc = mdb_get(store_txn(s), s->meta, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc || !(*out = malloc(v.mv_size + 1)))
		return -1;
	memcpy(*out, v.mv_data, v.mv_size);
	(*out)[v.mv_size] = '\0';
	*len = v.mv_size;
	return 0;
}

/* ---- writer ------------------------------------------------------------ */

/* Grows the map (no transaction open in this process) when it is three
 * quarters full: a full map fails the transaction that hits it. */
static void store_maybe_grow(struct mq_store *s)
{
	MDB_envinfo info;
	MDB_stat st;

	if (mdb_env_info(s->env, &info) || mdb_env_stat(s->env, &st))
		return;
	if ((info.me_last_pgno + 1) * (size_t)st.ms_psize > info.me_mapsize / 4 * 3)
		mdb_env_set_mapsize(s->env, info.me_mapsize * 2);
}

static int store_crl_rebuild(struct mq_store *s, char *err, size_t errlen);
static int store_exp_rebuild(struct mq_store *s, char *err, size_t errlen);

int mq_store_write_begin(struct mq_store *s, char *err, size_t errlen)
{
	uint64_t crl_seq, exp_seq;
	int rc;

	if (s->flags & MQ_STORE_RDONLY) {
		mq_errf(err, errlen, "policy store: opened read-only");
		return -1;
	}
	if (s->wtxn) {
		mq_errf(err, errlen, "policy store: a write transaction is already open");
		return -1;
	}
	mq_store_read_end(s);
	store_maybe_grow(s);
	rc = mdb_txn_begin(s->env, NULL, 0, &s->wtxn);
	if (rc == MDB_MAP_RESIZED && !mdb_env_set_mapsize(s->env, 0))
		rc = mdb_txn_begin(s->env, NULL, 0, &s->wtxn);
	if (rc) {
		s->wtxn = NULL;
		return store_fail(err, errlen, rc, "write transaction");
	}
	store_meta_get_txn(s, s->wtxn, "seq", &s->wseq);
	s->wseq0 = s->wseq;
	s->quiet = false;
	s->crl_rebuilt = false;
	s->exp_rebuilt = false;
	if ((store_meta_get_txn(s, s->wtxn, "crl_seq", &crl_seq) || crl_seq != s->wseq) &&
	    store_crl_rebuild(s, err, errlen))
		goto fail;
	if ((store_meta_get_txn(s, s->wtxn, "expiring_seq", &exp_seq) || exp_seq != s->wseq) &&
	    store_exp_rebuild(s, err, errlen))
		goto fail;
	return 0;
fail:
	mq_store_write_abort(s);
	return -1;
}

int mq_store_write_commit(struct mq_store *s, uint64_t *seq, char *err, size_t errlen)
{
	int rc = 0;

	if (!s->wtxn) {
		mq_errf(err, errlen, "policy store: no write transaction");
		return -1;
	}
	if (s->wseq != s->wseq0)
		rc = store_meta_put_txn(s, s->wtxn, "seq", s->wseq);
	if (!rc && (s->wseq != s->wseq0 || s->crl_rebuilt))
		rc = store_meta_put_txn(s, s->wtxn, "crl_seq", s->wseq);
	if (!rc && (s->wseq != s->wseq0 || s->exp_rebuilt))
		rc = store_meta_put_txn(s, s->wtxn, "expiring_seq", s->wseq);
	if (rc) {
		mq_store_write_abort(s);
		return store_fail(err, errlen, rc, "meta");
	}
	/* Durable: the environment has neither MDB_NOSYNC nor MDB_NOMETASYNC. */
	rc = mdb_txn_commit(s->wtxn);
	s->wtxn = NULL;
	if (rc)
		return store_fail(err, errlen, rc, "commit");
	if (seq)
		*seq = s->wseq;
	return 0;
}

void mq_store_write_abort(struct mq_store *s)
{
	if (s->wtxn)
		mdb_txn_abort(s->wtxn);
	s->wtxn = NULL;
}

static int store_need_write_txn(const struct mq_store *s, char *err, size_t errlen)
{
	if (s->wtxn)
		return 0;
	mq_errf(err, errlen, "policy store: no write transaction");
	return -1;
}

int mq_store_log(struct mq_store *s, char kind, const char *key, char *err, size_t errlen)
{
	unsigned char kb[8];
	char buf[300];
	size_t n = strlen(key);
	MDB_val k = {8, kb}, v = {n + 1, buf};
	int rc;

	if (store_need_write_txn(s, err, errlen))
		return -1;
	if (n >= sizeof(buf) - 1) {
		mq_errf(err, errlen, "policy store: log key too long");
		return -1;
	}
	buf[0] = kind;
	memcpy(buf + 1, key, n);
	store_be64(s->wseq + 1, kb);
	rc = mdb_put(s->wtxn, s->log, &k, &v, MDB_APPEND);
	if (rc == MDB_KEYEXIST)
		rc = mdb_put(s->wtxn, s->log, &k, &v, 0);
	if (rc)
		return store_fail(err, errlen, rc, "log");
	s->wseq++;
	return 0;
}

static int store_log_change(struct mq_store *s, char kind, const char *key, char *err, size_t errlen)
{
	return s->quiet ? 0 : mq_store_log(s, kind, key, err, errlen);
}

void mq_store_write_quiet(struct mq_store *s, bool on)
{
	s->quiet = on;
}

static int store_del(MDB_txn *txn, MDB_dbi dbi, MDB_val *k)
{
	int rc = mdb_del(txn, dbi, k, NULL);

	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The index keys of one certificate. */
struct store_cert_keys {
	unsigned char fp[STORE_FP_BYTES];
	unsigned char serial[STORE_SERIAL_BYTES];
	int serial_len;
	unsigned char exp[8 + STORE_FP_BYTES];
};

static int store_cert_keys(const struct mq_cert *c, struct store_cert_keys *ck)
{
	if (store_unhex(c->fingerprint, ck->fp, sizeof(ck->fp)) != STORE_FP_BYTES)
		return -1;
	ck->serial_len = store_unhex(c->serial, ck->serial, sizeof(ck->serial));
	if (ck->serial_len < 0)
		return -1;
	store_be64(c->not_after < 0 ? 0 : (uint64_t)c->not_after, ck->exp);
	memcpy(ck->exp + 8, ck->fp, STORE_FP_BYTES);
	return 0;
}

/* The crl key of a certificate: serial length, serial (big-endian, no
 * leading zero bytes: its DER INTEGER's magnitude), fingerprint. Key order
 * is then the CRL's order (OpenSSL's X509_CRL_sort compares serials by
 * length, then bytes), and a serial two certificates share keeps both. */
#define STORE_CRL_KEY (1 + STORE_SERIAL_BYTES + STORE_FP_BYTES)

static size_t store_crl_key(const struct store_cert_keys *ck, unsigned char *out)
{
	const unsigned char *m = ck->serial;
	size_t n = (size_t)ck->serial_len;

	while (n > 1 && !*m) {
		m++;
		n--;
	}
	out[0] = (unsigned char)n;
	memcpy(out + 1, m, n);
	memcpy(out + 1 + n, ck->fp, STORE_FP_BYTES);
	return 1 + n + STORE_FP_BYTES;
}

/* The crl entry of c (not active): 'R' revoked or 'T' retired, the date
 * (u64, 0 unknown), then the revocation reason's text, if any. */
static int store_crl_put(struct mq_store *s, const struct mq_cert *c, const struct store_cert_keys *ck)
{
	unsigned char kb[STORE_CRL_KEY], vb[9 + 256];
	bool retired = c->status == MQ_CERT_RETIRED;
	time_t t = retired ? c->retired_at : c->revoked_at;
	size_t rlen = !retired && c->revoke_reason ? strlen(c->revoke_reason) : 0;
	MDB_val k, v;

	/* Reason names are short: a longer text maps to "unspecified" anyway. */
	if (rlen > sizeof(vb) - 9)
		rlen = sizeof(vb) - 9;
	k.mv_size = store_crl_key(ck, kb);
	k.mv_data = kb;
	v.mv_size = 9 + rlen;
	v.mv_data = vb;
	vb[0] = retired ? 'T' : 'R';
	store_be64(t < 0 ? 0 : (uint64_t)t, vb + 1);
	memcpy(vb + 9, c->revoke_reason ? c->revoke_reason : "", rlen);
	return mdb_put(s->wtxn, s->crl, &k, &v, 0);
}

/* The crl index from the revoked index and the records it names: once per
 * store (or after a write by an mqadmin that did not keep it), O(revoked). */
static int store_crl_rebuild(struct mq_store *s, char *err, size_t errlen)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int got = 0, rc = mdb_drop(s->wtxn, s->crl, 0);

	if (rc || (rc = mdb_cursor_open(s->wtxn, s->revoked, &cur)))
		return store_fail(err, errlen, rc, "crl index");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		char name[256];
		struct mq_device *d;
		MDB_val rec;

		if (v.mv_size >= sizeof(name))
			continue;
		memcpy(name, v.mv_data, v.mv_size);
		name[v.mv_size] = '\0';
		got = store_get_raw(s, name, &rec, err, errlen);
		if (got < 0)
			break;
		if (got)
			continue; /* a stale entry: its device is gone */
		/* An unreadable record has nothing to trust: as store_drop_old. */
		if (!(d = mq_device_parse(rec.mv_data, rec.mv_size, err, errlen)))
			continue;
		for (size_t i = 0; !rc && i < d->ncerts; i++) {
			struct store_cert_keys ck;

			if (d->certs[i]->status != MQ_CERT_ACTIVE && !store_cert_keys(d->certs[i], &ck))
				rc = store_crl_put(s, d->certs[i], &ck);
		}
		mq_device_free(d);
		if (rc)
			break;
	}
	mdb_cursor_close(cur);
	if (got < 0)
		return -1;
	if (rc != MDB_NOTFOUND)
		return store_fail(err, errlen, rc, "crl index");
	s->crl_rebuilt = true;
	return 0;
}

/* The key of d's expiring entry into kb (and what its value says): false
 * when d has none. */
static bool store_exp_key(const struct mq_device *d, unsigned char kb[8 + STORE_FP_BYTES],
			  const struct mq_cert **best, bool *timed)
{
	const struct mq_cert *key;

	if (!store_exp_pick(d, best, &key, timed))
		return false;
	store_be64(key->not_after < 0 ? 0 : (uint64_t)key->not_after, kb);
	return store_unhex(key->fingerprint, kb + 8, STORE_FP_BYTES) == STORE_FP_BYTES;
}

static int store_exp_put(struct mq_store *s, const struct mq_device *d)
{
	unsigned char kb[8 + STORE_FP_BYTES];
	char vb[STORE_EXP_VAL];
	const struct mq_cert *best;
	size_t slen, nlen;
	bool timed;
	MDB_val k = {sizeof(kb), kb}, v = {0, vb};

	if (!store_exp_key(d, kb, &best, &timed))
		return 0;
	slen = strlen(best->serial);
	nlen = strlen(d->name);
	if (2 + slen + nlen > sizeof(vb))
		return MDB_BAD_VALSIZE;
	vb[0] = timed ? 'T' : 'A';
	memcpy(vb + 1, best->serial, slen + 1);
	memcpy(vb + 2 + slen, d->name, nlen);
	v.mv_size = 2 + slen + nlen;
	return mdb_put(s->wtxn, s->expiring, &k, &v, 0);
}

static int store_exp_del(struct mq_store *s, const struct mq_device *old)
{
	unsigned char kb[8 + STORE_FP_BYTES];
	const struct mq_cert *best;
	bool timed;
	MDB_val k = {sizeof(kb), kb};

	return store_exp_key(old, kb, &best, &timed) ? store_del(s->wtxn, s->expiring, &k) : 0;
}

/* The expiring index from every record: once per store (or after a write
 * by an mqadmin that did not keep it), O(fleet), announced through the
 * notice callback. */
static int store_exp_rebuild(struct mq_store *s, char *err, size_t errlen)
{
	MDB_cursor *cur = NULL;
	MDB_stat st;
	MDB_val k, v;
	int rc = mdb_drop(s->wtxn, s->expiring, 0);

	if (!rc && s->notice && !mdb_stat(s->wtxn, s->devices, &st) && st.ms_entries)
		s->notice(s->notice_arg, "expiring", st.ms_entries);
	if (rc || (rc = mdb_cursor_open(s->wtxn, s->devices, &cur)))
		return store_fail(err, errlen, rc, "expiring index");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		/* An unreadable record has nothing to trust: as store_drop_old. */
		struct mq_device *d = mq_device_parse(v.mv_data, v.mv_size, NULL, 0);

		if (!d)
			continue;
		rc = store_exp_put(s, d);
		mq_device_free(d);
		if (rc)
			break;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return store_fail(err, errlen, rc, "expiring index");
	s->exp_rebuilt = true;
	return 0;
}

/* Drops the index entries of old (the stored record of a device). */
static int store_unindex(struct mq_store *s, const struct mq_device *old)
{
	MDB_val k, v;
	int rc;

	k = store_str(old->username);
	rc = mdb_get(s->wtxn, s->by_user, &k, &v);
	if (!rc && v.mv_size == strlen(old->name) && !memcmp(v.mv_data, old->name, v.mv_size))
		rc = mdb_del(s->wtxn, s->by_user, &k, NULL);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	for (size_t i = 0; i < old->ncerts; i++) {
		struct store_cert_keys ck;
		unsigned char kcb[STORE_CRL_KEY];
		MDB_val kf = {STORE_FP_BYTES, ck.fp}, ks, ke = {sizeof(ck.exp), ck.exp}, kc = {0, kcb};

		if (store_cert_keys(old->certs[i], &ck))
			continue;
		ks.mv_size = (size_t)ck.serial_len;
		ks.mv_data = ck.serial;
		kc.mv_size = store_crl_key(&ck, kcb);
		if ((rc = store_del(s->wtxn, s->by_fp, &kf)) || (rc = store_del(s->wtxn, s->by_serial, &ks)) ||
		    (rc = store_del(s->wtxn, s->expiry, &ke)) || (rc = store_del(s->wtxn, s->revoked, &ks)) ||
		    (rc = store_del(s->wtxn, s->crl, &kc)))
			return rc;
	}
	return store_exp_del(s, old);
}

/* Puts k -> name in an index unless another device holds k: 0, 1 taken, rc. */
static int store_index_put(struct mq_store *s, MDB_dbi dbi, MDB_val *k, const char *name,
			   char *other, size_t otherlen)
{
	MDB_val v = store_str(name), cur;
	int rc = mdb_get(s->wtxn, dbi, k, &cur);

	if (!rc && (cur.mv_size != v.mv_size || memcmp(cur.mv_data, v.mv_data, v.mv_size))) {
		snprintf(other, otherlen, "%.*s", (int)cur.mv_size, (const char *)cur.mv_data);
		return 1;
	}
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	return mdb_put(s->wtxn, dbi, k, &v, 0);
}

static int store_index(struct mq_store *s, const struct mq_device *d, char *err, size_t errlen)
{
	char other[256];
	MDB_val k = store_str(d->username);
	int rc = store_index_put(s, s->by_user, &k, d->name, other, sizeof(other));

	if (rc == 1) {
		mq_errf(err, errlen, "username '%s' is already used by device '%s'", d->username, other);
		return -1;
	}
	if (rc)
		return store_fail(err, errlen, rc, "by_user");
	for (size_t i = 0; i < d->ncerts; i++) {
		const struct mq_cert *c = d->certs[i];
		struct store_cert_keys ck;
		MDB_val kf = {STORE_FP_BYTES, ck.fp}, ks, ke = {sizeof(ck.exp), ck.exp};
		MDB_val vn = store_str(d->name), vf = {STORE_FP_BYTES, ck.fp};

		if (store_cert_keys(c, &ck)) {
			mq_errf(err, errlen, "device '%s': certificate %s: bad serial or fingerprint",
				d->name, c->fingerprint);
			return -1;
		}
		ks.mv_size = (size_t)ck.serial_len;
		ks.mv_data = ck.serial;
		rc = store_index_put(s, s->by_fp, &kf, d->name, other, sizeof(other));
		if (rc == 1) {
			mq_errf(err, errlen, "certificate %s is already in the policy (device '%s')",
				c->fingerprint, other);
			return -1;
		}
		/* expiry: active certificates only, so that 'expiring' walks its
		 * result and not the retired and revoked history. */
		if (rc || (rc = mdb_put(s->wtxn, s->by_serial, &ks, &vf, 0)) ||
		    (c->status == MQ_CERT_ACTIVE && (rc = mdb_put(s->wtxn, s->expiry, &ke, &vn, 0))) ||
		    (c->status != MQ_CERT_ACTIVE && ((rc = mdb_put(s->wtxn, s->revoked, &ks, &vn, 0)) ||
						     (rc = store_crl_put(s, c, &ck)))))
			return store_fail(err, errlen, rc, "index");
	}
	rc = store_exp_put(s, d);
	return rc ? store_fail(err, errlen, rc, "expiring index") : 0;
}

/* The stored record of name, parsed, unindexed: 0 (or 1 absent), -1. */
static int store_drop_old(struct mq_store *s, const char *name, const char *json, bool *same,
			  char *err, size_t errlen)
{
	struct mq_device *old = NULL;
	MDB_val v;
	int rc = store_get_raw(s, name, &v, err, errlen);

	*same = false;
	if (rc)
		return rc;
	if (json && v.mv_size == strlen(json) && !memcmp(v.mv_data, json, v.mv_size)) {
		*same = true;
		return 0;
	}
	old = mq_device_parse(v.mv_data, v.mv_size, err, errlen);
	if (old) {
		rc = store_unindex(s, old);
		mq_device_free(old);
		if (rc)
			return store_fail(err, errlen, rc, "index");
	}
	/* An unreadable old record has no index entries to trust: keep going
	 * so that a good record can replace it. */
	return 0;
}

int mq_store_put_device(struct mq_store *s, const struct mq_device *d, char *err, size_t errlen)
{
	char *json = NULL;
	MDB_val k, v;
	bool same;
	int rc = -1;

	if (store_need_write_txn(s, err, errlen))
		return -1;
	if (!(json = mq_device_json(d))) {
		mq_errf(err, errlen, "out of memory");
		return -1;
	}
	rc = store_drop_old(s, d->name, json, &same, err, errlen);
	if (rc < 0 || same) {
		rc = rc < 0 ? -1 : 0;
		goto out;
	}
	rc = -1;
	if (store_index(s, d, err, errlen))
		goto out;
	k = store_str(d->name);
	v = store_str(json);
	if ((rc = mdb_put(s->wtxn, s->devices, &k, &v, 0))) {
		rc = store_fail(err, errlen, rc, "devices");
		goto out;
	}
	rc = store_log_change(s, 'D', d->name, err, errlen);
out:
	free(json);
	return rc;
}

int mq_store_delete_device(struct mq_store *s, const char *name, char *err, size_t errlen)
{
	MDB_val k = store_str(name);
	bool same;
	int rc;

	if (store_need_write_txn(s, err, errlen))
		return -1;
	rc = store_drop_old(s, name, NULL, &same, err, errlen);
	if (rc)
		return rc;
	if ((rc = mdb_del(s->wtxn, s->devices, &k, NULL)))
		return store_fail(err, errlen, rc, "devices");
	return store_log_change(s, 'D', name, err, errlen);
}

int mq_store_put_rule(struct mq_store *s, const struct mq_rule *r, char *err, size_t errlen)
{
	unsigned char kb[8];
	char *json, id[24];
	MDB_val k = {8, kb}, v, cur;
	int rc;

	if (store_need_write_txn(s, err, errlen))
		return -1;
	if (!(json = mq_rule_json(r))) {
		mq_errf(err, errlen, "out of memory");
		return -1;
	}
	store_be64(r->id, kb);
	v = store_str(json);
	rc = mdb_get(s->wtxn, s->rules, &k, &cur);
	if (!rc && cur.mv_size == v.mv_size && !memcmp(cur.mv_data, v.mv_data, v.mv_size)) {
		free(json);
		return 0;
	}
	rc = mdb_put(s->wtxn, s->rules, &k, &v, 0);
	free(json);
	if (rc)
		return store_fail(err, errlen, rc, "rules");
	snprintf(id, sizeof(id), "%lu", r->id);
	return store_log_change(s, 'R', id, err, errlen);
}

int mq_store_delete_rule(struct mq_store *s, unsigned long id, char *err, size_t errlen)
{
	unsigned char kb[8];
	char key[24];
	MDB_val k = {8, kb};
	int rc;

	if (store_need_write_txn(s, err, errlen))
		return -1;
	store_be64(id, kb);
	rc = mdb_del(s->wtxn, s->rules, &k, NULL);
	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc)
		return store_fail(err, errlen, rc, "rules");
	snprintf(key, sizeof(key), "%lu", id);
	return store_log_change(s, 'R', key, err, errlen);
}

int mq_store_meta_set(struct mq_store *s, const char *key, uint64_t v, char *err, size_t errlen)
{
	int rc;

	if (store_need_write_txn(s, err, errlen))
		return -1;
	if (!strcmp(key, "seq") || !strcmp(key, "version")) {
		mq_errf(err, errlen, "policy store: meta '%s' is the store's own", key);
		return -1;
	}
	rc = store_meta_put_txn(s, s->wtxn, key, v);
	return rc ? store_fail(err, errlen, rc, "meta") : 0;
}

int mq_store_meta_set_text(struct mq_store *s, const char *key, const char *text,
			   char *err, size_t errlen)
{
	MDB_val k = store_str(key), v;
	int rc;

	if (store_need_write_txn(s, err, errlen))
		return -1;
	if (!text) {
		rc = store_del(s->wtxn, s->meta, &k);
	} else {
		v = store_str(text);
		rc = mdb_put(s->wtxn, s->meta, &k, &v, 0);
	}
	return rc ? store_fail(err, errlen, rc, "meta") : 0;
}

int mq_store_log_trim(struct mq_store *s, uint64_t below, char *err, size_t errlen)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t floor = 1;
	int rc;

	if (store_need_write_txn(s, err, errlen))
		return -1;
	store_meta_get_txn(s, s->wtxn, "log_floor", &floor);
	if (below <= floor)
		return 0;
	if ((rc = mdb_cursor_open(s->wtxn, s->log, &c)))
		return store_fail(err, errlen, rc, "log");
	while (!(rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) && k.mv_size == 8 &&
	       store_get_be64(k.mv_data) < below) {
		if ((rc = mdb_cursor_del(c, 0)))
			break;
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		return store_fail(err, errlen, rc, "log");
	rc = store_meta_put_txn(s, s->wtxn, "log_floor", below);
	return rc ? store_fail(err, errlen, rc, "meta") : 0;
}

int mq_store_clear(struct mq_store *s, char *err, size_t errlen)
{
	MDB_dbi dbs[] = {s->devices, s->by_fp, s->by_user, s->by_serial, s->expiry, s->rules,
			 s->revoked, s->crl, s->expiring};
	MDB_val k = store_str("deleted");
	int rc;

	if (store_need_write_txn(s, err, errlen))
		return -1;
	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++)
		if ((rc = mdb_drop(s->wtxn, dbs[i], 0)))
			return store_fail(err, errlen, rc, "clear");
	rc = store_del(s->wtxn, s->meta, &k);
	return rc ? store_fail(err, errlen, rc, "meta") : 0;
}
