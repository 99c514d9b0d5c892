/* DIR/crl.pem: every revoked serial in the policy, signed by the CA. */
#ifndef ADMIN_CRL_H
#define ADMIN_CRL_H

#include "ca.h"
#include "cli.h"
#include "store.h"

#define CRL_DEFAULT_DAYS 30

/* Re-signs DIR/crl.pem from st->policy, valid for days, with a CRL number
 * one above the previous file's. 0 or -1 after printing why. */
int crl_write(const struct store *st, const struct ca *ca, int days);

/* mqadmin crl [--days N] */
int crl_cmd(struct cli_ctx *ctx, int argc, char **argv);

#endif
