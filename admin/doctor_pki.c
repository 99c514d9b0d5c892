/* doctor: the PKI directory itself. */
#include "doctor.h"
#include "out.h"

#include "mq_x509.h"
#include "mq_names.h"
#include "mq_store.h"
#include "store.h"
#include "xinfo.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>

static char *pki_path(const struct doctor *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static char *pki_path(const struct doctor *d, const char *fmt, ...)
{
	char *rel = NULL, *out = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&rel, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	if (asprintf(&out, "%s/%s", d->dir, rel) < 0)
		out = NULL;
	free(rel);
	return out;
}

static void pki_check_ca(struct doctor *d)
{
	char err[PATH_MAX + 128], fix[PATH_MAX + 64];
	char *crt = pki_path(d, "ca.crt"), *key = pki_path(d, "ca.key");

	if (!crt || !key) {
		d->oom = true;
		goto out;
	}
	d->ca = xinfo_load_cert(crt, err, sizeof(err));
	snprintf(fix, sizeof(fix), "create the CA with 'mqadmin -d %s init'", d->dir);
	if (!d->ca) {
		doctor_add(d, DOCTOR_ERROR, "ca-missing", fix, "%s", err);
		goto out;
	}
	snprintf(fix, sizeof(fix),
		 "start a new CA in a new directory (mqadmin -d NEWDIR init) and move devices "
		 "over with 'device issue'");
	doctor_check_cert(d, d->ca, "the CA", crt, fix);
	doctor_check_key_mode(d, key, false);
out:
	free(crt);
	free(key);
}

static void pki_check_server(struct doctor *d, struct doctor_server *s)
{
	char fix[512], *subj = NULL;
	int nip = 0, nother = 0;
	char *sans = xinfo_sans(s->cert, &nip, &nother);

	snprintf(fix, sizeof(fix), "mqadmin -d %s server issue %s --force [--san DNS:host]...",
		 d->dir, s->name);
	if (d->ca && !X509_NAME_cmp(X509_get_subject_name(s->cert), X509_get_subject_name(d->ca))) {
		subj = xinfo_name(X509_get_subject_name(s->cert));
		doctor_add(d, DOCTOR_ERROR, "server-subject-is-ca", fix,
			   "server certificate %s has the CA's subject (%s): clients take it for "
			   "the self-signed CA and the TLS handshake fails",
			   s->crt, subj ? subj : "?");
	}
	if (d->ca && !xinfo_issued_by(s->cert, d->ca))
		doctor_add(d, DOCTOR_ERROR, "server-not-from-ca", fix,
			   "server certificate %s is not issued by %s/ca.crt: devices that trust "
			   "this CA cannot verify the broker",
			   s->crt, d->dir);
	if (!sans) {
		d->oom = true;
	} else if (nip + nother == 0) {
		doctor_add(d, DOCTOR_ERROR, "server-no-san", fix,
			   "server certificate %s has no subject alternative name: current TLS "
			   "clients ignore the CN and refuse it",
			   s->crt);
	} else if (nother == 0) {
		doctor_add(d, DOCTOR_WARNING, "server-ip-san-only", fix,
			   "server certificate %s names the broker only by IP address (%s): ESP8266 "
			   "BearSSL cannot verify IP SANs; give it a DNS name too",
			   s->crt, sans);
	}
	doctor_check_cert(d, s->cert, "server", s->crt, fix);
	doctor_check_key_mode(d, s->key, true);
	free(sans);
	free(subj);
}

static int pki_server_cmp(const void *a, const void *b)
{
	return strcmp(((const struct doctor_server *)a)->name,
		      ((const struct doctor_server *)b)->name);
}

static void pki_load_servers(struct doctor *d)
{
	char err[PATH_MAX + 128], *sdir = pki_path(d, "servers");
	DIR *dh = sdir ? opendir(sdir) : NULL;
	struct dirent *e;

	while (dh && (e = readdir(dh))) {
		struct doctor_server s = {0}, *n;

		if (!mq_name_valid(e->d_name))
			continue;
		s.name = strdup(e->d_name);
		s.crt = pki_path(d, "servers/%s/%s.crt", e->d_name, e->d_name);
		s.key = pki_path(d, "servers/%s/%s.key", e->d_name, e->d_name);
		n = realloc(d->servers, (d->nservers + 1) * sizeof(*n));
		if (!s.name || !s.crt || !s.key || !n) {
			free(s.name);
			free(s.crt);
			free(s.key);
			if (n)
				d->servers = n;
			d->oom = true;
			break;
		}
		d->servers = n;
		if (access(s.crt, F_OK)) {
			free(s.name);
			free(s.crt);
			free(s.key);
			continue;
		}
		s.cert = xinfo_load_cert(s.crt, err, sizeof(err));
		if (!s.cert) {
			doctor_add(d, DOCTOR_ERROR, "server-cert-invalid",
				   "issue it again with 'mqadmin server issue NAME --force'", "%s", err);
			free(s.name);
			free(s.crt);
			free(s.key);
			continue;
		}
		d->servers[d->nservers++] = s;
	}
	if (dh)
		closedir(dh);
	free(sdir);
	if (d->nservers > 1)
		qsort(d->servers, d->nservers, sizeof(*d->servers), pki_server_cmp);
	if (!d->nservers)
		doctor_add(d, DOCTOR_WARNING, "no-server", "mqadmin server issue NAME [--san DNS:host]...",
			   "%s has no server certificate for the broker", d->dir);
	for (size_t i = 0; i < d->nservers; i++)
		pki_check_server(d, &d->servers[i]);
}

static void pki_check_device_files(struct doctor *d, const struct mq_device *dev,
				   const char *fix)
{
	static const char *const keys[] = {".key", ".key.der", ".p12", ".h"};
	char err[PATH_MAX + 128], fpr[MQ_FPR_LEN], *crt, *ddir;
	const struct mq_cert *c;
	X509 *x = NULL;

	ddir = pki_path(d, "devices/%s", dev->name);
	crt = pki_path(d, "devices/%s/%s.crt", dev->name, dev->name);
	if (!ddir || !crt) {
		d->oom = true;
		goto out;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		char *k = NULL;

		if (asprintf(&k, "%s/%s%s", ddir, dev->name, keys[i]) < 0) {
			d->oom = true;
			goto out;
		}
		doctor_check_key_mode(d, k, false);
		free(k);
	}
	if (access(crt, F_OK)) {
		doctor_add(d, DOCTOR_WARNING, "device-cert-missing", fix,
			   "device '%s' is in the policy but %s is missing", dev->name, crt);
		goto out;
	}
	x = xinfo_load_cert(crt, err, sizeof(err));
	if (!x) {
		doctor_add(d, DOCTOR_ERROR, "device-cert-invalid", fix, "%s", err);
		goto out;
	}
	if (mq_x509_fingerprint(x, fpr)) {
		d->oom = true;
		goto out;
	}
	c = mq_policy_find_fingerprint(d->policy, fpr);
	if (!c || c->device != dev)
		doctor_add(d, DOCTOR_ERROR, "device-cert-not-in-policy", fix,
			   "%s (fingerprint %.16s...) is not one of device '%s''s certificates in "
			   "the policy: a device using this file is refused",
			   crt, fpr, dev->name);
	if (d->ca && !xinfo_issued_by(x, d->ca))
		doctor_add(d, DOCTOR_ERROR, "device-not-from-ca", fix,
			   "%s is not issued by %s/ca.crt", crt, d->dir);
	if (xinfo_key_weakness(X509_get0_pubkey(x)))
		doctor_add(d, DOCTOR_ERROR, "weak-key", fix, "device certificate %s has a weak key (%s)",
			   crt, xinfo_key_weakness(X509_get0_pubkey(x)));
	if (xinfo_sig_weak(x))
		doctor_add(d, DOCTOR_ERROR, "weak-signature", fix,
			   "device certificate %s is signed with %s", crt,
			   xinfo_sig_name(X509_get_signature_nid(x)));
out:
	X509_free(x);
	free(crt);
	free(ddir);
}

static void pki_check_device(struct doctor *d, const struct mq_device *dev)
{
	const struct mq_cert *c = mq_device_cert_in_use(dev, d->now);
	char fix[512];
	long left;

	snprintf(fix, sizeof(fix), "mqadmin -d %s device renew %s (or device revoke %s)", d->dir,
		 dev->name, dev->name);
	if (c) {
		left = out_days_left(c->not_after, d->now);
		if (c->not_after <= d->now)
			doctor_add(d, DOCTOR_ERROR, "cert-expired", fix,
				   "device '%s': its certificate (serial %s) expired %ld day(s) ago",
				   dev->name, c->serial, -left);
		else if ((long long)c->not_after - (long long)d->now < d->within_secs)
			doctor_add(d, DOCTOR_WARNING, "cert-expiring", fix,
				   "device '%s': its certificate (serial %s) expires in %ld day(s) "
				   "(less than %s)",
				   dev->name, c->serial, left, d->within_text);
	}
	pki_check_device_files(d, dev, fix);
}

/* Every revoked certificate of the policy should be on the CRL. */
static void pki_check_crl_complete(struct doctor *d, const char *path)
{
	char err[PATH_MAX + 128], fix[PATH_MAX + 32];
	X509_CRL *crl = xinfo_load_crl(path, err, sizeof(err));
	size_t missing = 0;

	if (!crl)
		return;
	for (size_t i = 0; i < d->policy->ndevices; i++) {
		const struct mq_device *dev = d->policy->devices[i];

		for (size_t j = 0; j < dev->ncerts; j++) {
			X509_REVOKED *r = NULL;
			ASN1_INTEGER *ser = NULL;
			BIGNUM *bn = NULL;

			if (dev->certs[j]->status != MQ_CERT_REVOKED)
				continue;
			if (BN_hex2bn(&bn, dev->certs[j]->serial) &&
			    (ser = BN_to_ASN1_INTEGER(bn, NULL)) &&
			    X509_CRL_get0_by_serial(crl, &r, ser) != 1)
				missing++;
			ASN1_INTEGER_free(ser);
			BN_free(bn);
		}
	}
	ERR_clear_error();
	snprintf(fix, sizeof(fix), "mqadmin -d %s crl update", d->dir);
	if (missing)
		doctor_add(d, DOCTOR_WARNING, "crl-outdated", fix,
			   "%s lacks %zu certificate(s) the policy says are revoked", path, missing);
	X509_CRL_free(crl);
}

/* The broker may write DIR/audit (the plugin's audit log and state) and
 * nothing else in DIR: with write access to DIR it could rename a policy of
 * its own over policy.json. */
static void pki_check_audit_dir(struct doctor *d)
{
	char *audit = pki_path(d, "audit"), fix[2 * PATH_MAX + 128];
	struct stat sb;

	if (!audit) {
		d->oom = true;
		return;
	}
	/* A broker running as root can do anything; nothing to tell apart. */
	if (d->user.known && d->user.uid == 0)
		goto out;
	if (d->user.known && doctor_user_can_write_dir(d, d->dir)) {
		snprintf(fix, sizeof(fix), "chown root %s && chmod 755 %s", d->dir, d->dir);
		doctor_add(d, DOCTOR_ERROR, "dir-writable-by-broker", fix,
			   "user %s can write %s: the broker could replace the policy store", d->user.name,
			   d->dir);
	}
	if (stat(audit, &sb) || !S_ISDIR(sb.st_mode)) {
		snprintf(fix, sizeof(fix), "any mqadmin command that changes DIR creates it (as root "
			 "it also gives it to user mosquitto); or: mkdir %s && chown %s %s", audit,
			 d->user.name, audit);
		doctor_add(d, DOCTOR_WARNING, "audit-dir-missing", fix,
			   "%s is missing: the plugin cannot write its audit log and connected state",
			   audit);
	} else if (d->user.known && !doctor_user_can_write_dir(d, audit)) {
		snprintf(fix, sizeof(fix), "chown %s %s", d->user.name, audit);
		doctor_add(d, DOCTOR_WARNING, "audit-dir-not-writable", fix,
			   "user %s cannot write %s: the plugin cannot write its audit log and "
			   "connected state", d->user.name, audit);
	}
out:
	free(audit);
}

/* What killed mqadmin runs left behind (the next write under the lock
 * removes it). Skipped while a command holds the lock: its files are in
 * flight, not left over. */
static void pki_check_leftovers(struct doctor *d)
{
	struct store_leftovers lo;
	char what[512], fix[PATH_MAX + 256];

	if (store_busy(d->dir))
		return;
	if (store_leftovers(d->dir, d->policy, false, &lo)) {
		d->oom = true;
		return;
	}
	if (!lo.total)
		return;
	store_leftovers_describe(&lo, false, what, sizeof(what));
	snprintf(fix, sizeof(fix),
		 "the next mqadmin command that loads the whole policy of %s removes them "
		 "(device renew/batch/delete, acl add/remove, crl update)", d->dir);
	doctor_add(d, DOCTOR_WARNING, "leftover-files", fix,
		   "%s holds what an interrupted mqadmin run left behind: %s", d->dir, what);
}

/* DIR/store (docs/STORE.md): the broker reads data.mdb and must write
 * lock.mdb (its reader slot), never data.mdb. A store of a version this
 * mqadmin does not know is named as such (*bad). Returns whether it exists. */
static bool pki_check_store(struct doctor *d, bool *bad)
{
	char fix[3 * PATH_MAX], why[PATH_MAX + 128], blocker[PATH_MAX], err[512];
	char *sdir = pki_path(d, "store"), *data = pki_path(d, "store/data.mdb"),
	     *lock = pki_path(d, "store/lock.mdb"), *json = pki_path(d, "policy.json");
	struct mq_store *s = NULL;
	bool exists = false;

	if (!sdir || !data || !lock || !json) {
		d->oom = true;
		goto out;
	}
	if (access(data, F_OK)) {
		snprintf(fix, sizeof(fix), "any mqadmin command creates it%s",
			 access(json, F_OK) ? "" : " from policy.json (once)");
		doctor_add(d, DOCTOR_WARNING, "store-missing", fix, "%s has no policy store (%s)",
			   d->dir, data);
		goto out;
	}
	exists = true;
	if (mq_store_open(&s, sdir, MQ_STORE_RDONLY | MQ_STORE_NOLOCK, err, sizeof(err))) {
		snprintf(fix, sizeof(fix), "a newer store needs a newer mqcert; otherwise move %s "
			 "aside and restore the last backup: mqadmin -d %s policy import FILE (a file "
			 "written by mqadmin policy export); the plugin keeps its last good state "
			 "meanwhile", sdir, d->dir);
		doctor_add(d, DOCTOR_ERROR, "store-invalid", fix, "%s", err);
		*bad = true;
	}
	mq_store_close(s);
	if (access(lock, F_OK)) {
		snprintf(fix, sizeof(fix), "any mqadmin command that changes %s re-creates it (as root "
			 "it also gives it to user %s)", d->dir, STORE_BROKER_USER);
		doctor_add(d, DOCTOR_ERROR, "store-lock-missing", fix,
			   "%s is missing: the broker cannot create it and cannot read the store", lock);
	} else if (d->user.known && !doctor_user_can_write_file(d, lock)) {
		snprintf(fix, sizeof(fix), "chown %s %s && chmod 600 %s", d->user.name, lock, lock);
		doctor_add(d, DOCTOR_ERROR, "store-lock-not-writable", fix,
			   "user %s cannot write %s: the broker cannot read the policy store",
			   d->user.name, lock);
	}
	if (d->user.known && !doctor_user_can_read(d, data, why, sizeof(why), blocker)) {
		snprintf(fix, sizeof(fix), "chmod 644 %s && chmod 755 %s", data, sdir);
		doctor_add(d, DOCTOR_ERROR, "store-not-readable", fix,
			   "user %s cannot read %s: %s", d->user.name, data, why);
	}
	if (d->user.known && d->user.uid != 0 &&
	    (doctor_user_can_write_file(d, data) || doctor_user_can_write_dir(d, sdir))) {
		snprintf(fix, sizeof(fix), "chown root %s %s && chmod 644 %s && chmod 755 %s", sdir,
			 data, data, sdir);
		doctor_add(d, DOCTOR_ERROR, "store-writable-by-broker", fix,
			   "user %s can write %s or %s: the broker could change the policy",
			   d->user.name, data, sdir);
	}
out:
	free(sdir);
	free(data);
	free(lock);
	free(json);
	return exists;
}

/* The whole policy from the store, read-only; NULL after a finding. */
static struct mq_policy *pki_load_policy(struct doctor *d)
{
	struct mq_policy *p = NULL;
	struct store st;

	if (!store_open(&st, d->dir, STORE_READ) && !store_load_policy(&st)) {
		p = st.policy;
		st.policy = NULL;
	}
	store_close(&st);
	return p;
}

void doctor_check_pki(struct doctor *d)
{
	char *crl = pki_path(d, "crl.pem");
	bool has_store, bad = false;

	if (!crl) {
		d->oom = true;
		goto out;
	}
	pki_check_ca(d);
	pki_check_audit_dir(d);
	pki_load_servers(d);
	has_store = pki_check_store(d, &bad);
	/* Without a store yet, loading it would migrate policy.json: doctor
	 * only looks, at policy.json itself. */
	if (has_store) {
		d->policy = bad ? NULL : pki_load_policy(d);
	} else {
		char err[512], *json = pki_path(d, "policy.json");

		d->policy = json && !access(json, F_OK) ? mq_policy_load(json, err, sizeof(err)) : NULL;
		if (json && !d->policy && !access(json, F_OK))
			doctor_add(d, DOCTOR_ERROR, "policy-invalid", "correct it, then run any mqadmin "
				   "command to move it into the policy store", "%s", err);
		free(json);
	}
	if (has_store && !bad && !d->policy) {
		char fix[3 * PATH_MAX];

		snprintf(fix, sizeof(fix), "restore the last backup: mqadmin -d %s policy import "
			 "FILE (a file written by mqadmin policy export)", d->dir);
		doctor_add(d, DOCTOR_ERROR, "policy-invalid", fix,
			   "the policy in %s/store cannot be loaded (the reason is above)", d->dir);
	} else if (d->policy) {
		d->ndevices = d->policy->ndevices;
		for (size_t i = 0; i < d->policy->ndevices; i++)
			pki_check_device(d, d->policy->devices[i]);
		pki_check_leftovers(d);
	}
	if (access(crl, F_OK) == 0) {
		d->has_crl = true;
		doctor_check_crl(d, crl, "CRL");
		if (d->policy)
			pki_check_crl_complete(d, crl);
	}
out:
	free(crl);
}
