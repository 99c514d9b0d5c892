/* The PKI directory as a command sees it (store.h): its layout, its lock,
 * the policy loaded from and saved to the LMDB store (and etcd with a
 * fleet), and the leftovers of interrupted commands. */
#include "store.h"

#include "cli.h"
#include "out.h"
#include "fleet.h"
#include "mq_x509.h"
#include "mq_fileio.h"
#include "pkidir.h"
#include "mq_names.h"
#include "mq_err.h"
#include "mq_strmap.h"
#include "wait.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

char *store_path(const struct store *st, const char *fmt, ...)
{
	va_list ap;
	char *rel = NULL, *out = NULL;

	va_start(ap, fmt);
	if (vasprintf(&rel, fmt, ap) < 0)
		rel = NULL;
	va_end(ap);
	if (rel && asprintf(&out, "%s/%s", st->dir, rel) < 0)
		out = NULL;
	free(rel);
	if (!out)
		cli_err("out of memory");
	return out;
}

static int store_has_ca(const struct store *st)
{
	char *p = store_path(st, "ca.crt");
	int ok;

	if (!p)
		return -1;
	ok = access(p, F_OK) == 0;
	free(p);
	if (!ok) {
		pkidir_err_missing(st->dir, "it holds no CA (no ca.crt)");
		return -1;
	}
	return 0;
}

static int store_lock(struct store *st)
{
	char *p = store_path(st, ".lock");

	if (!p)
		return -1;
	st->lockfd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (st->lockfd < 0) {
		cli_err("cannot open lock file %s: %s", p, strerror(errno));
		free(p);
		return -1;
	}
	while (flock(st->lockfd, LOCK_EX)) {
		if (errno == EINTR)
			continue;
		cli_err("cannot lock %s: %s", p, strerror(errno));
		free(p);
		return -1;
	}
	free(p);
	return 0;
}

/* init may be pointed at /etc/mqcert/pki on a fresh machine: create the
 * missing parents like mkdir -p, each 0755 so the broker can traverse. */
static int store_mkdir_parents(const char *dir)
{
	char *p = strdup(dir);
	int rc = 0;

	if (!p) {
		cli_err("out of memory");
		return -1;
	}
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0755) && errno != EEXIST) {
			cli_err("cannot create directory %s: %s", p, strerror(errno));
			rc = -1;
			break;
		}
		*s = '/';
	}
	free(p);
	return rc;
}

/* DIR/audit is where the plugin writes its audit log and connected state.
 * It is the only place the broker's user may write: the state file is
 * replaced by rename, and write access to DIR itself would let the broker
 * replace policy.json. Created on first use; when we are root and the
 * Debian broker user exists, it is handed to that user so the plugin works
 * as installed. */
static int store_audit_dir(const struct store *st)
{
	const struct passwd *pw;
	bool created;
	char *p;
	int rc = 0;

	if (store_mkdir(st, "audit", &created))
		return -1;
	if (!created || geteuid() != 0 || !(pw = getpwnam(STORE_BROKER_USER)))
		return 0;
	p = store_path(st, "audit");
	if (!p)
		return -1;
	if (chown(p, pw->pw_uid, pw->pw_gid)) {
		cli_err("cannot give %s to user %s: %s; run 'chown %s %s'", p, STORE_BROKER_USER,
			strerror(errno), STORE_BROKER_USER, p);
		rc = -1;
	}
	free(p);
	return rc;
}

int store_open(struct store *st, const char *dir, enum store_mode mode)
{
	struct stat sb;

	memset(st, 0, sizeof(*st));
	st->lockfd = -1;
	st->shlockfd = -1;
	st->mode = mode;
	st->dir = strdup(dir);
	if (!st->dir) {
		cli_err("out of memory");
		return -1;
	}
	if (mode == STORE_CREATE) {
		if (store_mkdir_parents(dir))
			return -1;
		if (mkdir(dir, 0755) == 0) {
			/* Readable by the broker's user whatever our umask. */
			if (chmod(dir, 0755)) {
				cli_err("cannot set the mode of %s: %s", dir, strerror(errno));
				return -1;
			}
		} else if (errno != EEXIST) {
			cli_err("cannot create directory %s: %s", dir, strerror(errno));
			return -1;
		}
	}
	if (stat(dir, &sb)) {
		pkidir_err_missing(dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		cli_err("%s is not a directory", dir);
		return -1;
	}
	if (mode != STORE_READ && store_lock(st))
		return -1;
	if (mode != STORE_CREATE && store_has_ca(st))
		return -1;
	if (mode != STORE_READ && store_audit_dir(st))
		return -1;
	return 0;
}

/* Still under the lock nobody else is writing, so whatever a killed run
 * left behind can go. After the command's own work (a revocation is live
 * before this scan of every device directory starts). */
static void store_clean_temps(const char *dir, bool fix, struct store_leftovers *lo);
static void store_clean_unrecorded(const char *ddir, const char *dev, bool fix,
				   struct store_leftovers *lo);
static void store_clean_recorded(const char *ddir, const struct mq_device *dev, bool fix,
				 struct store_leftovers *lo);

/* DIR/.inflight lists the devices whose files a command is writing (one
 * name a line, appended before the first file): O(change) cleaning after
 * a kill -9 looks at those directories only. */
#define STORE_INTENT_MAX (64UL << 20)

int store_intent(const struct store *st, const char *const *names, size_t n)
{
	char *p = store_path(st, ".inflight");
	int fd = -1, rc = -1;
	FILE *f = NULL;

	if (!p)
		goto out;
	fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || !(f = fdopen(fd, "a"))) {
		cli_err("cannot write %s: %s", p, strerror(errno));
		goto out;
	}
	fd = -1;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", names[i]);
	/* On disk before the files it names (a power cut keeps the order). */
	if (fflush(f) || fdatasync(fileno(f))) {
		cli_err("cannot write %s: %s", p, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	free(p);
	return rc;
}

/* One device directory against the store's record of it. */
static int store_clean_one(struct store *st, const char *name, struct store_leftovers *lo)
{
	char err[512], *ddir = store_path(st, "devices/%s", name);
	struct mq_device *d = NULL;
	struct stat sb;
	int got = 0;

	if (!ddir)
		return -1;
	if (!lstat(ddir, &sb) && S_ISDIR(sb.st_mode)) {
		if (mq_store_read_begin(st->db, err, sizeof(err)))
			got = -1;
		else
			got = mq_store_device_get(st->db, name, &d, err, sizeof(err));
		mq_store_read_end(st->db);
		if (got == 0)
			store_clean_recorded(ddir, d, true, lo);
		else if (got == 1)
			store_clean_unrecorded(ddir, name, true, lo);
	}
	mq_device_free(d);
	free(ddir);
	return got < 0 ? -1 : 0;
}

/* The directories DIR/.inflight names; the file goes once they are clean. */
static void store_clean_intents(struct store *st, struct store_leftovers *lo)
{
	char err[256], *p = store_path(st, ".inflight"), *buf = NULL, *line, *next;
	size_t len;
	int rc = 0;

	if (!p || access(p, F_OK) || !store_db(st) ||
	    mq_file_read(p, STORE_INTENT_MAX, &buf, &len, err, sizeof(err)))
		goto out;
	for (line = buf; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (mq_name_valid(line) && store_clean_one(st, line, lo))
			rc = -1;
	}
	if (!rc)
		unlink(p);
out:
	free(buf);
	free(p);
}

static void store_clean_leftovers(struct store *st)
{
	struct store_leftovers lo;
	char what[512], *p;

	if (st->lockfd < 0)
		return;
	memset(&lo, 0, sizeof(lo));
	if (st->saved && st->policy && !st->partial) {
		if (store_leftovers(st->dir, st->policy, true, &lo))
			return;
		if ((p = store_path(st, ".inflight")))
			unlink(p);
		free(p);
	} else {
		/* O(change): a partial model cannot tell recorded devices from
		 * leftovers, and the scan of every device directory is O(fleet)
		 * (left to whole-model commands and doctor --fix). Temporary files
		 * in DIR and the directories of devices whose files a killed run
		 * was writing (DIR/.inflight) are cleaned. */
		if (st->saved)
			store_clean_temps(st->dir, true, &lo);
		store_clean_intents(st, &lo);
		lo.total = lo.temps + lo.dirs + lo.staged_dropped + lo.staged_committed;
	}
	if (!lo.total)
		return;
	store_leftovers_describe(&lo, true, what, sizeof(what));
	fprintf(stderr, "mqadmin: note: cleaned up after an interrupted mqadmin run: %s\n", what);
}

void store_close(struct store *st)
{
	store_clean_leftovers(st);
	if (st->lockfd >= 0)
		close(st->lockfd); /* releases the lock */
	st->lockfd = -1;
	mq_store_close(st->db);
	st->db = NULL;
	if (st->shlockfd >= 0)
		close(st->shlockfd);
	st->shlockfd = -1;
	mq_policy_free(st->policy);
	st->policy = NULL;
	for (size_t i = 0; i < st->nloaded; i++)
		free(st->loaded[i]);
	free(st->loaded);
	st->loaded = NULL;
	st->nloaded = 0;
	free(st->dir);
	st->dir = NULL;
}

/* ---- the policy store (DIR/store, docs/STORE.md) ----------------------- */

/* lock.mdb: the broker's reader slots live there, so the broker's user
 * must write it (data.mdb stays root's, 0644). As root, with the Debian
 * broker user present, give it to that user, 0600 like a server key. */
static int store_db_modes(const struct store *st)
{
	const struct passwd *pw;
	struct stat sb;
	char *p = store_path(st, "store/lock.mdb");
	int rc = 0;

	if (!p)
		return -1;
	if (geteuid() == 0 && (pw = getpwnam(STORE_BROKER_USER)) && !stat(p, &sb) &&
	    (sb.st_uid != pw->pw_uid || (sb.st_mode & 07777) != 0600)) {
		if (chown(p, pw->pw_uid, pw->pw_gid) || chmod(p, 0600)) {
			cli_err("cannot give %s to user %s: %s; run 'chown %s %s && chmod 600 %s'", p,
				STORE_BROKER_USER, strerror(errno), STORE_BROKER_USER, p, p);
			rc = -1;
		}
	}
	free(p);
	return rc;
}

static int store_db_write_model(struct store *st, const struct mq_policy *p, bool quiet);

/* DIR/policy.json of an installation from before the store: into the new
 * store in one transaction (devices in name order), then renamed to
 * policy.json.migrated. */
static int store_migrate(struct store *st, const char *json)
{
	char err[512], *to = store_path(st, "policy.json.migrated");
	struct mq_policy *p = NULL;
	int rc = -1;

	if (!to)
		return -1;
	fprintf(stderr, "mqadmin: note: moving the policy of %s from policy.json into the policy store "
		"%s/store (once; about 40 s per million devices)\n", st->dir, st->dir);
	p = mq_policy_load(json, err, sizeof(err));
	if (!p) {
		cli_err("cannot migrate the policy: %s; fix it (mqadmin policy validate %s) and run the "
			"command again", err, json);
		goto out;
	}
	if (store_db_write_model(st, p, true))
		goto out;
	if (rename(json, to)) {
		cli_err("the policy is in %s/store, but renaming %s to %s failed: %s; rename it by hand",
			st->dir, json, to, strerror(errno));
		goto out;
	}
	fprintf(stderr, "mqadmin: note: migrated %zu device(s) and %zu rule(s); %s is kept as %s and "
		"no longer read by mqadmin\n", p->ndevices, p->nrules, json, to);
	rc = 0;
out:
	mq_policy_free(p);
	free(to);
	return rc;
}

/* A reader normally takes a slot in lock.mdb; one that may not write it
 * (not root, not the broker user) reads without the reader table, under a
 * shared lock on DIR/.lock that keeps mqadmin's writers out meanwhile. */
static int store_reader_lock(struct store *st, unsigned *flags)
{
	char *lock = store_path(st, "store/lock.mdb"), *dl = store_path(st, ".lock");
	int rc = -1;

	*flags = MQ_STORE_RDONLY;
	if (!lock || !dl)
		goto out;
	if (!access(lock, W_OK) || errno != EACCES) {
		rc = 0;
		goto out;
	}
	st->shlockfd = open(dl, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (st->shlockfd < 0) {
		cli_err("cannot read the policy store: no write access to %s nor read access to %s: %s; "
			"run mqadmin as root or as user %s", lock, dl, strerror(errno), STORE_BROKER_USER);
		goto out;
	}
	while (flock(st->shlockfd, LOCK_SH)) {
		if (errno != EINTR) {
			cli_err("cannot lock %s: %s", dl, strerror(errno));
			goto out;
		}
	}
	*flags |= MQ_STORE_NOLOCK;
	rc = 0;
out:
	free(lock);
	free(dl);
	return rc;
}

/* ---- etcd (issue 17, admin/fleet.c): DIR/store as etcd's cache ---------- */

/* One client for the process (kept across store_open/close: its
 * connection is reused; a command never writes two stores to etcd). */
static struct etcd *store_etcd;
static bool store_fleet_ready; /* caught up: this run's writes go to etcd first */

/* After a catch-up that read changes: the fleet's CRL (another
 * administrator's revocation) becomes DIR/crl.pem when the CA signed it
 * and it is newer; anything else only warns. */
static void store_fleet_crl_fetch(const struct store *st)
{
	char err[1024], *key = fleet_key(fleet_prefix(), "crl.pem");
	struct etcd_range_req r = {.key = key};
	struct etcd_kvs k = {0};

	if (key && !etcd_range(store_etcd, &r, &k, err, sizeof(err)) && k.n &&
	    fleet_install_crl(st->dir, k.v[0].value, k.v[0].vlen, err, sizeof(err)) < 0)
		out_warn("%s", err);
	etcd_kvs_free(&k);
	free(key);
}

/* A revocation whose CRL did not reach etcd (fleet_put_crl failed after
 * the command's transaction): every later changing command publishes
 * DIR/crl.pem again; fleet_put_crl does nothing when etcd holds this CRL
 * or a newer one (one key read). */
static void store_fleet_crl_retry(const struct store *st)
{
	char err[512], *path = store_path(st, "crl.pem"), *pem = NULL;
	size_t len = 0;

	if (path && !mq_file_read(path, 1 << 24, &pem, &len, err, sizeof(err)))
		store_fleet_crl(st, pem, len);
	free(pem);
	free(path);
}

/* etcd went back (FLEET_REBUILT): never go on silently. The operator
 * says which side holds the fleet: MQADMIN_ETCD_RESEED=1 puts this store
 * back; moving DIR/store away takes etcd's, and a reseed from that store
 * makes the brokers follow it (fleet.c, the epoch). */
static int store_fleet_rebuilt(struct store *st, const char *why)
{
	const char *re = getenv("MQADMIN_ETCD_RESEED");
	char err[1024], fpr[MQ_FPR_LEN];

	if (!re || strcmp(re, "1")) {
		cli_err("%s. Nothing was written. If %s/store holds the fleet's policy, put it back "
			"into etcd (it replaces what etcd holds under %s) with: MQADMIN_ETCD_RESEED=1 "
			"mqadmin -d %s device list; to take etcd's policy instead, move %s/store away, "
			"run the command again, then reseed from it the same way (the brokers' syncs "
			"follow only a reseed)", why, st->dir, fleet_prefix(), st->dir, st->dir);
		return -1;
	}
	if (fleet_reseed(st->db, store_etcd, fleet_prefix()))
		return -1;
	if (!fleet_ca_fingerprint(st->dir, fpr, err, sizeof(err)) &&
	    fleet_check_ca(store_etcd, fleet_prefix(), fpr, FLEET_CA_CLAIM, err, sizeof(err)))
		out_warn("%s", err);
	store_fleet_ready = true;
	store_fleet_crl_retry(st);
	return 0;
}

/* Before a command reads: the cache catches up with etcd (O(change)),
 * after checking that etcd's fleet is this CA's. A reading command goes
 * on with the cache when etcd is unreachable. */
static int store_fleet_catchup(struct store *st)
{
	char err[1024], fpr[MQ_FPR_LEN];
	size_t nread = 0;
	int rc, ca;

	if (!store_etcd && fleet_connect(&store_etcd, err, sizeof(err))) {
		cli_err("%s", err);
		return -1;
	}
	/* Before anything is applied: a directory of another CA never takes
	 * (nor writes) this fleet. No ca.crt yet: init checks it itself. */
	if ((ca = fleet_ca_fingerprint(st->dir, fpr, err, sizeof(err))) < 0) {
		cli_err("%s", err);
		return -1;
	}
	rc = ca ? 0 : fleet_check_ca(store_etcd, fleet_prefix(), fpr,
				     st->mode == STORE_READ ? 0 : FLEET_CA_CLAIM, err, sizeof(err));
	if (rc == 1) {
		cli_err("%s: %s/ca.crt cannot use it; check -d (another CA) and --etcd-prefix "
			"(another fleet); nothing was written", err, st->dir);
		return -1;
	}
	if (!rc)
		rc = fleet_catchup(st->db, store_etcd, fleet_prefix(), &nread, err, sizeof(err));
	if (rc == FLEET_REBUILT)
		return store_fleet_rebuilt(st, err);
	if (rc && st->mode == STORE_READ) {
		out_warn("%s; showing the local copy in %s/store, which may be "
			"behind etcd", err, st->dir);
		return 0;
	}
	if (rc) {
		cli_err("%s; nothing was written", err);
		return -1;
	}
	store_fleet_ready = true;
	if (nread > 1)
		store_fleet_crl_fetch(st);
	store_fleet_crl_retry(st);
	return 0;
}

int store_fleet_init(struct store *st, const char *fpr, bool fresh)
{
	char err[1024];
	int rc;

	if (!fleet_enabled())
		return 0;
	if (!store_etcd && fleet_connect(&store_etcd, err, sizeof(err))) {
		cli_err("%s", err);
		return -1;
	}
	rc = fleet_check_ca(store_etcd, fleet_prefix(), fpr, fresh ? FLEET_CA_NEW : 0, err,
			    sizeof(err));
	if (rc == 1) {
		cli_err("%s: a new CA cannot join it. A second administrator of that fleet copies its "
			"ca.crt and ca.key into %s (or runs init --ca-cert/--ca-key with them); a new "
			"fleet takes another --etcd-prefix; nothing was written", err, st->dir);
		return -1;
	}
	if (rc) {
		cli_err("%s; nothing was written", err);
		return -1;
	}
	/* The fleet's policy (caught up into the cache) is this directory's,
	 * never an empty one written over it. */
	mq_policy_free(st->policy);
	st->policy = NULL;
	return store_load_policy(st);
}

int store_fleet_claim(struct store *st, const char *fpr)
{
	char err[1024];
	int rc;

	if (!fleet_enabled() || !store_etcd)
		return 0;
	rc = fleet_check_ca(store_etcd, fleet_prefix(), fpr, FLEET_CA_CLAIM, err, sizeof(err));
	if (rc == 1)
		cli_err("%s (another administrator's init claimed it meanwhile)", err);
	else if (rc)
		out_warn("%s; the fleet's CA fingerprint is recorded by the "
			"next command", err);
	return rc == 1 ? -1 : 0;
}

/* Inside the write transaction, before its commit: the same changes as
 * one etcd transaction that compares revisions; the local commit follows
 * only when etcd took them. 0 or -1 after printing why. */
static int store_fleet_push(struct store *st, uint64_t seq_before)
{
	if (!fleet_enabled() || !store_fleet_ready)
		return 0;
	return fleet_push(st->db, store_etcd, fleet_prefix(), seq_before, NULL) ? -1 : 0;
}

void store_fleet_crl(const struct store *st, const char *pem, size_t len)
{
	char err[1024];

	if (!fleet_enabled() || !store_fleet_ready)
		return;
	if (fleet_put_crl(store_etcd, fleet_prefix(), pem, len, err, sizeof(err)))
		out_warn("%s/crl.pem is signed, but the fleet's copy in etcd "
			"(%scrl.pem) is not updated: %s; the next mqadmin command with etcd publishes "
			"it (or 'mqadmin -d %s crl update'); the brokers refuse the revoked certificate "
			"from its device record meanwhile", st->dir, fleet_prefix(), err, st->dir);
}

/* Before a write transaction rebuilds the expiring index (the first write
 * to a store from before it). */
static void store_db_notice(void *arg, const char *what, size_t n)
{
	const struct store *st = arg;

	fprintf(stderr, "mqadmin: note: indexing the certificates in use of %zu device(s) in %s/store "
		"for '%s' (once; about 5 s per million devices)\n", n, st->dir, what);
}

struct mq_store *store_db(struct store *st)
{
	char err[512], *sdir = NULL, *data = NULL, *json = NULL;
	unsigned flags = 0;
	bool created;
	int rc = -1;

	if (st->db)
		return st->db;
	if (!(sdir = store_path(st, "store")) || !(data = store_path(st, "store/data.mdb")) ||
	    !(json = store_path(st, "policy.json")))
		goto out;
	if (access(data, F_OK) || fleet_enabled()) {
		/* Creating (and migrating) needs the lock even for a reader, and
		 * so does catching up with etcd (a write of the cache). */
		if (st->lockfd < 0 && store_lock(st))
			goto out;
	}
	created = access(data, F_OK) != 0;
	if (created) {
		bool made;

		if (store_mkdir(st, "store", &made))
			goto out;
	}
	if (st->lockfd < 0 && store_reader_lock(st, &flags))
		goto out;
	if (mq_store_open(&st->db, sdir, flags, err, sizeof(err))) {
		cli_err("cannot open the policy store: %s", err);
		goto out;
	}
	mq_store_set_notice(st->db, store_db_notice, st);
	/* LMDB creates data.mdb through our umask: the broker's user reads it,
	 * as it read policy.json (docs/STORE.md, Modes). */
	if (created && chmod(data, 0644)) {
		cli_err("cannot make %s readable (mode 644): %s; run 'chmod 644 %s'", data,
			strerror(errno), data);
		goto out;
	}
	if (st->lockfd >= 0 && store_db_modes(st))
		goto out;
	if (created && st->mode != STORE_CREATE && !access(json, F_OK) && store_migrate(st, json))
		goto out;
	if (fleet_enabled() && store_fleet_catchup(st))
		goto out;
	rc = 0;
out:
	if (rc && st->db) {
		mq_store_close(st->db);
		st->db = NULL;
	}
	free(sdir);
	free(data);
	free(json);
	return st->db;
}

struct store_load_ctx {
	struct mq_policy *p;
	char *err;
	size_t errlen;
};

static int store_load_one(void *arg, const char *name, const char *json, size_t len)
{
	struct store_load_ctx *x = arg;

	(void)name;
	return mq_policy_read_device_json(x->p, json, len, x->err, x->errlen) ? -1 : 0;
}

/* The meta values and the deleted list into p. 0 or -1 + err. */
static int store_read_meta(struct mq_store *db, struct mq_policy *p, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len;
	uint64_t v;
	int rc = -1;

	if (mq_store_meta_get_text(db, "deleted", &text, &len)) {
		mq_errf(err, errlen, "cannot read the deleted list");
		return -1;
	}
	if (text && mq_policy_read_deleted_json(p, text, len, err, errlen))
		goto out;
	if (mq_store_meta_get(db, "generation", &v) == 0)
		p->generation = (unsigned long)v;
	if (mq_store_meta_get(db, "crl_number", &v) == 0)
		p->crl_number = (unsigned long)v;
	if (mq_store_meta_get(db, "next_rule_id", &v) == 0 && v > p->next_rule_id)
		p->next_rule_id = (unsigned long)v;
	rc = 0;
out:
	free(text);
	return rc;
}

/* The whole policy in the current transaction. NULL + err. */
static struct mq_policy *store_read_model(struct mq_store *db, char *err, size_t errlen)
{
	struct mq_policy *p = mq_policy_new();
	struct store_load_ctx x = {p, err, errlen};
	size_t n = mq_store_device_count(db);

	if (!p) {
		mq_errf(err, errlen, "out of memory");
		return NULL;
	}
	if (n != (size_t)-1 && (mq_strmap_reserve(&p->by_name, n) || mq_strmap_reserve(&p->by_username, n) ||
				mq_strmap_reserve(&p->by_fingerprint, n))) {
		mq_errf(err, errlen, "out of memory");
		goto fail;
	}
	if (mq_store_devices_each(db, store_load_one, &x, err, errlen) ||
	    mq_store_rules_load(db, p, err, errlen) || store_read_meta(db, p, err, errlen))
		goto fail;
	return p;
fail:
	mq_policy_free(p);
	return NULL;
}

int store_load_policy(struct store *st)
{
	char err[512];
	struct mq_store *db = store_db(st);

	if (!db)
		return -1;
	if (mq_store_read_begin(db, err, sizeof(err)) ||
	    !(st->policy = store_read_model(db, err, sizeof(err)))) {
		mq_store_read_end(db);
		cli_err("cannot load the policy from %s/store: %s", st->dir, err);
		return -1;
	}
	mq_store_read_end(db);
	return 0;
}

/* Appends a copy of name to the array *v of *n names. 0 or -1 (OOM). */
static int store_push_name(char ***v, size_t *n, const char *name)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(*nv));

	if (!nv)
		return -1;
	*v = nv;
	if (!(nv[*n] = strdup(name)))
		return -1;
	(*n)++;
	return 0;
}

static int store_note_loaded(struct store *st, const char *name)
{
	return store_push_name(&st->loaded, &st->nloaded, name);
}

int store_load_devices(struct store *st, const char *const *names, size_t n)
{
	char err[512] = "";
	struct mq_store *db = store_db(st);
	int rc = -1;

	if (!db)
		return -1;
	if (mq_store_read_begin(db, err, sizeof(err)))
		goto out;
	if (!st->policy) {
		if (!(st->policy = mq_policy_new())) {
			mq_errf(err, sizeof(err), "out of memory");
			goto out;
		}
		st->partial = true;
		if (store_read_meta(db, st->policy, err, sizeof(err)))
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *json;
		size_t len;
		int got;

		if (mq_policy_find_device(st->policy, names[i]))
			continue;
		got = mq_store_device_json(db, names[i], &json, &len, err, sizeof(err));
		if (got < 0)
			goto out;
		if (got == 1)
			continue;
		if (mq_policy_read_device_json(st->policy, json, len, err, sizeof(err)) ||
		    store_note_loaded(st, names[i])) {
			if (!*err)
				mq_errf(err, sizeof(err), "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	mq_store_read_end(db);
	if (rc)
		cli_err("cannot load the policy from %s/store: %s", st->dir, err);
	return rc;
}

int store_load_user(struct store *st, const char *username)
{
	char err[512] = "", name[256];
	const char *one = name;
	struct mq_store *db = store_db(st);
	int got;

	if (!db || mq_store_read_begin(db, err, sizeof(err)))
		goto fail;
	got = mq_store_name_by_user(db, username, name, sizeof(name), err, sizeof(err));
	mq_store_read_end(db);
	if (got < 0)
		goto fail;
	return got ? store_load_devices(st, NULL, 0) : store_load_devices(st, &one, 1);
fail:
	if (db)
		cli_err("cannot read the policy store %s/store: %s", st->dir, err);
	return -1;
}

struct store_names {
	char **v;
	size_t n;
};

static int store_collect_name(void *arg, const char *name)
{
	struct store_names *x = arg;

	if (x->n && !strcmp(x->v[x->n - 1], name))
		return 0;
	return store_push_name(&x->v, &x->n, name);
}

/* Adds the devices an index walk names (hex: the serial or fingerprint
 * prefix for mq_store_cert_names, NULL for mq_store_revoked_each). */
static int store_load_walk(struct store *st, const char *hex)
{
	char err[512] = "";
	struct store_names x = {NULL, 0};
	int rc = -1;

	if (mq_store_read_begin(st->db, err, sizeof(err)) ||
	    (hex ? mq_store_cert_names(st->db, hex, store_collect_name, &x, err, sizeof(err))
		 : mq_store_revoked_each(st->db, store_collect_name, &x, err, sizeof(err)))) {
		mq_store_read_end(st->db);
		cli_err("cannot read the policy store %s/store: %s", st->dir, *err ? err : "out of memory");
		goto out;
	}
	mq_store_read_end(st->db);
	rc = store_load_devices(st, (const char *const *)x.v, x.n);
out:
	for (size_t i = 0; i < x.n; i++)
		free(x.v[i]);
	free(x.v);
	return rc;
}

int store_load_revoked(struct store *st)
{
	if (!st->partial)
		return 0;
	return store_load_walk(st, NULL);
}

int store_load_cert(struct store *st, const char *hex)
{
	if (store_load_devices(st, NULL, 0))
		return -1;
	return store_load_walk(st, hex);
}

struct store_group_ctx {
	const char *group;
	char quoted[MQ_NAME_MAX + 3];
	size_t qlen;
	size_t seen;
	struct timespec until;
};

/* The member search is a warning's: it gives up (2) after 100 ms, so a
 * new group in a million-device fleet costs no fleet scan. */
#define STORE_GROUP_BUDGET_NS 100000000L

static int store_find_member(void *arg, const char *name, const char *json, size_t len)
{
	struct store_group_ctx *x = arg;
	struct mq_device *d;
	bool in;

	(void)name;
	if (++x->seen % 1024 == 0) {
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > x->until.tv_sec ||
		    (now.tv_sec == x->until.tv_sec && now.tv_nsec > x->until.tv_nsec))
			return 2;
	}
	/* Parse only the records that mention the group at all. */
	if (!memmem(json, len, x->quoted, x->qlen) || !(d = mq_device_parse(json, len, NULL, 0)))
		return 0;
	in = mq_device_in_group(d, x->group);
	mq_device_free(d);
	return in;
}

int store_group_has_members(struct store *st, const char *group)
{
	struct store_group_ctx x = {.group = group};
	char err[512] = "";
	int rc;

	if (!st->partial) {
		for (size_t i = 0; i < st->policy->ndevices; i++)
			if (mq_device_in_group(st->policy->devices[i], group))
				return 1;
		return 0;
	}
	x.qlen = (size_t)snprintf(x.quoted, sizeof(x.quoted), "\"%s\"", group);
	clock_gettime(CLOCK_MONOTONIC, &x.until);
	x.until.tv_nsec += STORE_GROUP_BUDGET_NS;
	if (x.until.tv_nsec >= 1000000000L) {
		x.until.tv_sec++;
		x.until.tv_nsec -= 1000000000L;
	}
	if (x.qlen >= sizeof(x.quoted) || mq_store_read_begin(st->db, err, sizeof(err)))
		return -1;
	rc = mq_store_devices_each(st->db, store_find_member, &x, err, sizeof(err));
	mq_store_read_end(st->db);
	return rc == 2 ? -1 : rc;
}

int store_load_rules(struct store *st)
{
	char err[512] = "";

	if (store_load_devices(st, NULL, 0))
		return -1;
	if (st->rules)
		return 0;
	st->rules = true;
	if (mq_store_read_begin(st->db, err, sizeof(err)) ||
	    mq_store_rules_load(st->db, st->policy, err, sizeof(err))) {
		mq_store_read_end(st->db);
		cli_err("cannot load the rules from %s/store: %s", st->dir, err);
		return -1;
	}
	mq_store_read_end(st->db);
	return 0;
}

static int store_collect_expiring(void *arg, time_t not_after, const char *fpr, const char *name)
{
	(void)not_after;
	(void)fpr;
	return store_collect_name(arg, name);
}

static int store_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int store_load_expiring(struct store *st, time_t before)
{
	char err[512] = "";
	struct store_names x = {NULL, 0};
	int rc = -1;

	if (store_load_devices(st, NULL, 0))
		return -1;
	if (mq_store_read_begin(st->db, err, sizeof(err)) ||
	    mq_store_expiry_range(st->db, 0, before, store_collect_expiring, &x, err, sizeof(err))) {
		mq_store_read_end(st->db);
		cli_err("cannot read the policy store %s/store: %s", st->dir, *err ? err : "out of memory");
		goto out;
	}
	mq_store_read_end(st->db);
	/* Name order, as the whole model lists them. */
	if (x.n)
		qsort(x.v, x.n, sizeof(*x.v), store_cmp_str);
	rc = store_load_devices(st, (const char *const *)x.v, x.n);
out:
	for (size_t i = 0; i < x.n; i++)
		free(x.v[i]);
	free(x.v);
	return rc;
}

struct store_exp_ctx {
	struct mq_store *db;
	time_t now, limit;
	int (*cb)(void *arg, const char *name, const char *serial, time_t not_after);
	void *arg;
	bool cb_failed;
	char *err;
	size_t errlen;
};

static int store_exp_one(void *arg, time_t not_after, const char *serial, const char *name,
			 bool timed)
{
	struct store_exp_ctx *x = arg;
	struct mq_device *d = NULL;
	const struct mq_cert *c;
	int rc = 0;

	/* A retire_after deadline: the record says which certificate is in
	 * use now. */
	if (timed) {
		int got = mq_store_device_get(x->db, name, &d, x->err, x->errlen);

		if (got)
			return got < 0 ? -1 : 0;
		c = mq_device_cert_in_use(d, x->now);
		if (!c || c->not_after > x->limit)
			goto out;
		serial = c->serial;
		not_after = c->not_after;
	}
	if (x->cb(x->arg, name, serial, not_after)) {
		x->cb_failed = true;
		rc = -1;
	}
out:
	mq_device_free(d);
	return rc;
}

int store_expiring_each(struct store *st, time_t now, time_t limit,
			int (*cb)(void *arg, const char *name, const char *serial, time_t not_after),
			void *arg)
{
	char err[512] = "";
	struct store_exp_ctx x = {.now = now, .limit = limit, .cb = cb, .arg = arg, .err = err,
				  .errlen = sizeof(err)};
	int got;

	if (!(x.db = store_db(st)))
		return -1;
	if (mq_store_read_begin(x.db, err, sizeof(err))) {
		cli_err("cannot read the policy store %s/store: %s", st->dir, err);
		return -1;
	}
	/* The index's range ends before `to`; limit itself is in. */
	got = mq_store_expiring_range(x.db, limit < (time_t)INT64_MAX ? limit + 1 : limit,
				      store_exp_one, &x, err, sizeof(err));
	mq_store_read_end(x.db);
	if (got < 0 && !x.cb_failed)
		cli_err("cannot read the policy store %s/store: %s", st->dir, err);
	return got < 0 ? -1 : got;
}

/* The names of stored devices the model no longer has. */
struct store_gone {
	const struct mq_policy *p;
	char **names;
	size_t n;
};

static int store_find_gone(void *arg, const char *name, const char *json, size_t len)
{
	struct store_gone *g = arg;

	(void)json;
	(void)len;
	if (mq_policy_find_device(g->p, name))
		return 0;
	return store_push_name(&g->names, &g->n, name);
}

/* Writes p's differences against the store inside its write transaction:
 * records compared as JSON, so an unchanged device costs a lookup and no
 * write. quiet (migration, import): one 'I' log entry for everything. */
static int store_db_diff(struct store *st, struct mq_store *db, const struct mq_policy *p,
			 bool quiet, char *err, size_t errlen)
{
	struct store_gone g = {p, NULL, 0};
	struct mq_policy *rules = mq_policy_new();
	char *deleted = NULL, *old = NULL;
	uint64_t crl = 0;
	size_t len;
	int rc = -1;

	if (!rules || !(deleted = mq_deleted_json(p))) {
		mq_errf(err, errlen, "out of memory");
		goto out;
	}
	if (quiet && mq_store_clear(db, err, errlen))
		goto out;
	mq_store_write_quiet(db, quiet);
	for (size_t i = 0; i < p->ndevices; i++)
		if (mq_store_put_device(db, p->devices[i], err, errlen))
			goto out;
	if (st->partial) {
		/* Only what was loaded can have gone; the rules only when loaded. */
		for (size_t i = 0; i < st->nloaded; i++)
			if (!mq_policy_find_device(p, st->loaded[i]) &&
			    mq_store_delete_device(db, st->loaded[i], err, errlen) < 0)
				goto out;
		if (!st->rules)
			goto meta;
	} else {
		if (mq_store_devices_each(db, store_find_gone, &g, err, errlen) < 0)
			goto out;
		for (size_t i = 0; i < g.n; i++)
			if (mq_store_delete_device(db, g.names[i], err, errlen) < 0)
				goto out;
	}
	if (mq_store_rules_load(db, rules, err, errlen))
		goto out;
	for (size_t i = 0; i < rules->nrules; i++)
		if (!mq_policy_find_rule(p, rules->rules[i]->id) &&
		    mq_store_delete_rule(db, rules->rules[i]->id, err, errlen) < 0)
			goto out;
	for (size_t i = 0; i < p->nrules; i++)
		if (mq_store_put_rule(db, p->rules[i], err, errlen))
			goto out;
meta:
	mq_store_meta_get(db, "crl_number", &crl);
	if (mq_store_meta_get_text(db, "deleted", &old, &len)) {
		mq_errf(err, errlen, "cannot read the deleted list");
		goto out;
	}
	if (mq_store_meta_set(db, "generation", p->generation, err, errlen) ||
	    mq_store_meta_set(db, "next_rule_id", p->next_rule_id, err, errlen) ||
	    mq_store_meta_set(db, "crl_number", p->crl_number, err, errlen))
		goto out;
	if (!quiet && crl != p->crl_number && mq_store_log(db, 'C', "crl", err, errlen))
		goto out;
	if (strcmp(old ? old : "[]", deleted) &&
	    (mq_store_meta_set_text(db, "deleted", p->ndeleted ? deleted : NULL, err, errlen) ||
	     (!quiet && mq_store_log(db, 'C', "deleted", err, errlen))))
		goto out;
	if (quiet && mq_store_log(db, 'I', "", err, errlen))
		goto out;
	rc = 0;
out:
	for (size_t i = 0; i < g.n; i++)
		free(g.names[i]);
	free(g.names);
	free(deleted);
	free(old);
	mq_policy_free(rules);
	return rc;
}

static uint64_t store_last_seq;

/* The change log: trimmed inside the write that makes it too long, to the
 * last STORE_LOG_KEEP entries but never below what a running broker
 * (DIR/audit state files) still has to apply, and never beyond
 * STORE_LOG_MAX entries: a broker that far behind re-judges every client
 * (mq_store_changes' gap). The state files are read only when a trim is
 * due (every STORE_LOG_KEEP commits), so a commit stays O(change).
 * MQADMIN_LOG_KEEP overrides the keep count (tests, tuning). */
#define STORE_LOG_KEEP 100000UL
#define STORE_LOG_MAX_FACTOR 10

static unsigned long store_log_keep(void)
{
	const char *env = getenv("MQADMIN_LOG_KEEP");
	long v;

	if (env && !cli_parse_long(env, 1, 100000000L, &v))
		return (unsigned long)v;
	return STORE_LOG_KEEP;
}

static int store_trim_log(struct store *st, char *err, size_t errlen)
{
	unsigned long keep = store_log_keep();
	uint64_t seq = 0, lowest = 0, below;
	size_t n = mq_store_log_count(st->db);

	if (n == (size_t)-1 || n <= 2 * keep)
		return 0;
	mq_store_meta_get(st->db, "seq", &seq);
	if (seq < keep)
		return 0;
	below = seq + 1 - keep;
	if (wait_lowest_applied(st->dir, &lowest) == 1 && lowest + 1 < below)
		below = lowest + 1;
	if (seq + 1 > keep * STORE_LOG_MAX_FACTOR && below < seq + 1 - keep * STORE_LOG_MAX_FACTOR)
		below = seq + 1 - keep * STORE_LOG_MAX_FACTOR;
	return mq_store_log_trim(st->db, below, err, errlen);
}

uint64_t store_committed_seq(void)
{
	return store_last_seq;
}

static int store_db_write_model(struct store *st, const struct mq_policy *p, bool quiet)
{
	char err[512];
	uint64_t before = 0;

	if (mq_store_write_begin(st->db, err, sizeof(err)) ||
	    (before = mq_store_seq(st->db), store_db_diff(st, st->db, p, quiet, err, sizeof(err)))) {
		mq_store_write_abort(st->db);
		cli_err("cannot write the policy store %s/store: %s; it is unchanged", st->dir, err);
		return -1;
	}
	if (store_fleet_push(st, before)) {
		mq_store_write_abort(st->db);
		return -1;
	}
	if (store_trim_log(st, err, sizeof(err)) ||
	    mq_store_write_commit(st->db, &st->seq, err, sizeof(err))) {
		mq_store_write_abort(st->db);
		cli_err("cannot write the policy store %s/store: %s; it is unchanged", st->dir, err);
		return -1;
	}
	store_last_seq = st->seq;
	return 0;
}

int store_save_policy(struct store *st)
{
	if (!store_db(st))
		return -1;
	st->policy->generation++;
	if (store_db_write_model(st, st->policy, false)) {
		st->policy->generation--;
		return -1;
	}
	st->saved = true;
	return 0;
}

/* Nothing un-revokes: a certificate revoked in the store stays revoked
 * when the imported file (an older backup) lists it as active or retired. */
static int store_keep_revoked(const struct mq_policy *cur, struct mq_policy *p, size_t *kept)
{
	*kept = 0;
	for (size_t i = 0; i < cur->ndevices; i++) {
		for (size_t j = 0; j < cur->devices[i]->ncerts; j++) {
			const struct mq_cert *c = cur->devices[i]->certs[j];
			struct mq_cert *n;

			if (c->status != MQ_CERT_REVOKED ||
			    !(n = mq_policy_find_fingerprint(p, c->fingerprint)) ||
			    n->status == MQ_CERT_REVOKED)
				continue;
			free(n->revoke_reason);
			n->revoke_reason = c->revoke_reason ? strdup(c->revoke_reason) : NULL;
			if (c->revoke_reason && !n->revoke_reason)
				return -1;
			n->status = MQ_CERT_REVOKED;
			n->revoked_at = c->revoked_at;
			(*kept)++;
		}
	}
	return 0;
}

int store_import_policy(struct store *st, struct mq_policy *p)
{
	char err[512];
	uint64_t gen = 0, crl = 0;
	struct mq_policy *cur;
	size_t kept = 0;

	if (!store_db(st))
		return -1;
	if (mq_store_read_begin(st->db, err, sizeof(err)) ||
	    !(cur = store_read_model(st->db, err, sizeof(err)))) {
		mq_store_read_end(st->db);
		cli_err("cannot read the policy store: %s", err);
		return -1;
	}
	mq_store_meta_get(st->db, "generation", &gen);
	mq_store_meta_get(st->db, "crl_number", &crl);
	mq_store_read_end(st->db);
	if (store_keep_revoked(cur, p, &kept)) {
		mq_policy_free(cur);
		cli_err("out of memory");
		return -1;
	}
	mq_policy_free(cur);
	if (kept)
		fprintf(stderr, "mqadmin: note: %zu certificate(s) the file lists as not revoked stay "
			"revoked, as in the store: nothing un-revokes\n", kept);
	if (p->generation <= gen)
		p->generation = (unsigned long)gen + 1;
	/* A CRL number below one already signed would make the next CRL
	 * look older than the last to every client that saw it. */
	if (p->crl_number < crl)
		p->crl_number = (unsigned long)crl;
	if (store_db_write_model(st, p, true))
		return -1;
	mq_policy_free(st->policy);
	st->policy = p;
	/* saved stays false: device directories the imported policy does not
	 * know are not leftovers to clean. */
	return 0;
}

static uint64_t store_begin_seq; /* the store's sequence at store_begin */

int store_begin(struct store *st)
{
	char err[512];

	if (!store_db(st))
		return -1;
	if (mq_store_write_begin(st->db, err, sizeof(err))) {
		cli_err("cannot write the policy store %s/store: %s", st->dir, err);
		return -1;
	}
	store_begin_seq = mq_store_seq(st->db);
	return 0;
}

int store_commit(struct store *st)
{
	char err[512];
	uint64_t gen = 0;

	mq_store_meta_get(st->db, "generation", &gen);
	if (store_fleet_push(st, store_begin_seq)) {
		mq_store_write_abort(st->db);
		return -1;
	}
	if (mq_store_meta_set(st->db, "generation", gen + 1, err, sizeof(err)) ||
	    store_trim_log(st, err, sizeof(err)) ||
	    mq_store_write_commit(st->db, &st->seq, err, sizeof(err))) {
		mq_store_write_abort(st->db);
		cli_err("cannot write the policy store %s/store: %s; it is unchanged", st->dir, err);
		return -1;
	}
	store_last_seq = st->seq;
	if (st->policy)
		st->policy->generation = (unsigned long)gen + 1;
	st->saved = st->policy != NULL;
	return 0;
}

static bool store_deferred;

void store_defer_sync(bool on)
{
	store_deferred = on;
}

bool store_sync_deferred(void)
{
	return store_deferred;
}

int store_sync(const struct store *st)
{
	int fd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0 || syncfs(fd)) {
		cli_err("cannot sync the files written in %s: %s", st->dir, strerror(errno));
		rc = -1;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

int store_mkdir(const struct store *st, const char *sub, bool *created)
{
	char *p = store_path(st, "%s", sub);
	int rc = 0;

	if (!p)
		return -1;
	*created = false;
	if (mkdir(p, 0755) == 0) {
		*created = true;
		/* Exact mode whatever the umask; mq_file_sync_dir makes it durable. */
		if (chmod(p, 0755) || (!store_deferred && mq_file_sync_dir(p))) {
			cli_err("cannot set up directory %s: %s", p, strerror(errno));
			rc = -1;
		}
	} else if (errno != EEXIST) {
		cli_err("cannot create directory %s: %s", p, strerror(errno));
		rc = -1;
	}
	free(p);
	return rc;
}

/* ---- leftovers of interrupted runs ------------------------------------------- */

/* Whether file is one mqadmin writes into devices/DEV/ (the PEM files,
 * the export formats, each maybe staged as ".new" by renew or under a
 * temporary name). *staged and *temp say which. */
static bool store_device_file(const char *dev, const char *file, bool *staged, bool *temp)
{
	static const char *const ext[] = {".crt", ".key", ".der", ".key.der", ".p12", ".h"};
	size_t n = strlen(file), dl = strlen(dev);

	*temp = mq_file_is_temp_name(file);
	if (*temp)
		n -= 5 + 16; /* ".tmp-" and 16 hex digits */
	*staged = n > 4 && !strncmp(file + n - 4, ".new", 4);
	if (*staged)
		n -= 4;
	if ((n == 6 && !strncmp(file, "ca.crt", 6)) || (n == 6 && !strncmp(file, "ca.der", 6)))
		return true;
	if (n <= dl || strncmp(file, dev, dl))
		return false;
	for (size_t i = 0; i < sizeof(ext) / sizeof(*ext); i++)
		if (n - dl == strlen(ext[i]) && !strncmp(file + dl, ext[i], n - dl))
			return true;
	return false;
}

/* The entries of a directory other than . and .., as a NULL-terminated
 * malloc'd array (the caller removes files while walking it). */
static char **store_list(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL, **nv;
	size_t n = 0;

	if (!d || !(v = calloc(1, sizeof(*v)))) {
		if (d)
			closedir(d);
		return NULL;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!(nv = realloc(v, (n + 2) * sizeof(*v))))
			break;
		v = nv;
		if (!(v[n] = strdup(e->d_name)))
			break;
		v[++n] = NULL;
	}
	closedir(d);
	return v;
}

static void store_list_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void store_remove(const char *dir, const char *name, bool fix, size_t *count)
{
	char *p = NULL;

	(*count)++;
	if (fix && asprintf(&p, "%s/%s", dir, name) >= 0) {
		unlink(p);
		free(p);
	}
}

/* Temporary files directly in dir. */
static void store_clean_temps(const char *dir, bool fix, struct store_leftovers *lo)
{
	char **v = store_list(dir);

	for (size_t i = 0; v && v[i]; i++)
		if (mq_file_is_temp_name(v[i]))
			store_remove(dir, v[i], fix, &lo->temps);
	store_list_free(v);
}

/* A directory of a device the policy does not know: a device issue or
 * batch killed before its policy write. Removed only when it holds
 * nothing but files mqadmin writes. */
static void store_clean_unrecorded(const char *ddir, const char *dev, bool fix,
				   struct store_leftovers *lo)
{
	char **v = store_list(ddir);
	bool staged, temp;
	size_t files = 0;

	if (!v)
		return;
	for (size_t i = 0; v[i]; i++)
		if (!store_device_file(dev, v[i], &staged, &temp))
			goto out;
	for (size_t i = 0; v[i]; i++)
		store_remove(ddir, v[i], fix, &files);
	if (fix)
		rmdir(ddir);
	lo->dirs++;
out:
	store_list_free(v);
}

/* Whether devices/DEV/DEV.crt.new holds a certificate the policy records
 * for dev: then renew was killed after its policy write and the staged
 * files are the device's current ones. */
static bool store_staged_recorded(const char *ddir, const struct mq_device *dev)
{
	char *p = NULL, fpr[MQ_FPR_LEN];
	const struct mq_cert *c = NULL;
	X509 *x = NULL;
	FILE *f;

	if (asprintf(&p, "%s/%s.crt.new", ddir, dev->name) < 0)
		return false;
	f = fopen(p, "re");
	free(p);
	if (!f)
		return false;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	if (x && !mq_x509_fingerprint(x, fpr))
		for (size_t i = 0; i < dev->ncerts && !c; i++)
			if (!strcmp(dev->certs[i]->fingerprint, fpr))
				c = dev->certs[i];
	X509_free(x);
	return c != NULL;
}

/* A recorded device: temporary files go; staged renew files (".new") are
 * moved into place when renew recorded them (killed between its policy
 * write and its renames) and removed when it did not. renew stages the
 * key, the certificate, the exports, then writes the policy and renames
 * the key, the certificate, the exports: so with NAME.crt.new its
 * fingerprint decides; without it, a NAME.key.new means staging was cut
 * short (drop) and exports alone mean the renames were (commit). The
 * certificate goes last either way, so a second interruption decides the
 * same. */
static void store_clean_recorded(const char *ddir, const struct mq_device *dev, bool fix,
				 struct store_leftovers *lo)
{
	char **v = store_list(ddir), *crt_new = NULL, *key_new = NULL;
	bool staged, temp, commit, any = false, has_crt = false, has_key = false;

	if (!v)
		return;
	for (size_t i = 0; v[i]; i++) {
		if (mq_file_is_temp_name(v[i]))
			store_remove(ddir, v[i], fix, &lo->temps);
		else if (store_device_file(dev->name, v[i], &staged, &temp) && staged)
			any = true;
	}
	if (!any)
		goto out;
	if (asprintf(&crt_new, "%s.crt.new", dev->name) < 0 ||
	    asprintf(&key_new, "%s.key.new", dev->name) < 0)
		goto out;
	for (size_t i = 0; v[i]; i++) {
		has_crt = has_crt || !strcmp(v[i], crt_new);
		has_key = has_key || !strcmp(v[i], key_new);
	}
	commit = has_crt ? store_staged_recorded(ddir, dev) : !has_key;
	for (int last = 0; last < 2; last++) {
		for (size_t i = 0; v[i]; i++) {
			char *from = NULL, *to = NULL;

			if (mq_file_is_temp_name(v[i]) ||
			    !store_device_file(dev->name, v[i], &staged, &temp) || !staged ||
			    (strcmp(v[i], crt_new) == 0) != (last == 1))
				continue;
			if (!commit) {
				store_remove(ddir, v[i], fix, &lo->staged_dropped);
				continue;
			}
			lo->staged_committed++;
			if (fix && asprintf(&from, "%s/%s", ddir, v[i]) >= 0 &&
			    asprintf(&to, "%.*s", (int)(strlen(from) - 4), from) >= 0)
				rename(from, to);
			free(from);
			free(to);
		}
	}
out:
	free(crt_new);
	free(key_new);
	store_list_free(v);
}

int store_leftovers(const char *dir, const struct mq_policy *p, bool fix,
		    struct store_leftovers *lo)
{
	char *sub = NULL, *ddir = NULL, **v = NULL;
	int rc = -1;

	memset(lo, 0, sizeof(*lo));
	store_clean_temps(dir, fix, lo);
	if (asprintf(&sub, "%s/servers", dir) < 0)
		goto out;
	v = store_list(sub);
	for (size_t i = 0; v && v[i]; i++) {
		if (!mq_name_valid(v[i]) || asprintf(&ddir, "%s/%s", sub, v[i]) < 0)
			continue;
		store_clean_temps(ddir, fix, lo);
		free(ddir);
	}
	store_list_free(v);
	free(sub);
	if (asprintf(&sub, "%s/devices", dir) < 0) {
		sub = NULL;
		goto out;
	}
	v = store_list(sub);
	for (size_t i = 0; v && v[i]; i++) {
		const struct mq_device *dev;
		struct stat sb;

		if (!mq_name_valid(v[i]) || asprintf(&ddir, "%s/%s", sub, v[i]) < 0)
			continue;
		if (!lstat(ddir, &sb) && S_ISDIR(sb.st_mode)) {
			dev = mq_policy_find_device(p, v[i]);
			if (dev)
				store_clean_recorded(ddir, dev, fix, lo);
			else
				store_clean_unrecorded(ddir, v[i], fix, lo);
		}
		free(ddir);
	}
	store_list_free(v);
	rc = 0;
out:
	free(sub);
	lo->total = lo->temps + lo->dirs + lo->staged_dropped + lo->staged_committed;
	return rc;
}

void store_leftovers_describe(const struct store_leftovers *lo, bool done, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
#define STORE_PART(n, what)                                                                \
	if ((n) && off < len)                                                              \
		off += (size_t)snprintf(buf + off, len - off, "%s%zu " what, off ? ", " : "", (n))
	STORE_PART(lo->temps, "temporary file(s)");
	STORE_PART(lo->dirs, "device director(ies) never recorded in the policy (with their keys)");
	STORE_PART(lo->staged_dropped, "staged renew file(s) never recorded");
	STORE_PART(lo->staged_committed, "staged renew file(s) the policy records");
	if (lo->staged_committed && off < len)
		snprintf(buf + off, len - off, " (%s)", done ? "moved into place" : "to be moved into place");
#undef STORE_PART
}

bool store_busy(const char *dir)
{
	char *p = NULL;
	bool busy = false;
	int fd;

	if (asprintf(&p, "%s/.lock", dir) < 0)
		return false;
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	free(p);
	if (fd < 0)
		return false;
	busy = flock(fd, LOCK_SH | LOCK_NB) != 0;
	close(fd);
	return busy;
}
