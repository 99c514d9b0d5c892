#include "cmds.h"

#include "ca.h"
#include "issue.h"
#include "store.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SERVER_DEFAULT_DAYS 825 /* the longest validity Apple's TLS clients accept */

struct server_opts {
	const char *name;
	const char *passfile;
	char *sans;
	enum ca_keytype type;
	int days;
	bool force;
};

static int server_parse(struct cli_ctx *ctx, int argc, char **argv, struct server_opts *o)
{
	static const struct option opts[] = {
		{"san", required_argument, NULL, 's'},
		{"days", required_argument, NULL, 'D'},
		{"key-type", required_argument, NULL, 'k'},
		{"force", no_argument, NULL, 'f'},
		{"passphrase-file", required_argument, NULL, 'P'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (issue_add_san(&o->sans, optarg))
				return CLI_FAIL;
			break;
		case 'D':
			if (cli_parse_days(optarg, 36500, &o->days))
				return CLI_FAIL;
			break;
		case 'k':
			if (ca_keytype_parse(optarg, &o->type))
				return CLI_FAIL;
			break;
		case 'f':
			o->force = true;
			break;
		case 'P':
			o->passfile = optarg;
			break;
		default:
			return cli_usage_error(ctx, NULL);
		}
	}
	if (cli_one_operand(ctx, argc, argv, "server NAME"))
		return CLI_USAGE;
	o->name = argv[optind];
	if (!cli_name_ok("server", o->name))
		return CLI_FAIL;
	if (!o->sans) {
		unsigned char a[4];
		char spec[80];

		/* Names cannot hold ':', so only an IPv4 address can be meant. */
		if (inet_pton(AF_INET, o->name, a) == 1)
			snprintf(spec, sizeof(spec), "IP:%s", o->name);
		else if (issue_dns_valid(o->name))
			snprintf(spec, sizeof(spec), "DNS:%s", o->name);
		else {
			cli_err("server name '%s' is not a valid host name: pass --san DNS:host or --san IP:addr",
				o->name);
			return CLI_FAIL;
		}
		if (issue_add_san(&o->sans, spec))
			return CLI_FAIL;
	}
	return CLI_OK;
}

int cmd_server_issue(struct cli_ctx *ctx, int argc, char **argv)
{
	struct server_opts o = {.type = CA_KEY_EC, .days = SERVER_DEFAULT_DAYS};
	struct store st = {.lockfd = -1};
	struct ca ca = {0};
	struct ca_req req = {0};
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *sub = NULL, *crt = NULL, *keyp = NULL;
	time_t now = time(NULL);
	bool created = false;
	int rc;

	rc = server_parse(ctx, argc, argv, &o);
	if (rc)
		goto out;
	rc = CLI_FAIL;
	if (store_open(&st, ctx->dir, STORE_WRITE) || ca_load(&ca, &st, o.passfile))
		goto out;
	if (asprintf(&sub, "servers/%s", o.name) < 0 || !(crt = store_path(&st, "%s/%s.crt", sub, o.name)) ||
	    !(keyp = store_path(&st, "%s/%s.key", sub, o.name)))
		goto out;
	if (!o.force && access(crt, F_OK) == 0) {
		cli_err("server '%s' already exists (%s); pass --force to replace its key and certificate",
			o.name, crt);
		goto out;
	}
	req.profile = CA_PROFILE_SERVER;
	req.cn = o.name;
	req.o = "mqcert server";
	req.san = o.sans;
	req.not_before = now - ISSUE_SKEW;
	req.not_after = now + (time_t)o.days * 86400;
	if (issue_check_expiry(&ca, req.not_after) || !(key = ca_keygen(o.type)))
		goto out;
	req.pub = key;
	if (!(cert = ca_issue(&ca, &req)))
		goto out;
	/* An identical subject makes verifiers take the leaf for the CA. */
	if (!X509_NAME_cmp(X509_get_subject_name(cert), X509_get_subject_name(ca.cert))) {
		cli_err("server '%s' would have the same subject as the CA: choose another name", o.name);
		goto out;
	}
	if (store_mkdir(&st, "servers", &created) || store_mkdir(&st, sub, &created) ||
	    issue_write_key(keyp, key, cert) || issue_write_cert(crt, cert))
		goto out;
	printf("%s\n%s\n", crt, keyp);
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
out:
	EVP_PKEY_free(key);
	X509_free(cert);
	ca_release(&ca);
	if (st.dir)
		store_close(&st);
	free(o.sans);
	free(sub);
	free(crt);
	free(keyp);
	return rc;
}
