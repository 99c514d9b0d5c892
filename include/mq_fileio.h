/* Whole-file I/O that never leaves a half-written file behind: mqadmin's
 * keys, certificates and policy, and the plugin's state file. */
#ifndef MQ_FILEIO_H
#define MQ_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* Writes buf to path atomically: a temporary file in the same directory
 * (created O_EXCL|O_NOFOLLOW with exactly mode, whatever the umask), write,
 * fsync, rename over path, fsync the directory. Readers see the old file or
 * the new one, never a mix; a secret created with mode 0600 is never
 * readable by others at any instant. On failure nothing is left behind and
 * err holds "what: why". Returns 0 or -1 (errno set), or
 * MQ_FILE_NOT_DURABLE when the new file is in place (every reader sees it)
 * but the directory fsync after the rename failed, so a crash could bring
 * back the old file: the write happened and must not be undone; err says
 * why. Callers that treat any non-zero as failure stay correct for files
 * nothing refers to yet. */
#define MQ_FILE_NOT_DURABLE 1
int mq_file_write_atomic(const char *path, const void *buf, size_t len, mode_t mode,
			 char *err, size_t errlen);

/* The same without fsync: readers still see the old file or the new one,
 * never a mix, but after a crash the file may be the old one (or, on some
 * file systems, empty). For data that is only meaningful while a process
 * runs (the plugin's connected-state file), written on a thread where an
 * fsync would stall every client. */
int mq_file_replace_fast(const char *path, const void *buf, size_t len, mode_t mode,
			 char *err, size_t errlen);

/* Makes "to" a hard link of "from", atomically replacing any old "to"
 * (link to a temporary name, then rename). No fsync. 0 or -1 with err. */
int mq_file_link_atomic(const char *from, const char *to, char *err, size_t errlen);

/* Whether a file name ends in ".tmp-" and 16 lowercase hex digits: the
 * temporary names the writers above use, left behind only by a crash. */
bool mq_file_is_temp_name(const char *name);

/* Reads all of path (at most max bytes) into a malloc'd buffer with a NUL
 * appended (not counted in *len). Returns 0 or -1 with err set. */
int mq_file_read(const char *path, size_t max, char **out, size_t *len,
		 char *err, size_t errlen);

/* Reads a file that someone else may control (the policy, the CRL, the
 * plugin's state file and audit log): only a regular file, or a symbolic
 * link to one, is read. The open never blocks (a FIFO would stall the
 * reader until someone writes to it), a file over max bytes is refused
 * from its size before any byte is read, and a file that grows while it is
 * read is refused (a device such as /dev/zero never ends). A malloc'd
 * buffer with a NUL appended (not counted in *len). Returns 0, or -1 with
 * err ("PATH is a FIFO, not a regular file", "PATH is N bytes, over the
 * limit of M", ...) and errno: the open's errno (ENOENT, EACCES...),
 * EINVAL for a file that is not regular, EFBIG for one too large. */
int mq_file_read_regular(const char *path, size_t max, char **out, size_t *len,
			 char *err, size_t errlen);

/* What a file looked like when last seen, to notice a change without
 * reading it: mqadmin replaces files by rename (a new inode), an editor may
 * rewrite in place (size, mtime), and a chmod that makes a file readable
 * changes only ctime. */
struct mq_file_sig {
	bool present;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
};

/* The signature of path (stat, following symbolic links); not present,
 * with errno returned, when it cannot be had. 0 or the errno. */
int mq_file_sig_get(const char *path, struct mq_file_sig *s);
bool mq_file_sig_same(const struct mq_file_sig *a, const struct mq_file_sig *b);

/* fsyncs the directory holding path (so a rename or unlink in it is
 * durable). 0 or -1. */
int mq_file_sync_dir(const char *path);
/* What a file of this mode is, for messages: "a FIFO", "a directory", ... */
const char *mq_file_kind(mode_t mode);

#endif
