/* mqadmin: the command table and the global options. */
#include "cli.h"
#include "cmds.h"
#include "cmdtab.h"
#include "crl.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MQCERT_VERSION
#define MQCERT_VERSION "unknown"
#endif

static const struct command commands[] = {
	{"init", NULL, cmd_init,
	 "usage: mqadmin [-d DIR] init [--cn NAME] [--key-type ec|rsa|ed25519] [--days N]\n"
	 "                            [--passphrase-file FILE]\n",
	 "Creates DIR with a new CA: key (EC P-256 by default; rsa is 3072 bits), "
	 "self-signed certificate valid --days (default 10 years), an empty policy and an "
	 "empty CRL. With --passphrase-file the CA key is encrypted (AES-256). Refuses to "
	 "overwrite an existing CA."},
	{"server", "issue", cmd_server_issue,
	 "usage: mqadmin [-d DIR] server issue NAME [--san DNS:host | --san IP:addr]... [--days N]\n"
	 "                                     [--key-type ec|rsa|ed25519] [--force]\n"
	 "                                     [--passphrase-file FILE]\n",
	 "Issues a broker certificate (serverAuth) into DIR/servers/NAME/ with the given "
	 "subject alternative names (default: NAME as a DNS name or IPv4 address). Its "
	 "subject always differs from the CA's. --force replaces an existing one."},
	{"device", "issue", cmd_device_issue,
	 "usage: mqadmin [-d DIR] device issue NAME [--group G]... [--username U] [--days N]\n"
	 "                                     [--key-type ec|rsa|ed25519 | --csr FILE]\n"
	 "                                     [--format pem|der|p12|c-header]...\n"
	 "                                     [--p12-passphrase-file FILE] [--p12-modern]\n"
	 "                                     [--passphrase-file FILE]\n",
	 "Issues a client certificate with CN=NAME (one OU per group) into "
	 "DIR/devices/NAME/ and records it in the policy with its serial, SHA-256 "
	 "fingerprint and validity. With --csr the device keeps its key and mqadmin only "
	 "signs. --format adds DER, PKCS#12 (phones) or a C header (microcontrollers)."},
	{"device", "list", cmd_device_list, "usage: mqadmin [-d DIR] device list [--json]\n",
	 "Lists the devices of the policy: name, username, groups, status (active, "
	 "revoked, expired), expiry and serial."},
	{"device", "show", cmd_device_show, "usage: mqadmin [-d DIR] device show NAME [--json]\n",
	 "Shows one device with every certificate it holds."},
	{"device", "revoke", cmd_device_revoke,
	 "usage: mqadmin [-d DIR] device revoke NAME [--reason TEXT] [--passphrase-file FILE]\n",
	 "Marks every certificate of the device revoked in the policy and re-signs "
	 "crl.pem. A running plugin disconnects the device within a second."},
	{"device", "renew", cmd_device_renew,
	 "usage: mqadmin [-d DIR] device renew NAME [--days N] [--key-type ec|rsa|ed25519 | --csr FILE]\n"
	 "                                     [--format pem|der|p12|c-header]...\n"
	 "                                     [--p12-passphrase-file FILE] [--p12-modern]\n"
	 "                                     [--passphrase-file FILE]\n",
	 "Issues a new certificate for an existing device, same identity. The old one "
	 "stays valid until it expires or is revoked, so the device can roll over."},
	{"device", "batch", cmd_device_batch,
	 "usage: mqadmin [-d DIR] device batch (--count N --prefix P | --from FILE) [--group G]...\n"
	 "                                     [--days N] [--key-type ec|rsa|ed25519]\n"
	 "                                     [--passphrase-file FILE]\n",
	 "Issues many devices under one lock with one policy write: --count N names them "
	 "PREFIX0001, PREFIX0002 and on; --from FILE takes one name per line (optionally with groups "
	 "and a CSR path). Interrupting it never leaves a half-recorded device."},
	{"device", "set", cmd_device_set,
	 "usage: mqadmin [-d DIR] device set NAME [--group G]... [--no-groups] [--username U]\n",
	 "Changes a device's groups or username in the policy; the plugin applies it live."},
	{"acl", "add", cmd_acl_add,
	 "usage: mqadmin [-d DIR] acl add (--device NAME | --group G | --all) --topic PATTERN\n"
	 "                               --access read|write|readwrite [--deny]\n",
	 "Adds an ACL rule for a device, a group or all devices. PATTERN is an MQTT topic "
	 "filter in which %u is the client's username and %c its client id. Rules deny by "
	 "default; --deny beats an allow of the same or lower specificity."},
	{"acl", "list", cmd_acl_list, "usage: mqadmin [-d DIR] acl list [--json]\n",
	 "Lists the ACL rules with their ids."},
	{"acl", "remove", cmd_acl_remove, "usage: mqadmin [-d DIR] acl remove ID\n",
	 "Removes the rule with this id."},
	{"acl", "check", cmd_acl_check,
	 "usage: mqadmin [-d DIR] acl check NAME TOPIC read|write|subscribe [--client-id ID]\n",
	 "Prints the decision the plugin would make for this device, topic and access, and "
	 "the rule that made it."},
	{"crl", "update", crl_cmd,
	 "usage: mqadmin [-d DIR] crl update [--days N] [--passphrase-file FILE]\n",
	 "Re-signs DIR/crl.pem from the policy, valid for --days (default 30), with a CRL "
	 "number above every earlier one (kept in the policy). Run it when 'device revoke' "
	 "could not re-sign the CRL, and from a timer well before nextUpdate when a broker "
	 "uses crlfile: mosquitto refuses every client once its CRL is past nextUpdate "
	 "(examples/systemd/mqcert-crl.timer). Plain 'mqadmin crl' is the same command."},
	{"crl", NULL, crl_cmd, "usage: mqadmin [-d DIR] crl [--days N] [--passphrase-file FILE]\n",
	 "The same as 'crl update'."},
	/* "audit log" before "audit": a one-word entry matches any second word. */
	{"audit", "log", cmd_audit_log,
	 "usage: mqadmin [-d DIR] audit log [--device NAME] [--denied] [--since TIME]\n"
	 "                                  [--file PATH] [--json]\n",
	 "Prints the plugin's audit log (DIR/audit/audit.log, or --file): connects, refusals, "
	 "disconnects, kicks, policy loads, ACL denials and suspected clones, oldest "
	 "first. --device keeps one device's events, --denied only refusals and ACL "
	 "denials, --since those from an ISO 8601 UTC time or within an age like 2h or 3d. "
	 "Malformed lines are skipped and counted on stderr."},
	{"audit", NULL, cmd_audit, "usage: mqadmin [-d DIR] audit [--state FILE] [--json]\n",
	 "Lists who is connected now, from the state file the plugin keeps "
	 "(DIR/audit/connected.json, or --state): device, username, client id, address, since "
	 "when, expiry and serial, with flags for suspected clones and for certificates "
	 "that are revoked or unknown to the policy (which should never happen: then exit "
	 "status 1). Warns when the file is stale."},
	{"expiring", NULL, cmd_expiring,
	 "usage: mqadmin [-d DIR] expiring [--within DURATION] [--json]\n",
	 "Lists the CA, server and device certificates that expire within DURATION "
	 "(default 30d; also 12h, or a bare number of days), expired ones included; "
	 "revoked devices are left out. The CRL (kind crl, its number as serial) is listed "
	 "when its nextUpdate is within DURATION and 7 days: past it a broker with crlfile "
	 "refuses every client. Exit status 1 when something is listed, 0 when "
	 "nothing is, so it can run from cron or a systemd timer."},
	{"broker-config", NULL, cmd_broker_config,
	 "usage: mqadmin [-d DIR] broker-config [--port N] [--bind ADDR] [--server NAME]\n"
	 "                                     [--plugin PATH] [--crl]\n",
	 "Prints a mosquitto.conf block that works as printed: a TLS listener requiring "
	 "client certificates, TLS 1.2 or newer, the CA, server certificate and key of "
	 "DIR, and the plugin lines pointing at DIR/policy.json."},
	{"doctor", NULL, cmd_doctor,
	 "usage: mqadmin [-d DIR] doctor [--config FILE] [--host NAME|IP]... [--within DAYS]\n"
	 "                              [--user NAME] [--strict] [--json]\n",
	 "Checks DIR and, with --config, a mosquitto.conf (and its include_dir), and "
	 "prints each problem with its fix: CA and server with the same subject, server "
	 "certificates without SANs (or without one for each --host), only IP SANs "
	 "(ESP8266 BearSSL cannot verify them), private keys readable by others, files the "
	 "broker user (--user, default mosquitto) cannot read, certificates expired or "
	 "expiring within --within days (default 30), weak keys and SHA-1 signatures, "
	 "policy entries whose certificate file is missing or differs, a CRL near or past "
	 "nextUpdate, and config lines that break mqcert. Exit status 0 when there is no "
	 "error (warnings alone do not count unless --strict), 1 otherwise."},
	{"inspect", NULL, cmd_inspect,
	 "usage: mqadmin [-d DIR] inspect FILE [--passphrase-file FILE] [--json]\n",
	 "Shows what a certificate, CSR, CRL or PKCS#12 file (PEM or DER) holds: subject, "
	 "issuer, SANs, serial, validity, key, signature algorithm, SHA-256 fingerprint, "
	 "CA flag and key usages, whether DIR's CA issued it and what DIR's policy says "
	 "about it. A PKCS#12 passphrase comes from --passphrase-file or a prompt without "
	 "echo. Private keys are never printed."},
};

#define NCOMMANDS (sizeof(commands) / sizeof(*commands))

static const char main_options[] =
	"\n"
	"options:\n"
	"  -d, --dir DIR   PKI directory (default: $MQADMIN_DIR, else ./pki)\n"
	"  -h, --help      usage of mqadmin or of one command\n"
	"  --version       print the version\n"
	"exit status: 0 success, 1 the operation failed, 2 usage error\n";

/* Usage of every command whose first word is group (all when NULL). */
static void main_usage(FILE *f, const char *group)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!group || !strcmp(group, commands[i].group))
			fputs(commands[i].usage, f);
	if (!group)
		fputs(main_options, f);
}

static bool main_wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return false;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	}
	return false;
}

static int main_dispatch(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *group = argv[0], *name = argc > 1 ? argv[1] : NULL;
	bool known_group = false;
	char label[64];

	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct command *c = &commands[i];
		int skip = c->name ? 1 : 0;

		if (strcmp(c->group, group))
			continue;
		known_group = true;
		if (c->name && (!name || strcmp(c->name, name)))
			continue;
		ctx->usage = c->usage;
		if (main_wants_help(argc - 1 - skip, argv + 1 + skip)) {
			fputs(c->usage, stdout);
			if (c->about) {
				fputc('\n', stdout);
				man_wrap(stdout, c->about, 2, 80);
			}
			return fflush(stdout) ? CLI_FAIL : CLI_OK;
		}
		/* argv[0] names the command in getopt's own messages. */
		snprintf(label, sizeof(label), "mqadmin %s%s%s", c->group, c->name ? " " : "",
			 c->name ? c->name : "");
		argv[skip] = label;
		return c->run(ctx, argc - skip, argv + skip);
	}
	if (!known_group) {
		cli_err("unknown command '%s'; see 'mqadmin --help'", group);
		main_usage(stderr, NULL);
		return CLI_USAGE;
	}
	if (main_wants_help(argc - 1, argv + 1)) {
		main_usage(stdout, group);
		return fflush(stdout) ? CLI_FAIL : CLI_OK;
	}
	if (name)
		cli_err("unknown command '%s %s'", group, name);
	else
		cli_err("'%s' needs a subcommand", group);
	main_usage(stderr, group);
	return CLI_USAGE;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"man", no_argument, NULL, 'M'}, /* undocumented: builds mqadmin.1 */
		{NULL, 0, NULL, 0},
	};
	struct cli_ctx ctx = {0};
	const char *env = getenv("MQADMIN_DIR");
	int c;

	ctx.dir = env && *env ? env : "./pki";
	/* '+': global options end at the command word. */
	while ((c = getopt_long(argc, argv, "+d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			ctx.dir = optarg;
			break;
		case 'h':
			main_usage(stdout, NULL);
			return fflush(stdout) ? CLI_FAIL : CLI_OK;
		case 'V':
			printf("mqadmin %s\n", MQCERT_VERSION);
			return fflush(stdout) ? CLI_FAIL : CLI_OK;
		case 'M':
			if (man_write(stdout, commands, NCOMMANDS, main_options, MQCERT_VERSION))
				return CLI_FAIL;
			return cli_flush_stdout() ? CLI_FAIL : CLI_OK;
		default:
			main_usage(stderr, NULL);
			return CLI_USAGE;
		}
	}
	if (optind >= argc) {
		cli_err("no command given");
		main_usage(stderr, NULL);
		return CLI_USAGE;
	}
	if (!*ctx.dir) {
		cli_err("the PKI directory name is empty: pass -d DIR");
		return CLI_USAGE;
	}
	return main_dispatch(&ctx, argc - optind, argv + optind);
}
