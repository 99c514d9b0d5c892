/* The CA key's passphrase (passphrase.h): read from a file or
 * $MQADMIN_PASSPHRASE_FILE, or prompted for without echo. */
#include "passphrase.h"

#include "cli.h"
#include "mq_fileio.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

int passphrase_read_file(const char *file, char *buf, size_t len)
{
	char err[512], *data = NULL;
	size_t n = 0;
	int rc = -1;

	if (mq_file_read(file, PASSPHRASE_MAX, &data, &n, err, sizeof(err))) {
		cli_err("cannot read the passphrase: %s", err);
		return -1;
	}
	if (n && data[n - 1] == '\n')
		n--;
	if (n && data[n - 1] == '\r')
		n--;
	if (n == 0) {
		cli_err("passphrase file %s is empty: put the passphrase in it", file);
		goto out;
	}
	if (memchr(data, '\0', n) || n >= len) {
		cli_err("passphrase file %s holds a NUL byte or is too long", file);
		goto out;
	}
	memcpy(buf, data, n);
	buf[n] = '\0';
	rc = 0;
out:
	OPENSSL_cleanse(data, n);
	free(data);
	return rc;
}

int passphrase_get(const char *file, char *buf, size_t len)
{
	const char *env = getenv("MQADMIN_PASSPHRASE_FILE");

	if (file)
		return passphrase_read_file(file, buf, len);
	if (env && *env)
		return passphrase_read_file(env, buf, len);
	if (isatty(STDIN_FILENO)) {
		/* OpenSSL's UI reads /dev/tty with echo off. */
		if (EVP_read_pw_string(buf, (int)len, "Enter CA key passphrase:", 0) == 0 && *buf)
			return 0;
		OPENSSL_cleanse(buf, len);
		cli_err("no passphrase entered");
		return -1;
	}
	cli_err("ca.key is encrypted: pass --passphrase-file FILE or set MQADMIN_PASSPHRASE_FILE");
	return -1;
}
