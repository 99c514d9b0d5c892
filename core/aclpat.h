/* Private to the ACL engine (acl.c; tests/support/naive.c, the reference
 * scan, too): a client's substitution values and the matching of one
 * pattern level against one topic level. */
#ifndef MQ_ACLPAT_H
#define MQ_ACLPAT_H

#include <stdbool.h>
#include <stddef.h>

#include "mq_acl.h"

enum aclpat_var {
	ACLPAT_U,
	ACLPAT_C,
	ACLPAT_CN,
	ACLPAT_NVARS,
};

/* Usable values only: a NULL val (or nou == 0) matches nothing. */
struct aclpat_vals {
	const char *val[ACLPAT_NVARS];
	size_t len[ACLPAT_NVARS];
	const char **ou;
	size_t *oulen;
	size_t nou;
	void *mem; /* one block holding every copy above */
};

/* Copies the identity's usable values; username overrides id->username
 * when id->username is NULL. 0, or -1 when out of memory. */
int aclpat_vals_init(struct aclpat_vals *v, const struct mq_acl_ident *id, const char *username);
void aclpat_vals_release(struct aclpat_vals *v);

/* Whether the pattern level [p, p+len) holds a placeholder (%% aside). */
bool aclpat_level_has_placeholder(const char *p, size_t len);
/* Copies the literal level [p, p+len) to dst with %% turned into %, and
 * returns the new length. dst holds at least len bytes. */
size_t aclpat_level_unescape(char *dst, const char *p, size_t len);
/* Whether topic level t (tlen bytes) equals pattern level p after
 * substitution: values compare literally, %{ou} against each OU. */
bool aclpat_level_match(const char *p, size_t plen, const char *t, size_t tlen,
			const struct aclpat_vals *v);
/* Whether some topic level matches the pattern level: every placeholder in
 * it has a value. */
bool aclpat_level_bound(const char *p, size_t plen, const struct aclpat_vals *v);

#endif
