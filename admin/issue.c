/* What server issue and device issue share (issue.h): their common options,
 * the validity limit set by the CA, subject alternative names, and writing
 * key and certificate files. */
#include "issue.h"

#include "cli.h"
#include "mq_x509.h"
#include "mq_fileio.h"
#include "mq_time.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
	return mq_dns_name_valid(strncmp(s, "*.", 2) ? s : s + 2);
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

static bool issue_san_listed(const char *sans, const char *spec)
{
	size_t n = strlen(spec);

	for (const char *p = sans; p; p = strchr(p + 1, ',')) {
		if (*p == ',')
			p++;
		if (!strncmp(p, spec, n) && (p[n] == ',' || p[n] == '\0'))
			return true;
	}
	return false;
}

int issue_add_device_san(char **sans, const char *arg, const char *what)
{
	static const char *const kinds[] = {"DNS:", "email:", "URI:"};
	const char *why = "use DNS:name, email:address or URI:uri";
	char *spec = NULL, *n = NULL;
	size_t count = 1;
	int rc = -1;

	if (!strncasecmp(arg, "IP:", 3)) {
		cli_err("invalid %s '%s': IP SANs are for servers only ('mqadmin server issue --san IP:...'); "
			"a device takes DNS:, email: or URI:", what, arg);
		return -1;
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++) {
		size_t k = strlen(kinds[i]);

		if (strncasecmp(arg, kinds[i], k))
			continue;
		if (asprintf(&spec, "%s%s", kinds[i], arg + k) < 0) {
			spec = NULL;
			cli_err("out of memory");
			return -1;
		}
		why = mq_san_check(spec, NULL);
	}
	if (why) {
		cli_err("invalid %s '%s': %s", what, arg, why);
		goto out;
	}
	if (*sans && issue_san_listed(*sans, spec)) {
		cli_err("%s '%s' is given twice", what, arg);
		goto out;
	}
	for (const char *p = *sans; p && *p; p++)
		count += *p == ',';
	if (*sans && count >= ISSUE_MAX_SANS) {
		cli_err("too many SANs: at most %d", ISSUE_MAX_SANS);
		goto out;
	}
	if (asprintf(&n, "%s%s%s", *sans ? *sans : "", *sans ? "," : "", spec) < 0) {
		cli_err("out of memory");
		goto out;
	}
	free(*sans);
	*sans = n;
	rc = 0;
out:
	free(spec);
	return rc;
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

/* 1 when c was one of the shared options (taken into o), 0 when it is
 * none of them, -1 after printing what is wrong with arg. */
static int issue_opt(int c, const char *arg, struct issue_opts *o)
{
	switch (c) {
	case ISSUE_OPT_DAYS:
		o->days_given = true;
		return cli_parse_days(arg, ISSUE_MAX_DAYS, &o->days) ? -1 : 1;
	case ISSUE_OPT_KEY_TYPE:
		o->type_given = true;
		return ca_keytype_parse(arg, &o->type) ? -1 : 1;
	case ISSUE_OPT_PASSFILE:
		o->passfile = arg;
		return 1;
	case ISSUE_OPT_FORMAT:
		return export_format_parse(arg, &o->ex.formats) ? -1 : 1;
	case ISSUE_OPT_P12_PASSFILE:
		o->ex.p12_passfile = arg;
		return 1;
	case ISSUE_OPT_P12_MODERN:
		o->ex.p12_modern = true;
		return 1;
	default:
		return 0;
	}
}

int issue_getopt(struct cli_ctx *ctx, int argc, char **argv, const struct option *opts,
		 struct issue_opts *o)
{
	int c = -1, taken = 1;

	while (taken > 0 && (c = cli_opt(ctx, argc, argv, opts)) != -1)
		taken = issue_opt(c, optarg, o);
	return taken < 0 ? ISSUE_OPT_BAD : taken ? -1 : c;
}

int issue_opts_check(const struct cli_ctx *ctx, const struct issue_opts *o)
{
	if ((o->ex.p12_passfile || o->ex.p12_modern) && !(o->ex.formats & EXPORT_P12))
		return cli_usage_error(ctx, "--p12-passphrase-file and --p12-modern need --format p12");
	return CLI_OK;
}
