/* audit, audit log and expiring: what the plugin's state file and audit log
 * say, checked against the policy, and what needs renewal soon. Read-only:
 * nothing here takes the DIR lock or talks to the broker. */
#include "cmds.h"

#include "crl.h"
#include "doctor.h"
#include "out.h"

#include "mq_x509.h"
#include "mq_fileio.h"
#include "mq_names.h"
#include "mq_policy.h"
#include "mq_strmap.h"
#include "mq_time.h"
#include "report_log.h"
#include "store.h"
#include "sync.h"
#include "etcd.h"
#include "fleet.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define AUDIT_STATE_MAX ((size_t)256 << 20)
/* The plugin rewrites the state file at least every 5 minutes. */
#define AUDIT_STALE_SECONDS (15 * 60)

/* ---- files the broker's user writes ------------------------------------------ */

/* Why path cannot be read, for a reader who is not allowed to: the mode and
 * owners, and what to do. */
static void audit_no_permission(const char *what, const char *path)
{
	struct stat sb;
	struct passwd *pw;
	struct group *gr;
	char e[PATH_MAX + 64], me[64];

	cli_escape(e, sizeof(e), path);
	if (stat(path, &sb)) {
		cli_err("cannot read %s %s: permission denied (a directory on the way is not "
			"searchable by you); run mqadmin as root", what, e);
		return;
	}
	/* getpwuid's answer lives until the next call: copy it. */
	pw = getpwuid(getuid());
	snprintf(me, sizeof(me), "%s", pw ? pw->pw_name : "USER");
	pw = getpwuid(sb.st_uid);
	gr = getgrgid(sb.st_gid);
	cli_err("cannot read %s %s: permission denied: it is mode %04o, owner %s, group %s, "
		"and you are neither; run mqadmin as root or as the owner, or add yourself to "
		"group %s ('usermod -aG %s %s') and log in again", what, e,
		(unsigned)(sb.st_mode & 07777), pw ? pw->pw_name : "?", gr ? gr->gr_name : "?",
		gr ? gr->gr_name : "?", gr ? gr->gr_name : "?", me);
}

/* Says why a file the broker's user writes could not be read: errnum is
 * the errno of the open or of mq_file_read_regular, detail its message. */
static void audit_file_error(const char *what, const char *path, const char *hint, int errnum,
			     const char *detail)
{
	char e[PATH_MAX + 64], d[CLI_ESCAPE_SIZE(PATH_MAX + 128)];

	cli_escape(e, sizeof(e), path);
	if (errnum == EACCES)
		audit_no_permission(what, path);
	else if (errnum == ENOENT)
		cli_err("cannot open %s %s: %s%s", what, e, strerror(errnum), hint);
	else if (errnum == EINVAL)
		cli_err("%s %s is not a regular file: refusing to read it (whoever can write that "
			"directory can put a FIFO or device there); remove it, the plugin writes a "
			"new one", what, e);
	else if (errnum == EFBIG)
		cli_err("%s %s is larger than %zu MiB: not a file the plugin wrote", what, e,
			AUDIT_STATE_MAX >> 20);
	else
		cli_err("%s", cli_escape(d, sizeof(d), detail ? detail : strerror(errnum)));
}

/* Opens a file the broker's user writes (the audit log) for reading:
 * never blocks on a FIFO, refuses anything but a regular file. The fd, or
 * -1 after printing why (missing: with hint appended). */
static int audit_open_file(const char *what, const char *path, const char *hint)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat sb;

	if (fd < 0) {
		audit_file_error(what, path, hint, errno, NULL);
		return -1;
	}
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		audit_file_error(what, path, hint, EINVAL, NULL);
		close(fd);
		return -1;
	}
	return fd;
}

/* All of a state file, at most AUDIT_STATE_MAX bytes. 0 or -1 after
 * printing why. */
static int audit_read_state(const char *path, char **out, size_t *len)
{
	char err[PATH_MAX + 128];

	if (!mq_file_read_regular(path, AUDIT_STATE_MAX, out, len, err, sizeof(err)))
		return 0;
	audit_file_error("the state file", path, "; the broker's mqcert plugin writes it "
			 "(plugin_opt_state_file): is mosquitto running with mqcert, or is the "
			 "file elsewhere (--state FILE)?", errno, err);
	return -1;
}

/* ---- audit ------------------------------------------------------------------- */

/* One broker instance's state file. */
struct audit_doc {
	char *path;
	cJSON *doc;
	char instance[MQ_NAME_MAX + 1]; /* its "instance", or from the file name */
	time_t updated;
	bool ok; /* read and understood */
};

struct audit_ctx {
	const struct mq_policy *policy;
	time_t now, updated; /* updated: of the document being shown */
	bool json;
	int bad; /* things that should never happen */
};

/* A short escaped copy of s for a message ("?" for NULL). */
#define ESC(buf, s) cli_escape(buf, sizeof(buf), (s) ? (s) : "?")

static void audit_flags(struct audit_ctx *a, const cJSON *cl, char *flags, size_t len,
			cJSON *jflags)
{
	const char *fpr = report_log_str(cl, "fingerprint", NULL);
	const char *dev = report_log_str(cl, "device", NULL);
	const char *cid = report_log_str(cl, "client_id", NULL);
	const struct mq_cert *c = fpr ? mq_policy_find_fingerprint(a->policy, fpr) : NULL;
	const char *f[4];
	char e1[256], e2[256], e3[256];
	size_t n = 0;

	ESC(e1, cid);
	ESC(e2, dev);
	if (!c) {
		f[n++] = "unknown";
		a->bad++;
		cli_err("SHOULD NEVER HAPPEN: client '%s' (device '%s') is connected with a "
			"certificate that is not in the policy (fingerprint %s); the plugin would "
			"have refused or dropped it: is this broker running mqcert with this "
			"DIR's policy store?", e1, e2, ESC(e3, fpr));
	} else if (c->status == MQ_CERT_REVOKED && c->revoked_at >= a->updated) {
		f[n++] = "revoked";
		out_warn("device '%s' was revoked after the state file was "
			"written; the plugin drops it within a second: run 'mqadmin audit' again",
			c->device->name);
	} else if (c->status == MQ_CERT_REVOKED) {
		f[n++] = "revoked";
		a->bad++;
		cli_err("SHOULD NEVER HAPPEN: client '%s' (device '%s', serial %s) is connected with "
			"a revoked certificate; the plugin would have dropped it: is this broker "
			"running mqcert with this DIR's policy store?", e1, e2, c->serial);
	} else if (c->not_after <= a->updated) {
		f[n++] = "expired";
		a->bad++;
		cli_err("SHOULD NEVER HAPPEN: client '%s' (device '%s', serial %s) is connected with "
			"an expired certificate; the plugin would have dropped it", e1, e2, c->serial);
	} else if (c->not_after <= a->now) {
		f[n++] = "expired";
	}
	if (c && (!dev || strcmp(c->device->name, dev))) {
		f[n++] = "other-device";
		a->bad++;
		cli_err("SHOULD NEVER HAPPEN: client '%s' is listed as device '%s' but its certificate "
			"belongs to device '%s' in the policy", e1, e2, c->device->name);
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cl, "clone_suspected")))
		f[n++] = "clone";
	flags[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		snprintf(flags + strlen(flags), len - strlen(flags), "%s%s", i ? "," : "", f[i]);
		if (jflags)
			cJSON_AddItemToArray(jflags, cJSON_CreateString(f[i]));
	}
}

/* Warnings about one instance's file: a stopped or vanished broker, or a
 * file nobody has refreshed. Said per instance: another broker on the
 * same DIR may be serving. */
static void audit_staleness(const struct audit_doc *d, time_t now)
{
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(d->doc, "broker_pid");
	const char *host = report_log_str(d->doc, "host", NULL);
	char me[256] = "", path[512], upd[64], inst[256];

	ESC(path, d->path);
	ESC(upd, report_log_str(d->doc, "updated", NULL));
	ESC(inst, d->instance);
	if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(d->doc, "running"))) {
		out_warn("broker '%s' stopped at %s (%s): nobody is "
			"connected through it", inst, upd, path);
		return;
	}
	gethostname(me, sizeof(me) - 1);
	if (cJSON_IsNumber(pid) && host && !strcmp(host, me) && pid->valuedouble > 0 &&
	    pid->valuedouble < 1e9 && kill((pid_t)pid->valuedouble, 0) && errno == ESRCH) {
		out_warn("%s is stale: broker pid %.0f is not running "
			"(broker '%s', last updated %s)", path, pid->valuedouble, inst, upd);
		return;
	}
	if (now - d->updated > AUDIT_STALE_SECONDS)
		out_warn("%s was last updated %s, more than %d minutes ago "
			"(the plugin refreshes it every 5 minutes): broker '%s' may be hung or no "
			"longer running mqcert", path, upd, AUDIT_STALE_SECONDS / 60, inst);
}

static void audit_clones(const cJSON *doc)
{
	const cJSON *e, *clones = cJSON_GetObjectItemCaseSensitive(doc, "suspected_clones");

	cJSON_ArrayForEach(e, clones) {
		const cJSON *ad;
		char addrs[512] = "", dev[256], ser[128], since[64], one[128];

		cJSON_ArrayForEach(ad, cJSON_GetObjectItemCaseSensitive(e, "addresses"))
			if (cJSON_IsString(ad))
				snprintf(addrs + strlen(addrs), sizeof(addrs) - strlen(addrs), "%s%s",
					 addrs[0] ? ", " : "", ESC(one, ad->valuestring));
		ESC(dev, report_log_str(e, "device", NULL));
		out_warn("the certificate of device '%s' (serial %s) looks "
			"cloned: seen from %s since %s; if the device was not moved, revoke it "
			"('mqadmin device revoke %s') and issue a new key", dev,
			ESC(ser, report_log_str(e, "serial", NULL)), addrs,
			ESC(since, report_log_str(e, "since", NULL)),
			mq_name_valid(report_log_str(e, "device", "")) ? dev : "NAME");
	}
}

/* Adds one client of d to the table or the JSON array. 0 or -1 (out of
 * memory). */
static int audit_client(struct audit_ctx *a, const struct audit_doc *d, const cJSON *cl,
			struct out_tbl *t, cJSON *arr)
{
	static const char *const keys[][2] = {
		{"name", "device"}, {"username", "username"}, {"client_id", "client_id"},
		{"address", "address"}, {"serial", "serial"}, {"since", "since"},
		{"fingerprint", "fingerprint"}, {"not_after", "not_after"}};
	const char *na = report_log_str(cl, "not_after", NULL);
	time_t t_na = 0;
	char flags[128], exp[48] = "-";
	cJSON *o = NULL, *jf = NULL;

	if (na && !mq_time_parse(na, &t_na))
		out_expiry(t_na, a->now, exp, sizeof(exp));
	if (a->json) {
		if (!(o = cJSON_CreateObject()) || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			return -1;
		}
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			const char *v = report_log_str(cl, keys[i][1], NULL);

			if (!(v ? cJSON_AddStringToObject(o, keys[i][0], v) :
			      cJSON_AddNullToObject(o, keys[i][0])))
				return -1;
		}
		if (!cJSON_AddStringToObject(o, "broker", d->instance) ||
		    !(t_na ? cJSON_AddNumberToObject(o, "days_left", (double)out_days_left(t_na, a->now)) :
		      cJSON_AddNullToObject(o, "days_left")) ||
		    !(jf = cJSON_AddArrayToObject(o, "flags")))
			return -1;
		if (cJSON_GetObjectItemCaseSensitive(cl, "clone_addresses") &&
		    !cJSON_AddItemToObject(o, "clone_addresses", cJSON_Duplicate(
			    cJSON_GetObjectItemCaseSensitive(cl, "clone_addresses"), true)))
			return -1;
	}
	audit_flags(a, cl, flags, sizeof(flags), jf);
	if (!a->json) {
		const char *row[] = {report_log_str(cl, "device", NULL),
				     report_log_str(cl, "username", NULL),
				     report_log_str(cl, "client_id", NULL),
				     report_log_str(cl, "address", NULL), d->instance,
				     report_log_str(cl, "since", NULL), exp,
				     report_log_str(cl, "serial", NULL), flags};

		return out_tbl_row(t, row);
	}
	return 0;
}

static int audit_show(struct audit_ctx *a, const struct audit_doc *docs, size_t ndocs)
{
	static const char *const head[] = {"DEVICE", "USERNAME", "CLIENT-ID", "ADDRESS", "BROKER",
					   "SINCE", "EXPIRES-IN", "SERIAL", "FLAGS"};
	struct out_tbl t = {.ncols = 9};
	cJSON *arr = a->json ? cJSON_CreateArray() : NULL;
	int rc = -1;

	if ((a->json && !arr) || (!a->json && out_tbl_row(&t, head)))
		goto oom;
	for (size_t i = 0; i < ndocs; i++) {
		const cJSON *cl, *clients = cJSON_GetObjectItemCaseSensitive(docs[i].doc, "clients");

		if (!docs[i].ok)
			continue;
		a->updated = docs[i].updated;
		cJSON_ArrayForEach(cl, clients)
			if (cJSON_IsObject(cl) && audit_client(a, &docs[i], cl, &t, arr))
				goto oom;
	}
	if (a->json)
		rc = out_json(arr);
	else if (t.nrows == 1)
		rc = printf("nobody is connected\n") < 0 ? -1 : cli_flush_stdout();
	else {
		out_tbl_print(&t);
		rc = cli_flush_stdout();
	}
	goto out;
oom:
	cli_err("out of memory");
out:
	cJSON_Delete(arr);
	out_tbl_free(&t);
	return rc;
}

/* Reads and checks one state file into d. 0 or -1 after printing why. */
static int audit_load(struct audit_doc *d)
{
	char *buf = NULL, e[PATH_MAX + 64];
	const char *inst, *base;
	size_t len;
	int rc = -1;

	cli_escape(e, sizeof(e), d->path);
	if (audit_read_state(d->path, &buf, &len))
		return -1;
	d->doc = cJSON_ParseWithLength(buf, len);
	if (!cJSON_IsObject(d->doc) ||
	    !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(d->doc, "clients")) ||
	    mq_time_parse(report_log_str(d->doc, "updated", ""), &d->updated)) {
		cli_err("%s is not an mqcert state file (no 'clients' list or 'updated' time)", e);
		goto out;
	}
	if (cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(d->doc, "version")) != 1) {
		cli_err("%s has an unknown version; this mqadmin reads version 1", e);
		goto out;
	}
	/* The plugin validates its instance name; an older plugin wrote none. */
	inst = report_log_str(d->doc, "instance", NULL);
	base = strrchr(d->path, '/') ? strrchr(d->path, '/') + 1 : d->path;
	if (inst && mq_name_valid(inst))
		snprintf(d->instance, sizeof(d->instance), "%s", inst);
	else if (!strncmp(base, "connected-", 10) && strlen(base) > 15)
		snprintf(d->instance, sizeof(d->instance), "%.*s", (int)(strlen(base) - 15),
			 base + 10);
	else
		snprintf(d->instance, sizeof(d->instance), "-");
	rc = 0;
out:
	free(buf);
	return rc;
}

/* The state files of DIR/audit: connected-INSTANCE.json, one per broker,
 * and connected.json from plugins before instances. Sorted. */
static int audit_find(const struct store *st, struct audit_doc **docs, size_t *ndocs)
{
	char *dir = store_path(st, "audit"), e[PATH_MAX + 64];
	struct dirent **names = NULL;
	int n, rc = -1;

	if (!dir) {
		cli_err("out of memory");
		return -1;
	}
	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		if (errno == EACCES)
			audit_no_permission("the directory", dir);
		else
			cli_err("cannot open %s: %s; the broker's mqcert plugin writes its state file "
				"there (plugin_opt_state_file): is mosquitto running with mqcert, or is "
				"the file elsewhere (--state FILE)?", cli_escape(e, sizeof(e), dir),
				strerror(errno));
		goto out;
	}
	for (int i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;
		size_t l = strlen(nm);
		struct audit_doc *g;

		if (strncmp(nm, "connected", 9) || l < 14 || strcmp(nm + l - 5, ".json") ||
		    (nm[9] != '-' && strcmp(nm, "connected.json")))
			continue;
		if (!(g = realloc(*docs, (*ndocs + 1) * sizeof(*g))) ||
		    (memset(&g[*ndocs], 0, sizeof(*g)),
		     !(g[*ndocs].path = store_path(st, "audit/%s", nm)))) {
			if (g)
				*docs = g;
			cli_err("out of memory");
			goto out;
		}
		*docs = g;
		(*ndocs)++;
	}
	if (!*ndocs)
		cli_err("no state file in %s (connected-INSTANCE.json): the broker's mqcert plugin "
			"writes one per broker (plugin_opt_state_file): is mosquitto running with "
			"mqcert, or is the file elsewhere (--state FILE)?", cli_escape(e, sizeof(e), dir));
	else
		rc = 0;
out:
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(dir);
	return rc;
}

/* ---- the fleet: P connected/INSTANCE/CLIENT and P brokers/INSTANCE in etcd -------- */

/* One broker's clients as a state-file-like document, so that the table
 * and the flags are those of the local view. */
struct audit_fleet {
	struct audit_doc *docs;
	size_t ndocs;
	const char *prefix;
	bool bad; /* a key that is not a client entry */
};

static struct audit_doc *audit_fleet_doc(struct audit_fleet *f, const char *instance)
{
	struct audit_doc *g;

	for (size_t i = 0; i < f->ndocs; i++)
		if (!strcmp(f->docs[i].instance, instance))
			return &f->docs[i];
	if (!(g = realloc(f->docs, (f->ndocs + 1) * sizeof(*g))))
		return NULL;
	f->docs = g;
	g = &g[f->ndocs];
	memset(g, 0, sizeof(*g));
	snprintf(g->instance, sizeof(g->instance), "%s", instance);
	if (!(g->doc = cJSON_CreateObject()) || !cJSON_AddArrayToObject(g->doc, "clients") ||
	    !(g->path = strdup(instance))) {
		cJSON_Delete(g->doc);
		free(g->path);
		return NULL;
	}
	g->ok = true;
	g->updated = time(NULL);
	f->ndocs++;
	return g;
}

static int audit_fleet_client(void *arg, const struct etcd_kv *kv)
{
	struct audit_fleet *f = arg;
	const char *rest = kv->key + strlen(f->prefix) + strlen("connected/"), *slash;
	char inst[MQ_NAME_MAX + 1], e[256];
	struct audit_doc *d;
	cJSON *cl;

	slash = strchr(rest, '/');
	if (!slash || slash == rest || (size_t)(slash - rest) > MQ_NAME_MAX)
		goto bad;
	snprintf(inst, sizeof(inst), "%.*s", (int)(slash - rest), rest);
	cl = kv->value ? cJSON_ParseWithLength(kv->value, kv->vlen) : NULL;
	if (!mq_name_valid(inst) || !cJSON_IsObject(cl) || !report_log_str(cl, "fingerprint", NULL)) {
		cJSON_Delete(cl);
		goto bad;
	}
	if (!(d = audit_fleet_doc(f, inst)) ||
	    !cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(d->doc, "clients"), cl)) {
		cJSON_Delete(cl);
		return -1;
	}
	return 0;
bad:
	f->bad = true;
	cli_err("etcd key %s is not a connected client's entry: skipped", ESC(e, kv->key));
	return 0;
}

/* P brokers/INSTANCE: the time of what its sync reported last (the flags
 * compare revocations with it) and whether it says etcd is down. */
static int audit_fleet_broker(void *arg, const struct etcd_kv *kv)
{
	struct audit_fleet *f = arg;
	cJSON *doc = kv->value ? cJSON_ParseWithLength(kv->value, kv->vlen) : NULL;
	const char *inst = report_log_str(doc, "instance", NULL);
	const char *upd = report_log_str(doc, "updated", NULL);
	const char *down = report_log_str(doc, "etcd_down_since", NULL);
	struct audit_doc *d;
	char e1[256], e2[64];
	int rc = 0;

	if (!inst || !mq_name_valid(inst)) {
		cli_err("etcd key %s is not a broker's report: skipped", ESC(e1, kv->key));
		goto out;
	}
	if (!(d = audit_fleet_doc(f, inst))) {
		rc = -1;
		goto out;
	}
	if (upd)
		mq_time_parse(upd, &d->updated);
	if (down)
		out_warn("broker '%s': its sync reports etcd unreachable "
			"since %s; the broker enforces the policy it applied last (revision %.0f)",
			ESC(e1, inst), ESC(e2, down),
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(doc, "applied_rev")));
out:
	cJSON_Delete(doc);
	return rc;
}

/* One certificate connected to two brokers at once: a clone (a broker
 * alone sees only its own connections). Flagged on every entry, said once. */
struct audit_fpr {
	size_t last;   /* the doc it was last seen in, + 1 */
	size_t nbrokers;
	bool said;
	char brokers[512];
};

static int audit_fleet_clones(struct audit_fleet *f)
{
	struct mq_strmap m;
	struct audit_fpr **all = NULL;
	size_t nall = 0;
	int rc = -1;

	mq_strmap_init(&m);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < f->ndocs; i++) {
			cJSON *cl;

			cJSON_ArrayForEach(cl, cJSON_GetObjectItemCaseSensitive(f->docs[i].doc,
									       "clients")) {
				const char *fpr = report_log_str(cl, "fingerprint", NULL);
				struct audit_fpr *e = mq_strmap_get(&m, fpr), **na;
				char e1[256], e2[128];

				if (pass == 1) {
					if (e->nbrokers < 2)
						continue;
					cJSON_DeleteItemFromObjectCaseSensitive(cl, "clone_suspected");
					cJSON_AddTrueToObject(cl, "clone_suspected");
					if (e->said)
						continue;
					e->said = true;
					out_warn("CLONE: the certificate of device "
						"'%s' (fingerprint %.16s) is connected to brokers %s at once; "
						"if the device was not moved, revoke it ('mqadmin device "
						"revoke NAME') and issue a new key",
						ESC(e1, report_log_str(cl, "device", NULL)),
						ESC(e2, fpr), e->brokers);
					continue;
				}
				if (!e) {
					if (!(e = calloc(1, sizeof(*e))) ||
					    !(na = realloc(all, (nall + 1) * sizeof(*na)))) {
						free(e);
						goto out;
					}
					all = na;
					all[nall++] = e;
					if (mq_strmap_put(&m, fpr, e))
						goto out;
				}
				if (e->last == i + 1)
					continue;
				e->last = i + 1;
				e->nbrokers++;
				snprintf(e->brokers + strlen(e->brokers),
					 sizeof(e->brokers) - strlen(e->brokers), "%s'%s'",
					 e->nbrokers > 1 ? " and " : "", f->docs[i].instance);
			}
		}
	}
	rc = 0;
out:
	if (rc)
		cli_err("out of memory");
	for (size_t i = 0; i < nall; i++)
		free(all[i]);
	free(all);
	mq_strmap_release(&m);
	return rc;
}

/* The local syncs' status files (DIR/audit/sync-INSTANCE.json): a sync
 * that cannot reach etcd can say so only here. */
static void audit_sync_status(void *arg, const char *instance, const struct sync_status *ss)
{
	char e1[256], e2[64];

	(void)arg;
	if (!ss->up)
		out_warn("broker '%s': etcd unreachable since %s (its "
			"sync's status file); the broker enforces the policy it applied last "
			"(revision %llu)", ESC(e1, instance),
			ss->down_since[0] ? ESC(e2, ss->down_since) : "?",
			(unsigned long long)ss->applied_rev);
}

/* Every sync status file of DIR/audit: a broker whose sync lost etcd is
 * no longer in etcd (its lease ended), so on its host only these say so. */
static void audit_sync_statuses(const struct store *st)
{
	sync_statuses_each(st->dir, audit_sync_status, NULL);
}

static int audit_fleet(struct audit_ctx *a, struct etcd *e, const char *prefix,
		       const struct store *st)
{
	struct audit_fleet f = {.prefix = prefix};
	struct etcd_range_req r = {.range_end = ""};
	char *kc = NULL, *kb = NULL, err[1024];
	int64_t at;
	int rc = -1;

	if (asprintf(&kc, "%sconnected/", prefix) < 0 || asprintf(&kb, "%sbrokers/", prefix) < 0) {
		cli_err("out of memory");
		goto out;
	}
	r.key = kc;
	if (etcd_range_each(e, &r, 1000, audit_fleet_client, &f, &at, err, sizeof(err)))
		goto etcd;
	r.key = kb;
	if (etcd_range_each(e, &r, 1000, audit_fleet_broker, &f, &at, err, sizeof(err)))
		goto etcd;
	audit_sync_statuses(st);
	if (audit_fleet_clones(&f))
		goto out;
	rc = audit_show(a, f.docs, f.ndocs);
	goto out;
etcd:
	cli_err("cannot read the fleet from etcd: %s", err);
out:
	for (size_t i = 0; i < f.ndocs; i++) {
		cJSON_Delete(f.docs[i].doc);
		free(f.docs[i].path);
	}
	free(f.docs);
	free(kc);
	free(kb);
	return rc;
}

int cmd_audit(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"state", required_argument, NULL, 's'},
		{"etcd", required_argument, NULL, 'e'},
		{"etcd-prefix", required_argument, NULL, 'p'},
		{NULL, 0, NULL, 0},
	};
	struct fleet_cfg fc = {0};
	struct etcd *etcd = NULL;
	char err[1024];
	struct store *st = NULL;
	struct audit_ctx a = {.now = time(NULL)};
	struct audit_doc *docs = NULL;
	size_t ndocs = 0, nloaded = 0;
	bool failed = false;
	int c, rc;

	while ((c = cli_opt(ctx, argc, argv, opts)) != -1) {
		if (c == 'j') {
			a.json = true;
		} else if (c == 'e') {
			fc.endpoints = optarg;
		} else if (c == 'p') {
			fc.prefix = optarg;
		} else if (c == 's') {
			struct audit_doc *g = realloc(docs, (ndocs + 1) * sizeof(*g));

			if (g)
				memset(&g[ndocs], 0, sizeof(*g));
			if (g)
				docs = g;
			if (!g || !(g[ndocs].path = strdup(optarg))) {
				cli_err("out of memory");
				rc = CLI_FAIL;
				goto out;
			}
			docs = g;
			ndocs++;
		} else {
			rc = cli_usage_error(ctx, NULL);
			goto out;
		}
	}
	if (cli_operands(ctx, argc, argv, 0, 0, NULL)) {
		rc = CLI_USAGE;
		goto out;
	}
	if ((fc.endpoints || fc.prefix) && fleet_configure(&fc)) {
		rc = CLI_USAGE;
		goto out;
	}
	if (fc.endpoints)
		ctx->fleet = *fc.endpoints != '\0';
	rc = CLI_FAIL;
	/* With etcd (and no --state): the fleet's view. */
	if (ctx->fleet && !ndocs) {
		if (!(st = cmdtab_pki(ctx)) || store_load_policy(st))
			goto out;
		if (fleet_connect(&etcd, err, sizeof(err))) {
			cli_err("%s", err);
			goto out;
		}
		a.policy = st->policy;
		if (!audit_fleet(&a, etcd, fleet_prefix(), st))
			rc = a.bad ? CLI_FAIL : CLI_OK;
		goto out;
	}
	if (!(st = cmdtab_pki(ctx)) || store_load_policy(st) ||
	    (!ndocs && audit_find(st, &docs, &ndocs)))
		goto out;
	/* A file that cannot be read is reported and the others still shown:
	 * one broker's problem must not hide who is on the rest. */
	for (size_t i = 0; i < ndocs; i++) {
		docs[i].ok = !audit_load(&docs[i]);
		if (!docs[i].ok) {
			failed = true;
			continue;
		}
		nloaded++;
		audit_staleness(&docs[i], a.now);
		audit_clones(docs[i].doc);
		{
			struct sync_status ss;

			sync_status_read(st->dir, docs[i].instance, &ss);
			if (ss.present)
				audit_sync_status(NULL, docs[i].instance, &ss);
		}
	}
	if (!nloaded)
		goto out;
	a.policy = st->policy;
	if (audit_show(&a, docs, ndocs))
		goto out;
	rc = a.bad || failed ? CLI_FAIL : CLI_OK;
out:
	for (size_t i = 0; i < ndocs; i++) {
		cJSON_Delete(docs[i].doc);
		free(docs[i].path);
	}
	free(docs);
	etcd_free(etcd);
	return rc;
}

/* ---- audit log ---------------------------------------------------------------- */

/* The events the plugin writes (plugin/audit.c). */
static const char *const alog_events[] = {"connect", "refused", "disconnect", "kicked",
					  "acl_denied", "acl_denied_suppressed", "policy",
					  "clone", "audit_dropped"};
#define ALOG_NEVENTS (sizeof(alog_events) / sizeof(alog_events[0]))
/* --follow without --limit starts with as many lines as tail -f. */
#define ALOG_FOLLOW_START 10
#define ALOG_POLL_MS 200
/* How long a rotated file is still read: 10 s of polls. */
#define ALOG_OLD_POLLS 50

struct alog_filter {
	const char *device;
	bool denied;
	time_t since; /* 0: all */
	bool events[ALOG_NEVENTS]; /* --event: those kept */
	bool any_event;            /* no --event given */
};

static bool alog_match(const struct alog_filter *f, const cJSON *o, time_t ts)
{
	const char *ev = report_log_str(o, "event", NULL), *dev = report_log_str(o, "device", NULL);

	if (f->since && ts < f->since)
		return false;
	if (f->device && (!dev || strcmp(dev, f->device)))
		return false;
	/* Observe mode's would-be refusals and denials count as denials. */
	if (f->denied && strcmp(ev, "refused") && strcmp(ev, "acl_denied") &&
	    strcmp(ev, "acl_denied_suppressed") && strcmp(ev, "observe") &&
	    strcmp(ev, "acl_observe"))
		return false;
	if (!f->any_event) {
		size_t k;

		for (k = 0; k < ALOG_NEVENTS && strcmp(ev, alog_events[k]); k++)
			;
		if (k == ALOG_NEVENTS || !f->events[k])
			return false;
	}
	return true;
}

/* The DETAIL column: what the event says beyond who and where. */
static void alog_detail(const cJSON *o, char *buf, size_t len)
{
	const char *ev = report_log_str(o, "event", NULL);

	buf[0] = '\0';
	if (!strcmp(ev, "connect")) {
		snprintf(buf, len, "serial %s, identity %s", report_log_str(o, "serial", "-"),
			 report_log_str(o, "identity", "-"));
	} else if (!strcmp(ev, "refused")) {
		snprintf(buf, len, "%s", report_log_str(o, "reason", "?"));
	} else if (!strcmp(ev, "disconnect")) {
		snprintf(buf, len, "%s after %.0fs", report_log_str(o, "reason", "?"),
			 report_log_num(o, "duration"));
	} else if (!strcmp(ev, "kicked")) {
		snprintf(buf, len, "%s", report_log_str(o, "why", "?"));
	} else if (!strcmp(ev, "policy")) {
		if (report_log_str(o, "error", NULL))
			snprintf(buf, len, "rejected: %s", report_log_str(o, "error", NULL));
		else
			snprintf(buf, len, "generation %.0f loaded (%.0f devices, %.0f rules)",
				 report_log_num(o, "generation"), report_log_num(o, "devices"),
				 report_log_num(o, "rules"));
	} else if (!strcmp(ev, "acl_denied")) {
		snprintf(buf, len, "%s %s", report_log_str(o, "access", "?"),
			 report_log_str(o, "topic", "?"));
	} else if (!strcmp(ev, "observe")) {
		snprintf(buf, len, "let in; enforce would refuse: %s (identity %s)",
			 report_log_str(o, "reason", "?"),
			 report_log_str(o, "identity", "-"));
	} else if (!strcmp(ev, "acl_observe")) {
		snprintf(buf, len, "%s %s let through; enforce: %s",
			 report_log_str(o, "access", "?"), report_log_str(o, "topic", "?"),
			 report_log_str(o, "would", "deny"));
	} else if (!strcmp(ev, "acl_denied_suppressed")) {
		snprintf(buf, len, "%.0f more denials in %.0fs not logged", report_log_num(o, "count"),
			 report_log_num(o, "window"));
	} else if (!strcmp(ev, "clone")) {
		const cJSON *ad;

		snprintf(buf, len, "%s from", report_log_str(o, "kind", "?"));
		cJSON_ArrayForEach(ad, cJSON_GetObjectItemCaseSensitive(o, "addresses"))
			if (cJSON_IsString(ad))
				snprintf(buf + strlen(buf), len - strlen(buf), " %s", ad->valuestring);
	} else if (!strcmp(ev, "audit_dropped")) {
		snprintf(buf, len, "%.0f events lost (disk full or file unwritable)",
			 report_log_num(o, "count"));
	}
}

/* --device NAME matched no event: a typo, or a device that never was? Says
 * so (false) when the policy of DIR has no such device. */
static bool alog_device_known(struct cli_ctx *ctx, const char *name)
{
	struct store *st = cmdtab_pki(ctx);
	bool known;

	if (!st || store_load_policy(st))
		return false;
	known = mq_policy_find_device(st->policy, name) != NULL;
	if (!known)
		cli_err("no device '%s' in the policy of %s and no event of it in the log: check the "
			"name ('mqadmin device list' shows them all)", name, st->dir);
	return known;
}

/* Where matching events go: a table or array printed at the end, or, once
 * following, straight to stdout line by line. */
struct alog_out {
	bool json, stream;
	struct out_tbl t;
	struct out_cols cols; /* streamed rows: the widths so far */
	cJSON *arr;
};

/* Prints one table row now, padded to the widths seen so far (growing them). */
static int alog_stream_row(struct alog_out *out, const char *const *row)
{
	char e[6][CLI_ESCAPE_SIZE(1024)];
	const char *cells[6];

	for (size_t c = 0; c < 6; c++)
		cells[c] = cli_escape(e[c], sizeof(e[c]), row[c] && *row[c] ? row[c] : "-");
	out_cols_fit(&out->cols, cells);
	out_cols_row(&out->cols, cells);
	return cli_flush_stdout();
}

/* Takes o (a matching event). 0 or -1 (out of memory, or stdout lost). */
static int alog_emit(struct alog_out *out, cJSON *o)
{
	char detail[1024];
	const char *row[6];
	int rc;

	if (out->json && out->stream) {
		char *text = cJSON_PrintUnformatted(o);

		cJSON_Delete(o);
		if (!text)
			return -1;
		rc = printf("%s\n", text) < 0 ? -1 : cli_flush_stdout();
		cJSON_free(text);
		return rc;
	}
	if (out->json) {
		if (cJSON_AddItemToArray(out->arr, o))
			return 0;
		cJSON_Delete(o);
		return -1;
	}
	alog_detail(o, detail, sizeof(detail));
	row[0] = report_log_str(o, "ts", NULL);
	row[1] = report_log_str(o, "event", NULL);
	row[2] = report_log_str(o, "device", NULL);
	row[3] = report_log_str(o, "client_id", NULL);
	row[4] = report_log_str(o, "address", NULL);
	row[5] = detail;
	rc = out->stream ? alog_stream_row(out, row) : out_tbl_row(&out->t, row);
	cJSON_Delete(o);
	return rc;
}

/* The last N matching events, kept until the end of what is there. */
struct alog_ring {
	cJSON **o;
	size_t cap, n, head; /* cap 0: no limit, events go straight out */
};

static int alog_take(struct alog_ring *ring, struct alog_out *out, cJSON *o)
{
	if (!ring->cap)
		return alog_emit(out, o);
	if (ring->n == ring->cap) {
		cJSON_Delete(ring->o[ring->head]);
		ring->o[ring->head] = o;
		ring->head = (ring->head + 1) % ring->cap;
		return 0;
	}
	ring->o[(ring->head + ring->n++) % ring->cap] = o;
	return 0;
}

static int alog_ring_flush(struct alog_ring *ring, struct alog_out *out)
{
	int rc = 0;

	for (; ring->n; ring->n--) {
		cJSON *o = ring->o[ring->head];

		ring->o[ring->head] = NULL;
		ring->head = (ring->head + 1) % ring->cap;
		if (!rc)
			rc = alog_emit(out, o);
		else
			cJSON_Delete(o);
	}
	return rc;
}

/* Reads the lines that are there (final: a last one without newline too),
 * passing the matching events on. 0 or -1 after saying why. */
static int alog_read(struct report_log *r, const char *path, const struct alog_filter *f,
		     struct alog_ring *ring, struct alog_out *out, bool final,
		     unsigned long *matched)
{
	char *line, e[PATH_MAX + 64];
	size_t n;
	int got;

	while ((got = report_log_next(r, final, &line, &n)) > 0) {
		time_t ts;
		cJSON *o = report_log_parse(r, line, n, &ts);

		if (!o)
			continue;
		if (!alog_match(f, o, ts)) {
			cJSON_Delete(o);
			continue;
		}
		(*matched)++;
		if (alog_take(ring, out, o)) {
			cli_err("out of memory, or standard output lost");
			return -1;
		}
	}
	if (got < 0) {
		cli_err("cannot read %s: %s", ESC(e, path), strerror(errno));
		return -1;
	}
	return 0;
}

static volatile sig_atomic_t alog_stop;

static void alog_on_signal(int sig)
{
	(void)sig;
	alog_stop = 1;
}

/* tail -f: new lines as they come, across logrotate's rename (a new inode
 * at path: created by logrotate, or by the plugin reopening on SIGHUP) and
 * copytruncate (the file shrinks). Ends on SIGINT or SIGTERM: 0, or -1
 * after saying why. */
static int alog_follow(struct report_log *r, const char *path, const struct alog_filter *f,
		       struct alog_ring *ring, struct alog_out *out, unsigned long *matched)
{
	struct sigaction sa = {.sa_handler = alog_on_signal};
	struct report_log old = {.fd = -1}, next;
	char e[PATH_MAX + 64];
	int old_polls = 0, rc = -1;

	/* No SA_RESTART: the signal cuts the wait short. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL)) {
		cli_err("cannot catch SIGINT: %s", strerror(errno));
		return -1;
	}
	while (!alog_stop) {
		struct timespec ts = {0, ALOG_POLL_MS * 1000000L};
		int what;

		/* logrotate's create comes before the plugin's reopen on SIGHUP:
		 * the rotated file still gets lines for a while. */
		if (old.fd >= 0) {
			if (alog_read(&old, path, f, ring, out, old_polls == 0, matched))
				goto out;
			if (old_polls-- == 0)
				report_log_close(&old);
		}
		if (alog_read(r, path, f, ring, out, false, matched))
			goto out;
		what = report_log_check(r, path);
		if (what == REPORT_LOG_TRUNCATED) {
			cli_err("%s was truncated; reading it from its start",
				ESC(e, path));
			continue;
		}
		/* A new file that cannot be opened yet (gone again, not yet
		 * readable): keep reading the old one and try again. */
		if (what == REPORT_LOG_ROTATED && !report_log_open(&next, path)) {
			report_log_close(&old);
			old = *r;
			*r = next;
			old_polls = ALOG_OLD_POLLS;
			continue;
		}
		nanosleep(&ts, NULL);
	}
	rc = 0;
out:
	report_log_close(&old);
	return rc;
}

int cmd_audit_log(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"device", required_argument, NULL, 'D'},
		{"denied", no_argument, NULL, 'n'},
		{"since", required_argument, NULL, 's'},
		{"file", required_argument, NULL, 'f'},
		{"event", required_argument, NULL, 'e'},
		{"limit", required_argument, NULL, 'l'},
		{"follow", no_argument, NULL, 'F'},
		{NULL, 0, NULL, 0},
	};
	static const char *const head[] = {"TIME", "EVENT", "DEVICE", "CLIENT-ID", "ADDRESS",
					   "DETAIL"};
	struct alog_filter f = {.any_event = true};
	struct alog_out out = {.t = {.ncols = 6}, .cols = {.n = 6}};
	struct alog_ring ring = {0};
	struct report_log r = {.fd = -1};
	const char *file = NULL;
	char *path = NULL, epath[PATH_MAX + 64], dym[128];
	unsigned long matched = 0;
	bool follow = false;
	long limit = -1;
	size_t k;
	int fd, c, rc;

	while ((c = cli_opt(ctx, argc, argv, opts)) != -1) {
		switch (c) {
		case 'j':
			out.json = true;
			break;
		case 'D':
			f.device = optarg;
			break;
		case 'n':
			f.denied = true;
			break;
		case 's':
			if (cli_parse_since(ctx, optarg, time(NULL), &f.since))
				return CLI_USAGE;
			break;
		case 'f':
			file = optarg;
			break;
		case 'e':
			for (k = 0; k < ALOG_NEVENTS && strcmp(optarg, alog_events[k]); k++)
				;
			if (k == ALOG_NEVENTS)
				return cli_usage_error(ctx, "unknown --event '%s'%s; the events are "
						       "connect, refused, disconnect, kicked, "
						       "acl_denied, acl_denied_suppressed, policy, "
						       "clone and audit_dropped", optarg,
						       cli_did_you_mean(optarg, alog_events,
									ALOG_NEVENTS, "", dym,
									sizeof(dym)));
			f.events[k] = true;
			f.any_event = false;
			break;
		case 'l':
			if (cli_parse_long(optarg, 1, 1000000, &limit))
				return cli_usage_error(ctx, "invalid --limit '%s': use a number of "
						       "lines from 1 to 1000000", optarg);
			break;
		case 'F':
			follow = true;
			break;
		default:
			return cli_usage_error(ctx, NULL);
		}
	}
	if (cli_operands(ctx, argc, argv, 0, 0, NULL))
		return CLI_USAGE;
	if (f.device && !cli_name_ok("device", f.device))
		return CLI_FAIL;
	if (follow && limit < 0)
		limit = ALOG_FOLLOW_START;
	rc = CLI_FAIL;
	if (file)
		path = strdup(file);
	else if (asprintf(&path, "%s/audit/audit.log", ctx->dir) < 0)
		path = NULL;
	if (!path || (!out.json && out_tbl_row(&out.t, head)) ||
	    (out.json && !follow && !(out.arr = cJSON_CreateArray())) ||
	    (limit > 0 && !(ring.o = calloc((size_t)limit, sizeof(*ring.o)))))
		goto oom;
	ring.cap = limit > 0 ? (size_t)limit : 0;
	/* Followed JSON is JSON Lines from the start: an array never ends. */
	out.stream = follow && out.json;
	fd = audit_open_file("the audit log", path, "; the broker's mqcert plugin writes it "
			     "(plugin_opt_audit_log), or pass --file FILE");
	if (fd < 0)
		goto out;
	if (report_log_init(&r, fd)) {
		close(fd);
		cli_err("cannot read %s: %s", ESC(epath, path), strerror(errno));
		goto out;
	}
	if (alog_read(&r, path, &f, &ring, &out, !follow, &matched))
		goto out;
	if (ring.cap && alog_ring_flush(&ring, &out)) {
		cli_err("out of memory, or standard output lost");
		goto out;
	}
	if (r.bad)
		cli_err("skipped %lu malformed line%s of %lu in %s", r.bad,
			r.bad == 1 ? "" : "s", r.lines, ESC(epath, path));
	if (!follow && f.device && !matched && !alog_device_known(ctx, f.device))
		goto out;
	if (out.json && !follow) {
		rc = out_json(out.arr) ? CLI_FAIL : CLI_OK;
		goto out;
	}
	if (!out.json && out.t.nrows > 1)
		out_tbl_print(&out.t);
	if (!follow) {
		rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
		goto out;
	}
	/* Following: the widths of what was printed carry on. */
	if (!out.json)
		out_tbl_fit(&out.t, &out.cols);
	if (!out.json && out.t.nrows == 1 && alog_stream_row(&out, head))
		goto out;
	out.stream = true;
	ring.cap = 0;
	if (cli_flush_stdout() || alog_follow(&r, path, &f, &ring, &out, &matched))
		goto out;
	rc = CLI_OK;
	goto out;
oom:
	cli_err("out of memory");
out:
	if (ring.o)
		for (size_t i = 0; i < ring.n; i++)
			cJSON_Delete(ring.o[(ring.head + i) % (ring.cap ? ring.cap : 1)]);
	free(ring.o);
	report_log_close(&r);
	free(path);
	cJSON_Delete(out.arr);
	out_tbl_free(&out.t);
	return rc;
}

/* ---- expiring ------------------------------------------------------------------ */

/* What expiring lists, collected first: the table's widths need every
 * row. Printed by exp_print without a cJSON tree or a stored table (at a
 * million devices, 40,000 rows: their mallocs were half of the time). */
struct exp_row {
	const char *kind; /* a literal */
	char *name;
	char serial[MQ_SERIAL_LEN];
	char ts[MQ_TIME_LEN]; /* not_after as printed, formatted once */
	time_t not_after;
};

struct exp_ctx {
	time_t now, limit;
	bool json;
	struct exp_row *rows;
	size_t count, cap;
};

static int exp_add(struct exp_ctx *e, const char *kind, const char *name, const char *serial,
		   time_t not_after)
{
	struct exp_row *r;

	if (not_after > e->limit)
		return 0;
	if (e->count == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 1024;

		if (!(r = realloc(e->rows, cap * sizeof(*r))))
			return -1;
		e->rows = r;
		e->cap = cap;
	}
	r = &e->rows[e->count];
	if (!(r->name = strdup(name)))
		return -1;
	r->kind = kind;
	snprintf(r->serial, sizeof(r->serial), "%s", serial);
	if (mq_time_format(not_after, r->ts))
		strcpy(r->ts, "?");
	r->not_after = not_after;
	e->count++;
	return 0;
}

/* A JSON string as cJSON_Print writes it: plain ones directly, the others
 * (control characters, quote, backslash) through cJSON itself. */
static void exp_json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	cJSON *j;
	char *text;

	while (*p >= 0x20 && *p != '"' && *p != '\\')
		p++;
	if (!*p) {
		printf("\"%s\"", s);
		return;
	}
	j = cJSON_CreateString(s);
	text = j ? cJSON_PrintUnformatted(j) : NULL;
	fputs(text ? text : "null", stdout);
	cJSON_free(text);
	cJSON_Delete(j);
}

/* A table cell as out_tbl shows it (cli_escape; "-" when empty), copied
 * only when escaping changes it. */
static const char *exp_cell(const char *s, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	if (!*s)
		return "-";
	while (*p >= 0x20 && *p < 0x7f && *p != '\\')
		p++;
	return *p ? cli_escape(buf, len, s) : s;
}

/* The document or table, byte for byte what out_json(cJSON_Print) and
 * out_tbl printed for the same rows. */
static void exp_print(const struct exp_ctx *e, const char *within)
{
	static const char *const head[] = {"KIND", "NAME", "SERIAL", "NOT-AFTER", "EXPIRES"};
	char nb[CLI_ESCAPE_SIZE(256)], sb[CLI_ESCAPE_SIZE(MQ_SERIAL_LEN)], rel[48];
	struct out_cols cols;

	if (!e->json && !e->count) {
		printf("nothing expires within %s\n", within);
		return;
	}
	if (!e->json)
		out_cols_init(&cols, head, 5);
	for (int pass = e->json ? 1 : 0; pass < 2; pass++) {
		if (pass && e->json)
			putchar('[');
		else if (pass)
			out_cols_row(&cols, head);
		for (size_t i = 0; i < e->count; i++) {
			const struct exp_row *r = &e->rows[i];
			const char *row[5];

			if (e->json) {
				printf("%s{\n\t\t\"kind\":\t\"%s\",\n\t\t\"name\":\t", i ? ", " : "",
				       r->kind);
				exp_json_str(r->name);
				fputs(",\n\t\t\"serial\":\t", stdout);
				exp_json_str(r->serial);
				printf(",\n\t\t\"not_after\":\t\"%s\",\n\t\t\"days_left\":\t%ld\n\t}", r->ts,
				       out_days_left(r->not_after, e->now));
				continue;
			}
			out_expiry(r->not_after, e->now, rel, sizeof(rel));
			row[0] = r->kind;
			row[1] = exp_cell(r->name, nb, sizeof(nb));
			row[2] = exp_cell(r->serial, sb, sizeof(sb));
			row[3] = r->ts;
			row[4] = rel;
			if (pass)
				out_cols_row(&cols, row);
			else
				out_cols_fit(&cols, row);
		}
	}
	if (e->json)
		fputs("]\n", stdout);
}

/* A certificate file of DIR (the CA or a server). 0, or -1 after printing
 * why (a missing server certificate is skipped). */
static int exp_file(struct exp_ctx *e, const char *kind, const char *name, const char *path,
		    bool must_exist)
{
	FILE *f = fopen(path, "re");
	X509 *x;
	char serial[MQ_SERIAL_LEN];
	time_t nb, na;
	int rc;

	if (!f) {
		if (!must_exist && errno == ENOENT)
			return 0;
		cli_err("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x || mq_x509_serial(x, serial) || mq_x509_validity(x, &nb, &na)) {
		ERR_clear_error();
		X509_free(x);
		cli_err("cannot read the certificate in %s", path);
		return -1;
	}
	X509_free(x);
	rc = exp_add(e, kind, name, serial, na);
	if (rc)
		cli_err("out of memory");
	return rc;
}

static int exp_servers(struct exp_ctx *e, const struct store *st)
{
	char *dir = store_path(st, "servers");
	DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *de;
	int rc = 0;

	if (!d) {
		free(dir);
		return 0; /* no server issued yet */
	}
	while (!rc && (de = readdir(d))) {
		char *p;

		if (de->d_name[0] == '.')
			continue;
		p = store_path(st, "servers/%s/%s.crt", de->d_name, de->d_name);
		rc = p ? exp_file(e, "server", de->d_name, p, false) : -1;
		free(p);
	}
	closedir(d);
	free(dir);
	return rc;
}

static int exp_device(void *arg, const char *name, const char *serial, time_t not_after)
{
	if (exp_add(arg, "device", name, serial, not_after)) {
		cli_err("out of memory");
		return -1;
	}
	return 0;
}

static int exp_row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct exp_row *)a)->name, ((const struct exp_row *)b)->name);
}

/* A device needs renewal when its certificate in use (mq_device_cert_in_use:
 * the longest-lived one neither revoked nor retired; expired ones count,
 * still the device's, and it is locked out) ends within the window. Fully
 * revoked devices are gone. From the covering expiring index, O(result);
 * from the records while it is not current (a store an older mqadmin wrote
 * last), or with MQADMIN_EXPIRING_MODEL=1 (tests: the whole model, the
 * reference the index is compared with). */
static int exp_devices(struct exp_ctx *e, struct store *st)
{
	const char *model = getenv("MQADMIN_EXPIRING_MODEL");
	bool whole = model && !strcmp(model, "1");
	size_t first = e->count;
	int rc = whole ? 1 : store_expiring_each(st, e->now, e->limit, exp_device, e);
	const struct mq_policy *p;

	if (rc == 1) {
		if (whole ? store_load_policy(st) : store_load_expiring(st, e->limit + 1))
			return -1;
		p = st->policy;
		for (size_t i = 0; i < p->ndevices; i++) {
			const struct mq_cert *c = mq_device_cert_in_use(p->devices[i], e->now);

			if (c && exp_device(e, p->devices[i]->name, c->serial, c->not_after))
				return -1;
		}
		rc = 0;
	}
	/* Devices in name order, whichever path found them. */
	if (!rc && e->count > first)
		qsort(e->rows + first, e->count - first, sizeof(*e->rows), exp_row_cmp);
	return rc;
}

/* The CRL is re-signed routinely (mqcert-crl.timer), so it is listed only
 * when its nextUpdate is near: within DURATION or doctor's few days,
 * whichever is shorter. Past nextUpdate a broker with crlfile refuses
 * every client. */
static int exp_crl(struct exp_ctx *e, const struct store *st)
{
	char num[32];
	time_t next, near = e->now + (time_t)DOCTOR_CRL_WITHIN * 86400;
	long number;
	int rc = crl_read_next_update(st, &next, &number);

	if (rc)
		return rc > 0 ? 0 : -1;
	if (next > (near < e->limit ? near : e->limit))
		return 0;
	snprintf(num, sizeof(num), "%ld", number);
	if (exp_add(e, "crl", "crl.pem", num, next)) {
		cli_err("out of memory");
		return -1;
	}
	return 0;
}

int cmd_expiring(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"within", required_argument, NULL, 'w'},
		{NULL, 0, NULL, 0},
	};
	struct exp_ctx e = {.now = time(NULL)};
	struct store *st = NULL;
	const char *within = "30d";
	long secs = 30 * 86400;
	char *ca = NULL;
	int c, rc;

	while ((c = cli_opt(ctx, argc, argv, opts)) != -1) {
		if (c == 'j') {
			e.json = true;
		} else if (c == 'w') {
			within = optarg;
			if (mq_duration_parse(optarg, &secs))
				return cli_usage_error(ctx, "invalid --within '%s': use a duration "
						       "like 30d, 12h or 90 (days)", optarg);
		} else {
			return cli_usage_error(ctx, NULL);
		}
	}
	if (cli_operands(ctx, argc, argv, 0, 0, NULL))
		return CLI_USAGE;
	e.limit = e.now + secs;
	rc = CLI_FAIL;
	if (!(st = cmdtab_pki(ctx)))
		goto out;
	if (!(ca = store_path(st, "ca.crt"))) {
		cli_err("out of memory");
		goto out;
	}
	if (exp_file(&e, "ca", "ca", ca, true) || exp_servers(&e, st) ||
	    exp_devices(&e, st) || exp_crl(&e, st))
		goto out;
	exp_print(&e, within);
	if (cli_flush_stdout())
		goto out;
	/* Exit 1 when something needs renewal: cron and systemd timers act on it. */
	rc = e.count ? CLI_FAIL : CLI_OK;
out:
	free(ca);
	for (size_t i = 0; i < e.count; i++)
		free(e.rows[i].name);
	free(e.rows);
	return rc;
}
