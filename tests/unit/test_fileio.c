/* Whole-file writes: both the durable and the fast variant replace the
 * file in one step with exactly the requested mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mq_fileio.h"

typedef int (*writer)(const char *, const void *, size_t, mode_t, char *, size_t);

static void check_writer(writer w)
{
	char dir[] = "/tmp/mqcert-fileio.XXXXXX", path[64], err[256], *buf = NULL;
	struct stat sb;
	size_t len = 0;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	umask(077);
	assert_int_equal(w(path, "one", 3, 0640, err, sizeof(err)), 0);
	assert_int_equal(w(path, "second", 6, 0640, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);
	assert_int_equal(mq_file_read(path, 1024, &buf, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 6);
	assert_string_equal(buf, "second");
	free(buf);
	/* Nothing but the file itself is left in the directory. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	umask(022);
}

static void write_atomic_should_replace_the_file_with_its_mode(void **state)
{
	check_writer(mq_file_write_atomic);
}

static void replace_fast_should_replace_the_file_with_its_mode(void **state)
{
	check_writer(mq_file_replace_fast);
}

static void writes_should_fail_cleanly_in_a_missing_directory(void **state)
{
	char err[256] = "";

	assert_int_equal(mq_file_replace_fast("/nonexistent-dir/x", "a", 1, 0600, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent-dir/x"));
}

static void read_regular_should_read_a_file_and_refuse_others(void **state)
{
	char dir[] = "/tmp/mqcert-fileio.XXXXXX", path[64], fifo[64], err[256], *buf = NULL;
	size_t len = 0;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	assert_int_equal(mq_file_write_atomic(path, "hello", 5, 0644, err, sizeof(err)), 0);
	assert_int_equal(mq_file_read_regular(path, 5, &buf, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 5);
	assert_string_equal(buf, "hello");
	free(buf);
	buf = NULL;
	/* Over the limit: refused from its size, nothing returned. */
	assert_int_equal(mq_file_read_regular(path, 4, &buf, &len, err, sizeof(err)), -1);
	assert_int_equal(errno, EFBIG);
	assert_null(buf);
	assert_non_null(strstr(err, "is 5 bytes, over the limit of 4"));
	/* A FIFO with no writer: refused at once instead of blocking. */
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(mq_file_read_regular(fifo, 1024, &buf, &len, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "is a FIFO, not a regular file"));
	assert_int_equal(mq_file_read_regular(dir, 1024, &buf, &len, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(mq_file_read_regular("/dev/zero", 1024, &buf, &len, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(unlink(fifo), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mq_file_read_regular(path, 1024, &buf, &len, err, sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(rmdir(dir), 0);
}

static void file_sig_should_change_with_a_chmod(void **state)
{
	char dir[] = "/tmp/mqcert-fileio.XXXXXX", path[64], err[256];
	struct mq_file_sig a, b;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(mq_file_sig_get(path, &a), ENOENT);
	assert_false(a.present);
	assert_int_equal(mq_file_write_atomic(path, "x", 1, 0600, err, sizeof(err)), 0);
	assert_int_equal(mq_file_sig_get(path, &a), 0);
	assert_true(a.present);
	assert_int_equal(mq_file_sig_get(path, &b), 0);
	assert_true(mq_file_sig_same(&a, &b));
	/* Only ctime moves: a policy made readable again must be noticed. The
	 * clock may not tick between the two stats, so wait until it has. */
	for (int i = 0; i < 1000 && mq_file_sig_same(&a, &b); i++) {
		assert_int_equal(chmod(path, i % 2 ? 0600 : 0644), 0);
		assert_int_equal(mq_file_sig_get(path, &b), 0);
	}
	assert_false(mq_file_sig_same(&a, &b));
	assert_int_equal(a.mtim.tv_sec, b.mtim.tv_sec);
	assert_int_equal(a.mtim.tv_nsec, b.mtim.tv_nsec);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(write_atomic_should_replace_the_file_with_its_mode),
		cmocka_unit_test(replace_fast_should_replace_the_file_with_its_mode),
		cmocka_unit_test(writes_should_fail_cleanly_in_a_missing_directory),
		cmocka_unit_test(read_regular_should_read_a_file_and_refuse_others),
		cmocka_unit_test(file_sig_should_change_with_a_chmod),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
