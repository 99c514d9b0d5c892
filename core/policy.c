#include "mq_policy.h"
#include "mq_err.h"
#include "mq_fileio.h"
#include "mq_jdom.h"
#include "mq_names.h"
#include "mq_time.h"
#include "mq_topic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

/* The parse tree of a file of len bytes may take at most this much memory:
 * one 32-byte node per 8 bytes of text, where a policy written by mqadmin
 * needs one per 30 or so and a compact hand-written one one per 12. So a
 * hostile file (a million zeros) is refused after at most 4 times its size,
 * not 16. The constant covers the smallest policies. */
#define POLICY_TREE_BYTES(len) ((len) / 8 * MQ_JDOM_NODE_BYTES + 65536)

/* ---- model ---------------------------------------------------------- */

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

static void policy_device_free(struct mq_device *d)
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
static struct mq_device *policy_device_alloc(const char *name, const char *username)
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
static int policy_cert_attach(struct mq_policy *p, struct mq_device *d,
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
static struct mq_deleted *policy_deleted_append(struct mq_policy *p, struct mq_device *d)
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

static int policy_rule_check(enum mq_subject_kind kind, const char *subject, const char *topic,
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

static struct mq_rule *policy_rule_append(struct mq_policy *p, unsigned long id,
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

const char *mq_access_str(enum mq_access a)
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

int mq_access_parse(const char *s, enum mq_access *out)
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

/* ---- JSON reading ---------------------------------------------------- */

struct policy_reader {
	char *err;
	size_t errlen;
};

static const char *policy_get_str(const struct mq_jdom_node *obj, const char *key, bool required,
				  const char *where, struct policy_reader *rd, int *bad)
{
	const struct mq_jdom_node *it = mq_jdom_get(obj, key);

	if (!it) {
		if (required) {
			mq_errf(rd->err, rd->errlen, "%s: missing \"%s\"", where, key);
			*bad = 1;
		}
		return NULL;
	}
	if (it->type != MQ_JDOM_STRING) {
		mq_errf(rd->err, rd->errlen, "%s: \"%s\" must be a string", where, key);
		*bad = 1;
		return NULL;
	}
	return it->str;
}

static int policy_get_time(const struct mq_jdom_node *obj, const char *key, bool required, time_t *out,
			   const char *where, struct policy_reader *rd)
{
	int bad = 0;
	const char *s = policy_get_str(obj, key, required, where, rd, &bad);

	if (bad)
		return -1;
	if (!s) {
		*out = 0;
		return 0;
	}
	if (mq_time_parse(s, out)) {
		mq_errf(rd->err, rd->errlen, "%s: \"%s\" is not an ISO 8601 UTC time (YYYY-MM-DDTHH:MM:SSZ): '%s'",
			   where, key, s);
		return -1;
	}
	return 0;
}

static int policy_get_ulong(const struct mq_jdom_node *obj, const char *key, bool required, unsigned long *out,
			    const char *where, struct policy_reader *rd)
{
	const struct mq_jdom_node *it = mq_jdom_get(obj, key);

	if (!it) {
		if (!required)
			return 0;
		mq_errf(rd->err, rd->errlen, "%s: missing \"%s\"", where, key);
		return -1;
	}
	if (it->type != MQ_JDOM_NUMBER || it->num < 0 || it->num > 9007199254740991.0 ||
	    it->num != (double)(unsigned long)it->num) {
		mq_errf(rd->err, rd->errlen, "%s: \"%s\" must be a non-negative integer", where, key);
		return -1;
	}
	*out = (unsigned long)it->num;
	return 0;
}

static int policy_serial_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= MQ_SERIAL_LEN)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

/* "san": ["DNS:a.example", ...] into one comma separated malloc'd list. */
static int policy_read_san(const struct mq_jdom_node *jc, const char *where,
			   struct policy_reader *rd, char **out)
{
	const struct mq_jdom_node *js = mq_jdom_get(jc, "san"), *it;
	size_t len = 0;
	const char *why;

	*out = NULL;
	if (!js)
		return 0;
	if (js->type != MQ_JDOM_ARRAY) {
		mq_errf(rd->err, rd->errlen, "%s: \"san\" must be an array of strings", where);
		return -1;
	}
	for (it = js->child; it; it = it->next) {
		if (it->type != MQ_JDOM_STRING) {
			mq_errf(rd->err, rd->errlen, "%s: \"san\" must be an array of strings", where);
			return -1;
		}
		if ((why = mq_san_check(it->str, NULL))) {
			mq_errf(rd->err, rd->errlen, "%s: san '%.300s': %s", where, it->str, why);
			return -1;
		}
		len += strlen(it->str) + 1;
	}
	if (!len)
		return 0;
	if (!(*out = malloc(len))) {
		mq_errf(rd->err, rd->errlen, "out of memory");
		return -1;
	}
	**out = '\0';
	for (it = js->child; it; it = it->next) {
		if (it != js->child)
			strcat(*out, ",");
		strcat(*out, it->str);
	}
	return 0;
}

static int policy_read_cert(struct mq_policy *p, struct mq_device *d, const struct mq_jdom_node *jc,
			    size_t idx, bool index, struct policy_reader *rd)
{
	char where[160];
	struct mq_cert c;
	const char *serial, *fpr, *status, *reason, *retire_reason;
	int bad = 0;

	snprintf(where, sizeof(where), "device '%s' certificate %zu", d->name, idx);
	memset(&c, 0, sizeof(c));
	if (jc->type != MQ_JDOM_OBJECT) {
		mq_errf(rd->err, rd->errlen, "%s: must be an object", where);
		return -1;
	}
	serial = policy_get_str(jc, "serial", true, where, rd, &bad);
	fpr = policy_get_str(jc, "fingerprint", true, where, rd, &bad);
	status = policy_get_str(jc, "status", true, where, rd, &bad);
	reason = policy_get_str(jc, "reason", false, where, rd, &bad);
	retire_reason = policy_get_str(jc, "retire_reason", false, where, rd, &bad);
	if (bad)
		return -1;
	if (!policy_serial_valid(serial)) {
		mq_errf(rd->err, rd->errlen, "%s: serial '%s' is not lowercase hex", where, serial);
		return -1;
	}
	if (!mq_fingerprint_valid(fpr)) {
		mq_errf(rd->err, rd->errlen, "%s: fingerprint '%s' is not 64 lowercase hex digits", where, fpr);
		return -1;
	}
	if (!strcmp(status, "active")) {
		c.status = MQ_CERT_ACTIVE;
	} else if (!strcmp(status, "revoked")) {
		c.status = MQ_CERT_REVOKED;
	} else if (!strcmp(status, "retired")) {
		c.status = MQ_CERT_RETIRED;
	} else {
		mq_errf(rd->err, rd->errlen, "%s: status '%s' must be \"active\", \"retired\" or \"revoked\"",
			where, status);
		return -1;
	}
	if (policy_get_time(jc, "not_before", true, &c.not_before, where, rd) ||
	    policy_get_time(jc, "not_after", true, &c.not_after, where, rd) ||
	    policy_get_time(jc, "revoked_at", false, &c.revoked_at, where, rd) ||
	    policy_get_time(jc, "retired_at", false, &c.retired_at, where, rd) ||
	    policy_get_time(jc, "retire_after", false, &c.retire_after, where, rd))
		return -1;
	if (c.not_after <= c.not_before) {
		mq_errf(rd->err, rd->errlen, "%s: not_after is not later than not_before", where);
		return -1;
	}
	if (index && mq_policy_find_fingerprint(p, fpr)) {
		mq_errf(rd->err, rd->errlen, "%s: fingerprint %s appears twice in the policy", where, fpr);
		return -1;
	}
	strcpy(c.serial, serial);
	strcpy(c.fingerprint, fpr);
	c.revoke_reason = (char *)reason;
	c.retire_reason = (char *)retire_reason;
	if (policy_read_san(jc, where, rd, &c.san))
		return -1;
	bad = policy_cert_attach(p, d, &c, index, rd->err, rd->errlen);
	free(c.san);
	return bad;
}

/* A "deleted" record's device: valid names, in no index (a later device
 * may have the same name), owned by the policy's deleted list at once. */
static struct mq_device *policy_read_deleted_head(struct mq_policy *p, const struct mq_jdom_node *jd,
						  const char *name, const char *username,
						  const char *where, struct policy_reader *rd)
{
	struct mq_device *d;
	struct mq_deleted *x;
	int bad = 0;
	const char *archive;

	if (!mq_name_valid(name) || !mq_name_valid(username)) {
		mq_errf(rd->err, rd->errlen, "%s: invalid name or username: use 1-64 characters of "
			"A-Za-z0-9._-", where);
		return NULL;
	}
	archive = policy_get_str(jd, "archive", false, where, rd, &bad);
	if (bad)
		return NULL;
	d = policy_device_alloc(name, username);
	x = d ? policy_deleted_append(p, d) : NULL;
	if (!x || (archive && !(x->archive = strdup(archive)))) {
		if (!x)
			policy_device_free(d);
		mq_errf(rd->err, rd->errlen, "out of memory");
		return NULL;
	}
	if (policy_get_time(jd, "deleted_at", false, &x->deleted_at, where, rd))
		return NULL;
	return d;
}

/* One element of "devices" or (deleted) of "deleted". */
static int policy_read_device(struct mq_policy *p, const struct mq_jdom_node *jd, size_t idx,
			      bool deleted, struct policy_reader *rd)
{
	char where[128], **groups = NULL;
	const char *name, *username, *status, *role;
	const struct mq_jdom_node *jg, *jcerts, *it, *jr;
	struct mq_device *d;
	size_t ng = 0, i = 0;
	int bad = 0, rc = -1;

	snprintf(where, sizeof(where), "%s[%zu]", deleted ? "deleted" : "devices", idx);
	if (jd->type != MQ_JDOM_OBJECT) {
		mq_errf(rd->err, rd->errlen, "%s: must be an object", where);
		return -1;
	}
	name = policy_get_str(jd, "name", true, where, rd, &bad);
	username = policy_get_str(jd, "username", true, where, rd, &bad);
	status = policy_get_str(jd, "status", false, where, rd, &bad);
	if (bad)
		return -1;
	snprintf(where, sizeof(where), "%sdevice '%.64s'", deleted ? "deleted " : "", name);
	if (deleted)
		d = policy_read_deleted_head(p, jd, name, username, where, rd);
	else
		d = mq_policy_add_device(p, name, username, rd->err, rd->errlen);
	if (!d)
		return -1;
	if (status && strcmp(status, "active") && strcmp(status, "suspended")) {
		mq_errf(rd->err, rd->errlen, "%s: status '%s' must be \"active\" or \"suspended\"",
			where, status);
		return -1;
	}
	d->suspended = status && !strcmp(status, "suspended");
	if (policy_get_time(jd, "created", false, &d->created, where, rd) ||
	    policy_get_time(jd, "suspended_at", false, &d->suspended_at, where, rd) ||
	    policy_get_time(jd, "renewed_at", false, &d->renewed_at, where, rd))
		return -1;
	role = policy_get_str(jd, "role", false, where, rd, &bad);
	if (bad)
		return -1;
	if (role && strcmp(role, "device") && strcmp(role, "service")) {
		mq_errf(rd->err, rd->errlen, "%s: role '%.64s' must be \"device\" or \"service\"",
			where, role);
		return -1;
	}
	d->service = role && !strcmp(role, "service");
	jr = mq_jdom_get(jd, "renew_now");
	if (jr && jr->type != MQ_JDOM_TRUE && jr->type != MQ_JDOM_FALSE) {
		mq_errf(rd->err, rd->errlen, "%s: \"renew_now\" must be true or false", where);
		return -1;
	}
	d->renew_now = jr && jr->type == MQ_JDOM_TRUE;
	jg = mq_jdom_get(jd, "groups");
	if (jg) {
		if (jg->type != MQ_JDOM_ARRAY) {
			mq_errf(rd->err, rd->errlen, "%s: \"groups\" must be an array of names", where);
			return -1;
		}
		ng = jg->count;
		if (ng && !(groups = calloc(ng, sizeof(*groups)))) {
			mq_errf(rd->err, rd->errlen, "out of memory");
			return -1;
		}
		for (it = jg->child; it; it = it->next) {
			if (it->type != MQ_JDOM_STRING) {
				mq_errf(rd->err, rd->errlen, "%s: \"groups\" must be an array of names", where);
				goto out;
			}
			groups[i++] = (char *)it->str;
		}
		if (mq_policy_set_groups(d, groups, ng, rd->err, rd->errlen))
			goto out;
	}
	jcerts = mq_jdom_get(jd, "certs");
	if (!jcerts || jcerts->type != MQ_JDOM_ARRAY) {
		mq_errf(rd->err, rd->errlen, "%s: \"certs\" must be an array", where);
		goto out;
	}
	i = 0;
	for (it = jcerts->child; it; it = it->next) {
		if (policy_read_cert(p, d, it, i++, !deleted, rd))
			goto out;
	}
	rc = 0;
out:
	free(groups);
	return rc;
}

static int policy_read_rule(struct mq_policy *p, const struct mq_jdom_node *jr, size_t idx, struct policy_reader *rd)
{
	char where[64];
	const char *subject, *topic, *access, *effect;
	enum mq_subject_kind kind;
	enum mq_access acc;
	unsigned long id = 0;
	int bad = 0;

	snprintf(where, sizeof(where), "rules[%zu]", idx);
	if (jr->type != MQ_JDOM_OBJECT) {
		mq_errf(rd->err, rd->errlen, "%s: must be an object", where);
		return -1;
	}
	if (policy_get_ulong(jr, "id", true, &id, where, rd))
		return -1;
	snprintf(where, sizeof(where), "rule %lu", id);
	subject = policy_get_str(jr, "subject", true, where, rd, &bad);
	topic = policy_get_str(jr, "topic", true, where, rd, &bad);
	access = policy_get_str(jr, "access", true, where, rd, &bad);
	effect = policy_get_str(jr, "effect", true, where, rd, &bad);
	if (bad)
		return -1;
	/* Uniqueness is checked once all rules are read (policy_check_rule_ids):
	 * a search per rule made 100,000 rules take 10 s. */
	if (id == 0) {
		mq_errf(rd->err, rd->errlen, "%s: id must be unique and greater than 0", where);
		return -1;
	}
	if (!strcmp(subject, "all")) {
		kind = MQ_SUBJ_ALL;
		subject = NULL;
	} else if (!strncmp(subject, "device:", 7)) {
		kind = MQ_SUBJ_DEVICE;
		subject += 7;
	} else if (!strncmp(subject, "group:", 6)) {
		kind = MQ_SUBJ_GROUP;
		subject += 6;
	} else {
		mq_errf(rd->err, rd->errlen, "%s: subject '%s' must be \"all\", \"device:NAME\" or \"group:NAME\"",
			   where, subject);
		return -1;
	}
	if (mq_access_parse(access, &acc)) {
		mq_errf(rd->err, rd->errlen, "%s: access '%s' must be read, write or readwrite", where, access);
		return -1;
	}
	if (strcmp(effect, "allow") && strcmp(effect, "deny")) {
		mq_errf(rd->err, rd->errlen, "%s: effect '%s' must be \"allow\" or \"deny\"", where, effect);
		return -1;
	}
	if (policy_rule_check(kind, subject, topic, acc, rd->err, rd->errlen)) {
		size_t n = rd->err ? strlen(rd->err) : 0;

		/* Prefix the rule so the operator knows which one to fix. */
		if (rd->err && n + strlen(where) + 3 < rd->errlen) {
			memmove(rd->err + strlen(where) + 2, rd->err, n + 1);
			memcpy(rd->err, where, strlen(where));
			memcpy(rd->err + strlen(where), ": ", 2);
		}
		return -1;
	}
	if (!policy_rule_append(p, id, kind, subject, topic, acc, !strcmp(effect, "deny"))) {
		mq_errf(rd->err, rd->errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int policy_cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/* Every rule id appears once; sorted, so a file of many rules costs
 * n log n, not n squared. 0 or -1 + err. */
static int policy_check_rule_ids(const struct mq_policy *p, struct policy_reader *rd)
{
	unsigned long *ids;
	int rc = 0;

	if (p->nrules < 2)
		return 0;
	ids = malloc(p->nrules * sizeof(*ids));
	if (!ids) {
		mq_errf(rd->err, rd->errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < p->nrules; i++)
		ids[i] = p->rules[i]->id;
	qsort(ids, p->nrules, sizeof(*ids), policy_cmp_ulong);
	for (size_t i = 1; i < p->nrules && !rc; i++) {
		if (ids[i] == ids[i - 1]) {
			mq_errf(rd->err, rd->errlen, "rule %lu: id must be unique and greater than 0", ids[i]);
			rc = -1;
		}
	}
	free(ids);
	return rc;
}

/* The smallest device record, {"name":"a","username":"a","certs":[]}: the
 * devices array of a file of len bytes cannot hold more than len / this. */
#define POLICY_MIN_DEVICE_BYTES 38

static int policy_presize(struct mq_policy *p, size_t ndevices, size_t len)
{
	/* Sized from what the file can hold, not from a count that its own
	 * elements have not yet been checked against: an array of a million
	 * zeros must not reserve room for a million devices. */
	if (ndevices > len / POLICY_MIN_DEVICE_BYTES)
		ndevices = len / POLICY_MIN_DEVICE_BYTES;
	/* Most devices have one certificate. */
	if (mq_strmap_reserve(&p->by_name, ndevices) || mq_strmap_reserve(&p->by_username, ndevices) ||
	    mq_strmap_reserve(&p->by_fingerprint, ndevices))
		return -1;
	return 0;
}

/* Parses buf[0..len), a private copy: the tree unescapes strings in it and
 * buf[len] is overwritten. name (the file, or NULL) starts a JSON error. */
static struct mq_policy *policy_parse_owned(char *buf, size_t len, const char *name,
					    char *err, size_t errlen)
{
	struct policy_reader rd = {err, errlen};
	struct mq_policy *p = NULL;
	struct mq_jdom *doc;
	struct mq_jdom_error jerr;
	const struct mq_jdom_node *root, *jv, *jdev, *jdel, *jrules, *it;
	unsigned long version = 0, next_id = 0;
	size_t i;

	doc = mq_jdom_parse(buf, len, POLICY_TREE_BYTES(len), &jerr);
	if (!doc) {
		if (jerr.offset < 0)
			mq_errf(err, errlen, "out of memory");
		else if (name)
			mq_errf(err, errlen, "%s:%lu:%lu: %s", name, jerr.line, jerr.column, jerr.msg);
		else
			mq_errf(err, errlen, "line %lu, column %lu: %s", jerr.line, jerr.column, jerr.msg);
		return NULL;
	}
	root = mq_jdom_root(doc);
	if (root->type != MQ_JDOM_OBJECT) {
		mq_errf(err, errlen, "top level must be a JSON object");
		goto fail;
	}
	jv = mq_jdom_get(root, "version");
	if (!jv) {
		mq_errf(err, errlen, "missing \"version\": not an mqcert policy");
		goto fail;
	}
	if (policy_get_ulong(root, "version", true, &version, "policy", &rd))
		goto fail;
	if (version != MQ_POLICY_VERSION) {
		mq_errf(err, errlen, "policy version %lu is not supported (this mqcert reads version %d): %s",
			   version, MQ_POLICY_VERSION,
			   version > MQ_POLICY_VERSION ? "upgrade mqcert" : "re-create it with mqadmin");
		goto fail;
	}
	p = mq_policy_new();
	if (!p) {
		mq_errf(err, errlen, "out of memory");
		goto fail;
	}
	if (policy_get_ulong(root, "generation", false, &p->generation, "policy", &rd) ||
	    policy_get_ulong(root, "next_rule_id", false, &next_id, "policy", &rd) ||
	    policy_get_ulong(root, "crl_number", false, &p->crl_number, "policy", &rd))
		goto fail;
	jdev = mq_jdom_get(root, "devices");
	if (!jdev || jdev->type != MQ_JDOM_ARRAY) {
		mq_errf(err, errlen, "\"devices\" must be an array");
		goto fail;
	}
	/* Size the indexes once: no rehash while 100k devices go in. */
	if (policy_presize(p, jdev->count, len)) {
		mq_errf(err, errlen, "out of memory");
		goto fail;
	}
	i = 0;
	for (it = jdev->child; it; it = it->next) {
		if (policy_read_device(p, it, i++, false, &rd))
			goto fail;
	}
	jdel = mq_jdom_get(root, "deleted");
	if (jdel && jdel->type != MQ_JDOM_ARRAY) {
		mq_errf(err, errlen, "\"deleted\" must be an array");
		goto fail;
	}
	i = 0;
	for (it = jdel ? jdel->child : NULL; it; it = it->next) {
		if (policy_read_device(p, it, i++, true, &rd))
			goto fail;
	}
	jrules = mq_jdom_get(root, "rules");
	if (jrules && jrules->type != MQ_JDOM_ARRAY) {
		mq_errf(err, errlen, "\"rules\" must be an array");
		goto fail;
	}
	i = 0;
	for (it = jrules ? jrules->child : NULL; it; it = it->next) {
		if (policy_read_rule(p, it, i++, &rd))
			goto fail;
	}
	if (policy_check_rule_ids(p, &rd))
		goto fail;
	if (next_id > p->next_rule_id)
		p->next_rule_id = next_id;
	mq_jdom_free(doc);
	return p;
fail:
	mq_policy_free(p);
	mq_jdom_free(doc);
	return NULL;
}

struct mq_policy *mq_policy_parse(const char *buf, size_t len, char *err, size_t errlen)
{
	struct mq_policy *p;
	char *copy;

	if (len > (size_t)MQ_POLICY_MAX_BYTES) {
		mq_errf(err, errlen, "the policy is %zu bytes, over the limit of %ld (%ld MB)", len,
			MQ_POLICY_MAX_BYTES, MQ_POLICY_MAX_BYTES >> 20);
		return NULL;
	}
	copy = malloc(len + 1);
	if (!copy) {
		mq_errf(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(copy, buf, len);
	p = policy_parse_owned(copy, len, NULL, err, errlen);
	free(copy);
	return p;
}

/* Reads path with the reader for files someone else may control: a FIFO
 * at the policy path must never stall the plugin's policy thread (and with
 * it the broker's exit), nor /dev/zero behind a symbolic link fill memory.
 * 0 or -1 + err. */
static int policy_read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	if (!mq_file_read_regular(path, MQ_POLICY_MAX_BYTES, out, len, err, errlen))
		return 0;
	if (errno == EINVAL) {
		size_t n = strlen(err);

		mq_errf(err + n, errlen - n, ": the policy must be a file (or a symbolic link to one)");
	}
	return -1;
}

struct mq_policy *mq_policy_load(const char *path, char *err, size_t errlen)
{
	struct mq_policy *p;
	char *buf;
	size_t len;

	if (policy_read_file(path, &buf, &len, err, errlen))
		return NULL;
	p = policy_parse_owned(buf, len, path, err, errlen);
	free(buf);
	return p;
}

/* ---- JSON writing ---------------------------------------------------- */

static cJSON *policy_add_time(cJSON *obj, const char *key, time_t t)
{
	char ts[MQ_TIME_LEN];

	if (mq_time_format(t, ts))
		return NULL;
	return cJSON_AddStringToObject(obj, key, ts);
}

static int policy_san_json(cJSON *jc, const char *san)
{
	cJSON *ja = cJSON_AddArrayToObject(jc, "san");

	for (const char *p = san; ja && p; p = strchr(p, ',')) {
		cJSON *s;
		char *one;

		p += *p == ',';
		one = strndup(p, strcspn(p, ","));
		s = one ? cJSON_CreateString(one) : NULL;
		free(one);
		if (!s || !cJSON_AddItemToArray(ja, s)) {
			cJSON_Delete(s);
			return -1;
		}
	}
	return ja ? 0 : -1;
}

static const char *policy_status_str(enum mq_cert_status s)
{
	switch (s) {
	case MQ_CERT_ACTIVE:
		break;
	case MQ_CERT_REVOKED:
		return "revoked";
	case MQ_CERT_RETIRED:
		return "retired";
	}
	return "active";
}

static cJSON *policy_cert_json(const struct mq_cert *c)
{
	cJSON *jc = cJSON_CreateObject();

	if (!jc || !cJSON_AddStringToObject(jc, "serial", c->serial) ||
	    !cJSON_AddStringToObject(jc, "fingerprint", c->fingerprint) ||
	    !policy_add_time(jc, "not_before", c->not_before) ||
	    !policy_add_time(jc, "not_after", c->not_after) ||
	    !cJSON_AddStringToObject(jc, "status", policy_status_str(c->status)))
		goto fail;
	if (c->retire_after && !policy_add_time(jc, "retire_after", c->retire_after))
		goto fail;
	if (c->status == MQ_CERT_REVOKED && c->revoked_at && !policy_add_time(jc, "revoked_at", c->revoked_at))
		goto fail;
	if (c->revoke_reason && !cJSON_AddStringToObject(jc, "reason", c->revoke_reason))
		goto fail;
	/* Kept after a later revocation: when and why it left service. */
	if (c->retired_at && !policy_add_time(jc, "retired_at", c->retired_at))
		goto fail;
	if (c->retire_reason && !cJSON_AddStringToObject(jc, "retire_reason", c->retire_reason))
		goto fail;
	if (c->san && policy_san_json(jc, c->san))
		goto fail;
	return jc;
fail:
	cJSON_Delete(jc);
	return NULL;
}

static cJSON *policy_device_json(const struct mq_device *d)
{
	cJSON *jd = cJSON_CreateObject(), *jg, *jcerts;

	if (!jd || !cJSON_AddStringToObject(jd, "name", d->name) ||
	    !cJSON_AddStringToObject(jd, "username", d->username) ||
	    !(jg = cJSON_AddArrayToObject(jd, "groups")))
		goto fail;
	if (d->created && !policy_add_time(jd, "created", d->created))
		goto fail;
	/* Written only when suspended: absent means active. */
	if (d->suspended && (!cJSON_AddStringToObject(jd, "status", "suspended") ||
			     (d->suspended_at && !policy_add_time(jd, "suspended_at", d->suspended_at))))
		goto fail;
	if (d->service && !cJSON_AddStringToObject(jd, "role", "service"))
		goto fail;
	if (d->renew_now && !cJSON_AddTrueToObject(jd, "renew_now"))
		goto fail;
	if (d->renewed_at && !policy_add_time(jd, "renewed_at", d->renewed_at))
		goto fail;
	for (size_t i = 0; i < d->ngroups; i++) {
		cJSON *s = cJSON_CreateString(d->groups[i]);

		if (!s || !cJSON_AddItemToArray(jg, s)) {
			cJSON_Delete(s);
			goto fail;
		}
	}
	if (!(jcerts = cJSON_AddArrayToObject(jd, "certs")))
		goto fail;
	for (size_t i = 0; i < d->ncerts; i++) {
		cJSON *jc = policy_cert_json(d->certs[i]);

		if (!jc || !cJSON_AddItemToArray(jcerts, jc)) {
			cJSON_Delete(jc);
			goto fail;
		}
	}
	return jd;
fail:
	cJSON_Delete(jd);
	return NULL;
}

static cJSON *policy_rule_json(const struct mq_rule *r)
{
	cJSON *jr = cJSON_CreateObject();
	char subject[80];

	if (r->kind == MQ_SUBJ_ALL)
		snprintf(subject, sizeof(subject), "all");
	else
		snprintf(subject, sizeof(subject), "%s:%s", r->kind == MQ_SUBJ_DEVICE ? "device" : "group",
			 r->subject);
	if (!jr || !cJSON_AddNumberToObject(jr, "id", (double)r->id) ||
	    !cJSON_AddStringToObject(jr, "subject", subject) ||
	    !cJSON_AddStringToObject(jr, "topic", r->topic) ||
	    !cJSON_AddStringToObject(jr, "access", mq_access_str(r->access)) ||
	    !cJSON_AddStringToObject(jr, "effect", r->deny ? "deny" : "allow")) {
		cJSON_Delete(jr);
		return NULL;
	}
	return jr;
}

static cJSON *policy_deleted_json(const struct mq_deleted *x)
{
	cJSON *jd = policy_device_json(x->device);

	if (jd && ((x->deleted_at && !policy_add_time(jd, "deleted_at", x->deleted_at)) ||
		   (x->archive && !cJSON_AddStringToObject(jd, "archive", x->archive)))) {
		cJSON_Delete(jd);
		return NULL;
	}
	return jd;
}

char *mq_policy_serialize(const struct mq_policy *p)
{
	cJSON *root = cJSON_CreateObject(), *jdev, *jrules, *jdel = NULL;
	char *text = NULL, *out = NULL;
	size_t n;

	if (!root || !cJSON_AddNumberToObject(root, "version", MQ_POLICY_VERSION) ||
	    !cJSON_AddNumberToObject(root, "generation", (double)p->generation) ||
	    !cJSON_AddNumberToObject(root, "next_rule_id", (double)p->next_rule_id) ||
	    (p->crl_number &&
	     !cJSON_AddNumberToObject(root, "crl_number", (double)p->crl_number)) ||
	    !(jdev = cJSON_AddArrayToObject(root, "devices")) ||
	    !(jrules = cJSON_AddArrayToObject(root, "rules")))
		goto out;
	for (size_t i = 0; i < p->ndevices; i++) {
		cJSON *jd = policy_device_json(p->devices[i]);

		if (!jd || !cJSON_AddItemToArray(jdev, jd)) {
			cJSON_Delete(jd);
			goto out;
		}
	}
	for (size_t i = 0; i < p->nrules; i++) {
		cJSON *jr = policy_rule_json(p->rules[i]);

		if (!jr || !cJSON_AddItemToArray(jrules, jr)) {
			cJSON_Delete(jr);
			goto out;
		}
	}
	/* Only when there is one: older readers ignore it anyway. */
	if (p->ndeleted && !(jdel = cJSON_AddArrayToObject(root, "deleted")))
		goto out;
	for (size_t i = 0; i < p->ndeleted; i++) {
		cJSON *jd = policy_deleted_json(p->deleted[i]);

		if (!jd || !cJSON_AddItemToArray(jdel, jd)) {
			cJSON_Delete(jd);
			goto out;
		}
	}
	text = cJSON_Print(root);
	if (!text)
		goto out;
	n = strlen(text);
	out = malloc(n + 2);
	if (out) {
		memcpy(out, text, n);
		out[n] = '\n';
		out[n + 1] = '\0';
	}
out:
	cJSON_free(text);
	cJSON_Delete(root);
	return out;
}

/* ---- one record at a time (the store's codec) ------------------------- */

enum policy_one { POLICY_ONE_DEVICE, POLICY_ONE_RULE, POLICY_ONE_DELETED };

static int policy_read_one(struct mq_policy *p, const char *buf, size_t len, enum policy_one what,
			   char *err, size_t errlen)
{
	struct policy_reader rd = {err, errlen};
	struct mq_jdom_error jerr;
	struct mq_jdom *doc;
	const struct mq_jdom_node *root, *it;
	char *copy = malloc(len + 1);
	size_t i = 0;
	int rc = -1;

	if (!copy) {
		mq_errf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(copy, buf, len);
	doc = mq_jdom_parse(copy, len, POLICY_TREE_BYTES(len), &jerr);
	if (!doc) {
		if (jerr.offset < 0)
			mq_errf(err, errlen, "out of memory");
		else
			mq_errf(err, errlen, "line %lu, column %lu: %s", jerr.line, jerr.column, jerr.msg);
		goto out;
	}
	root = mq_jdom_root(doc);
	switch (what) {
	case POLICY_ONE_DEVICE:
		rc = policy_read_device(p, root, 0, false, &rd);
		break;
	case POLICY_ONE_RULE:
		rc = policy_read_rule(p, root, 0, &rd);
		break;
	case POLICY_ONE_DELETED:
		if (root->type != MQ_JDOM_ARRAY) {
			mq_errf(err, errlen, "\"deleted\" must be an array");
			break;
		}
		rc = 0;
		for (it = root->child; it && !rc; it = it->next)
			rc = policy_read_device(p, it, i++, true, &rd);
		break;
	}
	mq_jdom_free(doc);
out:
	free(copy);
	return rc;
}

int mq_policy_read_device_json(struct mq_policy *p, const char *buf, size_t len,
			       char *err, size_t errlen)
{
	return policy_read_one(p, buf, len, POLICY_ONE_DEVICE, err, errlen);
}

int mq_policy_read_rule_json(struct mq_policy *p, const char *buf, size_t len,
			     char *err, size_t errlen)
{
	return policy_read_one(p, buf, len, POLICY_ONE_RULE, err, errlen);
}

int mq_policy_read_deleted_json(struct mq_policy *p, const char *buf, size_t len,
				char *err, size_t errlen)
{
	return policy_read_one(p, buf, len, POLICY_ONE_DELETED, err, errlen);
}

struct mq_device *mq_device_parse(const char *buf, size_t len, char *err, size_t errlen)
{
	struct mq_policy *p = mq_policy_new();
	struct mq_device *d = NULL;

	if (!p) {
		mq_errf(err, errlen, "out of memory");
		return NULL;
	}
	if (!policy_read_one(p, buf, len, POLICY_ONE_DEVICE, err, errlen) && p->ndevices == 1) {
		d = p->devices[0];
		/* Detach: the indexes only borrow its keys. */
		p->ndevices = 0;
	}
	mq_policy_free(p);
	return d;
}

void mq_device_free(struct mq_device *d)
{
	policy_device_free(d);
}

static char *policy_print_compact(cJSON *j)
{
	char *text = j ? cJSON_PrintUnformatted(j) : NULL;
	char *out = text ? strdup(text) : NULL;

	/* cJSON may use its own allocator: hand out a malloc'd copy. */
	cJSON_free(text);
	cJSON_Delete(j);
	return out;
}

char *mq_device_json(const struct mq_device *d)
{
	return policy_print_compact(policy_device_json(d));
}

char *mq_rule_json(const struct mq_rule *r)
{
	return policy_print_compact(policy_rule_json(r));
}

char *mq_deleted_json(const struct mq_policy *p)
{
	cJSON *ja = cJSON_CreateArray();

	for (size_t i = 0; ja && i < p->ndeleted; i++) {
		cJSON *jd = policy_deleted_json(p->deleted[i]);

		if (!jd || !cJSON_AddItemToArray(ja, jd)) {
			cJSON_Delete(jd);
			cJSON_Delete(ja);
			return NULL;
		}
	}
	return policy_print_compact(ja);
}
