#include "fuzzlib.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FUZZ_PKI_DIR
#define FUZZ_PKI_DIR "fuzz/pki"
#endif

static char fz_tmpdir[PATH_MAX];
static char fz_paths[8][PATH_MAX];
static unsigned fz_npaths;

uint8_t fz_byte(struct fz_in *in)
{
	uint8_t b;

	if (!in->n)
		return 0;
	b = *in->p++;
	in->n--;
	return b;
}

unsigned fz_pick(struct fz_in *in, unsigned n)
{
	return fz_byte(in) % n;
}

bool fz_bool(struct fz_in *in)
{
	return fz_byte(in) & 1;
}

void fz_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static void fz_cleanup(void)
{
	for (unsigned i = 0; i < fz_npaths; i++)
		unlink(fz_paths[i]);
	if (fz_tmpdir[0])
		rmdir(fz_tmpdir);
}

const char *fz_file(const char *name, const void *data, size_t len)
{
	char path[PATH_MAX];
	const char *base;
	int fd;

	if (!fz_tmpdir[0]) {
		base = getenv("TMPDIR");
		snprintf(fz_tmpdir, sizeof(fz_tmpdir), "%s/mqcert-fuzz.XXXXXX",
			 base && *base ? base : "/tmp");
		if (!mkdtemp(fz_tmpdir))
			fz_fail("cannot make a temporary directory %s: %s", fz_tmpdir, strerror(errno));
		atexit(fz_cleanup);
	}
	snprintf(path, sizeof(path), "%s/%s", fz_tmpdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len) || close(fd))
		fz_fail("cannot write %s: %s", path, strerror(errno));
	for (unsigned i = 0; i < fz_npaths; i++)
		if (!strcmp(fz_paths[i], path))
			return fz_paths[i];
	if (fz_npaths == sizeof(fz_paths) / sizeof(fz_paths[0]))
		fz_fail("too many temporary file names");
	snprintf(fz_paths[fz_npaths], PATH_MAX, "%s", path);
	return fz_paths[fz_npaths++];
}

static char fz_pki_copy[PATH_MAX];

static void fz_pki_cleanup(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fz_pki_copy);
	if (system(cmd))
		fprintf(stderr, "fuzz: cannot remove %s\n", fz_pki_copy);
}

/* A private copy of the fixture: mqadmin moves a policy.json into a policy
 * store (under DIR's lock) on its first use, which must not change the
 * source tree. */
const char *fz_pki_dir(void)
{
	const char *env = getenv("MQCERT_FUZZ_PKI"), *base = getenv("TMPDIR");
	char cmd[3 * PATH_MAX];

	if (fz_pki_copy[0])
		return fz_pki_copy;
	snprintf(fz_pki_copy, sizeof(fz_pki_copy), "%s/mqcert-fuzz-pki.XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(fz_pki_copy))
		fz_fail("cannot make a temporary directory %s: %s", fz_pki_copy, strerror(errno));
	atexit(fz_pki_cleanup);
	snprintf(cmd, sizeof(cmd), "cp -a '%s/.' '%s'", env && *env ? env : FUZZ_PKI_DIR, fz_pki_copy);
	if (system(cmd))
		fz_fail("cannot copy the fixture PKI: %s", cmd);
	return fz_pki_copy;
}
