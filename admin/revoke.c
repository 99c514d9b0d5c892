/* Revoking (revoke.h): the steps device revoke, cert revoke and device
 * delete share. The policy first (what the plugin enforces live), then the
 * CRL (defence in depth for brokers that read crlfile). Revocation is an
 * emergency: it never waits for the CA key. When the CRL cannot be
 * re-signed (encrypted CA key and no passphrase at hand, a wrong one, no
 * terminal) the certificate is revoked all the same, exit 0, and the
 * warning says to run 'mqadmin crl update'. */
#include "revoke.h"

#include "ca.h"
#include "cli.h"
#include "crl.h"
#include "out.h"

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
