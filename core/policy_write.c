/* The policy's JSON writer (cJSON): the whole policy.json and one record
 * at a time (the store's codec). */
#include "mq_policy.h"
#include "mq_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static cJSON *policy_add_time(cJSON *obj, const char *key, time_t t)
{
	char ts[MQ_TIME_LEN];

	if (mq_time_format(t, ts))
		return NULL;
	return cJSON_AddStringToObject(obj, key, ts);
}

static int policy_san_json(cJSON *jc, const char *san)
{
	cJSON *ja = cJSON_AddArrayToObject(jc, "san");

	for (const char *p = san; ja && p; p = strchr(p, ',')) {
		cJSON *s;
		char *one;

		p += *p == ',';
		one = strndup(p, strcspn(p, ","));
		s = one ? cJSON_CreateString(one) : NULL;
		free(one);
		if (!s || !cJSON_AddItemToArray(ja, s)) {
			cJSON_Delete(s);
			return -1;
		}
	}
	return ja ? 0 : -1;
}

static const char *policy_status_str(enum mq_cert_status s)
{
	switch (s) {
	case MQ_CERT_ACTIVE:
		break;
	case MQ_CERT_REVOKED:
		return "revoked";
	case MQ_CERT_RETIRED:
		return "retired";
	}
	return "active";
}

static cJSON *policy_cert_json(const struct mq_cert *c)
{
	cJSON *jc = cJSON_CreateObject();

	if (!jc || !cJSON_AddStringToObject(jc, "serial", c->serial) ||
	    !cJSON_AddStringToObject(jc, "fingerprint", c->fingerprint) ||
	    !policy_add_time(jc, "not_before", c->not_before) ||
	    !policy_add_time(jc, "not_after", c->not_after) ||
	    !cJSON_AddStringToObject(jc, "status", policy_status_str(c->status)))
		goto fail;
	if (c->retire_after && !policy_add_time(jc, "retire_after", c->retire_after))
		goto fail;
	if (c->status == MQ_CERT_REVOKED && c->revoked_at && !policy_add_time(jc, "revoked_at", c->revoked_at))
		goto fail;
	if (c->revoke_reason && !cJSON_AddStringToObject(jc, "reason", c->revoke_reason))
		goto fail;
	/* Kept after a later revocation: when and why it left service. */
	if (c->retired_at && !policy_add_time(jc, "retired_at", c->retired_at))
		goto fail;
	if (c->retire_reason && !cJSON_AddStringToObject(jc, "retire_reason", c->retire_reason))
		goto fail;
	if (c->san && policy_san_json(jc, c->san))
		goto fail;
	return jc;
fail:
	cJSON_Delete(jc);
	return NULL;
}

static cJSON *policy_device_json(const struct mq_device *d)
{
	cJSON *jd = cJSON_CreateObject(), *jg, *jcerts;

	if (!jd || !cJSON_AddStringToObject(jd, "name", d->name) ||
	    !cJSON_AddStringToObject(jd, "username", d->username) ||
	    !(jg = cJSON_AddArrayToObject(jd, "groups")))
		goto fail;
	if (d->created && !policy_add_time(jd, "created", d->created))
		goto fail;
	/* Written only when suspended: absent means active. */
	if (d->suspended && (!cJSON_AddStringToObject(jd, "status", "suspended") ||
			     (d->suspended_at && !policy_add_time(jd, "suspended_at", d->suspended_at))))
		goto fail;
	if (d->service && !cJSON_AddStringToObject(jd, "role", "service"))
		goto fail;
	if (d->renew_now && !cJSON_AddTrueToObject(jd, "renew_now"))
		goto fail;
	if (d->renewed_at && !policy_add_time(jd, "renewed_at", d->renewed_at))
		goto fail;
	for (size_t i = 0; i < d->ngroups; i++) {
		cJSON *s = cJSON_CreateString(d->groups[i]);

		if (!s || !cJSON_AddItemToArray(jg, s)) {
			cJSON_Delete(s);
			goto fail;
		}
	}
	if (!(jcerts = cJSON_AddArrayToObject(jd, "certs")))
		goto fail;
	for (size_t i = 0; i < d->ncerts; i++) {
		cJSON *jc = policy_cert_json(d->certs[i]);

		if (!jc || !cJSON_AddItemToArray(jcerts, jc)) {
			cJSON_Delete(jc);
			goto fail;
		}
	}
	return jd;
fail:
	cJSON_Delete(jd);
	return NULL;
}

static cJSON *policy_rule_json(const struct mq_rule *r)
{
	cJSON *jr = cJSON_CreateObject();
	char subject[80];

	if (r->kind == MQ_SUBJ_ALL)
		snprintf(subject, sizeof(subject), "all");
	else
		snprintf(subject, sizeof(subject), "%s:%s", r->kind == MQ_SUBJ_DEVICE ? "device" : "group",
			 r->subject);
	if (!jr || !cJSON_AddNumberToObject(jr, "id", (double)r->id) ||
	    !cJSON_AddStringToObject(jr, "subject", subject) ||
	    !cJSON_AddStringToObject(jr, "topic", r->topic) ||
	    !cJSON_AddStringToObject(jr, "access", mq_rule_access_str(r->access)) ||
	    !cJSON_AddStringToObject(jr, "effect", r->deny ? "deny" : "allow")) {
		cJSON_Delete(jr);
		return NULL;
	}
	return jr;
}

static cJSON *policy_deleted_json(const struct mq_deleted *x)
{
	cJSON *jd = policy_device_json(x->device);

	if (jd && ((x->deleted_at && !policy_add_time(jd, "deleted_at", x->deleted_at)) ||
		   (x->archive && !cJSON_AddStringToObject(jd, "archive", x->archive)))) {
		cJSON_Delete(jd);
		return NULL;
	}
	return jd;
}

char *mq_policy_serialize(const struct mq_policy *p)
{
	cJSON *root = cJSON_CreateObject(), *jdev, *jrules, *jdel = NULL;
	char *text = NULL, *out = NULL;
	size_t n;

	if (!root || !cJSON_AddNumberToObject(root, "version", MQ_POLICY_VERSION) ||
	    !cJSON_AddNumberToObject(root, "generation", (double)p->generation) ||
	    !cJSON_AddNumberToObject(root, "next_rule_id", (double)p->next_rule_id) ||
	    (p->crl_number &&
	     !cJSON_AddNumberToObject(root, "crl_number", (double)p->crl_number)) ||
	    !(jdev = cJSON_AddArrayToObject(root, "devices")) ||
	    !(jrules = cJSON_AddArrayToObject(root, "rules")))
		goto out;
	for (size_t i = 0; i < p->ndevices; i++) {
		cJSON *jd = policy_device_json(p->devices[i]);

		if (!jd || !cJSON_AddItemToArray(jdev, jd)) {
			cJSON_Delete(jd);
			goto out;
		}
	}
	for (size_t i = 0; i < p->nrules; i++) {
		cJSON *jr = policy_rule_json(p->rules[i]);

		if (!jr || !cJSON_AddItemToArray(jrules, jr)) {
			cJSON_Delete(jr);
			goto out;
		}
	}
	/* Only when there is one: older readers ignore it anyway. */
	if (p->ndeleted && !(jdel = cJSON_AddArrayToObject(root, "deleted")))
		goto out;
	for (size_t i = 0; i < p->ndeleted; i++) {
		cJSON *jd = policy_deleted_json(p->deleted[i]);

		if (!jd || !cJSON_AddItemToArray(jdel, jd)) {
			cJSON_Delete(jd);
			goto out;
		}
	}
	text = cJSON_Print(root);
	if (!text)
		goto out;
	n = strlen(text);
	out = malloc(n + 2);
	if (out) {
		memcpy(out, text, n);
		out[n] = '\n';
		out[n + 1] = '\0';
	}
out:
	cJSON_free(text);
	cJSON_Delete(root);
	return out;
}

static char *policy_print_compact(cJSON *j)
{
	char *text = j ? cJSON_PrintUnformatted(j) : NULL;
	char *out = text ? strdup(text) : NULL;

	/* cJSON may use its own allocator: hand out a malloc'd copy. */
	cJSON_free(text);
	cJSON_Delete(j);
	return out;
}

char *mq_device_json(const struct mq_device *d)
{
	return policy_print_compact(policy_device_json(d));
}

char *mq_rule_json(const struct mq_rule *r)
{
	return policy_print_compact(policy_rule_json(r));
}

char *mq_deleted_json(const struct mq_policy *p)
{
	cJSON *ja = cJSON_CreateArray();

	for (size_t i = 0; ja && i < p->ndeleted; i++) {
		cJSON *jd = policy_deleted_json(p->deleted[i]);

		if (!jd || !cJSON_AddItemToArray(ja, jd)) {
			cJSON_Delete(jd);
			cJSON_Delete(ja);
			return NULL;
		}
	}
	return policy_print_compact(ja);
}
