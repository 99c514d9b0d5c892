/* init: creates DIR with a new CA (or adopts an existing one), an empty
 * policy store and an empty CRL, and records DIR as the machine's default. */
#include "cmds.h"

#include "ca.h"
#include "crl.h"
#include "fleet.h"
#include "issue.h"
#include "mq_fileio.h"
#include "passphrase.h"
#include "pkidir.h"
#include "store.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "mq_x509.h"
#include "mq_time.h"

#define INIT_DEFAULT_DAYS 3650

struct init_opts {
	const char *ca_cert, *ca_key; /* adopting an existing CA */
	bool cn_given; /* with --key-type or --days: a new CA, never an adopted one */
	const char *cn;
	struct issue_opts iss; /* --days, --key-type, --passphrase-file */
	int record; /* -1 --no-default, 0 decide, 1 --default */
};

static int init_parse(struct cli_ctx *ctx, int argc, char **argv, struct init_opts *o)
{
	static const struct option opts[] = {
		{"cn", required_argument, NULL, 'c'},
		ISSUE_OPTIONS,
		{"default", no_argument, NULL, 'R'},
		{"no-default", no_argument, NULL, 'N'},
		{"ca-cert", required_argument, NULL, 'C'},
		{"ca-key", required_argument, NULL, 'K'},
		{NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct init_opts){.cn = "mqcert CA",
				.iss = {.type = CA_KEY_EC, .days = INIT_DEFAULT_DAYS}};
	while ((c = issue_getopt(ctx, argc, argv, opts, &o->iss)) != -1) {
		switch (c) {
		case ISSUE_OPT_BAD:
			return CLI_FAIL;
		case 'c':
			o->cn = optarg;
			o->cn_given = true;
			break;
		case 'C':
			o->ca_cert = optarg;
			break;
		case 'K':
			o->ca_key = optarg;
			break;
		case 'R':
		case 'N':
			if (o->record && o->record != (c == 'R' ? 1 : -1))
				return cli_usage_error(ctx, "--default and --no-default exclude each other");
			o->record = c == 'R' ? 1 : -1;
			break;
		default:
			return cli_usage_error(ctx, NULL);
		}
	}
	if (cli_operands(ctx, argc, argv, 0, 0, NULL))
		return CLI_USAGE;
	if (!o->ca_cert != !o->ca_key)
		return cli_usage_error(ctx, "--ca-cert and --ca-key go together: adopting a CA "
				       "needs its certificate and its key");
	if (o->ca_cert && (o->cn_given || o->iss.type_given || o->iss.days_given))
		return cli_usage_error(ctx, "--cn, --key-type and --days make a new CA; an adopted "
				       "CA keeps its own");
	/* Never a CA in whatever directory we happen to be in. */
	if (ctx->dir_from == PKIDIR_NONE)
		return cli_usage_error(ctx, "init needs a directory for the new CA: pass -d DIR "
				       "(e.g. -d /etc/mqcert/pki) or set MQADMIN_DIR");
	if (!*o->cn || strlen(o->cn) > 64) {
		cli_err("invalid --cn '%s': use 1-64 characters", o->cn);
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* Refuses to touch a directory that already holds a CA (or a CA key). */
static int init_check_free(const struct store *st)
{
	static const char *const files[] = {"ca.crt", "ca.key"};

	for (size_t i = 0; i < 2; i++) {
		char *p = store_path(st, "%s", files[i]);
		int exists;

		if (!p)
			return -1;
		exists = access(p, F_OK) == 0;
		free(p);
		if (exists) {
			cli_err("%s already exists in %s; use a new --dir or remove it deliberately",
				files[i], st->dir);
			return -1;
		}
	}
	return 0;
}

static int init_write(const struct store *st, const char *name, const char *data, size_t len,
		      mode_t mode, char **written)
{
	char err[512], *p = store_path(st, "%s", name);

	if (!p)
		return -1;
	if (mq_file_write_atomic(p, data, len, mode, err, sizeof(err))) {
		cli_err("%s", err);
		free(p);
		return -1;
	}
	*written = p;
	return 0;
}

/* An existing CA (OwnTracks generate-CA.sh, easy-rsa, 'openssl req -x509'
 * recipes): checked before anything is written, so a refusal leaves DIR as
 * it was. Loads it into ca; *encrypted tells whether the key file was. */
static int init_adopt_check(const struct init_opts *o, struct ca *ca, time_t now)
{
	char err[512], *pem = NULL;
	size_t len = 0;
	uint32_t flags;
	time_t nb, na;
	int rc = -1;

	if (mq_file_read(o->ca_key, 64 * 1024, &pem, &len, err, sizeof(err))) {
		cli_err("cannot read --ca-key: %s", err);
		return -1;
	}
	if (ca_pem_encrypted(pem) && !o->iss.passfile) {
		cli_err("--ca-key %s is encrypted: pass --passphrase-file FILE with its passphrase "
			"(the copy in DIR stays encrypted with it)", o->ca_key);
		goto out;
	}
	if (!(ca->cert = ca_load_cert(o->ca_cert)))
		goto out;
	flags = X509_get_extension_flags(ca->cert);
	if (!(flags & EXFLAG_BCONS) || !(flags & EXFLAG_CA)) {
		cli_err("%s is not a CA certificate (no basicConstraints CA:TRUE): pass the CA's "
			"certificate (ca.crt), not a server or device certificate", o->ca_cert);
		goto out;
	}
	if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(ca->cert) & KU_KEY_CERT_SIGN)) {
		cli_err("%s may not sign certificates: its keyUsage lacks keyCertSign", o->ca_cert);
		goto out;
	}
	if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(ca->cert) & KU_CRL_SIGN)) {
		cli_err("%s may not sign CRLs (its keyUsage lacks cRLSign), and mqadmin signs the "
			"CRL with the CA: re-create the CA with keyUsage keyCertSign, cRLSign",
			o->ca_cert);
		goto out;
	}
	if (mq_x509_validity(ca->cert, &nb, &na)) {
		cli_err("cannot read the validity of %s", o->ca_cert);
		goto out;
	}
	if (now < nb || now >= na) {
		char t[MQ_TIME_LEN];

		mq_time_format(now < nb ? nb : na, t);
		cli_err("%s is %s %s: a CA out of date signs nothing any client accepts", o->ca_cert,
			now < nb ? "not valid before" : "expired on", t);
		goto out;
	}
	if (!(ca->key = ca_load_key(o->ca_key, o->iss.passfile)))
		goto out;
	if (X509_check_private_key(ca->cert, ca->key) != 1) {
		cli_err("--ca-key %s does not belong to --ca-cert %s (their public keys differ)",
			o->ca_key, o->ca_cert);
		goto out;
	}
	if (ca_key_acceptable(ca->key, "the CA key"))
		goto out;
	rc = 0;
out:
	ERR_clear_error();
	if (pem)
		OPENSSL_cleanse(pem, len);
	free(pem);
	return rc;
}

/* With etcd (issue 17): before writing, the fleet must be this CA's (a
 * fresh one joins no fleet) and its policy is loaded into st; after
 * ca.crt, the CA's fingerprint is recorded as the fleet's (claim). */
static int init_fleet(struct store *st, const X509 *cert, bool fresh, bool claim)
{
	char fpr[MQ_FPR_LEN];

	if (!fleet_enabled())
		return 0;
	if (mq_x509_fingerprint(cert, fpr)) {
		cli_err("cannot compute the CA certificate's fingerprint");
		return -1;
	}
	return claim ? store_fleet_claim(st, fpr) : store_fleet_init(st, fpr, fresh);
}

int cmd_init(struct cli_ctx *ctx, int argc, char **argv)
{
	struct init_opts o;
	struct store *st = NULL;
	struct ca ca = {0};
	struct ca_req req = {0};
	char pass[PASSPHRASE_MAX], *keypem = NULL, *crtpem = NULL, *written[4] = {0};
	size_t keylen = 0, crtlen = 0;
	time_t now = time(NULL);
	bool unrecorded = false;
	int rc;

	pass[0] = '\0';
	rc = init_parse(ctx, argc, argv, &o);
	if (rc)
		return rc;
	rc = CLI_FAIL;
	if (o.iss.passfile && passphrase_read_file(o.iss.passfile, pass, sizeof(pass)))
		return CLI_FAIL;
	/* Refused before DIR is created or locked: nothing to undo. */
	if (o.ca_cert && init_adopt_check(&o, &ca, now))
		goto out;
	if (!(st = cmdtab_pki(ctx)) || init_check_free(st))
		goto out;
	if (!o.ca_cert) {
		if (!(ca.key = ca_keygen(o.iss.type)))
			goto out;
		req.profile = CA_PROFILE_CA;
		req.cn = o.cn;
		req.o = "mqcert";
		req.pub = ca.key;
		req.not_before = now - 300;
		req.not_after = now + (time_t)o.iss.days * 86400;
		if (!(ca.cert = ca_issue(&ca, &req)))
			goto out;
	}
	if (ca_key_pem(ca.key, o.iss.passfile ? pass : NULL, ca.cert, &keypem, &keylen) ||
	    ca_cert_pem(ca.cert, &crtpem, &crtlen))
		goto out;
	if (!(st->policy = mq_policy_new())) {
		cli_err("out of memory");
		goto out;
	}
	/* With etcd: the fleet must be this CA's, and its policy (not an
	 * empty one) is what this directory starts from. */
	if (init_fleet(st, ca.cert, !o.ca_cert, false))
		goto out;
	/* ca.crt last: it is what marks DIR as holding a CA, so an
	 * interrupted init can simply be run again. */
	if (init_write(st, "ca.key", keypem, keylen, 0600, &written[0]) ||
	    crl_write(st, &ca, CRL_DEFAULT_DAYS) || store_save_policy(st) ||
	    init_write(st, "ca.crt", crtpem, crtlen, 0644, &written[3]) ||
	    init_fleet(st, ca.cert, false, true))
		goto out;
	printf("%s/ca.crt\n%s/ca.key\n%s/store\n%s/crl.pem\n", st->dir, st->dir, st->dir, st->dir);
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
	/* The CA is complete: a default that cannot be recorded is said but
	 * undoes nothing. */
	if (o.record >= 0 && pkidir_record_default(st->dir, o.record > 0))
		unrecorded = true;
out:
	if (rc && written[0]) {
		unlink(written[0]);
		for (size_t i = 0; i < 2; i++) {
			char *p = store_path(st, "%s", i ? "crl.pem" : "policy.json");

			if (p)
				unlink(p);
			free(p);
		}
	}
	for (size_t i = 0; i < 4; i++)
		free(written[i]);
	OPENSSL_cleanse(pass, sizeof(pass));
	if (keypem)
		OPENSSL_cleanse(keypem, keylen);
	free(keypem);
	free(crtpem);
	ca_release(&ca);
	/* main closes the store (releasing the lock) after the files of a
	 * failed run are gone. */
	return rc ? rc : unrecorded ? CLI_FAIL : CLI_OK;
}
