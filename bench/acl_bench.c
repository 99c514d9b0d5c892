/* Microbenchmark of the ACL engine: ns per check at 10 vs 100k devices and
 * 10 vs 10k rules: the compiled index (mq_acl_check), the same through the
 * per-client memo (mq_acl_allowed) when the topics repeat and when they
 * never do, and the naive scan.
 *   cc -O2 -Iinclude -D_GNU_SOURCE -o build/acl_bench bench/acl_bench.c core/[a-z]*.c \
 *      -lssl -lcrypto -lcjson && build/acl_bench */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "naive.h"
#include "mq_acl.h"
#include "mq_policy.h"

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static struct mq_policy *bench_policy(size_t ndev, size_t nrules)
{
	struct mq_policy *p = mq_policy_new();
	char name[32], topic[96], group[16], err[256];
	char *groups[1] = { group };

	if (!p)
		return NULL;
	for (size_t i = 0; i < ndev; i++) {
		struct mq_device *d;

		snprintf(name, sizeof(name), "dev%zu", i);
		snprintf(group, sizeof(group), "g%zu", i % 10);
		d = mq_policy_add_device(p, name, NULL, err, sizeof(err));
		if (!d || mq_policy_set_groups(d, groups, 1, err, sizeof(err)))
			goto fail;
	}
	if (!mq_policy_add_rule(p, MQ_SUBJ_ALL, NULL, "devices/%u/#", MQ_ACCESS_READWRITE, false,
				err, sizeof(err)) ||
	    !mq_policy_add_rule(p, MQ_SUBJ_ALL, NULL, "devices/+/cmd", MQ_ACCESS_WRITE, true, err,
				sizeof(err)))
		goto fail;
	for (size_t i = 2; i < nrules; i++) {
		enum mq_subject_kind kind = i % 4 < 2 ? MQ_SUBJ_ALL : i % 4 == 2 ? MQ_SUBJ_GROUP
										     : MQ_SUBJ_DEVICE;
		const char *subject = NULL;

		if (kind == MQ_SUBJ_ALL) {
			snprintf(topic, sizeof(topic), "r%zu/+/#", i);
		} else if (kind == MQ_SUBJ_GROUP) {
			snprintf(group, sizeof(group), "g%zu", i % 10);
			snprintf(topic, sizeof(topic), "groups/g%zu/data/%zu", i % 10, i);
			subject = group;
		} else {
			snprintf(name, sizeof(name), "dev%zu", i % ndev);
			snprintf(topic, sizeof(topic), "devices/dev%zu/x%zu", i % ndev, i);
			subject = name;
		}
		if (!mq_policy_add_rule(p, kind, subject, topic, MQ_ACCESS_READWRITE, i % 7 == 0,
					err, sizeof(err)))
			goto fail;
	}
	return p;
fail:
	fprintf(stderr, "acl_bench: building the policy failed: %s\n", err);
	mq_policy_free(p);
	return NULL;
}

static const char *const topics[] = {
	"devices/dev5/telemetry/temperature",
	"devices/dev5/cmd",
	"devices/dev6/telemetry",
	"groups/g5/data/17",
	"r100/x/y/z",
	"unrelated/topic/with/several/levels",
};
#define NTOPICS (sizeof(topics) / sizeof(topics[0]))

/* More distinct topics than the memo holds, cycled: every check misses. */
#define NMISS 64
static char miss_topics[NMISS][48];

static double bench_memo(struct mq_acl_client *cl, bool miss, unsigned long iters,
			 unsigned long *allowed)
{
	double t0 = now_ns();

	for (unsigned long i = 0; i < iters; i++)
		*allowed += mq_acl_allowed(cl, miss ? miss_topics[i % NMISS] : topics[i % NTOPICS],
					   i & 1 ? MQ_ACL_WRITE : MQ_ACL_READ);
	return (now_ns() - t0) / (double)iters;
}

static void bench_one(size_t ndev, size_t nrules)
{
	struct mq_policy *p = bench_policy(ndev, nrules);
	struct mq_acl_ident id = { .device = "dev5", .client_id = "dev5" };
	struct mq_acl_index *idx;
	struct mq_acl_client *cl = NULL;
	double t0, t_index, t_naive, t_build, t_hit, t_miss;
	unsigned long iters = 2000000, niters, allowed = 0;

	if (!p)
		exit(1);
	t0 = now_ns();
	idx = mq_acl_index_build(p);
	t_build = now_ns() - t0;
	if (!idx || mq_acl_client_init(&cl, idx, &id)) {
		fprintf(stderr, "acl_bench: out of memory\n");
		exit(1);
	}
	t0 = now_ns();
	for (unsigned long i = 0; i < iters; i++)
		allowed += mq_acl_check(cl, topics[i % NTOPICS], i & 1 ? MQ_ACL_WRITE : MQ_ACL_READ,
					NULL);
	t_index = (now_ns() - t0) / (double)iters;
	t_hit = bench_memo(cl, false, iters, &allowed);
	t_miss = bench_memo(cl, true, iters, &allowed);
	niters = nrules > 1000 ? 2000 : 200000;
	t0 = now_ns();
	for (unsigned long i = 0; i < niters; i++)
		allowed += naive_acl_check(p, &id, topics[i % NTOPICS],
					      i & 1 ? MQ_ACL_WRITE : MQ_ACL_READ, NULL);
	t_naive = (now_ns() - t0) / (double)niters;
	printf("%7zu devices %6zu rules: index %6.1f ns/check, memo %5.1f (repeated topics) %6.1f (new), naive %10.1f, build %8.2f ms (%lu allowed)\n",
	       ndev, nrules, t_index, t_hit, t_miss, t_naive, t_build / 1e6, allowed);
	mq_acl_client_free(cl);
	mq_acl_index_free(idx);
	mq_policy_free(p);
}

int main(void)
{
	for (int i = 0; i < NMISS; i++)
		snprintf(miss_topics[i], sizeof(miss_topics[i]), "devices/dev5/telemetry/t%d", i);
	bench_one(10, 10);
	bench_one(100000, 10);
	bench_one(10, 10000);
	bench_one(100000, 10000);
	return 0;
}
