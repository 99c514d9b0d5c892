/* A device's certificate and key in the formats devices consume (export.h):
 * DER, PKCS#12 and a C header, written beside the PEM files and committed
 * or undone with them. */
#include "export.h"

#include "ca.h"
#include "cli.h"
#include "issue.h"
#include "mq_fileio.h"
#include "mq_names.h"
#include "passphrase.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>

/* Both PBE iteration counts; what openssl pkcs12 uses. */
#define EXPORT_P12_ITER 2048
/* NAME plus the longest suffix, ".key.der". */
#define EXPORT_FILE_MAX (MQ_NAME_MAX + 16)

int export_format_parse(const char *s, unsigned *mask)
{
	if (!strcmp(s, "pem"))
		*mask |= EXPORT_PEM;
	else if (!strcmp(s, "der"))
		*mask |= EXPORT_DER;
	else if (!strcmp(s, "p12"))
		*mask |= EXPORT_P12;
	else if (!strcmp(s, "c-header"))
		*mask |= EXPORT_CHEADER;
	else {
		cli_err("invalid --format '%s': use pem, der, p12 or c-header", s);
		return -1;
	}
	return 0;
}

/* Records path (final name) and writes data to path+suffix. */
static int export_put(struct export_files *f, const char *dir, const char *file,
		      const char *suffix, const void *data, size_t len, mode_t mode)
{
	char *fin = NULL, *stg = NULL;

	if (f->n == EXPORT_MAX_FILES || asprintf(&fin, "%s/%s", dir, file) < 0 ||
	    asprintf(&stg, "%s%s", fin, suffix) < 0) {
		free(fin);
		cli_err("out of memory");
		return -1;
	}
	if (issue_write(stg, data, len, mode)) {
		free(fin);
		free(stg);
		return -1;
	}
	f->final[f->n] = fin;
	f->staged[f->n] = stg;
	f->n++;
	return 0;
}

/* DER of a certificate (OPENSSL_malloc'd). */
static int export_cert_der(X509 *cert, unsigned char **out, size_t *len)
{
	int n;

	*out = NULL;
	n = i2d_X509(cert, out);
	if (n <= 0) {
		cli_err("cannot encode a certificate as DER");
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

/* Unencrypted PKCS#8 DER of a private key (OPENSSL_malloc'd; wipe it). */
static int export_key_der(EVP_PKEY *key, unsigned char **out, size_t *len)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	int n = -1;

	*out = NULL;
	if (p8)
		n = i2d_PKCS8_PRIV_KEY_INFO(p8, out);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (n <= 0) {
		cli_err("cannot encode the private key as DER");
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

static int export_der(const char *dir, const char *name, X509 *cert, X509 *ca, EVP_PKEY *key,
		      const char *suffix, struct export_files *f)
{
	unsigned char *c = NULL, *k = NULL, *a = NULL;
	size_t cl = 0, kl = 0, al = 0;
	char file[EXPORT_FILE_MAX];
	int rc = -1;

	if (export_cert_der(cert, &c, &cl) || export_cert_der(ca, &a, &al) ||
	    (key && export_key_der(key, &k, &kl)))
		goto out;
	snprintf(file, sizeof(file), "%s.der", name);
	if (export_put(f, dir, file, suffix, c, cl, 0644))
		goto out;
	if (key) {
		snprintf(file, sizeof(file), "%s.key.der", name);
		if (export_put(f, dir, file, suffix, k, kl, 0600))
			goto out;
	}
	rc = export_put(f, dir, "ca.der", suffix, a, al, 0644);
out:
	OPENSSL_free(c);
	OPENSSL_free(a);
	OPENSSL_clear_free(k, kl);
	return rc;
}

/* 80 random bits as 16 RFC 4648 base32 characters: easy to type on a
 * phone, no ambiguous case. */
static int export_gen_pass(char *out)
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	unsigned char r[10];

	if (RAND_bytes(r, sizeof(r)) != 1) {
		cli_err("cannot generate a passphrase: no randomness");
		return -1;
	}
	for (size_t i = 0; i < 16; i++) {
		size_t bit = i * 5, byte = bit / 8, sh = bit % 8;
		unsigned v = (unsigned)r[byte] << 8 | (byte + 1 < sizeof(r) ? r[byte + 1] : 0);

		out[i] = b32[(v >> (11 - sh)) & 31];
	}
	out[16] = '\0';
	OPENSSL_cleanse(r, sizeof(r));
	return 0;
}

static int export_p12(const struct export_opts *o, const char *dir, const char *name,
		      X509 *cert, X509 *ca, EVP_PKEY *key, const char *suffix,
		      struct export_files *f)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	/* PKCS12_create checks key against the certificate's decoded public
	 * key, which a certificate from ca_issue lacks; a copy decodes it. */
	X509 *copy = X509_dup(cert);
	char pass[PASSPHRASE_MAX], file[EXPORT_FILE_MAX];
	unsigned char *der = NULL;
	PKCS12 *p12 = NULL;
	int n = 0, rc = -1;
	/* Compatible by default: Apple's SecPKCS12Import (iOS, OwnTracks)
	 * and older Android refuse PBES2/AES and SHA-256 MACs. */
	int nid = o->p12_modern ? NID_aes_256_cbc : NID_pbe_WithSHA1And3_Key_TripleDES_CBC;

	pass[0] = '\0';
	if (o->p12_pass)
		snprintf(pass, sizeof(pass), "%s", o->p12_pass);
	else if (o->p12_passfile ? passphrase_read_file(o->p12_passfile, pass, sizeof(pass))
				 : export_gen_pass(pass))
		goto out;
	if (!chain || !copy || !sk_X509_push(chain, ca) ||
	    !(p12 = PKCS12_create(pass, name, key, copy, chain, nid, nid, EXPORT_P12_ITER, -1, 0)) ||
	    !PKCS12_set_mac(p12, pass, -1, NULL, 0, EXPORT_P12_ITER,
			    o->p12_modern ? EVP_sha256() : EVP_sha1()) ||
	    (n = i2d_PKCS12(p12, &der)) <= 0) {
		cli_err("cannot build %s.p12: %s", name,
			ERR_reason_error_string(ERR_peek_last_error())
				? ERR_reason_error_string(ERR_peek_last_error())
				: "OpenSSL error");
		goto out;
	}
	snprintf(file, sizeof(file), "%s.p12", name);
	if (export_put(f, dir, file, suffix, der, (size_t)n, 0600))
		goto out;
	if (!o->p12_passfile)
		snprintf(f->pass, sizeof(f->pass), "%s", pass);
	rc = 0;
out:
	ERR_clear_error();
	OPENSSL_cleanse(pass, sizeof(pass));
	OPENSSL_free(der);
	PKCS12_free(p12);
	X509_free(copy);
	sk_X509_free(chain); /* borrowed certificates: not freed */
	return rc;
}

int export_read_pass(struct export_opts *o)
{
	if (!o->p12_passfile || o->p12_pass)
		return 0;
	if (!(o->p12_pass = malloc(PASSPHRASE_MAX))) {
		cli_err("out of memory");
		return -1;
	}
	if (passphrase_read_file(o->p12_passfile, o->p12_pass, PASSPHRASE_MAX)) {
		export_opts_release(o);
		return -1;
	}
	return 0;
}

void export_opts_release(struct export_opts *o)
{
	if (o->p12_pass)
		OPENSSL_cleanse(o->p12_pass, PASSPHRASE_MAX);
	free(o->p12_pass);
	o->p12_pass = NULL;
}

/* A bounded text buffer; on overflow it stays failed. */
struct hbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void hb_printf(struct hbuf *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hb_printf(struct hbuf *h, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (h->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(h->p + h->len, h->cap - h->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= h->cap - h->len) {
		h->failed = true;
		return;
	}
	h->len += (size_t)n;
}

static void hb_der(struct hbuf *h, const char *id, const char *what, const unsigned char *d,
		   size_t n)
{
	hb_printf(h, "static const unsigned char %s_%s_der[] = {", id, what);
	for (size_t i = 0; i < n; i++)
		hb_printf(h, "%s0x%02x%s", i % 12 ? " " : "\n\t", d[i], i + 1 < n ? "," : "");
	hb_printf(h, "\n};\nstatic const unsigned int %s_%s_der_len = %zu;\n\n", id, what, n);
}

/* PEM text as one string literal, a line per PEM line. */
static void hb_pem(struct hbuf *h, const char *id, const char *what, const char *pem, size_t n)
{
	hb_printf(h, "static const char %s_%s_pem[] =", id, what);
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(pem + i, '\n', n - i);
		size_t l = nl ? (size_t)(nl - (pem + i)) : n - i;

		hb_printf(h, "\n\t\"%.*s\\n\"", (int)l, pem + i);
		i += l + 1;
	}
	hb_printf(h, ";\n\n");
}

/* NAME with '-' and '.' as '_' (names hold only A-Za-z0-9._-), and a
 * leading "d_" when it would start with a digit. */
static void export_ident(const char *name, char *id, size_t len, bool upper)
{
	size_t k = 0;

	if (*name >= '0' && *name <= '9')
		k = (size_t)snprintf(id, len, upper ? "D_" : "d_");
	for (; *name && k + 1 < len; name++) {
		char c = (*name == '-' || *name == '.') ? '_' : *name;

		id[k++] = upper && c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
	}
	id[k] = '\0';
}

static int export_cheader(const char *dir, const char *name, X509 *cert, X509 *ca,
			  EVP_PKEY *key, const char *suffix, struct export_files *f)
{
	unsigned char *cd = NULL, *ad = NULL, *kd = NULL;
	char *cp = NULL, *ap = NULL, *kp = NULL, id[80], guard[80], file[EXPORT_FILE_MAX];
	size_t cdl = 0, adl = 0, kdl = 0, cpl = 0, apl = 0, kpl = 0;
	struct hbuf h = {0};
	int rc = -1;

	if (export_cert_der(cert, &cd, &cdl) || export_cert_der(ca, &ad, &adl) ||
	    export_key_der(key, &kd, &kdl) || ca_cert_pem(cert, &cp, &cpl) ||
	    ca_cert_pem(ca, &ap, &apl) || ca_key_pem(key, NULL, cert, &kp, &kpl))
		goto out;
	export_ident(name, id, sizeof(id), false);
	export_ident(name, guard, sizeof(guard), true);
	h.cap = 8 * (cdl + adl + kdl) + 2 * (cpl + apl + kpl) + 4096;
	if (!(h.p = malloc(h.cap))) {
		cli_err("out of memory");
		goto out;
	}
	hb_printf(&h,
		  "/* %s.h: TLS credentials of device '%s', generated by mqadmin (mqcert).\n"
		  " *\n"
		  " * WARNING: THIS FILE CONTAINS THE DEVICE'S PRIVATE KEY.\n"
		  " * Anyone who reads it can connect as this device. Keep it out of version\n"
		  " * control and backups, and delete it once the device is flashed; if it\n"
		  " * leaks, run 'mqadmin device revoke %s'.\n"
		  " *\n"
		  " * Each item comes twice: DER bytes with a length, and PEM text.\n"
		  " *   ESP32 WiFiClientSecure: setCACert(%s_ca_pem);\n"
		  " *     setCertificate(%s_cert_pem); setPrivateKey(%s_key_pem);\n"
		  " *   ESP8266 BearSSL: X509List ca(%s_ca_pem), cert(%s_cert_pem);\n"
		  " *     PrivateKey key(%s_key_pem); setTrustAnchors(&ca);\n"
		  " *     setClientECCert(&cert, &key, ...) or setClientRSACert(&cert, &key);\n"
		  " */\n"
		  "#ifndef MQCERT_%s_H\n#define MQCERT_%s_H\n\n",
		  name, name, name, id, id, id, id, id, id, guard, guard);
	hb_printf(&h, "/* CA certificate: verifies the broker. */\n");
	hb_der(&h, id, "ca", ad, adl);
	hb_pem(&h, id, "ca", ap, apl);
	hb_printf(&h, "/* Device certificate. */\n");
	hb_der(&h, id, "cert", cd, cdl);
	hb_pem(&h, id, "cert", cp, cpl);
	hb_printf(&h, "/* Device PRIVATE KEY (PKCS#8, unencrypted). */\n");
	hb_der(&h, id, "key", kd, kdl);
	hb_pem(&h, id, "key", kp, kpl);
	hb_printf(&h, "#endif /* MQCERT_%s_H */\n", guard);
	if (h.failed) {
		cli_err("cannot build %s.h: internal size estimate too small", name);
		goto out;
	}
	snprintf(file, sizeof(file), "%s.h", name);
	rc = export_put(f, dir, file, suffix, h.p, h.len, 0600);
out:
	if (h.p)
		OPENSSL_cleanse(h.p, h.cap);
	free(h.p);
	OPENSSL_free(cd);
	OPENSSL_free(ad);
	OPENSSL_clear_free(kd, kdl);
	free(cp);
	free(ap);
	if (kp)
		OPENSSL_cleanse(kp, kpl);
	free(kp);
	return rc;
}

int export_write(const struct export_opts *o, const char *dir, const char *name, X509 *cert,
		 X509 *ca, EVP_PKEY *key, const char *suffix, struct export_files *f)
{
	if (!key && (o->formats & EXPORT_NEEDS_KEY)) {
		cli_err("p12 and c-header need the private key, which mqadmin does not have");
		return -1;
	}
	if ((o->formats & EXPORT_DER) && export_der(dir, name, cert, ca, key, suffix, f))
		return -1;
	if ((o->formats & EXPORT_P12) && export_p12(o, dir, name, cert, ca, key, suffix, f))
		return -1;
	if ((o->formats & EXPORT_CHEADER) && export_cheader(dir, name, cert, ca, key, suffix, f))
		return -1;
	return 0;
}

int export_commit(struct export_files *f)
{
	for (size_t i = 0; i < f->n; i++) {
		if (!strcmp(f->staged[i], f->final[i]))
			continue;
		if (rename(f->staged[i], f->final[i])) {
			cli_err("cannot move %s into place: %s; rename it by hand", f->staged[i],
				strerror(errno));
			return -1;
		}
	}
	if (f->n)
		mq_file_sync_dir(f->final[0]);
	return 0;
}

void export_unlink(struct export_files *f)
{
	for (size_t i = 0; i < f->n; i++)
		unlink(f->staged[i]);
}

void export_release(struct export_files *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->staged[i]);
		free(f->final[i]);
	}
	f->n = 0;
	OPENSSL_cleanse(f->pass, sizeof(f->pass));
}

void export_remove_stale(const char *dir, const char *name, unsigned formats)
{
	static const struct {
		unsigned format;
		const char *ext;
	} derived[] = {
		{EXPORT_DER, "der"}, {EXPORT_DER, "key.der"}, {EXPORT_P12, "p12"}, {EXPORT_CHEADER, "h"},
	};
	char *p;

	for (size_t i = 0; i < sizeof(derived) / sizeof(*derived); i++) {
		if (formats & derived[i].format)
			continue;
		if (asprintf(&p, "%s/%s.%s", dir, name, derived[i].ext) < 0)
			return;
		if (unlink(p) == 0)
			cli_err("note: removed %s: it held the replaced certificate; renew with --format to get a new one",
				p);
		free(p);
	}
}
