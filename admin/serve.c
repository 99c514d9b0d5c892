/* mqadmin serve: judging renewal requests, signing, rollover and the
 * audit log. Everything that changes DIR happens under the store's lock
 * with one policy write per batch, and the policy is written before any
 * reply leaves: a device never holds a certificate the policy lacks. */
#include "serve.h"

#include "cli.h"
#include "device.h"
#include "issue.h"
#include "out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "mq_x509.h"
#include "mq_names.h"
#include "mq_renew.h"
#include "mq_time.h"

static FILE *serve_logf;

/* Where a batch's time goes (--verbose): seconds per phase. */
static struct {
	double lock_load, checks, sign, save, files;
} serve_t;

static const char *serve_instance = "";

int serve_log_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0 || !(serve_logf = fdopen(fd, "a"))) {
		cli_err("cannot open the serve log %s: %s; give another with --log FILE", path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return 0;
}

void serve_log_set_instance(const char *instance)
{
	serve_instance = instance;
}

void serve_log_close(void)
{
	if (serve_logf)
		fclose(serve_logf);
	serve_logf = NULL;
}

void serve_log(const char *event, const char *device, const char *outcome, const char *serial,
	       const char *old_serial, const char *message)
{
	char ts[MQ_TIME_LEN];
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (!o || mq_time_format(time(NULL), ts))
		goto out;
	cJSON_AddStringToObject(o, "time", ts);
	cJSON_AddStringToObject(o, "event", event);
	cJSON_AddStringToObject(o, "device", device);
	cJSON_AddStringToObject(o, "outcome", outcome);
	if (serial && *serial)
		cJSON_AddStringToObject(o, "serial", serial);
	if (old_serial && *old_serial)
		cJSON_AddStringToObject(o, "old_serial", old_serial);
	if (message)
		cJSON_AddStringToObject(o, "message", message);
	cJSON_AddStringToObject(o, "instance", serve_instance);
	s = cJSON_PrintUnformatted(o);
	if (s && serve_logf) {
		fprintf(serve_logf, "%s\n", s);
		fflush(serve_logf);
	}
out:
	free(s);
	cJSON_Delete(o);
}

void serve_req_free(struct serve_req *r)
{
	if (!r)
		return;
	free(r->stamp);
	free(r->resp_topic);
	free(r->corr);
	free(r->payload);
	free(r->reply);
	free(r);
}

/* The error answer; code is one of README's documented codes. */
static void serve_fail(struct serve_req *r, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void serve_fail(struct serve_req *r, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	cJSON *o = cJSON_CreateObject();

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->code = code;
	free(r->reply);
	r->reply = NULL;
	if (o && cJSON_AddStringToObject(o, "status", "error") &&
	    cJSON_AddStringToObject(o, "code", code) && cJSON_AddStringToObject(o, "message", msg))
		r->reply = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	serve_log("renew", r->device, code, NULL, r->old_serial, msg);
}

static void serve_ok(struct serve_req *r, const struct mq_cert *c, const char *pem,
		     const struct ca *ca, bool replay)
{
	cJSON *o = cJSON_CreateObject();

	r->code = "ok";
	snprintf(r->serial, sizeof(r->serial), "%s", c->serial);
	if (!o || !cJSON_AddStringToObject(o, "status", "ok") ||
	    !cJSON_AddStringToObject(o, "device", r->device) || !out_json_cert(o, c) ||
	    !cJSON_AddStringToObject(o, "certificate", pem) ||
	    !cJSON_AddStringToObject(o, "chain", ca->cert_pem) ||
	    (replay && !cJSON_AddTrueToObject(o, "replayed"))) {
		cJSON_Delete(o);
		serve_fail(r, "internal", "out of memory building the answer");
		return;
	}
	r->reply = cJSON_PrintUnformatted(o);
	r->replayed = replay;
	cJSON_Delete(o);
	/* Logged by serve_batch once the policy that records it is written. */
}

/* Retirements beyond this many in one write get one summary line. */
#define SERVE_RETIRE_LOG 256

static void serve_log_retired(const struct mq_cert **done, size_t n, const char *why)
{
	char msg[64];

	for (size_t i = 0; i < n && i < SERVE_RETIRE_LOG; i++)
		serve_log("retire", done[i]->device->name, why, done[i]->serial, NULL, NULL);
	if (n > SERVE_RETIRE_LOG) {
		snprintf(msg, sizeof(msg), "%zu more retired", n - SERVE_RETIRE_LOG);
		serve_log("retire", "-", why, NULL, NULL, msg);
	}
}

static X509_REQ *serve_csr(const void *buf, size_t len)
{
	BIO *b = BIO_new_mem_buf(buf, (int)len);
	X509_REQ *req = NULL;
	const unsigned char *p = buf;

	if (b)
		req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	BIO_free(b);
	if (!req)
		req = d2i_X509_REQ(NULL, &p, (long)len);
	ERR_clear_error();
	return req;
}

/* The device's current certificate file on the admin host, or NULL. */
static X509 *serve_current_file(const struct store *st, const char *name, char **pem)
{
	char *path = store_path(st, "devices/%s/%s.crt", name, name);
	BIO *b = path ? BIO_new_file(path, "rb") : NULL;
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	*pem = NULL;
	if (x && ca_cert_pem(x, pem, &(size_t){0})) {
		X509_free(x);
		x = NULL;
	}
	BIO_free(b);
	free(path);
	ERR_clear_error();
	return x;
}

static const struct mq_cert *serve_newest_active(const struct mq_device *d, time_t now)
{
	const struct mq_cert *best = NULL;

	for (size_t i = 0; i < d->ncerts; i++)
		if (mq_cert_state(d->certs[i], now) == MQ_STATE_ACTIVE &&
		    (!best || d->certs[i]->not_after > best->not_after))
			best = d->certs[i];
	return best;
}

/* Judges one request against st's policy; on success records the new
 * certificate (st->policy changed: *changed set) and leaves its PEM in *pem. */
static void serve_one(const struct serve_conf *c, const struct ca *ca, struct store *st,
		      struct serve_req *r, time_t now, bool *changed, char **pem)
{
	char want[300], ts[MQ_TIME_LEN];
	X509_REQ *csr = NULL;
	EVP_PKEY *pub;
	X509 *cur = NULL, *cert = NULL;
	char *curpem = NULL;
	const struct mq_cert *current, *made;
	struct mq_device *d;
	long window;
	size_t pemlen = 0;
	char fpr[MQ_FPR_LEN];
	double t0 = mq_time_monotonic(), t;
	int signing;

	*pem = NULL;
	snprintf(want, sizeof(want), "%s%s/res", MQ_RENEW_TOPIC, r->device);
	if (!r->stamp || strcmp(r->stamp, r->device)) {
		serve_fail(r, "bad_request", "the request carries no identity verified by the broker "
			   "(the broker must load mqcert.so)");
		goto out;
	}
	if (r->resp_topic && strcmp(r->resp_topic, want)) {
		serve_fail(r, "bad_request", "the response topic must be %s", want);
		goto out;
	}
	if (r->oversized) {
		serve_fail(r, "bad_csr", "the CSR is larger than %d bytes", SERVE_CSR_MAX);
		goto out;
	}
	if (!(csr = serve_csr(r->payload, r->len)) || !(pub = X509_REQ_get0_pubkey(csr))) {
		serve_fail(r, "bad_csr", "the payload is not a PEM or DER certificate request");
		goto out;
	}
	/* Proof of possession: whoever made the CSR holds the private key. */
	if (X509_REQ_verify(csr, pub) != 1) {
		ERR_clear_error();
		serve_fail(r, "bad_csr", "the CSR's signature does not verify");
		goto out;
	}
	if (ca_key_acceptable(pub, "the CSR")) {
		serve_fail(r, "weak_key", "the CSR's key is too weak: use EC P-256/P-384/P-521, "
			   "Ed25519 or RSA of at least 2048 bits");
		goto out;
	}
	d = mq_policy_find_device(st->policy, r->device);
	if (!d) {
		serve_fail(r, "unknown_device", "no device of this name in the policy");
		goto out;
	}
	if (d->service) {
		serve_fail(r, "not_allowed", "a service identity is renewed with mqadmin device renew");
		goto out;
	}
	if (d->suspended) {
		serve_fail(r, "suspended", "the device is suspended: mqadmin device resume first");
		goto out;
	}
	if (!(current = serve_newest_active(d, now))) {
		serve_fail(r, "revoked", "the device has no active certificate (revoked, retired "
			   "or expired): it needs mqadmin device renew");
		goto out;
	}
	snprintf(r->old_serial, sizeof(r->old_serial), "%s", current->serial);
	cur = serve_current_file(st, r->device, &curpem);
	if (cur && EVP_PKEY_eq(X509_get0_pubkey(cur), pub) == 1) {
		/* The same request again (its answer was lost, or a second
		 * delivery): the certificate this key already got, once. */
		if (d->renewed_at && !mq_x509_fingerprint(cur, fpr) &&
		    !strcmp(fpr, current->fingerprint) && current->not_before + ISSUE_SKEW >= d->renewed_at) {
			r->old_serial[0] = '\0';
			serve_ok(r, current, curpem, ca, true);
			goto out;
		}
		if (!c->allow_key_reuse) {
			serve_fail(r, "key_reused", "the CSR is for the key of the current certificate: "
				   "make a new key");
			goto out;
		}
	}
	ERR_clear_error();
	window = c->window ? c->window
			   : (long)((current->not_after - current->not_before) * c->window_pct / 100);
	if (!d->renew_now && current->not_after - now > window) {
		mq_time_format(current->not_after - window, ts);
		serve_fail(r, "outside_window", "the renewal window opens at %s", ts);
		goto out;
	}
	if (d->renewed_at && now - d->renewed_at < c->rate) {
		mq_time_format(d->renewed_at + c->rate, ts);
		serve_fail(r, "rate_limited", "renewed less than the rate limit ago; next at %s", ts);
		goto out;
	}
	/* Only the key comes from the CSR: subject, extensions (a CA:true
	 * request included) and SANs are the device's. */
	t = mq_time_monotonic();
	serve_t.checks += t - t0;
	signing = device_certify(st->policy, d, ca, pub, current->san, c->days, &cert, pem, &pemlen);
	serve_t.sign += mq_time_monotonic() - t;
	t0 = mq_time_monotonic();
	if (signing) {
		serve_fail(r, "internal", "signing failed (see serve's log)");
		goto out;
	}
	made = d->certs[d->ncerts - 1];
	for (size_t i = 0; i < d->ncerts; i++)
		if (d->certs[i] != made && d->certs[i]->status == MQ_CERT_ACTIVE &&
		    (!d->certs[i]->retire_after || d->certs[i]->retire_after > now + c->grace))
			d->certs[i]->retire_after = now + c->grace;
	d->renewed_at = now;
	d->renew_now = false;
	*changed = true;
	serve_ok(r, made, *pem, ca, false);
out:
	serve_t.checks += mq_time_monotonic() - t0;
	X509_REQ_free(csr);
	X509_free(cur);
	X509_free(cert);
	free(curpem);
	ERR_clear_error();
}

/* Retires what passed its deadline, or (fpr set) what a device's first
 * connect with the certificate fpr ends. Returns how many; their records
 * in done (at most max), for the audit lines once the policy is written. */
static size_t serve_retire(struct mq_policy *p, const char *device, const char *fpr, time_t now,
			   const struct mq_cert **done, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < p->ndevices; i++) {
		struct mq_device *d = p->devices[i];
		const struct mq_cert *mine = NULL;

		if (device && strcmp(d->name, device))
			continue;
		if (fpr) {
			mine = mq_policy_find_fingerprint(p, fpr);
			if (!mine || mine->device != d || mine->status != MQ_CERT_ACTIVE ||
			    mine->retire_after)
				return 0;
		}
		for (size_t j = 0; j < d->ncerts; j++) {
			struct mq_cert *c = d->certs[j];

			if (c->status != MQ_CERT_ACTIVE || !c->retire_after ||
			    (!fpr && c->retire_after > now))
				continue;
			free(c->retire_reason);
			c->retire_reason = strdup("renewed");
			c->status = MQ_CERT_RETIRED;
			c->retired_at = now;
			if (n < max)
				done[n] = c;
			n++;
		}
	}
	return n;
}

size_t serve_batch(const struct serve_conf *c, const struct ca *ca, struct serve_req *list)
{
	struct store st;
	struct serve_req *r;
	bool changed = false;
	time_t now = time(NULL);
	size_t n = 0, nret;
	char **pems;
	const char **names;
	const struct mq_cert *retired[SERVE_RETIRE_LOG];

	double t = mq_time_monotonic();

	for (r = list; r; r = r->next)
		n++;
	pems = calloc(n ? n : 1, sizeof(*pems));
	names = calloc(n ? n : 1, sizeof(*names));
	if (!pems || !names || store_open(&st, c->dir, STORE_WRITE)) {
		for (r = list; r; r = r->next)
			serve_fail(r, "internal", "cannot open the PKI directory");
		free(pems);
		free(names);
		return n;
	}
	n = 0;
	for (r = list; r; r = r->next)
		if (mq_name_valid(r->device)) /* else unknown_device below */
			names[n++] = r->device;
	/* O(batch): only the requesting devices, never the fleet (the sweep
	 * retires the others' deadlines). */
	if (store_load_devices(&st, names, n)) {
		for (r = list; r; r = r->next)
			serve_fail(r, "internal", "cannot read the policy");
		goto out;
	}
	serve_t.lock_load += mq_time_monotonic() - t;
	n = 0;
	for (r = list; r; r = r->next)
		serve_one(c, ca, &st, r, now, &changed, &pems[n++]);
	t = mq_time_monotonic();
	nret = serve_retire(st.policy, NULL, NULL, now, retired, SERVE_RETIRE_LOG);
	if (nret)
		changed = true;
	if (changed && store_save_policy(&st)) {
		for (r = list; r; r = r->next)
			if (!strcmp(r->code, "ok"))
				serve_fail(r, "internal", "cannot write the policy");
		goto out;
	}
	serve_t.save += mq_time_monotonic() - t;
	t = mq_time_monotonic();
	serve_log_retired(retired, nret, "grace-expired");
	for (r = list; r; r = r->next)
		if (!strcmp(r->code, "ok"))
			serve_log("renew", r->device, r->replayed ? "replayed" : "ok", r->serial,
				  r->old_serial, NULL);
	/* The admin host's copy of each new certificate; the device's key
	 * never came here, so a key left from device issue no longer
	 * matches and goes. Best effort: the policy is what counts. */
	/* One syncfs for all of them instead of an fsync each. */
	store_defer_sync(true);
	n = 0;
	for (r = list; r; r = r->next, n++) {
		char *crt, *key;

		if (!pems[n])
			continue;
		crt = store_path(&st, "devices/%s/%s.crt", r->device, r->device);
		key = store_path(&st, "devices/%s/%s.key", r->device, r->device);
		if (crt && key && !issue_write(crt, pems[n], strlen(pems[n]), 0644))
			unlink(key);
		free(crt);
		free(key);
	}
	store_defer_sync(false);
	store_sync(&st);
	serve_t.files += mq_time_monotonic() - t;
out:
	store_close(&st);
	for (size_t i = 0; i < n; i++)
		free(pems[i]);
	free(pems);
	free(names);
	for (n = 0, r = list; r; r = r->next)
		n++;
	return n;
}

static int serve_retire_locked(const struct serve_conf *c, const char *device, const char *fpr)
{
	struct store st;
	const struct mq_cert *retired[SERVE_RETIRE_LOG];
	size_t n;
	int rc = -1;

	if (store_open(&st, c->dir, STORE_WRITE))
		return -1;
	/* A rollover names its device: that record only. The sweep needs
	 * every deadline, so the whole model. */
	if (device ? store_load_devices(&st, &device, 1) : store_load_policy(&st))
		goto out;
	rc = 0;
	n = serve_retire(st.policy, device, fpr, time(NULL), retired, SERVE_RETIRE_LOG);
	if (n && store_save_policy(&st))
		rc = -1;
	else
		serve_log_retired(retired, n, fpr ? "first-connect" : "grace-expired");
out:
	store_close(&st);
	return rc;
}

int serve_rollover(const struct serve_conf *c, const char *device, const char *fingerprint)
{
	if (!mq_name_valid(device) || !mq_fingerprint_valid(fingerprint))
		return -1;
	return serve_retire_locked(c, device, fingerprint);
}

int serve_sweep(const struct serve_conf *c)
{
	struct store st;
	time_t now = time(NULL);
	bool due = false;

	/* A look without the lock first: nearly always there is nothing. */
	if (store_open(&st, c->dir, STORE_READ))
		return -1;
	if (!store_load_policy(&st))
		for (size_t i = 0; i < st.policy->ndevices && !due; i++)
			for (size_t j = 0; j < st.policy->devices[i]->ncerts; j++) {
				const struct mq_cert *x = st.policy->devices[i]->certs[j];

				if (x->status == MQ_CERT_ACTIVE && x->retire_after &&
				    x->retire_after <= now)
					due = true;
			}
	store_close(&st);
	return due ? serve_retire_locked(c, NULL, NULL) : 0;
}

void serve_stats(char *buf, size_t len)
{
	snprintf(buf, len, "lock+read policy %.0f ms, CSR checks %.0f ms, signing %.0f ms, "
		 "policy write %.0f ms, audit+certificate files %.0f ms", serve_t.lock_load * 1e3,
		 serve_t.checks * 1e3, serve_t.sign * 1e3, serve_t.save * 1e3, serve_t.files * 1e3);
	memset(&serve_t, 0, sizeof(serve_t));
}
