/* Figures for people who look rather than read: one Prometheus text file
 * (exposition format 0.0.4, for node_exporter's textfile collector) and the
 * same figures under $SYS/broker/mqcert/, as mosquitto publishes its own.
 * The hooks elsewhere only bump counters; everything else happens here, on
 * TICK, at most once per interval: one walk over the connected clients,
 * one small rename-replaced file, a few retained publishes. */
#include "mqcert.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MET_SYS_PREFIX "$SYS/broker/mqcert/"
#define MET_DAY 86400

/* Label values of enum mqmet_reason, and the reason texts (auth.c,
 * mqauth_recheck) they come from: the first matching prefix wins, so a
 * longer prefix goes before a shorter one it starts with. */
static const char *const met_reason_names[MQMET_NREASONS] = {
	[MQMET_R_NO_CERT] = "no_certificate",
	[MQMET_R_BAD_CERT] = "bad_certificate",
	[MQMET_R_NO_POLICY] = "no_policy",
	[MQMET_R_UNKNOWN] = "unknown_certificate",
	[MQMET_R_REVOKED] = "revoked",
	[MQMET_R_REVOKED_CRL] = "revoked_crl",
	[MQMET_R_EXPIRED] = "expired",
	[MQMET_R_NOT_YET_VALID] = "not_yet_valid",
	[MQMET_R_RETIRED] = "retired",
	[MQMET_R_SUSPENDED] = "suspended",
	[MQMET_R_IDENTITY] = "bad_identity",
	[MQMET_R_CN_MISMATCH] = "cn_mismatch",
	[MQMET_R_USERNAME] = "username_mismatch",
	[MQMET_R_CLIENTID] = "clientid_mismatch",
	[MQMET_R_DEVICE_CHANGED] = "device_changed",
	[MQMET_R_INTERNAL] = "internal_error",
	[MQMET_R_OTHER] = "other",
};

static const struct {
	const char *prefix;
	enum mqmet_reason reason;
} met_reason_map[] = {
	{"no client certificate", MQMET_R_NO_CERT},
	{"cannot read the certificate", MQMET_R_BAD_CERT},
	{"no valid policy", MQMET_R_NO_POLICY},
	{"certificate not on the allowlist", MQMET_R_UNKNOWN},
	{"certificate removed from the policy", MQMET_R_UNKNOWN},
	{"certificate is revoked by the CA's CRL", MQMET_R_REVOKED_CRL},
	{"certificate is revoked", MQMET_R_REVOKED},
	{"certificate has expired", MQMET_R_EXPIRED},
	{"certificate is not yet valid", MQMET_R_NOT_YET_VALID},
	{"certificate is retired", MQMET_R_RETIRED},
	{"device is suspended", MQMET_R_SUSPENDED},
	{"identity field", MQMET_R_IDENTITY},
	{"certificate CN does not match", MQMET_R_CN_MISMATCH},
	{"username spoofing", MQMET_R_USERNAME},
	{"the device's username changed", MQMET_R_USERNAME},
	{"client id does not match", MQMET_R_CLIENTID},
	{"certificate now belongs to another device", MQMET_R_DEVICE_CHANGED},
	{"out of memory", MQMET_R_INTERNAL},
};

static const char *const met_access_names[MQMET_NACCESS] = {
	"read", "write", "subscribe", "unsubscribe",
};

static enum mqmet_reason met_reason(const char *why)
{
	for (size_t i = 0; i < sizeof(met_reason_map) / sizeof(met_reason_map[0]); i++)
		if (!strncmp(why, met_reason_map[i].prefix, strlen(met_reason_map[i].prefix)))
			return met_reason_map[i].reason;
	return MQMET_R_OTHER;
}

/* MOSQ_ACL_READ 1, WRITE 2, SUBSCRIBE 4, UNSUBSCRIBE 8 -> 0..3; -1 else. */
static int met_access(int access)
{
	switch (access) {
	case MOSQ_ACL_READ:
		return 0;
	case MOSQ_ACL_WRITE:
		return 1;
	case MOSQ_ACL_SUBSCRIBE:
		return 2;
	case MOSQ_ACL_UNSUBSCRIBE:
		return 3;
	}
	return -1;
}

void mqmet_accepted(struct mqmet *m)
{
	m->accepted++;
}

void mqmet_deferred(struct mqmet *m)
{
	m->deferred++;
}

void mqmet_refused(struct mqmet *m, const char *why, bool observed, bool recheck)
{
	enum mqmet_reason r = met_reason(why);

	/* Observe mode lets the client in: at a re-check it simply stays. */
	if (observed && !recheck)
		m->observed[r]++;
	else if (!observed && recheck)
		m->kicks[r]++;
	else if (!observed)
		m->refused[r]++;
}

void mqmet_kicked(struct mqmet *m, const char *why)
{
	m->kicks[met_reason(why)]++;
}

void mqmet_acl_denied(struct mqmet *m, int access, bool observed)
{
	int a = met_access(access);

	if (a < 0)
		return;
	if (observed)
		m->acl_observed[a]++;
	else
		m->acl_denied[a]++;
}

void mqmet_applied(struct mqmet *m, uint64_t seq)
{
	m->applied_seq = seq;
}

void mqmet_clone(struct mqmet *m)
{
	m->clones++;
}

/* ---- the figures ---------------------------------------------------------- */

enum met_family {
	MET_F_CONNECTS,
	MET_F_KICKS,
	MET_F_ACL_DENIED,
	MET_F_ACL_OBSERVED,
	MET_F_CLONES,
	MET_F_POLICY_VALID,
	MET_F_POLICY_SEQ,
	MET_F_POLICY_LOADED,
	MET_F_POLICY_AGE,
	MET_F_POLICY_LOADS,
	MET_F_CLIENTS,
	MET_F_EXPIRING,
	MET_NFAMILIES
};

static const struct {
	const char *name, *type, *help;
} met_families[MET_NFAMILIES] = {
	[MET_F_CONNECTS] = {"mqcert_connects_total", "counter",
		"Client connects judged by mqcert, by result (accepted, deferred, refused, observed) "
		"and refusal reason."},
	[MET_F_KICKS] = {"mqcert_kicks_total", "counter",
		"Connected clients mqcert disconnected (policy change, expiry, SIGHUP re-check), "
		"by reason."},
	[MET_F_ACL_DENIED] = {"mqcert_acl_denials_total", "counter",
		"Publishes, deliveries and (un)subscriptions mqcert denied, by access."},
	[MET_F_ACL_OBSERVED] = {"mqcert_acl_observed_total", "counter",
		"Accesses plugin_opt_acl_mode observe let through that enforce would deny, by access."},
	[MET_F_CLONES] = {"mqcert_clones_flagged_total", "counter",
		"Certificates flagged as possibly cloned."},
	[MET_F_POLICY_VALID] = {"mqcert_policy_valid", "gauge",
		"1 when the policy store is readable, 0 when every client is refused for want of it."},
	[MET_F_POLICY_SEQ] = {"mqcert_policy_sequence", "gauge",
		"Store sequence in force, the state file's applied_seq (0: none)."},
	[MET_F_POLICY_LOADED] = {"mqcert_policy_loaded_timestamp_seconds", "gauge",
		"When the broker put the store state in force, seconds since the epoch (0: none)."},
	[MET_F_POLICY_AGE] = {"mqcert_policy_age_seconds", "gauge",
		"Seconds since the broker put the store state in force (0: none)."},
	[MET_F_POLICY_LOADS] = {"mqcert_policy_loads_total", "counter",
		"Store states put in force since the broker started."},
	[MET_F_CLIENTS] = {"mqcert_clients_connected", "gauge",
		"Connected clients mqcert let in by their certificate."},
	[MET_F_EXPIRING] = {"mqcert_clients_expiring", "gauge",
		"Connected clients whose certificate (or its policy record) expires within the "
		"given number of days."},
};

struct met_out {
	struct mqcert *st;
	FILE *prom;     /* NULL: the file is not due */
	bool sys;       /* publish the $SYS topics */
	int family;     /* the last family written to prom, or -1 */
	size_t slot;    /* index of the figure, for sys_last */
	int sys_errors;
};

static void met_sys_publish(struct met_out *o, const char *topic, int64_t v)
{
	struct mqmet *m = &o->st->met;
	char name[128], num[24];
	int len = snprintf(num, sizeof(num), "%" PRId64, v);
	void *payload;

	if (m->sys_published && m->sys_last[o->slot] == v)
		return;
	snprintf(name, sizeof(name), MET_SYS_PREFIX "%s", topic);
	payload = mosquitto_malloc((size_t)len);
	if (!payload) {
		o->sys_errors++;
		return;
	}
	memcpy(payload, num, (size_t)len);
	/* Retained, as the broker's own $SYS topics: a new subscriber gets
	 * every figure at once. */
	if (mosquitto_broker_publish(NULL, name, len, payload, 0, true, NULL) != MOSQ_ERR_SUCCESS) {
		mosquitto_free(payload);
		o->sys_errors++;
		return;
	}
	m->sys_last[o->slot] = v;
}

/* One figure: labels ("" or `a="b",c="d"`, constant strings only) for the
 * file, topic (below $SYS/broker/mqcert/) for $SYS. */
static void met_fig(struct met_out *o, enum met_family f, const char *labels, const char *topic,
		    int64_t v)
{
	if (o->slot >= MQMET_MAXFIG)
		return;
	if (o->prom) {
		if (o->family != (int)f) {
			fprintf(o->prom, "# HELP %s %s\n# TYPE %s %s\n", met_families[f].name,
				met_families[f].help, met_families[f].name, met_families[f].type);
			o->family = (int)f;
		}
		/* The instance name (A-Za-z0-9._-) keeps two brokers' files on
		 * one node_exporter apart. */
		fprintf(o->prom, "%s{mqcert_instance=\"%s\"%s%s} %" PRId64 "\n", met_families[f].name,
			o->st->opt.instance, *labels ? "," : "", labels, v);
	}
	if (o->sys)
		met_sys_publish(o, topic, v);
	o->slot++;
}

/* A $SYS-only update (no file due) of a figure already published as v:
 * its slot is passed over without formatting its labels and topic, which
 * cost more than everything else in an update. */
static bool met_unchanged(struct met_out *o, int64_t v)
{
	const struct mqmet *m = &o->st->met;

	if (o->prom || o->slot >= MQMET_MAXFIG || !m->sys_published || m->sys_last[o->slot] != v)
		return false;
	o->slot++;
	return true;
}

static void met_by_reason(struct met_out *o, enum met_family f, const char *result,
			  const uint64_t *counts)
{
	char labels[96], topic[96];

	for (int r = 0; r < MQMET_NREASONS; r++) {
		if (met_unchanged(o, (int64_t)counts[r]))
			continue;
		if (result) {
			snprintf(labels, sizeof(labels), "result=\"%s\",reason=\"%s\"", result,
				 met_reason_names[r]);
			snprintf(topic, sizeof(topic), "connects/%s/%s", result, met_reason_names[r]);
		} else {
			snprintf(labels, sizeof(labels), "reason=\"%s\"", met_reason_names[r]);
			snprintf(topic, sizeof(topic), "kicks/%s", met_reason_names[r]);
		}
		met_fig(o, f, labels, topic, (int64_t)counts[r]);
	}
}

static void met_by_access(struct met_out *o, enum met_family f, const char *dir,
			  const uint64_t *counts)
{
	char labels[48], topic[48];

	for (int a = 0; a < MQMET_NACCESS; a++) {
		if (met_unchanged(o, (int64_t)counts[a]))
			continue;
		snprintf(labels, sizeof(labels), "access=\"%s\"", met_access_names[a]);
		snprintf(topic, sizeof(topic), "acl/%s/%s", dir, met_access_names[a]);
		met_fig(o, f, labels, topic, (int64_t)counts[a]);
	}
}

/* The store state in force, as the broker thread sees it on this tick: a
 * new applied sequence (or the store becoming readable) is a load. */
static void met_policy(struct mqcert *st, time_t now)
{
	struct mqmet *m = &st->met;
	bool valid = st->rules != NULL;
	uint64_t seq = 0;

	if (valid)
		seq = m->applied_seq;
	if (valid == m->valid_seen && seq == m->seq)
		return;
	m->valid_seen = valid;
	m->seq = seq;
	if (valid) {
		m->loaded_at = now;
		m->loads++;
	}
}

static void met_all(struct met_out *o, time_t now)
{
	struct mqcert *st = o->st;
	struct mqmet *m = &st->met;
	int64_t connected = 0, within7 = 0, within30 = 0;

	met_fig(o, MET_F_CONNECTS, "result=\"accepted\"", "connects/accepted", (int64_t)m->accepted);
	met_fig(o, MET_F_CONNECTS, "result=\"deferred\"", "connects/deferred", (int64_t)m->deferred);
	met_by_reason(o, MET_F_CONNECTS, "refused", m->refused);
	met_by_reason(o, MET_F_CONNECTS, "observed", m->observed);
	met_by_reason(o, MET_F_KICKS, NULL, m->kicks);
	met_by_access(o, MET_F_ACL_DENIED, "denied", m->acl_denied);
	met_by_access(o, MET_F_ACL_OBSERVED, "observed", m->acl_observed);
	met_fig(o, MET_F_CLONES, "", "clones/flagged", (int64_t)m->clones);
	met_fig(o, MET_F_POLICY_VALID, "", "policy/valid", st->rules ? 1 : 0);
	met_fig(o, MET_F_POLICY_SEQ, "", "policy/sequence", (int64_t)m->seq);
	met_fig(o, MET_F_POLICY_LOADED, "", "policy/loaded_at", st->rules ? (int64_t)m->loaded_at : 0);
	met_fig(o, MET_F_POLICY_AGE, "", "policy/age",
		st->rules && now > m->loaded_at ? (int64_t)(now - m->loaded_at) : 0);
	met_fig(o, MET_F_POLICY_LOADS, "", "policy/loads", (int64_t)m->loads);
	/* One walk per update, never per connect: a fleet-wide expiry view
	 * is mqadmin's (expiring, device list --expiring). */
	for (const struct mqclients_rec *r = st->clients.head; r; r = r->next) {
		if (r->deferred)
			continue;
		connected++;
		if (r->not_after - now <= 7 * MET_DAY)
			within7++;
		if (r->not_after - now <= 30 * MET_DAY)
			within30++;
	}
	met_fig(o, MET_F_CLIENTS, "", "clients/connected", connected);
	met_fig(o, MET_F_EXPIRING, "days=\"7\"", "clients/expiring/7d", within7);
	met_fig(o, MET_F_EXPIRING, "days=\"30\"", "clients/expiring/30d", within30);
}

static void met_write_file(struct mqcert *st, const char *text, size_t len)
{
	struct mqmet *m = &st->met;
	char err[512];

	/* 0644: node_exporter runs as another user. */
	if (mq_file_replace_fast(st->opt.metrics_path, text, len, 0644, err, sizeof(err))) {
		if (!m->file_failing)
			mqlog(MOSQ_LOG_ERR, "metrics: %s; the broker's user needs write access to "
			      "that directory (or set plugin_opt_metrics_file none); retrying every "
			      "%ld s", err, st->opt.metrics_interval);
		m->file_failing = true;
		return;
	}
	if (m->file_failing)
		mqlog(MOSQ_LOG_NOTICE, "metrics: %s written again", st->opt.metrics_path);
	m->file_failing = false;
}

/* A clock set back must not stop the updates for as long. */
static bool met_due(time_t *next, long interval, time_t now)
{
	if (*next - now > interval)
		*next = now;
	if (now < *next)
		return false;
	*next = now + interval;
	return true;
}

void mqmet_tick(struct mqcert *st, time_t now)
{
	struct mqmet *m = &st->met;
	struct met_out o = {.st = st, .family = -1};
	char *text = NULL;
	size_t len = 0;

	met_policy(st, now);
	if (st->opt.metrics_path && met_due(&m->next_file, st->opt.metrics_interval, now) &&
	    !(o.prom = open_memstream(&text, &len)))
		mqlog(MOSQ_LOG_ERR, "metrics: out of memory");
	o.sys = st->opt.sys_interval > 0 && met_due(&m->next_sys, st->opt.sys_interval, now);
	if (!o.prom && !o.sys)
		return;
	met_all(&o, now);
	if (o.sys && !o.sys_errors)
		m->sys_published = true;
	if (o.prom) {
		if (fclose(o.prom) || !text)
			mqlog(MOSQ_LOG_ERR, "metrics: out of memory");
		else
			met_write_file(st, text, len);
	}
	free(text);
}
