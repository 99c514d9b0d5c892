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
void store_close(struct store *st);

/* DIR/<fmt...> as a malloc'd string; NULL when out of memory. */
char *store_path(const struct store *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Loads DIR/policy.json into st->policy. 0 or -1 after printing why. */
int store_load_policy(struct store *st);

/* Bumps the generation and writes st->policy atomically. 0 or -1 after
 * printing why (the previous policy file is then untouched). */
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

#endif
