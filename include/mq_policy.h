/* The policy: allowlist of device certificates plus ACL rules. mqadmin
 * edits and writes it; the plugin only reads it. One model, one JSON form. */
#ifndef MQ_POLICY_H
#define MQ_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "mq_ident.h"
#include "mq_strmap.h"

#define MQ_POLICY_VERSION 1

/* A policy file larger than this is refused before it is read (about three
 * times the largest fleet measured, see docs/BENCHMARKS.md); reading one
 * takes at most about 5 times its size in memory (the text plus a parse
 * tree bounded to 4 times its size). */
#define MQ_POLICY_MAX_BYTES (128L * 1024 * 1024)

enum mq_cert_status {
	MQ_CERT_ACTIVE,
	MQ_CERT_REVOKED,
	/* Superseded (by a renewal, or taken out of use by hand): refused
	 * like a revoked one, but not a compromise. */
	MQ_CERT_RETIRED,
};

/* What a certificate is at a given time: stored status, its device's
 * status and its validity. Only MQ_STATE_ACTIVE admits a client. */
enum mq_cert_state {
	MQ_STATE_ACTIVE,
	MQ_STATE_REVOKED,
	MQ_STATE_EXPIRED,
	MQ_STATE_NOT_YET_VALID,
	MQ_STATE_RETIRED, /* retired, or past its retire_after deadline */
	MQ_STATE_SUSPENDED, /* the certificate is fine, its device suspended */
};

struct mq_device;

struct mq_cert {
	char serial[MQ_SERIAL_LEN];
	char fingerprint[MQ_FPR_LEN];
	time_t not_before;
	time_t not_after;
	enum mq_cert_status status;
	time_t revoked_at;    /* 0 unless revoked */
	char *revoke_reason;  /* NULL or text */
	time_t retired_at;    /* 0 unless retired */
	char *retire_reason;  /* NULL or text ("renewed", ...) */
	/* Rollover (mqadmin serve): a renewed device's previous certificate
	 * stops admitting it at this time even before serve records it
	 * retired; 0: no deadline. */
	time_t retire_after;
	/* The certificate's subjectAltNames in its order, comma separated
	 * ("DNS:a.example,email:a@example.com", see mq_san_check), or NULL:
	 * what plugin_opt_identity san-* takes (the first of its type). */
	char *san;
	struct mq_device *device;
};

struct mq_device {
	char *name;
	char *username;
	char **groups;
	size_t ngroups;
	struct mq_cert **certs;
	size_t ncerts;
	time_t created;
	/* "role": "service" -- an identity of mqadmin serve, which may read
	 * renewal requests and answer them; never a device's. */
	bool service;
	/* device set --renew-now: serve renews it whatever the window says
	 * (cleared by the renewal). */
	bool renew_now;
	time_t renewed_at; /* last renewal by serve (its rate limit); 0: none */
	/* Suspended: refused and dropped, kept out of the CRL, reversible. */
	bool suspended;
	time_t suspended_at; /* 0 unless suspended */
};

/* A device removed by 'device delete': out of the indexes (its
 * certificates admit nobody), kept so that its revoked serials stay in the
 * CRL and its name is not issued again by accident. */
struct mq_deleted {
	struct mq_device *device; /* not in by_name/by_username/by_fingerprint */
	time_t deleted_at;
	char *archive; /* where its files went, relative to DIR; NULL if none */
};

enum mq_subject_kind {
	MQ_SUBJ_DEVICE,
	MQ_SUBJ_GROUP,
	MQ_SUBJ_ALL,
};

enum mq_access {
	MQ_ACCESS_READ = 1,
	MQ_ACCESS_WRITE = 2,
	MQ_ACCESS_READWRITE = 3,
};

struct mq_rule {
	unsigned long id;
	enum mq_subject_kind kind;
	char *subject; /* device or group name; NULL for all */
	char *topic;   /* MQTT filter with %u, %c, ... placeholders */
	enum mq_access access;
	bool deny;
};

struct mq_policy {
	unsigned long generation; /* bumped by every mqadmin write */
	struct mq_device **devices;
	size_t ndevices;
	struct mq_rule **rules;
	size_t nrules;
	unsigned long next_rule_id;
	/* The number of the newest CRL signed (0: none yet), so that the next
	 * one is higher even when crl.pem is lost. */
	unsigned long crl_number;
	struct mq_deleted **deleted;
	size_t ndeleted;
	/* Indexes, always in step with the arrays above. */
	struct mq_strmap by_name;
	struct mq_strmap by_username;
	struct mq_strmap by_fingerprint;
};

struct mq_policy *mq_policy_new(void);
void mq_policy_free(struct mq_policy *p);

/* Reads and parses path. Same error convention; a missing file is reported
 * as such, a JSON error as "PATH:LINE:COLUMN: what". Only a regular file
 * (or a symbolic link to one) of at most MQ_POLICY_MAX_BYTES is read, and
 * nothing blocks: a FIFO at path is refused at once. */
struct mq_policy *mq_policy_load(const char *path, char *err, size_t errlen);

/* The JSON text (malloc'd, ends with a newline), or NULL when out of memory. */
char *mq_policy_serialize(const struct mq_policy *p);

struct mq_device *mq_policy_find_device(const struct mq_policy *p, const char *name);
struct mq_device *mq_policy_find_username(const struct mq_policy *p, const char *username);
struct mq_cert *mq_policy_find_fingerprint(const struct mq_policy *p, const char *fpr);
struct mq_rule *mq_policy_find_rule(const struct mq_policy *p, unsigned long id);

/* Adds a device with no certificates and no groups. Returns NULL and sets
 * err on a bad or taken name/username, or when out of memory. */
struct mq_device *mq_policy_add_device(struct mq_policy *p, const char *name,
				       const char *username, char *err, size_t errlen);
/* Replaces the device's groups with the given valid names. 0 or -1 + err. */
int mq_policy_set_groups(struct mq_device *d, char *const *groups, size_t n,
			 char *err, size_t errlen);
/* Changes the device's username, keeping the username index in step.
 * Refuses an invalid name or one another device uses. 0 or -1 + err. */
int mq_policy_set_username(struct mq_policy *p, struct mq_device *d, const char *username,
			   char *err, size_t errlen);
/* Copies tmpl (serial, fingerprint, validity, SANs) into a new active cert of d.
 * Refuses a fingerprint already in the policy. 0 or -1 + err. */
int mq_policy_add_cert(struct mq_policy *p, struct mq_device *d,
		       const struct mq_cert *tmpl, char *err, size_t errlen);
/* Removes the device and its certificates. */
void mq_policy_remove_device(struct mq_policy *p, struct mq_device *d);
/* Moves d out of the devices (and the indexes) into the deleted list, with
 * its certificates as they are (revoke them first) and archive (relative
 * to DIR, or NULL). 0 or -1 + err (out of memory: nothing changed). */
int mq_policy_delete_device(struct mq_policy *p, struct mq_device *d, time_t when,
			    const char *archive, char *err, size_t errlen);
/* The newest deleted record of name, or NULL. */
const struct mq_deleted *mq_policy_find_deleted(const struct mq_policy *p, const char *name);

/* Appends a rule, assigning the next id. Validates it. Returns the new rule
 * or NULL + err. */
struct mq_rule *mq_policy_add_rule(struct mq_policy *p, enum mq_subject_kind kind,
				   const char *subject, const char *topic,
				   enum mq_access access, bool deny, char *err, size_t errlen);
int mq_policy_remove_rule(struct mq_policy *p, unsigned long id);

enum mq_cert_state mq_cert_state(const struct mq_cert *c, time_t now);
const char *mq_cert_state_str(enum mq_cert_state s);
/* The certificate d is in use with at time now (what `expiring`, the
 * report and doctor judge it by): of those neither revoked nor retired at
 * now (a passed retire_after deadline counts as retired), the one with the
 * latest not_after (the first of equals); expired ones count. NULL: none. */
const struct mq_cert *mq_device_cert_in_use(const struct mq_device *d, time_t now);
bool mq_device_in_group(const struct mq_device *d, const char *group);

/* One record at a time: the store keeps each device object and each rule
 * object of policy.json as its own value (compact JSON, same members). */
/* The device object as compact JSON (malloc'd), or NULL when out of memory. */
char *mq_device_json(const struct mq_device *d);
/* The rule object as compact JSON (malloc'd), or NULL when out of memory. */
char *mq_rule_json(const struct mq_rule *r);
/* The "deleted" array as compact JSON ("[]" when empty), or NULL (OOM). */
char *mq_deleted_json(const struct mq_policy *p);
/* Parses one device object into p, indexed and validated as in a policy
 * file (a taken name, username or fingerprint is refused). 0 or -1 + err. */
int mq_policy_read_device_json(struct mq_policy *p, const char *buf, size_t len,
			       char *err, size_t errlen);
/* Parses one rule object into p, its id kept (uniqueness is the caller's:
 * the store's key). 0 or -1 + err. */
int mq_policy_read_rule_json(struct mq_policy *p, const char *buf, size_t len,
			     char *err, size_t errlen);
/* Parses a "deleted" array (mq_deleted_json's) into p's deleted list. */
int mq_policy_read_deleted_json(struct mq_policy *p, const char *buf, size_t len,
				char *err, size_t errlen);
/* One device object as a device of its own (in no policy; its certificates
 * point to it). NULL + err. Free with mq_device_free. */
struct mq_device *mq_device_parse(const char *buf, size_t len, char *err, size_t errlen);
void mq_device_free(struct mq_device *d);

const char *mq_rule_access_str(enum mq_access a);
int mq_rule_access_parse(const char *s, enum mq_access *out);


#endif
