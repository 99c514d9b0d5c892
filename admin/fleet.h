/* The fleet's policy in etcd (issue 17, docs/FLEET.md): the key layout
 * under the prefix P, applying etcd's keys to a local store (the
 * administrator's DIR/store as a cache, or a broker's store by `mqadmin
 * sync`), and pushing a command's local changes to etcd as one
 * transaction that compares revisions.
 *
 *   P devices/NAME   a device record's JSON (the store's record)
 *   P rules/ID       a rule record's JSON (ID decimal)
 *   P meta/KEY       crl_number, next_rule_id (decimal), deleted (JSON), txn
 *   P crl.pem        the CA-signed CRL
 *   P brokers/INSTANCE, P connected/INSTANCE/CLIENT   (sync's, under lease)
 *
 * The policy keys are the range [P "crl.pem", P "rules0"): watch that. */
#ifndef ADMIN_FLEET_H
#define ADMIN_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd.h"
#include "mq_store.h"

#define FLEET_PREFIX_DEFAULT "/mqcert/"

/* Where etcd is: --etcd/--etcd-prefix, $MQADMIN_ETCD/$MQADMIN_ETCD_PREFIX,
 * the config file's etcd/etcd_prefix/etcd_cacert/etcd_cert/etcd_key/
 * etcd_user/etcd_password_file. */
struct fleet_cfg {
	const char *endpoints; /* NULL: no etcd */
	const char *prefix;    /* NULL: FLEET_PREFIX_DEFAULT */
	const char *cacert, *cert, *key;
	const char *user, *password_file; /* etcd auth: both or neither */
};
/* Sets the process's configuration (copied); NULL members keep theirs. */
int fleet_configure(const struct fleet_cfg *c);
/* Whether etcd is configured (the admin's store is then etcd's cache). */
bool fleet_enabled(void);
const char *fleet_prefix(void);
/* A client of the configured etcd. 0 or -1 + err. */
int fleet_connect(struct etcd **e, char *err, size_t errlen);

enum fleet_kind {
	FLEET_DEVICE,
	FLEET_RULE,
	FLEET_META,
	FLEET_CRL,
	FLEET_BROKER,
	FLEET_CONNECTED,
	FLEET_OTHER, /* outside the layout */
};
/* Classifies a full key; *rest points after "P devices/" etc. */
enum fleet_kind fleet_key_kind(const char *prefix, const char *key, const char **rest);
/* P + rel ("devices/NAME", ...), malloc'd. */
char *fleet_key(const char *prefix, const char *rel);
/* The policy range [P "crl.pem", P "rules0"), malloc'd. */
int fleet_policy_range(const char *prefix, char **key, char **end);

/* What fleet_apply did. crl_pem: the P crl.pem value seen (malloc'd; the
 * caller installs it after verifying it against DIR/ca.crt), or NULL. */
struct fleet_result {
	size_t applied, skipped, unchanged;
	char *crl_pem;
	size_t crl_len;
};
void fleet_result_free(struct fleet_result *r);

/* Applies a batch of etcd events (a range's kvs as ETCD_EV_PUT events) to
 * db in ONE write transaction: device and rule records through
 * mq_store_put_device/delete_device/put_rule/delete_rule, meta values, each
 * key's revision, and meta "etcd_rev" = rev (when rev > 0). A record that
 * does not parse is reported on stderr with its key and skipped, never
 * applied. 0, or -1 + err (then nothing of the batch is in db). */
int fleet_apply(struct mq_store *db, const char *prefix, const struct etcd_event *ev, size_t n,
		int64_t rev, struct fleet_result *res, char *err, size_t errlen);

/* The whole policy range at one revision against db: puts what differs,
 * deletes what etcd no longer has, sets etcd_rev. */
int fleet_resync(struct mq_store *db, struct etcd *e, const char *prefix,
		 struct fleet_result *res, char *err, size_t errlen);

/* Catches db up with etcd in O(change): watches from meta etcd_rev + 1 up
 * to the last mqadmin transaction (P meta/txn); a full resync when there
 * is no etcd_rev or etcd compacted it; seeds an empty etcd from db (its
 * first use with an existing store). *keys_read (may be NULL): how many
 * keys were read. 0 or an ETCD_* code + err. */
/* Where etcd stands, from one range read (P meta/epoch .. meta/txn): its
 * revision, the mod revision of the last mqadmin transaction's marker (0:
 * none) and the reseed epoch (0: none); read: keys read. */
struct fleet_marks {
	int64_t rev, txn_rev;
	uint64_t epoch;
	size_t read;
};
int fleet_marks_read(struct etcd *e, const char *prefix, struct fleet_marks *m, char *err,
		     size_t errlen);
/* Whether etcd went back from what a store recorded (the etcd revision it
 * applied, the last transaction marker it saw, its device count): a
 * rebuilt etcd, or one restored from an older backup. */
bool fleet_went_back(const struct fleet_marks *m, uint64_t rev_seen, uint64_t txn_seen,
		     size_t ndev);
int fleet_catchup(struct mq_store *db, struct etcd *e, const char *prefix, size_t *keys_read,
		  char *err, size_t errlen);

/* Inside db's write transaction, before its commit: pushes what the
 * transaction changed since store sequence seq_before (its log) to etcd as
 * one transaction comparing each key's revision with the one the cache
 * holds (new keys: create_revision 0), then records the new revisions in
 * the transaction. 0; 1 conflict (message printed, nothing written
 * anywhere once the caller aborts); or -1 after printing why. */
int fleet_push(struct mq_store *db, struct etcd *e, const char *prefix, uint64_t seq_before,
	       const char *crl_pem);

/* fleet_catchup's code when etcd holds an older policy than the cache saw
 * (rebuilt, or restored from a backup): nothing was applied; the operator
 * chooses (fleet_reseed, or a new cache). */
#define FLEET_REBUILT (-10)

/* Puts db's whole policy into etcd under prefix, replacing what etcd holds
 * there (no compares: the operator confirmed, MQADMIN_ETCD_RESEED=1), and
 * records the revision. 0 or -1 after printing why. */
int fleet_reseed(struct mq_store *db, struct etcd *e, const char *prefix);

/* The revision of this process's last etcd transaction (fleet_push), 0
 * before any: what a fleet --wait waits for. */
int64_t fleet_txn_rev(void);

/* The SHA-256 fingerprint of dir/ca.crt: 0, 1 no ca.crt, -1 + err. */
int fleet_ca_fingerprint(const char *dir, char fpr[65], char *err, size_t errlen);
/* P meta/ca_fingerprint, set once (first use), against fpr: 0 the same CA
 * (or none kept), 1 another CA (err says), or an ETCD_* code.
 * FLEET_CA_NEW: a CA made just now (refused also when etcd holds devices
 * but no fingerprint); FLEET_CA_CLAIM: puts fpr when etcd holds none. */
enum { FLEET_CA_NEW = 1, FLEET_CA_CLAIM = 2 };
int fleet_check_ca(struct etcd *e, const char *prefix, const char *fpr, unsigned flags,
		   char *err, size_t errlen);

/* Publishes the CA-signed CRL (PEM) as P crl.pem unless etcd holds one
 * with the same or a higher CRL number (compare-and-put, retried). 0 or
 * an ETCD_* code + err. */
int fleet_put_crl(struct etcd *e, const char *prefix, const char *pem, size_t len, char *err,
		  size_t errlen);

/* Installs pem (the fleet's P crl.pem, fleet_result.crl_pem) as
 * dir/crl.pem when it verifies against dir/ca.crt and its CRL number is
 * above the installed one's. 0 installed, 1 not newer, -1 + err (bad
 * signature, not a CRL, write failed: the CRL in place stays). */
int fleet_install_crl(const char *dir, const char *pem, size_t len, char *err, size_t errlen);

#endif
