/* X.509 objects described for people (xinfo.h): loading PEM or DER, key
 * and signature strength, names and SANs; what doctor and inspect share. */
#include "xinfo.h"

#include "mq_fileio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define XINFO_MAX_FILE (4u << 20)

static char *xinfo_read(const char *path, size_t *len, char *err, size_t errlen)
{
	char *data = NULL;

	if (mq_file_read(path, XINFO_MAX_FILE, &data, len, err, errlen))
		return NULL;
	return data;
}

static bool xinfo_is_pem(const char *data, size_t len)
{
	return len >= 10 && strstr(data, "-----BEGIN ") != NULL;
}

STACK_OF(X509) *xinfo_load_certs(const char *path, char *err, size_t errlen)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	size_t len = 0;
	char *data = xinfo_read(path, &len, err, errlen);
	BIO *b = NULL;
	X509 *x;

	if (!data || !sk)
		goto fail;
	if (xinfo_is_pem(data, len)) {
		b = BIO_new_mem_buf(data, (int)len);
		while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
			if (!sk_X509_push(sk, x)) {
				X509_free(x);
				break;
			}
	} else {
		const unsigned char *p = (const unsigned char *)data;

		x = d2i_X509(NULL, &p, (long)len);
		if (x && !sk_X509_push(sk, x))
			X509_free(x);
	}
	ERR_clear_error();
	if (sk_X509_num(sk) == 0) {
		snprintf(err, errlen, "%s holds no certificate (PEM or DER)", path);
		goto fail;
	}
	BIO_free(b);
	free(data);
	return sk;
fail:
	BIO_free(b);
	free(data);
	sk_X509_pop_free(sk, X509_free);
	return NULL;
}

X509 *xinfo_load_cert(const char *path, char *err, size_t errlen)
{
	STACK_OF(X509) *sk = xinfo_load_certs(path, err, errlen);
	X509 *x = sk ? sk_X509_shift(sk) : NULL;

	sk_X509_pop_free(sk, X509_free);
	return x;
}

X509_CRL *xinfo_load_crl(const char *path, char *err, size_t errlen)
{
	size_t len = 0;
	char *data = xinfo_read(path, &len, err, errlen);
	X509_CRL *crl = NULL;

	if (!data)
		return NULL;
	if (xinfo_is_pem(data, len)) {
		BIO *b = BIO_new_mem_buf(data, (int)len);

		crl = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
	} else {
		const unsigned char *p = (const unsigned char *)data;

		crl = d2i_X509_CRL(NULL, &p, (long)len);
	}
	ERR_clear_error();
	free(data);
	if (!crl)
		snprintf(err, errlen, "%s holds no CRL (PEM or DER)", path);
	return crl;
}

void xinfo_key_desc(const EVP_PKEY *key, char *buf, size_t len)
{
	char group[64];
	const char *nist;

	if (!key) {
		snprintf(buf, len, "unknown");
		return;
	}
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		snprintf(buf, len, "RSA %d", EVP_PKEY_get_bits(key));
		return;
	case EVP_PKEY_DSA:
		snprintf(buf, len, "DSA %d", EVP_PKEY_get_bits(key));
		return;
	case EVP_PKEY_ED25519:
		snprintf(buf, len, "Ed25519");
		return;
	case EVP_PKEY_ED448:
		snprintf(buf, len, "Ed448");
		return;
	case EVP_PKEY_EC:
		if (!EVP_PKEY_get_group_name(key, group, sizeof(group), NULL)) {
			snprintf(buf, len, "EC %d", EVP_PKEY_get_bits(key));
			return;
		}
		nist = EC_curve_nid2nist(OBJ_sn2nid(group));
		snprintf(buf, len, "EC %s", nist ? nist : group);
		return;
	default:
		snprintf(buf, len, "%s %d", OBJ_nid2sn(EVP_PKEY_get_base_id(key)),
			 EVP_PKEY_get_bits(key));
	}
}

const char *xinfo_key_weakness(const EVP_PKEY *key)
{
	int id = key ? EVP_PKEY_get_base_id(key) : 0;
	int bits = key ? EVP_PKEY_get_bits(key) : 0;

	if ((id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) && bits < 2048)
		return "RSA below 2048 bits";
	if (id == EVP_PKEY_DSA && bits < 2048)
		return "DSA below 2048 bits";
	if (id == EVP_PKEY_EC && bits < 224)
		return "an elliptic curve below 224 bits";
	return NULL;
}

const char *xinfo_sig_name(int sig_nid)
{
	const char *s = OBJ_nid2ln(sig_nid);

	return s ? s : "unknown";
}

bool xinfo_sig_weak(const X509 *cert)
{
	int md = NID_undef;

	if (!OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md, NULL))
		return false;
	return md == NID_sha1 || md == NID_md5 || md == NID_md4 || md == NID_md2 ||
	       md == NID_md5_sha1;
}

char *xinfo_name(const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (!b)
		return NULL;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_get_mem_data(b, &data)) >= 0) {
		out = malloc((size_t)n + 1);
		if (out) {
			memcpy(out, data, (size_t)n);
			out[n] = '\0';
		}
	}
	BIO_free(b);
	return out;
}

/* Appends "sep text" to the malloc'd *s. 0 or -1. */
static int xinfo_append(char **s, const char *text)
{
	size_t have = strlen(*s), add = strlen(text) + 3;
	char *n = realloc(*s, have + add);

	if (!n)
		return -1;
	snprintf(n + have, add, "%s%s", have ? ", " : "", text);
	*s = n;
	return 0;
}

static void xinfo_gen_text(const GENERAL_NAME *g, char *buf, size_t len, bool *ip)
{
	const unsigned char *d;
	int n;

	*ip = false;
	switch (g->type) {
	case GEN_DNS:
		snprintf(buf, len, "DNS:%.*s", ASN1_STRING_length(g->d.dNSName),
			 (const char *)ASN1_STRING_get0_data(g->d.dNSName));
		break;
	case GEN_EMAIL:
		snprintf(buf, len, "email:%.*s", ASN1_STRING_length(g->d.rfc822Name),
			 (const char *)ASN1_STRING_get0_data(g->d.rfc822Name));
		break;
	case GEN_URI:
		snprintf(buf, len, "URI:%.*s", ASN1_STRING_length(g->d.uniformResourceIdentifier),
			 (const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier));
		break;
	case GEN_IPADD:
		*ip = true;
		d = ASN1_STRING_get0_data(g->d.iPAddress);
		n = ASN1_STRING_length(g->d.iPAddress);
		if (n == 4) {
			snprintf(buf, len, "IP:%u.%u.%u.%u", d[0], d[1], d[2], d[3]);
		} else if (n == 16) {
			int off = snprintf(buf, len, "IP:");

			for (int i = 0; i < 16 && off > 0 && (size_t)off < len; i += 2)
				off += snprintf(buf + off, len - (size_t)off, "%s%x", i ? ":" : "",
						(unsigned)(d[i] << 8 | d[i + 1]));
		} else {
			snprintf(buf, len, "IP:?");
		}
		break;
	default:
		snprintf(buf, len, "othername");
	}
	/* A NUL or control byte in a SAN is an attack, not a name: show it as such. */
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

char *xinfo_sans(const X509 *cert, int *nip, int *nother)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	char *s = strdup(""), buf[300];
	bool ip;

	if (nip)
		*nip = 0;
	if (nother)
		*nother = 0;
	for (int i = 0; s && i < sk_GENERAL_NAME_num(gens); i++) {
		xinfo_gen_text(sk_GENERAL_NAME_value(gens, i), buf, sizeof(buf), &ip);
		if (ip && nip)
			(*nip)++;
		if (!ip && nother)
			(*nother)++;
		if (xinfo_append(&s, buf)) {
			free(s);
			s = NULL;
		}
	}
	GENERAL_NAMES_free(gens);
	return s;
}

bool xinfo_issued_by(X509 *cert, X509 *ca)
{
	EVP_PKEY *pub = X509_get0_pubkey(ca);
	bool ok = pub && X509_check_issued(ca, cert) == X509_V_OK && X509_verify(cert, pub) == 1;

	ERR_clear_error();
	return ok;
}

int xinfo_asn1_time(const ASN1_TIME *a, time_t *out)
{
	struct tm tm;

	if (!a || !ASN1_TIME_to_tm(a, &tm))
		return -1;
	*out = timegm(&tm);
	return 0;
}
