/* device revoke (and what cert revoke and device delete share with it):
 * the policy first (what the plugin enforces live), then
 * the CRL (defence in depth for brokers that read crlfile). Revocation is
 * an emergency: it never waits for the CA key. When the CRL cannot be
 * re-signed (encrypted CA key and no passphrase at hand, a wrong one, no
 * terminal) the device is revoked all the same, exit 0, and the warning
 * says to run 'mqadmin crl update'. */
#include "cmds.h"
#include "out.h"

#include "ca.h"
#include "crl.h"
#include "mq_names.h"
#include "store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REVOKE_REASON_MAX 200

bool revoke_reason_ok(const char *reason)
{
	if (!reason)
		return true;
	for (const char *p = reason; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			cli_err("invalid --reason: control characters are not allowed");
			return false;
		}
	}
	if (!*reason || strlen(reason) > REVOKE_REASON_MAX) {
		cli_err("invalid --reason: use 1-%d characters", REVOKE_REASON_MAX);
		return false;
	}
	return true;
}

int revoke_cert(struct mq_cert *cert, const char *reason, time_t now)
{
	char *r = NULL;

	if (reason && !(r = strdup(reason))) {
		cli_err("out of memory");
		return -1;
	}
	free(cert->revoke_reason);
	cert->revoke_reason = r;
	cert->status = MQ_CERT_REVOKED;
	cert->revoked_at = now;
	return 0;
}

int revoke_commit(struct store *st, const char *passfile, const char *what)
{
	struct ca ca = {0};
	int rc = 0;

	/* The CRL's number goes into this same write: the CRL signed below
	 * (or later by 'crl update') never reuses one. */
	crl_reserve_number(st);
	if (store_save_policy(st))
		return -1;
	if (ca_load(&ca, st, passfile) || crl_write(st, &ca, CRL_DEFAULT_DAYS)) {
		out_warn(
			"%s IS revoked: the policy no longer admits it and a "
			"running plugin disconnects it within a second. But %s/crl.pem was not re-signed "
			"(see above) and does not list it yet: run 'mqadmin -d %s crl update' with the "
			"CA passphrase",
			what, st->dir, st->dir);
		rc = 1;
	}
	ca_release(&ca);
	return rc;
}

int cmd_device_revoke(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"reason", required_argument, NULL, 'r'},
		{"passphrase-file", required_argument, NULL, 'P'},
		{NULL, 0, NULL, 0},
	};
	struct store *st = NULL;
	struct mq_device *d;
	const char *reason = NULL, *passfile = NULL, *name;
	char what[MQ_NAME_MAX + 16];
	time_t now = time(NULL);
	size_t n = 0;
	int c, rc = CLI_FAIL, crl;

	while ((c = cli_opt(ctx, argc, argv, opts)) != -1) {
		switch (c) {
		case 'r':
			reason = optarg;
			break;
		case 'P':
			passfile = optarg;
			break;
		default:
			return cli_usage_error(ctx, NULL);
		}
	}
	if (cli_operands(ctx, argc, argv, 1, 1, "device NAME"))
		return CLI_USAGE;
	name = argv[optind];
	if (!cli_name_ok("device", name) || !revoke_reason_ok(reason))
		return CLI_FAIL;
	/* O(change): the device, then (crl_write) those already in the CRL. */
	if (!(st = cmd_pki(ctx)) || store_load_devices(st, &name, 1))
		goto out;
	d = mq_policy_find_device(st->policy, name);
	if (!d) {
		cli_err("no device '%s' in %s; see 'mqadmin device list'", name, st->dir);
		goto out;
	}
	for (size_t i = 0; i < d->ncerts; i++) {
		struct mq_cert *cert = d->certs[i];

		if (cert->status == MQ_CERT_REVOKED)
			continue;
		if (revoke_cert(cert, reason, now))
			goto out;
		n++;
	}
	if (n == 0) {
		cli_err("device '%s' is already revoked", name);
		goto out;
	}
	snprintf(what, sizeof(what), "device '%s'", name);
	crl = revoke_commit(st, passfile, what);
	if (crl < 0)
		goto out;
	rc = CLI_OK;
	if (crl) {
		printf("revoked %zu certificate%s of device '%s'; %s/crl.pem NOT updated\n", n,
		       n == 1 ? "" : "s", name, st->dir);
	} else {
		printf("revoked %zu certificate%s of device '%s'; %s/crl.pem updated\n", n,
		       n == 1 ? "" : "s", name, st->dir);
	}
	if (cli_flush_stdout())
		rc = CLI_FAIL;
out:
	return rc;
}
