/* LD_PRELOAD shim for t2270: counts the broker's LMDB read transactions
 * begun or renewed and its stat() calls on a file named crl.pem, and
 * writes both counts ("renew N stat N") to $MQSHIM_COUNT_FILE after each
 * call counted. The calls themselves are the real ones. Built by the test
 * with cc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned long shim_renews, shim_stats;

static void shim_report(void)
{
	const char *path = getenv("MQSHIM_COUNT_FILE");
	char buf[64];
	int fd, n;

	if (!path)
		return;
	n = snprintf(buf, sizeof(buf), "renew %lu stat %lu\n", shim_renews, shim_stats);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return;
	if (write(fd, buf, (size_t)n) != n)
		n = -1;
	close(fd);
}

int mdb_txn_renew(MDB_txn *txn)
{
	static int (*real)(MDB_txn *);

	if (!real)
		real = (int (*)(MDB_txn *))dlsym(RTLD_NEXT, "mdb_txn_renew");
	shim_renews++;
	shim_report();
	return real(txn);
}

int mdb_txn_begin(MDB_env *env, MDB_txn *parent, unsigned int flags, MDB_txn **txn)
{
	static int (*real)(MDB_env *, MDB_txn *, unsigned int, MDB_txn **);

	if (!real)
		real = (int (*)(MDB_env *, MDB_txn *, unsigned int, MDB_txn **))
			dlsym(RTLD_NEXT, "mdb_txn_begin");
	if (flags & MDB_RDONLY) {
		shim_renews++;
		shim_report();
	}
	return real(env, parent, flags, txn);
}

int stat(const char *path, struct stat *sb)
{
	static int (*real)(const char *, struct stat *);
	size_t len = path ? strlen(path) : 0;

	if (!real)
		real = (int (*)(const char *, struct stat *))dlsym(RTLD_NEXT, "stat");
	if (len >= 8 && !strcmp(path + len - 8, "/crl.pem")) {
		shim_stats++;
		shim_report();
	}
	return real(path, sb);
}
