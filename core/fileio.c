/* Whole-file I/O that never leaves a half-written file behind, and reads
 * that never block on a FIFO or fill memory from a device. */
#include "mq_fileio.h"
#include "mq_err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

int mq_file_sync_dir(const char *path)
{
	char *copy = strdup(path), *slash;
	const char *dir = ".";
	int fd, rc = -1, saved;

	if (!copy)
		return -1;
	slash = strrchr(copy, '/');
	if (slash == copy)
		dir = "/";
	else if (slash) {
		*slash = '\0';
		dir = copy;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		rc = fsync(fd);
		saved = errno;
		close(fd);
		errno = saved;
	}
	saved = errno;
	free(copy);
	errno = saved;
	return rc;
}

static int fileio_write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* "<path>.tmp-<16 hex>": random, so a temp left by a crash never blocks a
 * later write and two writers never share one. */
static int fileio_temp_name(const char *path, char **out)
{
	unsigned char r[8];
	size_t n = strlen(path) + 6 + 16 + 1;
	char *t = malloc(n);

	if (!t)
		return -1;
	if (RAND_bytes(r, sizeof(r)) != 1) {
		free(t);
		errno = EIO;
		return -1;
	}
	snprintf(t, n, "%s.tmp-%02x%02x%02x%02x%02x%02x%02x%02x", path, r[0], r[1], r[2], r[3],
		 r[4], r[5], r[6], r[7]);
	*out = t;
	return 0;
}

static int fileio_replace(const char *path, const void *buf, size_t len, mode_t mode,
			  bool durable, char *err, size_t errlen)
{
	char *tmp = NULL;
	const char *step = "create";
	int fd = -1, saved;

	if (fileio_temp_name(path, &tmp)) {
		mq_errf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	/* Created with the final mode from the start (fchmod undoes the
	 * umask): a 0600 secret is never readable by anyone else. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0600);
	if (fd < 0)
		goto fail;
	step = "set mode of";
	if (fchmod(fd, mode))
		goto fail;
	step = "write";
	if (fileio_write_all(fd, buf, len))
		goto fail;
	step = "sync";
	if (durable && fsync(fd))
		goto fail;
	step = "close";
	if (close(fd)) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	step = "rename";
	if (rename(tmp, path))
		goto fail;
	free(tmp);
	if (durable && mq_file_sync_dir(path)) {
		/* The new file is in place and read by everyone from now on:
		 * only its durability across a crash is in doubt. */
		mq_errf(err, errlen, "cannot sync the directory of %s: %s", path, strerror(errno));
		return MQ_FILE_NOT_DURABLE;
	}
	return 0;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	mq_errf(err, errlen, "cannot %s %s: %s", step, path, strerror(saved));
	free(tmp);
	errno = saved;
	return -1;
}

int mq_file_write_atomic(const char *path, const void *buf, size_t len, mode_t mode,
			 char *err, size_t errlen)
{
	return fileio_replace(path, buf, len, mode, true, err, errlen);
}

int mq_file_replace_fast(const char *path, const void *buf, size_t len, mode_t mode,
			 char *err, size_t errlen)
{
	return fileio_replace(path, buf, len, mode, false, err, errlen);
}

int mq_file_link_atomic(const char *from, const char *to, char *err, size_t errlen)
{
	char *tmp = NULL;
	int saved;

	if (fileio_temp_name(to, &tmp)) {
		mq_errf(err, errlen, "cannot write %s: %s", to, strerror(errno));
		return -1;
	}
	if (link(from, tmp) == 0 && rename(tmp, to) == 0) {
		free(tmp);
		return 0;
	}
	saved = errno;
	unlink(tmp);
	mq_errf(err, errlen, "cannot link %s to %s: %s", from, to, strerror(saved));
	free(tmp);
	errno = saved;
	return -1;
}

bool mq_file_is_temp_name(const char *name)
{
	const char *t = strstr(name, ".tmp-");

	/* The last ".tmp-" is the one fileio_temp_name appended. */
	for (const char *n; t && (n = strstr(t + 1, ".tmp-")); t = n)
		;
	if (!t || t == name || strlen(t + 5) != 16)
		return false;
	for (t += 5; *t; t++)
		if (!((*t >= '0' && *t <= '9') || (*t >= 'a' && *t <= 'f')))
			return false;
	return true;
}

int mq_file_read(const char *path, size_t max, char **out, size_t *len,
		 char *err, size_t errlen)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		mq_errf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb;

			if (cap >= max) {
				mq_errf(err, errlen, "%s is larger than %zu bytes", path, max);
				goto fail_quiet;
			}
			cap = cap ? cap * 2 : 4096;
			if (cap > max)
				cap = max;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				mq_errf(err, errlen, "cannot read %s: out of memory", path);
				goto fail_quiet;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			saved = errno;
			mq_errf(err, errlen, "cannot read %s: %s", path, strerror(saved));
			goto fail_quiet;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (!buf && !(buf = malloc(1))) {
		mq_errf(err, errlen, "cannot read %s: out of memory", path);
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
fail_quiet:
	close(fd);
	free(buf);
	return -1;
}

const char *mq_file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "not a regular file";
}

int mq_file_read_regular(const char *path, size_t max, char **out, size_t *len,
			 char *err, size_t errlen)
{
	struct stat sb;
	char *buf = NULL;
	size_t cap, n = 0;
	int fd, saved = 0, rc = -1;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		saved = errno;
		mq_errf(err, errlen, "cannot open %s: %s", path, strerror(saved));
		errno = saved;
		return -1;
	}
	if (fstat(fd, &sb)) {
		saved = errno;
		mq_errf(err, errlen, "cannot read %s: %s", path, strerror(saved));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		saved = EINVAL;
		mq_errf(err, errlen, "%s is %s, not a regular file", path, mq_file_kind(sb.st_mode));
		goto out;
	}
	if ((unsigned long long)sb.st_size > max) {
		saved = EFBIG;
		if (max >= (1u << 20))
			mq_errf(err, errlen, "%s is %lld bytes, over the limit of %zu (%zu MB): not read",
				path, (long long)sb.st_size, max, max >> 20);
		else
			mq_errf(err, errlen, "%s is %lld bytes, over the limit of %zu: not read",
				path, (long long)sb.st_size, max);
		goto out;
	}
	/* One byte more than fstat said, to notice a file that grows while it
	 * is read, and one for the terminating NUL. */
	cap = (size_t)sb.st_size + 1;
	if (!(buf = malloc(cap + 1))) {
		saved = ENOMEM;
		mq_errf(err, errlen, "out of memory reading %s", path);
		goto out;
	}
	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			saved = errno;
			mq_errf(err, errlen, "cannot read %s: %s", path, strerror(saved));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n == cap) {
		saved = EFBIG;
		mq_errf(err, errlen, "%s grew while it was read: write it to a temporary file "
			"and rename that over it", path);
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	close(fd);
	if (rc)
		errno = saved;
	return rc;
}

int mq_file_sig_get(const char *path, struct mq_file_sig *s)
{
	struct stat sb;

	memset(s, 0, sizeof(*s));
	if (!path)
		return ENOENT;
	if (stat(path, &sb))
		return errno;
	s->present = true;
	s->dev = sb.st_dev;
	s->ino = sb.st_ino;
	s->size = sb.st_size;
	s->mtim = sb.st_mtim;
	s->ctim = sb.st_ctim;
	return 0;
}

bool mq_file_sig_same(const struct mq_file_sig *a, const struct mq_file_sig *b)
{
	return a->present == b->present && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtim.tv_sec == b->mtim.tv_sec &&
	       a->mtim.tv_nsec == b->mtim.tv_nsec && a->ctim.tv_sec == b->ctim.tv_sec &&
	       a->ctim.tv_nsec == b->ctim.tv_nsec;
}
