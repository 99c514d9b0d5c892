/* Reading the plugin's audit log line by line, as it grows and as
 * logrotate renames it: shared by 'audit log' and 'report'. */
#ifndef ADMIN_REPORT_LOG_H
#define ADMIN_REPORT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <cjson/cJSON.h>

/* The plugin never writes a line this long: longer ones are malformed. */
#define REPORT_LOG_LINE_MAX ((size_t)1 << 20)

struct report_log {
	int fd;           /* -1: closed */
	char *buf;        /* bytes read and not yet returned as lines */
	size_t len, cap;
	size_t returned;  /* bytes of the line last returned, consumed next time */
	bool skipping;    /* inside an over-long line: drop up to its newline */
	off_t off;        /* bytes of the file consumed so far */
	dev_t dev;
	ino_t ino;
	unsigned long lines, bad;
};

/* Takes over fd, an open regular file (see audit_open_file). 0, or -1
 * (fstat failed, errno set). */
int report_log_init(struct report_log *r, int fd);
void report_log_close(struct report_log *r);

/* The next whole line (NUL-terminated, newline removed) in *line, valid
 * until the next call: 1. At the end of what is there: 0; with final, a
 * last line without newline is returned first. -1 on a read error (errno). */
int report_log_next(struct report_log *r, bool final, char **line, size_t *n);

/* Opens path (a regular file only; the open never blocks) into r. 0, or
 * -1 with errno (ENOENT, EACCES..., EINVAL: not a regular file). */
int report_log_open(struct report_log *r, const char *path);

/* For following: what became of the file at path since the last look.
 * REPORT_LOG_SAME; REPORT_LOG_TRUNCATED (it shrank below what was read: now read from
 * its start); REPORT_LOG_ROTATED (path is another file now, e.g. logrotate's
 * rename and create: the caller opens the new one, still reading the old
 * one until the writer has moved over). */
enum { REPORT_LOG_SAME, REPORT_LOG_TRUNCATED, REPORT_LOG_ROTATED };
int report_log_check(struct report_log *r, const char *path);

/* Parses one line: the object, with its "event" and "ts" (into *ts), or
 * NULL for a malformed line (counted in r->bad). */
cJSON *report_log_parse(struct report_log *r, const char *line, size_t n, time_t *ts);

/* A record's member key (a line of the log, or an object of a state
 * file): its string (dflt when absent or not a string), its number (NaN). */
const char *report_log_str(const cJSON *o, const char *key, const char *dflt);
double report_log_num(const cJSON *o, const char *key);

#endif
