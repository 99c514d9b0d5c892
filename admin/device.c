#include "device.h"

#include "cli.h"
#include "issue.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#define DEVICE_CSR_MAX (64 * 1024)

static X509_REQ *device_read_csr(const char *path)
{
	BIO *b = BIO_new_file(path, "rb");
	X509_REQ *req = NULL;

	if (!b) {
		cli_err("cannot open CSR %s: %s", path, strerror(errno));
		return NULL;
	}
	req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	if (!req && BIO_reset(b) == 0)
		req = d2i_X509_REQ_bio(b, NULL);
	if (!req)
		cli_err("cannot read CSR %s: not a PEM or DER certificate request", path);
	BIO_free(b);
	ERR_clear_error();
	return req;
}

int device_key_get(struct device_key *dk, enum ca_keytype t, const char *csr_path)
{
	memset(dk, 0, sizeof(*dk));
	if (!csr_path) {
		dk->key = ca_keygen(t);
		dk->pub = dk->key;
		return dk->key ? 0 : -1;
	}
	dk->csr = device_read_csr(csr_path);
	if (!dk->csr)
		return -1;
	dk->pub = X509_REQ_get0_pubkey(dk->csr);
	if (!dk->pub) {
		cli_err("CSR %s holds no usable public key", csr_path);
		goto fail;
	}
	/* Proof of possession: whoever made the CSR holds the private key. */
	if (X509_REQ_verify(dk->csr, dk->pub) != 1) {
		cli_err("CSR %s: signature does not verify (corrupted or tampered with)", csr_path);
		goto fail;
	}
	if (ca_key_acceptable(dk->pub, "the CSR"))
		goto fail;
	ERR_clear_error();
	return 0;
fail:
	ERR_clear_error();
	device_key_release(dk);
	return -1;
}

void device_key_release(struct device_key *dk)
{
	EVP_PKEY_free(dk->key);
	X509_REQ_free(dk->csr);
	memset(dk, 0, sizeof(*dk));
}

int device_certify(struct mq_policy *p, struct mq_device *d, const struct ca *ca,
		   EVP_PKEY *pub, int days, X509 **out)
{
	struct ca_req req = {0};
	struct mq_cert rec;
	char err[256];
	time_t now = time(NULL);
	X509 *cert = NULL;

	req.profile = CA_PROFILE_DEVICE;
	req.cn = d->name;
	req.ou = d->groups;
	req.nou = d->ngroups;
	req.pub = pub;
	req.not_before = now - ISSUE_SKEW;
	req.not_after = now + (time_t)days * 86400;
	if (issue_check_expiry(ca, req.not_after) || !(cert = ca_issue(ca, &req)))
		return -1;
	memset(&rec, 0, sizeof(rec));
	if (mq_cert_fingerprint(cert, rec.fingerprint) || mq_cert_serial(cert, rec.serial) ||
	    mq_cert_validity(cert, &rec.not_before, &rec.not_after)) {
		cli_err("cannot read back the certificate issued for '%s'", d->name);
		goto fail;
	}
	rec.status = MQ_CERT_ACTIVE;
	if (mq_policy_add_cert(p, d, &rec, err, sizeof(err))) {
		cli_err("cannot record the certificate of '%s': %s", d->name, err);
		goto fail;
	}
	*out = cert;
	return 0;
fail:
	X509_free(cert);
	return -1;
}
