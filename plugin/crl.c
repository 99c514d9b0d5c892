/* The CA-signed CRL (DIR/crl.pem) as a second revocation list: a serial it
 * lists is refused whatever the policy says, so neither a restored backup
 * of the store nor a hand edit brings a revoked certificate back. It is
 * read on the broker thread (it is small) when its file or the CA's
 * changes, or when the store logs a 'C' change, verified against the CA
 * certificate, and kept as a hash set of serials: one lookup per CONNECT,
 * none per message. */
#include "mqcert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "mq_fileio.h"
#include "mq_strmap.h"

/* Room for a CRL of over a million entries (docs/BENCHMARKS.md). */
#define CRL_FILE_MAX ((size_t)64 << 20)

struct mqcrl {
	struct mq_strmap serials; /* keys point into keys */
	char *keys;               /* n serials of MQ_SERIAL_LEN */
	size_t n;
	long number; /* crlNumber; -1: none */
};

void mqcrl_free(struct mqcrl *c)
{
	if (!c)
		return;
	mq_strmap_release(&c->serials);
	free(c->keys);
	free(c);
}

static X509 *crl_read_ca(const char *path, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len;
	BIO *b;
	X509 *ca = NULL;

	if (mq_file_read_regular(path, 1 << 20, &buf, &len, err, errlen))
		return NULL;
	b = BIO_new_mem_buf(buf, (int)len);
	if (b)
		ca = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (!ca)
		snprintf(err, errlen, "%s holds no PEM certificate", path);
	BIO_free(b);
	free(buf);
	return ca;
}

static int crl_index(struct mqcrl *c, const X509_CRL *crl, char *err, size_t errlen)
{
	STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED((X509_CRL *)crl);
	int n = rev ? sk_X509_REVOKED_num(rev) : 0;

	mq_strmap_init(&c->serials);
	if (n > 0 && (!(c->keys = calloc((size_t)n, MQ_SERIAL_LEN)) ||
		      mq_strmap_reserve(&c->serials, (size_t)n))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char *k = c->keys + c->n * MQ_SERIAL_LEN;

		if (mq_x509_serial_hex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(rev, i)), k))
			continue; /* longer than any serial a certificate of ours has */
		if (mq_strmap_put(&c->serials, k, c)) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		c->n++;
	}
	return 0;
}

int mqcrl_load(const char *crl_path, const char *ca_path, struct mqcrl **out, char *err,
	       size_t errlen)
{
	char *buf = NULL;
	size_t len;
	BIO *b = NULL;
	X509_CRL *crl = NULL;
	X509 *ca = NULL;
	EVP_PKEY *key;
	ASN1_INTEGER *num = NULL;
	struct mqcrl *c = NULL;
	int rc = -1;

	*out = NULL;
	if (!crl_path)
		return 0;
	if (mq_file_read_regular(crl_path, CRL_FILE_MAX, &buf, &len, err, errlen)) {
		if (errno == ENOENT) {
			err[0] = '\0';
			rc = 0;
		}
		goto out;
	}
	if (!(b = BIO_new_mem_buf(buf, (int)len)) ||
	    !(crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL))) {
		snprintf(err, errlen, "%s holds no PEM CRL", crl_path);
		goto out;
	}
	if (!(ca = crl_read_ca(ca_path, err, errlen)))
		goto out;
	key = X509_get0_pubkey(ca);
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca))) {
		snprintf(err, errlen, "%s was not issued by the CA of %s", crl_path, ca_path);
		goto out;
	}
	if (!key || X509_CRL_verify(crl, key) != 1) {
		snprintf(err, errlen, "the signature of %s does not verify with the CA key of %s",
			 crl_path, ca_path);
		goto out;
	}
	if (!(c = calloc(1, sizeof(*c)))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	c->number = num ? ASN1_INTEGER_get(num) : -1;
	if (crl_index(c, crl, err, errlen))
		goto out;
	*out = c;
	c = NULL;
	rc = 0;
out:
	ERR_clear_error();
	ASN1_INTEGER_free(num);
	mqcrl_free(c);
	X509_free(ca);
	X509_CRL_free(crl);
	BIO_free(b);
	free(buf);
	return rc;
}

bool mqcrl_lists(const struct mqcrl *c, const char *serial)
{
	return c && c->n && mq_strmap_get(&c->serials, serial);
}

long mqcrl_number(const struct mqcrl *c)
{
	return c ? c->number : -1;
}

size_t mqcrl_count(const struct mqcrl *c)
{
	return c ? c->n : 0;
}

/* ---- change detection (broker thread) ------------------------------------ */

bool mqcrl_changed(struct mqcert *st)
{
	struct mq_file_sig crl, ca;
	bool changed;

	if (!st->opt.crl_path)
		return false;
	mq_file_sig_get(st->opt.crl_path, &crl);
	mq_file_sig_get(st->opt.ca_path, &ca);
	changed = !mq_file_sig_same(&crl, &st->crl_seen) || !mq_file_sig_same(&ca, &st->ca_seen);
	st->crl_seen = crl;
	st->ca_seen = ca;
	return changed;
}

/* Which CRL is in force after a re-read: the new one, or the current one
 * when the new one cannot be verified, is missing, or is older (a lower
 * CRL number: a restored backup). */
bool mqcrl_reload(struct mqcert *st)
{
	struct mqcrl *prev = st->crl, *c = NULL;
	char err[384] = "";

	if (mqcrl_load(st->opt.crl_path, st->opt.ca_path, &c, err, sizeof(err)) && !err[0])
		snprintf(err, sizeof(err), "unknown error");
	if (err[0] || (!c && prev)) {
		if (err[0])
			mqlog(MOSQ_LOG_ERR, "CRL refused: %s; %s", err, prev ?
			      "keeping the last verified CRL" : "no CRL is enforced until it verifies");
		else
			mqlog(MOSQ_LOG_WARNING, "CRL %s is gone; keeping the last verified CRL "
			      "(number %ld, %zu serials)", st->opt.crl_path, mqcrl_number(prev),
			      mqcrl_count(prev));
		mqcrl_free(c);
		return false;
	}
	if (!c)
		return false;
	if (prev && c->number < prev->number) {
		mqlog(MOSQ_LOG_ERR, "CRL refused: %s has CRL number %ld, older than the %ld in use "
		      "(a restored backup?); keeping the newer one: run 'mqadmin crl' to re-sign it",
		      st->opt.crl_path, c->number, prev->number);
		mqcrl_free(c);
		return false;
	}
	if (prev && prev->number == c->number && prev->n == c->n) {
		mqcrl_free(c);
		return false;
	}
	mqlog(MOSQ_LOG_NOTICE, "CRL %s number %ld loaded (%zu revoked serials)",
	      st->opt.crl_path, c->number, c->n);
	st->crl = c;
	mqcrl_free(prev);
	return true;
}
