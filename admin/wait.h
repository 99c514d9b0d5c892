/* --wait: after a command committed a change to the policy store, wait
 * until every running broker using DIR has applied it (its state file in
 * DIR/audit reports "applied_seq" at or above the change's sequence). */
#ifndef ADMIN_WAIT_H
#define ADMIN_WAIT_H

#include <stdbool.h>
#include <stdint.h>

#define WAIT_DEFAULT_SECONDS 10
#define WAIT_MAX_SECONDS 3600

/* Takes --wait and --wait=SECONDS out of argv (before any "--"); *argc
 * shrinks. *secs: -1 when absent. 0, or -1 on a bad value (after saying so). */
int wait_take_option(int *argc, char **argv, long *secs);

/* Waits up to secs for every running broker of dir to report applied_seq
 * >= seq. 0 when all did (or none runs: said so), 1 when some did not in
 * time (named), -1 on an error reading DIR/audit. */
int wait_applied(const char *dir, uint64_t seq, long secs);

/* The lowest applied_seq of the running brokers of dir into *lowest: 1,
 * 0 when none runs, -1 on an error (the log trim's floor). */
int wait_lowest_applied(const char *dir, uint64_t *lowest);

#endif
