/* device revoke: the policy first (what the plugin enforces live), then
 * the CRL (defence in depth for brokers that read crlfile). */
#include "cmds.h"

#include "ca.h"
#include "crl.h"
#include "store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REVOKE_REASON_MAX 200

int cmd_device_revoke(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"reason", required_argument, NULL, 'r'},
		{"passphrase-file", required_argument, NULL, 'P'},
		{NULL, 0, NULL, 0},
	};
	struct store st = {.lockfd = -1};
	struct ca ca = {0};
	struct mq_device *d;
	const char *reason = NULL, *passfile = NULL, *name;
	time_t now = time(NULL);
	size_t n = 0;
	int c, rc = CLI_FAIL;

	optind = 0;
	while ((c = cli_getopt(argc, argv, "", opts, NULL)) != -1) {
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
	if (cli_one_operand(ctx, argc, argv, "device NAME"))
		return CLI_USAGE;
	name = argv[optind];
	if (!cli_name_ok("device", name))
		return CLI_FAIL;
	if (reason) {
		for (const char *p = reason; *p; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				cli_err("invalid --reason: control characters are not allowed");
				return CLI_FAIL;
			}
		}
		if (!*reason || strlen(reason) > REVOKE_REASON_MAX) {
			cli_err("invalid --reason: use 1-%d characters", REVOKE_REASON_MAX);
			return CLI_FAIL;
		}
	}
	if (store_open(&st, ctx->dir, STORE_WRITE) || store_load_policy(&st))
		goto out;
	d = mq_policy_find_device(st.policy, name);
	if (!d) {
		cli_err("no device '%s' in %s; see 'mqadmin device list'", name, st.dir);
		goto out;
	}
	/* Load the CA before changing anything: without it no CRL. */
	if (ca_load(&ca, &st, passfile))
		goto out;
	for (size_t i = 0; i < d->ncerts; i++) {
		struct mq_cert *cert = d->certs[i];

		if (cert->status == MQ_CERT_REVOKED)
			continue;
		if (reason && !(cert->revoke_reason = strdup(reason))) {
			cli_err("out of memory");
			goto out;
		}
		cert->status = MQ_CERT_REVOKED;
		cert->revoked_at = now;
		n++;
	}
	if (n == 0) {
		cli_err("device '%s' is already revoked", name);
		goto out;
	}
	if (store_save_policy(&st))
		goto out;
	/* The policy is what the plugin enforces; a CRL failure is reported
	 * but the revocation stands. 'mqadmin crl' re-signs it. */
	if (crl_write(&st, &ca, CRL_DEFAULT_DAYS)) {
		cli_err("device '%s' is revoked in the policy, but crl.pem was not updated: run 'mqadmin crl'",
			name);
		goto out;
	}
	printf("revoked %zu certificate%s of device '%s'; %s/crl.pem updated\n", n, n == 1 ? "" : "s",
	       name, st.dir);
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
out:
	ca_release(&ca);
	if (st.dir)
		store_close(&st);
	return rc;
}
