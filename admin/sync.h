/* mqadmin sync: keeps one broker's local policy store in step with the
 * fleet's policy in etcd (watch from the revision it applied, full resync
 * after a compaction), installs the fleet's CA-signed CRL, and reports
 * under a lease what its broker applied (P brokers/INSTANCE) and who is
 * connected to it (P connected/INSTANCE/CLIENT). */
#ifndef ADMIN_SYNC_H
#define ADMIN_SYNC_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>


#define SYNC_LEASE_TTL 10 /* seconds; keepalive every third of it */

struct sync_opts {
	const char *dir;
	const char *instance;     /* NULL: the one plugin state file in DIR/audit */
	const char *metrics_path; /* Prometheus textfile, or NULL */
	long lease_ttl;
};

/* Runs until *stop is set (SIGTERM/SIGINT). 0 on a clean exit, -1 when it
 * could not start (said why). */
int sync_run(const struct sync_opts *o, volatile sig_atomic_t *stop);

/* The instance name of the one broker whose state file is in dir/audit
 * (connected-INSTANCE.json), into out. 0, or -1 after saying why (none,
 * or several: --instance). */
int sync_default_instance(const char *dir, char *out, size_t len);

/* DIR/audit/sync-INSTANCE.json, as the sync wrote it. */
struct sync_status {
	bool present;
	bool up;
	char down_since[32];
	uint64_t applied_rev;
	char updated[32];
};
/* Reads instance's status file; present false when there is none. */
void sync_status_read(const char *dir, const char *instance, struct sync_status *s);
/* Every status file of dir/audit (sync-INSTANCE.json), in directory
 * order: cb(arg, instance, status) for each (audit, report). */
void sync_statuses_each(const char *dir,
			void (*cb)(void *arg, const char *instance, const struct sync_status *s),
			void *arg);

#endif
