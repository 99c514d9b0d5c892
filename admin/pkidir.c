/* Which PKI directory a command works on (pkidir.h): -d, $MQADMIN_DIR, the
 * config file's "dir =" line or ./pki, and recording the machine's default. */
#include "pkidir.h"

#include "cli.h"
#include "mq_fileio.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PKIDIR_CONFIG_MAX 65536

/* The one directory of this run: mqadmin is one command per process. */
static struct {
	enum pkidir_from from;
	char dir[PATH_MAX];
	char where[PATH_MAX + 32]; /* "FILE:LINE" for PKIDIR_CONFIG */
} pkidir = {.from = PKIDIR_NONE};

/* The config file's etcd settings (issue 17): etcd, etcd_prefix,
 * etcd_cacert, etcd_cert, etcd_key, etcd_user, etcd_password_file. */
static const char *const pkidir_etcd_keys[PKIDIR_ETCD_KEYS] = {
	"etcd", "etcd_prefix", "etcd_cacert", "etcd_cert", "etcd_key", "etcd_user",
	"etcd_password_file"};
static char pkidir_etcd[PKIDIR_ETCD_KEYS][PATH_MAX];

const char *pkidir_config_path(void)
{
	const char *env = getenv("MQADMIN_CONFIG");

	return env && *env ? env : PKIDIR_CONFIG_DEFAULT;
}

enum pkidir_from pkidir_from(void)
{
	return pkidir.from;
}

static char *pkidir_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* One "key = value" line; 1 when it names the directory, 0 for a blank or
 * comment line, -1 with the reason in err. */
static int pkidir_config_line(char *text, char *dir, size_t len, char *err, size_t errlen)
{
	char *s = pkidir_trim(text), *eq, *key, *val;

	if (!*s || *s == '#')
		return 0;
	eq = strchr(s, '=');
	if (!eq) {
		snprintf(err, errlen, "expected 'dir = /path/to/pki', found '%s'", s);
		return -1;
	}
	*eq = '\0';
	key = pkidir_trim(s);
	val = pkidir_trim(eq + 1);
	for (size_t i = 0; i < sizeof(pkidir_etcd_keys) / sizeof(pkidir_etcd_keys[0]); i++) {
		if (strcmp(key, pkidir_etcd_keys[i]))
			continue;
		if (strlen(val) >= sizeof(pkidir_etcd[i])) {
			snprintf(err, errlen, "'%s' is too long", key);
			return -1;
		}
		memcpy(pkidir_etcd[i], val, strlen(val) + 1);
		return 0;
	}
	if (strcmp(key, "dir")) {
		snprintf(err, errlen, "unknown setting '%s': the settings are 'dir' and 'etcd', "
			 "'etcd_prefix', 'etcd_cacert', 'etcd_cert', 'etcd_key', 'etcd_user', "
			 "'etcd_password_file'", key);
		return -1;
	}
	if (*val != '/') {
		snprintf(err, errlen, "'dir' must be an absolute path, found '%s'", val);
		return -1;
	}
	if (strlen(val) >= len) {
		snprintf(err, errlen, "'dir' is longer than %zu bytes", len - 1);
		return -1;
	}
	memcpy(dir, val, strlen(val) + 1);
	return 1;
}

int pkidir_config_read(const char *path, char *dir, size_t len, int *line, char *err,
		       size_t errlen)
{
	char why[PATH_MAX + 64], extra[PATH_MAX], *text = NULL, *s, *nl;
	size_t n = 0;
	struct stat sb;
	int lineno = 0, found = 0, rc = -1;

	if (stat(path, &sb) && errno == ENOENT)
		return 0;
	if (mq_file_read(path, PKIDIR_CONFIG_MAX, &text, &n, err, errlen))
		return -1;
	if (strlen(text) != n) {
		snprintf(err, errlen, "%s: holds a NUL byte: not a text file", path);
		goto out;
	}
	for (s = text; s && *s; s = nl) {
		int r;

		nl = strchr(s, '\n');
		if (nl)
			*nl++ = '\0';
		lineno++;
		/* Later 'dir' lines are read into extra only to be refused. */
		r = pkidir_config_line(s, found ? extra : dir, found ? sizeof(extra) : len, why,
				       sizeof(why));
		if (r < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			goto out;
		}
		if (r == 1 && found) {
			snprintf(err, errlen, "%s:%d: a second 'dir' line (the first is line %d)",
				 path, lineno, *line);
			goto out;
		}
		if (r == 1) {
			found = 1;
			*line = lineno;
		}
	}
	if (!found) {
		snprintf(err, errlen, "%s: no 'dir = /path/to/pki' line", path);
		goto out;
	}
	rc = 1;
out:
	free(text);
	return rc;
}

static int pkidir_set(enum pkidir_from from, const char *dir, const char **out)
{
	if (strlen(dir) >= sizeof(pkidir.dir)) {
		cli_err("the PKI directory name is longer than %zu bytes", sizeof(pkidir.dir) - 1);
		return -1;
	}
	pkidir.from = from;
	memcpy(pkidir.dir, dir, strlen(dir) + 1);
	*out = pkidir.dir;
	return 0;
}

int pkidir_resolve(const char *given, const char **dir)
{
	const char *env = getenv("MQADMIN_DIR"), *conf = pkidir_config_path();
	char cdir[PATH_MAX], err[PATH_MAX + 256];
	struct stat sb;
	int line = 0, r;

	if (given)
		return pkidir_set(PKIDIR_OPTION, given, dir);
	if (env && *env)
		return pkidir_set(PKIDIR_ENV, env, dir);
	r = pkidir_config_read(conf, cdir, sizeof(cdir), &line, err, sizeof(err));
	if (r < 0) {
		cli_err("%s; fix %s (one line 'dir = /path/to/pki'), or pass -d DIR", err, conf);
		return -1;
	}
	if (r == 1) {
		snprintf(pkidir.where, sizeof(pkidir.where), "%s:%d", conf, line);
		return pkidir_set(PKIDIR_CONFIG, cdir, dir);
	}
	if (stat(PKIDIR_FALLBACK, &sb) == 0 && S_ISDIR(sb.st_mode))
		return pkidir_set(PKIDIR_CWD, PKIDIR_FALLBACK, dir);
	return pkidir_set(PKIDIR_NONE, PKIDIR_FALLBACK, dir);
}

void pkidir_err_missing(const char *dir, const char *why)
{
	const char *conf = pkidir_config_path();

	switch (pkidir.from) {
	case PKIDIR_NONE:
		cli_err("no PKI directory given: no -d DIR, MQADMIN_DIR is not set, there is no %s "
			"and no ./pki here; point mqadmin at your PKI with -d DIR, MQADMIN_DIR=DIR or "
			"a line 'dir = DIR' in %s (MQADMIN_CONFIG names another file); only if you "
			"have no CA anywhere yet, create one with 'mqadmin -d DIR init'",
			conf, conf);
		return;
	case PKIDIR_CONFIG:
		cli_err("no PKI in %s (named by %s): %s; if your PKI is elsewhere, correct that "
			"line, pass -d DIR or set MQADMIN_DIR; only to start a new CA there: "
			"'mqadmin -d %s init'",
			dir, pkidir.where, why, dir);
		return;
	default:
		cli_err("no PKI in %s (%s): %s; if your PKI is elsewhere, pass -d DIR, set "
			"MQADMIN_DIR or name it in %s; only to start a new CA there: "
			"'mqadmin -d %s init'",
			dir,
			pkidir.from == PKIDIR_OPTION ? "from -d"
			: pkidir.from == PKIDIR_ENV  ? "from MQADMIN_DIR"
						     : "./pki in the current directory",
			why, conf, dir);
		return;
	}
}

/* Whether path is prefix or lies under it (both absolute). */
static bool pkidir_under(const char *path, const char *prefix)
{
	char real[PATH_MAX];
	size_t n;

	if (!prefix || *prefix != '/' || !strcmp(prefix, "/"))
		return false;
	if (realpath(prefix, real))
		prefix = real;
	n = strlen(prefix);
	return !strncmp(path, prefix, n) && (path[n] == '/' || path[n] == '\0');
}

/* Why abs is no place for the machine's default PKI, or NULL. */
static const char *pkidir_private(const char *abs)
{
	const char *places[] = {"/tmp", "/var/tmp", "/dev/shm", getenv("TMPDIR"),
				"/home", "/root", getenv("HOME")};

	for (size_t i = 0; i < sizeof(places) / sizeof(*places); i++)
		if (pkidir_under(abs, places[i]))
			return places[i];
	return NULL;
}

static int pkidir_write_config(const char *conf, const char *abs)
{
	char text[PATH_MAX + 256], err[PATH_MAX + 256], parent[PATH_MAX], *slash;
	int n;

	snprintf(parent, sizeof(parent), "%s", conf);
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		/* /etc/mqcert may not exist when the PKI lives elsewhere. */
		if (mkdir(parent, 0755) && errno != EEXIST) {
			cli_err("cannot create %s for %s: %s", parent, conf, strerror(errno));
			return -1;
		}
	}
	n = snprintf(text, sizeof(text),
		     "# mqadmin: the PKI directory used when neither -d nor MQADMIN_DIR is given.\n"
		     "# Written by 'mqadmin init'. One setting: dir = ABSOLUTE-PATH.\n"
		     "dir = %s\n",
		     abs);
	if (n < 0 || (size_t)n >= sizeof(text) ||
	    mq_file_write_atomic(conf, text, (size_t)n, 0644, err, sizeof(err))) {
		cli_err("cannot record the default PKI directory: %s", n < 0 ? "too long" : err);
		return -1;
	}
	return 0;
}

int pkidir_record_default(const char *dir, bool force)
{
	const char *conf = pkidir_config_path(), *why;
	char abs[PATH_MAX], old[PATH_MAX], oldreal[PATH_MAX], err[PATH_MAX + 256];
	int line = 0, r;

	if (!realpath(dir, abs)) {
		cli_err("cannot resolve %s: %s; the default PKI directory was not recorded", dir,
			strerror(errno));
		return force ? -1 : 0;
	}
	r = pkidir_config_read(conf, old, sizeof(old), &line, err, sizeof(err));
	if (r == 1 && realpath(old, oldreal) && !strcmp(oldreal, abs))
		return 0; /* already the default */
	if (!force) {
		if (r != 0) {
			if (r == 1)
				cli_err("%s:%d names %s as the default PKI directory; left unchanged "
					"(pass --default to make %s the default)",
					conf, line, old, abs);
			else
				cli_err("%s; left unchanged", err);
			return 0;
		}
		if (geteuid() != 0)
			return 0;
		why = pkidir_private(abs);
		if (why) {
			cli_err("%s is not recorded as the default PKI directory: it is under %s; pass "
				"--default to record it in %s",
				abs, why, conf);
			return 0;
		}
	}
	if (pkidir_write_config(conf, abs))
		return force ? -1 : 0;
	if (r == 1)
		cli_err("%s: the default PKI directory is now %s (was %s)", conf, abs, old);
	else if (r < 0)
		cli_err("%s: the default PKI directory is now %s (replaced a file that was not "
			"valid: %s)", conf, abs, err);
	else
		cli_err("recorded %s as the default PKI directory in %s", abs, conf);
	return 0;
}

int pkidir_config_etcd(const char **vals)
{
	char dir[PATH_MAX], err[PATH_MAX + 256];
	int line = 0, r = pkidir_config_read(pkidir_config_path(), dir, sizeof(dir), &line, err,
					     sizeof(err));

	/* A config file with etcd settings and no 'dir' is fine here; one
	 * that cannot be read or parsed sets nothing (pkidir_resolve reports
	 * it when it needs the file; with -d it was never read before). */
	for (size_t i = 0; i < PKIDIR_ETCD_KEYS; i++)
		vals[i] = r >= 0 || strstr(err, "no 'dir") ? (*pkidir_etcd[i] ? pkidir_etcd[i] : NULL)
							   : NULL;
	return 0;
}
