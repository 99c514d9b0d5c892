/* The ACL engine shared by the plugin (MOSQ_EVT_ACL_CHECK) and mqadmin
 * (`acl check`): one decision procedure, documented in README.md (Access control).
 *
 * Life cycle:
 *   idx = mq_acl_index_build(policy)      once per policy generation (any thread)
 *   mq_acl_client_init(&cl, idx, &ident)  once per connect, and again for
 *                                         every connected client after a swap
 *   mq_acl_check(cl, topic, access, &res) per message: no malloc, no I/O
 *   mq_acl_allowed(cl, topic, access)     the same yes/no through a memo
 *   mq_acl_client_free(cl); mq_acl_index_free(idx); mq_policy_free(policy)
 *
 * Lifetimes: the index borrows the policy's rules and names (free the index
 * first); a client borrows its index (re-initialise or free every client
 * built from an index before freeing that index). The index is immutable
 * after build, so any number of threads may check against it at once;
 * mq_acl_allowed writes to its client, so one thread per client at a time. */
#ifndef MQ_ACL_H
#define MQ_ACL_H

#include <stdbool.h>
#include <stddef.h>

#include "mq_policy.h"

/* Same numbers as MOSQ_ACL_READ/WRITE/SUBSCRIBE/UNSUBSCRIBE. */
enum mq_acl_access {
	MQ_ACL_READ = 1,
	MQ_ACL_WRITE = 2,
	MQ_ACL_SUBSCRIBE = 4,
	MQ_ACL_UNSUBSCRIBE = 8,
};

enum mq_acl_reason {
	MQ_ACL_BY_RULE,       /* rule decided (allow or deny) */
	MQ_ACL_NO_MATCH,      /* read/write: no rule matches: deny by default */
	MQ_ACL_NOT_COVERED,   /* subscribe: no allow-read rule covers the filter */
	MQ_ACL_BAD_TOPIC,     /* malformed topic, filter or $share prefix */
	MQ_ACL_BAD_ACCESS,    /* access is none of the four values */
	MQ_ACL_NO_DEVICE,     /* naive check: device not in the policy */
	MQ_ACL_UNSUBSCRIBE_OK /* unsubscribe is always allowed */
};

struct mq_acl_result {
	bool allow;
	enum mq_acl_reason reason;
	const struct mq_rule *rule; /* the deciding rule when reason is BY_RULE */
};

/* Who is asking. Strings are borrowed for the call (client_init copies
 * them). NULL or empty values make their placeholder match nothing, as do
 * values starting with '$' or holding '/', '+' or '#': a substituted value
 * is compared literally with one topic level and never widens a pattern. */
struct mq_acl_ident {
	const char *device;    /* device name in the policy (required) */
	const char *username;  /* %u; NULL: the device's username */
	const char *client_id; /* %c */
	const char *cn;        /* %{cn} */
	const char *const *ou; /* %{ou}: a level matches any one of these */
	size_t nou;
};

struct mq_acl_index;
struct mq_acl_client;

/* Compiles every rule of p into per-subject tries. NULL when out of memory
 * (the policy's patterns were validated when it was parsed). */
struct mq_acl_index *mq_acl_index_build(const struct mq_policy *p);
void mq_acl_index_free(struct mq_acl_index *idx);

#define MQ_ACL_ENOMEM (-1)
#define MQ_ACL_ENODEV (-2)

/* Resolves which rule sets apply to the identity (all + its device + its
 * groups) and copies its substitution values. 0 and *out set, or
 * MQ_ACL_ENOMEM / MQ_ACL_ENODEV (device not in the index's policy) with
 * *out NULL. */
int mq_acl_client_init(struct mq_acl_client **out, const struct mq_acl_index *idx,
		       const struct mq_acl_ident *id);
/* The same, for a device the caller looked up itself (the plugin reads
 * devices from the store, not from the index's policy): an index built
 * from rules only serves any device. Strings are borrowed for the call. */
struct mq_acl_member {
	const char *name;
	const char *username;
	const char *const *groups;
	size_t ngroups;
};
int mq_acl_client_init_member(struct mq_acl_client **out, const struct mq_acl_index *idx,
			      const struct mq_acl_member *m, const struct mq_acl_ident *id);
void mq_acl_client_free(struct mq_acl_client *c);

/* The decision for one READ/WRITE on a topic name, SUBSCRIBE on a raw
 * filter (with any $share/GROUP/ prefix) or UNSUBSCRIBE. Returns res.allow;
 * c is required (from mq_acl_client_init); res may be NULL. Cost for READ
 * and WRITE: O(topic levels x applicable rule sets); allocation-free and
 * lock-free for every access. */
bool mq_acl_check(const struct mq_acl_client *c, const char *topic,
		  enum mq_acl_access access, struct mq_acl_result *res);

/* mq_acl_check(c, topic, access, NULL), remembering in c the last 8 READ
 * and WRITE decisions on topics of up to 56 bytes: a repeated topic costs a
 * few compares instead of a walk (a client that never repeats one soon
 * stops paying for the lookup). Everything a decision depends on is fixed
 * for c's life (a policy swap means new clients), so the memo needs no
 * invalidation. Allocation-free; not for concurrent use of one c. */
bool mq_acl_allowed(struct mq_acl_client *c, const char *topic, enum mq_acl_access access);

/* "read", "write", "subscribe", "unsubscribe"; "?" otherwise. */
const char *mq_acl_access_str(enum mq_acl_access a);
/* Parses those four names. 0, or -1. */
int mq_acl_access_parse(const char *s, enum mq_acl_access *out);

/* One line for humans and logs, e.g.
 *   "deny (rule 7: group:sensors deny write devices/#)"
 *   "deny (no rule matches: deny by default)"
 * Returns what snprintf returns. */
int mq_acl_result_str(const struct mq_acl_result *res, char *buf, size_t len);

#endif
