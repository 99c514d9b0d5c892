/* The policy reader and the ACL index: bytes as a policy; when accepted,
 * the compiled index must decide exactly like the naive scan on topics made
 * from the policy's own rules, and serialize -> parse -> serialize must give
 * the same text (what mqadmin writes, the plugin must read back unchanged).
 * fuzz-options: -close_fd_mask=1 */
#include "fuzzlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "naive.h"
#include "support.h"
#include "mq_acl.h"
#include "mq_policy.h"

#define FZP_MAX_DEVICES 4
#define FZP_MAX_RULES 32
#define FZP_TOPIC_MAX 1024

/* pattern with its placeholders replaced by the identity's values, '+'
 * levels by plus and a trailing '#' by hash (NULL: keep them). */
static void fzp_topic(char *out, size_t len, const char *pattern, const struct mq_acl_ident *id,
		      const char *username, const char *plus, const char *hash)
{
	size_t o = 0;

	for (const char *s = pattern; *s && o + 1 < len; s++) {
		const char *v = NULL;
		bool level_start = s == pattern || s[-1] == '/';
		bool level_end = !s[1] || s[1] == '/';

		if (*s == '%' && s[1] == 'u') {
			v = username, s++;
		} else if (*s == '%' && s[1] == 'c') {
			v = id->client_id, s++;
		} else if (!strncmp(s, "%{cn}", 5)) {
			v = id->cn, s += 4;
		} else if (!strncmp(s, "%{ou}", 5)) {
			v = id->nou ? id->ou[0] : "", s += 4;
		} else if (*s == '%' && s[1] == '%') {
			v = "%", s++;
		} else if (*s == '+' && level_start && level_end && plus) {
			v = plus;
		} else if (*s == '#' && level_start && level_end && hash) {
			if (!*hash && o)
				o--; /* "a/#" -> "a" */
			v = hash;
		}
		if (!v) {
			out[o++] = *s;
			continue;
		}
		o += (size_t)snprintf(out + o, len - o, "%s", v ? v : "");
		if (o >= len)
			o = len - 1;
	}
	out[o] = '\0';
}

static void fzp_compare(struct mq_acl_client *cl, const struct mq_policy *p,
			const struct mq_acl_ident *id, const char *topic, enum mq_acl_access a)
{
	struct mq_acl_result ri, rn;
	bool memo;

	if (!*topic)
		return;
	mq_acl_check(cl, topic, a, &ri);
	naive_acl_check(p, id, topic, a, &rn);
	memo = mq_acl_allowed(cl, topic, a);
	if (ri.allow != rn.allow || ri.reason != rn.reason || ri.rule != rn.rule ||
	    memo != ri.allow) {
		char si[256], sn[256];

		mq_acl_result_str(&ri, si, sizeof(si));
		mq_acl_result_str(&rn, sn, sizeof(sn));
		fz_fail("device '%s' %s '%s': index says %s, naive scan says %s, memo says %s",
			id->device, mq_acl_access_str(a), topic, si, sn, memo ? "allow" : "deny");
	}
}

static void fzp_decisions(const struct mq_policy *p, const struct mq_acl_index *idx)
{
	static const struct {
		const char *plus, *hash;
	} forms[] = { { "x", "h/i" }, { "", "" }, { NULL, NULL } };
	char topic[FZP_TOPIC_MAX];

	for (size_t d = 0; d < p->ndevices && d < FZP_MAX_DEVICES; d++) {
		const struct mq_device *dev = p->devices[d];
		struct mq_acl_ident id = {
			.device = dev->name, .client_id = d % 2 ? dev->username : dev->name,
			.cn = dev->name, .ou = (const char *const *)dev->groups,
			.nou = dev->ngroups,
		};
		struct mq_acl_client *cl = NULL;

		if (mq_acl_client_init(&cl, idx, &id))
			fz_fail("client_init failed for device '%s' of the policy", dev->name);
		for (size_t r = 0; r < p->nrules && r < FZP_MAX_RULES; r++) {
			for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
				fzp_topic(topic, sizeof(topic), p->rules[r]->topic, &id, dev->username,
					  forms[f].plus, forms[f].hash);
				fzp_compare(cl, p, &id, topic, MQ_ACL_SUBSCRIBE);
				fzp_compare(cl, p, &id, topic, MQ_ACL_READ);
				fzp_compare(cl, p, &id, topic, MQ_ACL_WRITE);
			}
			/* The same filter under another first level and shared. */
			fzp_topic(topic + 5, sizeof(topic) - 5, p->rules[r]->topic, &id, dev->username,
				  NULL, NULL);
			memcpy(topic, "$SYS/", 5);
			fzp_compare(cl, p, &id, topic, MQ_ACL_SUBSCRIBE);
			fzp_compare(cl, p, &id, topic, MQ_ACL_READ);
			memcpy(topic, "$share/g/", 9);
			fzp_topic(topic + 9, sizeof(topic) - 9, p->rules[r]->topic, &id, dev->username,
				  NULL, NULL);
			fzp_compare(cl, p, &id, topic, MQ_ACL_SUBSCRIBE);
		}
		mq_acl_client_free(cl);
	}
}

static void fzp_round_trip(const struct mq_policy *p)
{
	char err[512];
	char *s1 = mq_policy_serialize(p), *s2 = NULL;
	struct mq_policy *p2 = NULL;

	if (!s1)
		fz_fail("serialize failed (out of memory?)");
	p2 = support_policy_parse(s1, strlen(s1), err, sizeof(err));
	if (!p2)
		fz_fail("the serialized policy does not parse: %s\n--- serialized:\n%s", err, s1);
	s2 = mq_policy_serialize(p2);
	if (!s2)
		fz_fail("serialize failed (out of memory?)");
	if (strcmp(s1, s2))
		fz_fail("serialize -> parse -> serialize changed the policy\n--- first:\n%s--- "
			"second:\n%s", s1, s2);
	free(s1);
	free(s2);
	mq_policy_free(p2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct mq_policy *p = support_policy_parse((const char *)data, size, err, sizeof(err));
	struct mq_acl_index *idx;

	if (!p)
		return 0;
	idx = mq_acl_index_build(p);
	if (!idx)
		fz_fail("index build failed on an accepted policy");
	fzp_decisions(p, idx);
	mq_acl_index_free(idx);
	fzp_round_trip(p);
	mq_policy_free(p);
	return 0;
}
