/* Whole-file writes: both the durable and the fast variant replace the
 * file in one step with exactly the requested mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(write_atomic_should_replace_the_file_with_its_mode),
		cmocka_unit_test(replace_fast_should_replace_the_file_with_its_mode),
		cmocka_unit_test(writes_should_fail_cleanly_in_a_missing_directory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
