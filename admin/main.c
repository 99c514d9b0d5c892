/* mqadmin: the command table and the global options. */
#include "cli.h"
#include "cmds.h"
#include "crl.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MQCERT_VERSION
#define MQCERT_VERSION "unknown"
#endif

struct command {
	const char *group; /* first word */
	const char *name;  /* second word, or NULL for one-word commands */
	int (*run)(struct cli_ctx *ctx, int argc, char **argv);
	const char *usage;
};

static const struct command commands[] = {
	{"init", NULL, cmd_init,
	 "usage: mqadmin [-d DIR] init [--cn NAME] [--key-type ec|rsa|ed25519] [--days N]\n"
	 "                            [--passphrase-file FILE]\n"},
	{"server", "issue", cmd_server_issue,
	 "usage: mqadmin [-d DIR] server issue NAME [--san DNS:host | --san IP:addr]... [--days N]\n"
	 "                                     [--key-type ec|rsa|ed25519] [--force]\n"
	 "                                     [--passphrase-file FILE]\n"},
	{"device", "issue", cmd_device_issue,
	 "usage: mqadmin [-d DIR] device issue NAME [--group G]... [--username U] [--days N]\n"
	 "                                     [--key-type ec|rsa|ed25519 | --csr FILE]\n"
	 "                                     [--format pem|der|p12|c-header]...\n"
	 "                                     [--p12-passphrase-file FILE] [--p12-modern]\n"
	 "                                     [--passphrase-file FILE]\n"},
	{"device", "list", cmd_device_list, "usage: mqadmin [-d DIR] device list [--json]\n"},
	{"device", "show", cmd_device_show, "usage: mqadmin [-d DIR] device show NAME [--json]\n"},
	{"device", "revoke", cmd_device_revoke,
	 "usage: mqadmin [-d DIR] device revoke NAME [--reason TEXT] [--passphrase-file FILE]\n"},
	{"device", "renew", cmd_device_renew,
	 "usage: mqadmin [-d DIR] device renew NAME [--days N] [--key-type ec|rsa|ed25519 | --csr FILE]\n"
	 "                                     [--format pem|der|p12|c-header]...\n"
	 "                                     [--p12-passphrase-file FILE] [--p12-modern]\n"
	 "                                     [--passphrase-file FILE]\n"},
	{"device", "batch", cmd_device_batch,
	 "usage: mqadmin [-d DIR] device batch (--count N --prefix P | --from FILE) [--group G]...\n"
	 "                                     [--days N] [--key-type ec|rsa|ed25519]\n"
	 "                                     [--passphrase-file FILE]\n"},
	{"device", "set", cmd_device_set,
	 "usage: mqadmin [-d DIR] device set NAME [--group G]... [--no-groups] [--username U]\n"},
	{"acl", "add", cmd_acl_add,
	 "usage: mqadmin [-d DIR] acl add (--device NAME | --group G | --all) --topic PATTERN\n"
	 "                               --access read|write|readwrite [--deny]\n"},
	{"acl", "list", cmd_acl_list, "usage: mqadmin [-d DIR] acl list [--json]\n"},
	{"acl", "remove", cmd_acl_remove, "usage: mqadmin [-d DIR] acl remove ID\n"},
	{"acl", "check", cmd_acl_check,
	 "usage: mqadmin [-d DIR] acl check NAME TOPIC read|write|subscribe [--client-id ID]\n"},
	{"crl", NULL, crl_cmd, "usage: mqadmin [-d DIR] crl [--days N] [--passphrase-file FILE]\n"},
	{"broker-config", NULL, cmd_broker_config,
	 "usage: mqadmin [-d DIR] broker-config [--port N] [--bind ADDR] [--server NAME]\n"
	 "                                     [--plugin PATH] [--crl]\n"},
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
