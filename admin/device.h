/* Device certificates: building one for a policy device and recording it.
 * Shared by device issue and device renew. */
#ifndef ADMIN_DEVICE_H
#define ADMIN_DEVICE_H

#include "ca.h"
#include "mq_policy.h"

#define DEVICE_DEFAULT_DAYS 365

/* Where a device's public key comes from: a fresh key or a CSR. */
struct device_key {
	EVP_PKEY *key;  /* fresh key (we write it), or NULL */
	X509_REQ *csr;  /* verified CSR, or NULL */
	EVP_PKEY *pub;  /* the key to certify (borrowed from one of the above) */
};

/* Generates a key of type t, or loads and verifies the CSR at csr_path
 * (PEM or DER) when it is not NULL. 0 or -1 after printing why. */
int device_key_get(struct device_key *dk, enum ca_keytype t, const char *csr_path);
void device_key_release(struct device_key *dk);

/* Issues a clientAuth certificate for d (CN = name, one OU per group) valid
 * for days and records it in p as an active certificate. The certificate
 * (new reference) in *out. 0 or -1 after printing why. */
int device_certify(struct mq_policy *p, struct mq_device *d, const struct ca *ca,
		   EVP_PKEY *pub, int days, X509 **out);

#endif
