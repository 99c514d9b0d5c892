/* A stand-in for "another plugin loaded before mqcert" (t2330): it allows
 * every SUBSCRIBE and defers everything else, as an ACL plugin that only
 * knows about subscriptions would. mosquitto takes its SUBSCRIBE answer, so
 * mqcert never sees the SUBSCRIBE; each delivery (READ) reaches mqcert.
 * Built by the test with cc. */
#include <stddef.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

static mosquitto_plugin_id_t *subgrant_id;

static int subgrant_acl(int event, void *event_data, void *userdata)
{
	const struct mosquitto_evt_acl_check *ev = event_data;

	(void)event;
	(void)userdata;
	return ev->access == MOSQ_ACL_SUBSCRIBE ? MOSQ_ERR_SUCCESS : MOSQ_ERR_PLUGIN_DEFER;
}

int mosquitto_plugin_version(int n, const int *versions)
{
	(void)n;
	(void)versions;
	return 5;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *id, void **userdata, struct mosquitto_opt *opts,
			  int nopts)
{
	(void)userdata;
	(void)opts;
	(void)nopts;
	subgrant_id = id;
	return mosquitto_callback_register(id, MOSQ_EVT_ACL_CHECK, subgrant_acl, NULL, NULL);
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *opts, int nopts)
{
	(void)userdata;
	(void)opts;
	(void)nopts;
	return mosquitto_callback_unregister(subgrant_id, MOSQ_EVT_ACL_CHECK, subgrant_acl, NULL);
}
