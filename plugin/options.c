/* plugin_opt_* lines. A typo must not silently weaken the plugin, so an
 * unknown option or a bad value makes init fail with a log line. */
#include "mqcert.h"

#include <stdlib.h>
#include <string.h>

/* The broker keeps trailing whitespace in option values. */
static char *opt_trimmed(const char *v)
{
	size_t n = strlen(v);
	char *s;

	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	s = malloc(n + 1);
	if (!s)
		return NULL;
	memcpy(s, v, n);
	s[n] = '\0';
	return s;
}

static int opt_binding_parse(const char *s, enum mqopt_binding *out)
{
	if (!strcmp(s, "exact"))
		*out = MQOPT_BIND_EXACT;
	else if (!strcmp(s, "prefix"))
		*out = MQOPT_BIND_PREFIX;
	else if (!strcmp(s, "none"))
		*out = MQOPT_BIND_NONE;
	else
		return -1;
	return 0;
}

const char *mqopt_binding_name(enum mqopt_binding b)
{
	switch (b) {
	case MQOPT_BIND_EXACT:
		return "exact";
	case MQOPT_BIND_PREFIX:
		return "prefix";
	case MQOPT_BIND_NONE:
		return "none";
	}
	return "?";
}

/* A file the plugin writes: "none" turns it off (*path stays NULL). */
static int opt_path(char **path, bool *set, const char *val)
{
	free(*path);
	*path = NULL;
	*set = true;
	if (!strcmp(val, "none"))
		return 0;
	*path = strdup(val);
	if (!*path) {
		mqlog(MOSQ_LOG_ERR, "out of memory");
		return -1;
	}
	return 0;
}

/* dir(policy)/name: the plugin's files live beside the policy by default. */
static char *opt_beside(const char *policy, const char *name)
{
	const char *slash = strrchr(policy, '/');
	size_t n = slash ? (size_t)(slash - policy) + 1 : 0;
	char *s = malloc(n + strlen(name) + 1);

	if (!s)
		return NULL;
	memcpy(s, policy, n);
	strcpy(s + n, name);
	return s;
}

static int opt_one(struct mqopt *o, const char *key, const char *val)
{
	if (!strcmp(key, "policy")) {
		char *p = opt_trimmed(val);

		if (!p) {
			mqlog(MOSQ_LOG_ERR, "out of memory");
			return -1;
		}
		free(o->policy_path);
		o->policy_path = p;
		return 0;
	}
	if (!strcmp(key, "identity")) {
		if (mq_idfield_parse(val, &o->identity)) {
			mqlog(MOSQ_LOG_ERR, "invalid plugin_opt_identity '%s': use cn, dn, san-dns, "
			      "san-email, san-uri or fingerprint", val);
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "clientid_binding")) {
		if (opt_binding_parse(val, &o->binding)) {
			mqlog(MOSQ_LOG_ERR, "invalid plugin_opt_clientid_binding '%s': use exact, prefix "
			      "or none", val);
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "no_certificate")) {
		if (!strcmp(val, "refuse")) {
			o->no_cert = MQOPT_NOCERT_REFUSE;
		} else if (!strcmp(val, "defer")) {
			o->no_cert = MQOPT_NOCERT_DEFER;
		} else {
			mqlog(MOSQ_LOG_ERR, "invalid plugin_opt_no_certificate '%s': use refuse or defer",
			      val);
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "audit_log") || !strcmp(key, "state_file"))
		return opt_path(key[0] == 'a' ? &o->audit_path : &o->state_path,
				key[0] == 'a' ? &o->audit_set : &o->state_set, val);
	mqlog(MOSQ_LOG_ERR, "unknown option plugin_opt_%s: known are policy, identity, "
	      "clientid_binding, no_certificate, audit_log, state_file", key);
	return -1;
}

int mqopt_parse(struct mqopt *o, const struct mosquitto_opt *opts, int n)
{
	int i;

	o->policy_path = NULL;
	o->identity = MQ_ID_CN;
	o->binding = MQOPT_BIND_EXACT;
	o->no_cert = MQOPT_NOCERT_REFUSE;
	o->audit_path = o->state_path = NULL;
	o->audit_set = o->state_set = false;
	for (i = 0; i < n; i++) {
		char *val;
		int rc;

		if (!opts[i].key)
			continue;
		val = opt_trimmed(opts[i].value ? opts[i].value : "");
		if (!val) {
			mqlog(MOSQ_LOG_ERR, "out of memory");
			return -1;
		}
		if (!*val) {
			mqlog(MOSQ_LOG_ERR, "plugin_opt_%s has no value", opts[i].key);
			free(val);
			return -1;
		}
		rc = opt_one(o, opts[i].key, val);
		free(val);
		if (rc)
			return -1;
	}
	if (!o->policy_path) {
		mqlog(MOSQ_LOG_ERR, "plugin_opt_policy is missing: add 'plugin_opt_policy "
		      "/path/to/policy.json' after the plugin line (mqadmin broker-config prints it)");
		return -1;
	}
	/* In a subdirectory the broker's user owns: the state file is replaced
	 * by rename, and write access to the policy's own directory would let
	 * the broker replace policy.json. */
	if ((!o->audit_set && !(o->audit_path = opt_beside(o->policy_path, "audit/audit.log"))) ||
	    (!o->state_set && !(o->state_path = opt_beside(o->policy_path, "audit/connected.json")))) {
		mqlog(MOSQ_LOG_ERR, "out of memory");
		return -1;
	}
	return 0;
}

void mqopt_release(struct mqopt *o)
{
	free(o->policy_path);
	free(o->audit_path);
	free(o->state_path);
	o->policy_path = o->audit_path = o->state_path = NULL;
}
