/* The built-in grant for online renewal (README.md "Renewal over MQTT").
 * Topics under mqcert/ are decided here and only here: a device may
 * publish its own request and read its own reply; a service identity may
 * read every request and rollover event and publish replies; nobody else
 * anything. User rules are never consulted, so none can widen it. The
 * caller enters only for topics starting with the prefix, so every other
 * ACL check pays one or two byte compares. */
#include "mqcert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <mqtt_protocol.h>

#include "mq_renew.h"

/* Whether s is "<name>" followed by exactly tail ("/req", "/res", ""). */
static bool renew_is(const char *s, const char *name, const char *tail)
{
	size_t n = strlen(name);

	return !strncmp(s, name, n) && !strcmp(s + n, tail);
}

/* Whether s is one non-empty level without wildcards followed by tail. */
static bool renew_any(const char *s, const char *tail)
{
	size_t n = strcspn(s, "/+#");

	return n > 0 && !strcmp(s + n, tail);
}

/* The device behind a client, read from the store (free with
 * mq_device_free): by its record's fingerprint, or (a session whose
 * connection is gone, e.g. serve's own while it restarts) by username.
 * Only renewal topics come here, so the lookup is not on the hot path. */
static struct mq_device *renew_device(struct mqcert *st, const struct mosquitto *client)
{
	const struct mqclients_rec *r = mqclients_find(&st->clients, client);
	struct mq_device *d = NULL;
	const char *user;
	char err[512];
	time_t now;
	int rc;

	if (!st->rules)
		return NULL;
	if (r) {
		if (r->deferred)
			return NULL;
		rc = mqlook_by_fpr(st, r->fingerprint, &d, err, sizeof(err));
		if (!rc && strcmp(d->name, r->device)) {
			mq_device_free(d);
			d = NULL;
		}
		goto out;
	}
	user = mosquitto_client_username(client);
	if (!user)
		return NULL;
	rc = mqlook_by_user(st, user, &d, err, sizeof(err));
	if (rc)
		goto out;
	now = time(NULL);
	for (size_t i = 0; i < d->ncerts; i++)
		if (mq_cert_state(d->certs[i], now) == MQ_STATE_ACTIVE)
			return d;
	mq_device_free(d);
	return NULL;
out:
	if (rc < 0)
		mqlog(MOSQ_LOG_ERR, "store %s: %s", st->opt.store_path, err);
	return rc ? NULL : d;
}

bool mqrenew_owns(const char *topic)
{
	if (topic[0] == '$') {
		const char *g;

		if (strncmp(topic, "$share/", 7) || !(g = strchr(topic + 7, '/')))
			return false;
		topic = g + 1;
	}
	return !strncmp(topic, MQ_RENEW_PREFIX, MQ_RENEW_PREFIX_LEN);
}

static bool renew_allowed(const struct mq_device *d, const char *topic, int access)
{
	bool sub = access == MOSQ_ACL_SUBSCRIBE || access == MOSQ_ACL_UNSUBSCRIBE;
	const char *rest;

	if (topic[0] == '$') {
		/* A shared subscription is for services (several serve instances). */
		if (!sub || !d->service)
			return false;
		topic = strchr(topic + 7, '/') + 1;
	}
	if (!strncmp(topic, MQ_ROLLOVER_TOPIC, MQ_ROLLOVER_TOPIC_LEN)) {
		rest = topic + MQ_ROLLOVER_TOPIC_LEN;
		if (!d->service)
			return false;
		return sub ? !strcmp(rest, "+") : access == MOSQ_ACL_READ && renew_any(rest, "");
	}
	if (strncmp(topic, MQ_RENEW_TOPIC, MQ_RENEW_TOPIC_LEN))
		return false;
	rest = topic + MQ_RENEW_TOPIC_LEN;
	if (d->service) {
		if (sub)
			return !strcmp(rest, "+/req");
		if (access == MOSQ_ACL_READ)
			return renew_any(rest, "/req");
		return access == MOSQ_ACL_WRITE && renew_any(rest, "/res");
	}
	if (access == MOSQ_ACL_WRITE)
		return renew_is(rest, d->name, "/req");
	return renew_is(rest, d->name, "/res");
}

static int renew_message(struct mqcert *st, struct mosquitto_evt_message *ev);

static int renew_on_message(int event, void *data, void *userdata)
{
	return renew_message(userdata, data);
}

/* Before the first renewal request goes on: fails closed (the request is
 * refused) when the broker cannot register the stamp. */
static int renew_want_messages(struct mqcert *st)
{
	int rc;

	if (st->renew_message_on)
		return MOSQ_ERR_SUCCESS;
	/* ALREADY_EXISTS too is a refusal: the broker matches callbacks by
	 * function only, so it would be another instance's, stamping from a
	 * client table that does not know this client. */
	rc = mosquitto_callback_register(st->id, MOSQ_EVT_MESSAGE, renew_on_message, NULL, st);
	if (rc != MOSQ_ERR_SUCCESS) {
		mqlog(MOSQ_LOG_ERR, "cannot register the renewal stamp (MESSAGE event, error %d): "
		      "renewal request refused", rc);
		return MOSQ_ERR_ACL_DENIED;
	}
	st->renew_message_on = true;
	mqlog(MOSQ_LOG_INFO, "first renewal request: renewal requests are stamped from now on");
	return MOSQ_ERR_SUCCESS;
}

void mqrenew_stop(struct mqcert *st)
{
	if (st->renew_message_on)
		mosquitto_callback_unregister(st->id, MOSQ_EVT_MESSAGE, renew_on_message, NULL);
	st->renew_message_on = false;
}

int mqrenew_acl(struct mqcert *st, const struct mosquitto_evt_acl_check *ev)
{
	struct mq_device *d = renew_device(st, ev->client);
	const char *cid;
	int rc = MOSQ_ERR_ACL_DENIED;

	if (d && renew_allowed(d, ev->topic, ev->access)) {
		rc = ev->access == MOSQ_ACL_WRITE ? renew_want_messages(st) : MOSQ_ERR_SUCCESS;
		goto out;
	}
	cid = mosquitto_client_id(ev->client);
	mqaudit_acl_denied(st->audit, cid ? cid : "", d ? d->name : "-", ev->topic, ev->access);
	mqlog(MOSQ_LOG_DEBUG, "denied %s '%s' for client '%s': reserved for renewal (built-in grant)",
	      mq_acl_access_str((enum mq_acl_access)ev->access), ev->topic, cid ? cid : "");
out:
	mq_device_free(d);
	return rc;
}

/* Keeps only the request's response topic and correlation data, then
 * adds the verified device name: a client cannot bring its own
 * mqcert-device property (or anything else) to serve. */
static int renew_message(struct mqcert *st, struct mosquitto_evt_message *ev)
{
	const struct mqclients_rec *r;
	const mosquitto_property *p;
	mosquitto_property *out = NULL;
	const char *rest;
	char *str = NULL;
	void *bin = NULL;
	uint16_t binlen = 0;

	/* Every PUBLISH passes here: one byte rejects almost all of them. */
	if (!ev->topic || ev->topic[0] != MQ_RENEW_TOPIC[0] ||
	    strncmp(ev->topic, MQ_RENEW_TOPIC, MQ_RENEW_TOPIC_LEN))
		return MOSQ_ERR_SUCCESS;
	rest = ev->topic + MQ_RENEW_TOPIC_LEN;
	r = mqclients_find(&st->clients, ev->client);
	/* The ACL check let only the device itself publish here. */
	if (!renew_any(rest, "/req") || !r || r->deferred || !renew_is(rest, r->device, "/req"))
		return MOSQ_ERR_SUCCESS;
	p = mosquitto_property_read_string(ev->properties, MQTT_PROP_RESPONSE_TOPIC, &str, false);
	if (p && mosquitto_property_add_string(&out, MQTT_PROP_RESPONSE_TOPIC, str))
		goto oom;
	p = mosquitto_property_read_binary(ev->properties, MQTT_PROP_CORRELATION_DATA, &bin, &binlen,
					   false);
	if (p && mosquitto_property_add_binary(&out, MQTT_PROP_CORRELATION_DATA, bin, binlen))
		goto oom;
	if (mosquitto_property_add_string_pair(&out, MQTT_PROP_USER_PROPERTY, MQ_RENEW_PROP,
					       r->device))
		goto oom;
	free(str);
	free(bin);
	mosquitto_property_free_all(&ev->properties);
	ev->properties = out;
	return MOSQ_ERR_SUCCESS;
oom:
	free(str);
	free(bin);
	mosquitto_property_free_all(&out);
	mqlog(MOSQ_LOG_ERR, "out of memory stamping the renewal request of '%s': refused", r->device);
	return MOSQ_ERR_ACL_DENIED;
}

void mqrenew_connected(struct mqcert *st, const struct mqclients_rec *r)
{
	struct mq_device *d = NULL;
	const struct mq_cert *mine = NULL;
	bool pending = false;
	char topic[512], err[512];
	char *payload = NULL;
	cJSON *o = NULL;

	if (!st->rules || r->deferred)
		return;
	if (mqlook_by_fpr(st, r->fingerprint, &d, err, sizeof(err)) < 0) {
		mqlog(MOSQ_LOG_ERR, "store %s: %s", st->opt.store_path, err);
		return;
	}
	if (!d)
		return;
	for (size_t i = 0; i < d->ncerts; i++)
		if (!strcmp(d->certs[i]->fingerprint, r->fingerprint))
			mine = d->certs[i];
	/* Only a certificate that is itself not on its way out ends a rollover. */
	if (!mine || mine->retire_after || mine->status != MQ_CERT_ACTIVE)
		goto out;
	for (size_t i = 0; i < d->ncerts; i++)
		if (d->certs[i] != mine && d->certs[i]->status == MQ_CERT_ACTIVE &&
		    d->certs[i]->retire_after)
			pending = true;
	if (!pending)
		goto out;
	snprintf(topic, sizeof(topic), "%s%s", MQ_ROLLOVER_TOPIC, d->name);
	if (!(o = cJSON_CreateObject()) || !cJSON_AddStringToObject(o, "device", d->name) ||
	    !cJSON_AddStringToObject(o, "fingerprint", r->fingerprint) ||
	    !cJSON_AddStringToObject(o, "serial", r->serial) ||
	    !cJSON_AddNumberToObject(o, "time", (double)time(NULL)) ||
	    !(payload = cJSON_PrintUnformatted(o))) {
		mqlog(MOSQ_LOG_ERR, "out of memory announcing the rollover of '%s': serve retires "
		      "its old certificate at the grace deadline instead", d->name);
		goto out;
	}
	/* QoS 1: a serve that is restarting gets it from its persistent session. */
	if (mosquitto_broker_publish_copy(NULL, topic, (int)strlen(payload), payload, 1, false,
					  NULL))
		mqlog(MOSQ_LOG_WARNING, "cannot publish the rollover event of '%s': serve retires "
		      "its old certificate at the grace deadline instead", d->name);
out:
	cJSON_free(payload);
	cJSON_Delete(o);
	mq_device_free(d);
}
