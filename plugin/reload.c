/* The store (DIR/store, LMDB; docs/STORE.md), read in place on the broker
 * thread: no thread, no parse of the fleet. Each TICK compares the id of
 * the newest committed write transaction (LMDB's meta page, no read
 * transaction) with the one last read; only when it moved is meta.seq read
 * (one get in a renewed read transaction); when that moved, the change log since
 * the last sequence applied names what changed: the rules are recompiled
 * only on 'R', the CRL re-read on 'C'; the devices named ('D') go into a
 * struct mqreload_delta for enforce.c, which judges only their clients again
 * ('I', an import, or a gap in the log: everyone). This module never calls
 * authentication or kicks anyone; plugin.c runs the two in order. */
#include "mqcert.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How long to wait for the first TICK before assuming it never comes
 * (per_listener_settings true). */
#define RL_NO_TICK_SECONDS 5
/* How often a store that cannot be opened is tried again. */
#define RL_REOPEN_SECONDS 1

static void rl_rules_free(struct mqreload_rules *r)
{
	if (!r)
		return;
	mq_acl_index_free(r->acl);
	mq_policy_free(r->policy);
	free(r);
}

/* Inside a read transaction. */
static struct mqreload_rules *rl_rules_load(struct mq_store *s, char *err, size_t errlen)
{
	struct mqreload_rules *r = calloc(1, sizeof(*r));

	if (!r || !(r->policy = mq_policy_new())) {
		free(r);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (mq_store_rules_load(s, r->policy, err, errlen))
		goto fail;
	if (!(r->acl = mq_acl_index_build(r->policy))) {
		snprintf(err, errlen, "out of memory compiling the ACL rules");
		goto fail;
	}
	return r;
fail:
	rl_rules_free(r);
	return NULL;
}

/* One clear line per distinct trouble (every tick retries). */
static void rl_trouble(struct mqcert *st, const char *err)
{
	struct mqreload *rl = &st->rl;

	if (rl->broken_logged && !strcmp(rl->last_err, err))
		return;
	snprintf(rl->last_err, sizeof(rl->last_err), "%s", err);
	rl->broken_logged = true;
	mqaudit_policy_rejected(st->audit, err, (unsigned long)rl->applied);
	if (st->rules)
		mqlog(MOSQ_LOG_ERR, "store %s: %s; keeping the state of sequence %llu",
		      st->opt.store_path, err, (unsigned long long)rl->applied);
	else
		mqlog(MOSQ_LOG_ERR, "store %s: %s; refusing every client until it is readable",
		      st->opt.store_path, err);
}

/* Opens the store read-only into *out (the data.mdb opened in *sb); logs
 * why not, naming the fix. */
static int rl_open_into(struct mqcert *st, struct mq_store **out, struct stat *data)
{
	char err[512] = "", msg[4800];
	struct stat sb;

	*out = NULL;
	if (stat(st->opt.store_path, &sb)) {
		snprintf(msg, sizeof(msg), "cannot open it: %s (run 'mqadmin doctor' as the PKI's "
			 "owner: it creates the store from policy.json)", strerror(errno));
		rl_trouble(st, msg);
		return -1;
	}
	/* LMDB would open a FIFO in the store's place and wait in open() for
	 * ever; nothing there may stop the broker from serving or exiting. */
	for (size_t i = 0; i < 2; i++) {
		const char *name = i ? "lock.mdb" : "data.mdb";
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s", st->opt.store_path, name);
		if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
			snprintf(msg, sizeof(msg), "%s is %s, not a regular file (run 'mqadmin "
				 "doctor')", path, mq_file_kind(sb.st_mode));
			rl_trouble(st, msg);
			return -1;
		}
		if (!i)
			*data = sb;
	}
	if (mq_store_open(out, st->opt.store_path, MQ_STORE_RDONLY, err, sizeof(err))) {
		*out = NULL;
		/* An unknown version names its own fix (upgrade mqcert). */
		snprintf(msg, sizeof(msg), "%s%s", err, strstr(err, "this mqcert reads version") ? "" :
			 " (run 'mqadmin doctor': it checks the store and gives lock.mdb to the "
			 "broker's user)");
		rl_trouble(st, msg);
		return -1;
	}
	return 0;
}

static int rl_open(struct mqcert *st)
{
	struct mqreload *rl = &st->rl;
	struct stat sb = {0};

	rl->last_open_try = time(NULL);
	if (rl_open_into(st, &st->store, &sb))
		return -1;
	rl->data_dev = sb.st_dev;
	rl->data_ino = sb.st_ino;
	rl->seen_txnid = 0;
	return 0;
}

/* The open store keeps the data.mdb it opened: a store deleted, or
 * replaced (a restored backup, a re-created store) under the broker would
 * go unnoticed. Once a second, one stat: gone keeps the last state (and
 * says so); replaced is opened afresh and judges everyone, unless it
 * cannot be opened: then the open one, the last good state, stays. */
static void rl_check_file(struct mqcert *st, time_t now)
{
	struct mqreload *rl = &st->rl;
	char path[4096], msg[4800];
	struct mq_store *fresh;
	struct stat sb;

	if (!st->store || now == rl->last_file_check)
		return;
	rl->last_file_check = now;
	snprintf(path, sizeof(path), "%s/data.mdb", st->opt.store_path);
	rl->data_gone = stat(path, &sb) != 0;
	if (rl->data_gone) {
		snprintf(msg, sizeof(msg), "%s: %s (run 'mqadmin doctor')", path, strerror(errno));
		rl_trouble(st, msg);
		return;
	}
	if (sb.st_dev == rl->data_dev && sb.st_ino == rl->data_ino)
		return;
	if (rl_open_into(st, &fresh, &sb)) {
		rl->data_gone = true; /* not the file we hold: apply nothing */
		return;
	}
	mqlog(MOSQ_LOG_NOTICE, "store %s: data.mdb was replaced; opening it again",
	      st->opt.store_path);
	/* Both share lock.mdb, whose fcntl locks closing either environment
	 * drops for the whole process: close both, then open once more. */
	mq_store_close(fresh);
	mq_store_close(st->store);
	st->store = NULL;
	rl->replaced_seq = rl->applied;
	rl->applied_valid = false;
	(void)rl_open(st);
}

static int rl_change_cb(void *arg, uint64_t seq, char kind, const char *key)
{
	struct mqreload_delta *c = arg;
	char *k;

	(void)seq;
	switch (kind) {
	case 'D':
		if (c->all || mq_strmap_get(&c->names, key))
			return 0;
		if (c->n == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 16;
			char **o = realloc(c->owned, cap * sizeof(*o));

			if (!o)
				goto oom;
			c->owned = o;
			c->cap = cap;
		}
		if (!(k = strdup(key)))
			goto oom;
		c->owned[c->n++] = k;
		if (mq_strmap_put(&c->names, k, k))
			goto oom;
		return 0;
	case 'R':
		c->rules = true;
		return 0;
	case 'C':
		c->crl_changes = true;
		return 0;
	default: /* 'I', or a kind this version does not know: everything */
		c->all = c->rules = c->crl_changes = true;
		return 0;
	}
oom:
	/* Judging everyone is always correct, only slower. */
	c->all = true;
	return 0;
}

void mqreload_delta_release(struct mqreload_delta *c)
{
	rl_rules_free(c->old_rules);
	c->old_rules = NULL;
	for (size_t i = 0; i < c->n; i++)
		free(c->owned[i]);
	free(c->owned);
	mq_strmap_release(&c->names);
}

/* Reads the store's changes since rl->applied into c, inside a read
 * transaction. 0, or -1 (logged). */
static int rl_collect(struct mqcert *st, struct mqreload_delta *c)
{
	struct mqreload *rl = &st->rl;
	char err[512] = "";
	int rc;

	if (!st->rules || !rl->applied_valid || rl->force) {
		c->all = c->rules = c->crl_changes = true;
		return 0;
	}
	rc = mq_store_changes(st->store, rl->applied, rl_change_cb, c, err, sizeof(err));
	if (rc < 0) {
		rl_trouble(st, err);
		return -1;
	}
	if (rc == 1) {
		mqlog(MOSQ_LOG_NOTICE, "store %s: the change log no longer reaches back to "
		      "sequence %llu; judging every client again", st->opt.store_path,
		      (unsigned long long)rl->applied);
		c->all = c->rules = c->crl_changes = true;
	}
	return 0;
}

/* Applies what changed since rl->applied: swaps the rules and the CRL in
 * force and names, in *out, the clients that must be judged again (the
 * enforcement module's work, see plugin.c). */
static void rl_apply(struct mqcert *st, time_t now, struct mqreload_delta *out)
{
	struct mqreload *rl = &st->rl;
	struct mqreload_delta c = {0};
	char err[512]; /* not zeroed: 512 bytes of stores on every TICK */
	uint64_t seq, txnid, version = 0;
	size_t ndev;
	bool crl_file = false;

	err[0] = '\0';
	mq_strmap_init(&c.names);
	/* The CRL file outside the store (a sync, an operator) is looked at
	 * once a second: two stats per TICK were most of an idle tick. */
	if (now != rl->last_crl_check) {
		rl->last_crl_check = now;
		crl_file = mqcrl_changed(st);
	}
	rl_check_file(st, now);
	if (rl->data_gone)
		goto out; /* the last state stays */
	if (!st->store && (now - rl->last_open_try < RL_REOPEN_SECONDS || rl_open(st)))
		goto out;
	/* The idle TICK: nothing committed since the snapshot last read. */
	if (st->rules && rl->applied_valid && !rl->force && rl->seen_txnid &&
	    mq_store_last_txnid(st->store) == rl->seen_txnid) {
		if (crl_file && mqcrl_reload(st))
			c.crl = true;
		goto out;
	}
	if (mq_store_read_begin(st->store, err, sizeof(err))) {
		rl_trouble(st, err);
		goto out;
	}
	seq = mq_store_seq(st->store);
	txnid = mq_store_read_txnid(st->store);
	/* A commit that did not move the sequence: one get, nothing to do. */
	if (st->rules && rl->applied_valid && seq == rl->applied && !rl->force) {
		mq_store_read_end(st->store);
		rl->seen_txnid = txnid;
		if (crl_file && mqcrl_reload(st))
			c.crl = true;
		goto out;
	}
	/* A newer mqadmin may have converted the store under us: apply
	 * nothing of a layout this plugin does not know. */
	if (mq_store_meta_get(st->store, "version", &version) < 0 ||
	    version != MQ_STORE_VERSION) {
		snprintf(err, sizeof(err), "the store is now version %llu; this mqcert reads "
			 "version %d: upgrade mqcert (or re-create the store with mqadmin policy "
			 "import)", (unsigned long long)version, MQ_STORE_VERSION);
		mq_store_read_end(st->store);
		rl->bad_version = true;
		rl_trouble(st, err);
		goto out;
	}
	rl->bad_version = false;
	if (rl_collect(st, &c)) {
		mq_store_read_end(st->store);
		goto out;
	}
	if (c.rules) {
		struct mqreload_rules *old = st->rules, *fresh = rl_rules_load(st->store, err,
									   sizeof(err));

		if (!fresh) {
			mq_store_read_end(st->store);
			rl_trouble(st, err);
			goto out;
		}
		/* Every client's rules point into old: it lives in the delta
		 * until the clients are resolved against the new ones. */
		st->rules = fresh;
		c.old_rules = old;
	}
	if (c.crl_changes || crl_file) {
		/* The file as read now: the once-a-second look must not read
		 * it again for a change the store already announced. */
		if (!crl_file)
			(void)mqcrl_changed(st);
		c.crl = mqcrl_reload(st);
	}
	ndev = mq_store_device_count(st->store);
	mq_store_read_end(st->store);
	if (rl->broken_logged)
		mqlog(MOSQ_LOG_NOTICE, "store %s is readable again", st->opt.store_path);
	mqlog(MOSQ_LOG_NOTICE, "store sequence %llu in force (%zu devices, %zu rules%s)",
	      (unsigned long long)seq, ndev, st->rules->policy->nrules,
	      c.all ? "; every client judged again" : c.rules ? "; rules recompiled" : "");
	mqaudit_policy_loaded(st->audit, (unsigned long long)seq, ndev, st->rules->policy->nrules);
	/* mqadmin only ever counts up: a lower sequence is an old store put
	 * back (a restored backup), which may re-admit revoked devices; the
	 * CRL still refuses those it lists. */
	if (rl->replaced_seq && seq < rl->replaced_seq)
		mqlog(MOSQ_LOG_WARNING, "WARNING: store sequence %llu is older than sequence %llu "
		      "it replaces: was an old backup restored? Devices revoked since then are "
		      "active again unless the CRL (%s) lists them", (unsigned long long)seq,
		      (unsigned long long)rl->replaced_seq,
		      st->opt.crl_path ? st->opt.crl_path : "none");
	rl->replaced_seq = 0;
	rl->broken_logged = false;
	rl->applied = seq;
	rl->applied_valid = true;
	rl->seen_txnid = txnid;
	rl->force = false;
	c.applied = true;
	c.seq = seq;
out:
	*out = c;
}

int mqreload_start(struct mqcert *st, struct mqreload_delta *out)
{
	struct mqreload *rl = &st->rl;

	memset(rl, 0, sizeof(*rl));

	rl->started = time(NULL);
	(void)mqcrl_changed(st);
	rl->last_crl_check = rl->started;
	rl->last_open_try = rl->started - RL_REOPEN_SECONDS;
	rl_apply(st, rl->started, out);
	return 0;
}

void mqreload_stop(struct mqcert *st)
{
	rl_rules_free(st->rules);
	st->rules = NULL;
	mqcrl_free(st->crl);
	st->crl = NULL;
	mq_store_close(st->store);
	st->store = NULL;
}

void mqreload_tick(struct mqcert *st, time_t now, struct mqreload_delta *out)
{
	struct mqreload *rl = &st->rl;

	rl->ticks++;
	rl->in_reload_apply = false;
	rl_apply(st, now, out);
}

void mqreload_force(struct mqcert *st)
{
	st->rl.force = true;
	/* The broker re-runs BASIC_AUTH for every session right after this
	 * event and ticks once the loop pass ends; without ticks the flag
	 * could never be cleared, so it is only trusted when ticks come. */
	if (st->rl.ticks)
		st->rl.in_reload_apply = true;
}

bool mqreload_connect_poll(struct mqcert *st, time_t now, struct mqreload_delta *out)
{
	struct mqreload *rl = &st->rl;

	if (rl->ticks)
		return false;

	if (!rl->no_tick_mode) {
		if (now - rl->started < RL_NO_TICK_SECONDS)
			return false;
		rl->no_tick_mode = true;
		mqlog(MOSQ_LOG_WARNING, "WARNING: no MOSQ_EVT_TICK in %d seconds, so "
		      "per_listener_settings is probably true: rule changes are now picked up "
		      "only when a client connects, and connected clients are NOT disconnected "
		      "when revoked or expired; set per_listener_settings false",
		      RL_NO_TICK_SECONDS);
	}
	if (now - rl->last_poll < 1)
		return false;
	rl->last_poll = now;
	rl_apply(st, now, out);
	return true;
}

bool mqreload_in_force(const struct mqcert *st)
{
	return st->rules && !st->rl.bad_version;
}

bool mqreload_rechecking(const struct mqcert *st)
{
	return st->rl.in_reload_apply;
}
