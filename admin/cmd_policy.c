/* policy validate: the plugin's own reader on a file an operator is about
 * to move into place, so what it says is what the broker would do. */
#include "cmds.h"

#include "mq_acl.h"
#include "mq_policy.h"

#include <getopt.h>
#include <stdio.h>

int cmd_policy_validate(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{NULL, 0, NULL, 0},
	};
	struct mq_policy *p = NULL;
	struct mq_acl_index *idx = NULL;
	const char *path;
	char err[512] = "";
	int c, rc = CLI_FAIL;

	optind = 0;
	/* No options; getopt still handles "--" and refuses "-x". */
	if ((c = cli_getopt(argc, argv, "", opts, NULL)) != -1)
		return cli_usage_error(ctx, NULL);
	if (cli_one_operand(ctx, argc, argv, "policy FILE"))
		return CLI_USAGE;
	path = argv[optind];
	/* The same two steps as the plugin's load of a new generation. */
	p = mq_policy_load(path, err, sizeof(err));
	if (!p) {
		cli_err("%s", err);
		cli_err("invalid: the plugin would refuse this file and keep its last good policy");
		goto out;
	}
	idx = mq_acl_index_build(p);
	if (!idx) {
		cli_err("%s: out of memory compiling the ACL rules", path);
		goto out;
	}
	printf("ok: %s: generation %lu, %zu device%s, %zu rule%s\n", path, p->generation,
	       p->ndevices, p->ndevices == 1 ? "" : "s", p->nrules, p->nrules == 1 ? "" : "s");
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
out:
	mq_acl_index_free(idx);
	mq_policy_free(p);
	return rc;
}
