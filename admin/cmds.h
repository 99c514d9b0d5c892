/* The command handlers main dispatches to. Each gets argv with argv[0]
 * naming the command ("mqadmin device issue") and returns a CLI_* code. */
#ifndef ADMIN_CMDS_H
#define ADMIN_CMDS_H

#include "cli.h"

int cmd_init(struct cli_ctx *ctx, int argc, char **argv);
int cmd_server_issue(struct cli_ctx *ctx, int argc, char **argv);
int cmd_device_issue(struct cli_ctx *ctx, int argc, char **argv);
int cmd_device_list(struct cli_ctx *ctx, int argc, char **argv);
int cmd_device_show(struct cli_ctx *ctx, int argc, char **argv);
int cmd_device_revoke(struct cli_ctx *ctx, int argc, char **argv);
int cmd_device_renew(struct cli_ctx *ctx, int argc, char **argv);
int cmd_device_batch(struct cli_ctx *ctx, int argc, char **argv);
int cmd_device_set(struct cli_ctx *ctx, int argc, char **argv);
int cmd_acl_add(struct cli_ctx *ctx, int argc, char **argv);
int cmd_acl_list(struct cli_ctx *ctx, int argc, char **argv);
int cmd_acl_remove(struct cli_ctx *ctx, int argc, char **argv);
int cmd_acl_check(struct cli_ctx *ctx, int argc, char **argv);
int cmd_broker_config(struct cli_ctx *ctx, int argc, char **argv);
int cmd_audit(struct cli_ctx *ctx, int argc, char **argv);
int cmd_audit_log(struct cli_ctx *ctx, int argc, char **argv);
int cmd_expiring(struct cli_ctx *ctx, int argc, char **argv);
int cmd_doctor(struct cli_ctx *ctx, int argc, char **argv);
int cmd_inspect(struct cli_ctx *ctx, int argc, char **argv);
int cmd_policy_validate(struct cli_ctx *ctx, int argc, char **argv);
int cmd_serve(struct cli_ctx *ctx, int argc, char **argv);

#endif
