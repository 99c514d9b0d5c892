/* Revoking a certificate: the steps device revoke, cert revoke and device
 * delete share (revoke.c). */
#ifndef ADMIN_REVOKE_H
#define ADMIN_REVOKE_H

#include "mq_policy.h"
#include "store.h"

#include <stdbool.h>
#include <time.h>

/* A --reason (NULL: none) of 1-200 printable characters; else says why. */
bool revoke_reason_ok(const char *reason);
/* Marks cert revoked at now with reason (NULL: none). 0 or -1 (out of memory). */
int revoke_cert(struct mq_cert *cert, const char *reason, time_t now);
/* Saves st's policy with a new CRL number, then re-signs crl.pem. -1 when
 * the policy was not saved (nothing changed), 0 when both were done, 1
 * when only the policy was (warning printed, naming what, e.g. "device
 * 'x'": it is revoked all the same and 'crl update' is to be run). */
int revoke_commit(struct store *st, const char *passfile, const char *what);

#endif
