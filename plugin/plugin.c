/* The three entry points the broker looks up, and callback registration.
 * Everything else lives in the modules named in mqcert.h. */
#include "mqcert.h"

#include <stdlib.h>

#include "mq_time.h"

#define MQCERT_EXPORT __attribute__((visibility("default")))

MQCERT_EXPORT int mosquitto_plugin_version(int supported_version_count,
					   const int *supported_versions);
MQCERT_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
					struct mosquitto_opt *options, int option_count);
MQCERT_EXPORT int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options,
					   int option_count);

/* What follows every apply of the store's changes, in this order: every
 * client off the replaced rules, the clients the changes name judged again
 * (kicked, or left for the next TICK or denied everything: see enum
 * mqenf_kick; inside BASIC_AUTH and ACL_CHECK kicking is unsafe), the
 * new sequence reported, the replaced rules freed. */
static void plugin_applied(struct mqcert *st, struct mqreload_delta *d, time_t now,
			   enum mqenf_kick kick)
{
	/* The idle TICK's: nothing found, nothing held. */
	if (!d->applied && !d->old_rules && !d->all && !d->n && !d->crl && !d->cap)
		return;
	if (d->old_rules)
		mqaccess_rebind_all(st);
	mqenf_judge(st, d, now, kick);
	if (d->applied) {
		mqstate_applied(st, d->seq);
		mqmet_applied(&st->met, d->seq);
	}
	mqreload_delta_release(d);
}

static int plugin_on_basic_auth(int event, void *data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ev = data;
	struct mqcert *st = userdata;
	const struct mqclients_rec *r;
	struct mqreload_delta d;
	time_t now = time(NULL);
	int rc;

	/* Without TICK (per_listener_settings true) changes are applied
	 * here, and judged without kicking. */
	if (mqreload_connect_poll(st, now, &d))
		plugin_applied(st, &d, now, MQENF_DENY);
	rc = mqauth_basic(st, ev);
	if (rc == MOSQ_ERR_SUCCESS && (r = mqclients_find(&st->clients, ev->client)))
		mqrenew_connected(st, r);
	return rc;
}

/* No TICK (per_listener_settings true): changes are read here too, at
 * most once a second, so a revocation reaches connected clients. Out of
 * line: the check below runs for every message and saves nothing. */
static __attribute__((noinline)) int plugin_acl_poll(struct mqcert *st, void *data)
{
	time_t now = time(NULL);
	struct mqreload_delta d;

	if (mqreload_connect_poll(st, now, &d))
		plugin_applied(st, &d, now, MQENF_DENY);
	return mqaccess_check(st, data);
}

static int plugin_on_acl_check(int event, void *data, void *userdata)
{
	struct mqcert *st = userdata;

	if (__builtin_expect(mqreload_no_tick(st), 0))
		return plugin_acl_poll(st, data);
	return mqaccess_check(st, data);
}

/* The TICK gate: mosquitto 2.0.11 ticks once per pass of its event loop,
 * so under load a tick comes every few messages and its cost is paid per
 * message. The full work runs at most every PLUGIN_TICK_MS of the coarse
 * monotonic clock; a tick in between costs a clock read and a compare,
 * unless work is owed (a SIGHUP: its re-check window ends at the next
 * tick). Audit lines waiting are written at the next tick without the
 * rest of the work: a connect storm writes a line per CONNECT, and must not
 * open the gate for everything else. Idle, the broker ticks every 100 ms, so each
 * tick is a full one; under load what the TICK does (a committed change
 * applied, a revoked or expired client kicked, the state file) waits at
 * most PLUGIN_TICK_MS longer, or, when the traffic stops right then,
 * until the broker's next idle tick. */
#define PLUGIN_TICK_MS 20

static __attribute__((noinline)) int plugin_tick_full(struct mqcert *st, long long ms)
{
	/* The event's time fields are zero in 2.0.11. */
	time_t now = time(NULL);
	struct mqreload_delta d;

	st->tick_full_ms = ms;
	st->tick_owed = false; /* what the work below owes is seen at the next tick */
	st->audit_owed = false;
	/* The order of work: read the store's changes (rules and CRL
	 * swapped), re-resolve and judge the clients they touch and kick the
	 * refused, kick the expired, then write what the others report. */
	mqreload_tick(st, now, &d);
	plugin_applied(st, &d, now, MQENF_KICK);
	mqenf_expire(st, now);
	mqstate_tick(st, now);
	mqaudit_tick(st->audit, now);
	mqmet_tick(st, now);
	return MOSQ_ERR_SUCCESS;
}

static int plugin_on_tick(int event, void *data, void *userdata)
{
	struct mqcert *st = userdata;
	long long ms = mq_time_coarse_ms();

	if (ms - st->tick_full_ms >= PLUGIN_TICK_MS || st->tick_owed)
		return plugin_tick_full(st, ms);
	if (st->audit_owed) {
		st->audit_owed = false;
		mqaudit_tick(st->audit, time(NULL));
	}
	return MOSQ_ERR_SUCCESS;
}

/* An error here would make the broker skip password_file and acl_file
 * until restart; a return other than DEFER would skip later plugins'
 * RELOAD. Failures are logged by the re-read itself. */
static int plugin_on_reload(int event, void *data, void *userdata)
{
	struct mqcert *st = userdata;

	mqreload_force(st);
	mqaudit_reopen(st->audit);
	st->tick_owed = true;
	return MOSQ_ERR_PLUGIN_DEFER;
}

static int plugin_on_disconnect(int event, void *data, void *userdata)
{
	struct mqcert *st = userdata;
	const struct mosquitto_evt_disconnect *ev = data;

	/* Also fires for clients refused at CONNECT: they are not in the
	 * table, and forgetting them is a no-op. */
	mqaudit_disconnect(st->audit, mqclients_find(&st->clients, ev->client), time(NULL));
	mqstate_disconnect(st, ev->client);
	mqclients_forget(&st->clients, ev->client);
	return MOSQ_ERR_SUCCESS;
}

static const struct {
	int event;
	MOSQ_FUNC_generic_callback cb;
} plugin_callbacks[] = {
	{MOSQ_EVT_BASIC_AUTH, plugin_on_basic_auth},
	{MOSQ_EVT_ACL_CHECK, plugin_on_acl_check},
	{MOSQ_EVT_TICK, plugin_on_tick},
	{MOSQ_EVT_RELOAD, plugin_on_reload},
	{MOSQ_EVT_DISCONNECT, plugin_on_disconnect},
	/* MOSQ_EVT_MESSAGE: registered by the first renewal request (renew.c). */
};

#define PLUGIN_NCALLBACKS (sizeof(plugin_callbacks) / sizeof(plugin_callbacks[0]))

static void plugin_unregister(struct mqcert *st, size_t n)
{
	while (n-- > 0)
		mosquitto_callback_unregister(st->id, plugin_callbacks[n].event,
					      plugin_callbacks[n].cb, NULL);
}

static void plugin_free(struct mqcert *st)
{
	if (!st)
		return;
	mqstate_close(st);
	mqreload_stop(st);
	mqclients_release(&st->clients);
	mqaudit_close(st->audit);
	mqopt_release(&st->opt);
	free(st);
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	int i;

	for (i = 0; i < supported_version_count; i++)
		if (supported_versions[i] == 5)
			return 5;
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
			  struct mosquitto_opt *options, int option_count)
{
	struct mqcert *st = calloc(1, sizeof(*st));
	struct mqreload_delta d;
	size_t i;

	if (!st) {
		mqlog(MOSQ_LOG_ERR, "out of memory");
		return MOSQ_ERR_NOMEM;
	}
	st->id = identifier;
	mqclients_init(&st->clients);
	if (mqopt_parse(&st->opt, options, option_count)) {
		plugin_free(st);
		return MOSQ_ERR_INVAL;
	}
	mqlog(MOSQ_LOG_NOTICE, "version %s, store %s, identity %s, clientid_binding %s, "
	      "no_certificate %s", MQCERT_VERSION, st->opt.store_path,
	      mq_idfield_name(st->opt.identity), mqopt_binding_name(st->opt.binding),
	      st->opt.no_cert == MQOPT_NOCERT_DEFER ? "defer" : "refuse");
	if (mqaudit_open(&st->audit, st->opt.audit_path, st->opt.instance,
			 &st->audit_owed) || mqstate_open(st)) {
		mqlog(MOSQ_LOG_ERR, "out of memory");
		plugin_free(st);
		return MOSQ_ERR_NOMEM;
	}
	mqlog(MOSQ_LOG_NOTICE, "audit log %s, state file %s",
	      st->opt.audit_path ? st->opt.audit_path : "none",
	      st->opt.state_path ? st->opt.state_path : "none");
	mqlog(MOSQ_LOG_NOTICE, "instance %s, CRL %s (signed by %s)", st->opt.instance,
	      st->opt.crl_path ? st->opt.crl_path : "none", st->opt.ca_path);
	/* An unreadable store is not an init failure: the broker keeps
	 * running and refuses every client until the store is readable. */
	if (mqreload_start(st, &d)) {
		plugin_free(st);
		return MOSQ_ERR_UNKNOWN;
	}
	plugin_applied(st, &d, time(NULL), MQENF_DEFER); /* no client yet: nothing to judge */
	for (i = 0; i < PLUGIN_NCALLBACKS; i++) {
		int rc = mosquitto_callback_register(identifier, plugin_callbacks[i].event,
						     plugin_callbacks[i].cb, NULL, st);

		if (rc != MOSQ_ERR_SUCCESS) {
			mqlog(MOSQ_LOG_ERR, "cannot register callback for event %d (error %d)",
			      plugin_callbacks[i].event, rc);
			plugin_unregister(st, i);
			plugin_free(st);
			return rc;
		}
	}
	*userdata = st;
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	struct mqcert *st = userdata;

	if (!st)
		return MOSQ_ERR_SUCCESS;
	plugin_unregister(st, PLUGIN_NCALLBACKS);
	mqrenew_stop(st);
	plugin_free(st);
	return MOSQ_ERR_SUCCESS;
}
