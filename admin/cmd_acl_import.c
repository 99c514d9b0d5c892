/* acl import: a mosquitto acl_file (as mosquitto 2.0 reads it) turned into
 * mqcert rules, for a fleet that ran use_identity_as_username, where every
 * certificate client's username is its CN (= the device name).
 *
 * mosquitto decides a user's access in this order: a deny line under its
 * `user` section that matches; else an allow line there; else a `pattern`
 * deny; else a `pattern` allow; else deny. mqcert lets the most specific
 * matching rule decide (deny on a tie). Each line becomes one rule; the
 * pairs of lines where the two orders disagree are reported, never silently
 * changed. */
#include "cmds.h"

#include "store.h"
#include "mq_fileio.h"
#include "mq_topic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AI_FILE_MAX (16L * 1024 * 1024)

struct ai_rule {
	unsigned line;
	bool pattern;         /* a `pattern` line: every client */
	const char *device;   /* the `user` section's device (topic lines) */
	char *topic;          /* in mqcert's syntax */
	enum mq_access access;
	bool deny;
};

struct ai_set {
	struct ai_rule *v;
	size_t n, cap;
	unsigned skipped, unfaithful;
};

static void ai_free(struct ai_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].topic);
	free(s->v);
}

/* mosquitto substitutes %u and %c in `pattern` lines and nowhere else; every
 * other '%' is literal, which mqcert spells %%. */
static char *ai_topic(const char *t, bool pattern)
{
	char *out = malloc(2 * strlen(t) + 1), *o = out;

	if (!out)
		return NULL;
	for (; *t; t++) {
		if (*t == '%' && !(pattern && (t[1] == 'u' || t[1] == 'c')))
			*o++ = '%';
		*o++ = *t;
	}
	*o = '\0';
	return out;
}

/* Whether some topic matches both patterns (placeholders taken as any one
 * level: the check may report a pair that never meets, never miss one). */
static bool ai_overlap(const char *a, const char *b)
{
	for (;;) {
		size_t la = strcspn(a, "/"), lb = strcspn(b, "/");
		bool wa = (la == 1 && *a == '+') || memchr(a, '%', la),
		     wb = (lb == 1 && *b == '+') || memchr(b, '%', lb);

		if ((la == 1 && *a == '#') || (lb == 1 && *b == '#'))
			return true;
		if (!wa && !wb && (la != lb || memcmp(a, b, la)))
			return false;
		a += la;
		b += lb;
		if (!*a || !*b)
			/* "x" also matches "x/#"; otherwise both must end. */
			return (!*a && !*b) || (!*a && !strcmp(b, "/#")) || (!*b && !strcmp(a, "/#"));
		a++;
		b++;
	}
}

/* Lines whose mosquitto order and mqcert's specificity order disagree on
 * some topic both match: reported with both line numbers. */
static void ai_check_order(const char *file, struct ai_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct ai_rule *d = &s->v[i];

		if (!d->deny)
			continue;
		for (size_t j = 0; j < s->n; j++) {
			const struct ai_rule *a = &s->v[j];
			bool same_client = d->pattern || a->pattern || !strcmp(d->device, a->device);
			int cmp;
			bool mosq_allows, mq_allows;

			if (a->deny || !same_client || !ai_overlap(d->topic, a->topic))
				continue;
			/* Only a user-section allow outranks a pattern deny. */
			mosq_allows = d->pattern && !a->pattern;
			cmp = mq_pattern_cmp(a->topic, d->topic);
			mq_allows = cmp > 0;
			if (mosq_allows == mq_allows)
				continue;
			cli_err("%s:%u: not faithful with line %u: where both match, "
				"mosquitto %s (%s) but mqcert %s (%s); add a rule that says what you "
				"mean for those topics", file, d->line, a->line,
				mosq_allows ? "allows" : "denies",
				mosq_allows ? "a user line beats a pattern line"
					    : "a deny line beats every allow",
				mq_allows ? "allows" : "denies",
				mq_allows ? "the allow is more specific"
					  : "the deny is at least as specific");
			s->unfaithful++;
		}
	}
}

static int ai_push(struct ai_set *s, const struct ai_rule *r)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct ai_rule *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = *r;
	return 0;
}

/* Parses buf as mosquitto 2.0.11's aclfile__parse does (a line that starts
 * with '#' is a comment, words split at spaces, the topic is the rest of
 * the line). A line mosquitto would refuse to start with is a parse error
 * (-1); a line that has no mqcert equivalent is said and skipped. */
static int ai_parse(const char *file, char *buf, struct store *st, struct ai_set *s)
{
	const char *user = NULL;
	char *line, *next, err[256];
	unsigned no = 0;

	for (line = buf; line; line = next) {
		char *w, *acc, *topic, *save = NULL;
		size_t len;
		struct ai_rule r = {0};

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		no++;
		len = strlen(line);
		while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (line[0] == '#' || !(w = strtok_r(line, " ", &save)))
			continue;
		if (!strcmp(w, "user")) {
			char *u = strtok_r(NULL, "", &save);

			while (u && *u == ' ')
				u++;
			if (!u || !*u) {
				cli_err("%s:%u: 'user' without a name (mosquitto refuses this file)", file, no);
				return -1;
			}
			/* O(change): each user's device, as the file names it. */
			if (store_load_user(st, u))
				return -1;
			user = u;
			continue;
		}
		if (strcmp(w, "topic") && strcmp(w, "pattern")) {
			cli_err("%s:%u: '%s' is not an acl_file line (topic, pattern or user; a comment "
				"starts with '#' in the first column); mosquitto refuses this file",
				file, no, w);
			return -1;
		}
		r.line = no;
		r.pattern = !strcmp(w, "pattern");
		acc = strtok_r(NULL, " ", &save);
		topic = strtok_r(NULL, "", &save);
		if (!acc) {
			cli_err("%s:%u: '%s' without a topic (mosquitto refuses this file)", file, no, w);
			return -1;
		}
		if (!topic) {
			topic = acc;
			acc = NULL;
		}
		while (*topic == ' ')
			topic++;
		r.access = MQ_ACCESS_READWRITE;
		if (acc && !strcmp(acc, "deny"))
			r.deny = true;
		else if (acc && mq_rule_access_parse(acc, &r.access)) {
			cli_err("%s:%u: invalid access '%s': mosquitto takes read, write, readwrite or "
				"deny (and refuses this file)", file, no, acc);
			return -1;
		}
		if (!mq_filter_valid(topic)) {
			cli_err("%s:%u: invalid topic '%s' (mosquitto refuses this file)", file, no, topic);
			return -1;
		}
		if (!r.pattern && !user) {
			cli_err("%s:%u: not translated: a topic line before any 'user' "
				"applies to clients without a username, and with certificates every "
				"client has one", file, no);
			s->skipped++;
			continue;
		}
		if (!r.pattern) {
			const struct mq_device *d = mq_policy_find_username(st->policy, user);

			if (!d) {
				cli_err("%s:%u: not translated: user '%s' is no device's "
					"username (adopt or import its certificate first)", file, no,
					user);
				s->skipped++;
				continue;
			}
			r.device = d->name;
		}
		if (!(r.topic = ai_topic(topic, r.pattern))) {
			cli_err("out of memory");
			return -1;
		}
		if (mq_pattern_valid(r.topic, err, sizeof(err))) {
			cli_err("%s:%u: not translated: %s", file, no, err);
			free(r.topic);
			s->skipped++;
			continue;
		}
		if (ai_push(s, &r)) {
			free(r.topic);
			cli_err("out of memory");
			return -1;
		}
	}
	return 0;
}

static bool ai_exists(const struct mq_policy *p, const struct ai_rule *r)
{
	for (size_t i = 0; i < p->nrules; i++) {
		const struct mq_rule *x = p->rules[i];

		if (x->kind == (r->pattern ? MQ_SUBJ_ALL : MQ_SUBJ_DEVICE) &&
		    (r->pattern || !strcmp(x->subject, r->device)) && !strcmp(x->topic, r->topic) &&
		    x->access == r->access && x->deny == r->deny)
			return true;
	}
	return false;
}

int cmd_acl_import(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"dry-run", no_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	struct store *st = NULL;
	struct ai_set s = {0};
	char err[512], *buf = NULL, subj[CLI_ESCAPE_SIZE(64) + 8];
	size_t len = 0, added = 0, present = 0;
	bool dry = false, reads = false;
	int c, rc = CLI_FAIL;

	while ((c = cli_opt(ctx, argc, argv, opts)) != -1) {
		if (c != 'n')
			return cli_usage_error(ctx, NULL);
		dry = true;
	}
	if (cli_operands(ctx, argc, argv, 1, 1, "acl_file FILE"))
		return CLI_USAGE;
	if (mq_file_read(argv[optind], (size_t)AI_FILE_MAX, &buf, &len, err, sizeof(err))) {
		cli_err("%s", err);
		return CLI_FAIL;
	}
	if (memchr(buf, '\0', len)) {
		cli_err("%s is not a text file", argv[optind]);
		goto out;
	}
	ctx->read_only = dry;
	if (!(st = cmdtab_pki(ctx)) || store_load_rules(st))
		goto out;
	if (ai_parse(argv[optind], buf, st, &s)) {
		cli_err("nothing imported");
		goto out;
	}
	ai_check_order(argv[optind], &s);
	for (size_t i = 0; i < s.n; i++) {
		const struct ai_rule *r = &s.v[i];
		struct mq_rule *nr = NULL;

		reads |= !r->deny && (r->access & MQ_ACCESS_READ);
		if (r->pattern)
			snprintf(subj, sizeof(subj), "all");
		else
			snprintf(subj, sizeof(subj), "device:%s", r->device);
		if (ai_exists(st->policy, r)) {
			present++;
			continue;
		}
		if (!dry && !(nr = mq_policy_add_rule(st->policy, r->pattern ? MQ_SUBJ_ALL :
						       MQ_SUBJ_DEVICE, r->device, r->topic,
						       r->access, r->deny, err, sizeof(err)))) {
			cli_err("%s:%u: %s; nothing imported", argv[optind], r->line, err);
			goto out;
		}
		added++;
		if (dry)
			printf("line %u: %s %s %s %s\n", r->line, subj, r->deny ? "deny" : "allow",
			       mq_rule_access_str(r->access), r->topic);
		else
			printf("added rule %lu (line %u): %s %s %s %s\n", nr->id, r->line, subj,
			       r->deny ? "deny" : "allow", mq_rule_access_str(r->access), r->topic);
	}
	if (!dry && added && store_save_policy(st))
		goto out;
	cli_err("%zu rule(s) %s, %zu already present, %u line(s) not translated, "
		"%u pair(s) of lines not faithful", added, dry ? "to add" : "added", present,
		s.skipped, s.unfaithful);
	if (reads)
		cli_err("note: mosquitto's acl_file grants every SUBSCRIBE and "
			"checks only deliveries; mqcert refuses a filter that is not readable as a "
			"whole. For the same behaviour add 'plugin_opt_subscribe grant'");
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
out:
	ai_free(&s);
	free(buf);
	return rc;
}
