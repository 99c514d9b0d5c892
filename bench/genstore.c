/* bench/genstore: fills a PKI directory's policy store (DIR/store, made by
 * `mqadmin init`) with a synthetic fleet for the benchmarks, straight
 * through core/store.c: what `device issue` would record, without a
 * certificate, key or devices/ directory per device (only the devices that
 * really connect need those; the bench issues them with mqadmin first).
 *
 *   genstore [--rules POLICY_JSON] [--prefix P] [--seed N] DIR DEVICES
 *
 * Adds devices P0, P1, ... (default "dev") until the store holds DEVICES
 * devices; each has one active certificate with a unique fingerprint and
 * serial and a realistic expiry spread: not_after uniform over the next
 * 730 days (2-year certificates issued evenly over the last two years, so
 * about 4% expire within 30 days). --rules adds the rules of a policy.json
 * (ids kept; devices in that file are ignored). Writes in transactions of
 * 50,000 devices without per-device log entries and ends with one 'I' log
 * entry (like `policy import`): a running broker re-judges its clients.
 * mq_store_put_device keeps every index, the expiring index included, so
 * `expiring` answers from it at once (docs/STORE.md, "The expiring index").
 * Take no mqadmin command meanwhile: genstore does not take DIR's lock.
 * Prints "genstore: N devices added (M in the store), R rules, S s". */
#include "mq_err.h"
#include "mq_policy.h"
#include "mq_store.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GS_TXN 50000
#define GS_DAY 86400L

static uint64_t gs_state;

/* splitmix64: fast, and distinct outputs for distinct states. */
static uint64_t gs_rand(void)
{
	uint64_t z = (gs_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void gs_hex(char *out, size_t bytes)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < bytes; i += 8) {
		uint64_t r = gs_rand();

		for (size_t j = 0; j < 8 && i + j < bytes; j++, r >>= 8) {
			out[2 * (i + j)] = digits[(r >> 4) & 15];
			out[2 * (i + j) + 1] = digits[r & 15];
		}
	}
	out[2 * bytes] = '\0';
}

static void gs_time(char *out, size_t len, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* One device object as policy.json has it, parsed by the policy codec so
 * the store gets exactly what mqadmin would write. */
static struct mq_device *gs_device(const char *name, time_t now, char *err, size_t errlen)
{
	char fpr[65], serial[33], nb[32], na[32], cr[32], json[512];
	time_t not_after = now + GS_DAY + (time_t)(gs_rand() % (729 * GS_DAY));
	int n;

	gs_hex(fpr, 32);
	gs_hex(serial, 16);
	gs_time(nb, sizeof(nb), not_after - 730 * GS_DAY);
	gs_time(na, sizeof(na), not_after);
	gs_time(cr, sizeof(cr), not_after - 730 * GS_DAY);
	n = snprintf(json, sizeof(json),
		     "{\"name\":\"%s\",\"username\":\"%s\",\"groups\":[],\"created\":\"%s\","
		     "\"certs\":[{\"serial\":\"%s\",\"fingerprint\":\"%s\",\"not_before\":\"%s\","
		     "\"not_after\":\"%s\",\"status\":\"active\"}]}",
		     name, name, cr, serial, fpr, nb, na);
	if (n < 0 || (size_t)n >= sizeof(json)) {
		mq_errf(err, errlen, "device name '%s' too long", name);
		return NULL;
	}
	return mq_device_parse(json, (size_t)n, err, errlen);
}

static int gs_rules(struct mq_store *s, const char *path, size_t *count, char *err,
		    size_t errlen)
{
	struct mq_policy *p = mq_policy_load(path, err, errlen);
	uint64_t next = 0;
	int rc = -1;

	if (!p)
		return -1;
	for (size_t i = 0; i < p->nrules; i++) {
		if (mq_store_put_rule(s, p->rules[i], err, errlen))
			goto out;
		if (p->rules[i]->id >= next)
			next = p->rules[i]->id + 1;
	}
	if (p->next_rule_id > next)
		next = p->next_rule_id;
	if (mq_store_meta_set(s, "next_rule_id", next, err, errlen))
		goto out;
	*count = p->nrules;
	rc = 0;
out:
	mq_policy_free(p);
	return rc;
}

static int gs_usage(void)
{
	fprintf(stderr, "usage: genstore [--rules POLICY_JSON] [--prefix P] [--seed N] DIR DEVICES\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *rules = NULL, *prefix = "dev", *dir;
	char err[512], path[4096], name[128];
	struct mq_store *s = NULL;
	size_t have, want, added = 0, nrules = 0, next = 0;
	struct timespec t0, t1;
	time_t now = time(NULL);
	int i, rc = 1;

	gs_state = 15;
	for (i = 1; i < argc && argv[i][0] == '-'; i += 2) {
		if (i + 1 >= argc)
			return gs_usage();
		if (!strcmp(argv[i], "--rules"))
			rules = argv[i + 1];
		else if (!strcmp(argv[i], "--prefix"))
			prefix = argv[i + 1];
		else if (!strcmp(argv[i], "--seed"))
			gs_state = strtoull(argv[i + 1], NULL, 10);
		else
			return gs_usage();
	}
	if (argc - i != 2)
		return gs_usage();
	dir = argv[i];
	want = strtoul(argv[i + 1], NULL, 10);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	snprintf(path, sizeof(path), "%s/store", dir);
	if (mq_store_open(&s, path, 0, err, sizeof(err)))
		goto fail;
	if (mq_store_read_begin(s, err, sizeof(err)))
		goto fail;
	have = mq_store_device_count(s);
	mq_store_read_end(s);
	if (have == (size_t)-1) {
		snprintf(err, sizeof(err), "cannot count the devices in its store");
		goto fail;
	}
	do {
		if (mq_store_write_begin(s, err, sizeof(err)))
			goto fail;
		mq_store_write_quiet(s, true);
		if (rules && !added && gs_rules(s, rules, &nrules, err, sizeof(err)))
			goto abort;
		for (size_t k = 0; k < GS_TXN && have + added < want; k++) {
			struct mq_device *d;

			snprintf(name, sizeof(name), "%s%zu", prefix, next++);
			if (!(d = gs_device(name, now, err, sizeof(err))))
				goto abort;
			if (mq_store_put_device(s, d, err, sizeof(err))) {
				mq_device_free(d);
				goto abort;
			}
			mq_device_free(d);
			added++;
		}
		mq_store_write_quiet(s, false);
		if (have + added >= want && mq_store_log(s, 'I', "", err, sizeof(err)))
			goto abort;
		if (mq_store_write_commit(s, NULL, err, sizeof(err)))
			goto fail;
	} while (have + added < want);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("genstore: %zu devices added (%zu in the store), %zu rules, %.1f s\n", added,
	       have + added, nrules,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	rc = 0;
	goto out;
abort:
	mq_store_write_abort(s);
fail:
	fprintf(stderr, "genstore: %s: %s\n", dir, err);
out:
	mq_store_close(s);
	return rc;
}
