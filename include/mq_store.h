/* The policy store: DIR/store/{data,lock}.mdb, an LMDB environment
 * (docs/STORE.md). mqadmin writes it, one durable transaction per command;
 * the plugin reads it in place, one short read transaction per event.
 * Records are the device and rule objects of policy.json (the policy.c
 * codec); integers in keys and meta are big-endian. */
#ifndef MQ_STORE_H
#define MQ_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mq_policy.h"

#define MQ_STORE_VERSION 1

struct mq_store; /* an open environment: DIR/store/{data,lock}.mdb */
/* MQ_STORE_NOLOCK (with RDONLY): no reader table, for a reader that may
 * not write lock.mdb and instead holds off writers by other means. */
enum { MQ_STORE_RDONLY = 1, MQ_STORE_NOLOCK = 2 };

/* Opens (read-write: creates when empty) the store in store_dir, which
 * must exist. Refuses a store of an unknown version, clearly. 0 or -1. */
int mq_store_open(struct mq_store **out, const char *store_dir, unsigned flags,
		  char *err, size_t errlen);
void mq_store_close(struct mq_store *s);

/* Reader: one read transaction per event, renewed/reset (never held
 * between events). Every lookup below runs inside the current read or
 * write transaction. */
int mq_store_read_begin(struct mq_store *s, char *err, size_t errlen);
void mq_store_read_end(struct mq_store *s);
uint64_t mq_store_seq(struct mq_store *s); /* meta.seq inside the txn */
/* A poller's cheap "did anything commit?": the id of the newest committed
 * write transaction, read from the map's meta pages without a read
 * transaction (0 on error), and the id of the snapshot the current read
 * transaction sees (0 outside one). The first may run ahead of what a read
 * transaction begun at the same moment sees: compare it with the second as
 * last read, never with itself. */
uint64_t mq_store_last_txnid(struct mq_store *s);
uint64_t mq_store_read_txnid(struct mq_store *s);

/* 0 found (*out: a parsed copy, free with mq_device_free), 1 not found, -1 error. */
int mq_store_device_by_fpr(struct mq_store *s, const char *fpr_hex, struct mq_device **out,
			   char *err, size_t errlen);
int mq_store_device_get(struct mq_store *s, const char *name, struct mq_device **out,
			char *err, size_t errlen);
int mq_store_device_by_user(struct mq_store *s, const char *username, struct mq_device **out,
			    char *err, size_t errlen);
/* name's stored JSON, pointing into the map (valid until the transaction
 * ends): 0, 1 absent, -1. */
int mq_store_device_json(struct mq_store *s, const char *name, const char **json, size_t *len,
			 char *err, size_t errlen);
/* The name of username's device into name (len bytes): 0, 1 absent, -1. */
int mq_store_name_by_user(struct mq_store *s, const char *username, char *name, size_t len,
			  char *err, size_t errlen);
/* The device name of every certificate that is not active (revoked or
 * retired: the CRL's entries), in serial order; a name may repeat. */
int mq_store_revoked_each(struct mq_store *s, int (*cb)(void *arg, const char *name), void *arg,
			  char *err, size_t errlen);
/* The CRL's entries from the device records (every certificate that is not
 * active), in the CRL's order (serial length, then serial bytes): cb gets
 * the serial (big-endian, no leading zero bytes), whether it is retired
 * (else revoked), its date (0: none recorded) and the revocation reason's
 * text (NULL: none). A non-zero cb return stops and is returned. 1 when
 * the index is not current (a store last written by an mqadmin that did
 * not keep it: the next write transaction rebuilds it; meanwhile use
 * mq_store_revoked_each and the records), 0, -1. */
int mq_store_crl_each(struct mq_store *s,
		      int (*cb)(void *arg, const unsigned char *serial, size_t len, bool retired,
				time_t when, const char *reason),
		      void *arg, char *err, size_t errlen);
/* Calls cb with the name of each device holding a certificate whose
 * serial is hex, or (hex of 4 digits or more) whose serial or fingerprint
 * may start with hex: a superset, in no order, names may repeat. */
int mq_store_cert_names(struct mq_store *s, const char *hex,
			int (*cb)(void *arg, const char *name), void *arg, char *err, size_t errlen);
/* All rules into p (a policy holding only rules; ids kept). 0 or -1. */
int mq_store_rules_load(struct mq_store *s, struct mq_policy *p, char *err, size_t errlen);

/* Calls cb for each change with seq > after, in order: kind 'D' device
 * (key = name), 'R' rules, 'C' CRL/meta, 'I' everything (import/migration:
 * re-judge all). Returns 0, -1 on error, or 1 when `after` is below the
 * trimmed log's floor (gap: the caller re-judges everything). A non-zero
 * cb return stops the walk and is returned. */
int mq_store_changes(struct mq_store *s, uint64_t after,
		     int (*cb)(void *arg, uint64_t seq, char kind, const char *key), void *arg,
		     char *err, size_t errlen);

/* Every device record in name order: cb gets the name and the stored JSON
 * (valid only during the call). A non-zero cb return stops and is returned. */
int mq_store_devices_each(struct mq_store *s,
			  int (*cb)(void *arg, const char *name, const char *json, size_t len),
			  void *arg, char *err, size_t errlen);
/* Every rule record in id order, as mq_store_devices_each. */
int mq_store_rules_each(struct mq_store *s,
			int (*cb)(void *arg, unsigned long id, const char *json, size_t len),
			void *arg, char *err, size_t errlen);
/* Active certificates (status "active": neither retired nor revoked;
 * stores written before this rule may list others: check the record)
 * with from <= not_after < to, in not_after order: cb gets
 * not_after, the fingerprint (hex) and the device's name. */
int mq_store_expiry_range(struct mq_store *s, time_t from, time_t to,
			  int (*cb)(void *arg, time_t not_after, const char *fpr, const char *name),
			  void *arg, char *err, size_t errlen);
/* The covering expiring index: one entry per device with a certificate in
 * use, with not_after < to, in (not_after, fingerprint) order: cb gets
 * not_after, the serial's text and the device's name: the answer of
 * mq_device_cert_in_use, unless timed (a retire_after deadline makes the
 * answer depend on the time: read the record and ask it; not_after is then
 * the soonest the answer can have). 1 when the index is not current (a
 * store last written by an mqadmin that did not keep it: the next write
 * transaction rebuilds it; meanwhile use the records), 0, -1. */
int mq_store_expiring_range(struct mq_store *s, time_t to,
			    int (*cb)(void *arg, time_t not_after, const char *serial,
				      const char *name, bool timed),
			    void *arg, char *err, size_t errlen);
/* cb is called before a write transaction rebuilds an index from every
 * record (what: "expiring"; n: the number of records), so that the caller
 * can say why this command takes longer, once. */
void mq_store_set_notice(struct mq_store *s, void (*cb)(void *arg, const char *what, size_t n),
			 void *arg);
/* The number of device records, or (size_t)-1 on error. */
size_t mq_store_device_count(struct mq_store *s);

/* Meta values: 0 found, 1 absent (*v = 0), -1 error. */
int mq_store_meta_get(struct mq_store *s, const char *key, uint64_t *v);
/* A text meta value (the "deleted" list): malloc'd copy in *out, NULL
 * when absent. 0 or -1. */
int mq_store_meta_get_text(struct mq_store *s, const char *key, char **out, size_t *len);

/* ---- writer (mqadmin, under DIR's lock) ---- */
int mq_store_write_begin(struct mq_store *s, char *err, size_t errlen);
/* Commits durably; *seq (may be NULL) gets the new meta.seq. 0 or -1
 * (then nothing of the transaction is in the store). */
int mq_store_write_commit(struct mq_store *s, uint64_t *seq, char *err, size_t errlen);
void mq_store_write_abort(struct mq_store *s);
/* Writes d (replacing its record of the same name), keeping every index
 * in step and appending one 'D' log entry; an unchanged record writes
 * nothing. Refuses a username or fingerprint of another device. 0 or -1. */
int mq_store_put_device(struct mq_store *s, const struct mq_device *d, char *err, size_t errlen);
/* Removes name's record and index entries, one 'D' entry. 0, 1 absent, -1. */
int mq_store_delete_device(struct mq_store *s, const char *name, char *err, size_t errlen);
/* Rules: one 'R' log entry each (key: the id in decimal). */
int mq_store_put_rule(struct mq_store *s, const struct mq_rule *r, char *err, size_t errlen);
int mq_store_delete_rule(struct mq_store *s, unsigned long id, char *err, size_t errlen);
/* Meta values (no log entry: add one with mq_store_log when readers care). */
int mq_store_meta_set(struct mq_store *s, const char *key, uint64_t v, char *err, size_t errlen);
int mq_store_meta_set_text(struct mq_store *s, const char *key, const char *text,
			   char *err, size_t errlen);
/* Until the transaction ends, record writes append no log entry (an
 * import or migration adds one 'I' instead). */
void mq_store_write_quiet(struct mq_store *s, bool on);
/* Appends one log entry (kind and key as in mq_store_changes). 0 or -1. */
int mq_store_log(struct mq_store *s, char kind, const char *key, char *err, size_t errlen);
/* The number of log entries, or (size_t)-1 on error. */
size_t mq_store_log_count(struct mq_store *s);
/* Drops log entries below seq `below` and raises log_floor to it. */
int mq_store_log_trim(struct mq_store *s, uint64_t below, char *err, size_t errlen);
/* Removes every device and rule record, index entry and meta text value
 * (import): log and seq stay. 0 or -1. */
int mq_store_clear(struct mq_store *s, char *err, size_t errlen);

#endif
