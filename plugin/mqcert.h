/* mqcert.so: private interface between the plugin's modules. One struct
 * (struct mqcert) holds all state and is the callbacks' userdata, so two
 * instances (per_listener_settings true) never share anything. */
#ifndef MQCERT_H
#define MQCERT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "mq_certid.h"
#include "mq_policy.h"

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

struct mqopt {
	char *policy_path;
	enum mq_idfield identity;
	enum mqopt_binding binding;
	enum mqopt_nocert no_cert;
};

/* Parses the broker's option array into o (defaults first). Logs and
 * returns -1 on an unknown option, an empty or bad value, or a missing
 * plugin_opt_policy. */
int mqopt_parse(struct mqopt *o, const struct mosquitto_opt *opts, int n);
void mqopt_release(struct mqopt *o);
const char *mqopt_binding_name(enum mqopt_binding b);

/* ---- clients.c: the connected clients this plugin accepted -------------- */

/* Keyed by the broker's client pointer, not the client id: during a
 * takeover two live clients share an id for a moment. */
struct mqcl_rec {
	const struct mosquitto *client;
	bool deferred; /* no certificate: another plugin/password_file decided */
	char *client_id;
	char *device;
	char *username;
	char *identity;
	char serial[MQ_SERIAL_LEN];
	char fingerprint[MQ_FPR_LEN];
	time_t not_after; /* earliest of the policy's and the certificate's */
	char *address;
	time_t since;
	struct mqcl_rec *bucket_next;
	struct mqcl_rec *prev, *next; /* insertion order, for walks */
};

struct mqcl_table {
	struct mqcl_rec **buckets;
	size_t nbuckets; /* power of two, or 0 */
	size_t count;
	struct mqcl_rec *head, *tail;
	time_t earliest_expiry; /* lower bound of the records' not_after; 0: none */
};

void mqcl_init(struct mqcl_table *t);
void mqcl_release(struct mqcl_table *t);
struct mqcl_rec *mqcl_find(const struct mqcl_table *t, const struct mosquitto *client);
/* Inserts rec (allocated by the caller with mqcl_rec_new) or, if the client
 * is already known, replaces the old record. 0 or -1 (rec freed). */
int mqcl_put(struct mqcl_table *t, struct mqcl_rec *rec);
void mqcl_forget(struct mqcl_table *t, const struct mosquitto *client);
struct mqcl_rec *mqcl_rec_new(void);
void mqcl_rec_free(struct mqcl_rec *r);
/* Recomputes earliest_expiry from every record. */
void mqcl_update_expiry(struct mqcl_table *t);

/* ---- reload.c: policy generations ------------------------------------- */

/* An immutable snapshot of the policy; the broker thread holds the current
 * one, the worker builds the next and frees the old ones. */
struct mqrl_gen {
	struct mq_policy *policy;
};

struct mqrl_stat {
	bool present;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim;
};

struct mqrl {
	/* Broker thread only. */
	struct mqrl_stat seen; /* the file as last handed to the worker */
	bool force;            /* SIGHUP: re-read even if the stat is unchanged */
	bool missing_logged;
	unsigned long ticks;
	time_t started;
	bool no_tick_mode;     /* no TICK seen: poll from BASIC_AUTH instead */
	time_t last_poll;
	bool in_reload_apply;  /* between RELOAD and the next TICK */

	/* Shared with the worker, under lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool thread_running;
	bool quit;
	bool want_load;
	bool have_result;
	struct mqrl_gen *result; /* NULL with have_result: rejected */
	char result_err[512];
	struct mqrl_gen **to_free;
	size_t nto_free, cap_to_free;
};

struct mqcert;

/* Loads the policy synchronously (init), starts the worker. -1 only when
 * the thread cannot be started; a bad policy leaves gen NULL (fail closed). */
int mqrl_start(struct mqcert *st);
void mqrl_stop(struct mqcert *st);
/* MOSQ_EVT_TICK work: stat, swap, re-check, expiry. */
void mqrl_tick(struct mqcert *st, time_t now);
/* MOSQ_EVT_RELOAD: re-read the policy on the next tick. */
void mqrl_force(struct mqcert *st);
/* From BASIC_AUTH: when TICK never fires, poll the file at most once a
 * second (swaps, but never kicks: kicking inside BASIC_AUTH is unsafe). */
void mqrl_connect_poll(struct mqcert *st, time_t now);

/* ---- auth.c: MOSQ_EVT_BASIC_AUTH ----------------------------------------- */

int mqauth_basic(struct mqcert *st, struct mosquitto_evt_basic_auth *ev);
/* Why the client behind rec is no longer allowed by gen at now, or NULL. */
const char *mqauth_recheck(const struct mqcert *st, const struct mqcl_rec *rec, time_t now);

/* ---- plugin.c ----------------------------------------------------------- */

struct mqcert {
	mosquitto_plugin_id_t *id;
	struct mqopt opt;
	struct mqrl_gen *gen; /* current generation; NULL: no valid policy */
	struct mqcl_table clients;
	struct mqrl rl;
};

#endif
