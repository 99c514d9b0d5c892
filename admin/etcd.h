/* A small client of etcd's v3 JSON gateway (/v3/kv/..., /v3/watch,
 * /v3/lease/...) over HTTP(S) with libcurl: keys and values travel base64
 * encoded inside JSON (cJSON). One struct etcd per process or thread. Every
 * call is bounded by the client's timeout except etcd_watch, which runs
 * until its callback stops it, its own limits or a stop flag. On a
 * connection failure a call moves on to the next endpoint. With a user
 * (etcd auth on) a call logs in first when it has no token for the
 * endpoint, and once more when etcd forgot the token; "leader changed" /
 * "no leader" (an election) is retried up to three times within ~2 s. */
#ifndef ADMIN_ETCD_H
#define ADMIN_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct etcd;

struct etcd_opts {
	const char *endpoints; /* "URL[,URL...]", e.g. http://127.0.0.1:2379 */
	const char *cacert;    /* PEM file of the CA that signed the members' certificates */
	const char *cert;      /* client certificate (PEM) for client-cert authentication */
	const char *key;       /* its key (PEM) */
	long timeout_ms;       /* per call; 0: 5000 */
	/* etcd auth (its JSON gateway takes no identity from a certificate):
	 * the user and the file holding its password (read once by etcd_new,
	 * refused when other users may read it). Both or neither. */
	const char *user, *password_file;
};

/* Return codes besides 0 and -1 (err names the endpoint and what to do). */
enum {
	ETCD_ERR = -1,
	ETCD_UNREACHABLE = -2, /* no endpoint answered (connection failed or timed out) */
	ETCD_COMPACTED = -3,   /* the revision asked for was compacted: resync in full */
};

int etcd_new(struct etcd **out, const struct etcd_opts *o, char *err, size_t errlen);
void etcd_free(struct etcd *e);
/* The endpoint the last call used (or tried last), for messages. */
const char *etcd_endpoint_last(const struct etcd *e);
/* Every endpoint, comma-separated, as configured. */
const char *etcd_endpoints(const struct etcd *e);

/* One key-value, as etcd returns it; key and value are NUL-terminated
 * copies (value NULL with keys_only). */
struct etcd_kv {
	char *key;
	size_t keylen;
	char *value;
	size_t vlen;
	int64_t create_rev, mod_rev, version, lease;
};

struct etcd_kvs {
	struct etcd_kv *v;
	size_t n;
	int64_t rev;   /* the header's revision: the store's revision at the read */
	int64_t count; /* keys in the range (all of them, not only this page) */
	bool more;     /* a limit cut the answer */
};
void etcd_kvs_free(struct etcd_kvs *k);

/* range_end: NULL = the one key; "" = every key with the prefix `key`
 * (etcd's prefix end computed here); else the end key (exclusive). */
struct etcd_range_req {
	const char *key;
	const char *range_end;
	int64_t revision;         /* 0: the latest */
	int64_t min_mod_revision; /* 0: no filter */
	int64_t limit;            /* 0: no limit */
	bool keys_only, count_only;
};
int etcd_range(struct etcd *e, const struct etcd_range_req *r, struct etcd_kvs *out, char *err,
	       size_t errlen);
/* The whole range in pages of `page` keys, all read at one revision (the
 * first page's; *rev gets it): cb per key-value; a non-zero cb return
 * stops and is returned. r->revision 0: the latest. */
int etcd_range_each(struct etcd *e, const struct etcd_range_req *r, int64_t page,
		    int (*cb)(void *arg, const struct etcd_kv *kv), void *arg, int64_t *rev,
		    char *err, size_t errlen);

/* The prefix end of key (etcd's rule: last byte + 1, carrying); malloc'd. */
char *etcd_prefix_end(const char *key);

/* Put one key (lease 0: none); *rev (may be NULL) gets the new revision. */
int etcd_put(struct etcd *e, const char *key, const char *value, size_t vlen, int64_t lease,
	     int64_t *rev, char *err, size_t errlen);
/* Deletes key (range_end as in etcd_range_req); *deleted may be NULL. */
int etcd_delete(struct etcd *e, const char *key, const char *range_end, int64_t *deleted,
		char *err, size_t errlen);

/* A transaction: compares, then puts and deletes if every compare holds. */
enum etcd_target { ETCD_VERSION, ETCD_CREATE, ETCD_MOD };
enum etcd_op { ETCD_EQUAL, ETCD_GREATER, ETCD_LESS, ETCD_NOT_EQUAL };
struct etcd_txn;
struct etcd_txn *etcd_txn_new(void);
void etcd_txn_free(struct etcd_txn *t);
/* Each 0 or -1 (out of memory). */
int etcd_txn_compare(struct etcd_txn *t, const char *key, enum etcd_target target,
		     enum etcd_op op, int64_t v);
int etcd_txn_put(struct etcd_txn *t, const char *key, const char *value, size_t vlen,
		 int64_t lease);
int etcd_txn_delete(struct etcd_txn *t, const char *key);
/* The number of puts and deletes so far. */
size_t etcd_txn_ops(const struct etcd_txn *t);
/* Runs t. 0 with *ok: whether the compares held (then the writes were
 * made at *rev); when they did not, etcd_txn_failed tells which. */
int etcd_txn_commit(struct etcd *e, struct etcd_txn *t, bool *ok, int64_t *rev, char *err,
		    size_t errlen);
/* After a failed commit: the first compared key whose compare failed,
 * with its current mod revision (0: the key does not exist). 0, or 1
 * when none is known. */
int etcd_txn_failed(const struct etcd_txn *t, const char **key, int64_t *mod_rev);

/* Leases. */
int etcd_lease_grant(struct etcd *e, int64_t ttl_s, int64_t *id, char *err, size_t errlen);
/* *ttl (may be NULL) gets the remaining TTL; a lease that expired gives -1
 * with "lease ... not found" in err. */
int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl, char *err, size_t errlen);
int etcd_lease_revoke(struct etcd *e, int64_t id, char *err, size_t errlen);

/* Watch. */
enum { ETCD_EV_PUT = 0, ETCD_EV_DELETE = 1 };
struct etcd_event {
	int type;
	struct etcd_kv kv; /* a delete has key and mod_rev (the delete's revision) only */
};
struct etcd_watch_req {
	const char *key, *range_end; /* as etcd_range_req */
	int64_t start_revision;      /* 0: from now */
	bool progress_notify;        /* ask etcd for empty batches now and then */
	long idle_ms;                /* > 0: give up (ETCD_UNREACHABLE) after this long without data */
	long timeout_ms;             /* > 0: return 0 after this long in all */
	const volatile int *stop;    /* non-zero: return 0 at the next chance (~100 ms) */
	/* Called now and then while the stream is open (curl's progress
	 * callback: about once a second when idle); a non-zero return
	 * ends the watch and is returned. */
	int (*tick)(void *arg);
};
/* cb gets each batch (n may be 0: the creation or a progress notice) with
 * the header revision; a non-zero return stops the watch and is returned.
 * Returns that, 0 on timeout/stop, -1, ETCD_UNREACHABLE or ETCD_COMPACTED
 * (*compact_rev: the oldest revision still kept; may be NULL). */
int etcd_watch(struct etcd *e, const struct etcd_watch_req *w,
	       int (*cb)(void *arg, const struct etcd_event *ev, size_t n, int64_t rev), void *arg,
	       int64_t *compact_rev, char *err, size_t errlen);

#endif
