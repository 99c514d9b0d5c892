/* MOSQ_EVT_ACL_CHECK: every publish, subscription and delivery is decided by
 * the shared engine (core/acl.c, README.md (Access control)) with the rules the client's
 * record resolved at connect. The allow path is one hash lookup and the
 * client's memo (or, for a topic it does not hold, one trie walk): no
 * allocation, no I/O, no log line. */
#include "mqcert.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "mq_names.h"

/* More OUs than this in one certificate are ignored. */
#define ACL_MAX_OUS 32

/* (Re)builds r->acl from r's identity, its device's groups (kept in r)
 * and the current rules. An observe-mode stranger (no groups, not a
 * device) or no rules leave r->acl NULL, which denies everything. -1 only
 * when out of memory. */
static int acl_resolve(const struct mqcert *st, struct mqclients_rec *r, bool device)
{
	const struct mq_acl_ident id = {
		.device = r->device,
		.username = r->username,
		.client_id = r->client_id,
		.cn = r->cn,
		.ou = (const char *const *)r->ou,
		.nou = r->nou,
	};
	const struct mq_acl_member m = {
		.name = r->device,
		.username = r->username,
		.groups = (const char *const *)r->groups,
		.ngroups = r->ngroups,
	};

	/* Subscriptions allowed by the rules being replaced prove nothing
	 * about the new ones: from now on every delivery is checked. */
	r->subs_ruled = false;
	mq_acl_client_free(r->acl);
	r->acl = NULL;
	if (!st->rules || !device)
		return 0;
	return mq_acl_client_init_member(&r->acl, st->rules->acl, &m, &id) == MQ_ACL_ENOMEM ?
		-1 : 0;
}

/* Copies d's groups into r (d NULL: none). 0 or -1. */
static int acl_keep_groups(struct mqclients_rec *r, const struct mq_device *d)
{
	char **g = NULL;
	size_t n = d ? d->ngroups : 0;

	if (n && !(g = calloc(n, sizeof(*g))))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!(g[i] = strdup(d->groups[i]))) {
			while (i--)
				free(g[i]);
			free(g);
			return -1;
		}
	}
	for (size_t i = 0; i < r->ngroups; i++)
		free(r->groups[i]);
	free(r->groups);
	r->groups = g;
	r->ngroups = n;
	return 0;
}

int mqaccess_attach(const struct mqcert *st, struct mqclients_rec *rec, X509 *cert,
		 const struct mq_device *d)
{
	/* The CN, whatever plugin_opt_identity is; NULL when missing or
	 * unsafe, and then %{cn} matches nothing. */
	rec->cn = mq_x509_cn(cert);
	ERR_clear_error();
	/* Only safe OU values are kept: the others could never match a level. */
	if (mq_x509_ous(cert, ACL_MAX_OUS, &rec->ou, &rec->nou) || acl_keep_groups(rec, d))
		return -1;
	return acl_resolve(st, rec, d != NULL);
}

int mqaccess_rebind(const struct mqcert *st, struct mqclients_rec *rec, const struct mq_device *d)
{
	bool same = d && d->ngroups == rec->ngroups;

	for (size_t i = 0; same && i < d->ngroups; i++)
		same = !strcmp(d->groups[i], rec->groups[i]);
	/* The memo of a client whose groups stayed is still right. */
	if (same && rec->acl)
		return 0;
	if (acl_keep_groups(rec, d))
		return -1;
	return acl_resolve(st, rec, d != NULL);
}

/* The read fast path (mqaccess_check). With plugin_opt_subscribe check a
 * SUBSCRIBE is allowed only when every topic its filter can match is
 * readable under the client's rules (core/acl.c, docs/acl.md), and
 * mosquitto 2.0.11 READ-checks a client only for topics one of its own
 * subscriptions matched (subs.c delivery, retain.c retained messages on
 * subscribe, handle_connect.c messages a resumed session inherited). So
 * while a connection's rules stay the same and each of its subscriptions
 * was allowed by those rules' own check, its read checks are decided.
 * It starts true only for a client that starts without subscriptions:
 * clean start (the broker sets it before BASIC_AUTH; a takeover then
 * hands over no subscriptions and no queued messages), acl_mode enforce
 * (observe allows what the rules deny), rules resolved, and not turned
 * off (plugin_opt_read_fastpath false: a plugin before mqcert may answer
 * a SUBSCRIBE that mqcert then never sees). */
void mqaccess_connected(const struct mqcert *st, struct mqclients_rec *rec,
			const struct mosquitto *client)
{
	rec->subs_ruled = rec->acl && !rec->deferred && !rec->observed &&
			  st->opt.read_fastpath && st->opt.subscribe == MQOPT_SUB_CHECK &&
			  st->opt.acl_mode == MQOPT_ENFORCE &&
			  mosquitto_client_clean_session(client);
}

void mqaccess_rebind_all(struct mqcert *st)
{
	struct mqclients_rec *r;

	for (r = st->clients.head; r; r = r->next) {
		if (r->deferred || r->refused)
			continue;
		if (acl_resolve(st, r, !r->observed || strcmp(r->device, "-")))
			mqlog(MOSQ_LOG_ERR, "out of memory resolving the rules of client '%s' "
			      "(device '%s'): it is denied everything until the next policy change",
			      r->client_id, r->device);
	}
}

/* The single deny path for clients whose rules were consulted: every
 * denial (and only a denial) passes through here. Logged at debug level
 * only, so a misbehaving device cannot flood the broker log. */
static __attribute__((noinline)) int acl_denied(struct mqcert *st,
						const struct mosquitto_evt_acl_check *ev,
						const char *client_id, const char *device,
						const struct mq_acl_client *acl,
						const char *no_acl_why)
{
	struct mq_acl_result res = {0};
	char why[600];

	if (acl) {
		/* Again, for the reason: this path may take its time. */
		mq_acl_check(acl, ev->topic, (enum mq_acl_access)ev->access, &res);
		mq_acl_result_str(&res, why, sizeof(why));
	} else {
		snprintf(why, sizeof(why), "%s", no_acl_why);
	}
	/* plugin_opt_acl_mode observe: the same decision, only recorded. */
	mqmet_acl_denied(&st->met, ev->access, st->opt.acl_mode == MQOPT_OBSERVE);
	if (st->opt.acl_mode == MQOPT_OBSERVE) {
		mqaudit_acl_observed(st->audit, client_id, device, ev->topic, ev->access, why);
		mqlog(MOSQ_LOG_DEBUG, "observe: allowed %s '%s' for client '%s' (device '%s'); "
		      "enforce would deny it: %s", mq_acl_access_str((enum mq_acl_access)ev->access),
		      ev->topic, client_id, device, why);
		return MOSQ_ERR_SUCCESS;
	}
	mqaudit_acl_denied(st->audit, client_id, device, ev->topic, ev->access);
	mqlog(MOSQ_LOG_DEBUG, "denied %s '%s' for client '%s' (device '%s'): %s",
	      mq_acl_access_str((enum mq_acl_access)ev->access), ev->topic, client_id,
	      device, why);
	return MOSQ_ERR_ACL_DENIED;
}

static bool acl_device_usable(const struct mq_device *d, time_t now)
{
	for (size_t i = 0; i < d->ncerts; i++)
		if (mq_cert_state(d->certs[i], now) == MQ_STATE_ACTIVE)
			return true;
	return false;
}

/* A client we hold no record for: a session whose connection is gone (its
 * will is checked right after DISCONNECT; messages are READ-checked as they
 * are queued for an offline persistent session), or check_retain_source's
 * stand-in for a retained message's publisher. Such a context still carries
 * the username we gave it at connect, so the device is found by username
 * in the current policy. No certificate is at hand: %{ou} matches nothing,
 * and %{cn} only stands for the device name when plugin_opt_identity is
 * cn (then CN and name are equal by construction). Rare enough to build
 * the rules for the one check. */
static __attribute__((noinline)) int acl_unknown(struct mqcert *st,
						 const struct mosquitto_evt_acl_check *ev)
{
	const char *user = mosquitto_client_username(ev->client);
	const char *cid = mosquitto_client_id(ev->client);
	struct mq_device *d = NULL;
	struct mq_acl_client *acl = NULL;
	struct mq_acl_ident id = {0};
	struct mq_acl_member m = {0};
	char err[512];
	int rc;

	if (st->rules && user && mqlook_by_user(st, user, &d, err, sizeof(err)) < 0)
		mqlog(MOSQ_LOG_ERR, "store %s: %s", st->opt.store_path, err);
	/* With no_certificate defer, a username that is not a device's
	 * belongs to a client another plugin or password_file let in. */
	if (!d && st->opt.no_cert == MQOPT_NOCERT_DEFER)
		return MOSQ_ERR_PLUGIN_DEFER;
	if (!d)
		return acl_denied(st, ev, cid ? cid : "", "-", NULL,
				  "not connected, and no device has its username");
	if (!acl_device_usable(d, time(NULL))) {
		rc = acl_denied(st, ev, cid ? cid : "", d->name, NULL,
				"not connected, and the device has no valid certificate");
		goto out;
	}
	id.device = m.name = d->name;
	id.username = m.username = d->username;
	id.client_id = cid;
	id.cn = st->opt.identity == MQ_ID_CN ? d->name : NULL;
	m.groups = (const char *const *)d->groups;
	m.ngroups = d->ngroups;
	if (mq_acl_client_init_member(&acl, st->rules->acl, &m, &id)) {
		rc = acl_denied(st, ev, cid ? cid : "", d->name, NULL, "out of memory");
		goto out;
	}
	if (mq_acl_check(acl, ev->topic, (enum mq_acl_access)ev->access, NULL))
		rc = MOSQ_ERR_SUCCESS;
	else
		rc = acl_denied(st, ev, cid ? cid : "", d->name, acl, NULL);
	mq_acl_client_free(acl);
out:
	mq_device_free(d);
	return rc;
}

/* Everything but the allow path of a client with resolved rules. The
 * rare paths stay out of line (noinline above too), so that the one taken
 * for every message saves and restores almost nothing. */
static __attribute__((noinline)) int acl_slow(struct mqcert *st,
					      const struct mosquitto_evt_acl_check *ev)
{
	struct mqclients_rec *r = mqclients_find(&st->clients, ev->client);
	int rc;

	if (!ev->topic)
		return MOSQ_ERR_ACL_DENIED;
	if (!r)
		return acl_unknown(st, ev);
	if (r->deferred)
		return MOSQ_ERR_PLUGIN_DEFER;
	/* plugin_opt_subscribe grant: as mosquitto's acl_file does, every
	 * subscription is granted and each delivery is READ-checked. */
	if (ev->access == MOSQ_ACL_SUBSCRIBE && st->opt.subscribe == MQOPT_SUB_GRANT)
		rc = MOSQ_ERR_SUCCESS;
	else
		rc = acl_denied(st, ev, r->client_id, r->device, r->acl,
				r->observed && !r->acl ? "not a device of the policy (let in "
				"by plugin_opt_mode observe): deny" : "no rules resolved (device "
				"gone from the policy, or out of memory)");
	/* A subscription the rules did not allow (observe, grant): its
	 * deliveries need their own check. */
	if (rc == MOSQ_ERR_SUCCESS && ev->access == MOSQ_ACL_SUBSCRIBE)
		r->subs_ruled = false;
	return rc;
}

/* The renewal topics' own decision. A subscription it allows keeps the
 * read fast path only when every topic the filter matches is a renewal
 * topic too (whose reads come here first): not for '#' (mqcert/# also
 * matches "mqcert") nor for a $share/ filter. */
static __attribute__((noinline)) int acl_renew(struct mqcert *st,
					       const struct mosquitto_evt_acl_check *ev)
{
	int rc = mqrenew_acl(st, ev);
	struct mqclients_rec *r;

	if (rc == MOSQ_ERR_SUCCESS && ev->access == MOSQ_ACL_SUBSCRIBE &&
	    (ev->topic[0] == '$' || strchr(ev->topic, '#')) &&
	    (r = mqclients_find(&st->clients, ev->client)))
		r->subs_ruled = false;
	return rc;
}

/* A client's own rules (the memo). Out of line with what follows the
 * call, so that mqaccess_check itself only tail-calls and needs no frame. */
static __attribute__((noinline)) int acl_rules(struct mqcert *st,
					       const struct mosquitto_evt_acl_check *ev,
					       struct mqclients_rec *r)
{
	if (r->acl && !r->deferred &&
	    mq_acl_allowed(r->acl, ev->topic, (enum mq_acl_access)ev->access)) {
		/* $share/G/F and $SYS/...: allowed, but the fast path takes
		 * no position on what the broker delivers for them. */
		if (ev->access == MOSQ_ACL_SUBSCRIBE && ev->topic[0] == '$')
			r->subs_ruled = false;
		return MOSQ_ERR_SUCCESS;
	}
	return acl_slow(st, ev);
}

static inline __attribute__((always_inline)) int acl_client(struct mqcert *st,
							    const struct mosquitto_evt_acl_check *ev)
{
	struct mqclients_rec *r = mqclients_find(&st->clients, ev->client);

	if (!r)
		return acl_slow(st, ev);
	/* Every subscription of r was allowed by its current rules, and the
	 * broker reads a client only what its subscriptions match
	 * (mqaccess_connected). */
	if (r->subs_ruled && ev->access == MOSQ_ACL_READ)
		return MOSQ_ERR_SUCCESS;
	return acl_rules(st, ev, r);
}

/* A topic starting with 'm' or '$': the renewal topics (mqcert/...,
 * $share/G/mqcert/...) have their own grant that rules cannot widen. */
static __attribute__((noinline)) int acl_prefixed(struct mqcert *st,
						  const struct mosquitto_evt_acl_check *ev)
{
	if (mqrenew_owns(ev->topic))
		return acl_renew(st, ev);
	return acl_client(st, ev);
}

int mqaccess_check(struct mqcert *st, const struct mosquitto_evt_acl_check *ev)
{
	const char *topic = ev->topic;

	if (__builtin_expect(!topic, 0))
		return acl_slow(st, ev);
	if (topic[0] == 'm' || topic[0] == '$')
		return acl_prefixed(st, ev);
	return acl_client(st, ev);
}
