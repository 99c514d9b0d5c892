/* Adds devices to a PKI directory's store through the store API (for
 * timing mqadmin at fleet sizes policy import's 128 MB limit refuses):
 * one device object of policy.json per stdin line, 50,000 per write
 * transaction, one 'I' log entry each. Build: see bench/store/run-ochange.
 *   fill DIR/store < devices.jsonl */
#include "mq_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct mq_store *s = NULL;
	char err[512], *line = NULL;
	size_t cap = 0, n = 0;
	ssize_t len;
	int rc = 1;

	if (argc != 2 || mq_store_open(&s, argv[1], 0, err, sizeof(err))) {
		fprintf(stderr, "usage: fill DIR/store < devices.jsonl (%s)\n", argc == 2 ? err : "");
		return 2;
	}
	while ((len = getline(&line, &cap, stdin)) > 0) {
		struct mq_device *d;

		if (n % 50000 == 0 && (mq_store_write_begin(s, err, sizeof(err)) ? 1 : (mq_store_write_quiet(s, true), 0)))
			goto out;
		if (!(d = mq_device_parse(line, (size_t)len, err, sizeof(err))) ||
		    mq_store_put_device(s, d, err, sizeof(err))) {
			mq_device_free(d);
			goto out;
		}
		mq_device_free(d);
		if (++n % 50000 == 0 && (mq_store_log(s, 'I', "", err, sizeof(err)) ||
					 mq_store_write_commit(s, NULL, err, sizeof(err))))
			goto out;
	}
	if (n % 50000 && (mq_store_log(s, 'I', "", err, sizeof(err)) ||
			  mq_store_write_commit(s, NULL, err, sizeof(err))))
		goto out;
	fprintf(stderr, "added %zu devices\n", n);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "fill: %s\n", err);
	free(line);
	mq_store_close(s);
	return rc;
}
