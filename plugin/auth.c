/* MOSQ_EVT_BASIC_AUTH: the verified client certificate decides who a client
 * is. Per connect: one SHA-256 (the fingerprint) and one hash lookup. */
#include "mqcert.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "mq_fileio.h"

/* plugin_opt_mode observe: what letting a client in instead needs. */
struct auth_obs {
	struct mqcert *st;
	struct mosquitto *client;
	X509 *cert;
	time_t not_after, now;
	bool recheck;
};

/* What the refusal and acceptance lines show about a client. */
struct auth_who {
	struct auth_obs *obs; /* set: observe mode, refusals let the client in */
	struct mqaudit *audit;
	struct mqmet *met;
	bool recheck; /* the SIGHUP re-check of a client we hold */
	const char *device; /* once the fingerprint named it */
	const struct mq_device *dev; /* the same, as the store holds it */
	const char *client_id;
	const char *address;
	const char *identity;
	char serial[MQ_SERIAL_LEN];
	char fingerprint[MQ_FPR_LEN];
};

static int auth_refuse(const struct auth_who *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int auth_observe(const struct auth_who *w, const char *why);

static int auth_refuse(const struct auth_who *w, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	mqmet_refused(w->met, why, w->obs != NULL, w->recheck);
	if (w->obs)
		return auth_observe(w, why);
	mqaudit_refused(w->audit, why, w->device, strcmp(w->identity, "-") ? w->identity : NULL,
			w->serial, w->fingerprint, w->client_id, w->address);
	mqlog(MOSQ_LOG_NOTICE, "refused client '%s' from %s: %s (identity '%s', serial %s, "
	      "fingerprint %.16s)", w->client_id, w->address, why, w->identity,
	      w->serial[0] ? w->serial : "-", w->fingerprint[0] ? w->fingerprint : "-");
	return MOSQ_ERR_AUTH;
}

/* ':' never occurs in a name, so with the prefix form device "a" can never
 * take "a-b"'s id ("a-b" is not "a:..."). */
static bool auth_clientid_ok(enum mqopt_binding b, const char *cid, const char *user)
{
	size_t n;

	if (b == MQOPT_BIND_NONE)
		return true;
	if (!cid)
		return false;
	if (!strcmp(cid, user))
		return true;
	if (b != MQOPT_BIND_PREFIX)
		return false;
	n = strlen(user);
	return !strncmp(cid, user, n) && cid[n] == ':' && cid[n + 1] != '\0';
}

static const char *auth_state_reason(enum mq_cert_state s)
{
	switch (s) {
	case MQ_STATE_ACTIVE:
		return NULL;
	case MQ_STATE_REVOKED:
		return "certificate is revoked";
	case MQ_STATE_EXPIRED:
		return "certificate has expired";
	case MQ_STATE_NOT_YET_VALID:
		return "certificate is not yet valid";
	case MQ_STATE_RETIRED:
		return "certificate is retired";
	case MQ_STATE_SUSPENDED:
		return "device is suspended";
	}
	return "certificate state unknown";
}

/* d's certificate with fingerprint fpr, or NULL (d may be NULL). */
static const struct mq_cert *auth_find_cert(const struct mq_device *d, const char *fpr)
{
	for (size_t i = 0; d && i < d->ncerts; i++)
		if (!strcmp(d->certs[i]->fingerprint, fpr))
			return d->certs[i];
	return NULL;
}

static char *auth_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Remembers the accepted client so policy swaps and expiry can find it. */
static int auth_remember(struct mqcert *st, struct mosquitto *client, const struct auth_who *w,
			 const struct mq_cert *c, X509 *cert, time_t cert_not_after, time_t now)
{
	struct mqclients_rec *old = mqclients_find(&st->clients, client);
	struct mqclients_rec *r = mqclients_rec_new();

	if (!r)
		return -1;
	r->client = client;
	r->client_id = auth_strdup(w->client_id);
	r->device = auth_strdup(w->dev->name);
	r->username = auth_strdup(w->dev->username);
	r->identity = auth_strdup(w->identity);
	r->address = auth_strdup(w->address);
	if (!r->client_id || !r->device || !r->username || !r->identity || !r->address) {
		mqclients_rec_free(r);
		return -1;
	}
	memcpy(r->serial, w->serial, sizeof(r->serial));
	memcpy(r->fingerprint, w->fingerprint, sizeof(r->fingerprint));
	r->cert_not_after = cert_not_after;
	r->not_after = c->not_after < cert_not_after ? c->not_after : cert_not_after;
	r->since = old ? old->since : now;
	if (mqaccess_attach(st, r, cert, w->dev)) {
		mqclients_rec_free(r);
		return -1;
	}
	/* A live client judged again (SIGHUP) keeps the subscriptions it
	 * made under whatever rules it had: no read fast path for it. */
	if (!old && !w->recheck)
		mqaccess_connected(st, r, client);
	return mqclients_put(&st->clients, r);
}

/* A client without a certificate that another plugin or password_file
 * judges: remembered only so the SIGHUP re-check can defer it again. */
static int auth_remember_deferred(struct mqcert *st, struct mosquitto *client,
				  const struct auth_who *w, time_t now)
{
	struct mqclients_rec *r = mqclients_rec_new();

	if (!r)
		return -1;
	r->client = client;
	r->deferred = true;
	r->client_id = auth_strdup(w->client_id);
	r->address = auth_strdup(w->address);
	if (!r->client_id || !r->address) {
		mqclients_rec_free(r);
		return -1;
	}
	r->since = now;
	return mqclients_put(&st->clients, r);
}

/* Keeps the certificate of a client observe mode let in as
 * DIR/audit/seen/FPR.pem, once per fingerprint, so that 'mqadmin device
 * adopt' can register the real certificate (the audit line alone cannot
 * be turned back into one). Bounded: a flood of new certificates stops
 * at MQOPT_SEEN_MAX files. No fsync: adopt checks the file's fingerprint,
 * and a certificate lost in a crash is written again at its next connect. */
static void auth_seen_keep(struct mqcert *st, X509 *cert, const char *fpr)
{
	char path[4096], err[256];
	BIO *b = NULL;
	char *pem;
	long n;

	if (!st->opt.seen_dir || snprintf(path, sizeof(path), "%s/%s.pem", st->opt.seen_dir, fpr)
	    >= (int)sizeof(path) || access(path, F_OK) == 0)
		return;
	if (!st->seen_counted) {
		DIR *d;
		struct dirent *e;

		if (mkdir(st->opt.seen_dir, 0750) && errno != EEXIST)
			mqlog(MOSQ_LOG_WARNING, "observe: cannot create %s: %s", st->opt.seen_dir,
			      strerror(errno));
		/* Once per run: what earlier runs kept counts against the bound. */
		st->seen_count = 0;
		if ((d = opendir(st->opt.seen_dir))) {
			while ((e = readdir(d)))
				st->seen_count += e->d_name[0] != '.';
			closedir(d);
		}
		st->seen_counted = true;
	}
	if (st->seen_count >= MQOPT_SEEN_MAX) {
		if (!st->seen_full_logged)
			mqlog(MOSQ_LOG_WARNING, "observe: %s holds %d certificates; keeping no more "
			      "(run 'mqadmin device adopt --from-audit', then remove the directory)",
			      st->opt.seen_dir, MQOPT_SEEN_MAX);
		st->seen_full_logged = true;
		return;
	}
	b = BIO_new(BIO_s_mem());
	if (!b || !PEM_write_bio_X509(b, cert) || (n = BIO_get_mem_data(b, &pem)) <= 0) {
		mqlog(MOSQ_LOG_WARNING, "observe: cannot encode the certificate %.16s", fpr);
	} else if (mq_file_replace_fast(path, pem, (size_t)n, 0640, err, sizeof(err))) {
		mqlog(MOSQ_LOG_WARNING, "observe: cannot keep the certificate: %s", err);
	} else {
		st->seen_count++;
	}
	BIO_free(b);
}

/* The subject in RFC 2253 form (malloc'd), or NULL. */
static char *auth_subject(X509 *cert)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL, *data;
	long n;

	if (b && X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_get_mem_data(b, &data)) >= 0 && (s = malloc((size_t)n + 1))) {
		memcpy(s, data, (size_t)n);
		s[n] = '\0';
	}
	BIO_free(b);
	return s;
}

/* plugin_opt_mode observe: enforce would refuse this client for why; let
 * it in as use_identity_as_username would (username = the identity) and
 * record what enforce would have done. */
static int auth_observe(const struct auth_who *w, const char *why)
{
	struct auth_obs *o = w->obs;
	struct mqcert *st = o->st;
	struct mqclients_rec *r = NULL;
	char *subject = NULL;

	if (o->recheck && mqclients_find(&st->clients, o->client) &&
	    mqclients_find(&st->clients, o->client)->observed)
		return MOSQ_ERR_SUCCESS;
	if (mosquitto_set_username(o->client, w->identity) != MOSQ_ERR_SUCCESS ||
	    !(r = mqclients_rec_new()))
		goto oom;
	r->client = o->client;
	r->observed = true;
	r->client_id = auth_strdup(w->client_id);
	r->device = auth_strdup(w->device ? w->device : "-");
	r->username = auth_strdup(w->identity);
	r->identity = auth_strdup(w->identity);
	r->address = auth_strdup(w->address);
	if (!r->client_id || !r->device || !r->username || !r->identity || !r->address)
		goto oom;
	memcpy(r->serial, w->serial, sizeof(r->serial));
	memcpy(r->fingerprint, w->fingerprint, sizeof(r->fingerprint));
	r->cert_not_after = r->not_after = o->not_after;
	r->since = o->now;
	if (mqaccess_attach(st, r, o->cert, w->dev) || mqclients_put(&st->clients, r)) {
		r = NULL; /* mqclients_put frees it on failure */
		goto oom;
	}
	r = mqclients_find(&st->clients, o->client);
	subject = auth_subject(o->cert);
	mqaudit_observe(st->audit, why, w->device, w->identity, w->serial, w->fingerprint,
			subject, o->not_after, w->client_id, w->address);
	auth_seen_keep(st, o->cert, w->fingerprint);
	mqaudit_connect(st->audit, r);
	mqstate_connect(st, r, o->now);
	mqlog(MOSQ_LOG_NOTICE, "observe: accepted client '%s' from %s as '%s' (identity, as "
	      "use_identity_as_username would); enforce would refuse it: %s (serial %s, "
	      "fingerprint %.16s)", w->client_id, w->address, w->identity, why, w->serial,
	      w->fingerprint);
	free(subject);
	return MOSQ_ERR_SUCCESS;
oom:
	mqclients_rec_free(r);
	mqlog(MOSQ_LOG_ERR, "observe: out of memory letting client '%s' in", w->client_id);
	return MOSQ_ERR_AUTH;
}

static int auth_no_cert(struct mqcert *st, struct mosquitto *client, const struct auth_who *w,
			time_t now)
{
	if (mqreload_rechecking(st)) {
		const struct mqclients_rec *r = mqclients_find(&st->clients, client);

		/* After SIGHUP the broker re-runs BASIC_AUTH over every session
		 * in its id table (security_default.c, apply), including
		 * persistent sessions whose client is offline: their TLS
		 * connection is gone, so there is no certificate to show.
		 * Refusing them would only disconnect an offline session;
		 * they are judged when they really reconnect. A live client
		 * we let in always has its certificate, so "not ours and no
		 * certificate" during the re-check means "offline".
		 *
		 * Except on websockets: 2.0.11's loop (src/loop.c) runs
		 * lws_service() after mosquitto_security_apply() and before
		 * the TICK that ends this window, so a NEW websockets CONNECT
		 * can be judged here; taken for offline it would get in with
		 * no certificate, past no_certificate refuse (and with defer,
		 * past password_file). An offline session has no websocket
		 * (websockets.c clears wsi at close), so mp_websockets means
		 * a live connection: judge it as at any other time. New TCP
		 * CONNECTs are read in mux__handle() before the reload, never
		 * in this window. A live TCP client with no record can only be
		 * one a plugin loaded before mqcert let in; the API cannot
		 * tell it from an offline session, so 'mqadmin doctor' calls
		 * that order an error (config-plugin-order). */
		if (!r && mosquitto_client_protocol(client) != mp_websockets)
			return MOSQ_ERR_SUCCESS;
		if (r && r->deferred)
			return MOSQ_ERR_PLUGIN_DEFER;
	}
	if (st->opt.no_cert == MQOPT_NOCERT_DEFER) {
		if (auth_remember_deferred(st, client, w, now))
			return auth_refuse(w, "out of memory");
		mqmet_deferred(&st->met);
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	return auth_refuse(w, "no client certificate (the listener needs require_certificate true)");
}

int mqauth_basic(struct mqcert *st, struct mosquitto_evt_basic_auth *ev)
{
	struct mosquitto *client = ev->client;
	const char *addr = mosquitto_client_address(client);
	struct auth_obs obs = {.st = st, .client = client};
	struct auth_who w = {
		.audit = st->audit,
		.met = &st->met,
		.client_id = mosquitto_client_id(client),
		.address = addr ? addr : "?",
		.identity = "-",
	};
	bool recheck = mqreload_rechecking(st) && mqclients_find(&st->clients, client);
	time_t now = time(NULL), nb = 0, na = 0;
	X509 *cert = mosquitto_client_certificate(client);
	char *identity = NULL;
	struct mq_device *dev = NULL;
	const struct mq_cert *c;
	char err[512];
	const char *why;
	enum mq_id_result idr;
	int rc;

	w.recheck = recheck;
	if (!w.client_id)
		w.client_id = "";
	if (!cert) {
		rc = auth_no_cert(st, client, &w, now);
		goto out;
	}
	if (mq_x509_fingerprint(cert, w.fingerprint) || mq_x509_serial(cert, w.serial) ||
	    mq_x509_validity(cert, &nb, &na)) {
		rc = auth_refuse(&w, "cannot read the certificate");
		goto out;
	}
	idr = mq_x509_identity(cert, st->opt.identity, &identity);
	if (idr == MQ_IDR_OK)
		w.identity = identity;
	/* Observe mode needs the identity as the username: a certificate
	 * without a usable one is refused as use_identity_as_username would. */
	if (st->opt.mode == MQOPT_OBSERVE && idr == MQ_IDR_OK) {
		obs.cert = cert;
		obs.not_after = na;
		obs.now = now;
		obs.recheck = recheck;
		w.obs = &obs;
	}
	if (!mqreload_in_force(st)) {
		rc = auth_refuse(&w, "the store %s is not readable (see the line before)",
				 st->opt.store_path);
		goto out;
	}
	switch (mqlook_by_fpr(st, w.fingerprint, &dev, err, sizeof(err))) {
	case 0:
		break;
	case 1:
		rc = auth_refuse(&w, "certificate not on the allowlist");
		goto out;
	default:
		rc = auth_refuse(&w, "cannot read the store: %s", err);
		goto out;
	}
	c = auth_find_cert(dev, w.fingerprint);
	if (!c) {
		rc = auth_refuse(&w, "certificate not on the allowlist");
		goto out;
	}
	w.device = dev->name;
	w.dev = dev;
	why = auth_state_reason(mq_cert_state(c, now));
	if (why) {
		rc = auth_refuse(&w, "%s (device '%s')", why, dev->name);
		goto out;
	}
	if (mqcrl_lists(st->crl, w.serial)) {
		rc = auth_refuse(&w, "certificate is revoked by the CA's CRL (device '%s')",
				 dev->name);
		goto out;
	}
	if (idr != MQ_IDR_OK) {
		rc = auth_refuse(&w, "identity field %s: %s", mq_idfield_name(st->opt.identity),
				 mq_id_result_str(idr));
		goto out;
	}
	/* The fingerprint already names the device; a CN that disagrees means
	 * the policy and the certificate tell different stories. */
	if (st->opt.identity == MQ_ID_CN && strcmp(identity, dev->name)) {
		rc = auth_refuse(&w, "certificate CN does not match its device '%s'", dev->name);
		goto out;
	}
	if (ev->username && strcmp(ev->username, dev->username)) {
		rc = auth_refuse(&w, "username spoofing: CONNECT says '%s', certificate is '%s'",
				 ev->username, dev->username);
		goto out;
	}
	if (!auth_clientid_ok(st->opt.binding, mosquitto_client_id(client), dev->username)) {
		rc = auth_refuse(&w, "client id does not match username '%s' "
				 "(plugin_opt_clientid_binding %s)", dev->username,
				 mqopt_binding_name(st->opt.binding));
		goto out;
	}
	/* From here on ev->username may be freed memory. */
	w.obs = NULL;
	if (mosquitto_set_username(client, dev->username) != MOSQ_ERR_SUCCESS ||
	    auth_remember(st, client, &w, c, cert, na, now)) {
		rc = auth_refuse(&w, "out of memory");
		goto out;
	}
	if (!recheck) {
		struct mqclients_rec *r = mqclients_find(&st->clients, client);

		mqmet_accepted(&st->met);
		mqaudit_connect(st->audit, r);
		mqstate_connect(st, r, now);
	}
	if (!recheck)
		mqlog(MOSQ_LOG_INFO, "accepted client '%s' from %s as device '%s' (username '%s', "
		      "identity '%s', serial %s, fingerprint %.16s)", w.client_id, w.address,
		      dev->name, dev->username, w.identity, w.serial, w.fingerprint);
	rc = MOSQ_ERR_SUCCESS;
out:
	mq_device_free(dev);
	X509_free(cert);
	free(identity);
	return rc;
}

const char *mqauth_judge(const struct mqcert *st, struct mqclients_rec *rec,
			 const struct mq_device *d, time_t now)
{
	const struct mq_cert *c;
	const char *why;

	/* Observe mode never drops anyone. */
	if (rec->deferred || rec->observed)
		return NULL;
	c = auth_find_cert(d, rec->fingerprint);
	if (!c)
		return "certificate removed from the policy";
	why = auth_state_reason(mq_cert_state(c, now));
	if (why)
		return why;
	if (mqcrl_lists(st->crl, rec->serial))
		return "certificate is revoked by the CA's CRL";
	/* The store may have shortened (or lengthened) the validity: from now
	 * on its date, bounded by the certificate's own, is the one the
	 * expiry check waits for. */
	rec->not_after = c->not_after < rec->cert_not_after ? c->not_after : rec->cert_not_after;
	if (now >= rec->not_after)
		return "certificate has expired";
	if (strcmp(d->name, rec->device))
		return "certificate now belongs to another device";
	if (strcmp(d->username, rec->username))
		return "the device's username changed in the policy";
	return NULL;
}
