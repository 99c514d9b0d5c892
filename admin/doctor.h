/* mqadmin doctor: checks a PKI directory (and a mosquitto.conf) and
 * collects findings, each with what is wrong and how to fix it.
 * doctor_pki.c checks DIR, doctor_conf.c the broker configuration,
 * doctor.c holds the findings and the broker user's file access. */
#ifndef ADMIN_DOCTOR_H
#define ADMIN_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/x509.h>

#include "mq_policy.h"

#define DOCTOR_DEFAULT_WITHIN "30d" /* certificates expiring sooner are flagged */
#define DOCTOR_CRL_WITHIN 7      /* days before a CRL's nextUpdate to warn */

enum doctor_sev {
	DOCTOR_ERROR,
	DOCTOR_WARNING,
};

struct doctor_finding {
	enum doctor_sev sev;
	const char *check; /* stable id, e.g. "server-no-san" */
	char *what;
	char *fix;
};

/* The user the broker runs as (--broker-user; for "can mosquitto read this?"). */
struct doctor_user {
	const char *name;
	bool known;
	uid_t uid;
	gid_t gid;
	gid_t groups[64];
	int ngroups;
};

struct doctor_server {
	char *name;
	char *crt, *key; /* paths */
	X509 *cert;
	bool used;       /* a certfile in the config is this certificate */
};

struct doctor {
	const char *dir;          /* DIR as given */
	const char *config;       /* --config FILE or NULL */
	char *const *hosts;       /* --host values */
	size_t nhosts;
	long within_secs;         /* --within: expiring sooner is flagged */
	const char *within_text;  /* --within as given ("30d"), for messages */
	time_t now;
	struct doctor_user user;

	X509 *ca;                 /* DIR/ca.crt, or NULL */
	struct mq_policy *policy; /* NULL when it cannot be loaded */
	struct doctor_server *servers;
	size_t nservers;
	bool config_read;         /* the config was parsed (server "used" flags mean something) */

	struct doctor_finding *findings;
	size_t nfindings;
	bool oom;

	/* What was looked at, for the summary. */
	size_t ndevices, nlisteners;
	bool has_crl;
};

/* Records a finding; fix may be NULL. */
void doctor_add(struct doctor *d, enum doctor_sev sev, const char *check, const char *fix,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Looks up the broker user; d->user.known is false when there is none. */
void doctor_user_init(struct doctor_user *u, const char *name);

/* Whether the broker user can read path (walking every directory on the
 * way). On false, why says what stops it and blocker (PATH_MAX bytes)
 * holds the directory that does, or "" when it is the file itself.
 * Always true when the user is unknown. */
bool doctor_user_can_read(const struct doctor *d, const char *path, char *why, size_t len,
			  char *blocker);

/* Whether the broker user can create files in directory path. False when
 * the user is unknown. */
bool doctor_user_can_write_dir(const struct doctor *d, const char *path);

/* Whether the broker user can write the existing file path (its own mode
 * only). False when the user is unknown. */
bool doctor_user_can_write_file(const struct doctor *d, const char *path);

/* Flags a private key file readable by group or others. A group that is
 * the broker user's own may read a server key (group_ok). */
void doctor_check_key_mode(struct doctor *d, const char *path, bool group_ok);

/* Expiry, key strength and signature of one certificate; what names it
 * ("the CA", "server 'b'"), path is its file. */
void doctor_check_cert(struct doctor *d, X509 *cert, const char *what, const char *path,
		       const char *renew_fix);

/* Checks the CRL at path (nextUpdate, issuer); label names its origin. */
void doctor_check_crl(struct doctor *d, const char *path, const char *label);

/* DIR: CA, servers, devices, policy, crl.pem. */
void doctor_check_pki(struct doctor *d);
/* The broker configuration d->config. */
void doctor_check_conf(struct doctor *d);
/* What depends on which server the broker uses: --host SANs, key access,
 * policy access. Run after doctor_check_conf. */
void doctor_check_broker_access(struct doctor *d);

void doctor_release(struct doctor *d);

#endif
