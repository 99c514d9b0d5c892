/* device issue and device renew. */
#include "cmds.h"
#include "crl.h"

#include "ca.h"
#include "device.h"
#include "export.h"
#include "issue.h"
#include "store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>


struct devcmd_opts {
	const char *name;
	const char *username;
	const char *csr;
	char *groups[CLI_MAX_GROUPS];
	size_t ngroups;
	char *san;   /* checked --san list, malloc'd */
	bool no_san; /* renew: drop the device's SANs */
	bool force;  /* issue: a deleted device's name again */
	bool service; /* issue --role service: an identity of mqadmin serve */
	struct issue_opts iss; /* --days, --key-type, --passphrase-file, the formats */
};

/* What issue and renew both take. */
#define DEVCMD_OPTIONS                                                     \
	ISSUE_OPTIONS, ISSUE_EXPORT_OPTIONS,                               \
	{"csr", required_argument, NULL, 'C'},                             \
	{"san", required_argument, NULL, 's'}

/* Parses the options of issue (groups allowed) or renew (not). */
static int devcmd_parse(struct cli_ctx *ctx, int argc, char **argv, struct devcmd_opts *o,
			bool issue)
{
	static const struct option all[] = {
		DEVCMD_OPTIONS,
		{"group", required_argument, NULL, 'g'},
		{"username", required_argument, NULL, 'u'},
		{"force", no_argument, NULL, 'F'},
		{"role", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	static const struct option renew[] = {
		DEVCMD_OPTIONS,
		{"no-san", no_argument, NULL, 'N'},
		{NULL, 0, NULL, 0},
	};
	int c;

	o->iss.type = CA_KEY_EC;
	o->iss.days = DEVICE_DEFAULT_DAYS;
	while ((c = issue_getopt(ctx, argc, argv, issue ? all : renew, &o->iss)) != -1) {
		switch (c) {
		case ISSUE_OPT_BAD:
			return CLI_FAIL;
		case 'C':
			o->csr = optarg;
			break;
		case 'g':
			if (cli_group_add(o->groups, &o->ngroups, optarg))
				return CLI_FAIL;
			break;
		case 'u':
			if (!cli_name_ok("user", optarg))
				return CLI_FAIL;
			o->username = optarg;
			break;
		case 'r':
			if (strcmp(optarg, "device") && strcmp(optarg, "service"))
				return cli_usage_error(ctx, "--role '%s' must be device or service", optarg);
			o->service = !strcmp(optarg, "service");
			break;
		case 's':
			if (issue_add_device_san(&o->san, optarg, "--san"))
				return CLI_FAIL;
			break;
		case 'N':
			o->no_san = true;
			break;
		case 'F':
			o->force = true;
			break;
		default:
			return cli_usage_error(ctx, NULL);
		}
	}
	if (cli_operands(ctx, argc, argv, 1, 1, "device NAME"))
		return CLI_USAGE;
	if (o->csr && o->iss.type_given)
		return cli_usage_error(ctx, "--csr and --key-type exclude each other (the CSR has the key)");
	if (o->csr && (o->iss.ex.formats & EXPORT_NEEDS_KEY))
		return cli_usage_error(ctx, "--format %s needs the private key, which stays on the device "
				       "with --csr; use --format pem or der",
				       o->iss.ex.formats & EXPORT_P12 ? "p12" : "c-header");
	if (o->san && o->no_san)
		return cli_usage_error(ctx, "--san and --no-san exclude each other");
	if (issue_opts_check(ctx, &o->iss))
		return CLI_USAGE;
	o->name = argv[optind];
	return cli_name_ok("device", o->name) ? CLI_OK : CLI_FAIL;
}

int cmd_device_issue(struct cli_ctx *ctx, int argc, char **argv)
{
	struct devcmd_opts o = {0};
	struct store *st = NULL;
	struct device_issued out = {0};
	struct device_issue_req req;
	struct ca ca = {0};
	bool wrote = false;
	int rc;

	rc = devcmd_parse(ctx, argc, argv, &o, true);
	if (rc)
		goto out;
	req = (struct device_issue_req){
		.name = o.name, .username = o.username, .groups = o.groups, .ngroups = o.ngroups,
		.type = o.iss.type, .csr = o.csr, .san = o.san, .days = o.iss.days, .ex = &o.iss.ex,
	};
	rc = CLI_FAIL;
	/* O(change): the name, the device holding the username (to refuse it
	 * with its name), the deleted list; never the fleet. */
	if (!(st = cmdtab_pki(ctx)) ||
	    store_load_devices(st, (const char *const *)&o.name, 1) ||
	    store_load_user(st, o.username ? o.username : o.name))
		goto out;
	if (mq_policy_find_device(st->policy, o.name)) {
		cli_err("device '%s' already exists; use 'mqadmin device renew %s'", o.name, o.name);
		goto out;
	}
	/* A name is an identity in ACL rules, the audit log and other
	 * systems: reusing a deleted one must be a decision. */
	if (!o.force && mq_policy_find_deleted(st->policy, o.name)) {
		cli_err("device '%s' was deleted ('mqadmin device delete'); issuing the name again "
			"gives a new device the old one's identity: pass --force to do so", o.name);
		goto out;
	}
	if (ca_load(&ca, st, o.iss.passfile) || store_intent(st, (const char *const *)&o.name, 1))
		goto out;
	if (device_issue_one(st, &ca, &req, &out))
		goto out;
	wrote = true;
	mq_policy_find_device(st->policy, o.name)->service = o.service;
	/* It fails only before its rename (a failed directory fsync after it
	 * is a success with a warning): undoing the files is right then. */
	if (store_save_policy(st))
		goto out;
	wrote = false;
	crl_catch_up(st, &ca);
	device_issued_print(&out);
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
out:
	free(o.san);
	if (wrote)
		device_issued_undo(&out);
	device_issued_release(&out);
	ca_release(&ca);
	return rc;
}

static bool devcmd_all_revoked(const struct mq_device *d)
{
	for (size_t i = 0; i < d->ncerts; i++)
		if (d->certs[i]->status != MQ_CERT_REVOKED)
			return false;
	return true;
}

int cmd_device_renew(struct cli_ctx *ctx, int argc, char **argv)
{
	struct devcmd_opts o = {0};
	struct store *st = NULL;
	struct device_issued files = {0};
	struct device_key dk = {0};
	struct ca ca = {0};
	struct mq_device *d;
	X509 *cert = NULL;
	char *pem = NULL;
	size_t pemlen = 0;
	const char *san;
	bool staged = false;
	int rc;

	rc = devcmd_parse(ctx, argc, argv, &o, false);
	if (rc)
		goto out;
	rc = CLI_FAIL;
	if (!(st = cmdtab_pki(ctx)) ||
	    store_load_devices(st, (const char *const *)&o.name, 1))
		goto out;
	d = mq_policy_find_device(st->policy, o.name);
	if (!d) {
		cli_err("no device '%s' in %s; see 'mqadmin device list'", o.name, st->dir);
		goto out;
	}
	if (d->ncerts && devcmd_all_revoked(d)) {
		cli_err("device '%s' is revoked and cannot be renewed; issue it under a new name", o.name);
		goto out;
	}
	/* The device keeps its SANs (its identity) unless told otherwise. */
	san = o.san ? o.san : o.no_san || !d->ncerts ? NULL : d->certs[d->ncerts - 1]->san;
	if (ca_load(&ca, st, o.iss.passfile) || device_key_get(&dk, o.iss.type, NULL, o.csr))
		goto out;
	if (dk.csr && device_csr_has_san(dk.csr))
		cli_err("note: the CSR's SANs are ignored: a renewed device keeps its SANs (%s) "
			"unless --san or --no-san is given", san ? san : "none");
	if (device_certify(st->policy, d, &ca, dk.pub, san, o.iss.days, &cert, &pem, &pemlen))
		goto out;
	if (store_intent(st, (const char *const *)&o.name, 1))
		goto out;
	/* Stage beside the old files, commit the policy, then rename: a
	 * failure before the policy write leaves the old files and policy
	 * as they were. */
	if (device_files_write(st, &ca, o.name, dk.key, cert, pem, pemlen, &o.iss.ex, true, &files))
		goto out;
	staged = true;
	if (store_save_policy(st))
		goto out;
	staged = false;
	if (device_files_commit(&files, o.name, o.iss.ex.formats))
		goto out;
	device_issued_print(&files);
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
out:
	if (staged)
		device_issued_undo(&files);
	device_issued_release(&files);
	X509_free(cert);
	free(pem);
	device_key_release(&dk);
	ca_release(&ca);
	free(o.san);
	return rc;
}
