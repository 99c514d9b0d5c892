/* inspect: what a certificate, CSR, CRL or PKCS#12 file holds, and what
 * DIR knows about it. One model (a cJSON object) printed two ways. */
#include "cmds.h"
#include "out.h"

#include "mq_x509.h"
#include "mq_fileio.h"
#include "mq_names.h"
#include "mq_policy.h"
#include "mq_time.h"
#include "passphrase.h"
#include "xinfo.h"

#include <dirent.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509v3.h>

#define INSPECT_MAX_FILE (4u << 20)

/* What DIR says about the objects inspected. */
struct inspect_dir {
	const char *dir;
	X509 *ca;                 /* NULL: no CA in DIR */
	struct mq_policy *policy; /* NULL: none or unreadable */
	char ca_fpr[MQ_FPR_LEN];
	time_t now;
};

struct inspect_opts {
	const char *file;
	const char *passfile;
	bool json;
};

static int inspect_parse(struct cli_ctx *ctx, int argc, char **argv, struct inspect_opts *o)
{
	static const struct option opts[] = {
		{"passphrase-file", required_argument, NULL, 'P'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = cli_opt(ctx, argc, argv, opts)) != -1) {
		switch (c) {
		case 'P':
			o->passfile = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		default:
			return cli_usage_error(ctx, NULL);
		}
	}
	if (cli_operands(ctx, argc, argv, 1, 1, "FILE"))
		return CLI_USAGE;
	o->file = argv[optind];
	return CLI_OK;
}

static void inspect_dir_load(struct inspect_dir *id, struct cli_ctx *ctx)
{
	const char *dir = ctx->dir;
	char path[PATH_MAX], err[PATH_MAX + 128];

	id->dir = dir;
	id->now = time(NULL);
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	if (access(path, F_OK) == 0 && (id->ca = xinfo_load_cert(path, err, sizeof(err))) &&
	    mq_x509_fingerprint(id->ca, id->ca_fpr))
		id->ca_fpr[0] = '\0';
	/* The policy store; policy.json only where there is none yet (an
	 * installation not migrated: inspect only looks). */
	snprintf(path, sizeof(path), "%s/store/data.mdb", dir);
	if (access(path, F_OK) == 0) {
		struct store *st = cmdtab_pki(ctx);

		if (st && !store_load_policy(st)) {
			id->policy = st->policy;
			st->policy = NULL;
		}
	} else {
		snprintf(path, sizeof(path), "%s/policy.json", dir);
		if (access(path, F_OK) == 0)
			id->policy = mq_policy_load(path, err, sizeof(err));
	}
	ERR_clear_error();
}

/* The server of DIR whose certificate has this fingerprint, into name. */
static bool inspect_find_server(const struct inspect_dir *id, const char *fpr, char *name,
				size_t len)
{
	char path[PATH_MAX], err[PATH_MAX + 128], f[MQ_FPR_LEN];
	bool found = false;
	struct dirent *e;
	DIR *dh;

	snprintf(path, sizeof(path), "%s/servers", id->dir);
	dh = opendir(path);
	while (dh && !found && (e = readdir(dh))) {
		X509 *x;

		if (!mq_name_valid(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/servers/%s/%s.crt", id->dir, e->d_name, e->d_name);
		if (access(path, F_OK) || !(x = xinfo_load_cert(path, err, sizeof(err))))
			continue;
		if (!mq_x509_fingerprint(x, f) && !strcmp(f, fpr)) {
			snprintf(name, len, "%.*s", MQ_NAME_MAX, e->d_name);
			found = true;
		}
		X509_free(x);
	}
	if (dh)
		closedir(dh);
	return found;
}

static bool inspect_add_name(cJSON *o, const char *key, const X509_NAME *n)
{
	char *s = xinfo_name(n);
	bool ok = s && cJSON_AddStringToObject(o, key, s);

	free(s);
	return ok;
}

/* "a, b, c" split into a JSON array of strings. */
static bool inspect_add_list(cJSON *o, const char *key, const char *list)
{
	cJSON *arr = cJSON_AddArrayToObject(o, key);
	const char *p = list;

	if (!arr || !list)
		return false;
	while (*p) {
		size_t n = strcspn(p, ",");
		char item[512];
		cJSON *s;

		snprintf(item, sizeof(item), "%.*s", (int)n, p);
		if (!(s = cJSON_CreateString(item)) || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			return false;
		}
		p += n;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return true;
}

static bool inspect_add_key_usage(cJSON *o, X509 *x)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} ku[] = {
		{KU_DIGITAL_SIGNATURE, "digitalSignature"}, {KU_NON_REPUDIATION, "nonRepudiation"},
		{KU_KEY_ENCIPHERMENT, "keyEncipherment"},   {KU_DATA_ENCIPHERMENT, "dataEncipherment"},
		{KU_KEY_AGREEMENT, "keyAgreement"},         {KU_KEY_CERT_SIGN, "keyCertSign"},
		{KU_CRL_SIGN, "cRLSign"},
	};
	static const struct {
		uint32_t bit;
		const char *name;
	} xku[] = {
		{XKU_SSL_SERVER, "serverAuth"}, {XKU_SSL_CLIENT, "clientAuth"},
		{XKU_CODE_SIGN, "codeSigning"}, {XKU_SMIME, "emailProtection"},
		{XKU_OCSP_SIGN, "OCSPSigning"}, {XKU_TIMESTAMP, "timeStamping"},
	};
	uint32_t k = X509_get_key_usage(x), e = X509_get_extended_key_usage(x);
	cJSON *a = cJSON_AddArrayToObject(o, "key_usage"), *b;

	if (!a)
		return false;
	/* UINT32_MAX means the extension is absent: any use is allowed. */
	for (size_t i = 0; k != UINT32_MAX && i < sizeof(ku) / sizeof(*ku); i++)
		if ((k & ku[i].bit) && !cJSON_AddItemToArray(a, cJSON_CreateString(ku[i].name)))
			return false;
	if (!(b = cJSON_AddArrayToObject(o, "extended_key_usage")))
		return false;
	for (size_t i = 0; e != UINT32_MAX && i < sizeof(xku) / sizeof(*xku); i++)
		if ((e & xku[i].bit) && !cJSON_AddItemToArray(b, cJSON_CreateString(xku[i].name)))
			return false;
	return true;
}

/* Where the certificate stands in DIR: the CA, a server, a device. */
static bool inspect_add_dir_role(cJSON *o, const struct inspect_dir *id, const char *fpr)
{
	const struct mq_cert *c = id->policy ? mq_policy_find_fingerprint(id->policy, fpr) : NULL;
	char name[MQ_NAME_MAX + 1];
	enum mq_cert_state s;

	if (*id->ca_fpr && !strcmp(id->ca_fpr, fpr))
		return cJSON_AddStringToObject(o, "in_dir", "the CA");
	if (c) {
		char text[MQ_NAME_MAX + 64];

		s = mq_cert_state(c, id->now);
		if (s == MQ_STATE_NOT_YET_VALID)
			s = MQ_STATE_ACTIVE;
		snprintf(text, sizeof(text), "device %s, %s in the policy", c->device->name,
			 mq_cert_state_str(s));
		return cJSON_AddStringToObject(o, "in_dir", text) &&
		       cJSON_AddStringToObject(o, "device", c->device->name) &&
		       cJSON_AddStringToObject(o, "policy_status", mq_cert_state_str(s));
	}
	if (inspect_find_server(id, fpr, name, sizeof(name))) {
		char text[MQ_NAME_MAX + 16];

		snprintf(text, sizeof(text), "server %s", name);
		return cJSON_AddStringToObject(o, "in_dir", text);
	}
	return cJSON_AddStringToObject(o, "in_dir",
				       id->policy ? "unknown: not in the policy" : "unknown: no policy in DIR");
}

static bool inspect_add_issued(cJSON *o, const struct inspect_dir *id, bool issued)
{
	if (!id->ca)
		return cJSON_AddStringToObject(o, "issued_by_dir_ca", "no CA in DIR");
	return cJSON_AddStringToObject(o, "issued_by_dir_ca",
				       issued ? "yes" : "no: not issued by this CA");
}

static cJSON *inspect_cert(X509 *x, const struct inspect_dir *id)
{
	cJSON *o = cJSON_CreateObject();
	char fpr[MQ_FPR_LEN], serial[MQ_SERIAL_LEN], key[64], *sans = xinfo_sans(x, NULL, NULL);
	time_t nb = 0, na = 0;
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	bool ok;

	xinfo_key_desc(X509_get0_pubkey(x), key, sizeof(key));
	ok = o && sans && !mq_x509_fingerprint(x, fpr) && !mq_x509_serial(x, serial) &&
	     !mq_x509_validity(x, &nb, &na) && cJSON_AddStringToObject(o, "type", "certificate") &&
	     inspect_add_name(o, "subject", X509_get_subject_name(x)) &&
	     inspect_add_name(o, "issuer", X509_get_issuer_name(x)) &&
	     inspect_add_list(o, "sans", sans) && cJSON_AddStringToObject(o, "serial", serial) &&
	     out_json_time(o, "not_before", nb) && out_json_time(o, "not_after", na) &&
	     cJSON_AddNumberToObject(o, "days_left", (double)out_days_left(na, id->now)) &&
	     cJSON_AddStringToObject(o, "key", key) &&
	     cJSON_AddStringToObject(o, "signature", xinfo_sig_name(X509_get_signature_nid(x))) &&
	     cJSON_AddStringToObject(o, "fingerprint", fpr) &&
	     cJSON_AddBoolToObject(o, "ca", bc && bc->ca) && inspect_add_key_usage(o, x) &&
	     inspect_add_issued(o, id, id->ca && xinfo_issued_by(x, id->ca)) &&
	     inspect_add_dir_role(o, id, fpr);
	BASIC_CONSTRAINTS_free(bc);
	free(sans);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *inspect_csr(X509_REQ *r, const struct inspect_dir *id)
{
	cJSON *o = cJSON_CreateObject();
	EVP_PKEY *pub = X509_REQ_get0_pubkey(r);
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(r);
	X509 *tmp = X509_new();
	char key[64], *sans = NULL;
	bool ok;

	/* A throwaway certificate carrying the requested extensions lets the SAN
	 * printer serve both. */
	for (int i = 0; tmp && i < sk_X509_EXTENSION_num(exts); i++)
		X509_add_ext(tmp, sk_X509_EXTENSION_value(exts, i), -1);
	sans = tmp ? xinfo_sans(tmp, NULL, NULL) : NULL;
	xinfo_key_desc(pub, key, sizeof(key));
	ok = o && sans && cJSON_AddStringToObject(o, "type", "csr") &&
	     inspect_add_name(o, "subject", X509_REQ_get_subject_name(r)) &&
	     inspect_add_list(o, "sans", sans) && cJSON_AddStringToObject(o, "key", key) &&
	     cJSON_AddStringToObject(o, "signature", xinfo_sig_name(X509_REQ_get_signature_nid(r))) &&
	     cJSON_AddBoolToObject(o, "signature_valid", pub && X509_REQ_verify(r, pub) == 1);
	ERR_clear_error();
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_free(tmp);
	free(sans);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static const char *inspect_device_by_serial(const struct inspect_dir *id, const char *serial)
{
	for (size_t i = 0; id->policy && i < id->policy->ndevices; i++)
		for (size_t j = 0; j < id->policy->devices[i]->ncerts; j++)
			if (!strcmp(id->policy->devices[i]->certs[j]->serial, serial))
				return id->policy->devices[i]->name;
	return NULL;
}

static cJSON *inspect_revoked(X509_REVOKED *r, const struct inspect_dir *id)
{
	const ASN1_INTEGER *ai = X509_REVOKED_get0_serialNumber(r);
	ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, NULL, NULL);
	BIGNUM *bn = ASN1_INTEGER_to_BN(ai, NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	cJSON *o = cJSON_CreateObject();
	const char *dev;
	time_t t = 0;
	bool ok = o && hex;

	for (char *p = hex; p && *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
	ok = ok && cJSON_AddStringToObject(o, "serial", hex) &&
	     (xinfo_asn1_time(X509_REVOKED_get0_revocationDate(r), &t)
		      ? cJSON_AddNullToObject(o, "date") != NULL
		      : out_json_time(o, "date", t));
	if (ok && reason)
		ok = cJSON_AddStringToObject(o, "reason",
					     ASN1_ENUMERATED_get(reason) == 1   ? "keyCompromise"
					     : ASN1_ENUMERATED_get(reason) == 4 ? "superseded"
					     : ASN1_ENUMERATED_get(reason) == 5 ? "cessationOfOperation"
					     : ASN1_ENUMERATED_get(reason) == 9 ? "privilegeWithdrawn"
										: "other");
	dev = ok ? inspect_device_by_serial(id, hex) : NULL;
	if (ok && dev)
		ok = cJSON_AddStringToObject(o, "device", dev) != NULL;
	ASN1_ENUMERATED_free(reason);
	OPENSSL_free(hex);
	BN_free(bn);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *inspect_crl(X509_CRL *crl, const struct inspect_dir *id)
{
	cJSON *o = cJSON_CreateObject(), *arr;
	ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);
	const X509_ALGOR *alg = NULL;
	time_t last = 0, next = 0;
	bool ok;

	X509_CRL_get0_signature(crl, NULL, &alg);
	ok = o && cJSON_AddStringToObject(o, "type", "crl") &&
	     inspect_add_name(o, "issuer", X509_CRL_get_issuer(crl)) &&
	     !xinfo_asn1_time(X509_CRL_get0_lastUpdate(crl), &last) &&
	     out_json_time(o, "last_update", last);
	if (ok && !xinfo_asn1_time(X509_CRL_get0_nextUpdate(crl), &next))
		ok = out_json_time(o, "next_update", next) &&
		     cJSON_AddNumberToObject(o, "days_left", (double)out_days_left(next, id->now));
	else if (ok)
		ok = cJSON_AddNullToObject(o, "next_update") != NULL;
	ok = ok && (num ? cJSON_AddNumberToObject(o, "crl_number", (double)ASN1_INTEGER_get(num))
			: cJSON_AddNullToObject(o, "crl_number")) &&
	     cJSON_AddStringToObject(o, "signature",
				     xinfo_sig_name(alg ? OBJ_obj2nid(alg->algorithm) : NID_undef)) &&
	     inspect_add_issued(o, id, id->ca && X509_CRL_verify(crl, X509_get0_pubkey(id->ca)) == 1) &&
	     (arr = cJSON_AddArrayToObject(o, "revoked"));
	ERR_clear_error();
	for (int i = 0; ok && i < sk_X509_REVOKED_num(rev); i++) {
		cJSON *r = inspect_revoked(sk_X509_REVOKED_value(rev, i), id);

		if (!r || !cJSON_AddItemToArray(arr, r)) {
			cJSON_Delete(r);
			ok = false;
		}
	}
	ASN1_INTEGER_free(num);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Opens the PKCS#12 MAC: no passphrase, an empty one, or the user's. */
static int inspect_p12_pass(PKCS12 *p12, const char *file, const char *passfile, char *pass,
			    size_t len)
{
	if (PKCS12_verify_mac(p12, NULL, 0) == 1 || PKCS12_verify_mac(p12, "", 0) == 1) {
		pass[0] = '\0';
		return 0;
	}
	if (passfile) {
		if (passphrase_read_file(passfile, pass, len))
			return -1;
	} else if (isatty(STDIN_FILENO)) {
		if (EVP_read_pw_string(pass, (int)len, "Enter PKCS#12 passphrase:", 0) || !*pass) {
			cli_err("no passphrase entered");
			return -1;
		}
	} else {
		cli_err("%s is protected by a passphrase: pass --passphrase-file FILE", file);
		return -1;
	}
	if (PKCS12_verify_mac(p12, pass, -1) != 1) {
		cli_err("%s: wrong passphrase (the PKCS#12 MAC does not verify)", file);
		return -1;
	}
	return 0;
}

static cJSON *inspect_p12(PKCS12 *p12, const char *file, const char *passfile,
			  const struct inspect_dir *id)
{
	char pass[PASSPHRASE_MAX], key[64];
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *chain = NULL;
	cJSON *o = NULL, *c = NULL, *arr;
	bool ok = false;

	if (inspect_p12_pass(p12, file, passfile, pass, sizeof(pass)))
		goto out;
	if (!PKCS12_parse(p12, pass, &pkey, &cert, &chain)) {
		/* Older tools (and phones' exports) use RC2/3DES from the legacy provider. */
		ERR_clear_error();
		if (!OSSL_PROVIDER_try_load(NULL, "legacy", 1) ||
		    !PKCS12_parse(p12, pass, &pkey, &cert, &chain)) {
			cli_err("%s: cannot decrypt the PKCS#12 contents: %s", file,
				ERR_reason_error_string(ERR_peek_last_error()));
			goto out;
		}
	}
	xinfo_key_desc(pkey, key, sizeof(key));
	if (!(o = cJSON_CreateObject()) || !cJSON_AddStringToObject(o, "type", "pkcs12") ||
	    !(pkey ? cJSON_AddStringToObject(o, "private_key", key)
		   : cJSON_AddNullToObject(o, "private_key")) ||
	    !cJSON_AddBoolToObject(o, "key_matches_certificate",
				   pkey && cert && X509_check_private_key(cert, pkey) == 1))
		goto oom;
	ERR_clear_error();
	if (cert) {
		if (!(c = inspect_cert(cert, id)) || !cJSON_AddItemToObject(o, "certificate", c))
			goto oom;
		c = NULL;
	}
	if (!(arr = cJSON_AddArrayToObject(o, "ca_certificates")))
		goto oom;
	for (int i = 0; i < sk_X509_num(chain); i++) {
		c = inspect_cert(sk_X509_value(chain, i), id);
		if (!c || !cJSON_AddItemToArray(arr, c))
			goto oom;
		c = NULL;
	}
	ok = true;
	goto out;
oom:
	cli_err("out of memory");
out:
	cJSON_Delete(c);
	OPENSSL_cleanse(pass, sizeof(pass));
	EVP_PKEY_free(pkey);
	X509_free(cert);
	sk_X509_pop_free(chain, X509_free);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* A DER object of the given kind, only when it spans the whole buffer. */
#define INSPECT_DER_FN(T, fn)                                                       \
	static T *inspect_##fn(const void *data, size_t len)                        \
	{                                                                           \
		const unsigned char *p = data;                                      \
		T *x = fn(NULL, &p, (long)len);                                     \
                                                                                    \
		if (x && p != (const unsigned char *)data + len) {                  \
			T##_free(x);                                                \
			x = NULL;                                                   \
		}                                                                   \
		return x;                                                           \
	}
INSPECT_DER_FN(X509, d2i_X509)
INSPECT_DER_FN(X509_CRL, d2i_X509_CRL)
INSPECT_DER_FN(X509_REQ, d2i_X509_REQ)
INSPECT_DER_FN(PKCS12, d2i_PKCS12)

static bool inspect_pem_is_key(const char *name)
{
	return strstr(name, "PRIVATE KEY") != NULL;
}

/* Each PEM block of the file into arr; *key tells whether one was a
 * private key (never shown). -1 when out of memory, else the count. */
static int inspect_pem(const char *data, size_t len, const struct inspect_dir *id, cJSON *arr,
		       bool *key)
{
	BIO *b = BIO_new_mem_buf(data, (int)len);
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long dlen;
	int n = 0;

	if (!b)
		return -1;
	while (PEM_read_bio(b, &name, &header, &der, &dlen)) {
		cJSON *o = NULL;
		X509 *x = NULL;
		X509_REQ *r = NULL;
		X509_CRL *c = NULL;

		if (inspect_pem_is_key(name)) {
			*key = true;
		} else if (!strcmp(name, "CERTIFICATE") || !strcmp(name, "X509 CERTIFICATE")) {
			if ((x = inspect_d2i_X509(der, dlen)))
				o = inspect_cert(x, id);
		} else if (!strcmp(name, "CERTIFICATE REQUEST") ||
			   !strcmp(name, "NEW CERTIFICATE REQUEST")) {
			if ((r = inspect_d2i_X509_REQ(der, dlen)))
				o = inspect_csr(r, id);
		} else if (!strcmp(name, "X509 CRL")) {
			if ((c = inspect_d2i_X509_CRL(der, dlen)))
				o = inspect_crl(c, id);
		}
		if ((x || r || c) && (!o || !cJSON_AddItemToArray(arr, o))) {
			cJSON_Delete(o);
			n = -1;
		} else if (o) {
			n++;
		}
		X509_free(x);
		X509_REQ_free(r);
		X509_CRL_free(c);
		if (der)
			OPENSSL_cleanse(der, (size_t)dlen);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
		name = header = NULL;
		der = NULL;
		if (n < 0)
			break;
	}
	ERR_clear_error();
	BIO_free(b);
	return n;
}

/* The objects of the file as a JSON array; NULL after printing why. */
static cJSON *inspect_file(const struct inspect_opts *o, const struct inspect_dir *id)
{
	char err[PATH_MAX + 128], *data = NULL;
	size_t len = 0;
	cJSON *arr = cJSON_CreateArray(), *obj = NULL;
	bool key = false;
	int n = 0;

	if (!arr) {
		cli_err("out of memory");
		return NULL;
	}
	if (mq_file_read(o->file, INSPECT_MAX_FILE, &data, &len, err, sizeof(err))) {
		cli_err("%s", err);
		goto fail;
	}
	if (strstr(data, "-----BEGIN ")) {
		n = inspect_pem(data, len, id, arr, &key);
		if (n < 0) {
			cli_err("out of memory");
			goto fail;
		}
	} else {
		X509 *x = inspect_d2i_X509(data, len);
		X509_CRL *c = x ? NULL : inspect_d2i_X509_CRL(data, len);
		X509_REQ *r = x || c ? NULL : inspect_d2i_X509_REQ(data, len);
		PKCS12 *p = x || c || r ? NULL : inspect_d2i_PKCS12(data, len);

		ERR_clear_error();
		if (x)
			obj = inspect_cert(x, id);
		else if (c)
			obj = inspect_crl(c, id);
		else if (r)
			obj = inspect_csr(r, id);
		else if (p && !(obj = inspect_p12(p, o->file, o->passfile, id))) {
			PKCS12_free(p);
			goto fail; /* inspect_p12 said why */
		}
		X509_free(x);
		X509_CRL_free(c);
		X509_REQ_free(r);
		PKCS12_free(p);
		if ((x || c || r || p) && (!obj || !cJSON_AddItemToArray(arr, obj))) {
			cJSON_Delete(obj);
			cli_err("out of memory");
			goto fail;
		}
		n = obj ? 1 : 0;
	}
	if (n == 0) {
		if (key)
			cli_err("%s holds only a private key: inspect shows certificates, CSRs, CRLs "
				"and PKCS#12 files and never prints keys",
				o->file);
		else
			cli_err("%s is not a certificate, CSR, CRL or PKCS#12 file (PEM or DER)",
				o->file);
		goto fail;
	}
	if (key && !cJSON_AddItemToArray(arr, cJSON_CreateString("private key (not shown)"))) {
		cli_err("out of memory");
		goto fail;
	}
	OPENSSL_cleanse(data, len);
	free(data);
	return arr;
fail:
	if (data)
		OPENSSL_cleanse(data, len);
	free(data);
	cJSON_Delete(arr);
	return NULL;
}

static const char *inspect_label(const char *key)
{
	static const char *const map[][2] = {
		{"type", "type"},
		{"subject", "subject"},
		{"issuer", "issuer"},
		{"sans", "SANs"},
		{"serial", "serial"},
		{"not_before", "valid from"},
		{"not_after", "valid until"},
		{"days_left", "days left"},
		{"key", "key"},
		{"private_key", "private key"},
		{"key_matches_certificate", "key matches"},
		{"signature", "signature"},
		{"signature_valid", "signature ok"},
		{"fingerprint", "SHA-256"},
		{"ca", "CA"},
		{"key_usage", "key usage"},
		{"extended_key_usage", "ext key usage"},
		{"issued_by_dir_ca", "issued by DIR"},
		{"in_dir", "in DIR"},
		{"last_update", "last update"},
		{"next_update", "next update"},
		{"crl_number", "CRL number"},
		{"revoked", "revoked"},
		{"certificate", "certificate"},
		{"ca_certificates", "CA certs"},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++)
		if (!strcmp(map[i][0], key))
			return map[i][1];
	return NULL; /* not shown to people (duplicates of another line) */
}

static void inspect_print_obj(const cJSON *o, int indent);

static void inspect_print_item(const cJSON *it, const char *label, int indent)
{
	const cJSON *e;

	if (cJSON_IsObject(it)) {
		printf("%*s%s\n", indent, "", label);
		inspect_print_obj(it, indent + 2);
		return;
	}
	printf("%*s%-14s ", indent, "", label);
	if (cJSON_IsString(it)) {
		printf("%s\n", it->valuestring);
	} else if (cJSON_IsNumber(it)) {
		printf("%.0f\n", it->valuedouble);
	} else if (cJSON_IsBool(it)) {
		printf("%s\n", cJSON_IsTrue(it) ? "yes" : "no");
	} else if (cJSON_IsNull(it)) {
		printf("-\n");
	} else if (cJSON_IsArray(it)) {
		if (!cJSON_GetArraySize(it)) {
			printf("none\n");
			return;
		}
		if (!cJSON_IsObject(it->child)) {
			cJSON_ArrayForEach(e, it) printf("%s%s", e == it->child ? "" : ", ",
							  cJSON_IsString(e) ? e->valuestring : "?");
			printf("\n");
			return;
		}
		printf("%d\n", cJSON_GetArraySize(it));
		cJSON_ArrayForEach(e, it) {
			const cJSON *s = cJSON_GetObjectItem(e, "serial"),
				    *d = cJSON_GetObjectItem(e, "date"),
				    *dev = cJSON_GetObjectItem(e, "device"),
				    *r = cJSON_GetObjectItem(e, "reason");

			if (cJSON_IsString(cJSON_GetObjectItem(e, "type"))) {
				inspect_print_obj(e, indent + 2);
				continue;
			}
			printf("%*s%s  %s%s%s%s%s\n", indent + 2, "",
			       cJSON_IsString(s) ? s->valuestring : "?",
			       cJSON_IsString(d) ? d->valuestring : "?", r ? "  " : "",
			       cJSON_IsString(r) ? r->valuestring : "", dev ? "  device " : "",
			       cJSON_IsString(dev) ? dev->valuestring : "");
		}
	}
}

static void inspect_print_obj(const cJSON *o, int indent)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, o) {
		const char *label = inspect_label(it->string);

		if (!label)
			continue;
		if (!strcmp(it->string, "days_left") && cJSON_IsNumber(it) && it->valuedouble < 0) {
			printf("%*s%-14s expired %.0f day(s) ago\n", indent, "", "days left",
			       -it->valuedouble);
			continue;
		}
		inspect_print_item(it, label, indent);
	}
}

int cmd_inspect(struct cli_ctx *ctx, int argc, char **argv)
{
	struct inspect_opts o = {0};
	struct inspect_dir id = {0};
	cJSON *arr = NULL, *doc, *it;
	int rc = inspect_parse(ctx, argc, argv, &o);

	if (rc)
		return rc;
	rc = CLI_FAIL;
	inspect_dir_load(&id, ctx);
	arr = inspect_file(&o, &id);
	if (!arr)
		goto out;
	if (o.json) {
		/* One object per file; a PEM bundle's further objects under "more". */
		doc = cJSON_DetachItemFromArray(arr, 0);
		if (!cJSON_AddStringToObject(doc, "file", o.file) ||
		    (cJSON_GetArraySize(arr) && !cJSON_AddItemReferenceToObject(doc, "more", arr))) {
			cJSON_Delete(doc);
			doc = NULL;
		}
		if (out_json(doc)) {
			cJSON_Delete(doc);
			goto out;
		}
		cJSON_Delete(doc);
	} else {
		cJSON_ArrayForEach(it, arr) {
			if (cJSON_IsString(it)) {
				printf("%s also holds a %s\n", o.file, it->valuestring);
				continue;
			}
			if (it != arr->child)
				printf("\n");
			inspect_print_obj(it, 0);
		}
	}
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
out:
	cJSON_Delete(arr);
	X509_free(id.ca);
	mq_policy_free(id.policy);
	return rc;
}
