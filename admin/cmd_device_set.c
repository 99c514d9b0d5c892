/* device set: change a device's groups or username in the policy. The
 * certificate is not touched: the plugin takes groups and username from the
 * policy, so the change applies on its next policy swap. */
#include "cmds.h"

#include "store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


struct devset_opts {
	const char *name;
	const char *username;
	char *groups[CLI_MAX_GROUPS];
	size_t ngroups;
	bool set_groups;
	bool no_groups;
	bool renew_now;
};

static int devset_parse(struct cli_ctx *ctx, int argc, char **argv, struct devset_opts *o)
{
	static const struct option opts[] = {
		{"group", required_argument, NULL, 'g'},
		{"no-groups", no_argument, NULL, 'n'},
		{"username", required_argument, NULL, 'u'},
		{"renew-now", no_argument, NULL, 'R'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = cli_opt(ctx, argc, argv, opts)) != -1) {
		switch (c) {
		case 'g':
			if (cli_group_add(o->groups, &o->ngroups, optarg))
				return CLI_FAIL;
			o->set_groups = true;
			break;
		case 'n':
			o->no_groups = true;
			break;
		case 'R':
			o->renew_now = true;
			break;
		case 'u':
			if (!cli_name_ok("user", optarg))
				return CLI_FAIL;
			o->username = optarg;
			break;
		default:
			return cli_usage_error(ctx, NULL);
		}
	}
	if (cli_operands(ctx, argc, argv, 1, 1, "device NAME"))
		return CLI_USAGE;
	if (o->set_groups && o->no_groups)
		return cli_usage_error(ctx, "--group and --no-groups exclude each other");
	if (!o->set_groups && !o->no_groups && !o->username && !o->renew_now)
		return cli_usage_error(ctx, "nothing to change: give --group, --no-groups, --username "
				       "or --renew-now");
	o->set_groups = o->set_groups || o->no_groups;
	o->name = argv[optind];
	return cli_name_ok("device", o->name) ? CLI_OK : CLI_FAIL;
}

/* "a,b" or "-" for none, malloc'd; NULL when out of memory. */
static char *devset_join(char *const *g, size_t n)
{
	size_t len = 2;
	char *s;

	for (size_t i = 0; i < n; i++)
		len += strlen(g[i]) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	strcpy(s, n ? "" : "-");
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, g[i]);
	}
	return s;
}

int cmd_device_set(struct cli_ctx *ctx, int argc, char **argv)
{
	struct devset_opts o = {0};
	struct store *st = NULL;
	struct mq_device *d;
	char err[256], *before = NULL, *after = NULL, *old_user = NULL;
	bool groups_changed = false, user_changed = false, renew_changed = false;
	int rc;

	rc = devset_parse(ctx, argc, argv, &o);
	if (rc)
		return rc;
	rc = CLI_FAIL;
	/* O(change): the device, and the one holding the new username if any. */
	if (!(st = cmdtab_pki(ctx)) ||
	    store_load_devices(st, (const char *const *)&o.name, 1) ||
	    (o.username && store_load_user(st, o.username)))
		goto out;
	d = mq_policy_find_device(st->policy, o.name);
	if (!d) {
		cli_err("no device '%s' in %s; see 'mqadmin device list'", o.name, st->dir);
		goto out;
	}
	if (!(before = devset_join(d->groups, d->ngroups)) || !(old_user = strdup(d->username)))
		goto oom;
	if (o.username && mq_policy_set_username(st->policy, d, o.username, err, sizeof(err))) {
		cli_err("cannot change the username of '%s': %s", o.name, err);
		goto out;
	}
	user_changed = strcmp(old_user, d->username) != 0;
	if (o.set_groups && mq_policy_set_groups(d, o.groups, o.ngroups, err, sizeof(err))) {
		cli_err("cannot change the groups of '%s': %s", o.name, err);
		goto out;
	}
	if (!(after = devset_join(d->groups, d->ngroups)))
		goto oom;
	groups_changed = strcmp(before, after) != 0;
	if (o.renew_now && d->service) {
		cli_err("'%s' is a service identity: renew it with 'mqadmin device renew %s'", o.name,
			o.name);
		goto out;
	}
	renew_changed = o.renew_now && !d->renew_now;
	d->renew_now = d->renew_now || o.renew_now;
	if (!groups_changed && !user_changed && !renew_changed) {
		printf("%s: unchanged\n", o.name);
		rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
		goto out;
	}
	if (store_save_policy(st))
		goto out;
	if (groups_changed)
		printf("%s: groups %s -> %s\n", o.name, before, after);
	if (user_changed)
		printf("%s: username %s -> %s\n", o.name, old_user, d->username);
	if (renew_changed)
		printf("%s: renewal window open until its next renewal\n", o.name);
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
	goto out;
oom:
	cli_err("out of memory");
out:
	free(before);
	free(after);
	free(old_user);
	return rc;
}
