/* The policy model: devices, certificates, rules and the deleted list,
 * with the indexes kept in step (the JSON reader is policy_read.c, the
 * writer policy_write.c). */
#include "mq_policy.h"
#include "policy_int.h"
#include "mq_err.h"
#include "mq_names.h"
#include "mq_topic.h"

#include <stdlib.h>
#include <string.h>

struct mq_policy *mq_policy_new(void)
{
	struct mq_policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->next_rule_id = 1;
	mq_strmap_init(&p->by_name);
	mq_strmap_init(&p->by_username);
	mq_strmap_init(&p->by_fingerprint);
	return p;
}

static void policy_cert_free(struct mq_cert *c)
{
	if (!c)
		return;
	free(c->revoke_reason);
	free(c->retire_reason);
	free(c->san);
	free(c);
}

void policy_device_free(struct mq_device *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->ngroups; i++)
		free(d->groups[i]);
	free(d->groups);
	for (size_t i = 0; i < d->ncerts; i++)
		policy_cert_free(d->certs[i]);
	free(d->certs);
	/* The name lives in d's own block; so does the username when equal. */
	if (d->username != d->name)
		free(d->username);
	free(d);
}

static void policy_deleted_free(struct mq_deleted *x)
{
	if (!x)
		return;
	policy_device_free(x->device);
	free(x->archive);
	free(x);
}

static void policy_rule_free(struct mq_rule *r)
{
	if (!r)
		return;
	free(r->subject);
	free(r->topic);
	free(r);
}

void mq_policy_free(struct mq_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->ndevices; i++)
		policy_device_free(p->devices[i]);
	free(p->devices);
	for (size_t i = 0; i < p->nrules; i++)
		policy_rule_free(p->rules[i]);
	free(p->rules);
	for (size_t i = 0; i < p->ndeleted; i++)
		policy_deleted_free(p->deleted[i]);
	free(p->deleted);
	mq_strmap_release(&p->by_name);
	mq_strmap_release(&p->by_username);
	mq_strmap_release(&p->by_fingerprint);
	free(p);
}

/* Grows *arr (of pointers) to hold one more; 0 or -1. */
static int policy_reserve(void *arr, size_t n)
{
	void ***a = arr;
	void **na;

	/* Grow in powers of two: n is the current count. Start at one: most
	 * devices have a single certificate, and 100k of them add up. */
	if (n && (n & (n - 1)))
		return 0;
	na = realloc(*a, (n ? n * 2 : 1) * sizeof(void *));
	if (!na)
		return -1;
	*a = na;
	return 0;
}

struct mq_device *mq_policy_find_device(const struct mq_policy *p, const char *name)
{
	return name ? mq_strmap_get(&p->by_name, name) : NULL;
}

struct mq_device *mq_policy_find_username(const struct mq_policy *p, const char *username)
{
	return username ? mq_strmap_get(&p->by_username, username) : NULL;
}

struct mq_cert *mq_policy_find_fingerprint(const struct mq_policy *p, const char *fpr)
{
	return fpr ? mq_strmap_get(&p->by_fingerprint, fpr) : NULL;
}

struct mq_rule *mq_policy_find_rule(const struct mq_policy *p, unsigned long id)
{
	for (size_t i = 0; i < p->nrules; i++)
		if (p->rules[i]->id == id)
			return p->rules[i];
	return NULL;
}

/* A device outside any index, or NULL when out of memory. */
struct mq_device *policy_device_alloc(const char *name, const char *username)
{
	/* One block for the device and its name: a 100k-device policy is
	 * mostly small allocations, each with its own malloc overhead. */
	struct mq_device *d = calloc(1, sizeof(*d) + strlen(name) + 1);

	if (!d)
		return NULL;
	d->name = strcpy((char *)(d + 1), name);
	d->username = strcmp(username, name) ? strdup(username) : d->name;
	if (!d->username) {
		free(d);
		return NULL;
	}
	return d;
}

struct mq_device *mq_policy_add_device(struct mq_policy *p, const char *name,
				       const char *username, char *err, size_t errlen)
{
	struct mq_device *d = NULL;

	if (!username)
		username = name;
	if (!mq_name_valid(name)) {
		mq_errf(err, errlen, "invalid device name '%s': use 1-64 characters of A-Za-z0-9._-", name ? name : "");
		return NULL;
	}
	if (!mq_name_valid(username)) {
		mq_errf(err, errlen, "invalid username '%s': use 1-64 characters of A-Za-z0-9._-", username);
		return NULL;
	}
	if (mq_policy_find_device(p, name)) {
		mq_errf(err, errlen, "device '%s' already exists", name);
		return NULL;
	}
	if (mq_policy_find_username(p, username)) {
		mq_errf(err, errlen, "username '%s' is already used by device '%s'", username,
			   mq_policy_find_username(p, username)->name);
		return NULL;
	}
	d = policy_device_alloc(name, username);
	if (!d || policy_reserve(&p->devices, p->ndevices))
		goto oom;
	if (mq_strmap_put(&p->by_name, d->name, d))
		goto oom;
	if (mq_strmap_put(&p->by_username, d->username, d)) {
		mq_strmap_del(&p->by_name, d->name);
		goto oom;
	}
	p->devices[p->ndevices++] = d;
	return d;
oom:
	policy_device_free(d);
	mq_errf(err, errlen, "out of memory");
	return NULL;
}

/* Up to this many groups are deduplicated by comparing each with the kept
 * ones; more (a hostile policy: 50,000 groups took 8 s) through a map. */
#define POLICY_GROUPS_LINEAR 16

int mq_policy_set_groups(struct mq_device *d, char *const *groups, size_t n, char *err, size_t errlen)
{
	struct mq_strmap seen;
	char **ng = NULL;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (!mq_name_valid(groups[i])) {
			mq_errf(err, errlen, "invalid group name '%s': use 1-64 characters of A-Za-z0-9._-", groups[i]);
			return -1;
		}
	}
	mq_strmap_init(&seen);
	if (n && !(ng = calloc(n, sizeof(*ng))))
		goto oom;
	if (n > POLICY_GROUPS_LINEAR && mq_strmap_reserve(&seen, n))
		goto oom;
	for (size_t i = 0; i < n; i++) {
		bool dup = false;

		if (n > POLICY_GROUPS_LINEAR)
			dup = mq_strmap_get(&seen, groups[i]) != NULL;
		else
			for (size_t j = 0; j < k; j++)
				dup = dup || !strcmp(ng[j], groups[i]);
		if (dup)
			continue;
		if (!(ng[k] = strdup(groups[i])))
			goto oom;
		if (n > POLICY_GROUPS_LINEAR && mq_strmap_put(&seen, ng[k], ng[k])) {
			k++;
			goto oom;
		}
		k++;
	}
	mq_strmap_release(&seen);
	for (size_t i = 0; i < d->ngroups; i++)
		free(d->groups[i]);
	free(d->groups);
	d->groups = ng;
	d->ngroups = k;
	return 0;
oom:
	mq_strmap_release(&seen);
	for (size_t i = 0; i < k; i++)
		free(ng[i]);
	free(ng);
	mq_errf(err, errlen, "out of memory");
	return -1;
}

int mq_policy_set_username(struct mq_policy *p, struct mq_device *d, const char *username,
			   char *err, size_t errlen)
{
	struct mq_device *other = mq_policy_find_username(p, username);
	char *nu;

	if (!mq_name_valid(username)) {
		mq_errf(err, errlen, "invalid username '%s': use 1-64 characters of A-Za-z0-9._-",
			   username ? username : "");
		return -1;
	}
	if (other == d)
		return 0;
	if (other) {
		mq_errf(err, errlen, "username '%s' is already used by device '%s'", username,
			   other->name);
		return -1;
	}
	nu = strcmp(username, d->name) ? strdup(username) : d->name;
	/* Put the new key first so a failure leaves the old index intact. */
	if (!nu || mq_strmap_put(&p->by_username, nu, d)) {
		if (nu != d->name)
			free(nu);
		mq_errf(err, errlen, "out of memory");
		return -1;
	}
	mq_strmap_del(&p->by_username, d->username);
	if (d->username != d->name)
		free(d->username);
	d->username = nu;
	return 0;
}

bool mq_device_in_group(const struct mq_device *d, const char *group)
{
	for (size_t i = 0; i < d->ngroups; i++)
		if (!strcmp(d->groups[i], group))
			return true;
	return false;
}

/* Copies tmpl into a new cert of d; indexed (and then unique) unless d is
 * a deleted device's record. 0 or -1 + err. */
int policy_cert_attach(struct mq_policy *p, struct mq_device *d,
			const struct mq_cert *tmpl, bool index, char *err, size_t errlen)
{
	struct mq_cert *c;

	if (!mq_fingerprint_valid(tmpl->fingerprint)) {
		mq_errf(err, errlen, "invalid fingerprint '%s'", tmpl->fingerprint);
		return -1;
	}
	if (index && mq_policy_find_fingerprint(p, tmpl->fingerprint)) {
		mq_errf(err, errlen, "certificate %s is already in the policy", tmpl->fingerprint);
		return -1;
	}
	/* calloc: the oom path frees c's strings. */
	c = calloc(1, sizeof(*c));
	if (!c || policy_reserve(&d->certs, d->ncerts))
		goto oom;
	*c = *tmpl;
	c->revoke_reason = NULL;
	c->retire_reason = NULL;
	c->san = NULL;
	if ((tmpl->revoke_reason && !(c->revoke_reason = strdup(tmpl->revoke_reason))) ||
	    (tmpl->retire_reason && !(c->retire_reason = strdup(tmpl->retire_reason))) ||
	    (tmpl->san && !(c->san = strdup(tmpl->san))))
		goto oom;
	c->device = d;
	if (index && mq_strmap_put(&p->by_fingerprint, c->fingerprint, c))
		goto oom;
	d->certs[d->ncerts++] = c;
	return 0;
oom:
	policy_cert_free(c);
	mq_errf(err, errlen, "out of memory");
	return -1;
}

int mq_policy_add_cert(struct mq_policy *p, struct mq_device *d, const struct mq_cert *tmpl,
		       char *err, size_t errlen)
{
	return policy_cert_attach(p, d, tmpl, true, err, errlen);
}

/* Takes d out of the devices array and the indexes, without freeing it. */
static void policy_unlink_device(struct mq_policy *p, struct mq_device *d)
{
	for (size_t i = 0; i < p->ndevices; i++) {
		if (p->devices[i] != d)
			continue;
		memmove(&p->devices[i], &p->devices[i + 1], (p->ndevices - i - 1) * sizeof(*p->devices));
		p->ndevices--;
		break;
	}
	for (size_t i = 0; i < d->ncerts; i++)
		mq_strmap_del(&p->by_fingerprint, d->certs[i]->fingerprint);
	mq_strmap_del(&p->by_name, d->name);
	mq_strmap_del(&p->by_username, d->username);
}

void mq_policy_remove_device(struct mq_policy *p, struct mq_device *d)
{
	policy_unlink_device(p, d);
	policy_device_free(d);
}

/* Appends a deleted record owning d (not indexed). NULL when out of memory,
 * d then still the caller's. */
struct mq_deleted *policy_deleted_append(struct mq_policy *p, struct mq_device *d)
{
	struct mq_deleted *x = calloc(1, sizeof(*x));

	if (!x || policy_reserve(&p->deleted, p->ndeleted)) {
		free(x);
		return NULL;
	}
	x->device = d;
	p->deleted[p->ndeleted++] = x;
	return x;
}

int mq_policy_delete_device(struct mq_policy *p, struct mq_device *d, time_t when,
			    const char *archive, char *err, size_t errlen)
{
	char *a = archive ? strdup(archive) : NULL;
	struct mq_deleted *x;

	if ((archive && !a) || !(x = policy_deleted_append(p, d))) {
		free(a);
		mq_errf(err, errlen, "out of memory");
		return -1;
	}
	x->deleted_at = when;
	x->archive = a;
	policy_unlink_device(p, d);
	return 0;
}

const struct mq_deleted *mq_policy_find_deleted(const struct mq_policy *p, const char *name)
{
	for (size_t i = p->ndeleted; name && i-- > 0;)
		if (!strcmp(p->deleted[i]->device->name, name))
			return p->deleted[i];
	return NULL;
}

int policy_rule_check(enum mq_subject_kind kind, const char *subject, const char *topic,
		       enum mq_access access, char *err, size_t errlen)
{
	if (kind != MQ_SUBJ_ALL && !mq_name_valid(subject)) {
		mq_errf(err, errlen, "invalid rule subject '%s': use 1-64 characters of A-Za-z0-9._-",
			   subject ? subject : "");
		return -1;
	}
	if (access < MQ_ACCESS_READ || access > MQ_ACCESS_READWRITE) {
		mq_errf(err, errlen, "invalid rule access: use read, write or readwrite");
		return -1;
	}
	return mq_pattern_valid(topic, err, errlen);
}

struct mq_rule *policy_rule_append(struct mq_policy *p, unsigned long id,
				   enum mq_subject_kind kind, const char *subject,
				   const char *topic, enum mq_access access, bool deny)
{
	struct mq_rule *r = calloc(1, sizeof(*r));

	if (!r || (subject && !(r->subject = strdup(subject))) || !(r->topic = strdup(topic)) ||
	    policy_reserve(&p->rules, p->nrules)) {
		policy_rule_free(r);
		return NULL;
	}
	r->id = id;
	r->kind = kind;
	r->access = access;
	r->deny = deny;
	p->rules[p->nrules++] = r;
	if (id >= p->next_rule_id)
		p->next_rule_id = id + 1;
	return r;
}

struct mq_rule *mq_policy_add_rule(struct mq_policy *p, enum mq_subject_kind kind,
				   const char *subject, const char *topic,
				   enum mq_access access, bool deny, char *err, size_t errlen)
{
	struct mq_rule *r;

	if (policy_rule_check(kind, subject, topic, access, err, errlen))
		return NULL;
	r = policy_rule_append(p, p->next_rule_id, kind, kind == MQ_SUBJ_ALL ? NULL : subject,
			       topic, access, deny);
	if (!r)
		mq_errf(err, errlen, "out of memory");
	return r;
}

int mq_policy_remove_rule(struct mq_policy *p, unsigned long id)
{
	for (size_t i = 0; i < p->nrules; i++) {
		if (p->rules[i]->id != id)
			continue;
		policy_rule_free(p->rules[i]);
		memmove(&p->rules[i], &p->rules[i + 1], (p->nrules - i - 1) * sizeof(*p->rules));
		p->nrules--;
		return 0;
	}
	return -1;
}

enum mq_cert_state mq_cert_state(const struct mq_cert *c, time_t now)
{
	if (c->status == MQ_CERT_REVOKED)
		return MQ_STATE_REVOKED;
	if (c->status == MQ_CERT_RETIRED || (c->retire_after && now >= c->retire_after))
		return MQ_STATE_RETIRED;
	if (now >= c->not_after)
		return MQ_STATE_EXPIRED;
	if (c->device && c->device->suspended)
		return MQ_STATE_SUSPENDED;
	if (now < c->not_before)
		return MQ_STATE_NOT_YET_VALID;
	return MQ_STATE_ACTIVE;
}

const struct mq_cert *mq_device_cert_in_use(const struct mq_device *d, time_t now)
{
	const struct mq_cert *best = NULL;

	for (size_t k = 0; k < d->ncerts; k++) {
		enum mq_cert_state st = mq_cert_state(d->certs[k], now);

		if (st != MQ_STATE_REVOKED && st != MQ_STATE_RETIRED &&
		    (!best || d->certs[k]->not_after > best->not_after))
			best = d->certs[k];
	}
	return best;
}

const char *mq_cert_state_str(enum mq_cert_state s)
{
	switch (s) {
	case MQ_STATE_ACTIVE:
		return "active";
	case MQ_STATE_REVOKED:
		return "revoked";
	case MQ_STATE_EXPIRED:
		return "expired";
	case MQ_STATE_NOT_YET_VALID:
		return "not-yet-valid";
	case MQ_STATE_RETIRED:
		return "retired";
	case MQ_STATE_SUSPENDED:
		return "suspended";
	}
	return "?";
}

const char *mq_rule_access_str(enum mq_access a)
{
	switch (a) {
	case MQ_ACCESS_READ:
		return "read";
	case MQ_ACCESS_WRITE:
		return "write";
	case MQ_ACCESS_READWRITE:
		return "readwrite";
	}
	return "?";
}

int mq_rule_access_parse(const char *s, enum mq_access *out)
{
	if (!s)
		return -1;
	if (!strcmp(s, "read"))
		*out = MQ_ACCESS_READ;
	else if (!strcmp(s, "write"))
		*out = MQ_ACCESS_WRITE;
	else if (!strcmp(s, "readwrite"))
		*out = MQ_ACCESS_READWRITE;
	else
		return -1;
	return 0;
}

void mq_device_free(struct mq_device *d)
{
	policy_device_free(d);
}
