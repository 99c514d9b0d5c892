#include "store.h"

#include "cli.h"
#include "mq_fileio.h"
#include "pkidir.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

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

void store_close(struct store *st)
{
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
	if (mq_file_write_atomic(p, text, strlen(text), 0644, err, sizeof(err))) {
		cli_err("%s; the previous policy is unchanged", err);
		goto out;
	}
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
