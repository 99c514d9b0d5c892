/* LD_PRELOAD shim for the durability tests: fsync on the directory named
 * by $MQSHIM_FSYNC_FAIL_DIR (an absolute, resolved path) fails with EIO,
 * as it does on a file system that lost its device after the rename.
 * Every other fsync is the real one. Built by the test with cc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fsync(int fd)
{
	static int (*real)(int);
	const char *want = getenv("MQSHIM_FSYNC_FAIL_DIR");
	char link[64], path[PATH_MAX];
	struct stat sb;
	ssize_t n;

	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (want && fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, path, sizeof(path) - 1);
		if (n > 0) {
			path[n] = '\0';
			if (!strcmp(path, want)) {
				errno = EIO;
				return -1;
			}
		}
	}
	return real(fd);
}
