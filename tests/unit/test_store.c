#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "mq_policy.h"
#include "mq_store.h"
#include "mq_strmap.h"

#define FPR_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FPR_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define FPR_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

struct fixture {
	char dir[40];
	struct mq_policy *p;
	struct mq_store *s;
	char err[512];
};

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

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char *groups[] = {"sensors", "kitchen"};
	struct mq_cert c1 = cert_tmpl("0a1b", FPR_A, 1700000000, 1800000000);
	struct mq_cert c2 = cert_tmpl("f00000000000000000000000000000001", FPR_B, 1600000000, 1700000000);
	struct mq_device *d;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mqcert-store.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->p = mq_policy_new();
	d = mq_policy_add_device(f->p, "dev1", "user1", f->err, sizeof(f->err));
	assert_non_null(d);
	d->created = 1700000000;
	assert_int_equal(mq_policy_set_groups(d, groups, 2, f->err, sizeof(f->err)), 0);
	c1.san = "DNS:a.example,email:a@example.com";
	assert_int_equal(mq_policy_add_cert(f->p, d, &c1, f->err, sizeof(f->err)), 0);
	c2.status = MQ_CERT_REVOKED;
	c2.revoked_at = 1650000000;
	c2.revoke_reason = "key \"leaked\"";
	assert_int_equal(mq_policy_add_cert(f->p, d, &c2, f->err, sizeof(f->err)), 0);
	d = mq_policy_add_device(f->p, "dev2", NULL, f->err, sizeof(f->err));
	assert_non_null(d);
	d->suspended = true;
	d->suspended_at = 1710000000;
	assert_non_null(mq_policy_add_rule(f->p, MQ_SUBJ_GROUP, "sensors", "cmd/+/%c", MQ_ACCESS_WRITE,
					   true, f->err, sizeof(f->err)));
	assert_int_equal(mq_store_open(&f->s, f->dir, 0, f->err, sizeof(f->err)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[64];

	mq_store_close(f->s);
	mq_policy_free(f->p);
	snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", f->dir);
	unlink(path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void write_all(struct fixture *f)
{
	assert_int_equal(mq_store_write_begin(f->s, f->err, sizeof(f->err)), 0);
	for (size_t i = 0; i < f->p->ndevices; i++)
		assert_int_equal(mq_store_put_device(f->s, f->p->devices[i], f->err, sizeof(f->err)), 0);
	for (size_t i = 0; i < f->p->nrules; i++)
		assert_int_equal(mq_store_put_rule(f->s, f->p->rules[i], f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_write_commit(f->s, NULL, f->err, sizeof(f->err)), 0);
}

static void assert_same_json(const struct mq_device *a, const struct mq_device *b)
{
	char *ja = mq_device_json(a), *jb = mq_device_json(b);

	assert_non_null(ja);
	assert_non_null(jb);
	assert_string_equal(ja, jb);
	free(ja);
	free(jb);
}

static void store_should_round_trip_devices_and_rules(void **state)
{
	struct fixture *f = *state;
	struct mq_store *r;
	struct mq_device *d;
	struct mq_policy *rules = mq_policy_new();
	char *ja;

	write_all(f);
	/* A second environment handle, read-only, as the plugin opens it. */
	assert_int_equal(mq_store_open(&r, f->dir, MQ_STORE_RDONLY, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_read_begin(r, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_device_get(r, "dev1", &d, f->err, sizeof(f->err)), 0);
	assert_same_json(d, f->p->devices[0]);
	assert_string_equal(d->certs[0]->san, "DNS:a.example,email:a@example.com");
	assert_string_equal(d->certs[1]->revoke_reason, "key \"leaked\"");
	assert_ptr_equal(d->certs[1]->device, d);
	mq_device_free(d);
	assert_int_equal(mq_store_device_by_fpr(r, FPR_B, &d, f->err, sizeof(f->err)), 0);
	assert_string_equal(d->name, "dev1");
	mq_device_free(d);
	assert_int_equal(mq_store_device_by_user(r, "user1", &d, f->err, sizeof(f->err)), 0);
	assert_string_equal(d->name, "dev1");
	mq_device_free(d);
	assert_int_equal(mq_store_device_get(r, "dev2", &d, f->err, sizeof(f->err)), 0);
	assert_true(d->suspended);
	assert_int_equal(d->suspended_at, 1710000000);
	mq_device_free(d);
	assert_int_equal(mq_store_device_by_fpr(r, FPR_C, &d, f->err, sizeof(f->err)), 1);
	assert_null(d);
	assert_int_equal(mq_store_device_get(r, "nobody", &d, f->err, sizeof(f->err)), 1);
	assert_int_equal(mq_store_rules_load(r, rules, f->err, sizeof(f->err)), 0);
	assert_int_equal(rules->nrules, 1);
	assert_int_equal(rules->rules[0]->id, f->p->rules[0]->id);
	ja = mq_rule_json(rules->rules[0]);
	assert_string_equal(ja, "{\"id\":1,\"subject\":\"group:sensors\",\"topic\":\"cmd/+/%c\","
				"\"access\":\"write\",\"effect\":\"deny\"}");
	free(ja);
	assert_int_equal(mq_store_device_count(r), 2);
	assert_int_equal(mq_store_seq(r), 3);
	mq_store_read_end(r);
	/* Outside a transaction, lookups refuse rather than crash. */
	assert_int_equal(mq_store_device_get(r, "dev1", &d, f->err, sizeof(f->err)), -1);
	mq_store_close(r);
	mq_policy_free(rules);
}

static int count_cb(void *arg, time_t t, const char *fpr, const char *name)
{
	(void)t;
	(void)fpr;
	(void)name;
	(*(int *)arg)++;
	return 0;
}

#define TAKER "{\"name\":\"dev3\",\"username\":\"renamed\",\"certs\":[]}"
#define TAKER2 "{\"name\":\"dev3\",\"username\":\"dev3\",\"certs\":[{\"serial\":\"01\"," \
	"\"fingerprint\":\"" FPR_C "\",\"not_before\":\"2024-01-01T00:00:00Z\"," \
	"\"not_after\":\"2025-01-01T00:00:00Z\",\"status\":\"active\"}]}"

static void store_indexes_should_follow_updates_and_deletes(void **state)
{
	struct fixture *f = *state;
	struct mq_device *dev1 = f->p->devices[0], *d;
	struct mq_cert c3 = cert_tmpl("77", FPR_C, 1700000000, 1900000000);
	int n = 0;

	write_all(f);
	/* A new username and a third certificate, the revoked one dropped. */
	assert_int_equal(mq_policy_set_username(f->p, dev1, "renamed", f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_policy_add_cert(f->p, dev1, &c3, f->err, sizeof(f->err)), 0);
	{
		struct mq_cert *gone = dev1->certs[1];

		mq_strmap_del(&f->p->by_fingerprint, gone->fingerprint);
		dev1->certs[1] = dev1->certs[2];
		dev1->ncerts = 2;
		free(gone->revoke_reason);
		free(gone);
	}
	assert_int_equal(mq_store_write_begin(f->s, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_put_device(f->s, dev1, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_write_commit(f->s, NULL, f->err, sizeof(f->err)), 0);

	assert_int_equal(mq_store_read_begin(f->s, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_device_by_user(f->s, "user1", &d, f->err, sizeof(f->err)), 1);
	assert_int_equal(mq_store_device_by_user(f->s, "renamed", &d, f->err, sizeof(f->err)), 0);
	mq_device_free(d);
	assert_int_equal(mq_store_device_by_fpr(f->s, FPR_B, &d, f->err, sizeof(f->err)), 1);
	assert_int_equal(mq_store_device_by_fpr(f->s, FPR_C, &d, f->err, sizeof(f->err)), 0);
	assert_string_equal(d->name, "dev1");
	mq_device_free(d);
	/* Expiry: FPR_A (1.8e9) and FPR_C (1.9e9); FPR_B (1.7e9) is gone. */
	assert_int_equal(mq_store_expiry_range(f->s, 0, 2000000000, count_cb, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 2);
	n = 0;
	assert_int_equal(mq_store_expiry_range(f->s, 0, 1850000000, count_cb, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 1);
	mq_store_read_end(f->s);

	/* Another device may not take dev1's username or certificate. */
	assert_int_equal(mq_store_write_begin(f->s, f->err, sizeof(f->err)), 0);
	d = f->p->devices[1];
	assert_int_equal(mq_policy_set_username(f->p, d, "user1", f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_put_device(f->s, d, f->err, sizeof(f->err)), 0);
	d = mq_device_parse(TAKER, strlen(TAKER), f->err, sizeof(f->err));
	assert_non_null(d);
	assert_int_equal(mq_store_put_device(f->s, d, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "already used by device 'dev1'"));
	mq_device_free(d);
	d = mq_device_parse(TAKER2, strlen(TAKER2), f->err, sizeof(f->err));
	assert_non_null(d);
	assert_int_equal(mq_store_put_device(f->s, d, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "already in the policy (device 'dev1')"));
	mq_device_free(d);
	mq_store_write_abort(f->s);

	/* Delete: the record and every index entry go. */
	assert_int_equal(mq_store_write_begin(f->s, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_delete_device(f->s, "dev1", f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_delete_device(f->s, "dev1", f->err, sizeof(f->err)), 1);
	assert_int_equal(mq_store_write_commit(f->s, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_read_begin(f->s, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_device_by_user(f->s, "renamed", &d, f->err, sizeof(f->err)), 1);
	assert_int_equal(mq_store_device_by_fpr(f->s, FPR_A, &d, f->err, sizeof(f->err)), 1);
	assert_int_equal(mq_store_device_by_fpr(f->s, FPR_C, &d, f->err, sizeof(f->err)), 1);
	n = 0;
	assert_int_equal(mq_store_expiry_range(f->s, 0, 2000000000, count_cb, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(mq_store_device_count(f->s), 1);
	mq_store_read_end(f->s);
}

struct seen {
	char log[16][40];
	int n;
};

static int change_cb(void *arg, uint64_t seq, char kind, const char *key)
{
	struct seen *x = arg;

	if (x->n < 16)
		snprintf(x->log[x->n++], sizeof(x->log[0]), "%llu%c%s", (unsigned long long)seq, kind, key);
	return 0;
}

static void store_changes_should_list_what_changed_since_a_seq(void **state)
{
	struct fixture *f = *state;
	struct seen x = {0};
	uint64_t seq = 0;

	write_all(f); /* 1 Ddev1, 2 Ddev2, 3 R1 */
	/* Unchanged records write nothing: no log entry, no new seq. */
	write_all(f);
	assert_int_equal(mq_store_write_begin(f->s, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_meta_set(f->s, "crl_number", 7, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_log(f->s, 'C', "crl", f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_delete_rule(f->s, 1, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_write_commit(f->s, &seq, f->err, sizeof(f->err)), 0);
	assert_int_equal(seq, 5);

	assert_int_equal(mq_store_read_begin(f->s, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_seq(f->s), 5);
	assert_int_equal(mq_store_changes(f->s, 2, change_cb, &x, f->err, sizeof(f->err)), 0);
	assert_int_equal(x.n, 3);
	assert_string_equal(x.log[0], "3R1");
	assert_string_equal(x.log[1], "4Ccrl");
	assert_string_equal(x.log[2], "5R1");
	x.n = 0;
	assert_int_equal(mq_store_changes(f->s, 0, change_cb, &x, f->err, sizeof(f->err)), 0);
	assert_int_equal(x.n, 5);
	assert_string_equal(x.log[0], "1Ddev1");
	x.n = 0;
	assert_int_equal(mq_store_changes(f->s, 5, change_cb, &x, f->err, sizeof(f->err)), 0);
	assert_int_equal(x.n, 0);
	mq_store_read_end(f->s);
}

static void store_changes_should_report_a_gap_below_the_floor(void **state)
{
	struct fixture *f = *state;
	struct seen x = {0};

	write_all(f); /* seq 1..3 */
	assert_int_equal(mq_store_write_begin(f->s, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_log_trim(f->s, 3, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_write_commit(f->s, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_read_begin(f->s, f->err, sizeof(f->err)), 0);
	/* Entries 1 and 2 are gone: a reader at 0 or 1 must re-judge all. */
	assert_int_equal(mq_store_changes(f->s, 0, change_cb, &x, f->err, sizeof(f->err)), 1);
	assert_int_equal(mq_store_changes(f->s, 1, change_cb, &x, f->err, sizeof(f->err)), 1);
	assert_int_equal(x.n, 0);
	/* A reader at 2 has seen everything trimmed. */
	assert_int_equal(mq_store_changes(f->s, 2, change_cb, &x, f->err, sizeof(f->err)), 0);
	assert_int_equal(x.n, 1);
	assert_string_equal(x.log[0], "3R1");
	mq_store_read_end(f->s);
}

static void store_open_should_refuse_an_unknown_version(void **state)
{
	struct fixture *f = *state;
	struct mq_store *r = NULL;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	unsigned char two[8] = {0, 0, 0, 0, 0, 0, 0, 2};
	MDB_val k = {7, "version"}, v = {8, two};

	mq_store_close(f->s);
	f->s = NULL;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, f->dir, 0, 0644), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	assert_int_equal(mq_store_open(&r, f->dir, MQ_STORE_RDONLY, f->err, sizeof(f->err)), -1);
	assert_null(r);
	assert_non_null(strstr(f->err, "is version 2; this mqcert reads version 1: upgrade mqcert"));
	f->err[0] = '\0';
	assert_int_equal(mq_store_open(&r, f->dir, 0, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "is version 2"));
}

static void store_open_read_only_should_refuse_a_missing_store(void **state)
{
	struct fixture *f = *state;
	struct mq_store *r = NULL;
	char dir[80];

	snprintf(dir, sizeof(dir), "%s/none", f->dir);
	assert_int_equal(mq_store_open(&r, dir, MQ_STORE_RDONLY, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "policy store"));
}

static void device_codec_should_refuse_bad_records(void **state)
{
	char err[256] = "";
	const char *bad = "{\"name\":\"x\",\"username\":\"x\",\"certs\":[{\"serial\":\"zz\"}]}";

	(void)state;
	assert_null(mq_device_parse(bad, strlen(bad), err, sizeof(err)));
	assert_non_null(strstr(err, "device 'x'"));
	assert_null(mq_device_parse("[", 1, err, sizeof(err)));
	assert_non_null(strstr(err, "line 1"));
}

static int names_cb(void *arg, const char *name)
{
	int *n = arg;

	if (!strcmp(name, "dev1"))
		(*n)++;
	return 0;
}

static int cert_names_count(struct fixture *f, const char *hex)
{
	int n = 0;

	assert_int_equal(mq_store_cert_names(f->s, hex, names_cb, &n, f->err, sizeof(f->err)), 0);
	return n;
}

/* cert revoke's lookup: a whole serial (even short), or a prefix of 4+
 * digits of a serial (odd lengths too) or a fingerprint. */
static void store_cert_names_should_find_serials_and_prefixes(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(mq_store_write_begin(f->s, f->err, sizeof(f->err)), 0);
	for (size_t i = 0; i < f->p->ndevices; i++)
		assert_int_equal(mq_store_put_device(f->s, f->p->devices[i], f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_write_commit(f->s, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_read_begin(f->s, f->err, sizeof(f->err)), 0);
	assert_true(cert_names_count(f, "0a1b") >= 1);
	assert_true(cert_names_count(f, "f000000") >= 1);
	assert_true(cert_names_count(f, "f00000000000000000000000000000001") >= 1);
	assert_true(cert_names_count(f, "0123") >= 1);
	assert_true(cert_names_count(f, "aaaaaaaaa") >= 1);
	assert_int_equal(cert_names_count(f, "cccc"), 0);
	assert_int_equal(cert_names_count(f, "0a1"), 0); /* short: whole serials only */
	assert_int_equal(mq_store_log_count(f->s), 2); /* one 'D' entry a device */
	mq_store_read_end(f->s);
}

struct crl_seen {
	unsigned char serial[4][32];
	size_t len[4];
	bool retired[4];
	time_t when[4];
	char reason[4][32];
	int n;
};

static int crl_cb(void *arg, const unsigned char *serial, size_t len, bool retired, time_t when,
		  const char *reason)
{
	struct crl_seen *x = arg;

	assert_true(x->n < 4 && len <= 32);
	memcpy(x->serial[x->n], serial, len);
	x->len[x->n] = len;
	x->retired[x->n] = retired;
	x->when[x->n] = when;
	snprintf(x->reason[x->n], sizeof(x->reason[0]), "%s", reason ? reason : "(none)");
	x->n++;
	return 0;
}

static int crl_list(struct fixture *f, struct crl_seen *x)
{
	int rc;

	memset(x, 0, sizeof(*x));
	assert_int_equal(mq_store_read_begin(f->s, f->err, sizeof(f->err)), 0);
	rc = mq_store_crl_each(f->s, crl_cb, x, f->err, sizeof(f->err));
	mq_store_read_end(f->s);
	return rc;
}

static void store_crl_index_should_follow_writes_and_rebuild(void **state)
{
	struct fixture *f = *state;
	struct mq_cert c3 = cert_tmpl("0080", FPR_C, 1600000000, 1700000000);
	struct crl_seen x;

	write_all(f);
	/* dev1's revoked certificate: 17 bytes (odd hex), its date and reason. */
	assert_int_equal(crl_list(f, &x), 0);
	assert_int_equal(x.n, 1);
	assert_int_equal(x.len[0], 17);
	assert_int_equal(x.serial[0][0], 0x0f);
	assert_int_equal(x.serial[0][16], 0x01);
	assert_false(x.retired[0]);
	assert_int_equal(x.when[0], 1650000000);
	assert_string_equal(x.reason[0], "key \"leaked\"");

	/* A retired certificate: leading zero bytes dropped, CRL order (shorter
	 * serials first), no reason text. */
	c3.status = MQ_CERT_RETIRED;
	c3.retired_at = 1690000000;
	assert_int_equal(mq_policy_add_cert(f->p, f->p->devices[1], &c3, f->err, sizeof(f->err)), 0);
	write_all(f);
	assert_int_equal(crl_list(f, &x), 0);
	assert_int_equal(x.n, 2);
	assert_int_equal(x.len[0], 1);
	assert_int_equal(x.serial[0][0], 0x80);
	assert_true(x.retired[0]);
	assert_int_equal(x.when[0], 1690000000);
	assert_string_equal(x.reason[0], "(none)");
	assert_int_equal(x.len[1], 17);

	/* A writer that did not keep the index leaves crl_seq behind: readers
	 * are told (1), the next write transaction rebuilds it. */
	assert_int_equal(mq_store_write_begin(f->s, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_meta_set(f->s, "crl_seq", 0, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_write_commit(f->s, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(crl_list(f, &x), 1);
	assert_int_equal(mq_store_write_begin(f->s, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_write_commit(f->s, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(crl_list(f, &x), 0);
	assert_int_equal(x.n, 2);
	assert_int_equal(x.serial[0][0], 0x80);
	assert_string_equal(x.reason[1], "key \"leaked\"");

	/* Deleting a device drops its entries; clear (import) drops all. */
	assert_int_equal(mq_store_write_begin(f->s, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_delete_device(f->s, "dev1", f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_write_commit(f->s, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(crl_list(f, &x), 0);
	assert_int_equal(x.n, 1);
	assert_true(x.retired[0]);
	assert_int_equal(mq_store_write_begin(f->s, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_clear(f->s, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_log(f->s, 'I', "", f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_write_commit(f->s, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(crl_list(f, &x), 0);
	assert_int_equal(x.n, 0);
}

struct exp_seen {
	size_t n;
	time_t not_after[4];
	char serial[4][MQ_SERIAL_LEN];
	char name[4][16];
	bool timed[4];
};

static int exp_cb(void *arg, time_t not_after, const char *serial, const char *name, bool timed)
{
	struct exp_seen *x = arg;

	assert_true(x->n < 4);
	x->not_after[x->n] = not_after;
	snprintf(x->serial[x->n], sizeof(x->serial[0]), "%s", serial);
	snprintf(x->name[x->n], sizeof(x->name[0]), "%s", name);
	x->timed[x->n++] = timed;
	return 0;
}

static int exp_list(struct fixture *f, time_t to, struct exp_seen *x)
{
	int rc;

	memset(x, 0, sizeof(*x));
	assert_int_equal(mq_store_read_begin(f->s, f->err, sizeof(f->err)), 0);
	rc = mq_store_expiring_range(f->s, to, exp_cb, x, f->err, sizeof(f->err));
	mq_store_read_end(f->s);
	return rc;
}

static void exp_notice(void *arg, const char *what, size_t n)
{
	assert_string_equal(what, "expiring");
	*(size_t *)arg = n;
}

static void store_expiring_index_should_hold_each_devices_cert_in_use(void **state)
{
	struct fixture *f = *state;
	struct mq_cert c3 = cert_tmpl("0c", FPR_C, 1600000000, 1750000000);
	struct mq_device *d2;
	struct exp_seen x;
	size_t noticed = 0;

	/* dev1: its active certificate, never the revoked one; dev2 has none. */
	write_all(f);
	assert_int_equal(exp_list(f, 1900000000, &x), 0);
	assert_int_equal(x.n, 1);
	assert_string_equal(x.name[0], "dev1");
	assert_string_equal(x.serial[0], "0a1b");
	assert_int_equal(x.not_after[0], 1800000000);
	assert_false(x.timed[0]);
	assert_int_equal(exp_list(f, 1800000000, &x), 0);
	assert_int_equal(x.n, 0);

	/* A rollover deadline on dev2's longer-lived certificate: keyed by
	 * the sooner one, flagged for the record; the rule at a time says
	 * which. */
	d2 = f->p->devices[1];
	assert_int_equal(mq_policy_add_cert(f->p, d2, &c3, f->err, sizeof(f->err)), 0);
	c3 = cert_tmpl("0d", "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
		       1600000000, 1850000000);
	c3.retire_after = 1720000000;
	assert_int_equal(mq_policy_add_cert(f->p, d2, &c3, f->err, sizeof(f->err)), 0);
	write_all(f);
	assert_int_equal(exp_list(f, 1900000000, &x), 0);
	assert_int_equal(x.n, 2);
	assert_string_equal(x.name[0], "dev2");
	assert_int_equal(x.not_after[0], 1750000000);
	assert_true(x.timed[0]);
	assert_string_equal(x.name[1], "dev1");
	assert_string_equal(mq_device_cert_in_use(d2, 1710000000)->serial, "0d");
	assert_string_equal(mq_device_cert_in_use(d2, 1720000000)->serial, "0c");
	assert_string_equal(mq_device_cert_in_use(f->p->devices[0], 1900000000)->serial, "0a1b");

	/* Deleting a device drops its entry. */
	assert_int_equal(mq_store_write_begin(f->s, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_delete_device(f->s, "dev2", f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_write_commit(f->s, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(exp_list(f, 1900000000, &x), 0);
	assert_int_equal(x.n, 1);

	/* A writer that did not keep it leaves expiring_seq behind: readers
	 * are told (1); the next write transaction rebuilds it, and says so. */
	write_all(f);
	assert_int_equal(mq_store_write_begin(f->s, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_meta_set(f->s, "expiring_seq", 0, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_write_commit(f->s, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(exp_list(f, 1900000000, &x), 1);
	mq_store_set_notice(f->s, exp_notice, &noticed);
	assert_int_equal(mq_store_write_begin(f->s, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_write_commit(f->s, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(noticed, 2);
	assert_int_equal(exp_list(f, 1900000000, &x), 0);
	assert_int_equal(x.n, 2);
	assert_string_equal(x.name[0], "dev2");
	assert_true(x.timed[0]);

	/* clear (import) drops it all. */
	assert_int_equal(mq_store_write_begin(f->s, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_clear(f->s, f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_log(f->s, 'I', "", f->err, sizeof(f->err)), 0);
	assert_int_equal(mq_store_write_commit(f->s, NULL, f->err, sizeof(f->err)), 0);
	assert_int_equal(exp_list(f, 1900000000, &x), 0);
	assert_int_equal(x.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(store_should_round_trip_devices_and_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(store_indexes_should_follow_updates_and_deletes, setup, teardown),
		cmocka_unit_test_setup_teardown(store_changes_should_list_what_changed_since_a_seq, setup,
						teardown),
		cmocka_unit_test_setup_teardown(store_changes_should_report_a_gap_below_the_floor, setup,
						teardown),
		cmocka_unit_test_setup_teardown(store_open_should_refuse_an_unknown_version, setup, teardown),
		cmocka_unit_test_setup_teardown(store_open_read_only_should_refuse_a_missing_store, setup,
						teardown),
		cmocka_unit_test(device_codec_should_refuse_bad_records),
		cmocka_unit_test_setup_teardown(store_expiring_index_should_hold_each_devices_cert_in_use,
						setup, teardown),
		cmocka_unit_test_setup_teardown(store_crl_index_should_follow_writes_and_rebuild, setup,
						teardown),
		cmocka_unit_test_setup_teardown(store_cert_names_should_find_serials_and_prefixes, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
