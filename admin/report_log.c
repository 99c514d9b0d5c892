/* The audit log's line reader: whole lines only (a writer may be half-way
 * through one), over-long lines dropped, truncation and rotation noticed
 * from the file's size and inode. */
#include "report_log.h"

#include "mq_time.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REPORT_LOG_CHUNK 65536

int report_log_init(struct report_log *r, int fd)
{
	struct stat sb;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	if (fstat(fd, &sb))
		return -1;
	r->fd = fd;
	r->dev = sb.st_dev;
	r->ino = sb.st_ino;
	return 0;
}

void report_log_close(struct report_log *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	free(r->buf);
	r->buf = NULL;
	r->len = r->cap = 0;
}

/* Removes the first n bytes of the buffer. */
static void report_log_consume(struct report_log *r, size_t n)
{
	if (!n)
		return;
	memmove(r->buf, r->buf + n, r->len - n);
	r->len -= n;
}

/* Reads more into the buffer: bytes read, 0 at end, -1 on error. */
static ssize_t report_log_fill(struct report_log *r)
{
	ssize_t got;

	if (r->cap - r->len < REPORT_LOG_CHUNK + 1) {
		size_t cap = r->len + REPORT_LOG_CHUNK + 1;
		char *b = realloc(r->buf, cap);

		if (!b) {
			errno = ENOMEM;
			return -1;
		}
		r->buf = b;
		r->cap = cap;
	}
	do
		got = read(r->fd, r->buf + r->len, REPORT_LOG_CHUNK);
	while (got < 0 && errno == EINTR);
	if (got > 0) {
		r->len += (size_t)got;
		r->off += got;
	}
	return got;
}

int report_log_next(struct report_log *r, bool final, char **line, size_t *n)
{
	/* The line returned last time is consumed now that the caller is done. */
	report_log_consume(r, r->returned);
	r->returned = 0;
	for (;;) {
		char *nl = r->len ? memchr(r->buf, '\n', r->len) : NULL;
		ssize_t got;

		if (nl && r->skipping) {
			r->skipping = false;
			report_log_consume(r, (size_t)(nl - r->buf) + 1);
			continue;
		}
		if (nl) {
			size_t l = (size_t)(nl - r->buf);

			*nl = '\0';
			*line = r->buf;
			*n = l;
			r->lines++;
			r->returned = l + 1;
			return 1;
		}
		if (r->skipping)
			r->len = 0; /* the rest of an over-long line so far */
		else if (r->len > REPORT_LOG_LINE_MAX) {
			r->bad++;
			r->lines++;
			r->len = 0;
			r->skipping = true;
		}
		got = r->fd >= 0 ? report_log_fill(r) : 0;
		if (got < 0)
			return -1;
		if (got == 0) {
			if (final && r->len && !r->skipping) {
				r->buf[r->len] = '\0';
				*line = r->buf;
				*n = r->len;
				r->lines++;
				r->returned = r->len;
				return 1;
			}
			return 0;
		}
	}
}

int report_log_check(struct report_log *r, const char *path)
{
	struct stat sb;

	if (!stat(path, &sb) && (sb.st_ino != r->ino || sb.st_dev != r->dev))
		return REPORT_LOG_ROTATED;
	/* A missing path (between logrotate's rename and the plugin's reopen)
	 * is no change yet: the old file may still get lines. */
	if (!fstat(r->fd, &sb) && sb.st_size < r->off) {
		lseek(r->fd, 0, SEEK_SET);
		r->off = 0;
		r->len = r->returned = 0;
		r->skipping = false;
		return REPORT_LOG_TRUNCATED;
	}
	return REPORT_LOG_SAME;
}

int report_log_open(struct report_log *r, const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat sb;

	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	if (report_log_init(r, fd)) {
		close(fd);
		return -1;
	}
	return 0;
}

cJSON *report_log_parse(struct report_log *r, const char *line, size_t n, time_t *ts)
{
	cJSON *o = cJSON_ParseWithLength(line, n);
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "event");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "ts");

	if (!cJSON_IsObject(o) || !cJSON_IsString(ev) || !cJSON_IsString(t) ||
	    mq_time_parse(t->valuestring, ts)) {
		cJSON_Delete(o);
		r->bad++;
		return NULL;
	}
	return o;
}

const char *report_log_str(const cJSON *o, const char *key, const char *dflt)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));

	return s ? s : dflt;
}

double report_log_num(const cJSON *o, const char *key)
{
	return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, key));
}
