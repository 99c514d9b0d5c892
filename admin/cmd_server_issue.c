/* server issue: a broker's (or an etcd member's or client's) certificate
 * and key in DIR/servers/NAME/, the key given to the user the broker runs as. */
#include "cmds.h"

#include "ca.h"
#include "issue.h"
#include "store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SERVER_DEFAULT_DAYS 825 /* the longest validity Apple's TLS clients accept */

struct server_opts {
	const char *name;
	const char *broker_user;
	bool user_given;
	char *sans;
	struct issue_opts iss; /* --days, --key-type, --passphrase-file */
	bool force;
	bool client;
	bool etcd_client;
};

static int server_parse(struct cli_ctx *ctx, int argc, char **argv, struct server_opts *o)
{
	static const struct option opts[] = {
		{"san", required_argument, NULL, 's'},
		ISSUE_OPTIONS,
		{"force", no_argument, NULL, 'f'},
		{"broker-user", required_argument, NULL, 'u'},
		{"client", no_argument, NULL, 'c'},
		{"etcd-client", no_argument, NULL, 'e'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = issue_getopt(ctx, argc, argv, opts, &o->iss)) != -1) {
		switch (c) {
		case ISSUE_OPT_BAD:
			return CLI_FAIL;
		case 's':
			if (issue_add_san(&o->sans, optarg))
				return CLI_FAIL;
			break;
		case 'f':
			o->force = true;
			break;
		case 'u':
			o->broker_user = optarg;
			o->user_given = true;
			break;
		case 'c':
			o->client = true;
			break;
		case 'e':
			o->etcd_client = true;
			break;
		default:
			return cli_usage_error(ctx, NULL);
		}
	}
	if (cli_operands(ctx, argc, argv, 1, 1, "server NAME"))
		return CLI_USAGE;
	o->name = argv[optind];
	if (!cli_name_ok("server", o->name))
		return CLI_FAIL;
	if (o->etcd_client && (o->client || o->sans)) {
		cli_err("--etcd-client issues a client identity without names: drop --client and --san");
		return CLI_USAGE;
	}
	if (!o->sans && !o->etcd_client) {
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

/* "user:group" of a file, numbers where no name is known. */
static void server_owner_str(const struct stat *sb, char *buf, size_t len)
{
	const struct passwd *pw = getpwuid(sb->st_uid);
	char uid[16];
	const struct group *gr;

	snprintf(uid, sizeof(uid), "%u", (unsigned)sb->st_uid);
	snprintf(buf, len, "%s", pw ? pw->pw_name : uid);
	gr = getgrgid(sb->st_gid);
	if (gr)
		snprintf(buf + strlen(buf), len - strlen(buf), ":%s", gr->gr_name);
	else
		snprintf(buf + strlen(buf), len - strlen(buf), ":%u", (unsigned)sb->st_gid);
}

/* Who may read the new key, said in one line on stderr. A replaced key
 * (--force) keeps its owner, group and mode (never more than 0640): the
 * operator may have set them by hand for a broker that runs today, and
 * resetting them would stop it at its next restart. A new key goes to the
 * broker's user when we are root, 0600: readable by exactly that user,
 * where 0640 with its group could open it to every service sharing a
 * group such as nogroup. 0, or -1 after printing what to run instead. */
static int server_key_owner(const char *keyp, const struct stat *old, const struct server_opts *o)
{
	/* Looked up here: getpwnam's buffer is shared with every other lookup. */
	const struct passwd *pw = getpwnam(o->broker_user);
	char owner[128];

	if (old && !o->user_given) {
		mode_t mode = old->st_mode & 0640;

		if (chown(keyp, old->st_uid, old->st_gid) || chmod(keyp, mode)) {
			cli_err("cannot give %s the owner and mode of the key it replaced: %s; run "
				"'chown %u:%u %s && chmod %03o %s'",
				keyp, strerror(errno), (unsigned)old->st_uid, (unsigned)old->st_gid,
				keyp, (unsigned)mode, keyp);
			return -1;
		}
		server_owner_str(old, owner, sizeof(owner));
		/* A key from before mqadmin handed it over may still be root's alone. */
		if (pw && pw->pw_uid != old->st_uid && !(pw->pw_gid == old->st_gid && (mode & 0040)))
			cli_err("%s keeps the owner %s and mode %03o of the key it replaced; user "
				"%s cannot read it: pass --broker-user %s to give it the key",
				keyp, owner, (unsigned)mode, o->broker_user, o->broker_user);
		else
			cli_err("%s keeps the owner %s and mode %03o of the key it replaced", keyp,
				owner, (unsigned)mode);
		return 0;
	}
	if (geteuid() != 0) {
		if (pw && pw->pw_uid != geteuid())
			cli_err("%s belongs to you (mode 600); a broker running as user %s cannot "
				"read it until root runs 'chown %s %s'",
				keyp, o->broker_user, o->broker_user, keyp);
		return 0;
	}
	if (!pw) {
		cli_err("%s stays root's (mode 600): there is no user '%s' here; chown it to the "
			"user the broker runs as, or pass --broker-user USER",
			keyp, o->broker_user);
		return 0;
	}
	if (chown(keyp, pw->pw_uid, (gid_t)-1)) {
		cli_err("cannot give %s to user %s: %s; run 'chown %s %s'", keyp, o->broker_user,
			strerror(errno), o->broker_user, keyp);
		return -1;
	}
	cli_err("%s now belongs to user %s (mode 600), so the broker running as %s can read it",
		keyp, o->broker_user, o->broker_user);
	return 0;
}

int cmd_server_issue(struct cli_ctx *ctx, int argc, char **argv)
{
	struct server_opts o = {.iss = {.type = CA_KEY_EC, .days = SERVER_DEFAULT_DAYS},
				.broker_user = STORE_BROKER_USER};
	struct stat old;
	bool replacing = false;
	struct store *st = NULL;
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
	if (o.user_given && !getpwnam(o.broker_user)) {
		cli_err("invalid --broker-user '%s': there is no such user here; name the user the "
			"broker runs as", o.broker_user);
		goto out;
	}
	if (!(st = cmdtab_pki(ctx)) || ca_load(&ca, st, o.iss.passfile))
		goto out;
	if (asprintf(&sub, "servers/%s", o.name) < 0 || !(crt = store_path(st, "%s/%s.crt", sub, o.name)) ||
	    !(keyp = store_path(st, "%s/%s.key", sub, o.name)))
		goto out;
	if (!o.force && access(crt, F_OK) == 0) {
		cli_err("server '%s' already exists (%s); pass --force to replace its key and certificate",
			o.name, crt);
		goto out;
	}
	replacing = lstat(keyp, &old) == 0 && S_ISREG(old.st_mode);
	/* etcd members dial each other with their server certificate, and
	 * etcd checks clientAuth on every client certificate. */
	req.profile = o.client ? CA_PROFILE_SERVER_CLIENT : CA_PROFILE_SERVER;
	req.cn = o.name;
	req.o = "mqcert server";
	if (o.etcd_client) {
		/* etcd 3.4's JSON gateway answers 400 to a client certificate
		 * with a CN once etcd auth is on: the name goes in the OU and the
		 * etcd user is a user name and password (docs/FLEET.md). */
		req.profile = CA_PROFILE_DEVICE;
		req.o = "mqcert etcd client";
		req.ou = (char *const *)&o.name; /* only read */
		req.nou = 1;
		req.no_cn = true;
	}
	req.san = o.sans;
	req.not_before = now - ISSUE_SKEW;
	req.not_after = now + (time_t)o.iss.days * 86400;
	if (issue_check_expiry(&ca, req.not_after) || !(key = ca_keygen(o.iss.type)))
		goto out;
	req.pub = key;
	if (!(cert = ca_issue(&ca, &req)))
		goto out;
	/* An identical subject makes verifiers take the leaf for the CA. */
	if (!X509_NAME_cmp(X509_get_subject_name(cert), X509_get_subject_name(ca.cert))) {
		cli_err("server '%s' would have the same subject as the CA: choose another name", o.name);
		goto out;
	}
	if (store_mkdir(st, "servers", &created) || store_mkdir(st, sub, &created) ||
	    issue_write_key(keyp, key, cert) || issue_write_cert(crt, cert) ||
	    server_key_owner(keyp, replacing ? &old : NULL, &o))
		goto out;
	printf("%s\n%s\n", crt, keyp);
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
out:
	EVP_PKEY_free(key);
	X509_free(cert);
	ca_release(&ca);
	free(o.sans);
	free(sub);
	free(crt);
	free(keyp);
	return rc;
}
