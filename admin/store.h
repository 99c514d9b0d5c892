/* The PKI directory: its layout, its lock and its policy. Every command
 * that changes DIR holds the lock from open to close, so concurrent
 * mqadmin runs are serialised and never lose each other's writes. */
#ifndef ADMIN_STORE_H
#define ADMIN_STORE_H

#include <stdbool.h>

#include "mq_policy.h"

struct store {
	char *dir;
	int lockfd;
	struct mq_policy *policy;
	bool saved; /* st->policy is what policy.json holds (written by this run) */
};

/* The user mosquitto runs as on Debian; owns DIR/audit. */
#define STORE_BROKER_USER "mosquitto"

enum store_mode {
	STORE_READ,   /* DIR must hold a CA; no lock (every write is atomic) */
	STORE_WRITE,  /* DIR must hold a CA; exclusive lock */
	STORE_CREATE, /* DIR is created when missing; exclusive lock */
};

/* Opens DIR. 0, or -1 after printing why. */
int store_open(struct store *st, const char *dir, enum store_mode mode);
/* Releases the lock; before that, when this run wrote the policy, removes
 * what killed runs left behind (store_leftovers) with a note on stderr. */
void store_close(struct store *st);

/* DIR/<fmt...> as a malloc'd string; NULL when out of memory. */
char *store_path(const struct store *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Loads DIR/policy.json into st->policy. 0 or -1 after printing why. */
int store_load_policy(struct store *st);

/* Bumps the generation and writes st->policy atomically, keeping the
 * file it replaces as DIR/policy.json.prev. 0 or -1 after printing why
 * (the previous policy file is then untouched). When only the directory
 * fsync after the rename fails, the new policy is live: that is a success
 * (0) with a warning that a crash could lose it, and callers must not undo
 * anything. */
int store_save_policy(struct store *st);

/* Creates DIR/<sub> with mode 0755 if missing; *created tells whether this
 * call made it. 0 or -1 after printing why. */
int store_mkdir(const struct store *st, const char *sub, bool *created);

/* Batch mode: file writes and new directories skip their own fsyncs (an
 * fsync per file made a 1,000-device batch 3x slower); store_sync then
 * makes everything durable with one syncfs before the policy that refers
 * to the files is written. Files are still replaced atomically. */
void store_defer_sync(bool on);
bool store_sync_deferred(void);
int store_sync(const struct store *st);

/* What killed mqadmin runs leave behind: temporary files (some hold
 * keys), directories of devices never recorded in the policy (a device
 * issue or batch killed before its policy write) and renew's staged
 * ".new" files. Only files mqadmin writes are counted or touched. */
struct store_leftovers {
	size_t temps, dirs, staged_dropped, staged_committed, total;
};

/* Finds them in dir against policy p; with fix, removes them (and moves
 * staged files the policy records into place); store_close does so under
 * the lock. 0, or -1 when out of memory. */
int store_leftovers(const char *dir, const struct mq_policy *p, bool fix,
		    struct store_leftovers *lo);
/* "2 temporary file(s), 1 device director(ies) ..." into buf; done: the
 * staged files were moved (fix), else they are still to be. */
void store_leftovers_describe(const struct store_leftovers *lo, bool done, char *buf, size_t len);
/* Whether a command holds DIR's lock right now (its files are in flight). */
bool store_busy(const char *dir);

#endif
