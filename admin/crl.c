/* DIR/crl.pem (crl.h): the CRL the CA signs over every revoked or retired
 * serial in the policy (deleted devices' included), its number kept above
 * every earlier one, written atomically (and published to etcd with a
 * fleet); and the `crl update` command. */
#include "crl.h"
#include "cmds.h"

#include "mq_err.h"
#include "mq_fileio.h"
#include "out.h"
#include "xinfo.h"

#include <errno.h>
#include <unistd.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* The RFC 5280 reason code for the text given to `device revoke --reason`
 * (or `cert revoke`, `device delete`) when it names one; 0 (unspecified)
 * otherwise. */
static int crl_reason_code(const char *text)
{
	static const struct {
		const char *name;
		int code;
	} map[] = {
		{"keyCompromise", 1}, {"key-compromise", 1}, {"compromised", 1},
		{"cACompromise", 2}, {"affiliationChanged", 3}, {"superseded", 4},
		{"cessationOfOperation", 5}, {"decommissioned", 5}, {"retired", 5},
		{"deleted", 5}, {"renewed", 4},
		{"privilegeWithdrawn", 9},
	};

	for (size_t i = 0; text && i < sizeof(map) / sizeof(*map); i++)
		if (!strcasecmp(text, map[i].name))
			return map[i].code;
	return 0;
}

/* A TBSCertList's DER: its contents and, inside them, where crlExtensions
 * ([0]) start (the contents' end when absent). Walks the headers only: a
 * CRL of 30,000 entries takes microseconds, not a full parse's tens of
 * milliseconds. 0 or -1. */
static int crl_tbs_body(const unsigned char *der, long len, const unsigned char **body,
			long *bodylen, const unsigned char **exts)
{
	const unsigned char *p = der, *end;
	long n;
	int tag, cls;

	if ((ASN1_get_object(&p, &n, &tag, &cls, len) & 0x80) || tag != V_ASN1_SEQUENCE)
		return -1;
	*body = p;
	*bodylen = n;
	end = p + n;
	while (p < end) {
		const unsigned char *at = p;

		if (ASN1_get_object(&p, &n, &tag, &cls, end - p) & 0x80)
			return -1;
		if (cls == V_ASN1_CONTEXT_SPECIFIC && tag == 0) {
			*exts = at;
			return 0;
		}
		p += n;
	}
	*exts = end;
	return 0;
}

/* A CRL's PEM body, whitespace removed, decoded piecewise: the CRL number
 * is in crlExtensions, after every entry, and decoding the 1.8 MB of a
 * 30,000-entry CRL to read it cost more than the rest of a revoke. */
struct crl_b64 {
	char *text;
	size_t n; /* base64 characters */
	unsigned char buf[512];
};

/* The decoded bytes [off, off + len) into x->buf (len <= 384): a pointer
 * to them, or NULL when the body is shorter or not base64. */
static const unsigned char *crl_b64_get(struct crl_b64 *x, size_t off, size_t len)
{
	size_t g0 = off / 3, g1 = (off + len + 2) / 3;

	if (len > 384 || 4 * g1 > x->n ||
	    EVP_DecodeBlock(x->buf, (const unsigned char *)x->text + 4 * g0, (int)(4 * (g1 - g0))) < 0)
		return NULL;
	return x->buf + (off - 3 * g0);
}

/* The DER header at off: tag, header and content lengths. 0 or -1. */
static int crl_b64_hdr(struct crl_b64 *x, size_t off, unsigned *tag, size_t *hl, size_t *len)
{
	const unsigned char *p = crl_b64_get(x, off, 6);
	size_t n;

	if (!p || (p[0] & 0x1f) == 0x1f)
		return -1;
	*tag = p[0];
	if (p[1] < 0x80) {
		*hl = 2;
		*len = p[1];
		return 0;
	}
	n = p[1] & 0x7f;
	if (n < 1 || n > 4)
		return -1;
	*hl = 2 + n;
	*len = 0;
	for (size_t i = 0; i < n; i++)
		*len = *len << 8 | p[2 + i];
	return 0;
}

static long crl_read_number(const char *path);

/* The number of the current crl.pem, or 0 when there is none;
 * remembered for a file that has not changed since:
 * a revoke asks twice (crl_reserve_number, crl_write). */
static long crl_previous_number(const char *path)
{
	static char *last_path;
	static struct mq_file_sig last_sig;
	static long last;
	struct mq_file_sig sig;

	if (mq_file_sig_get(path, &sig))
		return crl_read_number(path);
	if (last_path && !strcmp(last_path, path) && mq_file_sig_same(&sig, &last_sig))
		return last;
	free(last_path);
	last_path = strdup(path);
	last_sig = sig;
	last = crl_read_number(path);
	return last;
}

/* crl_previous_number's read. */
static long crl_read_number(const char *path)
{
	static const char begin[] = "-----BEGIN X509 CRL-----", end[] = "-----END X509 CRL-----";
	struct crl_b64 x = {0};
	char err[256], *data = NULL, *p, *q;
	size_t len, off, hl, clen, tbs_end;
	unsigned tag;
	const unsigned char *ext;
	STACK_OF(X509_EXTENSION) *sk = NULL;
	ASN1_INTEGER *num = NULL;
	long n = 0;

	if (mq_file_read_regular(path, (size_t)256 << 20, &data, &len, err, sizeof(err)) ||
	    !(p = strstr(data, begin)) || !(q = strstr(p, end)) || !(x.text = malloc((size_t)(q - p))))
		goto out;
	for (p += sizeof(begin) - 1; p < q; p++) {
		char *nl = memchr(p, '\n', (size_t)(q - p));
		size_t l = (size_t)((nl ? nl : q) - p);

		while (l && (p[l - 1] == '\r' || p[l - 1] == ' ' || p[l - 1] == '\t'))
			l--;
		memcpy(x.text + x.n, p, l);
		x.n += l;
		p += l;
		while (p < q && *p != '\n')
			p++;
	}
	/* CertificateList, TBSCertList, then its members up to crlExtensions. */
	if (crl_b64_hdr(&x, 0, &tag, &hl, &clen) || tag != 0x30 ||
	    crl_b64_hdr(&x, hl, &tag, &off, &clen) || tag != 0x30)
		goto out;
	tbs_end = hl + off + clen;
	for (off += hl; off < tbs_end; off += hl + clen) {
		if (crl_b64_hdr(&x, off, &tag, &hl, &clen))
			goto out;
		if (tag == 0xa0)
			break;
	}
	if (off >= tbs_end || clen + hl > 384 || !(ext = crl_b64_get(&x, off + hl, clen)) ||
	    !(sk = d2i_X509_EXTENSIONS(NULL, &ext, (long)clen)) ||
	    !(num = X509V3_get_d2i(sk, NID_crl_number, NULL, NULL)))
		goto out;
	n = ASN1_INTEGER_get(num);
out:
	ASN1_INTEGER_free(num);
	sk_X509_EXTENSION_pop_free(sk, X509_EXTENSION_free);
	free(x.text);
	free(data);
	ERR_clear_error();
	return n < 0 ? 0 : n;
}

/* Revoked certificates, and retired ones as superseded (the plugin refuses
 * both; a broker with crlfile then refuses them at the handshake too).
 * Suspended devices are left out: suspension is undone by 'device resume',
 * a CRL entry never is. */
static int crl_add_revoked(X509_CRL *crl, const struct mq_cert *c)
{
	bool retired = c->status == MQ_CERT_RETIRED;
	time_t t = retired ? c->retired_at : c->revoked_at;
	X509_REVOKED *r = NULL;
	ASN1_TIME *when = NULL;
	ASN1_INTEGER *serial = NULL;
	ASN1_ENUMERATED *reason = NULL;
	BIGNUM *bn = NULL;
	int code = retired ? 4 : crl_reason_code(c->revoke_reason), rc = -1;

	if (c->status == MQ_CERT_ACTIVE)
		return 0;
	r = X509_REVOKED_new();
	when = ASN1_TIME_set(NULL, t ? t : time(NULL));
	if (!r || !when || !BN_hex2bn(&bn, c->serial) || !(serial = BN_to_ASN1_INTEGER(bn, NULL)) ||
	    !X509_REVOKED_set_serialNumber(r, serial) || !X509_REVOKED_set_revocationDate(r, when))
		goto out;
	/* RFC 5280: leave the reason out rather than say "unspecified". */
	if (code && (!(reason = ASN1_ENUMERATED_new()) || !ASN1_ENUMERATED_set(reason, code) ||
		     !X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, reason, 0, 0)))
		goto out;
	if (!X509_CRL_add0_revoked(crl, r))
		goto out;
	r = NULL;
	rc = 0;
out:
	X509_REVOKED_free(r);
	ASN1_TIME_free(when);
	ASN1_INTEGER_free(serial);
	ASN1_ENUMERATED_free(reason);
	BN_free(bn);
	return rc;
}

/* The CRL of p's certificates that are not active (NULL: none), signed. */
static X509_CRL *crl_build(const struct ca *ca, const struct mq_policy *p, long number, int days)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *last = NULL, *next = NULL;
	ASN1_INTEGER *num = NULL;
	X509_EXTENSION *aki = NULL;
	X509V3_CTX ctx;
	time_t now = time(NULL);
	int ok = 0;

	if (!crl || !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) ||
	    !(last = ASN1_TIME_set(NULL, now)) ||
	    !(next = ASN1_TIME_set(NULL, now + (time_t)days * 86400)) ||
	    !X509_CRL_set1_lastUpdate(crl, last) || !X509_CRL_set1_nextUpdate(crl, next))
		goto out;
	for (size_t i = 0; p && i < p->ndevices; i++)
		for (size_t j = 0; j < p->devices[i]->ncerts; j++)
			if (crl_add_revoked(crl, p->devices[i]->certs[j]))
				goto out;
	/* Deleted devices left the policy's devices, not the CRL. */
	for (size_t i = 0; p && i < p->ndeleted; i++)
		for (size_t j = 0; j < p->deleted[i]->device->ncerts; j++)
			if (crl_add_revoked(crl, p->deleted[i]->device->certs[j]))
				goto out;
	if (!(num = ASN1_INTEGER_new()) || !ASN1_INTEGER_set(num, number) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0))
		goto out;
	X509V3_set_ctx(&ctx, ca->cert, NULL, NULL, crl, 0);
	if (!(aki = X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always")) ||
	    !X509_CRL_add_ext(crl, aki, -1))
		goto out;
	if (!X509_CRL_sort(crl) || !X509_CRL_sign(crl, ca->key, ca_digest(ca->key)))
		goto out;
	ok = 1;
out:
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	ASN1_INTEGER_free(num);
	X509_EXTENSION_free(aki);
	if (!ok) {
		unsigned long e = ERR_peek_last_error();

		cli_err("cannot build the CRL: %s", e ? ERR_reason_error_string(e) : "out of memory");
		X509_CRL_free(crl);
		return NULL;
	}
	return crl;
}

/* The fast path (a partial model: revoke, cert revoke, delete, issue's
 * catch-up). The entries come from the store's crl index, never from
 * device records, and are DER-encoded here exactly as OpenSSL encodes the
 * X509_REVOKED objects of crl_add_revoked; the signed CRL of no entries
 * then gets them spliced into its TBSCertList, which is signed again.
 * 30,000 entries: ~20 ms instead of ~0.5 s (docs/STORE.md). t0440 checks
 * the result against crl update's (crl_build from the whole model). */
#define CRL_SERIAL_MAX 32

struct crl_entry {
	unsigned char serial[CRL_SERIAL_MAX]; /* big-endian, no leading zero bytes */
	unsigned char len;
	unsigned char code; /* RFC 5280 reason, 0: none in the CRL */
	time_t when;
};

struct crl_entries {
	struct crl_entry *v;
	size_t n, cap;
	time_t now;
};

static int crl_entry_add(void *arg, const unsigned char *serial, size_t len, bool retired,
			 time_t when, const char *reason)
{
	struct crl_entries *x = arg;
	struct crl_entry *e;

	if (!len || len > CRL_SERIAL_MAX)
		return 0; /* crl_add_revoked refuses it too (store_unhex: at most 22) */
	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 1024;
		struct crl_entry *v = realloc(x->v, cap * sizeof(*v));

		if (!v)
			return -1;
		x->v = v;
		x->cap = cap;
	}
	e = &x->v[x->n++];
	memcpy(e->serial, serial, len);
	e->len = (unsigned char)len;
	e->code = (unsigned char)(retired ? 4 : crl_reason_code(reason));
	e->when = when ? when : x->now;
	return 0;
}

/* A deleted device's certificate (the deleted list is not in the index). */
static int crl_entry_cert(struct crl_entries *x, const struct mq_cert *c)
{
	unsigned char b[CRL_SERIAL_MAX];
	BIGNUM *bn = NULL;
	int n, rc;

	if (c->status == MQ_CERT_ACTIVE)
		return 0;
	if (!BN_hex2bn(&bn, c->serial) || BN_num_bytes(bn) > CRL_SERIAL_MAX) {
		BN_free(bn);
		return -1;
	}
	n = BN_bn2bin(bn, b);
	BN_free(bn);
	if (n == 0) {
		b[0] = 0;
		n = 1;
	}
	rc = crl_entry_add(x, b, (size_t)n, c->status == MQ_CERT_RETIRED,
			   c->status == MQ_CERT_RETIRED ? c->retired_at : c->revoked_at, c->revoke_reason);
	return rc;
}

/* X509_CRL_sort's order: serial length, then bytes. */
static int crl_entry_cmp(const void *a, const void *b)
{
	const struct crl_entry *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->serial, y->serial, x->len);
}

/* 0 (entries in *x), 1 (the index is not current: the slow path), -1. */
static int crl_index_entries(struct store *st, struct crl_entries *x)
{
	char err[512] = "";
	int rc;

	x->now = time(NULL);
	if (mq_store_read_begin(st->db, err, sizeof(err)))
		goto fail;
	rc = mq_store_crl_each(st->db, crl_entry_add, x, err, sizeof(err));
	mq_store_read_end(st->db);
	if (rc == 1)
		return 1;
	if (rc)
		goto fail;
	for (size_t i = 0; i < st->policy->ndeleted; i++)
		for (size_t j = 0; j < st->policy->deleted[i]->device->ncerts; j++)
			if (crl_entry_cert(x, st->policy->deleted[i]->device->certs[j])) {
				mq_errf(err, sizeof(err), "deleted device '%s': bad serial",
					st->policy->deleted[i]->device->name);
				goto fail;
			}
	if (st->policy->ndeleted)
		qsort(x->v, x->n, sizeof(*x->v), crl_entry_cmp);
	return 0;
fail:
	cli_err("cannot read the CRL's entries from %s/store: %s", st->dir, *err ? err : "out of memory");
	return -1;
}

static size_t der_hdr_len(size_t n)
{
	size_t h = 2;

	if (n < 0x80)
		return h;
	for (; n; n >>= 8)
		h++;
	return h;
}

static unsigned char *der_hdr(unsigned char *p, unsigned char tag, size_t n)
{
	size_t h = der_hdr_len(n) - 2;

	*p++ = tag;
	if (!h) {
		*p++ = (unsigned char)n;
		return p;
	}
	*p++ = (unsigned char)(0x80 | h);
	for (size_t i = h; i > 0; i--)
		*p++ = (unsigned char)(n >> (8 * (i - 1)));
	return p;
}

static void crl_digits(char *out, int v)
{
	v = v < 0 ? 0 : v % 100;
	out[0] = (char)('0' + v / 10);
	out[1] = (char)('0' + v % 10);
}

/* One revokedCertificates entry as OpenSSL encodes it: serial INTEGER,
 * revocationDate (UTCTime 1950-2049, else GeneralizedTime, as
 * ASN1_TIME_set), the reason extension (non-critical) when not 0. */
static unsigned char *crl_entry_der(unsigned char *p, const struct crl_entry *e)
{
	static const unsigned char reason[] = {0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d,
					       0x15, 0x04, 0x03, 0x0a, 0x01};
	bool pad = e->serial[0] & 0x80;
	char t[16];
	struct tm tm;
	size_t tlen, n;

	if (!gmtime_r(&e->when, &tm))
		memset(&tm, 0, sizeof(tm));
	tlen = 0;
	/* As ASN1_TIME_set: UTCTime for 1950-2049, else GeneralizedTime. */
	if (tm.tm_year < 50 || tm.tm_year >= 150) {
		crl_digits(t, (tm.tm_year + 1900) / 100);
		tlen = 2;
	}
	crl_digits(t + tlen, (tm.tm_year + 1900) % 100);
	crl_digits(t + tlen + 2, tm.tm_mon + 1);
	crl_digits(t + tlen + 4, tm.tm_mday);
	crl_digits(t + tlen + 6, tm.tm_hour);
	crl_digits(t + tlen + 8, tm.tm_min);
	crl_digits(t + tlen + 10, tm.tm_sec);
	t[tlen + 12] = 'Z';
	tlen += 13;
	n = 2 + pad + e->len + 2 + tlen + (e->code ? sizeof(reason) + 1 : 0);
	p = der_hdr(p, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, n);
	p = der_hdr(p, V_ASN1_INTEGER, pad + e->len);
	if (pad)
		*p++ = 0;
	memcpy(p, e->serial, e->len);
	p += e->len;
	p = der_hdr(p, tlen == 13 ? V_ASN1_UTCTIME : V_ASN1_GENERALIZEDTIME, tlen);
	memcpy(p, t, tlen);
	p += tlen;
	if (e->code) {
		memcpy(p, reason, sizeof(reason));
		p += sizeof(reason);
		*p++ = e->code;
	}
	return p;
}

/* der as PEM into b with one write (PEM_write_bio grows its buffer by
 * copies: a fifth of what was left of a revoke at 30,000 entries). 0 or -1. */
static int crl_pem(BIO *b, const unsigned char *der, size_t len)
{
	static const char begin[] = "-----BEGIN X509 CRL-----\n", end[] = "-----END X509 CRL-----\n";
	size_t lines = (len + 47) / 48, cap = sizeof(begin) + sizeof(end) + lines * 65;
	char *pem = malloc(cap), *p = pem;
	int rc = -1;

	if (!pem)
		return -1;
	memcpy(p, begin, sizeof(begin) - 1);
	p += sizeof(begin) - 1;
	for (size_t off = 0; off < len; off += 48) {
		p += EVP_EncodeBlock((unsigned char *)p, der + off, (int)(len - off < 48 ? len - off : 48));
		*p++ = '\n';
	}
	memcpy(p, end, sizeof(end) - 1);
	p += sizeof(end) - 1;
	if (BIO_write(b, pem, (int)(p - pem)) == (int)(p - pem))
		rc = 0;
	free(pem);
	return rc;
}

/* crl (signed, no entries) with x's entries spliced into its TBSCertList
 * (before crlExtensions, where OpenSSL puts them), signed again with the
 * same algorithm, as PEM into b. 0 or -1 after printing why. */
static int crl_encode(const struct ca *ca, X509_CRL *crl, const struct crl_entries *x, BIO *b)
{
	unsigned char *tbs0 = NULL, *alg = NULL, *list = NULL, *tbs = NULL, *sig = NULL, *out = NULL, *p;
	const unsigned char *body, *exts;
	const X509_ALGOR *algor;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	long bodylen;
	int tbs0len, alglen;
	size_t cap = 1, listlen, content, tbslen, siglen = 0, total;
	int rc = -1;

	X509_CRL_get0_signature(crl, NULL, &algor);
	for (size_t i = 0; i < x->n; i++)
		cap += 64 + x->v[i].len;
	if (!md || !(list = malloc(cap)) || (tbs0len = i2d_re_X509_CRL_tbs(crl, &tbs0)) <= 0 ||
	    (alglen = i2d_X509_ALGOR(algor, &alg)) <= 0 ||
	    crl_tbs_body(tbs0, tbs0len, &body, &bodylen, &exts) ||
	    EVP_DigestSignInit(md, NULL, ca_digest(ca->key), NULL, ca->key) != 1)
		goto out;
	p = list;
	for (size_t i = 0; i < x->n; i++)
		p = crl_entry_der(p, &x->v[i]);
	listlen = (size_t)(p - list);
	content = (size_t)bodylen + (x->n ? der_hdr_len(listlen) + listlen : 0);
	tbslen = der_hdr_len(content) + content;
	if (!(tbs = malloc(tbslen)))
		goto out;
	p = der_hdr(tbs, 0x30, content);
	memcpy(p, body, (size_t)(exts - body));
	p += exts - body;
	if (x->n) {
		p = der_hdr(p, 0x30, listlen);
		memcpy(p, list, listlen);
		p += listlen;
	}
	memcpy(p, exts, (size_t)(body + bodylen - exts));
	if (EVP_DigestSign(md, NULL, &siglen, tbs, tbslen) != 1 || !(sig = malloc(siglen)) ||
	    EVP_DigestSign(md, sig, &siglen, tbs, tbslen) != 1)
		goto out;
	content = tbslen + (size_t)alglen + der_hdr_len(siglen + 1) + siglen + 1;
	total = der_hdr_len(content) + content;
	if (!(out = malloc(total)))
		goto out;
	p = der_hdr(out, 0x30, content);
	memcpy(p, tbs, tbslen);
	p += tbslen;
	memcpy(p, alg, (size_t)alglen);
	p += alglen;
	p = der_hdr(p, V_ASN1_BIT_STRING, siglen + 1);
	*p++ = 0; /* no unused bits */
	memcpy(p, sig, siglen);
	if (crl_pem(b, out, total))
		goto out;
	rc = 0;
out:
	if (rc) {
		unsigned long e = ERR_peek_last_error();

		cli_err("cannot sign the CRL: %s", e ? ERR_reason_error_string(e) : "out of memory");
	}
	EVP_MD_CTX_free(md);
	OPENSSL_free(tbs0);
	OPENSSL_free(alg);
	free(list);
	free(tbs);
	free(sig);
	free(out);
	return rc;
}

void crl_reserve_number(const struct store *st)
{
	char *path = store_path(st, "crl.pem");
	long file = path ? crl_previous_number(path) : 0;

	if ((unsigned long)file > st->policy->crl_number)
		st->policy->crl_number = (unsigned long)file;
	st->policy->crl_number++;
	free(path);
}

int crl_write(struct store *st, const struct ca *ca, int days)
{
	char err[512], *path = store_path(st, "crl.pem"), *data = NULL;
	X509_CRL *crl = NULL;
	BIO *b = NULL;
	long len, file;
	int rc = -1;

	struct crl_entries x = {0};
	int idx;

	/* A partial model (O(change) commands): the entries from the index,
	 * never the devices; else (or from a store the index is not current
	 * in) from the model, devices loaded. */
	idx = path && st->partial ? crl_index_entries(st, &x) : 1;
	if (!path || idx < 0 || (idx == 1 && store_load_revoked(st))) {
		free(x.v);
		free(path);
		return -1;
	}
	/* Never below the file's number (a policy from before crl_number)
	 * nor the policy's (crl.pem lost or corrupt): a relying party that
	 * saw CRL n ignores any CRL numbered n or lower. */
	file = crl_previous_number(path);
	if ((unsigned long)file >= st->policy->crl_number)
		st->policy->crl_number = (unsigned long)file + 1;
	crl = crl_build(ca, idx ? st->policy : NULL, (long)st->policy->crl_number, days);
	if (!crl)
		goto out;
	b = BIO_new(BIO_s_mem());
	if (!idx && (!b || crl_encode(ca, crl, &x, b)))
		goto out;
	if (!b || (idx && !PEM_write_bio_X509_CRL(b, crl)) || (len = BIO_get_mem_data(b, &data)) <= 0) {
		cli_err("cannot encode the CRL: out of memory");
		goto out;
	}
	switch (mq_file_write_atomic(path, data, (size_t)len, 0644, err, sizeof(err))) {
	case 0:
		break;
	case MQ_FILE_NOT_DURABLE:
		out_warn("the new %s is in place, but %s; a crash before the "
			"system writes %s back could bring back the previous CRL", path, err, st->dir);
		break;
	default:
		cli_err("%s", err);
		goto out;
	}
	store_fleet_crl(st, data, (size_t)len);
	rc = 0;
out:
	BIO_free(b);
	X509_CRL_free(crl);
	free(x.v);
	free(path);
	return rc;
}

void crl_catch_up(struct store *st, const struct ca *ca)
{
	char *path = store_path(st, "crl.pem");
	long file = path ? crl_previous_number(path) : 0;

	free(path);
	if (!st->policy || (unsigned long)file >= st->policy->crl_number)
		return;
	cli_err("note: %s/crl.pem (number %ld) is behind the policy (CRL number %lu): "
		"a revocation was interrupted before its CRL; re-signing it", st->dir, file,
		st->policy->crl_number);
	if (crl_write(st, ca, CRL_DEFAULT_DAYS))
		out_warn("%s/crl.pem is still behind the policy: run 'mqadmin "
			"-d %s crl update'", st->dir, st->dir);
}

int crl_read_next_update(const struct store *st, time_t *next, long *number)
{
	char err[512], *path = store_path(st, "crl.pem");
	X509_CRL *crl = NULL;
	int rc = -1;

	if (!path)
		return -1;
	if (access(path, F_OK) && errno == ENOENT) {
		rc = 1;
		goto out;
	}
	crl = xinfo_load_crl(path, err, sizeof(err));
	if (!crl || !X509_CRL_get0_nextUpdate(crl) ||
	    xinfo_asn1_time(X509_CRL_get0_nextUpdate(crl), next)) {
		cli_err("%s; re-sign it with 'mqadmin -d %s crl update'",
			crl ? "the CRL has no usable nextUpdate" : err, st->dir);
		goto out;
	}
	*number = crl_previous_number(path);
	rc = 0;
out:
	X509_CRL_free(crl);
	free(path);
	return rc;
}

int crl_cmd(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"days", required_argument, NULL, 'D'},
		{"passphrase-file", required_argument, NULL, 'P'},
		{NULL, 0, NULL, 0},
	};
	const char *passfile = NULL;
	struct store *st = NULL;
	struct ca ca = {0};
	int days = CRL_DEFAULT_DAYS, c, rc = CLI_FAIL;

	while ((c = cli_opt(ctx, argc, argv, opts)) != -1) {
		switch (c) {
		case 'D':
			if (cli_parse_days(optarg, 3650, &days))
				return CLI_FAIL;
			break;
		case 'P':
			passfile = optarg;
			break;
		default:
			return cli_usage_error(ctx, NULL);
		}
	}
	if (cli_operands(ctx, argc, argv, 0, 0, NULL))
		return CLI_USAGE;
	if (!(st = cmdtab_pki(ctx)) || store_load_policy(st) ||
	    ca_load(&ca, st, passfile))
		goto out;
	/* The number is recorded before it is used: a crash between the two
	 * skips a number, never reuses one. */
	crl_reserve_number(st);
	if (store_save_policy(st) || crl_write(st, &ca, days))
		goto out;
	printf("%s/crl.pem\n", st->dir);
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
out:
	ca_release(&ca);
	return rc;
}
