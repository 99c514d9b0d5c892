/* tests/cli/t0331: drives admin/etcd.c against a real etcd, one call per
 * command line word, printing what the client returned:
 *   etcd_probe URLS lease-put KEY VALUE TTL   grant, put under it, keep alive
 *   etcd_probe URLS revoke-all KEYPREFIX      (revokes the lease of KEY)
 *   etcd_probe URLS watch KEY FROMREV N       prints N events then exits
 *   etcd_probe URLS get KEY                   value and revisions
 *   etcd_probe URLS range PREFIX PAGE         every key, paged
 *   etcd_probe URLS cas KEY VALUE MODREV      txn put if mod_revision == MODREV */
#include "etcd.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int left;

static int on_events(void *arg, const struct etcd_event *ev, size_t n, int64_t rev)
{
	(void)arg;
	for (size_t i = 0; i < n; i++) {
		printf("%s %s %s mod=%" PRId64 "\n", ev[i].type == ETCD_EV_DELETE ? "DELETE" : "PUT",
		       ev[i].kv.key, ev[i].kv.value ? ev[i].kv.value : "", ev[i].kv.mod_rev);
		if (--left <= 0)
			return 1;
	}
	fflush(stdout);
	(void)rev;
	return 0;
}

static int on_kv(void *arg, const struct etcd_kv *kv)
{
	(*(int *)arg)++;
	printf("%s\n", kv->key);
	return 0;
}

int main(int argc, char **argv)
{
	struct etcd_opts o = {argv[1], getenv("ETCD_CACERT"), getenv("ETCD_CERT"), getenv("ETCD_KEY"), 2000};
	struct etcd *e;
	char err[1024];
	int rc = 1;

	if (argc < 3 || etcd_new(&e, &o, err, sizeof(err))) {
		fprintf(stderr, "%s\n", argc < 3 ? "usage" : err);
		return 2;
	}
	if (!strcmp(argv[2], "lease-put") && argc == 6) {
		int64_t id, ttl = 0;

		if ((rc = etcd_lease_grant(e, atoll(argv[5]), &id, err, sizeof(err))) ||
		    (rc = etcd_put(e, argv[3], argv[4], strlen(argv[4]), id, NULL, err, sizeof(err))) ||
		    (rc = etcd_lease_keepalive(e, id, &ttl, err, sizeof(err))))
			goto out;
		printf("lease %" PRId64 " ttl %" PRId64 "\n", id, ttl);
		if ((rc = etcd_lease_revoke(e, id, err, sizeof(err))))
			goto out;
		printf("revoked\n");
		rc = etcd_lease_keepalive(e, id, &ttl, err, sizeof(err));
		printf("keepalive after revoke: %d\n", rc);
		rc = rc ? 0 : 1;
	} else if (!strcmp(argv[2], "watch") && argc == 6) {
		struct etcd_watch_req w = {.key = argv[3], .range_end = "", .start_revision = atoll(argv[4]),
					   .timeout_ms = 10000};
		int64_t compact = 0;

		left = atoi(argv[5]);
		rc = etcd_watch(e, &w, on_events, NULL, &compact, err, sizeof(err));
		printf("watch rc %d compact %" PRId64 "\n", rc, compact);
		rc = rc == 1 ? 0 : rc == ETCD_COMPACTED ? 3 : 1;
	} else if (!strcmp(argv[2], "get") && argc == 4) {
		struct etcd_range_req r = {.key = argv[3]};
		struct etcd_kvs k;

		if ((rc = etcd_range(e, &r, &k, err, sizeof(err))))
			goto out;
		for (size_t i = 0; i < k.n; i++)
			printf("%s=%s create=%" PRId64 " mod=%" PRId64 " version=%" PRId64 "\n", k.v[i].key,
			       k.v[i].value, k.v[i].create_rev, k.v[i].mod_rev, k.v[i].version);
		printf("rev %" PRId64 " n %zu\n", k.rev, k.n);
		etcd_kvs_free(&k);
	} else if (!strcmp(argv[2], "range") && argc == 5) {
		struct etcd_range_req r = {.key = argv[3], .range_end = "", .keys_only = true};
		int64_t rev;
		int n = 0;

		if ((rc = etcd_range_each(e, &r, atoll(argv[4]), on_kv, &n, &rev, err, sizeof(err))))
			goto out;
		printf("count %d at %" PRId64 "\n", n, rev);
	} else if (!strcmp(argv[2], "cas") && argc == 6) {
		struct etcd_txn *t = etcd_txn_new();
		int64_t want = atoll(argv[5]), rev = 0, now = 0;
		const char *fk;
		bool ok;

		if (!t || (want ? etcd_txn_compare(t, argv[3], ETCD_MOD, ETCD_EQUAL, want)
				: etcd_txn_compare(t, argv[3], ETCD_CREATE, ETCD_EQUAL, 0)) ||
		    etcd_txn_put(t, argv[3], argv[4], strlen(argv[4]), 0)) {
			etcd_txn_free(t);
			goto out;
		}
		rc = etcd_txn_commit(e, t, &ok, &rev, err, sizeof(err));
		if (!rc && ok)
			printf("ok at %" PRId64 "\n", rev);
		else if (!rc && !etcd_txn_failed(t, &fk, &now))
			printf("failed: %s now at %" PRId64 "\n", fk, now);
		rc = rc ? rc : ok ? 0 : 1;
		etcd_txn_free(t);
	}
out:
	if (rc && *err)
		fprintf(stderr, "etcd_probe: %s (rc %d)\n", err, rc);
	etcd_free(e);
	return rc < 0 ? 1 : rc;
}
