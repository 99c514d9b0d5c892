/* The PKI directory: its layout, its lock and its policy. Every command
 * that changes DIR holds the lock from open to close, so concurrent
 * mqadmin runs are serialised and never lose each other's writes. */
#ifndef ADMIN_STORE_H
#define ADMIN_STORE_H

#include <stdbool.h>

#include <stdint.h>
#include <time.h>

#include "mq_policy.h"
#include "mq_store.h"

enum store_mode {
	STORE_READ,   /* DIR must hold a CA; no lock (every write is atomic) */
	STORE_WRITE,  /* DIR must hold a CA; exclusive lock */
	STORE_CREATE, /* DIR is created when missing; exclusive lock */
};

struct store {
	char *dir;
	int lockfd;
	int shlockfd; /* a reader's shared lock on DIR/.lock (no lock.mdb access) */
	enum store_mode mode;
	struct mq_policy *policy;
	bool saved; /* st->policy is what the store holds (written by this run) */
	/* DIR/store, opened on first use (store_db); read-only for STORE_READ. */
	struct mq_store *db;
	uint64_t seq; /* the store's sequence after this run's last commit */
	/* st->policy holds only the devices loaded by name (store_load_devices):
	 * saving writes those, never scans the fleet. */
	bool partial;
	bool rules; /* a partial model holds every rule (store_load_rules) */
	char **loaded;
	size_t nloaded;
};

/* The user mosquitto runs as on Debian; owns DIR/audit. */
#define STORE_BROKER_USER "mosquitto"

/* Opens DIR. 0, or -1 after printing why. */
int store_open(struct store *st, const char *dir, enum store_mode mode);
/* Releases the lock; before that, when this run wrote the policy, removes
 * what killed runs left behind (store_leftovers) with a note on stderr. */
void store_close(struct store *st);

/* DIR/<fmt...> as a malloc'd string; NULL when out of memory. */
char *store_path(const struct store *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The policy store DIR/store, opened (and on the first run over an
 * installation that has only DIR/policy.json, created from it: the
 * migration, once, with a note) on first use. NULL after printing why. */
struct mq_store *store_db(struct store *st);

/* With --etcd: publishes the CRL just signed into DIR/crl.pem as the
 * fleet's (P crl.pem); a failure is a warning (the policy in etcd already
 * holds the revocation). */
void store_fleet_crl(const struct store *st, const char *pem, size_t len);

/* init with --etcd, before anything is written: refuses a CA whose
 * fingerprint (fpr, hex) is not the fleet's (fresh: a CA made just now,
 * refused by any fleet); else loads the fleet's policy (caught up into
 * DIR/store) into st->policy. 0 or -1 after printing why. */
int store_fleet_init(struct store *st, const char *fpr, bool fresh);
/* After init wrote ca.crt: records fpr as the fleet's CA when etcd holds
 * none yet. -1 when another CA claimed it meanwhile. */
int store_fleet_claim(struct store *st, const char *fpr);

/* Loads the whole policy from the store into st->policy (O(fleet): the
 * commands that need every device). 0 or -1 after printing why. */
int store_load_policy(struct store *st);

/* The O(change) paths: st->policy gets only the named devices (those that
 * exist), the meta values and the deleted list, no rules. Callable again
 * to add more. 0 or -1 after printing why. */
int store_load_devices(struct store *st, const char *const *names, size_t n);
/* Adds the device that holds username, if any. */
int store_load_user(struct store *st, const char *username);
/* Adds every device with a certificate in the CRL (revoked or retired):
 * what crl_write needs. Nothing to do on a whole model. */
int store_load_revoked(struct store *st);

/* Adds every rule (acl check on a partial model); saving then writes the
 * rules' changes too. */
int store_load_rules(struct store *st);
/* Adds every device holding a certificate whose serial is hex or whose
 * serial or fingerprint may start with it (cert revoke). */
int store_load_cert(struct store *st, const char *hex);
/* Whether any device is in group: 1, 0, -1 (unknown: an error, or on a
 * partial model the walk of the records, which stops at the first member,
 * took more than 100 ms: a warning's check). */
int store_group_has_members(struct store *st, const char *group);
/* Adds every device with a certificate whose not_after is before `before`
 * (the expiry index's range: expiring --within). */
int store_load_expiring(struct store *st, time_t before);

/* expiring --within: cb gets each device whose certificate in use (the
 * rule of mq_device_cert_in_use at now) has not_after <= limit, in the
 * index's order (not_after), from the covering expiring index alone (O(result), no record
 * read but those with a retire_after deadline). A non-zero cb return
 * stops it: -1. 1 when the index is not current (a store an older mqadmin
 * wrote last; the next writer rebuilds it): use store_load_expiring and
 * the records. 0, or -1 after printing why. */
int store_expiring_each(struct store *st, time_t now, time_t limit,
			int (*cb)(void *arg, const char *name, const char *serial, time_t not_after),
			void *arg);

/* Bumps the generation and writes what changed in st->policy against the
 * store (each device and rule compared as JSON: O(change) writes and log
 * entries) in one durable transaction. 0 or -1 after printing why (the
 * store is then unchanged). */
int store_save_policy(struct store *st);

/* Replaces the whole store with p (validated by the caller), in one
 * transaction with one 'I' log entry; st takes p (st->policy). The
 * generation and the CRL number never go down. 0 or -1 after printing why
 * (p is then still the caller's). */
int store_import_policy(struct store *st, struct mq_policy *p);

/* The store's sequence after the last commit of this process (0: none):
 * what --wait waits for the brokers to apply. */
uint64_t store_committed_seq(void);

/* Single-record writes for the O(change) paths: begin, put/delete through
 * mq_store_*, then store_commit (bumps the generation, commits, mirrors).
 * 0 or -1 after printing why (store_commit aborts on failure). */
int store_begin(struct store *st);
int store_commit(struct store *st);

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

/* Records, before a command writes files in devices/NAME, that it does:
 * a run killed meanwhile is cleaned up after by the next writer, O(names).
 * 0 or -1 after printing why. */
int store_intent(const struct store *st, const char *const *names, size_t n);

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
