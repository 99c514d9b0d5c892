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

/* Whether a plugin state file (parsed) that says running belongs to a
 * broker on this host whose pid is gone (it crashed). */
struct cJSON;
bool wait_state_pid_gone(const struct cJSON *doc);

struct etcd;
/* The same across the fleet: waits up to secs for every live broker (a
 * key P brokers/INSTANCE under its sync's lease) to report applied_rev >=
 * rev (the etcd revision of the command's transaction). A broker seen
 * live that stops reporting before it applied rev (lease ended) is named
 * too; one whose key was already gone is not waited for. 0 when all did
 * (or none reports: said so), 1 when some did not (named), -1 when etcd
 * could not be read. */
int wait_fleet(struct etcd *e, const char *prefix, int64_t rev, long secs);
/* After a command that committed store sequence seq (0: nothing) with etcd
 * configured: wait_fleet for the revision of its etcd transaction. */
int wait_fleet_after(uint64_t seq, long secs);

#endif
