/* The policy's JSON reader: a whole policy.json (mq_policy_load)
 * and one record at a time (the store's codec), through the project's own
 * bounded parse tree (mq_jdom.h). Every member is validated; errors name
 * the offending element. */
#include "mq_policy.h"
#include "policy_int.h"
#include "mq_err.h"
#include "mq_fileio.h"
#include "mq_jdom.h"
#include "mq_names.h"
#include "mq_time.h"
#include "mq_topic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


/* The parse tree of a file of len bytes may take at most this much memory:
 * one 32-byte node per 8 bytes of text, where a policy written by mqadmin
 * needs one per 30 or so and a compact hand-written one one per 12. So a
 * hostile file (a million zeros) is refused after at most 4 times its size,
 * not 16. The constant covers the smallest policies. */
#define POLICY_TREE_BYTES(len) ((len) / 8 * MQ_JDOM_NODE_BYTES + 65536)
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
	 * a search per rule is quadratic (docs/BENCHMARKS.md, "Figures the
	 * code relies on"). */
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
	if (mq_rule_access_parse(access, &acc)) {
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
struct mq_policy *policy_parse_owned(char *buf, size_t len, const char *name, char *err,
				     size_t errlen)
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

/* Reads path with the reader for files someone else may control: a FIFO
 * at the policy path must never stall mqadmin (doctor, import), nor
 * /dev/zero behind a symbolic link fill memory. 0 or -1 + err. */
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
