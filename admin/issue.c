#include "issue.h"

#include "cli.h"
#include "mq_fileio.h"
#include "mq_time.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

int issue_check_expiry(const struct ca *ca, time_t not_after)
{
	char ts[MQ_TIME_LEN] = "?";
	time_t ca_end = ca_not_after(ca);

	if (not_after <= ca_end)
		return 0;
	mq_time_format(ca_end, ts);
	cli_err("the certificate would outlive the CA, which expires %s: use a smaller --days (at most %lld)",
		ts, (long long)((ca_end - time(NULL)) / 86400));
	return -1;
}

bool issue_dns_valid(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (!strncmp(s, "*.", 2)) {
		s += 2;
		n -= 2;
	}
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char c = s[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c == '-' && label > 0)))
			return false;
		label++;
	}
	return true;
}

int issue_add_san(char **sans, const char *spec)
{
	unsigned char addr[16];
	char *n = NULL;
	bool ok = false;

	if (!strncmp(spec, "DNS:", 4))
		ok = issue_dns_valid(spec + 4);
	else if (!strncmp(spec, "IP:", 3))
		ok = inet_pton(AF_INET, spec + 3, addr) == 1 || inet_pton(AF_INET6, spec + 3, addr) == 1;
	if (!ok) {
		cli_err("invalid --san '%s': use DNS:hostname or IP:address (IPv4 or IPv6)", spec);
		return -1;
	}
	if (asprintf(&n, "%s%s%s", *sans ? *sans : "", *sans ? "," : "", spec) < 0) {
		cli_err("out of memory");
		return -1;
	}
	free(*sans);
	*sans = n;
	return 0;
}

int issue_write(const char *path, const void *data, size_t len, mode_t mode)
{
	char err[512];

	int rc = store_sync_deferred() ? mq_file_replace_fast(path, data, len, mode, err, sizeof(err))
				       : mq_file_write_atomic(path, data, len, mode, err, sizeof(err));

	if (rc) {
		cli_err("%s", err);
		return -1;
	}
	return 0;
}

int issue_write_key(const char *path, EVP_PKEY *key, const X509 *cert)
{
	char *pem = NULL;
	size_t len = 0;
	int rc;

	if (ca_key_pem(key, NULL, cert, &pem, &len))
		return -1;
	rc = issue_write(path, pem, len, 0600);
	OPENSSL_cleanse(pem, len);
	free(pem);
	return rc;
}

int issue_write_cert(const char *path, X509 *cert)
{
	char *pem = NULL;
	size_t len = 0;
	int rc;

	if (ca_cert_pem(cert, &pem, &len))
		return -1;
	rc = issue_write(path, pem, len, 0644);
	free(pem);
	return rc;
}
