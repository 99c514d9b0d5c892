/* Policy generations. The broker thread notices a changed file with one
 * stat per TICK; a worker thread, started on the first change, parses it
 * (and frees old generations, which for 100k devices takes long enough to
 * stall the broker); the broker thread
 * swaps the pointer on a later TICK and drops the clients the new policy no
 * longer allows. The worker never calls the broker: it only touches the
 * fields of struct mqrl under rl->lock and the policy path. */
#include "mqcert.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* How long to wait for the first TICK before assuming it never comes
 * (per_listener_settings true). */
#define RL_NO_TICK_SECONDS 5

static void rl_gen_free(struct mqrl_gen *g)
{
	if (!g)
		return;
	mqcrl_free(g->crl);
	mq_acl_index_free(g->acl);
	mq_policy_free(g->policy);
	free(g);
}

static struct mqrl_gen *rl_gen_load(const char *path, char *err, size_t errlen)
{
	struct mqrl_gen *g = calloc(1, sizeof(*g));

	if (!g) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->policy = mq_policy_load(path, err, errlen);
	if (!g->policy) {
		free(g);
		return NULL;
	}
	g->acl = mq_acl_index_build(g->policy);
	if (!g->acl) {
		snprintf(err, errlen, "out of memory compiling the ACL rules");
		rl_gen_free(g);
		return NULL;
	}
	/* Loading a large policy frees much of what it used on the way (the
	 * file buffer, the parse tree, outgrown arrays); without this glibc
	 * may keep that peak as broker RSS for good. */
	malloc_trim(0);
	return g;
}

/* The policy and, with it, the CRL: both decide who is revoked, so they
 * are swapped in together. A refused CRL does not hold the policy back;
 * mqcrl_adopt then keeps the previous one. */
static struct mqrl_gen *rl_gen_load_all(const struct mqcert *st, char *err, size_t errlen)
{
	struct mqrl_gen *g = rl_gen_load(st->opt.policy_path, err, errlen);

	if (g && mqcrl_load(st->opt.crl_path, st->opt.ca_path, &g->crl, g->crl_err,
			    sizeof(g->crl_err)) && !g->crl_err[0])
		snprintf(g->crl_err, sizeof(g->crl_err), "unknown error");
	return g;
}

static void *rl_worker(void *arg)
{
	struct mqcert *st = arg;
	struct mqrl *rl = &st->rl;

	/* The lowest priority for this thread alone: a 100k-device parse takes
	 * a quarter of a second of CPU, and where the broker shares a core with
	 * it (a small VM, a pinned broker) delivery must not wait for it.
	 * Lowering one's own priority only fails under a seccomp filter, and
	 * then only latency suffers; the broker log is not ours to write
	 * from this thread. */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
	pthread_mutex_lock(&rl->lock);
	for (;;) {
		struct mqrl_gen **junk, *g = NULL, *stale = NULL;
		size_t njunk, i;
		bool load, quit;
		char err[sizeof(rl->result_err)] = "";

		while (!rl->quit && !rl->want_load && !rl->nto_free)
			pthread_cond_wait(&rl->cond, &rl->lock);
		junk = rl->to_free;
		njunk = rl->nto_free;
		rl->to_free = NULL;
		rl->nto_free = rl->cap_to_free = 0;
		quit = rl->quit;
		load = rl->want_load && !quit;
		rl->want_load = false;
		pthread_mutex_unlock(&rl->lock);

		for (i = 0; i < njunk; i++)
			rl_gen_free(junk[i]);
		free(junk);
		if (njunk)
			malloc_trim(0); /* an old generation can be tens of MB */
		if (load)
			g = rl_gen_load_all(st, err, sizeof(err));

		pthread_mutex_lock(&rl->lock);
		if (load) {
			/* The broker has not collected the previous answer yet;
			 * the newer one describes the file better. */
			stale = rl->result;
			rl->result = g;
			rl->have_result = true;
			snprintf(rl->result_err, sizeof(rl->result_err), "%s", err);
		}
		if (stale) {
			pthread_mutex_unlock(&rl->lock);
			rl_gen_free(stale);
			pthread_mutex_lock(&rl->lock);
		}
		if (quit)
			break;
	}
	pthread_mutex_unlock(&rl->lock);
	return NULL;
}

static unsigned long rl_gen_number(const struct mqcert *st)
{
	return st->gen ? st->gen->policy->generation : 0;
}

/* The worker is started on the first policy change, not at start-up: the
 * first thread switches glibc's malloc and system-call wrappers to their
 * thread-safe paths for the life of the process (about 190 instructions
 * more per delivered message, measured with callgrind), and a broker whose
 * policy never changes need not pay that. */
static int rl_thread_start(struct mqcert *st)
{
	struct mqrl *rl = &st->rl;
	int e;

	if (rl->thread_running)
		return 0;
	e = pthread_create(&rl->thread, NULL, rl_worker, st);
	if (e) {
		mqlog(MOSQ_LOG_ERR, "cannot start the policy thread (%s); loading the policy on "
		      "the broker thread, which stalls every client meanwhile", strerror(e));
		return -1;
	}
	/* So that top -H and ps -L tell it from the broker's own thread. */
	(void)pthread_setname_np(rl->thread, "mqcert-policy");
	rl->thread_running = true;
	return 0;
}

static void rl_request_load(struct mqcert *st)
{
	struct mqrl *rl = &st->rl;

	if (rl_thread_start(st)) {
		/* Late but correct: a revocation must still take effect. */
		rl_gen_free(rl->result);
		rl->result = rl_gen_load_all(st, rl->result_err, sizeof(rl->result_err));
		rl->have_result = true;
		return;
	}
	pthread_mutex_lock(&rl->lock);
	rl->want_load = true;
	pthread_cond_signal(&rl->cond);
	pthread_mutex_unlock(&rl->lock);
}

/* Hands an old generation to the worker to free. */
static void rl_retire(struct mqrl *rl, struct mqrl_gen *g)
{
	bool done = false;

	if (!g)
		return;
	if (!rl->thread_running) {
		rl_gen_free(g);
		return;
	}
	pthread_mutex_lock(&rl->lock);
	if (rl->nto_free == rl->cap_to_free) {
		size_t cap = rl->cap_to_free ? rl->cap_to_free * 2 : 4;
		struct mqrl_gen **n = realloc(rl->to_free, cap * sizeof(*n));

		if (n) {
			rl->to_free = n;
			rl->cap_to_free = cap;
		}
	}
	if (rl->nto_free < rl->cap_to_free) {
		rl->to_free[rl->nto_free++] = g;
		pthread_cond_signal(&rl->cond);
		done = true;
	}
	pthread_mutex_unlock(&rl->lock);
	if (!done)
		rl_gen_free(g); /* out of memory: free it here, late but correct */
}

/* Stats the policy file; asks the worker for a parse when it changed. */
static void rl_watch(struct mqcert *st)
{
	struct mqrl *rl = &st->rl;
	struct mq_file_sig now;
	int err;

	err = mq_file_sig_get(st->opt.policy_path, &now);
	if (!now.present) {
		if (rl->seen.present || rl->force || !rl->missing_logged) {
			if (st->gen)
				mqlog(MOSQ_LOG_WARNING, "policy %s is unreadable (%s); keeping "
				      "generation %lu", st->opt.policy_path, strerror(err),
				      rl_gen_number(st));
			else
				mqlog(MOSQ_LOG_WARNING, "policy %s is unreadable (%s); still refusing "
				      "every client", st->opt.policy_path, strerror(err));
			rl->missing_logged = true;
		}
		rl->seen = now;
		rl->force = false;
		return;
	}
	if (mq_file_sig_same(&now, &rl->seen) && !rl->force)
		return;
	rl->seen = now;
	rl->force = false;
	rl->missing_logged = false;
	rl_request_load(st);
}

/* Takes the worker's answer, if any. Returns true when a new generation
 * was swapped in; the previous one is then in *old (maybe NULL), still
 * referenced by the clients' ACLs until rl_finish_swap. */
static bool rl_collect(struct mqcert *st, struct mqrl_gen **old_out)
{
	struct mqrl *rl = &st->rl;
	struct mqrl_gen *g, *old;
	char err[sizeof(rl->result_err)];
	bool have;

	/* Every tick asks, and almost always there is nothing: a plain load
	 * then, the lock only when the worker has set the flag (under it). */
	if (!atomic_load_explicit(&rl->have_result, memory_order_acquire))
		return false;
	pthread_mutex_lock(&rl->lock);
	have = rl->have_result;
	g = rl->result;
	memcpy(err, rl->result_err, sizeof(err));
	rl->result = NULL;
	rl->have_result = false;
	pthread_mutex_unlock(&rl->lock);
	if (!have)
		return false;
	if (!g) {
		mqaudit_policy_rejected(st->audit, err, rl_gen_number(st));
		if (st->gen)
			mqlog(MOSQ_LOG_ERR, "policy %s rejected: %s; keeping generation %lu",
			      st->opt.policy_path, err, rl_gen_number(st));
		else
			mqlog(MOSQ_LOG_ERR, "policy %s rejected: %s; still refusing every client",
			      st->opt.policy_path, err);
		return false;
	}
	old = st->gen;
	st->gen = g;
	mqcrl_adopt(st, g, old);
	mqlog(MOSQ_LOG_NOTICE, "policy generation %lu loaded (%zu devices, %zu rules)",
	      g->policy->generation, g->policy->ndevices, g->policy->nrules);
	/* mqadmin only ever counts up: a lower number is an old file put back
	 * (a restored backup), which may re-admit revoked devices; the CRL
	 * still refuses those it lists. */
	if (old && g->policy->generation < old->policy->generation)
		mqlog(MOSQ_LOG_WARNING, "WARNING: policy generation %lu is older than generation %lu "
		      "it replaces: was an old backup restored? Devices revoked since then are "
		      "active again unless the CRL (%s) lists them", g->policy->generation,
		      old->policy->generation, st->opt.crl_path ? st->opt.crl_path : "none");
	mqaudit_policy_loaded(st->audit, g->policy);
	*old_out = old;
	return true;
}

/* Rules and group changes apply to connected clients too: re-resolve them
 * all against the new index; only then may the old one be freed. */
static void rl_finish_swap(struct mqcert *st, struct mqrl_gen *old)
{
	mqacl_rebind_all(st);
	rl_retire(&st->rl, old);
}

struct rl_kick {
	const struct mosquitto *client;
	char *client_id;
};

/* Re-judges every connected client and drops the ones no longer allowed.
 * Kicking runs our DISCONNECT callback synchronously, which edits the
 * table: so first collect, then kick. */
static void rl_enforce(struct mqcert *st, time_t now)
{
	struct rl_kick *kicks = NULL;
	size_t n = 0, i;
	struct mqcl_rec *r;

	if (st->clients.count)
		kicks = calloc(st->clients.count, sizeof(*kicks));
	if (st->clients.count && !kicks) {
		mqlog(MOSQ_LOG_ERR, "out of memory re-checking connected clients");
		return;
	}
	for (r = st->clients.head; r; r = r->next) {
		const char *why = mqauth_recheck(st, r, now);

		if (!why)
			continue;
		kicks[n].client = r->client;
		kicks[n].client_id = strdup(r->client_id);
		if (!kicks[n].client_id)
			continue;
		mqlog(MOSQ_LOG_NOTICE, "disconnecting client '%s' from %s (device '%s', serial %s): %s",
		      r->client_id, r->address, r->device, r->serial, why);
		mqaudit_kicked(st->audit, r, why);
		mqmet_kicked(&st->met, why);
		n++;
	}
	for (i = 0; i < n; i++) {
		if (mosquitto_kick_client_by_clientid(kicks[i].client_id, false) != MOSQ_ERR_SUCCESS ||
		    mqcl_find(&st->clients, kicks[i].client)) {
			/* Cannot happen for a connected client; never kick it
			 * again on every tick. */
			mqlog(MOSQ_LOG_WARNING, "client '%s' was not found by the broker to be kicked",
			      kicks[i].client_id);
			mqcl_forget(&st->clients, kicks[i].client);
		}
		free(kicks[i].client_id);
	}
	free(kicks);
	mqcl_update_expiry(&st->clients);
}

int mqrl_start(struct mqcert *st)
{
	struct mqrl *rl = &st->rl;
	char err[512] = "";

	memset(rl, 0, sizeof(*rl));
	rl->started = time(NULL);
	if (pthread_mutex_init(&rl->lock, NULL))
		return -1;
	if (pthread_cond_init(&rl->cond, NULL)) {
		pthread_mutex_destroy(&rl->lock);
		return -1;
	}
	/* A missing policy shows as not present; the load below says why. */
	mq_file_sig_get(st->opt.policy_path, &rl->seen);
	(void)mqcrl_changed(st);
	st->gen = rl_gen_load_all(st, err, sizeof(err));
	if (st->gen) {
		mqcrl_adopt(st, st->gen, NULL);
		mqlog(MOSQ_LOG_NOTICE, "policy generation %lu loaded (%zu devices, %zu rules)",
		      st->gen->policy->generation, st->gen->policy->ndevices,
		      st->gen->policy->nrules);
		mqaudit_policy_loaded(st->audit, st->gen->policy);
	} else {
		mqlog(MOSQ_LOG_ERR, "no valid policy (%s); refusing every client until %s is valid",
		      err, st->opt.policy_path);
		mqaudit_policy_rejected(st->audit, err, 0);
		rl->missing_logged = !rl->seen.present;
	}
	return 0;
}

void mqrl_stop(struct mqcert *st)
{
	struct mqrl *rl = &st->rl;
	size_t i;

	if (rl->thread_running) {
		pthread_mutex_lock(&rl->lock);
		rl->quit = true;
		pthread_cond_signal(&rl->cond);
		pthread_mutex_unlock(&rl->lock);
		pthread_join(rl->thread, NULL);
		rl->thread_running = false;
	}
	for (i = 0; i < rl->nto_free; i++)
		rl_gen_free(rl->to_free[i]);
	free(rl->to_free);
	rl->to_free = NULL;
	rl->nto_free = rl->cap_to_free = 0;
	rl_gen_free(rl->result);
	rl->result = NULL;
	rl_gen_free(st->gen);
	st->gen = NULL;
	pthread_cond_destroy(&rl->cond);
	pthread_mutex_destroy(&rl->lock);
}

void mqrl_tick(struct mqcert *st, time_t now)
{
	struct mqrl *rl = &st->rl;
	struct mqrl_gen *old = NULL;
	time_t exp = st->clients.earliest_expiry;

	rl->ticks++;
	rl->in_reload_apply = false;
	rl_watch(st);
	if (mqcrl_changed(st))
		rl_request_load(st);
	if (rl_collect(st, &old)) {
		/* Kick first: fewer clients to re-resolve. */
		rl_enforce(st, now);
		rl_finish_swap(st, old);
	} else if (exp && now >= exp) {
		rl_enforce(st, now);
	}
}

void mqrl_force(struct mqcert *st)
{
	st->rl.force = true;
	/* The broker re-runs BASIC_AUTH for every session right after this
	 * event and ticks once the loop pass ends; without ticks the flag
	 * could never be cleared, so it is only trusted when ticks come. */
	if (st->rl.ticks)
		st->rl.in_reload_apply = true;
}

void mqrl_connect_poll(struct mqcert *st, time_t now)
{
	struct mqrl *rl = &st->rl;
	struct mqrl_gen *old = NULL;

	if (!rl->no_tick_mode) {
		if (now - rl->started < RL_NO_TICK_SECONDS)
			return;
		rl->no_tick_mode = true;
		mqlog(MOSQ_LOG_WARNING, "WARNING: no MOSQ_EVT_TICK in %d seconds, so "
		      "per_listener_settings is probably true: policy changes are now picked up "
		      "only when a client connects, and connected clients are NOT disconnected "
		      "when revoked or expired; set per_listener_settings false",
		      RL_NO_TICK_SECONDS);
	}
	if (now - rl->last_poll < 1)
		return;
	rl->last_poll = now;
	rl_watch(st);
	if (mqcrl_changed(st))
		rl_request_load(st);
	if (rl_collect(st, &old))
		rl_finish_swap(st, old);
}
