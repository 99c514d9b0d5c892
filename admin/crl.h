/* DIR/crl.pem: every revoked or retired serial in the policy (deleted
 * devices' included), signed by the CA. */
#ifndef ADMIN_CRL_H
#define ADMIN_CRL_H

#include "ca.h"
#include "cli.h"
#include "store.h"

#define CRL_DEFAULT_DAYS 30

/* Raises st->policy->crl_number above both its own value and the number
 * of the current crl.pem; save the policy before crl_write uses it. */
void crl_reserve_number(const struct store *st);

/* Re-signs DIR/crl.pem from st->policy, valid for days, numbered
 * st->policy->crl_number (raised above crl.pem's own number when it is
 * not already: the caller saves the policy then, as init does). 0 or -1
 * after printing why; a failed directory fsync after the rename is a
 * success with a warning. */
int crl_write(struct store *st, const struct ca *ca, int days);
/* After a command's commit: when crl.pem's number is below the one the
 * store reserved (a revocation killed between its commit and its CRL),
 * re-signs it. Never fails the command: a warning says what to run. */
void crl_catch_up(struct store *st, const struct ca *ca);

/* The nextUpdate and number of DIR/crl.pem: 0, 1 when there is no
 * crl.pem, -1 after printing why it cannot be read. */
int crl_read_next_update(const struct store *st, time_t *next, long *number);

/* mqadmin crl update [--days N] [--passphrase-file FILE]; plain
 * "mqadmin crl" is the same command. */
int crl_cmd(struct cli_ctx *ctx, int argc, char **argv);

#endif
