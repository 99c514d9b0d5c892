/* device revoke: the policy first (what the plugin enforces live), then
 * the CRL (defence in depth for brokers that read crlfile); the steps it
 * shares with cert revoke and device delete are in revoke.c. */
#include "cmds.h"
#include "out.h"
#include "revoke.h"

#include "mq_names.h"
#include "store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	if (!(st = cmdtab_pki(ctx)) || store_load_devices(st, &name, 1))
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
