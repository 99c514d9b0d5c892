/* Device certificates: building one for a policy device and recording it.
 * Shared by device issue and device renew. */
#ifndef ADMIN_DEVICE_H
#define ADMIN_DEVICE_H

#include "ca.h"
#include "export.h"
#include "store.h"
#include "mq_policy.h"

#define DEVICE_DEFAULT_DAYS 365

/* Where a device's public key comes from: a fresh key or a CSR. */
struct device_key {
	EVP_PKEY *key;  /* fresh key (we write it), or NULL */
	X509_REQ *csr;  /* verified CSR, or NULL */
	EVP_PKEY *pub;  /* the key to certify (borrowed from one of the above) */
};

/* Generates a key of type t (from gen when not NULL), or loads and
 * verifies the CSR at csr_path (PEM or DER) when it is not NULL. 0 or -1
 * after printing why. */
int device_key_get(struct device_key *dk, enum ca_keytype t, struct ca_keygen *gen,
		   const char *csr_path);
void device_key_release(struct device_key *dk);

/* The DNS, email and URI SANs csr requests, checked like --san, as a
 * malloc'd comma separated list in *sans (NULL when none). Any other SAN
 * type or a value --san would refuse is an error. 0, or -1 after printing
 * why and that --san overrides the CSR. */
int device_csr_san(X509_REQ *csr, const char *csr_path, char **sans);
/* Whether csr requests any subjectAltName. */
bool device_csr_has_san(X509_REQ *csr);

/* Issues a clientAuth certificate for d (CN = name, one OU per group, the
 * SANs of the checked comma separated list san unless NULL) valid for days
 * and records it in p as an active certificate with its SANs. The
 * certificate (new reference) in *out, its PEM (malloc'd) in *pem. 0 or -1
 * after printing why. */
int device_certify(struct mq_policy *p, struct mq_device *d, const struct ca *ca,
		   EVP_PKEY *pub, const char *san, int days, X509 **out, char **pem,
		   size_t *pemlen);

/* One new device: what device issue and device batch ask for. */
struct device_issue_req {
	const char *name;
	const char *username;  /* NULL: the name */
	char *const *groups;
	size_t ngroups;
	enum ca_keytype type;
	struct ca_keygen *gen; /* makes keys of type; NULL: a one-off key */
	const char *csr;       /* NULL: mqadmin makes the key */
	const char *san;       /* checked SAN list (issue_add_device_san); NULL: the
				* CSR's SANs, if any (device_csr_san) */
	int days;
	const struct export_opts *ex;
};

/* The files of a device's new certificate (device_files_write), for
 * printing and for undoing. */
struct device_issued {
	char *dir, *crt, *key, *cacrt; /* key NULL with a CSR; cacrt NULL when not written */
	char *crt_new, *key_new;       /* staged: written beside the files in use */
	char *old_key;                 /* staged with a CSR: the key file commit removes */
	bool staged, made_dir;
	struct export_files ex;
};

/* The one way a device's certificate reaches its files, for issue, batch
 * and renew: writes into devices/NAME/ (created when missing) the key (when
 * key is not NULL; otherwise a key file there is the replaced one and goes),
 * the certificate pem, ca.crt (always when issuing; when renewing only if
 * missing) and the formats of ex. stage (renew) writes the key, the
 * certificate and the formats beside the files in use (".new"), for
 * device_files_commit once the policy is saved. 0, or -1 after printing why
 * with what was written removed. */
int device_files_write(struct store *st, const struct ca *ca, const char *name, EVP_PKEY *key,
		       X509 *cert, const char *pem, size_t pemlen, const struct export_opts *ex,
		       bool stage, struct device_issued *o);
/* Moves staged files into place, removes the replaced key (CSR) and the
 * derived files of formats no longer asked for. 0 or -1 after printing why. */
int device_files_commit(struct device_issued *o, const char *name, unsigned formats);

/* Adds the device to st->policy, certifies it with ca (loaded by ca_load)
 * and writes its files into devices/NAME/ (the caller saves the policy). On failure the device is
 * taken out of the policy again, its files are removed, and -1 is returned
 * after printing why. */
int device_issue_one(struct store *st, const struct ca *ca, const struct device_issue_req *r,
		     struct device_issued *out);
/* Prints the paths written, one a line, then the p12 passphrase if one was
 * generated. */
void device_issued_print(const struct device_issued *o);
/* Removes the files (when the policy could not be saved). */
void device_issued_undo(struct device_issued *o);
void device_issued_release(struct device_issued *o);

#endif
