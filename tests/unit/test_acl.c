#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "naive.h"
#include "mq_acl.h"
#include "mq_policy.h"
#include "mq_topic.h"

/* The case tables below name only the fields a case needs. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define R MQ_ACL_READ
#define W MQ_ACL_WRITE
#define S MQ_ACL_SUBSCRIBE
#define U MQ_ACL_UNSUBSCRIBE

/* "all", "device:NAME" or "group:NAME". */
struct rspec {
	const char *subject;
	const char *access;
	bool deny;
	const char *topic;
};

struct cspec {
	const char *device;
	const char *client_id;
	const char *topic;
	enum mq_acl_access access;
	bool allow;
	unsigned long rule; /* deciding rule id, 0 for none */
	enum mq_acl_reason reason;
	const char *cn;
	const char *ou[6]; /* NULL-terminated */
	const char *username;
};

/* Devices every fixture has: dev1 (user dev1, sensors), dev2 (user u2,
 * sensors + cams), dev3 (no groups), a (user a). */
static struct mq_policy *fixture(const struct rspec *rules, size_t n)
{
	struct mq_policy *p = mq_policy_new();
	char *g1[] = { "sensors" }, *g2[] = { "sensors", "cams" };
	struct mq_device *d;
	char err[256];

	assert_non_null(p);
	d = mq_policy_add_device(p, "dev1", NULL, err, sizeof(err));
	assert_non_null(d);
	assert_int_equal(mq_policy_set_groups(d, g1, 1, err, sizeof(err)), 0);
	d = mq_policy_add_device(p, "dev2", "u2", err, sizeof(err));
	assert_non_null(d);
	assert_int_equal(mq_policy_set_groups(d, g2, 2, err, sizeof(err)), 0);
	assert_non_null(mq_policy_add_device(p, "dev3", NULL, err, sizeof(err)));
	assert_non_null(mq_policy_add_device(p, "a", NULL, err, sizeof(err)));
	for (size_t i = 0; i < n; i++) {
		const char *s = rules[i].subject;
		enum mq_subject_kind kind = !strcmp(s, "all")		     ? MQ_SUBJ_ALL
					    : !strncmp(s, "device:", 7) ? MQ_SUBJ_DEVICE
									 : MQ_SUBJ_GROUP;
		enum mq_access acc;

		assert_int_equal(mq_rule_access_parse(rules[i].access, &acc), 0);
		if (!mq_policy_add_rule(p, kind, kind == MQ_SUBJ_ALL ? NULL : strchr(s, ':') + 1,
					rules[i].topic, acc, rules[i].deny, err, sizeof(err)))
			fail_msg("rule %zu '%s': %s", i + 1, rules[i].topic, err);
	}
	return p;
}

static size_t count_ou(const char *const *ou)
{
	size_t n = 0;

	while (n < 6 && ou[n])
		n++;
	return n;
}

static void expect(const struct mq_acl_result *res, const struct cspec *c, const char *who)
{
	char line[512];

	mq_acl_result_str(res, line, sizeof(line));
	if (res->allow != c->allow || (res->rule ? res->rule->id : 0) != c->rule ||
	    (c->rule == 0 && c->reason && res->reason != c->reason))
		fail_msg("%s: %s %s '%s' (client id '%s'): expected %s rule %lu, got %s", who,
			 c->device, mq_acl_access_str(c->access), c->topic,
			 c->client_id ? c->client_id : "(null)", c->allow ? "allow" : "deny", c->rule,
			 line);
}

static void run_table(const struct rspec *rules, size_t nrules, const struct cspec *cases,
		      size_t ncases)
{
	struct mq_policy *p = fixture(rules, nrules);
	struct mq_acl_index *idx = mq_acl_index_build(p);

	assert_non_null(idx);
	for (size_t i = 0; i < ncases; i++) {
		const struct cspec *c = &cases[i];
		struct mq_acl_ident id = { .device = c->device, .username = c->username,
					   .client_id = c->client_id, .cn = c->cn, .ou = c->ou,
					   .nou = count_ou(c->ou) };
		struct mq_acl_client *cl = NULL;
		struct mq_acl_result res;

		assert_int_equal(mq_acl_client_init(&cl, idx, &id), 0);
		assert_int_equal(mq_acl_check(cl, c->topic, c->access, &res), c->allow);
		expect(&res, c, "index");
		assert_int_equal(naive_acl_check(p, &id, c->topic, c->access, &res), c->allow);
		expect(&res, c, "naive");
		mq_acl_client_free(cl);
	}
	mq_acl_index_free(idx);
	mq_policy_free(p);
}

#define RUN(rules, cases) run_table(rules, sizeof(rules) / sizeof(rules[0]), cases, \
				    sizeof(cases) / sizeof(cases[0]))

static void wildcards_dollar_and_empty_levels(void **state)
{
	static const struct rspec rules[] = {
		{ "all", "read", false, "#" },			   /* 1 */
		{ "all", "write", false, "devices/%u/#" },	   /* 2 */
		{ "device:dev1", "readwrite", false, "a//b" },	   /* 3 */
		{ "all", "read", false, "$SYS/broker/+" },	   /* 4 */
		{ "group:sensors", "write", false, "/lead" },	   /* 5 */
		{ "all", "write", false, "trail/" },		   /* 6 */
		{ "all", "readwrite", false, "x/+/z" },		   /* 7 */
		{ "all", "write", false, "+/dollar" },		   /* 8 */
	};
	static const struct cspec cases[] = {
		{ "dev1", "c", "foo/bar", R, true, 1 },
		{ "dev1", "c", "$SYS/broker/uptime", R, true, 4 },
		{ "dev1", "c", "$SYS/x", R, false, 0, MQ_ACL_NO_MATCH },
		{ "dev1", "c", "$other", R, false, 0 },
		{ "dev1", "c", "$x/dollar", W, false, 0 },
		{ "dev1", "c", "x$/dollar", W, true, 8 },
		{ "dev1", "c", "devices/dev1", W, true, 2 },
		{ "dev1", "c", "devices/dev1/a/b/c", W, true, 2 },
		{ "dev1", "c", "devices/dev2/x", W, false, 0 },
		{ "dev2", "c", "devices/u2/x", W, true, 2 },
		{ "dev2", "c", "devices/dev2/x", W, false, 0 },
		{ "dev1", "c", "a//b", W, true, 3 },
		{ "dev1", "c", "a/b", W, false, 0 },
		{ "dev1", "c", "a///b", W, false, 0 },
		{ "dev2", "c", "a//b", W, false, 0 },
		{ "dev1", "c", "/lead", W, true, 5 },
		{ "dev3", "c", "/lead", W, false, 0 },
		{ "dev1", "c", "lead", W, false, 0 },
		{ "dev1", "c", "trail/", W, true, 6 },
		{ "dev1", "c", "trail", W, false, 0 },
		{ "dev1", "c", "x//z", W, true, 7 },
		{ "dev1", "c", "x/y/z", W, true, 7 },
		{ "dev1", "c", "x/y/z/w", W, false, 0 },
		{ "dev1", "c", "x/z", W, false, 0 },
		{ "dev1", "c", "a/+", W, false, 0, MQ_ACL_BAD_TOPIC },
		{ "dev1", "c", "", W, false, 0, MQ_ACL_BAD_TOPIC },
		{ "dev1", "c", "#", R, false, 0, MQ_ACL_BAD_TOPIC },
		{ "dev1", "c", "anything", (enum mq_acl_access)3, false, 0, MQ_ACL_BAD_ACCESS },
		{ "dev1", "c", "a/#/b", U, true, 0, MQ_ACL_UNSUBSCRIBE_OK },
	};

	RUN(rules, cases);
}

static void long_topics_with_many_levels(void **state)
{
	static const struct rspec rules[] = {
		{ "all", "read", false, "#" },
		{ "all", "write", false, "l/+/l/#" },
	};
	size_t n = 20000; /* 10000 levels */
	char *topic = malloc(n + 1), *longid = malloc(5001), *t2 = malloc(5020);
	struct mq_policy *p = fixture(rules, 2);
	struct mq_acl_index *idx = mq_acl_index_build(p);
	struct mq_acl_ident id = { .device = "dev1", .client_id = longid };
	struct mq_acl_client *cl = NULL;
	struct mq_acl_result res;

	assert_non_null(topic);
	assert_non_null(longid);
	assert_non_null(t2);
	for (size_t i = 0; i < n; i += 2) {
		topic[i] = 'l';
		topic[i + 1] = '/';
	}
	topic[n - 1] = '\0';
	memset(longid, 'q', 5000);
	longid[5000] = '\0';
	assert_non_null(idx);
	assert_int_equal(mq_acl_client_init(&cl, idx, &id), 0);
	assert_true(mq_acl_check(cl, topic, R, &res));
	assert_int_equal(res.rule->id, 1);
	assert_true(mq_acl_check(cl, topic, W, &res));
	assert_int_equal(res.rule->id, 2);
	assert_true(naive_acl_check(p, &id, topic, W, &res));
	topic[4] = 'm'; /* l/l/m/...: the third level no longer matches */
	assert_false(mq_acl_check(cl, topic, W, &res));
	snprintf(t2, 5020, "l/%s/l", longid);
	assert_true(mq_acl_check(cl, t2, W, &res));
	mq_acl_client_free(cl);
	mq_acl_index_free(idx);
	mq_policy_free(p);
	free(topic);
	free(longid);
	free(t2);
}

/* "x/x/.../x" with n levels, ending in "/#" when hash. */
static char *levels(size_t n, bool hash)
{
	char *s = malloc(2 * n + 3);

	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = 'x';
		s[2 * i + 1] = '/';
	}
	s[2 * n] = '#';
	s[hash ? 2 * n + 1 : 2 * n - 1] = '\0';
	return s;
}

/* The READ/WRITE walk keeps only as many topic levels as the deepest
 * pattern can reach; deeper topics must still meet a '#' and miss an
 * exact pattern, right at that limit. */
static void patterns_at_the_level_limit(void **state)
{
	char *exact = levels(MQ_PATTERN_MAX_LEVELS, false);
	char *hash = levels(MQ_PATTERN_MAX_LEVELS - 1, true);
	const struct rspec rules[] = {
		{ "all", "write", false, exact },
		{ "all", "read", false, hash },
	};
	struct mq_policy *p = fixture(rules, 2);
	struct mq_acl_index *idx = mq_acl_index_build(p);
	struct mq_acl_ident id = { .device = "dev1" };
	struct mq_acl_client *cl = NULL;
	static const size_t depth[] = { 1, 126, 127, 128, 129, 130, 131, 500 };

	assert_non_null(idx);
	assert_int_equal(mq_acl_client_init(&cl, idx, &id), 0);
	for (size_t i = 0; i < sizeof(depth) / sizeof(depth[0]); i++) {
		char *t = levels(depth[i], false);

		for (enum mq_acl_access a = R; a <= W; a++) {
			bool want = a == W ? depth[i] == MQ_PATTERN_MAX_LEVELS
					   : depth[i] >= MQ_PATTERN_MAX_LEVELS - 1;

			if (mq_acl_check(cl, t, a, NULL) != want ||
			    naive_acl_check(p, &id, t, a, NULL) != want ||
			    mq_acl_allowed(cl, t, a) != want)
				fail_msg("%s on %zu levels: expected %s", mq_acl_access_str(a),
					 depth[i], want ? "allow" : "deny");
		}
		free(t);
	}
	mq_acl_client_free(cl);
	mq_acl_index_free(idx);
	mq_policy_free(p);
	free(exact);
	free(hash);
}

static void precedence_most_specific_wins_and_deny_wins_ties(void **state)
{
	static const struct rspec rules[] = {
		{ "all", "readwrite", false, "devices/#" },	  /* 1 */
		{ "group:sensors", "write", true, "devices/+/cmd" }, /* 2 */
		{ "device:dev1", "write", false, "devices/dev1/cmd" }, /* 3 */
		{ "all", "read", true, "devices/+/secret" },	  /* 4 */
		{ "device:dev1", "read", false, "devices/%u/secret" }, /* 5 */
		{ "all", "write", false, "devices/+/cmd" },	  /* 6 */
		{ "all", "write", true, "tie/+" },		  /* 7 */
		{ "all", "write", false, "tie/%u" },		  /* 8 */
		{ "all", "write", false, "eq/a" },		  /* 9 */
		{ "all", "write", true, "eq/%u" },		  /* 10 */
		{ "all", "write", false, "h/#" },		  /* 11 */
		{ "all", "write", true, "h/+/#" },		  /* 12 */
		{ "all", "write", true, "p" },			  /* 13 */
		{ "all", "write", false, "p/#" },		  /* 14 */
		{ "all", "write", false, "lvl/+/+" },		  /* 15 */
		{ "all", "write", true, "lvl/#" },		  /* 16 */
		{ "all", "write", false, "dup/x" },		  /* 17 */
		{ "group:cams", "write", false, "dup/x" },	  /* 18 */
		{ "group:cams", "write", true, "dup/y" },	  /* 19 */
		{ "all", "write", true, "dup/y" },		  /* 20 */
	};
	static const struct cspec cases[] = {
		{ "dev1", "c", "devices/dev1/cmd", W, true, 3 },
		{ "dev2", "c", "devices/u2/cmd", W, false, 2 },
		{ "dev3", "c", "devices/dev3/cmd", W, true, 6 },
		{ "dev1", "c", "devices/x/other", W, true, 1 },
		{ "dev1", "c", "devices/dev1/secret", R, true, 5 },
		{ "dev2", "c", "devices/u2/secret", R, false, 4 },
		{ "dev1", "c", "devices/dev2/secret", R, false, 4 },
		{ "dev1", "c", "tie/dev1", W, true, 8 },
		{ "dev1", "c", "tie/other", W, false, 7 },
		{ "a", "c", "eq/a", W, false, 10 },
		{ "dev1", "c", "eq/a", W, true, 9 },
		{ "dev1", "c", "h", W, true, 11 },
		{ "dev1", "c", "h/x", W, false, 12 },
		{ "dev1", "c", "h/x/y", W, false, 12 },
		{ "dev1", "c", "p", W, false, 13 },
		{ "dev1", "c", "p/q", W, true, 14 },
		{ "dev1", "c", "lvl/a/b", W, true, 15 },
		{ "dev1", "c", "lvl/a", W, false, 16 },
		{ "dev2", "c", "dup/x", W, true, 17 },
		{ "dev2", "c", "dup/y", W, false, 19 },
		{ "dev1", "c", "dup/y", W, false, 20 },
	};

	RUN(rules, cases);
}

static void subscribe_needs_a_covering_allow_and_no_stronger_deny(void **state)
{
	static const struct rspec rules[] = {
		{ "device:dev1", "read", false, "devices/%u/#" },  /* 1 */
		{ "all", "read", false, "pub/+/status" },	  /* 2 */
		{ "all", "read", true, "pub/secret/status" },	  /* 3 */
		{ "group:cams", "read", false, "#" },		  /* 4 */
		{ "group:cams", "read", true, "cams/private/#" },  /* 5 */
		{ "device:dev3", "read", false, "$SYS/#" },	  /* 6 */
		{ "all", "read", false, "a/b" },		  /* 7 */
		{ "all", "write", false, "w/#" },		  /* 8 */
		{ "device:dev3", "read", false, "t/#" },	  /* 9 */
		{ "device:dev3", "read", true, "t/+" },		  /* 10 */
		{ "device:dev3", "read", true, "t/x/y" },	  /* 11 */
		{ "device:a", "read", false, "+/+" },		  /* 12 */
		{ "device:a", "read", false, "q/#" },		  /* 13 */
		{ "device:a", "read", true, "q/%c/#" },		  /* 14 */
	};
	static const struct cspec cases[] = {
		{ "dev1", "c", "devices/dev1/#", S, true, 1 },
		{ "dev1", "c", "devices/dev1/x/+", S, true, 1 },
		{ "dev1", "c", "devices/dev1", S, true, 1 },
		{ "dev1", "c", "devices/+/x", S, false, 0, MQ_ACL_NOT_COVERED },
		{ "dev1", "c", "devices/#", S, false, 0, MQ_ACL_NOT_COVERED },
		{ "dev1", "c", "#", S, false, 0, MQ_ACL_NOT_COVERED },
		{ "dev1", "c", "devices/dev2/#", S, false, 0 },
		{ "dev1", "c", "$share/g/devices/dev1/#", S, true, 1 },
		{ "dev1", "c", "$share//devices/dev1/#", S, false, 0, MQ_ACL_BAD_TOPIC },
		{ "dev1", "c", "$share/g", S, false, 0, MQ_ACL_BAD_TOPIC },
		{ "dev1", "c", "$share/g+/x", S, false, 0, MQ_ACL_BAD_TOPIC },
		{ "dev1", "c", "$share/g/", S, false, 0, MQ_ACL_BAD_TOPIC },
		{ "dev1", "c", "a/#/b", S, false, 0, MQ_ACL_BAD_TOPIC },
		{ "dev1", "c", "pub/+/status", S, false, 3 },
		{ "dev1", "c", "pub/x/status", S, true, 2 },
		{ "dev1", "c", "pub/secret/status", S, false, 3 },
		{ "dev1", "c", "a/+", S, false, 0, MQ_ACL_NOT_COVERED },
		{ "dev1", "c", "a/b", S, true, 7 },
		{ "dev1", "c", "w/x", S, false, 0, MQ_ACL_NOT_COVERED },
		{ "dev2", "c", "#", S, false, 3 },
		{ "dev2", "c", "cams/public/#", S, true, 4 },
		{ "dev2", "c", "+/private/x", S, false, 5 },
		{ "dev2", "c", "$SYS/#", S, false, 0, MQ_ACL_NOT_COVERED },
		{ "dev3", "c", "$SYS/#", S, true, 6 },
		{ "dev3", "c", "$SYS/broker/+", S, true, 6 },
		{ "dev3", "c", "#", S, false, 0, MQ_ACL_NOT_COVERED },
		{ "dev3", "c", "t/#", S, false, 11 },
		{ "dev3", "c", "t/x/#", S, false, 11 },
		{ "dev3", "c", "t/z/+", S, true, 9 },
		{ "dev3", "c", "t/z", S, false, 10 },
		{ "a", "c", "x/y", S, true, 12 },
		{ "a", "c", "+/y", S, true, 12 },
		{ "a", "c", "$x/y", S, false, 0, MQ_ACL_NOT_COVERED },
		{ "a", "k", "q/#", S, false, 14 },
		{ "a", "k", "q/j/#", S, true, 13 },
		{ "a", "k", "q/+/z", S, false, 14 },
		{ "a", NULL, "q/+/z", S, true, 13 },
		{ "a", NULL, "q/#", S, false, 14 },
		{ "dev1", "c", "#", U, true, 0, MQ_ACL_UNSUBSCRIBE_OK },
	};

	RUN(rules, cases);
}

/* The plugin's read fast path (plugin/access.c) rests on this: when the
 * subscribe check allows a filter, the read check allows every topic the
 * filter matches. Topics from each filter: every wildcard level replaced
 * by one level text ('#' also by nothing and by two levels), never a
 * first level starting with '$' for a wildcard (MQTT matches none). */
static void subscribe_allowed_means_every_matched_topic_readable(void **state)
{
	static const struct rspec rules[] = {
		{ "device:dev1", "read", false, "devices/%u/#" },
		{ "all", "read", false, "pub/+/status" },
		{ "all", "read", true, "pub/secret/status" },
		{ "group:cams", "read", false, "#" },
		{ "group:cams", "read", true, "cams/private/#" },
		{ "group:cams", "read", true, "+/+/hidden" },
		{ "device:dev3", "read", false, "$SYS/#" },
		{ "device:dev3", "read", false, "t/#" },
		{ "device:dev3", "read", true, "t/+" },
		{ "device:dev3", "read", true, "t/x/y" },
		{ "device:dev3", "read", true, "t/%c/#" },
		{ "device:a", "read", false, "+/+" },
		{ "device:a", "read", false, "q/#" },
		{ "device:a", "read", true, "q/%c/#" },
		{ "device:a", "read", true, "q//#" },
	};
	static const char *const filters[] = {
		"#", "+", "+/#", "+/+", "+/+/+", "devices/dev1/#", "devices/dev1/+/x", "devices/dev1",
		"pub/+/status", "pub/x/status", "cams/#", "cams/public/#", "cams/+/x", "+/private/x",
		"$SYS/#", "$SYS/+", "t/#", "t/z/+", "t/z/#", "t/+/q", "q/#", "q/j/#", "q/+/z", "q/+",
		"$share/g/q/j/#", "$share/g/cams/public/+", "x/y", "+/y", "a//b", "/#",
	};
	static const char *const devices[] = { "dev1", "dev2", "dev3", "a" };
	static const char *const cids[] = { "k", "j", "x", "dev1", "" };
	static const char *const lev[] = { "a", "x", "y", "z", "j", "k", "q", "t", "", "dev1",
					   "dev2", "private", "public", "hidden", "secret", "status",
					   "devices", "cams", "pub", "$SYS", "$x" };
	struct mq_policy *p = fixture(rules, sizeof(rules) / sizeof(rules[0]));
	struct mq_acl_index *idx = mq_acl_index_build(p);
	unsigned long tried = 0, allowed_subs = 0;

	assert_non_null(idx);
	for (size_t d = 0; d < sizeof(devices) / sizeof(devices[0]); d++) {
		for (size_t c = 0; c < sizeof(cids) / sizeof(cids[0]); c++) {
			struct mq_acl_ident id = { .device = devices[d], .client_id = cids[c] };
			struct mq_acl_client *cl = NULL;

			assert_int_equal(mq_acl_client_init(&cl, idx, &id), 0);
			for (size_t f = 0; f < sizeof(filters) / sizeof(filters[0]); f++) {
				const char *flt = filters[f];

				if (!mq_acl_check(cl, flt, S, NULL))
					continue;
				allowed_subs++;
				if (!strncmp(flt, "$share/", 7))
					flt = strchr(flt + 7, '/') + 1;
				for (size_t l = 0; l < sizeof(lev) / sizeof(lev[0]); l++) {
					for (int hash = 0; hash < 3; hash++) {
						char fc[128], t[256] = "";
						char *save = NULL, *tok;
						bool first = true, skip = false;

						snprintf(fc, sizeof(fc), "%s", flt);
						/* strsep keeps empty levels, unlike strtok. */
						for (save = fc; (tok = strsep(&save, "/"));) {
							const char *v = tok;
							bool wild = !strcmp(tok, "+") || !strcmp(tok, "#");

							if (!strcmp(tok, "#") && hash == 0)
								break;
							if (wild)
								v = !strcmp(tok, "#") && hash == 2 ? "k/k" : lev[l];
							if (wild && first && v[0] == '$')
								skip = true;
							if (!first)
								strcat(t, "/");
							strcat(t, v);
							first = false;
						}
						if (skip || !t[0])
							continue;
						tried++;
						if (!mq_acl_check(cl, t, R, NULL))
							fail_msg("%s (client id '%s'): subscribe '%s' is allowed, "
								 "read '%s' is denied", devices[d], cids[c],
								 filters[f], t);
					}
				}
			}
			mq_acl_client_free(cl);
		}
	}
	/* The table must exercise the property, not pass vacuously. */
	assert_true(allowed_subs > 30);
	assert_true(tried > 1000);
	mq_acl_index_free(idx);
	mq_policy_free(p);
}

static void hostile_identities_never_widen_a_pattern(void **state)
{
	static const struct rspec rules[] = {
		{ "all", "write", false, "devices/%c/x" }, /* 1 */
		{ "all", "write", false, "cn/%{cn}" },	    /* 2 */
		{ "all", "write", false, "ou/%{ou}/#" },    /* 3 */
		{ "all", "write", false, "in/dev-%u-%c" }, /* 4 */
		{ "all", "read", false, "%c/#" },	    /* 5 */
		{ "all", "read", false, "devices/%c/#" },  /* 6 */
		{ "all", "write", false, "lit/%%u" },	    /* 7 */
		{ "all", "read", false, "m/%{ou}-%{cn}" }, /* 8 */
	};
	static const struct cspec cases[] = {
		{ "dev1", "a/+", "devices/a/x", W, false, 0 },
		{ "dev1", "a/+", "devices/a/+/x", W, false, 0, MQ_ACL_BAD_TOPIC },
		{ "dev1", "a/b", "devices/a/b/x", W, false, 0 },
		{ "dev1", "+", "devices/+/x", S, false, 0, MQ_ACL_NOT_COVERED },
		{ "dev1", "+", "devices/+/#", S, false, 0, MQ_ACL_NOT_COVERED },
		{ "dev1", "#", "devices/#", S, false, 0, MQ_ACL_NOT_COVERED },
		{ "dev1", "#", "#", S, false, 0, MQ_ACL_NOT_COVERED },
		{ "dev1", "", "devices//x", W, false, 0 },
		{ "dev1", NULL, "devices//x", W, false, 0 },
		{ "dev1", "k1", "devices/k1/x", W, true, 1 },
		{ "dev1", "k1", "devices/k1/#", S, true, 6 },
		{ "dev1", "$SYS", "$SYS/broker/x", R, false, 0 },
		{ "dev1", "$SYS", "$SYS/#", S, false, 0 },
		{ "dev1", "c1", "c1/x", R, true, 5 },
		{ "dev1", "c1", "c1/#", S, true, 5 },
		{ "dev1", "x", "cn/dev/one", W, false, 0, .cn = "dev/one" },
		{ "dev1", "x", "cn/Dev One", W, true, 2, .cn = "Dev One" },
		{ "dev1", "x", "cn/", W, false, 0, .cn = "" },
		{ "dev1", "x", "ou/ops/z", W, true, 3, .ou = { "eng", "ops", "a/b", "", "+" } },
		{ "dev1", "x", "ou/eng", W, true, 3, .ou = { "eng", "ops", "a/b", "", "+" } },
		{ "dev1", "x", "ou/a/b/z", W, false, 0, .ou = { "eng", "ops", "a/b", "", "+" } },
		{ "dev1", "x", "ou//z", W, false, 0, .ou = { "eng", "ops", "a/b", "", "+" } },
		{ "dev1", "x", "ou/ops/z", W, false, 0 },
		{ "dev1", "c1", "in/dev-dev1-c1", W, true, 4 },
		{ "dev1", "", "in/dev-dev1-", W, false, 0 },
		{ "dev1", "c1", "in/dev-dev1-c1x", W, false, 0 },
		{ "dev1", "c1", "in/dev-u9-c1", W, true, 4, .username = "u9" },
		{ "dev1", "c1", "in/dev-a+b-c1", W, false, 0, .username = "a+b" },
		{ "dev1", "c1", "lit/%u", W, true, 7 },
		{ "dev1", "c1", "lit/dev1", W, false, 0 },
		{ "dev1", "c", "m/o2-cn", R, true, 8, .cn = "cn", .ou = { "o1", "o2" } },
		{ "dev1", "c", "m/o3-cn", R, false, 0, .cn = "cn", .ou = { "o1", "o2" } },
		{ "dev1", "c", "m/o1-o2-cn", R, true, 8, .cn = "cn", .ou = { "o1", "o1-o2" } },
	};

	RUN(rules, cases);
}

static void client_init_should_refuse_unknown_devices(void **state)
{
	static const struct rspec rules[] = { { "all", "read", false, "#" } };
	struct mq_policy *p = fixture(rules, 1);
	struct mq_acl_index *idx = mq_acl_index_build(p);
	struct mq_acl_ident id = { .device = "ghost" };
	struct mq_acl_client *cl = (struct mq_acl_client *)&id;
	struct mq_acl_result res;

	assert_int_equal(mq_acl_client_init(&cl, idx, &id), MQ_ACL_ENODEV);
	assert_null(cl);
	assert_false(naive_acl_check(p, &id, "x", R, &res));
	assert_int_equal(res.reason, MQ_ACL_NO_DEVICE);
	mq_acl_index_free(idx);
	mq_policy_free(p);
}

static void result_str_should_name_the_rule(void **state)
{
	static const struct rspec rules[] = {
		{ "all", "readwrite", false, "devices/#" },
		{ "group:sensors", "write", true, "devices/#" },
		{ "device:dev1", "read", false, "x" },
	};
	struct mq_policy *p = fixture(rules, 3);
	struct mq_acl_index *idx = mq_acl_index_build(p);
	struct mq_acl_ident id = { .device = "dev1" };
	struct mq_acl_client *cl = NULL;
	struct mq_acl_result res;
	char line[256];

	assert_int_equal(mq_acl_client_init(&cl, idx, &id), 0);
	mq_acl_check(cl, "devices/a", W, &res);
	mq_acl_result_str(&res, line, sizeof(line));
	assert_string_equal(line, "deny (rule 2: group:sensors deny write devices/#)");
	mq_acl_check(cl, "devices/a", R, &res);
	mq_acl_result_str(&res, line, sizeof(line));
	assert_string_equal(line, "allow (rule 1: all allow readwrite devices/#)");
	mq_acl_check(cl, "x", R, &res);
	mq_acl_result_str(&res, line, sizeof(line));
	assert_string_equal(line, "allow (rule 3: device:dev1 allow read x)");
	mq_acl_check(cl, "y", R, &res);
	mq_acl_result_str(&res, line, sizeof(line));
	assert_string_equal(line, "deny (no rule matches: deny by default)");
	mq_acl_check(cl, "y/#", S, &res);
	mq_acl_result_str(&res, line, sizeof(line));
	assert_string_equal(line, "deny (no allow-read rule covers the whole filter: deny by default)");
	mq_acl_client_free(cl);
	mq_acl_index_free(idx);
	mq_policy_free(p);
}

/* ---- the memo (mq_acl_allowed) ---- */

/* Checks topic both ways through the memo and against the walk. */
static void memo_agrees(struct mq_acl_client *cl, const char *topic, bool want)
{
	for (enum mq_acl_access a = R; a <= W; a++) {
		bool walk = mq_acl_check(cl, topic, a, NULL);

		if (walk != want)
			fail_msg("walk: %s '%s': expected %s", mq_acl_access_str(a), topic,
				 want ? "allow" : "deny");
		if (mq_acl_allowed(cl, topic, a) != want)
			fail_msg("memo: %s '%s' (%zu bytes): expected %s", mq_acl_access_str(a),
				 topic, strlen(topic), want ? "allow" : "deny");
	}
}

/* The memo keys a topic by its length, first and last 8 bytes and keeps
 * the bytes in between: a topic one byte away from an allowed one, at any
 * position and any length around those boundaries (and past the longest
 * topic it keeps), must never be taken for it. More topics than the memo
 * holds are cycled through, so entries are replaced, and the memo is
 * bypassed and taken up again. */
static void memo_should_tell_topics_apart_at_every_byte(void **state)
{
	struct mq_policy *p = mq_policy_new();
	struct mq_acl_index *idx;
	struct mq_acl_ident id = { .device = "dev1", .client_id = "c1" };
	struct mq_acl_client *cl = NULL;
	char base[70][72], near[72], err[256];

	assert_non_null(p);
	assert_non_null(mq_policy_add_device(p, "dev1", NULL, err, sizeof(err)));
	for (size_t len = 1; len < 70; len++) {
		for (size_t i = 0; i < len; i++)
			base[len][i] = i % 9 == 4 ? '/' : (char)('a' + (i * 7 + len) % 23);
		base[len][len] = '\0';
		if (!mq_policy_add_rule(p, MQ_SUBJ_ALL, NULL, base[len], MQ_ACCESS_READWRITE, false,
					err, sizeof(err)))
			fail_msg("rule '%s': %s", base[len], err);
	}
	idx = mq_acl_index_build(p);
	assert_non_null(idx);
	assert_int_equal(mq_acl_client_init(&cl, idx, &id), 0);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t len = 1; len < 70; len++) {
			memo_agrees(cl, base[len], true);
			for (size_t i = 0; i < len; i++) {
				memcpy(near, base[len], len + 1);
				near[i] = near[i] == 'z' ? 'y' : 'z';
				memo_agrees(cl, near, false);
				memo_agrees(cl, base[len], true);
			}
			/* Bases differ in their first byte, so neither a
			 * shorter nor a longer neighbour is a base. */
			if (len > 1) {
				memcpy(near, base[len], len - 1);
				near[len - 1] = '\0';
				memo_agrees(cl, near, false);
			}
			memcpy(near, base[len], len);
			near[len] = 'q';
			near[len + 1] = '\0';
			memo_agrees(cl, near, false);
		}
	}
	/* A client that never repeats a topic makes the memo step aside for a
	 * while; one that settles on a few gets it back. */
	for (size_t i = 0; i < 1200; i++) {
		size_t len = i < 600 ? 1 + i % 69 : 1 + i % 3;

		memo_agrees(cl, base[len], true);
		if (i % 5 == 0) {
			memcpy(near, base[len], len + 1);
			near[0] = 'z';
			memo_agrees(cl, near, false);
		}
	}
	/* Not memoized: the walk's answer every time. */
	assert_false(mq_acl_allowed(cl, NULL, R));
	assert_false(mq_acl_allowed(cl, "", W));
	assert_false(mq_acl_allowed(cl, "a+", W));
	assert_false(mq_acl_allowed(cl, "a+", W));
	assert_true(mq_acl_allowed(cl, "anything", MQ_ACL_UNSUBSCRIBE));
	assert_true(mq_acl_allowed(cl, base[1], MQ_ACL_SUBSCRIBE));
	assert_false(mq_acl_allowed(cl, "zz/#", MQ_ACL_SUBSCRIBE));
	assert_false(mq_acl_allowed(cl, "x", (enum mq_acl_access)3));
	mq_acl_client_free(cl);
	mq_acl_index_free(idx);
	mq_policy_free(p);
}

/* The plugin's swap: every client is re-initialised against the new index
 * (mqaccess_rebind_all) before the old one is freed. What the memo learnt
 * under the old rules must not answer under the new ones. */
static void memo_should_not_outlive_a_policy_swap(void **state)
{
	static const struct rspec before[] = {
		{ "all", "readwrite", false, "devices/%u/#" },
		{ "all", "read", false, "fleet/+/status" },
	};
	static const struct rspec after[] = {
		{ "all", "readwrite", false, "devices/%u/#" },
		{ "all", "read", true, "devices/%u/secret" },
		{ "group:sensors", "write", false, "fleet/%u/status" },
	};
	struct mq_policy *p1 = fixture(before, 2), *p2 = fixture(after, 3);
	struct mq_acl_index *i1 = mq_acl_index_build(p1), *i2 = mq_acl_index_build(p2);
	struct mq_acl_ident id = { .device = "dev1", .client_id = "c1" };
	struct mq_acl_client *cl = NULL;

	assert_non_null(i1);
	assert_non_null(i2);
	assert_int_equal(mq_acl_client_init(&cl, i1, &id), 0);
	for (int i = 0; i < 3; i++) {
		assert_true(mq_acl_allowed(cl, "devices/dev1/secret", R));
		assert_true(mq_acl_allowed(cl, "fleet/x/status", R));
		assert_false(mq_acl_allowed(cl, "fleet/dev1/status", W));
	}
	/* As acl_resolve does: free, then build from the new index. */
	mq_acl_client_free(cl);
	mq_acl_index_free(i1);
	assert_int_equal(mq_acl_client_init(&cl, i2, &id), 0);
	for (int i = 0; i < 3; i++) {
		assert_false(mq_acl_allowed(cl, "devices/dev1/secret", R));
		assert_true(mq_acl_allowed(cl, "devices/dev1/secret", W));
		assert_false(mq_acl_allowed(cl, "fleet/x/status", R));
		assert_true(mq_acl_allowed(cl, "fleet/dev1/status", W));
	}
	mq_acl_client_free(cl);
	mq_acl_index_free(i2);
	mq_policy_free(p1);
	mq_policy_free(p2);
}

/* ---- randomized cross-check of the index against the naive scan ---- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

#define PICK(a) (a)[rnd(sizeof(a) / sizeof((a)[0]))]

static void random_levels(char *buf, size_t cap, const char *const *names, size_t nnames,
			  bool wild, bool pattern)
{
	static const char *const pat_extra[] = { "+", "%u", "%c", "%{cn}", "%{ou}", "x%u",
						 "%{ou}x", "%%" };
	size_t n = 1 + rnd(4), len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *l = names[rnd((uint32_t)nnames)];

		if (wild && rnd(4) == 0)
			l = "+";
		if (pattern && rnd(3) == 0)
			l = PICK(pat_extra);
		if (wild && i + 1 == n && rnd(3) == 0)
			l = "#";
		len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? "/" : "", l);
	}
}

static void index_should_agree_with_naive_scan(void **state)
{
	static const char *const names[] = { "a", "b", "$s", "", "u0", "c0", "cn0", "o1", "xu0" };
	static const char *const subjects[] = { "all", "device:dev0", "device:dev1",
						"group:g0", "group:g1", "group:g2" };
	static const char *const access[] = { "read", "write", "readwrite" };
	static const char *const cids[] = { "c0", "c1", "", "a/+", "$s", "b" };
	static const char *const ous[] = { "o1", "o2", "", "a", "$s" };
	uint64_t seed = 0x5eed1234abcdULL;
	const char *env = getenv("MQ_ACL_SEED");
	unsigned long checks = 0, allowed = 0;

	if (env)
		seed = strtoull(env, NULL, 0);
	rng_state = seed;
	for (int round = 0; round < 400; round++) {
		struct mq_policy *p = mq_policy_new();
		/* The same rules alone, as the plugin loads them from the store:
		 * its clients get their device from a lookup of their own. */
		struct mq_policy *rules_only = mq_policy_new();
		struct mq_acl_index *idx, *ridx;
		char err[256], topic[128];
		size_t nrules = rnd(12);

		assert_non_null(p);
		assert_non_null(rules_only);
		for (int d = 0; d < 3; d++) {
			char name[16], user[16], *groups[3];
			size_t ng = 0;
			struct mq_device *dev;

			snprintf(name, sizeof(name), "dev%d", d);
			snprintf(user, sizeof(user), "u%d", d);
			dev = mq_policy_add_device(p, name, user, err, sizeof(err));
			assert_non_null(dev);
			for (int g = 0; g < 3; g++) {
				if (rnd(2))
					groups[ng++] = g == 0 ? "g0" : g == 1 ? "g1" : "g2";
			}
			assert_int_equal(mq_policy_set_groups(dev, groups, ng, err, sizeof(err)), 0);
		}
		for (size_t i = 0; i < nrules; i++) {
			const char *s = PICK(subjects);
			enum mq_subject_kind kind = !strcmp(s, "all")		     ? MQ_SUBJ_ALL
						    : !strncmp(s, "device:", 7) ? MQ_SUBJ_DEVICE
										 : MQ_SUBJ_GROUP;
			enum mq_access acc;

			do
				random_levels(topic, sizeof(topic), names, 9, true, true);
			while (mq_pattern_valid(topic, NULL, 0));
			assert_int_equal(mq_rule_access_parse(PICK(access), &acc), 0);
			bool deny = rnd(3) == 0;

			if (!mq_policy_add_rule(p, kind, kind == MQ_SUBJ_ALL ? NULL : strchr(s, ':') + 1,
						topic, acc, deny, err, sizeof(err)) ||
			    !mq_policy_add_rule(rules_only, kind,
						kind == MQ_SUBJ_ALL ? NULL : strchr(s, ':') + 1, topic, acc,
						deny, err, sizeof(err)))
				fail_msg("seed 0x%llx: rule '%s': %s", (unsigned long long)seed, topic, err);
		}
		idx = mq_acl_index_build(p);
		assert_non_null(idx);
		ridx = mq_acl_index_build(rules_only);
		assert_non_null(ridx);
		for (int c = 0; c < 8; c++) {
			const char *ou[3] = { PICK(ous), PICK(ous), PICK(ous) };
			struct mq_acl_ident id = {
				.device = rnd(3) == 0 ? "dev0" : rnd(2) ? "dev1" : "dev2",
				.client_id = rnd(6) ? PICK(cids) : NULL,
				.cn = rnd(3) ? "cn0" : NULL,
				.ou = ou,
				.nou = rnd(4),
			};
			struct mq_acl_client *cl = NULL, *cm = NULL;
			const struct mq_device *dv = mq_policy_find_device(p, id.device);
			const struct mq_acl_member m = {
				.name = dv->name,
				.username = dv->username,
				.groups = (const char *const *)dv->groups,
				.ngroups = dv->ngroups,
			};

			assert_int_equal(mq_acl_client_init(&cl, idx, &id), 0);
			assert_int_equal(mq_acl_client_init_member(&cm, ridx, &m, &id), 0);
			for (int t = 0; t < 40; t++) {
				enum mq_acl_access a = t % 3 == 0 ? R : t % 3 == 1 ? W : S;
				struct mq_acl_result ri, rn;
				bool bi, bn;

				random_levels(topic, sizeof(topic), names, 9, a == S, false);
				if (a == S && rnd(8) == 0 && strlen(topic) + 10 < sizeof(topic)) {
					memmove(topic + 9, topic, strlen(topic) + 1);
					memcpy(topic, "$share/g/", 9);
				}
				bi = mq_acl_check(cl, topic, a, &ri);
				bn = naive_acl_check(p, &id, topic, a, &rn);
				{
					struct mq_acl_result rm;

					if (mq_acl_check(cm, topic, a, &rm) != bi ||
					    rm.reason != ri.reason ||
					    (rm.rule ? rm.rule->id : 0) != (ri.rule ? ri.rule->id : 0))
						fail_msg("seed 0x%llx round %d: the rules-only index "
							 "disagrees on %s '%s'", (unsigned long long)seed,
							 round, mq_acl_access_str(a), topic);
				}
				checks++;
				allowed += bi;
				/* The topics repeat within a client: memo hits too. */
				if (mq_acl_allowed(cl, topic, a) != bi)
					fail_msg("seed 0x%llx round %d: memo disagrees on %s '%s'",
						 (unsigned long long)seed, round, mq_acl_access_str(a),
						 topic);
				if (bi != bn || ri.rule != rn.rule || ri.reason != rn.reason) {
					char li[256], ln[256];

					mq_acl_result_str(&ri, li, sizeof(li));
					mq_acl_result_str(&rn, ln, sizeof(ln));
					for (size_t i = 0; i < p->nrules; i++)
						print_message("  rule %lu: kind %d %s %s %s %s\n",
							      p->rules[i]->id, p->rules[i]->kind,
							      p->rules[i]->subject ? p->rules[i]->subject : "-",
							      p->rules[i]->deny ? "deny" : "allow",
							      mq_rule_access_str(p->rules[i]->access),
							      p->rules[i]->topic);
					fail_msg("seed 0x%llx round %d: %s %s '%s' client id '%s' nou %zu: index says %s, naive says %s",
						 (unsigned long long)seed, round, id.device,
						 mq_acl_access_str(a), topic,
						 id.client_id ? id.client_id : "(null)", id.nou, li, ln);
				}
			}
			mq_acl_client_free(cl);
			mq_acl_client_free(cm);
		}
		mq_acl_index_free(idx);
		mq_acl_index_free(ridx);
		mq_policy_free(p);
		mq_policy_free(rules_only);
	}
	/* The generator must exercise both outcomes, or the test proves little. */
	assert_true(allowed > checks / 20);
	assert_true(allowed < checks - checks / 20);
	print_message("cross-checked %lu decisions (%lu allowed), seed 0x%llx\n", checks, allowed,
		      (unsigned long long)seed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(wildcards_dollar_and_empty_levels),
		cmocka_unit_test(long_topics_with_many_levels),
		cmocka_unit_test(patterns_at_the_level_limit),
		cmocka_unit_test(precedence_most_specific_wins_and_deny_wins_ties),
		cmocka_unit_test(subscribe_needs_a_covering_allow_and_no_stronger_deny),
		cmocka_unit_test(subscribe_allowed_means_every_matched_topic_readable),
		cmocka_unit_test(hostile_identities_never_widen_a_pattern),
		cmocka_unit_test(client_init_should_refuse_unknown_devices),
		cmocka_unit_test(result_str_should_name_the_rule),
		cmocka_unit_test(memo_should_tell_topics_apart_at_every_byte),
		cmocka_unit_test(memo_should_not_outlive_a_policy_swap),
		cmocka_unit_test(index_should_agree_with_naive_scan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
