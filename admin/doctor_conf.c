/* doctor: the broker's mosquitto.conf and what the broker user can read.
 * Only the lines that decide whether mqcert works are read; the rest of
 * the file is mosquitto's business. */
#include "doctor.h"
#include "mq_fileio.h"

#include "mq_x509.h"
#include "mq_names.h"
#include "xinfo.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define CONF_MAX_LISTENERS 32
#define CONF_MAX_PLUGINS 8
#define CONF_MAX_DEPTH 4

struct conf_listener {
	char *label; /* "listener 8883 (file:line)" */
	char *cafile, *capath, *certfile, *keyfile, *crlfile, *tls_version;
	bool require_cert, use_identity, use_subject;
	bool in_use; /* explicit listener, or the default one given a port or TLS */
};

struct conf_plugin {
	char *path, *where;
	size_t listener; /* the block it is in (c->l), for per_listener_settings true */
	char *policy, *store, *bad_opt;
	bool bad_value;
	enum mq_idfield identity; /* plugin_opt_identity, default cn */
};

struct conf {
	struct conf_listener l[CONF_MAX_LISTENERS];
	size_t nl;
	struct conf_plugin p[CONF_MAX_PLUGINS];
	size_t np;
	bool per_listener, too_many;
};

/* By the file name (mqcert.so, or a renamed copy such as mqcert-2.so): a
 * directory named after mqcert may hold other plugins. */
static bool conf_is_mqcert(const struct conf_plugin *p)
{
	const char *base;

	if (!p->path)
		return false;
	base = strrchr(p->path, '/');
	return strstr(base ? base + 1 : p->path, "mqcert") != NULL;
}

static void conf_set(struct doctor *d, char **slot, const char *v)
{
	free(*slot);
	*slot = strdup(v);
	if (!*slot)
		d->oom = true;
}

static bool conf_true(const char *v)
{
	return !strcmp(v, "true");
}

static void conf_plugin_opt(struct doctor *d, struct conf_plugin *p, const char *key,
			    const char *v)
{
	enum mq_idfield f;

	/* The options the plugin knows whose values doctor does not check. */
	static const char *const other[] = {
		"plugin_opt_audit_log", "plugin_opt_state_file", "plugin_opt_instance",
		"plugin_opt_crl", "plugin_opt_ca", "plugin_opt_mode", "plugin_opt_acl_mode",
		"plugin_opt_subscribe", "plugin_opt_read_fastpath", "plugin_opt_metrics_file",
		"plugin_opt_metrics_interval", "plugin_opt_sys_interval",
	};

	if (!strcmp(key, "plugin_opt_policy")) {
		conf_set(d, &p->policy, v);
		return;
	}
	if (!strcmp(key, "plugin_opt_store")) {
		conf_set(d, &p->store, v);
		return;
	}
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		if (!strcmp(key, other[i]))
			return;
	if (!strcmp(key, "plugin_opt_identity")) {
		p->bad_value |= mq_idfield_parse(v, &f) != 0;
		if (!p->bad_value)
			p->identity = f;
	} else if (!strcmp(key, "plugin_opt_clientid_binding")) {
		p->bad_value |= strcmp(v, "exact") && strcmp(v, "prefix") && strcmp(v, "none");
	} else if (!strcmp(key, "plugin_opt_no_certificate")) {
		p->bad_value |= strcmp(v, "refuse") && strcmp(v, "defer");
	} else if (!p->bad_opt) {
		conf_set(d, &p->bad_opt, key);
		return;
	} else {
		return;
	}
	if (p->bad_value && !p->bad_opt)
		conf_set(d, &p->bad_opt, key);
}

static void conf_read(struct doctor *d, struct conf *c, const char *path, int depth);

static int conf_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* mosquitto reads the *.conf files of include_dir in alphabetical order. */
static void conf_include_dir(struct doctor *d, struct conf *c, const char *dir, int depth)
{
	DIR *dh = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;

	if (!dh) {
		doctor_add(d, DOCTOR_ERROR, "config-unreadable", "fix the include_dir line",
			   "include_dir %s: %s (mosquitto does not start)", dir, strerror(errno));
		return;
	}
	while ((e = readdir(dh))) {
		size_t len = strlen(e->d_name);
		char **nn;

		if (len < 6 || strcmp(e->d_name + len - 5, ".conf"))
			continue;
		nn = realloc(names, (n + 1) * sizeof(*nn));
		if (!nn || asprintf(&nn[n], "%s/%s", dir, e->d_name) < 0) {
			names = nn ? nn : names;
			d->oom = true;
			break;
		}
		names = nn;
		n++;
	}
	closedir(dh);
	if (n)
		qsort(names, n, sizeof(*names), conf_name_cmp);
	for (size_t i = 0; i < n; i++) {
		conf_read(d, c, names[i], depth + 1);
		free(names[i]);
	}
	free(names);
}

static struct conf_listener *conf_listener_new(struct doctor *d, struct conf *c,
					       const char *v, const char *path, int line)
{
	struct conf_listener *l;

	if (c->nl == CONF_MAX_LISTENERS) {
		c->too_many = true;
		return NULL;
	}
	l = &c->l[c->nl++];
	l->in_use = true;
	if (asprintf(&l->label, "listener %s (%s:%d)", v, path, line) < 0) {
		l->label = NULL;
		d->oom = true;
	}
	return l;
}

static void conf_line(struct doctor *d, struct conf *c, char *key, char *v, const char *path,
		      int line, int depth)
{
	struct conf_listener *l = &c->l[c->nl - 1];
	struct conf_plugin *p = c->np ? &c->p[c->np - 1] : NULL;

	if (!strcmp(key, "listener")) {
		conf_listener_new(d, c, v, path, line);
	} else if (!strcmp(key, "port")) {
		c->l[0].in_use = true;
	} else if (!strcmp(key, "include_dir")) {
		conf_include_dir(d, c, v, depth);
	} else if (!strcmp(key, "per_listener_settings")) {
		c->per_listener = conf_true(v);
	} else if (!strcmp(key, "plugin") || !strcmp(key, "auth_plugin")) {
		if (c->np == CONF_MAX_PLUGINS)
			return;
		p = &c->p[c->np++];
		p->listener = c->nl - 1;
		conf_set(d, &p->path, v);
		if (asprintf(&p->where, "%s:%d", path, line) < 0) {
			p->where = NULL;
			d->oom = true;
		}
	} else if (!strncmp(key, "plugin_opt_", 11) || !strncmp(key, "auth_opt_", 9)) {
		char opt[128];

		/* auth_opt_X is the old spelling of plugin_opt_X. */
		snprintf(opt, sizeof(opt), "plugin_opt_%s", key + (key[1] == 'u' ? 9 : 11));
		if (p && conf_is_mqcert(p))
			conf_plugin_opt(d, p, opt, v);
	} else if (!strcmp(key, "cafile")) {
		conf_set(d, &l->cafile, v);
	} else if (!strcmp(key, "capath")) {
		conf_set(d, &l->capath, v);
	} else if (!strcmp(key, "certfile")) {
		conf_set(d, &l->certfile, v);
		l->in_use = true;
	} else if (!strcmp(key, "keyfile")) {
		conf_set(d, &l->keyfile, v);
	} else if (!strcmp(key, "crlfile")) {
		conf_set(d, &l->crlfile, v);
	} else if (!strcmp(key, "tls_version")) {
		conf_set(d, &l->tls_version, v);
	} else if (!strcmp(key, "require_certificate")) {
		l->require_cert = conf_true(v);
	} else if (!strcmp(key, "use_identity_as_username")) {
		l->use_identity = conf_true(v);
	} else if (!strcmp(key, "use_subject_as_username")) {
		l->use_subject = conf_true(v);
	}
}

static void conf_read(struct doctor *d, struct conf *c, const char *path, int depth)
{
	FILE *f;
	char *buf = NULL, *key, *v, *end;
	size_t cap = 0;
	int line = 0;

	if (depth > CONF_MAX_DEPTH)
		return;
	f = fopen(path, "r");
	if (!f) {
		doctor_add(d, DOCTOR_ERROR, "config-unreadable", "pass the broker's mosquitto.conf",
			   "cannot read %s: %s", path, strerror(errno));
		return;
	}
	while (getline(&buf, &cap, f) >= 0) {
		line++;
		for (key = buf; *key == ' ' || *key == '\t'; key++)
			;
		if (*key == '#' || !*key)
			continue;
		/* Values keep inner spaces; trailing whitespace is not part of them. */
		end = key + strlen(key);
		while (end > key && strchr(" \t\r\n", end[-1]))
			*--end = '\0';
		v = key + strcspn(key, " \t");
		if (*v)
			*v++ = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		conf_line(d, c, key, v, path, line, depth);
	}
	free(buf);
	fclose(f);
}

static void conf_broker_read(struct doctor *d, const char *path, const char *what)
{
	char why[2 * PATH_MAX], fix[PATH_MAX + 160], blocker[PATH_MAX];
	bool secret = strstr(what, "key") != NULL;

	if (doctor_user_can_read(d, path, why, sizeof(why), blocker))
		return;
	if (*blocker)
		snprintf(fix, sizeof(fix), "chmod o+x %s", blocker);
	else if (secret)
		snprintf(fix, sizeof(fix), "chown %s %s (and keep it mode 600)", d->user.name, path);
	else
		snprintf(fix, sizeof(fix), "chmod 644 %s", path);
	doctor_add(d, DOCTOR_ERROR, "broker-cannot-read", fix,
		   "the broker runs as user %s and cannot read %s %s: %s", d->user.name, what, path,
		   why);
}

static bool conf_same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static void conf_check_cafile(struct doctor *d, const struct conf_listener *l)
{
	char err[PATH_MAX + 128], fix[PATH_MAX + 32], cafpr[MQ_FPR_LEN], fpr[MQ_FPR_LEN];
	STACK_OF(X509) *sk;
	bool found = false;

	snprintf(fix, sizeof(fix), "cafile %s/ca.crt", d->dir);
	if (!l->cafile) {
		if (l->capath)
			doctor_add(d, DOCTOR_WARNING, "config-capath", fix,
				   "%s trusts the CAs in capath %s; doctor checks cafile only", l->label,
				   l->capath);
		else
			doctor_add(d, DOCTOR_ERROR, "config-no-cafile", fix,
				   "%s has no cafile: the broker cannot verify device certificates",
				   l->label);
		return;
	}
	conf_broker_read(d, l->cafile, "cafile");
	sk = xinfo_load_certs(l->cafile, err, sizeof(err));
	if (sk && d->ca && !mq_x509_fingerprint(d->ca, cafpr))
		for (int i = 0; i < sk_X509_num(sk); i++)
			if (!mq_x509_fingerprint(sk_X509_value(sk, i), fpr) && !strcmp(fpr, cafpr))
				found = true;
	if (!sk)
		doctor_add(d, DOCTOR_ERROR, "config-cafile-mismatch", fix, "cafile of %s: %s",
			   l->label, err);
	else if (d->ca && !found)
		doctor_add(d, DOCTOR_ERROR, "config-cafile-mismatch", fix,
			   "cafile %s of %s does not hold the CA of %s: the broker refuses its devices",
			   l->cafile, l->label, d->dir);
	sk_X509_pop_free(sk, X509_free);
}

static int conf_no_pass(char *buf, int size, int rwflag, void *u)
{
	return -1; /* never prompt: an encrypted key cannot be compared */
}

static void conf_check_certkey(struct doctor *d, const struct conf_listener *l)
{
	char err[PATH_MAX + 128], fix[PATH_MAX + 64], fpr[MQ_FPR_LEN], sf[MQ_FPR_LEN];
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	BIO *b = NULL;
	bool match = false;

	snprintf(fix, sizeof(fix), "use the lines 'mqadmin -d %s broker-config' prints", d->dir);
	conf_broker_read(d, l->certfile, "certfile");
	x = xinfo_load_cert(l->certfile, err, sizeof(err));
	if (!x) {
		doctor_add(d, DOCTOR_ERROR, "config-certfile-mismatch", fix, "certfile of %s: %s",
			   l->label, err);
	} else if (!mq_x509_fingerprint(x, fpr)) {
		for (size_t i = 0; i < d->nservers; i++)
			if (!mq_x509_fingerprint(d->servers[i].cert, sf) && !strcmp(sf, fpr)) {
				d->servers[i].used = true;
				match = true;
			}
		if (!match)
			doctor_add(d, DOCTOR_ERROR, "config-certfile-mismatch", fix,
				   "certfile %s of %s is none of the server certificates in %s/servers",
				   l->certfile, l->label, d->dir);
	}
	if (!l->keyfile) {
		doctor_add(d, DOCTOR_ERROR, "config-no-keyfile", fix, "%s has a certfile but no keyfile",
			   l->label);
		goto out;
	}
	conf_broker_read(d, l->keyfile, "keyfile");
	b = BIO_new_file(l->keyfile, "r");
	k = b ? PEM_read_bio_PrivateKey(b, NULL, conf_no_pass, NULL) : NULL;
	if (x && k && X509_check_private_key(x, k) != 1)
		doctor_add(d, DOCTOR_ERROR, "config-keyfile-mismatch", fix,
			   "keyfile %s of %s is not the key of certfile %s: the broker does not start",
			   l->keyfile, l->label, l->certfile);
out:
	ERR_clear_error();
	EVP_PKEY_free(k);
	BIO_free(b);
	X509_free(x);
}

static void conf_check_listener(struct doctor *d, const struct conf_listener *l)
{
	if (!l->certfile) {
		doctor_add(d, DOCTOR_WARNING, "config-plain-listener",
			   "remove it, or bind it to 127.0.0.1 for local tools",
			   "%s is not a TLS listener: its clients have no certificate and mqcert "
			   "cannot identify them",
			   l->label);
		return;
	}
	if (!l->require_cert)
		doctor_add(d, DOCTOR_ERROR, "config-no-require-certificate", "require_certificate true",
			   "%s lacks 'require_certificate true': mosquitto then gives the plugin no "
			   "client certificate and mqcert refuses every client",
			   l->label);
	if (l->use_identity || l->use_subject)
		doctor_add(d, DOCTOR_ERROR, "config-identity-as-username",
			   "remove the line: mqcert maps the certificate to the username itself",
			   "%s sets %s true: mosquitto then skips authentication plugins, so every "
			   "certificate the CA signed gets in, revoked or not",
			   l->label,
			   l->use_identity ? "use_identity_as_username" : "use_subject_as_username");
	if (!l->tls_version)
		doctor_add(d, DOCTOR_WARNING, "config-tls-version", "tls_version tlsv1.2",
			   "%s has no tls_version: mosquitto 2.0.11 then also accepts TLS 1.1",
			   l->label);
	else if (strcasecmp(l->tls_version, "tlsv1.2") && strcasecmp(l->tls_version, "tlsv1.3"))
		doctor_add(d, DOCTOR_ERROR, "config-tls-version", "tls_version tlsv1.2",
			   "%s allows %s: TLS below 1.2 is broken and refused by current clients",
			   l->label, l->tls_version);
	conf_check_cafile(d, l);
	conf_check_certkey(d, l);
	if (l->crlfile) {
		char label[512];

		snprintf(label, sizeof(label), "crlfile of %s", l->label);
		conf_broker_read(d, l->crlfile, "crlfile");
		doctor_check_crl(d, l->crlfile, label);
	}
}

/* The certificate a device connects with: its newest active one. */
static const struct mq_cert *conf_device_cert(const struct mq_device *dev, time_t now)
{
	for (size_t i = dev->ncerts; i-- > 0;)
		if (mq_cert_state(dev->certs[i], now) == MQ_STATE_ACTIVE)
			return dev->certs[i];
	return NULL;
}

/* plugin_opt_identity san-* refuses a certificate without that SAN, and
 * mqadmin issues none unless told to (--san). */
static void conf_check_identity(struct doctor *d, const struct conf_plugin *p)
{
	const char *type = p->identity == MQ_ID_SAN_DNS ? "a DNS" : p->identity == MQ_ID_SAN_EMAIL
			 ? "an email" : "a URI";
	const char *first = NULL;
	size_t active = 0, missing = 0;
	char fix[PATH_MAX + 256], san[MQ_NAME_MAX + 32];

	if (!d->policy || (p->identity != MQ_ID_SAN_DNS && p->identity != MQ_ID_SAN_EMAIL &&
			   p->identity != MQ_ID_SAN_URI))
		return;
	for (size_t i = 0; i < d->policy->ndevices; i++) {
		const struct mq_device *dev = d->policy->devices[i];
		const struct mq_cert *c = conf_device_cert(dev, d->now);

		if (!c)
			continue;
		active++;
		if (mq_san_list_has(c->san, p->identity))
			continue;
		missing++;
		if (!first)
			first = dev->name;
	}
	if (!missing)
		return;
	if (p->identity == MQ_ID_SAN_DNS)
		snprintf(san, sizeof(san), "DNS:%s.devices.example", first);
	else if (p->identity == MQ_ID_SAN_EMAIL)
		snprintf(san, sizeof(san), "email:%s@example.com", first);
	else
		snprintf(san, sizeof(san), "URI:urn:dev:%s", first);
	snprintf(fix, sizeof(fix), "mqadmin -d %s device renew %s --san %s (device batch takes "
		 "--san with {name}), or plugin_opt_identity cn", d->dir, first, san);
	if (missing == active)
		doctor_add(d, DOCTOR_ERROR, "config-identity-san", fix,
			   "the mqcert plugin (%s) takes the identity from plugin_opt_identity %s, but "
			   "no active device has %s SAN: the broker refuses every device on every listener",
			   p->where, mq_idfield_name(p->identity), type);
	else
		doctor_add(d, DOCTOR_WARNING, "config-identity-san", fix,
			   "the mqcert plugin (%s) takes the identity from plugin_opt_identity %s, but "
			   "%zu of %zu active devices lack %s SAN (first '%s'): the broker refuses them",
			   p->where, mq_idfield_name(p->identity), missing, active, type, first);
}

/* Whether mosquitto may ask the plugin at path before mqcert. 2.0.11 asks
 * the callbacks of every v5 plugin (those exporting
 * mosquitto_plugin_version) in load order, and only then the older
 * auth_plugin interfaces (v2-v4, mosquitto_auth_plugin_version), whatever
 * their place in the config. A file that cannot be read, or merely holds
 * the name without exporting it, counts as v5: the safe side. Nothing of
 * the plugin is run. */
static bool conf_plugin_first_class(const char *path)
{
	static const char v5[] = "mosquitto_plugin_version"; /* with its NUL */
	char *buf = NULL, err[256];
	size_t len;
	bool found;

	if (mq_file_read_regular(path, 64u << 20, &buf, &len, err, sizeof(err)))
		return true;
	found = memmem(buf, len, v5, sizeof(v5)) != NULL;
	free(buf);
	return found;
}

/* mosquitto asks the v5 plugins of a security scope in config order and
 * takes the first answer that is not DEFER (src/security.c). A plugin before
 * mqcert then decides connects and ACL checks first: it can let a client
 * in past mqcert's identity checks, and a SUBSCRIBE it allows never reaches
 * mqcert, so the read fast path would allow every delivery of a client
 * mqcert's rules would deny. acl_file and password_file come after all
 * plugins, so they are no concern here. */
static void conf_check_order(struct doctor *d, const struct conf *c)
{
	for (size_t i = 0; i < c->np; i++) {
		const struct conf_plugin *q = &c->p[i];
		const char *scope = "the global security settings (per_listener_settings false)";

		if (!conf_is_mqcert(q))
			continue;
		if (c->per_listener)
			scope = c->l[q->listener].label ? c->l[q->listener].label : "its listener";
		for (size_t j = 0; j < i; j++) {
			const struct conf_plugin *o = &c->p[j];

			if (conf_is_mqcert(o) || (c->per_listener && o->listener != q->listener) ||
			    !o->path || !conf_plugin_first_class(o->path))
				continue;
			doctor_add(d, DOCTOR_ERROR, "config-plugin-order",
				   "load mqcert first: move its plugin line (and its plugin_opt_ lines) "
				   "above the other one",
				   "plugin %s (%s) comes before the mqcert plugin (%s) in %s: mosquitto "
				   "asks it first and takes its answer, so it can let clients in and "
				   "allow topics without mqcert's checks", o->path,
				   o->where ? o->where : "?", q->where ? q->where : "?", scope);
		}
	}
}

static void conf_check_plugins(struct doctor *d, const struct conf *c)
{
	char fix[PATH_MAX + 80], pol[PATH_MAX + 16], eff[PATH_MAX + 32], real[PATH_MAX];
	const struct conf_plugin *p = NULL;

	snprintf(fix, sizeof(fix), "add the plugin lines 'mqadmin -d %s broker-config' prints",
		 d->dir);
	for (size_t i = 0; i < c->np; i++)
		if (conf_is_mqcert(&c->p[i]))
			p = &c->p[i];
	if (!p) {
		doctor_add(d, DOCTOR_ERROR, "config-no-plugin", fix,
			   "%s loads no mqcert plugin: the policy is not enforced", d->config);
		return;
	}
	conf_broker_read(d, p->path, "plugin");
	conf_check_order(d, c);
	conf_check_identity(d, p);
	/* Absolute: the fix goes into a mosquitto.conf. */
	if (realpath(d->dir, real))
		snprintf(pol, sizeof(pol), "%s/store", real);
	else
		snprintf(pol, sizeof(pol), "%s/store", d->dir);
	if (p->bad_opt)
		doctor_add(d, DOCTOR_ERROR, "config-plugin-option", "see the README, Plugin reference, for the options",
			   "%s: %s option %s: the plugin refuses to load and the broker does not start",
			   p->where, p->bad_value ? "bad value for" : "unknown", p->bad_opt);
	if (!p->policy && !p->store) {
		doctor_add(d, DOCTOR_ERROR, "config-no-policy", fix,
			   "the mqcert plugin (%s) has no plugin_opt_store: the broker does not start",
			   p->where);
		return;
	}
	/* The plugin reads plugin_opt_store; without it, the store beside
	 * plugin_opt_policy (the old spelling, naming DIR/policy.json, which
	 * no longer exists once migrated). */
	if (p->store)
		snprintf(eff, sizeof(eff), "%s", p->store);
	else {
		const char *slash = strrchr(p->policy, '/');

		if (!slash)
			snprintf(eff, sizeof(eff), "store");
		else
			snprintf(eff, sizeof(eff), "%.*s/store", (int)(slash - p->policy) + (slash == p->policy),
				 p->policy);
	}
	if (!conf_same_file(eff, pol)) {
		snprintf(fix, sizeof(fix), "plugin_opt_store %s", pol);
		if (p->store)
			doctor_add(d, DOCTOR_ERROR, "config-policy-mismatch", fix,
				   "plugin_opt_store %s (%s) is not %s: the broker enforces another policy "
				   "than the one mqadmin writes", p->store, p->where, pol);
		else
			doctor_add(d, DOCTOR_ERROR, "config-policy-mismatch", fix,
				   "plugin_opt_policy %s (%s) makes the plugin read the policy store %s, "
				   "not %s: the broker enforces another policy than the one mqadmin writes",
				   p->policy, p->where, eff, pol);
		return;
	}
	snprintf(eff, sizeof(eff), "%s/data.mdb", pol);
	if (!access(eff, F_OK))
		conf_broker_read(d, eff, "policy store");
}

static void conf_release(struct conf *c)
{
	for (size_t i = 0; i < c->nl; i++) {
		struct conf_listener *l = &c->l[i];

		free(l->label);
		free(l->cafile);
		free(l->capath);
		free(l->certfile);
		free(l->keyfile);
		free(l->crlfile);
		free(l->tls_version);
	}
	for (size_t i = 0; i < c->np; i++) {
		free(c->p[i].path);
		free(c->p[i].where);
		free(c->p[i].policy);
		free(c->p[i].store);
		free(c->p[i].bad_opt);
	}
}

void doctor_check_conf(struct doctor *d)
{
	struct conf *c = calloc(1, sizeof(*c));
	size_t before = d->nfindings, ntls = 0;

	if (!c) {
		d->oom = true;
		return;
	}
	/* Settings before the first listener line belong to the default one. */
	c->nl = 1;
	if (asprintf(&c->l[0].label, "the default listener (%s)", d->config) < 0) {
		c->l[0].label = NULL;
		d->oom = true;
		goto out;
	}
	conf_read(d, c, d->config, 0);
	if (d->nfindings > before && !strcmp(d->findings[before].check, "config-unreadable"))
		goto out;
	d->config_read = true;
	if (c->too_many)
		doctor_add(d, DOCTOR_WARNING, "config-too-many-listeners", NULL,
			   "%s has more than %d listeners; doctor checked the first %d", d->config,
			   CONF_MAX_LISTENERS, CONF_MAX_LISTENERS);
	if (c->per_listener)
		doctor_add(d, DOCTOR_ERROR, "config-per-listener-settings", "per_listener_settings false",
			   "%s sets per_listener_settings true: mosquitto 2.0.11 then sends the "
			   "plugin no ticks, so policy changes and revocations do not reach connected "
			   "clients",
			   d->config);
	for (size_t i = 0; i < c->nl; i++) {
		if (!c->l[i].in_use)
			continue;
		d->nlisteners++;
		ntls += c->l[i].certfile != NULL;
		conf_check_listener(d, &c->l[i]);
	}
	if (!ntls)
		doctor_add(d, DOCTOR_ERROR, "config-no-tls-listener",
			   "add the listener block 'mqadmin broker-config' prints",
			   "%s has no TLS listener (no certfile): no client can present a certificate",
			   d->config);
	conf_check_plugins(d, c);
out:
	conf_release(c);
	free(c);
}

static bool conf_host_ok(X509 *cert, const char *host)
{
	unsigned char a[16];
	int r;

	if (inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1)
		r = X509_check_ip_asc(cert, host, 0);
	else
		r = X509_check_host(cert, host, 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL);
	ERR_clear_error();
	return r == 1;
}

void doctor_check_broker_access(struct doctor *d)
{
	char *pol = NULL, fix[512];
	bool any_used = false;

	for (size_t i = 0; i < d->nservers; i++)
		any_used |= d->servers[i].used;
	for (size_t i = 0; i < d->nservers; i++) {
		struct doctor_server *s = &d->servers[i];

		/* With a config, only the server it uses matters. */
		if (d->config_read && !s->used)
			continue;
		for (size_t h = 0; h < d->nhosts; h++) {
			if (conf_host_ok(s->cert, d->hosts[h]))
				continue;
			snprintf(fix, sizeof(fix),
				 "mqadmin -d %s server issue %s --force --san %s:%s [--san ...]", d->dir,
				 s->name, strchr(d->hosts[h], ':') || strspn(d->hosts[h], "0123456789.") ==
				 strlen(d->hosts[h]) ? "IP" : "DNS", d->hosts[h]);
			doctor_add(d, DOCTOR_ERROR, "server-san-missing-host", fix,
				   "server certificate %s has no SAN for %s: clients connecting to %s "
				   "refuse the broker",
				   s->crt, d->hosts[h], d->hosts[h]);
		}
		if (!d->config_read)
			conf_broker_read(d, s->key, "server key");
	}
	if (d->config_read && !any_used)
		return;
	if (!d->config_read && asprintf(&pol, "%s/store/data.mdb", d->dir) >= 0) {
		if (!access(pol, F_OK))
			conf_broker_read(d, pol, "policy store");
		free(pol);
	}
}
