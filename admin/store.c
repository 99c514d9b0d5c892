#include "store.h"

#include "cli.h"
#include "mq_certid.h"
#include "mq_fileio.h"
#include "pkidir.h"
#include "mq_names.h"

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
 * before this scan of every device directory starts), and only when the
 * policy in memory is the one on disk. */
static void store_clean_leftovers(const struct store *st)
{
	struct store_leftovers lo;
	char what[512];

	if (st->lockfd < 0 || !st->saved || !st->policy ||
	    store_leftovers(st->dir, st->policy, true, &lo) || !lo.total)
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
	mq_policy_free(st->policy);
	st->policy = NULL;
	free(st->dir);
	st->dir = NULL;
}

int store_load_policy(struct store *st)
{
	char err[512];
	char *p = store_path(st, "policy.json");

	if (!p)
		return -1;
	st->policy = mq_policy_load(p, err, sizeof(err));
	if (!st->policy)
		cli_err("cannot load the policy: %s", err);
	free(p);
	return st->policy ? 0 : -1;
}

/* policy.json.prev: the generation before this write, for doctor to point
 * at when a hand edit breaks policy.json. A hard link costs nothing
 * (rename gives policy.json a new inode); a copy where links fail. */
static int store_keep_previous(const struct store *st, const char *cur)
{
	char err[512], *prev = store_path(st, "policy.json.prev"), *text = NULL;
	size_t len = 0;
	int rc = -1;

	if (!prev)
		return -1;
	if (access(cur, F_OK) && errno == ENOENT) {
		rc = 0; /* init: nothing before */
		goto out;
	}
	if (mq_file_link_atomic(cur, prev, err, sizeof(err)) == 0) {
		rc = 0;
		goto out;
	}
	/* No size limit of our own: whatever policy.json holds was loaded. */
	if (mq_file_read(cur, SIZE_MAX - 1, &text, &len, err, sizeof(err)) ||
	    mq_file_write_atomic(prev, text, len, 0644, err, sizeof(err)) < 0) {
		cli_err("cannot keep the previous policy as %s: %s; nothing was changed", prev, err);
		goto out;
	}
	rc = 0;
out:
	free(text);
	free(prev);
	return rc;
}

int store_save_policy(struct store *st)
{
	char err[512];
	char *text = NULL, *p = store_path(st, "policy.json");
	int rc = -1;

	if (!p)
		return -1;
	st->policy->generation++;
	text = mq_policy_serialize(st->policy);
	if (!text) {
		cli_err("cannot write %s: out of memory", p);
		goto out;
	}
	if (store_keep_previous(st, p))
		goto out;
	switch (mq_file_write_atomic(p, text, strlen(text), 0644, err, sizeof(err))) {
	case 0:
		break;
	case MQ_FILE_NOT_DURABLE:
		/* Renamed into place: the plugin may already enforce it, so it
		 * is done and must not be undone, only reported. */
		fprintf(stderr, "mqadmin: warning: the new policy (generation %lu) is in place, but %s; "
			"a crash before the system writes %s back could bring back the previous policy\n",
			st->policy->generation, err, st->dir);
		break;
	default:
		cli_err("%s; the previous policy is unchanged", err);
		goto out;
	}
	st->saved = true;
	rc = 0;
out:
	free(text);
	free(p);
	return rc;
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
	if (x && !mq_cert_fingerprint(x, fpr))
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
