/* plugin_opt_* lines. A typo must not silently weaken the plugin, so an
 * unknown option or a bad value makes init fail with a log line. */
#include "mqcert.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mq_names.h"

/* Config files larger than this are not searched for a listener. */
#define OPT_CONF_MAX (1 << 20)

/* The broker keeps trailing whitespace in option values. */
static char *opt_trimmed(const char *v)
{
	size_t n = strlen(v);
	char *s;

	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	s = malloc(n + 1);
	if (!s)
		return NULL;
	memcpy(s, v, n);
	s[n] = '\0';
	return s;
}

static int opt_binding_parse(const char *s, enum mqopt_binding *out)
{
	if (!strcmp(s, "exact"))
		*out = MQOPT_BIND_EXACT;
	else if (!strcmp(s, "prefix"))
		*out = MQOPT_BIND_PREFIX;
	else if (!strcmp(s, "none"))
		*out = MQOPT_BIND_NONE;
	else
		return -1;
	return 0;
}

const char *mqopt_binding_name(enum mqopt_binding b)
{
	switch (b) {
	case MQOPT_BIND_EXACT:
		return "exact";
	case MQOPT_BIND_PREFIX:
		return "prefix";
	case MQOPT_BIND_NONE:
		return "none";
	}
	return "?";
}

static int opt_mode_parse(const char *s, enum mqopt_mode *out)
{
	if (!strcmp(s, "enforce"))
		*out = MQOPT_ENFORCE;
	else if (!strcmp(s, "observe"))
		*out = MQOPT_OBSERVE;
	else
		return -1;
	return 0;
}

const char *mqopt_mode_name(enum mqopt_mode m)
{
	return m == MQOPT_OBSERVE ? "observe" : "enforce";
}

/* A file the plugin writes: "none" turns it off (*path stays NULL). */
static int opt_path(char **path, bool *set, const char *val)
{
	free(*path);
	*path = NULL;
	*set = true;
	if (!strcmp(val, "none"))
		return 0;
	*path = strdup(val);
	if (!*path) {
		mqlog(MOSQ_LOG_ERR, "out of memory");
		return -1;
	}
	return 0;
}

/* dir(policy)/name: the plugin's files live beside the policy by default. */
static char *opt_beside(const char *policy, const char *name)
{
	const char *slash = strrchr(policy, '/');
	size_t n = slash ? (size_t)(slash - policy) + 1 : 0;
	char *s = malloc(n + strlen(name) + 1);

	if (!s)
		return NULL;
	memcpy(s, policy, n);
	strcpy(s + n, name);
	return s;
}

/* ---- the default instance name: the broker's first listener ------------- */

/* A regular file of at most max bytes, NUL-terminated; NULL otherwise. Never
 * blocks: the file could be a FIFO. */
static char *opt_slurp(const char *path, size_t max)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat sb;
	char *buf = NULL;
	ssize_t n = 0;
	size_t got = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || (size_t)sb.st_size > max ||
	    !(buf = malloc(max + 1)))
		goto out;
	while (got < max && ((n = read(fd, buf + got, max - got)) > 0 || (n < 0 && errno == EINTR)))
		got += n > 0 ? (size_t)n : 0;
	buf[got] = '\0';
out:
	close(fd);
	return buf;
}

static int opt_conf_scan(const char *path, int depth, char *out, size_t len);

/* The files of an include_dir, in the order mosquitto reads them. */
static int opt_conf_dir(const char *dir, int depth, char *out, size_t len)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort), found = 0;

	for (int i = 0; i < n; i++) {
		size_t l = strlen(names[i]->d_name);
		char *p;

		if (!found && l > 5 && !strcmp(names[i]->d_name + l - 5, ".conf") &&
		    asprintf(&p, "%s/%s", dir, names[i]->d_name) >= 0) {
			found = opt_conf_scan(p, depth + 1, out, len);
			free(p);
		}
		free(names[i]);
	}
	free(names);
	return found;
}

/* "HOST-PORT" of the first "listener PORT [HOST]" line, following
 * include_dir. 1 when found. */
static int opt_conf_scan(const char *path, int depth, char *out, size_t len)
{
	char *buf = depth < 4 ? opt_slurp(path, OPT_CONF_MAX) : NULL, *line, *save = NULL;
	int found = 0;

	for (line = buf ? strtok_r(buf, "\n", &save) : NULL; line && !found;
	     line = strtok_r(NULL, "\n", &save)) {
		char *w1, *w2, *w3, *s2 = NULL;

		w1 = strtok_r(line, " \t\r", &s2);
		w2 = strtok_r(NULL, " \t\r", &s2);
		w3 = strtok_r(NULL, " \t\r", &s2);
		if (!w1 || !w2)
			continue;
		if (!strcmp(w1, "listener")) {
			snprintf(out, len, "%s-%s", w3 ? w3 : "any", w2);
			found = 1;
		} else if (!strcmp(w1, "include_dir")) {
			found = opt_conf_dir(w2, depth, out, len);
		}
	}
	free(buf);
	return found;
}

/* The path after -c in the broker's command line, or NULL. */
static char *opt_conf_path(void)
{
	char *cmd = opt_slurp("/proc/self/cmdline", 64 << 10), *p, *path = NULL;
	size_t n;

	if (!cmd)
		return NULL;
	/* opt_slurp sized the buffer to the whole file; /proc reports size 0,
	 * so the arguments end at the first empty string. */
	for (p = cmd; *p; p += n + 1) {
		n = strlen(p);
		if ((!strcmp(p, "-c") || !strcmp(p, "--config-file")) && p[n + 1]) {
			path = strdup(p + n + 1);
			break;
		}
	}
	free(cmd);
	return path;
}

/* The default of plugin_opt_instance: the broker's first listener, as
 * HOST-PORT ("any" without a host), found in the config file the broker
 * was started with (and its include_dir). The same configuration gives
 * the same name at every restart, and two brokers on one machine cannot
 * share a listener. Characters a file name should not hold become '_'. */
static char *opt_default_instance(void)
{
	char *conf = opt_conf_path(), name[MQ_NAME_MAX + 1] = "";

	if (!conf || !opt_conf_scan(conf, 0, name, sizeof(name)))
		snprintf(name, sizeof(name), "default");
	free(conf);
	for (char *c = name; *c; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '-'))
			*c = '_';
	return strdup(name);
}

/* Whole seconds, digits only, within [min, 86400]. */
static int opt_seconds(const char *key, const char *val, long min, long *out)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = (val[0] >= '0' && val[0] <= '9') ? strtol(val, &end, 10) : -1;
	if (v < min || v > 86400 || errno || *end) {
		mqlog(MOSQ_LOG_ERR, "invalid plugin_opt_%s '%s': use a number of seconds from %ld "
		      "to 86400", key, val, min);
		return -1;
	}
	*out = v;
	return 0;
}

static int opt_one(struct mqopt *o, const char *key, const char *val)
{
	if (!strcmp(key, "policy")) {
		char *p = opt_trimmed(val);

		if (!p) {
			mqlog(MOSQ_LOG_ERR, "out of memory");
			return -1;
		}
		free(o->policy_path);
		o->policy_path = p;
		return 0;
	}
	if (!strcmp(key, "store")) {
		char *p = opt_trimmed(val);
		size_t n;

		if (!p) {
			mqlog(MOSQ_LOG_ERR, "out of memory");
			return -1;
		}
		/* DIR/store/ and DIR/store are the same directory. */
		for (n = strlen(p); n > 1 && p[n - 1] == '/'; n--)
			p[n - 1] = '\0';
		free(o->store_path);
		o->store_path = p;
		return 0;
	}
	if (!strcmp(key, "identity")) {
		if (mq_idfield_parse(val, &o->identity)) {
			mqlog(MOSQ_LOG_ERR, "invalid plugin_opt_identity '%s': use cn, dn, san-dns, "
			      "san-email, san-uri or fingerprint", val);
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "clientid_binding")) {
		if (opt_binding_parse(val, &o->binding)) {
			mqlog(MOSQ_LOG_ERR, "invalid plugin_opt_clientid_binding '%s': use exact, prefix "
			      "or none", val);
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "no_certificate")) {
		if (!strcmp(val, "refuse")) {
			o->no_cert = MQOPT_NOCERT_REFUSE;
		} else if (!strcmp(val, "defer")) {
			o->no_cert = MQOPT_NOCERT_DEFER;
		} else {
			mqlog(MOSQ_LOG_ERR, "invalid plugin_opt_no_certificate '%s': use refuse or defer",
			      val);
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "read_fastpath")) {
		if (!strcmp(val, "true") || !strcmp(val, "false")) {
			o->read_fastpath = val[0] == 't';
			return 0;
		}
		mqlog(MOSQ_LOG_ERR, "invalid plugin_opt_read_fastpath '%s': use true or false", val);
		return -1;
	}
	if (!strcmp(key, "audit_log") || !strcmp(key, "state_file"))
		return opt_path(key[0] == 'a' ? &o->audit_path : &o->state_path,
				key[0] == 'a' ? &o->audit_set : &o->state_set, val);
	if (!strcmp(key, "crl"))
		return opt_path(&o->crl_path, &o->crl_set, val);
	if (!strcmp(key, "ca")) {
		if (!strcmp(val, "none")) {
			mqlog(MOSQ_LOG_ERR, "plugin_opt_ca cannot be none: to turn the CRL off, "
			      "use plugin_opt_crl none");
			return -1;
		}
		return opt_path(&o->ca_path, &o->ca_set, val);
	}
	if (!strcmp(key, "mode") || !strcmp(key, "acl_mode")) {
		if (opt_mode_parse(val, !strcmp(key, "mode") ? &o->mode : &o->acl_mode)) {
			mqlog(MOSQ_LOG_ERR, "invalid plugin_opt_%s '%s': use enforce or observe",
			      key, val);
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "subscribe")) {
		if (!strcmp(val, "check")) {
			o->subscribe = MQOPT_SUB_CHECK;
		} else if (!strcmp(val, "grant")) {
			o->subscribe = MQOPT_SUB_GRANT;
		} else {
			mqlog(MOSQ_LOG_ERR, "invalid plugin_opt_subscribe '%s': use check or grant", val);
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "metrics_file")) {
		bool set;

		return opt_path(&o->metrics_path, &set, val);
	}
	if (!strcmp(key, "metrics_interval"))
		return opt_seconds(key, val, 1, &o->metrics_interval);
	/* The broker's sys_interval is not visible to a plugin: say it again. */
	if (!strcmp(key, "sys_interval"))
		return opt_seconds(key, val, 0, &o->sys_interval);
	if (!strcmp(key, "instance")) {
		if (!mq_name_valid(val)) {
			mqlog(MOSQ_LOG_ERR, "invalid plugin_opt_instance '%s': use 1-64 characters of "
			      "A-Za-z0-9._- (it names the state file)", val);
			return -1;
		}
		free(o->instance);
		o->instance = strdup(val);
		if (!o->instance) {
			mqlog(MOSQ_LOG_ERR, "out of memory");
			return -1;
		}
		return 0;
	}
	mqlog(MOSQ_LOG_ERR, "unknown option plugin_opt_%s: known are store, policy, identity, "
	      "clientid_binding, no_certificate, audit_log, state_file, instance, crl, ca, mode, "
	      "acl_mode, subscribe, read_fastpath, metrics_file, metrics_interval, sys_interval", key);
	return -1;
}

int mqopt_parse(struct mqopt *o, const struct mosquitto_opt *opts, int n)
{
	int i;

	const char *base;

	o->policy_path = o->store_path = NULL;
	o->identity = MQ_ID_CN;
	o->binding = MQOPT_BIND_EXACT;
	o->no_cert = MQOPT_NOCERT_REFUSE;
	o->audit_path = o->state_path = o->instance = o->crl_path = o->ca_path = NULL;
	o->audit_set = o->state_set = o->crl_set = o->ca_set = false;
	o->mode = o->acl_mode = MQOPT_ENFORCE;
	o->subscribe = MQOPT_SUB_CHECK;
	o->read_fastpath = true;
	o->seen_dir = NULL;
	o->metrics_path = NULL;
	o->metrics_interval = 15;
	o->sys_interval = 10;
	for (i = 0; i < n; i++) {
		char *val;
		int rc;

		if (!opts[i].key)
			continue;
		val = opt_trimmed(opts[i].value ? opts[i].value : "");
		if (!val) {
			mqlog(MOSQ_LOG_ERR, "out of memory");
			return -1;
		}
		if (!*val) {
			mqlog(MOSQ_LOG_ERR, "plugin_opt_%s has no value", opts[i].key);
			free(val);
			return -1;
		}
		rc = opt_one(o, opts[i].key, val);
		free(val);
		if (rc)
			return -1;
	}
	if (!o->policy_path && !o->store_path) {
		mqlog(MOSQ_LOG_ERR, "plugin_opt_store is missing: add 'plugin_opt_store "
		      "/path/to/DIR/store' after the plugin line (mqadmin broker-config prints it)");
		return -1;
	}
	/* plugin_opt_policy DIR/policy.json, the old spelling, names DIR too:
	 * its store is DIR/store. */
	if (!o->store_path && !(o->store_path = opt_beside(o->policy_path, "store")))
		goto oom;
	base = o->policy_path ? o->policy_path : o->store_path;
	/* In a subdirectory the broker's user owns: the state file is replaced
	 * by rename, and write access to the policy's own directory would let
	 * the broker replace policy.json. */
	if (!o->instance && !(o->instance = opt_default_instance()))
		goto oom;
	if (!o->state_set) {
		/* One file per broker: two brokers on one DIR must not overwrite
		 * each other's list; mqadmin audit reads them all. */
		char name[sizeof("audit/connected-.json") + MQ_NAME_MAX];

		snprintf(name, sizeof(name), "audit/connected-%s.json", o->instance);
		if (!(o->state_path = opt_beside(base, name)))
			goto oom;
	}
	if ((!o->audit_set && !(o->audit_path = opt_beside(base, "audit/audit.log"))) ||
	    (!o->crl_set && !(o->crl_path = opt_beside(base, "crl.pem"))) ||
	    (!o->ca_set && !(o->ca_path = opt_beside(base, "ca.crt"))) ||
	    (o->mode == MQOPT_OBSERVE && !(o->seen_dir = opt_beside(base, "audit/seen"))))
		goto oom;
	if (o->mode == MQOPT_OBSERVE || o->acl_mode == MQOPT_OBSERVE || o->subscribe == MQOPT_SUB_GRANT)
		mqlog(MOSQ_LOG_NOTICE, "mode %s, acl_mode %s, subscribe %s%s",
		      mqopt_mode_name(o->mode), mqopt_mode_name(o->acl_mode),
		      o->subscribe == MQOPT_SUB_GRANT ? "grant" : "check",
		      o->mode == MQOPT_OBSERVE ? ": every certificate the listener verified gets in "
		      "(observe mode is for migrating; switch to enforce)" : "");
	if (!o->read_fastpath)
		mqlog(MOSQ_LOG_NOTICE, "read_fastpath false: every delivery is read-checked "
		      "against the rules");
	return 0;
oom:
	mqlog(MOSQ_LOG_ERR, "out of memory");
	return -1;
}

void mqopt_release(struct mqopt *o)
{
	free(o->policy_path);
	free(o->store_path);
	free(o->audit_path);
	free(o->state_path);
	free(o->instance);
	free(o->crl_path);
	free(o->ca_path);
	free(o->seen_dir);
	free(o->metrics_path);
	o->seen_dir = o->metrics_path = NULL;
	o->policy_path = o->store_path = o->audit_path = o->state_path = o->instance = NULL;
	o->crl_path = o->ca_path = NULL;
}
