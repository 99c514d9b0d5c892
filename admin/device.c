/* Device certificates (device.h): a key or a CSR, the signed certificate,
 * its record in the policy and the files written for it; what device issue,
 * device renew and device batch share. */
#include "device.h"

#include "cli.h"
#include "issue.h"
#include "mq_fileio.h"
#include "mq_x509.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

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

int device_key_get(struct device_key *dk, enum ca_keytype t, struct ca_keygen *gen,
		   const char *csr_path)
{
	memset(dk, 0, sizeof(*dk));
	if (!csr_path) {
		dk->key = gen ? ca_keygen_next(gen) : ca_keygen(t);
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

int device_csr_san(X509_REQ *csr, const char *csr_path, char **sans)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
	int crit = -1, rc = -1;
	GENERAL_NAMES *names = exts ? X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL) : NULL;
	char what[PATH_MAX + 32];

	*sans = NULL;
	if (!names && crit != -1) {
		cli_err("%s: its subjectAltName request is malformed or repeated: give the device's "
			"SANs with --san (the CSR's are then ignored)", csr_path);
		goto out;
	}
	snprintf(what, sizeof(what), "SAN requested by %s", csr_path);
	for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		const char *type = gn->type == GEN_DNS ? "DNS:" : gn->type == GEN_EMAIL ? "email:"
				 : gn->type == GEN_URI ? "URI:" : NULL;
		const ASN1_STRING *v = gn->d.ia5;
		const char *data = (const char *)ASN1_STRING_get0_data(v);
		int len = ASN1_STRING_length(v);
		char *arg = NULL;
		int bad;

		if (!type) {
			cli_err("%s requests a SAN that is not DNS:, email: or URI: (IP or other): "
				"give the device's SANs with --san (the CSR's are then ignored)", csr_path);
			goto out;
		}
		/* An embedded NUL would shorten the value the checks see. */
		if (memchr(data, '\0', (size_t)len)) {
			cli_err("%s requests a SAN with a NUL byte: give the device's SANs with --san",
				csr_path);
			goto out;
		}
		if (asprintf(&arg, "%s%.*s", type, len, data) < 0) {
			cli_err("out of memory");
			goto out;
		}
		bad = issue_add_device_san(sans, arg, what);
		free(arg);
		if (bad) {
			cli_err("give the device's SANs with --san (the CSR's are then ignored)");
			goto out;
		}
	}
	rc = 0;
out:
	if (rc) {
		free(*sans);
		*sans = NULL;
	}
	GENERAL_NAMES_free(names);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	return rc;
}

bool device_csr_has_san(X509_REQ *csr)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
	bool has = exts && X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1) >= 0;

	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	return has;
}

int device_certify(struct mq_policy *p, struct mq_device *d, const struct ca *ca,
		   EVP_PKEY *pub, const char *san, int days, X509 **out, char **pem,
		   size_t *pemlen)
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
	req.san = san;
	req.not_before = now - ISSUE_SKEW;
	req.not_after = now + (time_t)days * 86400;
	if (issue_check_expiry(ca, req.not_after) || !(cert = ca_issue(ca, &req)))
		return -1;
	memset(&rec, 0, sizeof(rec));
	*pem = NULL;
	if (ca_cert_pem_fpr(cert, pem, pemlen, rec.fingerprint))
		goto fail;
	if (mq_x509_serial(cert, rec.serial) ||
	    mq_x509_validity(cert, &rec.not_before, &rec.not_after)) {
		cli_err("cannot read back the certificate issued for '%s'", d->name);
		goto fail;
	}
	rec.status = MQ_CERT_ACTIVE;
	rec.san = (char *)san;
	if (mq_policy_add_cert(p, d, &rec, err, sizeof(err))) {
		cli_err("cannot record the certificate of '%s': %s", d->name, err);
		goto fail;
	}
	*out = cert;
	return 0;
fail:
	free(*pem);
	*pem = NULL;
	X509_free(cert);
	return -1;
}

int device_files_write(struct store *st, const struct ca *ca, const char *name, EVP_PKEY *key,
		       X509 *cert, const char *pem, size_t pemlen, const struct export_opts *ex,
		       bool stage, struct device_issued *o)
{
	const char *sfx = stage ? ".new" : "";
	char *sub = NULL, *cacrt = NULL;
	bool made_top = false;
	int rc = -1;

	memset(o, 0, sizeof(*o));
	o->staged = stage;
	o->dir = store_path(st, "devices/%s", name);
	o->crt = store_path(st, "devices/%s/%s.crt", name, name);
	o->key = store_path(st, "devices/%s/%s.key", name, name);
	cacrt = store_path(st, "devices/%s/ca.crt", name);
	if (stage) {
		o->crt_new = store_path(st, "devices/%s/%s.crt.new", name, name);
		o->key_new = store_path(st, "devices/%s/%s.key.new", name, name);
	}
	if (!o->dir || !o->crt || !o->key || !cacrt || (stage && (!o->crt_new || !o->key_new)) ||
	    asprintf(&sub, "devices/%s", name) < 0) {
		cli_err("out of memory");
		goto out;
	}
	/* A CSR's device keeps its key: a key file beside the new certificate
	 * would be the replaced one (removed now, or at commit when staged). */
	if (!key) {
		if (stage) {
			o->old_key = o->key;
		} else {
			unlink(o->key);
			free(o->key);
		}
		o->key = NULL;
	}
	if (store_mkdir(st, "devices", &made_top) || store_mkdir(st, sub, &o->made_dir))
		goto out;
	if (key && issue_write_key(stage ? o->key_new : o->key, key, cert))
		goto out;
	if (issue_write(stage ? o->crt_new : o->crt, pem, pemlen, 0644))
		goto out;
	/* The CA's certificate is the same for every certificate of the
	 * device: written when issuing, or when a renewal finds it missing. */
	if (!stage || access(cacrt, F_OK)) {
		o->cacrt = cacrt;
		cacrt = NULL;
		if (issue_write(o->cacrt, ca->cert_pem, ca->cert_pem_len, 0644))
			goto out;
	}
	if (export_write(ex, o->dir, name, cert, ca->cert, key, sfx, &o->ex))
		goto out;
	rc = 0;
out:
	if (rc) {
		device_issued_undo(o);
		device_issued_release(o);
	}
	free(cacrt);
	free(sub);
	return rc;
}

int device_files_commit(struct device_issued *o, const char *name, unsigned formats)
{
	if ((o->key ? rename(o->key_new, o->key) : o->old_key && unlink(o->old_key) && errno != ENOENT) ||
	    rename(o->crt_new, o->crt)) {
		cli_err("certificate recorded, but cannot move %s into place: %s; rename it by hand",
			o->crt_new, strerror(errno));
		return -1;
	}
	mq_file_sync_dir(o->crt);
	if (export_commit(&o->ex))
		return -1;
	export_remove_stale(o->dir, name, formats);
	return 0;
}

int device_issue_one(struct store *st, const struct ca *ca, const struct device_issue_req *r,
		     struct device_issued *o)
{
	struct device_key dk = {0};
	struct mq_device *d;
	X509 *cert = NULL;
	char err[256], *pem = NULL, *csr_san = NULL;
	size_t pemlen = 0;
	int rc = -1;

	memset(o, 0, sizeof(*o));
	if (mq_policy_find_device(st->policy, r->name)) {
		cli_err("device '%s' already exists; use 'mqadmin device renew %s'", r->name, r->name);
		return -1;
	}
	d = mq_policy_add_device(st->policy, r->name, r->username, err, sizeof(err));
	if (!d) {
		cli_err("%s", err);
		return -1;
	}
	if (mq_policy_set_groups(d, r->groups, r->ngroups, err, sizeof(err))) {
		cli_err("%s", err);
		goto out;
	}
	d->created = time(NULL);
	if (device_key_get(&dk, r->type, r->gen, r->csr))
		goto out;
	/* A CSR's DNS/email/URI SANs are honoured unless --san chose them. */
	if (dk.csr && !r->san) {
		if (device_csr_san(dk.csr, r->csr, &csr_san))
			goto out;
		if (csr_san)
			cli_err("note: %s: the certificate carries the CSR's SANs %s (--san replaces them)",
				r->name, csr_san);
	} else if (dk.csr && device_csr_has_san(dk.csr)) {
		cli_err("note: %s: the CSR's SANs are ignored; the certificate carries --san's", r->name);
	}
	if (device_certify(st->policy, d, ca, dk.pub, r->san ? r->san : csr_san, r->days, &cert,
			   &pem, &pemlen))
		goto out;
	if (device_files_write(st, ca, r->name, dk.key, cert, pem, pemlen, r->ex, false, o))
		goto out;
	rc = 0;
out:
	/* device_files_write removed its files when it failed. */
	if (rc) {
		d = mq_policy_find_device(st->policy, r->name);
		if (d)
			mq_policy_remove_device(st->policy, d);
	}
	X509_free(cert);
	free(pem);
	device_key_release(&dk);
	free(csr_san);
	return rc;
}

void device_issued_print(const struct device_issued *o)
{
	printf("%s\n", o->crt);
	if (o->key)
		printf("%s\n", o->key);
	if (o->cacrt)
		printf("%s\n", o->cacrt);
	for (size_t i = 0; i < o->ex.n; i++)
		printf("%s\n", o->ex.final[i]);
	if (o->ex.pass[0])
		printf("p12 passphrase (shown once, not stored): %s\n", o->ex.pass);
}

void device_issued_undo(struct device_issued *o)
{
	/* Staged: the files in use stay, only the new ones go. */
	const char *key = o->staged ? o->key_new : o->key, *crt = o->staged ? o->crt_new : o->crt;

	export_unlink(&o->ex);
	if (key)
		unlink(key);
	if (crt)
		unlink(crt);
	if (o->cacrt)
		unlink(o->cacrt);
	if (o->made_dir && o->dir)
		rmdir(o->dir);
}

void device_issued_release(struct device_issued *o)
{
	export_release(&o->ex);
	free(o->dir);
	free(o->crt);
	free(o->key);
	free(o->cacrt);
	free(o->crt_new);
	free(o->key_new);
	free(o->old_key);
	o->dir = o->crt = o->key = o->cacrt = o->crt_new = o->key_new = o->old_key = NULL;
}
