#include "crl.h"
#include "cmds.h"

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

/* The number of the current crl.pem, or 0 when there is none. */
static long crl_previous_number(const char *path)
{
	BIO *b = BIO_new_file(path, "r");
	X509_CRL *crl = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
	ASN1_INTEGER *num = crl ? X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL) : NULL;
	long n = num ? ASN1_INTEGER_get(num) : 0;

	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	BIO_free(b);
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
	for (size_t i = 0; i < p->ndevices; i++)
		for (size_t j = 0; j < p->devices[i]->ncerts; j++)
			if (crl_add_revoked(crl, p->devices[i]->certs[j]))
				goto out;
	/* Deleted devices left the policy's devices, not the CRL. */
	for (size_t i = 0; i < p->ndeleted; i++)
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

	if (!path || store_load_revoked(st)) {
		free(path);
		return -1;
	}
	/* Never below the file's number (a policy from before crl_number)
	 * nor the policy's (crl.pem lost or corrupt): a relying party that
	 * saw CRL n ignores any CRL numbered n or lower. */
	file = crl_previous_number(path);
	if ((unsigned long)file >= st->policy->crl_number)
		st->policy->crl_number = (unsigned long)file + 1;
	crl = crl_build(ca, st->policy, (long)st->policy->crl_number, days);
	if (!crl)
		goto out;
	b = BIO_new(BIO_s_mem());
	if (!b || !PEM_write_bio_X509_CRL(b, crl) || (len = BIO_get_mem_data(b, &data)) <= 0) {
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
	if (!(st = cmd_pki(ctx)) || store_load_policy(st) ||
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
