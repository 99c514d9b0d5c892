/* mqadmin sync: the command line of the fleet's per-broker daemon
 * (sync.c does the work). */
#include "cmds.h"

#include "cli.h"
#include "fleet.h"
#include "mq_names.h"
#include "sync.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t sync_stop;

static void sync_on_signal(int sig)
{
	(void)sig;
	sync_stop = 1;
}

int cmd_sync(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"etcd", required_argument, NULL, 'e'},
		{"etcd-prefix", required_argument, NULL, 'p'},
		{"instance", required_argument, NULL, 'i'},
		{"lease-ttl", required_argument, NULL, 'l'},
		{"metrics-file", required_argument, NULL, 'm'},
		{"etcd-user", required_argument, NULL, 'u'},
		{"etcd-password-file", required_argument, NULL, 'w'},
		{NULL, 0, NULL, 0},
	};
	struct sync_opts o = {.dir = ctx->dir, .lease_ttl = SYNC_LEASE_TTL};
	struct fleet_cfg fc = {0};
	struct sigaction sa = {.sa_handler = sync_on_signal};
	char inst[MQ_NAME_MAX + 1];
	int c;

	while ((c = cli_opt(ctx, argc, argv, opts)) != -1) {
		if (c == 'e') {
			fc.endpoints = optarg;
		} else if (c == 'p') {
			fc.prefix = optarg;
		} else if (c == 'i') {
			if (!mq_name_valid(optarg))
				return cli_usage_error(ctx, "invalid --instance '%s': use the broker's "
						       "plugin_opt_instance (letters, digits, . _ -)",
						       optarg);
			o.instance = optarg;
		} else if (c == 'l') {
			if (cli_parse_long(optarg, 2, 3600, &o.lease_ttl))
				return cli_usage_error(ctx, "invalid --lease-ttl '%s': use a number "
						       "of seconds from 2 to 3600 (default %d)",
						       optarg, SYNC_LEASE_TTL);
		} else if (c == 'm') {
			o.metrics_path = optarg;
		} else if (c == 'u') {
			fc.user = optarg;
		} else if (c == 'w') {
			fc.password_file = optarg;
		} else {
			return cli_usage_error(ctx, NULL);
		}
	}
	if (cli_operands(ctx, argc, argv, 0, 0, NULL))
		return CLI_USAGE;
	if ((fc.endpoints || fc.prefix || fc.user || fc.password_file) && fleet_configure(&fc))
		return CLI_USAGE;
	if (fc.endpoints)
		ctx->fleet = *fc.endpoints != '\0';
	if (!ctx->fleet)
		return cli_usage_error(ctx, "no etcd to follow: pass --etcd URL[,URL...] (or set "
				       "MQADMIN_ETCD, or etcd in the configuration file)");
	if (!o.instance) {
		if (sync_default_instance(ctx->dir, inst, sizeof(inst)))
			return CLI_FAIL;
		o.instance = inst;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	return sync_run(&o, &sync_stop) ? CLI_FAIL : CLI_OK;
}
