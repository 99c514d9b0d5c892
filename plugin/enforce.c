/* Enforcement: judging connected clients again and disconnecting those no
 * longer allowed (as mosquitto's dynamic-security keeps its kick list).
 * reload.c says what changed (struct mqreload_delta); this module looks the
 * named clients' devices up, asks authentication's verdict (mqauth_judge),
 * keeps the survivors' ACL rules in step and kicks the rest. Kicking runs
 * our DISCONNECT callback synchronously, which edits the client table: so
 * first collect, then kick. */
#include "mqcert.h"

#include <stdlib.h>
#include <string.h>

struct enf_kick {
	const struct mosquitto *client;
	char *client_id;
};

struct enf_kicks {
	struct enf_kick *v;
	size_t n, cap;
};

static void enf_kick_add(struct mqcert *st, struct enf_kicks *k, struct mqclients_rec *r,
			 const char *why)
{
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 8;
		struct enf_kick *v = realloc(k->v, cap * sizeof(*v));

		if (!v)
			goto oom;
		k->v = v;
		k->cap = cap;
	}
	if (!(k->v[k->n].client_id = strdup(r->client_id)))
		goto oom;
	k->v[k->n++].client = r->client;
	r->kick_queued = true;
	mqlog(MOSQ_LOG_NOTICE, "disconnecting client '%s' from %s (device '%s', serial %s): %s",
	      r->client_id, r->address, r->device, r->serial, why);
	mqaudit_kicked(st->audit, r, why);
	mqmet_kicked(&st->met, why);
	return;
oom:
	mqlog(MOSQ_LOG_ERR, "out of memory disconnecting client '%s' (%s): retrying at the next "
	      "change", r->client_id, why);
}

/* From BASIC_AUTH or ACL_CHECK nobody is kicked: they are judged again at
 * the next change, or when TICK comes. Without TICK none ever comes: deny
 * then turns the client's rules off, so its revocation still takes effect
 * on every message. */
static void enf_kicks_drop(struct mqcert *st, struct enf_kicks *k, bool deny)
{
	for (size_t i = 0; i < k->n; i++) {
		struct mqclients_rec *r = mqclients_find(&st->clients, k->v[i].client);

		if (r)
			r->kick_queued = false;
		if (r && deny && !r->refused) {
			r->refused = true;
			mqaccess_rebind(st, r, NULL);
			mqlog(MOSQ_LOG_NOTICE, "client '%s' is denied everything from now on (no TICK "
			      "to disconnect it: per_listener_settings true?)", r->client_id);
		}
		free(k->v[i].client_id);
	}
	free(k->v);
	k->v = NULL;
	k->n = k->cap = 0;
}

static void enf_kick_all(struct mqcert *st, struct enf_kicks *k)
{
	for (size_t i = 0; i < k->n; i++) {
		if (mosquitto_kick_client_by_clientid(k->v[i].client_id, false) != MOSQ_ERR_SUCCESS ||
		    mqclients_find(&st->clients, k->v[i].client)) {
			/* Cannot happen for a connected client; never kick it
			 * again on every tick. */
			mqlog(MOSQ_LOG_WARNING, "client '%s' was not found by the broker to be kicked",
			      k->v[i].client_id);
			mqclients_forget(&st->clients, k->v[i].client);
		}
		free(k->v[i].client_id);
	}
	free(k->v);
	k->v = NULL;
	k->n = k->cap = 0;
	mqclients_update_expiry(&st->clients);
}

/* Judges r against the store: queues a kick, or keeps its groups and
 * rules in step with the device. */
static void enf_judge(struct mqcert *st, struct mqclients_rec *r, time_t now, struct enf_kicks *k)
{
	struct mq_device *d = NULL;
	char err[512];
	const char *why;
	int rc;

	if (r->deferred || r->observed)
		return;
	rc = mqlook_by_fpr(st, r->fingerprint, &d, err, sizeof(err));
	if (rc < 0) {
		mqlog(MOSQ_LOG_ERR, "store %s: %s; client '%s' keeps its current state",
		      st->opt.store_path, err, r->client_id);
		return;
	}
	mqlog(MOSQ_LOG_DEBUG, "re-judging client '%s' (device '%s')", r->client_id, r->device);
	why = mqauth_judge(st, r, rc == 0 ? d : NULL, now);
	if (!why && mqcrl_lists(st->crl, r->serial))
		why = "certificate is revoked by the CA's CRL";
	if (why) {
		enf_kick_add(st, k, r, why);
	} else {
		r->refused = false;
		if (mqaccess_rebind(st, r, d))
			mqlog(MOSQ_LOG_ERR, "out of memory resolving the rules of client '%s' "
			      "(device '%s'): it is denied everything until the next change",
			      r->client_id, r->device);
	}
	mq_device_free(d);
}

/* The clients the CRL now lists (a kick queued at most once per client). */
static void enf_crl_sweep(struct mqcert *st, struct enf_kicks *k)
{
	for (struct mqclients_rec *r = st->clients.head; r; r = r->next)
		if (!r->deferred && !r->observed && !r->kick_queued &&
		    mqcrl_lists(st->crl, r->serial))
			enf_kick_add(st, k, r, "certificate is revoked by the CA's CRL");
}

void mqenf_judge(struct mqcert *st, const struct mqreload_delta *d, time_t now,
		 enum mqenf_kick kick)
{
	struct enf_kicks k = {0};

	/* The idle TICK's delta: nobody to judge, nothing to recompute. */
	if (!d->all && !d->n && !d->crl)
		return;
	if (d->all) {
		for (struct mqclients_rec *r = st->clients.head; r; r = r->next)
			enf_judge(st, r, now, &k);
	} else {
		for (size_t i = 0; i < d->n; i++)
			for (struct mqclients_rec *r = mqclients_by_device(&st->clients, d->owned[i]); r;
			     r = r->dev_next)
				enf_judge(st, r, now, &k);
		if (d->crl)
			enf_crl_sweep(st, &k);
	}
	if (kick == MQENF_KICK)
		enf_kick_all(st, &k);
	else
		enf_kicks_drop(st, &k, kick == MQENF_DENY);
}

void mqenf_expire(struct mqcert *st, time_t now)
{
	struct enf_kicks k = {0};
	time_t exp = st->clients.earliest_expiry;

	/* No store read needed: the earliest not_after is kept up to date. */
	if (!exp || now < exp)
		return;
	for (struct mqclients_rec *r = st->clients.head; r; r = r->next)
		if (!r->deferred && !r->observed && !r->kick_queued && now >= r->not_after)
			enf_kick_add(st, &k, r, "certificate has expired");
	enf_kick_all(st, &k);
}
