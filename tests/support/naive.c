/* Test support, never linked into mqcert.so or mqadmin: the ACL decision
 * written as plainly as possible (a scan over every rule) and plain MQTT
 * topic matching. The compiled index (core/acl.c) must agree with the scan
 * on every input; the unit tests and fuzz/fuzz_policy.c cross-check the
 * two, and bench/acl_bench.c measures the index against it. */
#include "naive.h"

#include <stdio.h>
#include <string.h>

#include "aclpat.h"
#include "mq_topic.h"

enum naive_kind {
	NAIVE_END,
	NAIVE_NAME,
	NAIVE_PLUS,
	NAIVE_HASH,
};

struct naive_level {
	const char *p; /* start of the level, NULL past the end */
	size_t len;
	enum naive_kind kind;
};

static void naive_level_at(struct naive_level *l, const char *p)
{
	l->p = p;
	if (!p) {
		l->len = 0;
		l->kind = NAIVE_END;
		return;
	}
	l->len = strcspn(p, "/");
	if (l->len == 1 && *p == '+')
		l->kind = NAIVE_PLUS;
	else if (l->len == 1 && *p == '#')
		l->kind = NAIVE_HASH;
	else
		l->kind = NAIVE_NAME;
}

static void naive_level_next(struct naive_level *l)
{
	naive_level_at(l, l->p[l->len] ? l->p + l->len + 1 : NULL);
}

static bool naive_dollar(const struct naive_level *l, int depth)
{
	return depth == 0 && l->kind == NAIVE_NAME && l->len && l->p[0] == '$';
}

/* Topic name t matches pattern p. */
static bool naive_match(const char *p, const char *t, const struct aclpat_vals *v)
{
	struct naive_level pl, tl;

	naive_level_at(&pl, p);
	naive_level_at(&tl, t);
	for (int k = 0;; k++) {
		if (pl.kind == NAIVE_HASH)
			return !naive_dollar(&tl, k);
		if (pl.kind == NAIVE_END || tl.kind == NAIVE_END)
			return pl.kind == tl.kind;
		if (pl.kind == NAIVE_PLUS ? naive_dollar(&tl, k)
					  : !aclpat_level_match(pl.p, pl.len, tl.p, tl.len, v))
			return false;
		naive_level_next(&pl);
		naive_level_next(&tl);
	}
}

/* Every topic filter f matches also matches pattern p. */
static bool naive_covers(const char *f, const char *p, const struct aclpat_vals *v)
{
	struct naive_level fl, pl;

	naive_level_at(&fl, f);
	naive_level_at(&pl, p);
	for (int k = 0;; k++) {
		if (pl.kind == NAIVE_HASH)
			return !naive_dollar(&fl, k);
		if (fl.kind == NAIVE_HASH)
			return false;
		if (fl.kind == NAIVE_END || pl.kind == NAIVE_END)
			return fl.kind == pl.kind;
		if (fl.kind == NAIVE_PLUS) {
			if (pl.kind != NAIVE_PLUS)
				return false;
		} else if (pl.kind == NAIVE_PLUS) {
			if (naive_dollar(&fl, k))
				return false;
		} else if (!aclpat_level_match(pl.p, pl.len, fl.p, fl.len, v)) {
			return false;
		}
		naive_level_next(&fl);
		naive_level_next(&pl);
	}
}

/* Some topic matches both filter f and pattern p. Past a '#' of the filter
 * the pattern's remaining levels are not examined (placeholders there count
 * as matching), which the index mirrors with per-subtree summaries. */
static bool naive_intersects(const char *f, const char *p, const struct aclpat_vals *v)
{
	struct naive_level fl, pl;

	naive_level_at(&fl, f);
	naive_level_at(&pl, p);
	for (int k = 0;; k++) {
		if (fl.kind == NAIVE_HASH)
			return !naive_dollar(&pl, k);
		if (pl.kind == NAIVE_HASH)
			return !naive_dollar(&fl, k);
		if (fl.kind == NAIVE_END || pl.kind == NAIVE_END)
			return fl.kind == pl.kind;
		if (fl.kind == NAIVE_PLUS) {
			if (pl.kind == NAIVE_NAME &&
			    (naive_dollar(&pl, k) || !aclpat_level_bound(pl.p, pl.len, v)))
				return false;
		} else if (pl.kind == NAIVE_PLUS) {
			if (naive_dollar(&fl, k))
				return false;
		} else if (!aclpat_level_match(pl.p, pl.len, fl.p, fl.len, v)) {
			return false;
		}
		naive_level_next(&fl);
		naive_level_next(&pl);
	}
}

static bool naive_applies(const struct mq_rule *r, const struct mq_device *d)
{
	switch (r->kind) {
	case MQ_SUBJ_ALL:
		return true;
	case MQ_SUBJ_DEVICE:
		return !strcmp(r->subject, d->name);
	case MQ_SUBJ_GROUP:
		return mq_device_in_group(d, r->subject);
	}
	return false;
}

/* The ordering every decision uses: more specific pattern, then (when
 * prefer_deny) deny over allow, then the lower id. */
static bool naive_better(const struct mq_rule *r, const struct mq_rule *best, bool prefer_deny)
{
	int c;

	if (!best)
		return true;
	c = mq_pattern_cmp(r->topic, best->topic);
	if (c)
		return c > 0;
	if (prefer_deny && r->deny != best->deny)
		return r->deny;
	return r->id < best->id;
}

static void naive_rw(const struct mq_policy *p, const struct mq_device *d, const char *topic,
		     unsigned bit, const struct aclpat_vals *v, struct mq_acl_result *res)
{
	const struct mq_rule *best = NULL;

	for (size_t i = 0; i < p->nrules; i++) {
		const struct mq_rule *r = p->rules[i];

		if ((r->access & bit) && naive_applies(r, d) && naive_match(r->topic, topic, v) &&
		    naive_better(r, best, true))
			best = r;
	}
	res->rule = best;
	res->reason = best ? MQ_ACL_BY_RULE : MQ_ACL_NO_MATCH;
	res->allow = best && !best->deny;
}

static void naive_subscribe(const struct mq_policy *p, const struct mq_device *d,
			    const char *filter, const struct aclpat_vals *v,
			    struct mq_acl_result *res)
{
	const struct mq_rule *allow = NULL, *deny = NULL;

	for (size_t i = 0; i < p->nrules; i++) {
		const struct mq_rule *r = p->rules[i];

		if ((r->access & MQ_ACCESS_READ) && !r->deny && naive_applies(r, d) &&
		    naive_covers(filter, r->topic, v) && naive_better(r, allow, false))
			allow = r;
	}
	if (!allow) {
		res->reason = MQ_ACL_NOT_COVERED;
		return;
	}
	for (size_t i = 0; i < p->nrules; i++) {
		const struct mq_rule *r = p->rules[i];

		if ((r->access & MQ_ACCESS_READ) && r->deny && naive_applies(r, d) &&
		    mq_pattern_cmp(r->topic, allow->topic) >= 0 &&
		    naive_intersects(filter, r->topic, v) && naive_better(r, deny, false))
			deny = r;
	}
	res->reason = MQ_ACL_BY_RULE;
	res->rule = deny ? deny : allow;
	res->allow = !deny;
}

bool naive_acl_check(const struct mq_policy *p, const struct mq_acl_ident *id,
			const char *topic, enum mq_acl_access access,
			struct mq_acl_result *res)
{
	struct mq_acl_result tmp;
	const struct mq_device *d = id->device ? mq_policy_find_device(p, id->device) : NULL;
	struct aclpat_vals v;
	const char *filter;

	if (!res)
		res = &tmp;
	memset(res, 0, sizeof(*res));
	res->reason = MQ_ACL_BAD_ACCESS;
	if (access != MQ_ACL_READ && access != MQ_ACL_WRITE && access != MQ_ACL_SUBSCRIBE &&
	    access != MQ_ACL_UNSUBSCRIBE)
		return false;
	if (access == MQ_ACL_UNSUBSCRIBE) {
		res->reason = MQ_ACL_UNSUBSCRIBE_OK;
		res->allow = true;
		return true;
	}
	res->reason = MQ_ACL_NO_DEVICE;
	if (!d)
		return false;
	res->reason = MQ_ACL_BAD_TOPIC;
	filter = access == MQ_ACL_SUBSCRIBE ? mq_filter_unshare(topic) : NULL;
	if (access == MQ_ACL_SUBSCRIBE ? !filter : !mq_topic_name_valid(topic))
		return false;
	/* Out of memory: deny, like any failure on this side. */
	res->reason = MQ_ACL_NO_MATCH;
	if (aclpat_vals_init(&v, id, d->username))
		return false;
	if (access == MQ_ACL_SUBSCRIBE)
		naive_subscribe(p, d, filter, &v, res);
	else
		naive_rw(p, d, topic, (unsigned)access, &v, res);
	aclpat_vals_release(&v);
	return res->allow;
}

bool naive_topic_match(const char *filter, const char *topic)
{
	const char *f = filter, *t = topic;

	if (*t == '$' && (*f == '+' || *f == '#'))
		return false;
	for (;;) {
		if (*f == '#')
			return true;
		if (*f == '+') {
			while (*t && *t != '/')
				t++;
			f++;
		} else {
			while (*f && *f != '/' && *f == *t) {
				f++;
				t++;
			}
			if ((*f && *f != '/') || (*t && *t != '/'))
				return false;
		}
		/* Both at a level end. */
		if (!*f && !*t)
			return true;
		if (!*f || !*t) {
			/* "a/#" matches "a": the parent level. */
			return !*t && f[0] == '/' && f[1] == '#' && !f[2];
		}
		f++;
		t++;
	}
}
