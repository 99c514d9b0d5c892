#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "naive.h"
#include "support.h"
#include "mq_policy.h"

#define FPR_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FPR_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define FPR_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

/* ---- helpers ------------------------------------------------------------ */

static struct mq_cert cert_tmpl(const char *serial, const char *fpr, time_t nb, time_t na)
{
	struct mq_cert c;

	memset(&c, 0, sizeof(c));
	snprintf(c.serial, sizeof(c.serial), "%s", serial);
	snprintf(c.fingerprint, sizeof(c.fingerprint), "%s", fpr);
	c.not_before = nb;
	c.not_after = na;
	return c;
}

/* A policy that uses every field: two devices (one with groups and two
 * certificates, one revoked with a reason), three rules of each subject
 * kind, one of them removed so next_rule_id is ahead of the last id. */
static struct mq_policy *build_policy(void)
{
	char err[256] = "";
	char *groups[] = { "sensors", "kitchen", "sensors" };
	struct mq_policy *p = mq_policy_new();
	struct mq_device *d1, *d2;
	struct mq_cert c1 = cert_tmpl("0a1b", FPR_A, 1700000000, 1800000000);
	struct mq_cert c2 = cert_tmpl("ff00000000000000000000000000000001", FPR_B, 1600000000, 1700000000);

	assert_non_null(p);
	p->generation = 42;
	d1 = mq_policy_add_device(p, "dev1", NULL, err, sizeof(err));
	assert_non_null(d1);
	d1->created = 1700000000;
	assert_int_equal(mq_policy_set_groups(d1, groups, 3, err, sizeof(err)), 0);
	assert_int_equal(mq_policy_add_cert(p, d1, &c1, err, sizeof(err)), 0);
	c2.status = MQ_CERT_REVOKED;
	c2.revoked_at = 1650000000;
	c2.revoke_reason = "key \"leaked\" on a\tbench";
	assert_int_equal(mq_policy_add_cert(p, d1, &c2, err, sizeof(err)), 0);
	d2 = mq_policy_add_device(p, "dev-2.b_x", "user2", err, sizeof(err));
	assert_non_null(d2);
	assert_non_null(mq_policy_add_rule(p, MQ_SUBJ_ALL, NULL, "public/#", MQ_ACCESS_READ, false, err, sizeof(err)));
	assert_non_null(mq_policy_add_rule(p, MQ_SUBJ_DEVICE, "dev1", "devices/%u/#", MQ_ACCESS_READWRITE,
					   false, err, sizeof(err)));
	assert_non_null(mq_policy_add_rule(p, MQ_SUBJ_GROUP, "sensors", "cmd/+/%c", MQ_ACCESS_WRITE, true,
					   err, sizeof(err)));
	assert_non_null(mq_policy_add_rule(p, MQ_SUBJ_ALL, NULL, "gone", MQ_ACCESS_READ, false, err, sizeof(err)));
	assert_int_equal(mq_policy_remove_rule(p, 4), 0);
	return p;
}

static void assert_same_cert(const struct mq_cert *a, const struct mq_cert *b)
{
	assert_string_equal(a->serial, b->serial);
	assert_string_equal(a->fingerprint, b->fingerprint);
	assert_int_equal(a->not_before, b->not_before);
	assert_int_equal(a->not_after, b->not_after);
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->revoked_at, b->revoked_at);
	if (a->revoke_reason || b->revoke_reason) {
		assert_non_null(a->revoke_reason);
		assert_non_null(b->revoke_reason);
		assert_string_equal(a->revoke_reason, b->revoke_reason);
	}
}

static void assert_same_policy(const struct mq_policy *a, const struct mq_policy *b)
{
	assert_int_equal(a->generation, b->generation);
	assert_int_equal(a->next_rule_id, b->next_rule_id);
	assert_int_equal(a->ndevices, b->ndevices);
	for (size_t i = 0; i < a->ndevices; i++) {
		const struct mq_device *x = a->devices[i], *y = b->devices[i];

		assert_string_equal(x->name, y->name);
		assert_string_equal(x->username, y->username);
		assert_int_equal(x->created, y->created);
		assert_int_equal(x->ngroups, y->ngroups);
		for (size_t j = 0; j < x->ngroups; j++)
			assert_string_equal(x->groups[j], y->groups[j]);
		assert_int_equal(x->ncerts, y->ncerts);
		for (size_t j = 0; j < x->ncerts; j++) {
			assert_same_cert(x->certs[j], y->certs[j]);
			assert_ptr_equal(y->certs[j]->device, y);
		}
	}
	assert_int_equal(a->nrules, b->nrules);
	for (size_t i = 0; i < a->nrules; i++) {
		const struct mq_rule *x = a->rules[i], *y = b->rules[i];

		assert_int_equal(x->id, y->id);
		assert_int_equal(x->kind, y->kind);
		if (x->subject || y->subject)
			assert_string_equal(x->subject, y->subject);
		assert_string_equal(x->topic, y->topic);
		assert_int_equal(x->access, y->access);
		assert_int_equal(x->deny, y->deny);
	}
}

static struct mq_policy *parse_str(const char *s, char *err, size_t errlen)
{
	return support_policy_parse(s, strlen(s), err, errlen);
}

/* ---- round trip ---------------------------------------------------------- */

static void policy_serialize_should_round_trip_through_parse(void **state)
{
	struct mq_policy *p = build_policy(), *q;
	char err[256] = "";
	char *t1 = mq_policy_serialize(p), *t2;

	assert_non_null(t1);
	assert_int_equal(t1[strlen(t1) - 1], '\n');
	q = parse_str(t1, err, sizeof(err));
	if (!q)
		fail_msg("parse of own output failed: %s\n%s", err, t1);
	assert_same_policy(p, q);
	t2 = mq_policy_serialize(q);
	assert_non_null(t2);
	assert_string_equal(t1, t2);
	free(t1);
	free(t2);
	mq_policy_free(p);
	mq_policy_free(q);
}

static void policy_serialize_should_write_the_documented_fields(void **state)
{
	struct mq_policy *p = build_policy();
	char *t = mq_policy_serialize(p);
	cJSON *root, *dev, *cert, *rule;

	assert_non_null(t);
	root = cJSON_Parse(t);
	assert_non_null(root);
	assert_int_equal(cJSON_GetObjectItem(root, "version")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(root, "generation")->valueint, 42);
	assert_int_equal(cJSON_GetObjectItem(root, "next_rule_id")->valueint, 5);
	dev = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "devices"), 0);
	assert_string_equal(cJSON_GetObjectItem(dev, "name")->valuestring, "dev1");
	assert_string_equal(cJSON_GetObjectItem(dev, "username")->valuestring, "dev1");
	assert_string_equal(cJSON_GetObjectItem(dev, "created")->valuestring, "2023-11-14T22:13:20Z");
	/* set_groups drops the duplicate "sensors" and keeps the order. */
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(dev, "groups")), 2);
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(dev, "groups"), 1)->valuestring, "kitchen");
	cert = cJSON_GetArrayItem(cJSON_GetObjectItem(dev, "certs"), 1);
	assert_string_equal(cJSON_GetObjectItem(cert, "serial")->valuestring,
			    "ff00000000000000000000000000000001");
	assert_string_equal(cJSON_GetObjectItem(cert, "fingerprint")->valuestring, FPR_B);
	assert_string_equal(cJSON_GetObjectItem(cert, "not_before")->valuestring, "2020-09-13T12:26:40Z");
	assert_string_equal(cJSON_GetObjectItem(cert, "status")->valuestring, "revoked");
	assert_string_equal(cJSON_GetObjectItem(cert, "revoked_at")->valuestring, "2022-04-15T05:20:00Z");
	rule = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "rules"), 2);
	assert_int_equal(cJSON_GetObjectItem(rule, "id")->valueint, 3);
	assert_string_equal(cJSON_GetObjectItem(rule, "subject")->valuestring, "group:sensors");
	assert_string_equal(cJSON_GetObjectItem(rule, "topic")->valuestring, "cmd/+/%c");
	assert_string_equal(cJSON_GetObjectItem(rule, "access")->valuestring, "write");
	assert_string_equal(cJSON_GetObjectItem(rule, "effect")->valuestring, "deny");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "rules"), 0),
						"subject")->valuestring, "all");
	cJSON_Delete(root);
	free(t);
	mq_policy_free(p);
}

static void policy_parse_should_accept_a_minimal_policy(void **state)
{
	char err[256] = "";
	struct mq_policy *p = parse_str("{\"version\": 1, \"devices\": []}\n\n", err, sizeof(err));

	if (!p)
		fail_msg("%s", err);
	assert_int_equal(p->ndevices, 0);
	assert_int_equal(p->nrules, 0);
	assert_int_equal(p->next_rule_id, 1);
	mq_policy_free(p);
}

/* The buffer is not NUL-terminated: parse must stay within len. */
static void policy_parse_should_respect_the_length(void **state)
{
	static const char doc[] = "{\"version\":1,\"devices\":[]}";
	char err[256] = "";
	char *buf = malloc(sizeof(doc) - 1);
	struct mq_policy *p;

	assert_non_null(buf);
	memcpy(buf, doc, sizeof(doc) - 1);
	p = support_policy_parse(buf, sizeof(doc) - 1, err, sizeof(err));
	if (!p)
		fail_msg("%s", err);
	mq_policy_free(p);
	assert_null(support_policy_parse(buf, sizeof(doc) - 2, err, sizeof(err)));
	assert_string_equal(err, "line 1, column 26: unexpected end of the file: expected ',' or '}'");
	free(buf);
}

/* ---- finders and mutators ------------------------------------------------ */

static void policy_finders_should_use_name_username_and_fingerprint(void **state)
{
	struct mq_policy *p = build_policy();
	struct mq_device *d1 = mq_policy_find_device(p, "dev1");
	struct mq_device *d2 = mq_policy_find_device(p, "dev-2.b_x");
	struct mq_cert *c;

	assert_non_null(d1);
	assert_non_null(d2);
	assert_ptr_equal(mq_policy_find_username(p, "dev1"), d1);
	assert_ptr_equal(mq_policy_find_username(p, "user2"), d2);
	assert_null(mq_policy_find_username(p, "dev-2.b_x"));
	assert_null(mq_policy_find_device(p, "user2"));
	assert_null(mq_policy_find_device(p, "DEV1"));
	assert_null(mq_policy_find_device(p, NULL));
	c = mq_policy_find_fingerprint(p, FPR_B);
	assert_non_null(c);
	assert_ptr_equal(c->device, d1);
	assert_string_equal(c->serial, "ff00000000000000000000000000000001");
	assert_null(mq_policy_find_fingerprint(p, FPR_C));
	assert_null(mq_policy_find_fingerprint(p, NULL));
	assert_true(mq_device_in_group(d1, "kitchen"));
	assert_false(mq_device_in_group(d1, "kitche"));
	assert_false(mq_device_in_group(d2, "kitchen"));
	assert_string_equal(mq_policy_find_rule(p, 2)->topic, "devices/%u/#");
	assert_null(mq_policy_find_rule(p, 4));
	mq_policy_free(p);
}

static void policy_remove_device_should_update_every_index(void **state)
{
	struct mq_policy *p = build_policy();
	struct mq_cert c = cert_tmpl("01", FPR_A, 1, 2);
	char err[256] = "";
	char *t;
	struct mq_device *d;

	mq_policy_remove_device(p, mq_policy_find_device(p, "dev1"));
	assert_int_equal(p->ndevices, 1);
	assert_null(mq_policy_find_device(p, "dev1"));
	assert_null(mq_policy_find_username(p, "dev1"));
	assert_null(mq_policy_find_fingerprint(p, FPR_A));
	assert_null(mq_policy_find_fingerprint(p, FPR_B));
	assert_non_null(mq_policy_find_device(p, "dev-2.b_x"));
	assert_non_null(mq_policy_find_username(p, "user2"));
	t = mq_policy_serialize(p);
	assert_non_null(t);
	assert_null(strstr(t, "\"dev1\""));
	assert_null(strstr(t, FPR_A));
	free(t);
	/* The name, username and fingerprint are free again. */
	d = mq_policy_add_device(p, "dev1", NULL, err, sizeof(err));
	assert_non_null(d);
	assert_int_equal(mq_policy_add_cert(p, d, &c, err, sizeof(err)), 0);
	assert_ptr_equal(mq_policy_find_fingerprint(p, FPR_A)->device, d);
	mq_policy_remove_device(p, mq_policy_find_device(p, "dev-2.b_x"));
	mq_policy_remove_device(p, d);
	assert_int_equal(p->ndevices, 0);
	assert_int_equal(p->by_name.count, 0);
	assert_int_equal(p->by_username.count, 0);
	assert_int_equal(p->by_fingerprint.count, 0);
	mq_policy_free(p);
}

static void policy_add_device_should_refuse_bad_or_taken_names(void **state)
{
	struct mq_policy *p = mq_policy_new();
	char err[256] = "";

	assert_non_null(mq_policy_add_device(p, "dev1", "u1", err, sizeof(err)));
	assert_null(mq_policy_add_device(p, "a/b", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "invalid device name 'a/b'"));
	assert_null(mq_policy_add_device(p, "..", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "invalid device name"));
	assert_null(mq_policy_add_device(p, "dev2", "u+", err, sizeof(err)));
	assert_non_null(strstr(err, "invalid username 'u+'"));
	assert_null(mq_policy_add_device(p, "dev1", "u9", err, sizeof(err)));
	assert_non_null(strstr(err, "device 'dev1' already exists"));
	assert_null(mq_policy_add_device(p, "dev2", "u1", err, sizeof(err)));
	assert_non_null(strstr(err, "username 'u1' is already used by device 'dev1'"));
	/* A device named like another's username: the username is the clash. */
	assert_null(mq_policy_add_device(p, "u1", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "username 'u1'"));
	assert_int_equal(p->ndevices, 1);
	mq_policy_free(p);
}

static void policy_set_groups_should_validate_and_replace(void **state)
{
	struct mq_policy *p = mq_policy_new();
	struct mq_device *d = mq_policy_add_device(p, "dev1", NULL, NULL, 0);
	char *good[] = { "a", "b" }, *bad[] = { "ok", "no/slash" }, *one[] = { "c" };
	char err[256] = "";

	assert_non_null(d);
	assert_int_equal(mq_policy_set_groups(d, good, 2, err, sizeof(err)), 0);
	assert_int_equal(mq_policy_set_groups(d, bad, 2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid group name 'no/slash'"));
	/* A refused change leaves the old groups. */
	assert_int_equal(d->ngroups, 2);
	assert_true(mq_device_in_group(d, "b"));
	assert_int_equal(mq_policy_set_groups(d, one, 1, err, sizeof(err)), 0);
	assert_int_equal(d->ngroups, 1);
	assert_false(mq_device_in_group(d, "a"));
	assert_int_equal(mq_policy_set_groups(d, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(d->ngroups, 0);
	mq_policy_free(p);
}

static void policy_add_cert_should_refuse_bad_or_known_fingerprints(void **state)
{
	struct mq_policy *p = mq_policy_new();
	struct mq_device *d1 = mq_policy_add_device(p, "dev1", NULL, NULL, 0);
	struct mq_device *d2 = mq_policy_add_device(p, "dev2", NULL, NULL, 0);
	struct mq_cert c = cert_tmpl("01", FPR_A, 1, 2);
	struct mq_cert upper = cert_tmpl("01", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 1, 2);
	char err[256] = "";

	assert_int_equal(mq_policy_add_cert(p, d1, &c, err, sizeof(err)), 0);
	assert_int_equal(mq_policy_add_cert(p, d2, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already in the policy"));
	assert_int_equal(mq_policy_add_cert(p, d2, &upper, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid fingerprint"));
	assert_int_equal(d2->ncerts, 0);
	/* Many certificates: the array grows. */
	for (int i = 0; i < 40; i++) {
		struct mq_cert ci = cert_tmpl("02", FPR_A, 1, 2);

		snprintf(ci.fingerprint, sizeof(ci.fingerprint), "%064x", i);
		assert_int_equal(mq_policy_add_cert(p, d2, &ci, err, sizeof(err)), 0);
	}
	assert_int_equal(d2->ncerts, 40);
	assert_ptr_equal(mq_policy_find_fingerprint(p, d2->certs[39]->fingerprint), d2->certs[39]);
	mq_policy_free(p);
}

static void policy_rules_should_get_increasing_ids_never_reused(void **state)
{
	struct mq_policy *p = mq_policy_new(), *q;
	char err[256] = "";
	struct mq_rule *r;
	char *t;

	for (unsigned long i = 1; i <= 3; i++) {
		r = mq_policy_add_rule(p, MQ_SUBJ_ALL, "ignored", "t", MQ_ACCESS_READ, false, err, sizeof(err));
		assert_non_null(r);
		assert_int_equal(r->id, i);
		assert_null(r->subject); /* "all" has no subject */
	}
	assert_int_equal(mq_policy_remove_rule(p, 2), 0);
	assert_int_equal(mq_policy_remove_rule(p, 2), -1);
	assert_int_equal(mq_policy_remove_rule(p, 0), -1);
	assert_int_equal(mq_policy_remove_rule(p, 3), 0);
	assert_int_equal(p->nrules, 1);
	assert_int_equal(p->rules[0]->id, 1);
	/* The freed ids survive a save and load. */
	t = mq_policy_serialize(p);
	assert_non_null(t);
	q = parse_str(t, err, sizeof(err));
	assert_non_null(q);
	r = mq_policy_add_rule(q, MQ_SUBJ_DEVICE, "dev9", "x/#", MQ_ACCESS_WRITE, true, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(r->id, 4);
	free(t);
	mq_policy_free(p);
	mq_policy_free(q);
}

static void policy_add_rule_should_refuse_invalid_rules(void **state)
{
	struct mq_policy *p = mq_policy_new();
	char err[256] = "";

	assert_null(mq_policy_add_rule(p, MQ_SUBJ_DEVICE, "a+b", "t", MQ_ACCESS_READ, false, err, sizeof(err)));
	assert_non_null(strstr(err, "invalid rule subject 'a+b'"));
	assert_null(mq_policy_add_rule(p, MQ_SUBJ_GROUP, NULL, "t", MQ_ACCESS_READ, false, err, sizeof(err)));
	assert_non_null(strstr(err, "invalid rule subject ''"));
	assert_null(mq_policy_add_rule(p, MQ_SUBJ_ALL, NULL, "t", (enum mq_access)0, false, err, sizeof(err)));
	assert_non_null(strstr(err, "invalid rule access"));
	assert_null(mq_policy_add_rule(p, MQ_SUBJ_ALL, NULL, "t", (enum mq_access)4, false, err, sizeof(err)));
	assert_non_null(strstr(err, "invalid rule access"));
	assert_null(mq_policy_add_rule(p, MQ_SUBJ_ALL, NULL, "a/#/b", MQ_ACCESS_READ, false, err, sizeof(err)));
	assert_non_null(strstr(err, "'#' must be the last"));
	assert_null(mq_policy_add_rule(p, MQ_SUBJ_ALL, NULL, "", MQ_ACCESS_READ, false, err, sizeof(err)));
	assert_non_null(strstr(err, "empty"));
	assert_int_equal(p->nrules, 0);
	assert_int_equal(p->next_rule_id, 1);
	mq_policy_free(p);
}

static void cert_state_should_honour_the_validity_bounds(void **state)
{
	struct mq_cert c = cert_tmpl("01", FPR_A, 1000, 2000);

	assert_int_equal(mq_cert_state(&c, 999), MQ_STATE_NOT_YET_VALID);
	assert_int_equal(mq_cert_state(&c, 1000), MQ_STATE_ACTIVE);
	assert_int_equal(mq_cert_state(&c, 1999), MQ_STATE_ACTIVE);
	/* notAfter itself counts as expired, as in OpenSSL's verifier. */
	assert_int_equal(mq_cert_state(&c, 2000), MQ_STATE_EXPIRED);
	assert_int_equal(mq_cert_state(&c, 0), MQ_STATE_NOT_YET_VALID);
	c.status = MQ_CERT_REVOKED;
	assert_int_equal(mq_cert_state(&c, 999), MQ_STATE_REVOKED);
	assert_int_equal(mq_cert_state(&c, 1500), MQ_STATE_REVOKED);
	assert_int_equal(mq_cert_state(&c, 5000), MQ_STATE_REVOKED);
	assert_string_equal(mq_cert_state_str(MQ_STATE_ACTIVE), "active");
	assert_string_equal(mq_cert_state_str(MQ_STATE_REVOKED), "revoked");
	assert_string_equal(mq_cert_state_str(MQ_STATE_EXPIRED), "expired");
	assert_string_equal(mq_cert_state_str(MQ_STATE_NOT_YET_VALID), "not-yet-valid");
}

/* Retired certificates, suspended devices and deleted records survive a
 * write and a read; a deleted device's certificate admits nobody. */
static void policy_lifecycle_should_round_trip(void **state)
{
	char err[256] = "", *text;
	struct mq_policy *p = mq_policy_new(), *q;
	struct mq_device *d1, *d2;
	struct mq_cert c1 = cert_tmpl("0a", FPR_A, 1000, 5000), c2 = cert_tmpl("0b", FPR_B, 1000, 5000);
	const struct mq_deleted *x;

	d1 = mq_policy_add_device(p, "old", NULL, err, sizeof(err));
	d2 = mq_policy_add_device(p, "gone", NULL, err, sizeof(err));
	c1.status = MQ_CERT_RETIRED;
	c1.retired_at = 1500;
	c1.retire_reason = "renewed";
	assert_int_equal(mq_policy_add_cert(p, d1, &c1, err, sizeof(err)), 0);
	d1->suspended = true;
	d1->suspended_at = 1600;
	c2.status = MQ_CERT_REVOKED;
	assert_int_equal(mq_policy_add_cert(p, d2, &c2, err, sizeof(err)), 0);
	assert_int_equal(mq_policy_delete_device(p, d2, 1700, "archive/gone-x", err, sizeof(err)), 0);
	assert_null(mq_policy_find_device(p, "gone"));
	assert_null(mq_policy_find_fingerprint(p, FPR_B));
	text = mq_policy_serialize(p);
	assert_non_null(text);
	q = support_policy_parse(text, strlen(text), err, sizeof(err));
	assert_non_null(q);
	d1 = mq_policy_find_device(q, "old");
	assert_true(d1->suspended);
	assert_int_equal(d1->suspended_at, 1600);
	assert_int_equal(d1->certs[0]->status, MQ_CERT_RETIRED);
	assert_int_equal(d1->certs[0]->retired_at, 1500);
	assert_string_equal(d1->certs[0]->retire_reason, "renewed");
	assert_int_equal(mq_cert_state(d1->certs[0], 2000), MQ_STATE_RETIRED);
	assert_null(mq_policy_find_device(q, "gone"));
	assert_null(mq_policy_find_fingerprint(q, FPR_B));
	x = mq_policy_find_deleted(q, "gone");
	assert_non_null(x);
	assert_int_equal(x->deleted_at, 1700);
	assert_string_equal(x->archive, "archive/gone-x");
	assert_int_equal(x->device->ncerts, 1);
	assert_string_equal(x->device->certs[0]->serial, "0b");
	/* The name may be issued again (with --force): no clash on reading. */
	assert_non_null(mq_policy_add_device(q, "gone", NULL, err, sizeof(err)));
	free(text);
	mq_policy_free(p);
	mq_policy_free(q);
}

static void cert_state_should_put_suspension_after_revocation_and_expiry(void **state)
{
	struct mq_device d = {.suspended = true};
	struct mq_cert c = cert_tmpl("01", FPR_A, 1000, 2000);

	c.device = &d;
	assert_int_equal(mq_cert_state(&c, 1500), MQ_STATE_SUSPENDED);
	assert_int_equal(mq_cert_state(&c, 2500), MQ_STATE_EXPIRED);
	c.status = MQ_CERT_RETIRED;
	assert_int_equal(mq_cert_state(&c, 1500), MQ_STATE_RETIRED);
	c.status = MQ_CERT_REVOKED;
	assert_int_equal(mq_cert_state(&c, 1500), MQ_STATE_REVOKED);
	assert_string_equal(mq_cert_state_str(MQ_STATE_RETIRED), "retired");
	assert_string_equal(mq_cert_state_str(MQ_STATE_SUSPENDED), "suspended");
}

/* mqadmin serve's fields: role, renew_now, renewed_at, retired and
 * retire_after survive a write and a read; retire_after ends a
 * certificate's admission by itself; a bad role is refused. */
static void policy_should_keep_the_renewal_fields(void **state)
{
	struct mq_policy *p = mq_policy_new(), *q;
	struct mq_cert c1 = cert_tmpl("01", FPR_A, 1000, 900000), c2 = cert_tmpl("02", FPR_B, 1000, 900000);
	struct mq_device *d, *svc;
	char err[256] = "", *t;

	d = mq_policy_add_device(p, "dev1", "dev1", err, sizeof(err));
	svc = mq_policy_add_device(p, "svc", "svc", err, sizeof(err));
	assert_non_null(d);
	assert_non_null(svc);
	c1.status = MQ_CERT_RETIRED;
	c1.retired_at = 3000;
	c1.retire_reason = "renewed";
	c2.retire_after = 5000;
	assert_int_equal(mq_policy_add_cert(p, d, &c1, err, sizeof(err)), 0);
	assert_int_equal(mq_policy_add_cert(p, d, &c2, err, sizeof(err)), 0);
	d->renew_now = true;
	d->renewed_at = 2500;
	svc->service = true;
	t = mq_policy_serialize(p);
	assert_non_null(t);
	q = parse_str(t, err, sizeof(err));
	if (!q)
		fail_msg("%s\n%s", err, t);
	d = mq_policy_find_device(q, "dev1");
	assert_true(d->renew_now);
	assert_int_equal(d->renewed_at, 2500);
	assert_false(d->service);
	assert_true(mq_policy_find_device(q, "svc")->service);
	assert_int_equal(d->certs[0]->status, MQ_CERT_RETIRED);
	assert_int_equal(d->certs[0]->retired_at, 3000);
	assert_string_equal(d->certs[0]->retire_reason, "renewed");
	assert_int_equal(d->certs[1]->retire_after, 5000);
	assert_int_equal(mq_cert_state(d->certs[0], 2000), MQ_STATE_RETIRED);
	assert_int_equal(mq_cert_state(d->certs[1], 4999), MQ_STATE_ACTIVE);
	assert_int_equal(mq_cert_state(d->certs[1], 5000), MQ_STATE_RETIRED);
	assert_string_equal(mq_cert_state_str(MQ_STATE_RETIRED), "retired");
	free(t);
	mq_policy_free(q);
	assert_null(parse_str("{\"version\":1,\"generation\":1,\"next_rule_id\":1,\"devices\":"
			      "[{\"name\":\"a\",\"username\":\"a\",\"role\":\"admin\",\"certs\":[]}],"
			      "\"rules\":[]}", err, sizeof(err)));
	assert_non_null(strstr(err, "role 'admin' must be"));
	mq_policy_free(p);
}

static void access_parse_should_round_trip_with_str(void **state)
{
	static const char *const names[] = { "read", "write", "readwrite" };
	enum mq_access a = MQ_ACCESS_READ;

	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(mq_rule_access_parse(names[i], &a), 0);
		assert_int_equal(a, (enum mq_access)(i + 1));
		assert_string_equal(mq_rule_access_str(a), names[i]);
	}
	assert_int_equal(mq_rule_access_parse("READ", &a), -1);
	assert_int_equal(mq_rule_access_parse("rw", &a), -1);
	assert_int_equal(mq_rule_access_parse("", &a), -1);
	assert_int_equal(mq_rule_access_parse(NULL, &a), -1);
	assert_int_equal(a, MQ_ACCESS_READWRITE);
}

/* ---- malformed policies --------------------------------------------------- */

#define TIMES "\"not_before\":\"2024-01-01T00:00:00Z\",\"not_after\":\"2025-01-01T00:00:00Z\""
#define CERT_FS(fpr, serial, status) \
	"{\"serial\":\"" serial "\",\"fingerprint\":\"" fpr "\"," TIMES ",\"status\":\"" status "\"}"
#define CERT(fpr) CERT_FS(fpr, "01", "active")
#define DEV(name, user, certs) \
	"{\"name\":\"" name "\",\"username\":\"" user "\",\"groups\":[],\"certs\":[" certs "]}"
#define POL(devs, rules) "{\"version\":1,\"devices\":[" devs "],\"rules\":[" rules "]}"
#define RULE(id, subj, topic, acc, eff) \
	"{\"id\":" id ",\"subject\":\"" subj "\",\"topic\":\"" topic "\",\"access\":\"" acc "\",\"effect\":\"" eff "\"}"
#define GOOD_RULE RULE("1", "all", "a/b", "read", "allow")

struct bad_case {
	const char *doc;
	const char *err_has; /* the reason must name the problem */
};

static const struct bad_case bad_policies[] = {
	/* the document */
	{ "", "line 1, column 1: unexpected end of the file: expected a value" },
	{ "not json", "line 1, column 1: expected a value (did you mean null?)" },
	{ "{\"version\":1,\"devices\":[" DEV("dev1", "dev1", ""), "unexpected end of the file: expected ',' or ']'" },
	{ "{\"version\":1,\"devices\":[]", "line 1, column 26: unexpected end of the file: expected ',' or '}'" },
	{ "{\"version\":1,\"devices\":[]} {}", "line 1, column 28: unexpected data after the document" },
	{ "{\"version\":1,\"devices\":[]}x", "unexpected data after the document" },
	{ POL(DEV("d\\u0000x", "d", CERT(FPR_A)), ""), "\\u0000 is not allowed in a string" },
	{ POL(DEV("d\x01", "d", CERT(FPR_A)), ""), "control character 0x01 in a string: write it as \\u0001" },
	{ POL(DEV("d\\ud800", "d", CERT(FPR_A)), ""), "unpaired UTF-16 surrogate \\ud800" },
	{ "{\"version\":01,\"devices\":[]}", "line 1, column 13: expected ',' or '}'" },
	{ "{\"version\":1,\"devices\":[],}", "line 1, column 27: expected a member name in double quotes" },
	{ "{\"version\":1,\n  \"devices\":[],\n\"version\":1}", "line 3, column 1: duplicate member version:" },
	{ POL(DEV("d", "d", CERT(FPR_A)) "," DEV("e", "e", CERT_FS(FPR_B, "01", "active\",\"status\":\"revoked")), ""),
	  "duplicate member devices[1].certs[0].status: JSON readers disagree on which one counts; keep only one" },
	{ "{\"version\":1,\"devices\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}", "devices[0]: must be an object" },
	{ "[]", "top level must be a JSON object" },
	{ "\"policy\"", "top level must be a JSON object" },
	{ "{}", "missing \"version\"" },
	{ "{\"devices\":[]}", "missing \"version\"" },
	{ "{\"version\":2,\"devices\":[]}", "upgrade mqcert" },
	{ "{\"version\":0,\"devices\":[]}", "version 0 is not supported" },
	{ "{\"version\":\"1\",\"devices\":[]}", "\"version\" must be a non-negative integer" },
	{ "{\"version\":1.5,\"devices\":[]}", "\"version\" must be a non-negative integer" },
	{ "{\"version\":-1,\"devices\":[]}", "\"version\" must be a non-negative integer" },
	{ "{\"version\":1e300,\"devices\":[]}", "\"version\" must be a non-negative integer" },
	{ "{\"version\":1,\"generation\":\"x\",\"devices\":[]}", "\"generation\" must be a non-negative integer" },
	{ "{\"version\":1,\"next_rule_id\":-3,\"devices\":[]}", "\"next_rule_id\" must be a non-negative integer" },
	{ "{\"version\":1}", "\"devices\" must be an array" },
	{ "{\"version\":1,\"devices\":{}}", "\"devices\" must be an array" },
	{ "{\"version\":1,\"devices\":null}", "\"devices\" must be an array" },
	{ "{\"version\":1,\"devices\":[],\"rules\":{}}", "\"rules\" must be an array" },
	/* devices */
	{ POL("1", ""), "devices[0]: must be an object" },
	{ POL("{\"username\":\"u\",\"certs\":[]}", ""), "devices[0]: missing \"name\"" },
	{ POL("{\"name\":\"d\",\"certs\":[]}", ""), "devices[0]: missing \"username\"" },
	{ POL("{\"name\":7,\"username\":\"u\",\"certs\":[]}", ""), "devices[0]: \"name\" must be a string" },
	{ POL(DEV("dev1", "dev1", "") "," DEV("a/b", "ab", ""), ""), "invalid device name 'a/b'" },
	{ POL(DEV("", "u", ""), ""), "invalid device name ''" },
	{ POL(DEV("..", "u", ""), ""), "invalid device name '..'" },
	{ POL(DEV("dev+1", "u", ""), ""), "invalid device name 'dev+1'" },
	{ POL(DEV("d", "u#", ""), ""), "invalid username 'u#'" },
	{ POL(DEV("dev1", "u1", "") "," DEV("dev1", "u2", ""), ""), "device 'dev1' already exists" },
	{ POL(DEV("dev1", "u1", "") "," DEV("dev2", "u1", ""), ""),
	  "username 'u1' is already used by device 'dev1'" },
	{ POL("{\"name\":\"d\",\"username\":\"d\",\"groups\":\"g\",\"certs\":[]}", ""),
	  "device 'd': \"groups\" must be an array" },
	{ POL("{\"name\":\"d\",\"username\":\"d\",\"groups\":[\"g\",3],\"certs\":[]}", ""),
	  "device 'd': \"groups\" must be an array of names" },
	{ POL("{\"name\":\"d\",\"username\":\"d\",\"groups\":[\"g/h\"],\"certs\":[]}", ""),
	  "invalid group name 'g/h'" },
	{ POL("{\"name\":\"d\",\"username\":\"d\",\"groups\":[]}", ""), "device 'd': \"certs\" must be an array" },
	{ POL("{\"name\":\"d\",\"username\":\"d\",\"created\":\"yesterday\",\"certs\":[]}", ""),
	  "device 'd': \"created\" is not an ISO 8601 UTC time" },
	/* certificates */
	{ POL(DEV("d", "d", "\"x\""), ""), "device 'd' certificate 0: must be an object" },
	{ POL(DEV("d", "d", CERT(FPR_A) "," CERT(FPR_A)), ""), "fingerprint " FPR_A " appears twice" },
	{ POL(DEV("d", "d", CERT(FPR_A)) "," DEV("e", "e", CERT(FPR_B) "," CERT(FPR_A)), ""),
	  "device 'e' certificate 1: fingerprint " FPR_A " appears twice" },
	{ POL(DEV("d", "d", CERT("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")), ""),
	  "is not 64 lowercase hex digits" },
	{ POL(DEV("d", "d", CERT("aaaa")), ""), "fingerprint 'aaaa' is not 64 lowercase hex digits" },
	{ POL(DEV("d", "d", CERT(FPR_A "a")), ""), "is not 64 lowercase hex digits" },
	{ POL(DEV("d", "d", CERT("aa:aa")), ""), "is not 64 lowercase hex digits" },
	{ POL(DEV("d", "d", CERT_FS(FPR_A, "0X1F", "active")), ""), "serial '0X1F' is not lowercase hex" },
	{ POL(DEV("d", "d", CERT_FS(FPR_A, "", "active")), ""), "serial '' is not lowercase hex" },
	{ POL(DEV("d", "d", CERT_FS(FPR_A, "-01", "active")), ""), "serial '-01' is not lowercase hex" },
	{ POL(DEV("d", "d", CERT_FS(FPR_A, "0123456789abcdef0123456789abcdef0123456789a", "active")), ""),
	  "is not lowercase hex" },
	{ POL(DEV("d", "d", CERT_FS(FPR_A, "01", "valid")), ""), "status 'valid' must be \"active\", \"retired\" or \"revoked\"" },
	{ POL(DEV("d", "d", CERT_FS(FPR_A, "01", "expired")), ""), "status 'expired' must be" },
	{ POL(DEV("d", "d", "{\"serial\":\"01\",\"fingerprint\":\"" FPR_A "\",\"status\":\"active\"}"), ""),
	  "certificate 0: missing \"not_before\"" },
	{ POL(DEV("d", "d", "{\"serial\":1,\"fingerprint\":\"" FPR_A "\"," TIMES ",\"status\":\"active\"}"), ""),
	  "\"serial\" must be a string" },
	{ POL(DEV("d", "d", "{\"serial\":\"01\",\"fingerprint\":\"" FPR_A "\",\"not_before\":\"2024-13-01T00:00:00Z\","
		  "\"not_after\":\"2025-01-01T00:00:00Z\",\"status\":\"active\"}"), ""),
	  "\"not_before\" is not an ISO 8601 UTC time (YYYY-MM-DDTHH:MM:SSZ): '2024-13-01T00:00:00Z'" },
	{ POL(DEV("d", "d", "{\"serial\":\"01\",\"fingerprint\":\"" FPR_A "\",\"not_before\":\"2024-01-01T00:00:00Z\","
		  "\"not_after\":\"2025-02-30T00:00:00Z\",\"status\":\"active\"}"), ""),
	  "\"not_after\" is not an ISO 8601" },
	{ POL(DEV("d", "d", "{\"serial\":\"01\",\"fingerprint\":\"" FPR_A "\",\"not_before\":\"2024-01-01T00:00:00Z\","
		  "\"not_after\":\"2025-01-01T00:00:00+01:00\",\"status\":\"active\"}"), ""),
	  "\"not_after\" is not an ISO 8601" },
	{ POL(DEV("d", "d", "{\"serial\":\"01\",\"fingerprint\":\"" FPR_A "\",\"not_before\":\"2024-01-01T00:00:00Z\","
		  "\"not_after\":1735689600,\"status\":\"active\"}"), ""),
	  "\"not_after\" must be a string" },
	{ POL(DEV("d", "d", "{\"serial\":\"01\",\"fingerprint\":\"" FPR_A "\",\"not_before\":\"2024-01-01T00:00:00Z\","
		  "\"not_after\":\"2024-01-01T00:00:00Z\",\"status\":\"active\"}"), ""),
	  "not_after is not later than not_before" },
	{ POL(DEV("d", "d", "{\"serial\":\"01\",\"fingerprint\":\"" FPR_A "\",\"not_before\":\"2025-01-01T00:00:00Z\","
		  "\"not_after\":\"2024-01-01T00:00:00Z\",\"status\":\"active\"}"), ""),
	  "not_after is not later than not_before" },
	{ POL(DEV("d", "d", "{\"serial\":\"01\",\"fingerprint\":\"" FPR_A "\"," TIMES ",\"status\":\"revoked\","
		  "\"revoked_at\":\"soon\"}"), ""),
	  "\"revoked_at\" is not an ISO 8601" },
	{ POL(DEV("d", "d", "{\"serial\":\"01\",\"fingerprint\":\"" FPR_A "\"," TIMES ",\"status\":\"revoked\","
		  "\"reason\":false}"), ""),
	  "\"reason\" must be a string" },
	/* rules */
	{ POL("", "7"), "rules[0]: must be an object" },
	{ POL("", "{\"subject\":\"all\",\"topic\":\"a\",\"access\":\"read\",\"effect\":\"allow\"}"),
	  "rules[0]: missing \"id\"" },
	{ POL("", RULE("0", "all", "a", "read", "allow")), "rule 0: id must be unique and greater than 0" },
	{ POL("", RULE("-1", "all", "a", "read", "allow")), "rules[0]: \"id\" must be a non-negative integer" },
	{ POL("", RULE("1.5", "all", "a", "read", "allow")), "\"id\" must be a non-negative integer" },
	{ POL("", RULE("\"1\"", "all", "a", "read", "allow")), "\"id\" must be a non-negative integer" },
	{ POL("", GOOD_RULE "," RULE("1", "all", "b", "read", "allow")), "rule 1: id must be unique" },
	{ POL("", RULE("7", "all", "a", "read", "allow") "," RULE("2", "all", "b", "read", "allow") ","
		  RULE("9", "all", "c", "read", "allow") "," RULE("7", "all", "d", "read", "allow")),
	  "rule 7: id must be unique" },
	{ POL("", "{\"id\":1,\"topic\":\"a\",\"access\":\"read\",\"effect\":\"allow\"}"), "rule 1: missing \"subject\"" },
	{ POL("", RULE("1", "everyone", "a", "read", "allow")),
	  "rule 1: subject 'everyone' must be \"all\", \"device:NAME\" or \"group:NAME\"" },
	{ POL("", RULE("1", "device", "a", "read", "allow")), "subject 'device' must be" },
	{ POL("", RULE("1", "device:a/b", "a", "read", "allow")), "rule 1: invalid rule subject 'a/b'" },
	{ POL("", RULE("1", "group:", "a", "read", "allow")), "rule 1: invalid rule subject ''" },
	{ POL("", RULE("1", "group:#", "a", "read", "allow")), "rule 1: invalid rule subject '#'" },
	{ POL("", RULE("1", "all", "a", "rw", "allow")), "rule 1: access 'rw' must be read, write or readwrite" },
	{ POL("", RULE("1", "all", "a", "read", "permit")), "rule 1: effect 'permit' must be \"allow\" or \"deny\"" },
	{ POL("", RULE("1", "all", "a/#/b", "read", "allow")), "rule 1: '#' must be the last level in 'a/#/b'" },
	{ POL("", RULE("1", "all", "a/b+", "read", "allow")), "rule 1: '+' must fill a whole level" },
	{ POL("", RULE("1", "all", "", "read", "allow")), "rule 1: empty topic pattern" },
	{ POL("", RULE("1", "all", "a/%x", "read", "allow")), "rule 1: unknown placeholder" },
	{ POL("", "{\"id\":1,\"subject\":\"all\",\"topic\":[],\"access\":\"read\",\"effect\":\"allow\"}"),
	  "rule 1: \"topic\" must be a string" },
};

static void policy_parse_should_reject_malformed_policies(void **state)
{
	for (size_t i = 0; i < sizeof(bad_policies) / sizeof(*bad_policies); i++) {
		char err[512] = "";
		struct mq_policy *p = parse_str(bad_policies[i].doc, err, sizeof(err));

		if (p) {
			mq_policy_free(p);
			fail_msg("case %zu accepted: %s", i, bad_policies[i].doc);
		}
		if (!strstr(err, bad_policies[i].err_has))
			fail_msg("case %zu: message '%s' lacks '%s'", i, err, bad_policies[i].err_has);
	}
}

/* Each case above differs from a valid policy in one place: check that the
 * skeleton itself is accepted, so the cases fail for the stated reason. */
static void policy_parse_should_accept_the_skeleton_of_the_bad_cases(void **state)
{
	static const char *const good[] = {
		POL(DEV("d", "d", CERT(FPR_A)) "," DEV("e", "e", CERT(FPR_B)), GOOD_RULE),
		POL(DEV("d", "u", CERT_FS(FPR_A, "0123456789abcdef0123456789abcdef0123456789", "revoked")), ""),
		POL("", RULE("1", "device:dev1", "a/+/%u/#", "readwrite", "deny") "," RULE("9", "group:g", "#", "write", "allow")),
		"{\"version\":1,\"generation\":3,\"next_rule_id\":10,\"devices\":[]}",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		char err[512] = "";
		struct mq_policy *p = parse_str(good[i], err, sizeof(err));

		if (!p)
			fail_msg("case %zu refused: %s\n%s", i, err, good[i]);
		mq_policy_free(p);
	}
}

static void policy_parse_should_not_need_an_error_buffer(void **state)
{
	assert_null(support_policy_parse("[]", 2, NULL, 0));
	assert_null(parse_str(POL("", RULE("1", "all", "a/#/b", "read", "allow")), NULL, 0));
	assert_null(parse_str(POL(DEV("a/b", "u", ""), ""), NULL, 0));
}

static void policy_parse_should_truncate_long_messages(void **state)
{
	char err[16];

	memset(err, 'x', sizeof(err));
	assert_null(parse_str(POL("", RULE("1", "all", "a/#/b", "read", "allow")), err, sizeof(err)));
	assert_non_null(memchr(err, '\0', sizeof(err)));
	assert_null(parse_str("[]", err, sizeof(err)));
	assert_int_equal(strlen(err), sizeof(err) - 1);
}

/* ---- files ------------------------------------------------------------- */

static void policy_load_should_name_a_missing_file(void **state)
{
	char err[512] = "";

	assert_null(mq_policy_load("/nonexistent/mqcert-test/policy.json", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/mqcert-test/policy.json"));
	assert_non_null(strstr(err, "No such file"));
}

static void policy_load_should_read_a_file_and_refuse_a_directory(void **state)
{
	char path[] = "/tmp/mqcert-policy-XXXXXX", err[512] = "";
	struct mq_policy *p = build_policy(), *q;
	char *t = mq_policy_serialize(p);
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_non_null(t);
	assert_int_equal(write(fd, t, strlen(t)), (ssize_t)strlen(t));
	assert_int_equal(close(fd), 0);
	q = mq_policy_load(path, err, sizeof(err));
	unlink(path);
	if (!q)
		fail_msg("%s", err);
	assert_same_policy(p, q);
	mq_policy_free(q);
	assert_null(mq_policy_load("/tmp", err, sizeof(err)));
	assert_non_null(strstr(err, "/tmp"));
	free(t);
	mq_policy_free(p);
}

/* A temporary directory for the file tests; removed by rm_tree. */
static void make_tmpdir(char *dir)
{
	strcpy(dir, "/tmp/mqcert-policy-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void rm_tree(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A FIFO used to block the reader until a writer came (in the broker: for
 * ever, and then SIGTERM hung in pthread_join). alarm() turns a hang into a
 * failure. */
static void policy_load_should_refuse_a_fifo_at_once(void **state)
{
	char dir[32], path[64], err[512] = "";
	double t0;

	make_tmpdir(dir);
	snprintf(path, sizeof(path), "%s/policy.json", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(10);
	t0 = now_seconds();
	assert_null(mq_policy_load(path, err, sizeof(err)));
	alarm(0);
	assert_true(now_seconds() - t0 < 2);
	assert_non_null(strstr(err, "policy.json is a FIFO, not a regular file: the policy must be a "
				  "file (or a symbolic link to one)"));
	rm_tree(dir);
}

/* A symbolic link is followed (ConfigMap-style swaps), to a file only:
 * /dev/zero behind a link used to be read to twice the size cap. */
static void policy_load_should_follow_a_symlink_to_a_file_only(void **state)
{
	char dir[32], file[64], link[64], err[512] = "";
	struct mq_policy *p;

	make_tmpdir(dir);
	snprintf(file, sizeof(file), "%s/real.json", dir);
	snprintf(link, sizeof(link), "%s/policy.json", dir);
	write_file(file, "{\"version\":1,\"generation\":4,\"devices\":[]}");
	assert_int_equal(symlink("real.json", link), 0);
	p = mq_policy_load(link, err, sizeof(err));
	if (!p)
		fail_msg("%s", err);
	assert_int_equal(p->generation, 4);
	mq_policy_free(p);
	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink("/dev/zero", link), 0);
	assert_null(mq_policy_load(link, err, sizeof(err)));
	assert_non_null(strstr(err, "policy.json is a character device, not a regular file"));
	rm_tree(dir);
}

/* Over the cap is refused from its size, before a byte is read. */
static void policy_load_should_refuse_a_file_over_the_cap_unread(void **state)
{
	char dir[32], path[64], err[512] = "", want[160];
	double t0;
	int fd;

	make_tmpdir(dir);
	snprintf(path, sizeof(path), "%s/policy.json", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	/* Sparse: no disk space, but reading it would take 128 MB. */
	assert_int_equal(ftruncate(fd, MQ_POLICY_MAX_BYTES + 1), 0);
	assert_int_equal(close(fd), 0);
	t0 = now_seconds();
	assert_null(mq_policy_load(path, err, sizeof(err)));
	assert_true(now_seconds() - t0 < 1);
	snprintf(want, sizeof(want), "%s is 134217729 bytes, over the limit of 134217728 (128 MB): not read",
		 path);
	assert_string_equal(err, want);
	rm_tree(dir);
}

static void policy_load_should_name_file_line_and_column(void **state)
{
	char dir[32], path[64], err[512] = "", want[256];

	make_tmpdir(dir);
	snprintf(path, sizeof(path), "%s/policy.json", dir);
	write_file(path, "{\n\t\"version\": 1,\n\t\"devices\": [\n\t\t{\"name\": \"a\"\n\t\t \"username\": \"a\"}]}\n");
	assert_null(mq_policy_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:5:4: expected ',' or '}'", path);
	assert_string_equal(err, want);
	write_file(path, POL(DEV("d", "d", CERT(FPR_A)) "," DEV("e", "e", CERT(FPR_B)) ","
			     "{\"name\":\"f\",\"username\":\"f\",\"certs\":[],\"name\":\"g\"}", ""));
	assert_null(mq_policy_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "policy.json:1:"));
	assert_non_null(strstr(err, ": duplicate member devices[2].name: JSON readers disagree on which "
				  "one counts; keep only one"));
	rm_tree(dir);
}

/* Many groups are deduplicated in linear time (50,000 took 8 s), keeping
 * the first of each in order. */
static void policy_parse_should_deduplicate_many_groups_quickly(void **state)
{
	size_t n = 40000, cap = n * 12 + 256, at = 0;
	char *s = malloc(cap), err[512] = "";
	struct mq_policy *p;
	double t0;

	assert_non_null(s);
	at += (size_t)snprintf(s + at, cap - at, "{\"version\":1,\"devices\":[{\"name\":\"d\","
			       "\"username\":\"d\",\"certs\":[],\"groups\":[");
	/* g0..g19999, then the same again. */
	for (size_t i = 0; i < n; i++)
		at += (size_t)snprintf(s + at, cap - at, "%s\"g%zu\"", i ? "," : "", i % (n / 2));
	at += (size_t)snprintf(s + at, cap - at, "]}]}");
	t0 = now_seconds();
	p = support_policy_parse(s, at, err, sizeof(err));
	if (!p)
		fail_msg("%s", err);
	assert_true(now_seconds() - t0 < 1.5);
	assert_int_equal(p->devices[0]->ngroups, n / 2);
	assert_string_equal(p->devices[0]->groups[0], "g0");
	assert_string_equal(p->devices[0]->groups[n / 2 - 1], "g19999");
	mq_policy_free(p);
	free(s);
}

/* Rule ids are checked for uniqueness in n log n: a search per rule made
 * 100,000 rules take 10 s. Descending ids, the worst case of a search. */
static void policy_parse_should_read_many_rules_quickly(void **state)
{
	size_t n = 50000, cap = n * 80 + 64, at = 0;
	char *s = malloc(cap), err[512] = "";
	struct mq_policy *p;
	double t0;

	assert_non_null(s);
	at += (size_t)snprintf(s + at, cap - at, "{\"version\":1,\"devices\":[],\"rules\":[");
	for (size_t i = 0; i < n; i++)
		at += (size_t)snprintf(s + at, cap - at, "%s{\"id\":%zu,\"subject\":\"all\",\"topic\":\"a/%zu\","
				       "\"access\":\"read\",\"effect\":\"allow\"}", i ? "," : "", n - i, i);
	at += (size_t)snprintf(s + at, cap - at, "]}");
	t0 = now_seconds();
	p = support_policy_parse(s, at, err, sizeof(err));
	if (!p)
		fail_msg("%s", err);
	assert_true(now_seconds() - t0 < 1.5);
	assert_int_equal(p->nrules, n);
	assert_int_equal(p->next_rule_id, n + 1);
	mq_policy_free(p);
	free(s);
}

/* kB of a /proc/self/status field. */
static long status_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			kb = strtol(line + strlen(field), NULL, 10);
	fclose(f);
	return kb;
}

/* A file of tiny values made a tree 16 times its size (a 100 MB file took
 * 1.67 GB before it was refused). Measured in a child so that the peak
 * (VmHWM) starts at the current size: it must stay within 6 times the
 * file (the text, a tree of at most 4 times it, the sanitizer's shadow). */
static void policy_load_should_bound_memory_for_a_hostile_file(void **state)
{
	size_t n = 12 * 1000 * 1000, len;
	char dir[32], path[64];
	FILE *f;
	pid_t pid;
	int status;

	make_tmpdir(dir);
	snprintf(path, sizeof(path), "%s/policy.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"version\":1,\"devices\":[0", f);
	for (size_t i = 1; i < n; i++)
		fputs(",0", f);
	fputs("]}", f);
	assert_int_equal(fclose(f), 0);
	len = 2 * n + 24;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[512] = "";
		long base = status_kb("VmRSS:"), peak;
		struct mq_policy *p = mq_policy_load(path, err, sizeof(err));

		peak = status_kb("VmHWM:") - base;
		fprintf(stderr, "peak %ld kB above the start for a %zu kB file (%.1fx): %s\n", peak,
			len / 1024, (double)peak * 1024 / (double)len, err);
		_exit(p == NULL && base > 0 && strstr(err, "too many values for a file of this size") &&
		      peak * 1024 < 6 * (long)len ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	rm_tree(dir);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- out of memory (cJSON's allocations) ------------------------------- */

static long oom_left;

static void *oom_malloc(size_t n)
{
	if (oom_left-- == 0)
		return NULL;
	return malloc(n);
}

/* Every allocation cJSON makes while serializing or parsing fails in turn:
 * the result is NULL and nothing leaks (ASan checks the latter). */
static void policy_json_should_survive_cjson_allocation_failures(void **state)
{
	struct mq_policy *p = build_policy(), *q;
	cJSON_Hooks hooks = { oom_malloc, free };
	char *want = mq_policy_serialize(p), *t = NULL, err[256];
	long failures = 0, n;

	assert_non_null(want);
	cJSON_InitHooks(&hooks);
	for (n = 0; n < 100000; n++) {
		oom_left = n;
		t = mq_policy_serialize(p);
		if (t)
			break;
		failures++;
	}
	assert_non_null(t);
	assert_string_equal(t, want);
	free(t);
	for (n = 0; n < 100000; n++) {
		oom_left = n;
		q = support_policy_parse(want, strlen(want), err, sizeof(err));
		if (q)
			break;
		failures++;
	}
	cJSON_InitHooks(NULL);
	assert_non_null(q);
	assert_same_policy(p, q);
	assert_true(failures > 20);
	mq_policy_free(q);
	free(want);
	mq_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(policy_serialize_should_round_trip_through_parse),
		cmocka_unit_test(policy_lifecycle_should_round_trip),
		cmocka_unit_test(cert_state_should_put_suspension_after_revocation_and_expiry),
		cmocka_unit_test(policy_serialize_should_write_the_documented_fields),
		cmocka_unit_test(policy_parse_should_accept_a_minimal_policy),
		cmocka_unit_test(policy_parse_should_respect_the_length),
		cmocka_unit_test(policy_finders_should_use_name_username_and_fingerprint),
		cmocka_unit_test(policy_remove_device_should_update_every_index),
		cmocka_unit_test(policy_add_device_should_refuse_bad_or_taken_names),
		cmocka_unit_test(policy_set_groups_should_validate_and_replace),
		cmocka_unit_test(policy_add_cert_should_refuse_bad_or_known_fingerprints),
		cmocka_unit_test(policy_rules_should_get_increasing_ids_never_reused),
		cmocka_unit_test(policy_add_rule_should_refuse_invalid_rules),
		cmocka_unit_test(cert_state_should_honour_the_validity_bounds),
		cmocka_unit_test(access_parse_should_round_trip_with_str),
		cmocka_unit_test(policy_should_keep_the_renewal_fields),
		cmocka_unit_test(policy_parse_should_reject_malformed_policies),
		cmocka_unit_test(policy_parse_should_accept_the_skeleton_of_the_bad_cases),
		cmocka_unit_test(policy_parse_should_not_need_an_error_buffer),
		cmocka_unit_test(policy_parse_should_truncate_long_messages),
		cmocka_unit_test(policy_load_should_name_a_missing_file),
		cmocka_unit_test(policy_load_should_read_a_file_and_refuse_a_directory),
		cmocka_unit_test(policy_load_should_refuse_a_fifo_at_once),
		cmocka_unit_test(policy_load_should_follow_a_symlink_to_a_file_only),
		cmocka_unit_test(policy_load_should_refuse_a_file_over_the_cap_unread),
		cmocka_unit_test(policy_load_should_name_file_line_and_column),
		cmocka_unit_test(policy_load_should_bound_memory_for_a_hostile_file),
		cmocka_unit_test(policy_parse_should_deduplicate_many_groups_quickly),
		cmocka_unit_test(policy_parse_should_read_many_rules_quickly),
		cmocka_unit_test(policy_json_should_survive_cjson_allocation_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
