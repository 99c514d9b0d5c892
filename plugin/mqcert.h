/* mqcert.so: private interface between the plugin's modules. One struct
 * (struct mqcert) holds all state and is the callbacks' userdata, so two
 * instances (per_listener_settings true) never share anything. */
#ifndef MQCERT_H
#define MQCERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "mq_acl.h"
#include "mq_x509.h"
#include "mq_fileio.h"
#include "mq_policy.h"
#include "mq_store.h"
#include "mq_strmap.h"

/* ---- log.c: every line starts with "mqcert: " --------------------------- */

void mqlog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- options.c: plugin_opt_* -------------------------------------------- */

enum mqopt_binding {
	MQOPT_BIND_EXACT, /* client id == username */
	MQOPT_BIND_PREFIX, /* client id == username or "username:<something>" */
	MQOPT_BIND_NONE,
};

enum mqopt_nocert {
	MQOPT_NOCERT_REFUSE,
	MQOPT_NOCERT_DEFER,
};

/* plugin_opt_mode / plugin_opt_acl_mode: observe decides as enforce would,
 * records what it would refuse, and lets the client through. */
enum mqopt_mode {
	MQOPT_ENFORCE,
	MQOPT_OBSERVE,
};

/* plugin_opt_subscribe: check the filter (mqcert), or grant every
 * subscription and check only deliveries (mosquitto's acl_file). */
enum mqopt_sub {
	MQOPT_SUB_CHECK,
	MQOPT_SUB_GRANT,
};

/* At most this many certificates are kept in the seen directory. */
#define MQOPT_SEEN_MAX 10000

struct mqopt {
	/* plugin_opt_policy DIR/policy.json (the old spelling) or
	 * plugin_opt_store DIR/store: either names DIR, where the plugin's
	 * other files live by default. */
	char *policy_path;
	char *store_path; /* DIR/store */
	enum mq_idfield identity;
	enum mqopt_binding binding;
	enum mqopt_nocert no_cert;
	char *audit_path; /* NULL: plugin_opt_audit_log none */
	char *state_path; /* NULL: plugin_opt_state_file none */
	char *instance;   /* plugin_opt_instance, or derived from the first listener */
	char *crl_path;   /* NULL: plugin_opt_crl none */
	char *ca_path;    /* the CA certificate that signs the CRL */
	bool audit_set, state_set, crl_set, ca_set; /* given (defaults otherwise) */
	enum mqopt_mode mode, acl_mode;
	enum mqopt_sub subscribe;
	bool read_fastpath; /* plugin_opt_read_fastpath, default true */
	char *seen_dir;   /* observe mode: DIR/audit/seen, certificates by fingerprint */
	char *metrics_path; /* NULL: plugin_opt_metrics_file none (the default) */
	long metrics_interval; /* seconds between writes of metrics_path */
	long sys_interval;     /* seconds between $SYS/broker/mqcert updates; 0: none */
};

/* Parses the broker's option array into o (defaults first). Logs and
 * returns -1 on an unknown option, an empty or bad value, or neither
 * plugin_opt_store nor plugin_opt_policy. */
int mqopt_parse(struct mqopt *o, const struct mosquitto_opt *opts, int n);
void mqopt_release(struct mqopt *o);
const char *mqopt_binding_name(enum mqopt_binding b);
const char *mqopt_mode_name(enum mqopt_mode m);

/* ---- clients.c: the connected clients this plugin accepted -------------- */

/* Keyed by the broker's client pointer, not the client id: during a
 * takeover two live clients share an id for a moment. */
struct mqclients_rec {
	const struct mosquitto *client;
	bool deferred; /* no certificate: another plugin/password_file decided */
	bool observed; /* plugin_opt_mode observe let in what enforce refuses */
	/* Every subscription this connection holds was allowed by the
	 * subscribe check of its current rules (access.c): its deliveries are
	 * then readable without looking. Set only at a fresh connect with
	 * clean start; cleared for good when the rules are rebuilt or a
	 * subscription is allowed any other way. */
	bool subs_ruled;
	char *client_id;
	char *device;
	char *username;
	char *identity;
	char serial[MQ_SERIAL_LEN];
	char fingerprint[MQ_FPR_LEN];
	time_t not_after; /* earliest of the policy's and the certificate's */
	time_t cert_not_after; /* the certificate's own, for re-judging at a swap */
	char *address;
	time_t since;
	const char *leaving; /* audit: why it is about to go ("kicked"...), or NULL */
	bool kick_queued; /* a kick is on its way (enforce.c) */
	bool refused; /* to be kicked, but no TICK to do it: denied everything */
	/* ACL inputs kept for re-resolving after a policy swap (the
	 * certificate is not at hand then), and the resolved rules: NULL
	 * (deny everything) for deferred clients or when out of memory. */
	char *cn;
	char **ou;
	size_t nou;
	char **groups; /* the device's groups as the store said at the last judgement */
	size_t ngroups;
	struct mq_acl_client *acl;
	struct mqclients_rec *bucket_next;
	struct mqclients_rec *prev, *next; /* insertion order, for walks */
	struct mqclients_rec *dev_prev, *dev_next; /* the other clients of this device */
};

struct mqclients_table {
	struct mqclients_rec **buckets;
	size_t nbuckets; /* power of two, or 0 */
	unsigned shift; /* 64 - log2(nbuckets): see mqclients_slot */
	size_t count;
	struct mqclients_rec *head, *tail;
	/* device name -> the first of its clients (dev_next for the rest):
	 * a change to one device re-judges only its clients. */
	struct mq_strmap by_device;
	time_t earliest_expiry; /* lower bound of the records' not_after; 0: none */
};

void mqclients_init(struct mqclients_table *t);
void mqclients_release(struct mqclients_table *t);

/* The lookup runs for every ACL check, so it is inline. Multiplicative
 * (Fibonacci) hashing, top bits: aligned pointers differ only above their
 * low bits, and the product's top bits depend on all of them. */
static inline size_t mqclients_slot(const struct mqclients_table *t,
				     const struct mosquitto *client)
{
	return (size_t)(((uint64_t)(uintptr_t)client * 0x9e3779b97f4a7c15ull) >> t->shift);
}

static inline struct mqclients_rec *mqclients_find(const struct mqclients_table *t,
					 const struct mosquitto *client)
{
	struct mqclients_rec *r;

	if (!t->nbuckets)
		return NULL;
	for (r = t->buckets[mqclients_slot(t, client)]; r; r = r->bucket_next)
		if (r->client == client)
			return r;
	return NULL;
}

/* Inserts rec (allocated by the caller with mqclients_rec_new) or, if the client
 * is already known, replaces the old record. 0 or -1 (rec freed). */
int mqclients_put(struct mqclients_table *t, struct mqclients_rec *rec);
void mqclients_forget(struct mqclients_table *t, const struct mosquitto *client);
struct mqclients_rec *mqclients_rec_new(void);
void mqclients_rec_free(struct mqclients_rec *r);
/* The first client of device name (dev_next for the others), or NULL. */
struct mqclients_rec *mqclients_by_device(const struct mqclients_table *t, const char *name);
/* Recomputes earliest_expiry from every record. */
void mqclients_update_expiry(struct mqclients_table *t);

/* ---- reload.c: the store, read on the broker thread ------------------- */

/* The compiled rules: a policy holding only the store's rules, and the
 * index built from it (which borrows them). */
struct mqreload_rules {
	struct mq_policy *policy;
	struct mq_acl_index *acl;
};

/* reload.c's own state: no other module reads it (they ask through the
 * functions below). */
struct mqreload {
	uint64_t applied;       /* the last store sequence applied */
	bool applied_valid;     /* applied means something (a state was loaded) */
	bool force;            /* SIGHUP: re-judge everything, re-read the CRL */
	bool broken_logged;    /* the store's trouble was logged; quiet until it changes */
	bool bad_version;      /* converted under us to a layout we do not know */
	char last_err[512];
	time_t last_open_try;
	dev_t data_dev;        /* data.mdb as opened: a replaced file is reopened */
	ino_t data_ino;
	time_t last_file_check;
	time_t last_crl_check;
	/* The store's write transaction last read (mq_store_read_txnid): while
	 * the newest committed one is still it, a TICK reads nothing. 0: read. */
	uint64_t seen_txnid;
	bool data_gone;        /* data.mdb was deleted under us */
	uint64_t replaced_seq; /* applied when data.mdb was replaced, or 0 */
	unsigned long ticks;
	time_t started;
	bool no_tick_mode;     /* no TICK seen: poll from BASIC_AUTH instead */
	time_t last_poll;
	bool in_reload_apply;  /* between RELOAD and the next TICK */
};

/* What one apply of the store's changes found: the clients enforcement
 * must judge again (enforce.c). Release with mqreload_delta_release. */
struct mqreload_delta {
	struct mq_strmap names; /* device name -> its entry of owned */
	char **owned;           /* the devices changed, each once */
	size_t n, cap;
	bool all;               /* judge every client */
	bool rules;             /* the rules were recompiled */
	bool crl_changes;       /* the store's CRL/meta changed: re-read the CRL */
	bool crl;               /* the CRL in force changed: sweep the clients it lists */
	/* The rules replaced: freed by mqreload_delta_release, once every
	 * client was resolved against the new ones (mqaccess_rebind_all). */
	struct mqreload_rules *old_rules;
	bool applied;           /* a store sequence was applied: seq */
	uint64_t seq;
};

struct mqcert;

/* Opens the store and loads the rules and the CRL (init; *out as for
 * mqreload_tick). -1 only when out of resources; a missing or unknown store
 * leaves st->rules NULL (every client refused) and is retried on TICK. */
int mqreload_start(struct mqcert *st, struct mqreload_delta *out);
void mqreload_stop(struct mqcert *st);
/* MOSQ_EVT_TICK work: meta.seq, the changes since the last one applied,
 * the rules and the CRL swapped; *out names the clients to judge again. */
void mqreload_tick(struct mqcert *st, time_t now, struct mqreload_delta *out);
void mqreload_delta_release(struct mqreload_delta *d);
/* MOSQ_EVT_RELOAD: re-judge everything on the next tick. */
void mqreload_force(struct mqcert *st);
/* From BASIC_AUTH: when TICK never fires, apply changes at most once a
 * second. True when *out was filled (the caller judges, never kicks:
 * kicking inside BASIC_AUTH is unsafe). */
bool mqreload_connect_poll(struct mqcert *st, time_t now, struct mqreload_delta *out);
/* Whether rules are in force and the store's layout is one we read. */
bool mqreload_in_force(const struct mqcert *st);
/* Between MOSQ_EVT_RELOAD and the next TICK: the broker re-runs
 * BASIC_AUTH over every session. */
bool mqreload_rechecking(const struct mqcert *st);
/* No TICK has come yet (per_listener_settings true, or the first moments):
 * static inline below struct mqcert, as every ACL check asks it. */

/* ---- lookup.c: device records from the store -------------------------- */

/* The device holding fingerprint fpr, read in one read transaction: 0
 * (*out set; mq_device_free), 1 not found, -1 store error (err set). */
int mqlook_by_fpr(struct mqcert *st, const char *fpr, struct mq_device **out, char *err,
		  size_t errlen);
/* The same, by username. */
int mqlook_by_user(struct mqcert *st, const char *user, struct mq_device **out, char *err,
		   size_t errlen);

/* ---- enforce.c: judging connected clients again, the kick list --------- */

/* Judges the clients d names (with d->crl, also those the CRL lists) and
 * disconnects those no longer allowed; kick false (from BASIC_AUTH): the
 * survivors' state is updated, nobody is dropped. */
/* What happens to the clients judged refused: kicked (TICK), judged again
 * at the next TICK (BASIC_AUTH, where kicking is unsafe), or, when no TICK
 * ever comes (per_listener_settings true), denied everything until they
 * reconnect and are refused. */
enum mqenf_kick { MQENF_KICK, MQENF_DEFER, MQENF_DENY };
void mqenf_judge(struct mqcert *st, const struct mqreload_delta *d, time_t now,
		 enum mqenf_kick kick);
/* Disconnects the clients past their validity (cheap when none is). */
void mqenf_expire(struct mqcert *st, time_t now);

/* ---- crl.c: the CA-signed CRL as a second revocation list ----------------- */

struct mqcrl;

/* Reads and verifies crl_path against the CA certificate at ca_path. 0
 * with *out set (NULL when crl_path is NULL or the file does not exist),
 * or -1 with err set when it is refused. */
int mqcrl_load(const char *crl_path, const char *ca_path, struct mqcrl **out, char *err,
	       size_t errlen);
void mqcrl_free(struct mqcrl *c);
/* Whether c (may be NULL) lists the serial (lowercase hex). */
bool mqcrl_lists(const struct mqcrl *c, const char *serial);
long mqcrl_number(const struct mqcrl *c);
size_t mqcrl_count(const struct mqcrl *c);
/* One stat of the CRL and one of the CA certificate: true when either
 * changed since the last call. Broker thread. */
bool mqcrl_changed(struct mqcert *st);
/* Re-reads the CRL into st->crl, keeping the current one when the new one
 * is refused, gone or older. True when the list in force changed. */
bool mqcrl_reload(struct mqcert *st);

/* ---- auth.c: MOSQ_EVT_BASIC_AUTH ----------------------------------------- */

int mqauth_basic(struct mqcert *st, struct mosquitto_evt_basic_auth *ev);
/* Why the client behind rec is no longer allowed, given d (the device the
 * store now names for rec's fingerprint, NULL: none) at now, or NULL; also
 * moves rec->not_after to what the store says, so a shortened validity is
 * enforced by the expiry check. */
const char *mqauth_judge(const struct mqcert *st, struct mqclients_rec *rec,
			 const struct mq_device *d, time_t now);

/* ---- access.c: MOSQ_EVT_ACL_CHECK ---------------------------------------- */

/* Reads the certificate's CN and OU values into rec, keeps d's groups and
 * resolves its rules against st->rules (d NULL: observe mode's stranger,
 * no rules). 0, or -1 when out of memory. */
int mqaccess_attach(const struct mqcert *st, struct mqclients_rec *rec, X509 *cert,
		 const struct mq_device *d);
/* After the store changed d (rec's device): keeps its new groups and
 * username and resolves rec's rules again. 0, or -1 when out of memory. */
int mqaccess_rebind(const struct mqcert *st, struct mqclients_rec *rec, const struct mq_device *d);
/* After the rules changed: resolves every client against st->rules, so
 * that the previous rules can be freed. */
void mqaccess_rebind_all(struct mqcert *st);
/* At a fresh connect (not a re-check of a live client), after
 * mqaccess_attach: whether rec's deliveries may skip the read check (see
 * subs_ruled), which holds only while it subscribes under these rules. */
void mqaccess_connected(const struct mqcert *st, struct mqclients_rec *rec,
			const struct mosquitto *client);
int mqaccess_check(struct mqcert *st, const struct mosquitto_evt_acl_check *ev);

/* ---- renew.c: the built-in grant for online renewal ---------------------- */

/* Whether topic (or a $share/G/ filter) lies under the reserved prefix. */
bool mqrenew_owns(const char *topic);
/* The whole decision for such a topic; user rules are not consulted. */
int mqrenew_acl(struct mqcert *st, const struct mosquitto_evt_acl_check *ev);
/* MOSQ_EVT_MESSAGE (stamping the verified device name on renewal
 * requests) is registered by the first WRITE that mqrenew_acl allows, not
 * at init: the broker then skips the event for every other PUBLISH, and
 * it checks WRITE access before it fires MESSAGE for the same message.
 * mqrenew_stop unregisters it (plugin cleanup). */
void mqrenew_stop(struct mqcert *st);
/* After an accepted CONNECT: announces a rollover's first connect. */
void mqrenew_connected(struct mqcert *st, const struct mqclients_rec *r);

/* ---- audit.c: the audit log, JSON Lines ----------------------------------- */

/* Events are appended to a memory buffer (at most 1 MiB; what does not fit
 * is counted and dropped) and written out on TICK with one write(). A NULL
 * struct mqaudit (plugin_opt_audit_log none) makes every call a no-op.
 * Broker thread only. Nothing here changes a decision. */
struct mqaudit;

/* NULL path: none; instance goes on every line; *owed is set whenever a
 * line waits to be written (the next TICK must not be skipped). -1 only
 * when out of memory. */
int mqaudit_open(struct mqaudit **out, const char *path, const char *instance, bool *owed);
/* Writes what is buffered (one try) and frees everything. */
void mqaudit_close(struct mqaudit *a);
void mqaudit_tick(struct mqaudit *a, time_t now);
/* SIGHUP: reopen the file on the next tick (after logrotate renamed it). */
void mqaudit_reopen(struct mqaudit *a);
void mqaudit_connect(struct mqaudit *a, const struct mqclients_rec *r);
void mqaudit_refused(struct mqaudit *a, const char *reason, const char *device,
		     const char *identity, const char *serial, const char *fingerprint,
		     const char *client_id, const char *address);
/* rec may be NULL (a client we never accepted): then nothing is logged. */
void mqaudit_disconnect(struct mqaudit *a, const struct mqclients_rec *rec, time_t now);
/* Also marks rec as leaving because it was kicked. */
void mqaudit_kicked(struct mqaudit *a, struct mqclients_rec *rec, const char *why);
/* The store's state at seq is in force. */
void mqaudit_policy_loaded(struct mqaudit *a, unsigned long long seq, size_t devices,
			   size_t rules);
void mqaudit_policy_rejected(struct mqaudit *a, const char *error, unsigned long kept);
/* Rate-limited per client id: at most MQAUDIT_DENY_LIMIT lines per window,
 * then one acl_denied_suppressed line with the count. */
#define MQAUDIT_DENY_LIMIT 20
#define MQAUDIT_DENY_WINDOW 10
void mqaudit_acl_denied(struct mqaudit *a, const char *client_id, const char *device,
			const char *topic, int access);
/* plugin_opt_mode observe: a client let in that enforce would refuse,
 * with what adopt needs to find its certificate. */
void mqaudit_observe(struct mqaudit *a, const char *reason, const char *device,
		     const char *identity, const char *serial, const char *fingerprint,
		     const char *subject, time_t not_after, const char *client_id,
		     const char *address);
/* plugin_opt_acl_mode observe: a denial that was let through (rate-limited
 * with acl_denied). */
void mqaudit_acl_observed(struct mqaudit *a, const char *client_id, const char *device,
			  const char *topic, int access, const char *why);
void mqaudit_clone(struct mqaudit *a, const struct mqclients_rec *r, const char *kind,
		   char *const *addresses, size_t naddresses, unsigned takeovers);

/* ---- state.c: connected identities (state file), cloned certificates -------- */

struct mqstate;

/* st->opt.state_path NULL (plugin_opt_state_file none): no file, clone
 * detection still runs. -1 when out of memory. */
int mqstate_open(struct mqcert *st);
/* Writes the file with an empty client list, frees everything. */
void mqstate_close(struct mqcert *st);
/* An accepted client (not a SIGHUP re-check): clone checks, takeover mark. */
void mqstate_connect(struct mqcert *st, struct mqclients_rec *r, time_t now);
/* Before the record is forgotten. */
void mqstate_disconnect(struct mqcert *st, const struct mosquitto *client);
/* The store sequence now in force: goes into the file ("applied_seq") at
 * the next tick. */
void mqstate_applied(struct mqcert *st, uint64_t seq);
/* Writes the file when it changed, at most once a second. */
void mqstate_tick(struct mqcert *st, time_t now);

/* ---- metrics.c: counters for plugin_opt_metrics_file and $SYS ----------- */

/* Refusal and kick reasons as a small fixed set of label values, mapped
 * from the plugin's reason texts: never client data in a label. */
enum mqmet_reason {
	MQMET_R_NO_CERT,
	MQMET_R_BAD_CERT,
	MQMET_R_NO_POLICY,
	MQMET_R_UNKNOWN,
	MQMET_R_REVOKED,
	MQMET_R_REVOKED_CRL,
	MQMET_R_EXPIRED,
	MQMET_R_NOT_YET_VALID,
	MQMET_R_RETIRED,
	MQMET_R_SUSPENDED,
	MQMET_R_IDENTITY,
	MQMET_R_CN_MISMATCH,
	MQMET_R_USERNAME,
	MQMET_R_CLIENTID,
	MQMET_R_DEVICE_CHANGED,
	MQMET_R_INTERNAL,
	MQMET_R_OTHER,
	MQMET_NREASONS
};

#define MQMET_NACCESS 4 /* read, write, subscribe, unsubscribe */
#define MQMET_MAXFIG 160 /* figures per update, see metrics.c */

/* Plain counters, bumped on the broker thread; they live as long as the
 * plugin (a policy swap never touches them). */
struct mqmet {
	uint64_t accepted, deferred;
	uint64_t refused[MQMET_NREASONS], observed[MQMET_NREASONS], kicks[MQMET_NREASONS];
	uint64_t acl_denied[MQMET_NACCESS], acl_observed[MQMET_NACCESS];
	uint64_t clones;
	/* The store state in force, noticed on TICK. */
	uint64_t applied_seq; /* told by plugin.c (mqmet_applied) */
	bool valid_seen;
	uint64_t seq;
	time_t loaded_at;
	uint64_t loads;
	time_t next_file, next_sys;
	bool file_failing; /* the last write failed (logged once until it works) */
	bool sys_published;
	int64_t sys_last[MQMET_MAXFIG];
};

void mqmet_accepted(struct mqmet *m);
void mqmet_deferred(struct mqmet *m);
/* A refusal at CONNECT (why: the refusal text). observed: plugin_opt_mode
 * observe let the client in; recheck: the SIGHUP re-check of a connected
 * client, which drops it (counted as a kick). */
void mqmet_refused(struct mqmet *m, const char *why, bool observed, bool recheck);
void mqmet_kicked(struct mqmet *m, const char *why);
void mqmet_acl_denied(struct mqmet *m, int access, bool observed);
void mqmet_clone(struct mqmet *m);
/* The store sequence now in force. */
void mqmet_applied(struct mqmet *m, uint64_t seq);
/* On every TICK: notices a new policy, writes the file and publishes the
 * $SYS topics when due. */
void mqmet_tick(struct mqcert *st, time_t now);

/* ---- plugin.c ----------------------------------------------------------- */

struct mqcert {
	mosquitto_plugin_id_t *id;
	struct mqopt opt;
	struct mq_store *store;   /* opened and replaced by reload.c; NULL: not open */
	struct mqreload_rules *rules; /* NULL: no store readable yet: refuse everyone */
	struct mqcrl *crl;        /* NULL: none */
	struct mqclients_table clients;
	struct mqreload rl;
	struct mqaudit *audit; /* NULL: no audit log */
	struct mqstate *state;
	struct mq_file_sig crl_seen, ca_seen; /* see mqcrl_changed */
	/* observe mode: certificates kept in opt.seen_dir (auth.c) */
	bool seen_counted, seen_full_logged;
	long seen_count;
	struct mqmet met;
	bool renew_message_on; /* MOSQ_EVT_MESSAGE registered (renew.c) */
	/* The TICK gate (plugin.c): when the last full tick ran
	 * (mq_time_coarse_ms), and work that must not wait for the gate. */
	long long tick_full_ms;
	bool tick_owed;
	bool audit_owed; /* audit lines waiting: flushed at the next tick alone */
};

static inline bool mqreload_no_tick(const struct mqcert *st)
{
	return !st->rl.ticks;
}

#endif
