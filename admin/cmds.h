/* The command handlers main dispatches to. Each gets argv with argv[0]
 * naming the command ("mqadmin device issue") and returns a CLI_* code. */
#ifndef ADMIN_CMDS_H
#define ADMIN_CMDS_H

#include "cli.h"
#include "mq_policy.h"
#include "store.h"

/* DIR opened in the command's table mode (ctx->pki; read-only when the
 * command set ctx->read_only), into the store main closes after the
 * command returns. Call it once, after the command line is checked. NULL
 * after printing why. */
struct store *cmdtab_pki(struct cli_ctx *ctx);

/* Closes the store cmdtab_pki opened before the command returns (serve:
 * it runs for days and opens DIR again at each renewal). */
void cmdtab_pki_close(struct cli_ctx *ctx);

int cmd_init(struct cli_ctx *ctx, int argc, char **argv);
int cmd_server_issue(struct cli_ctx *ctx, int argc, char **argv);
int cmd_device_issue(struct cli_ctx *ctx, int argc, char **argv);
int cmd_device_list(struct cli_ctx *ctx, int argc, char **argv);
int cmd_device_show(struct cli_ctx *ctx, int argc, char **argv);
int cmd_device_revoke(struct cli_ctx *ctx, int argc, char **argv);
int cmd_device_renew(struct cli_ctx *ctx, int argc, char **argv);
int cmd_device_batch(struct cli_ctx *ctx, int argc, char **argv);
int cmd_device_set(struct cli_ctx *ctx, int argc, char **argv);
int cmd_device_import(struct cli_ctx *ctx, int argc, char **argv);
int cmd_device_adopt(struct cli_ctx *ctx, int argc, char **argv);
int cmd_acl_add(struct cli_ctx *ctx, int argc, char **argv);
int cmd_acl_list(struct cli_ctx *ctx, int argc, char **argv);
int cmd_acl_remove(struct cli_ctx *ctx, int argc, char **argv);
int cmd_acl_check(struct cli_ctx *ctx, int argc, char **argv);
int cmd_acl_import(struct cli_ctx *ctx, int argc, char **argv);
int cmd_broker_config(struct cli_ctx *ctx, int argc, char **argv);
int cmd_audit(struct cli_ctx *ctx, int argc, char **argv);
int cmd_audit_log(struct cli_ctx *ctx, int argc, char **argv);
int cmd_expiring(struct cli_ctx *ctx, int argc, char **argv);
int cmd_doctor(struct cli_ctx *ctx, int argc, char **argv);
int cmd_inspect(struct cli_ctx *ctx, int argc, char **argv);
int cmd_policy_validate(struct cli_ctx *ctx, int argc, char **argv);
int cmd_policy_export(struct cli_ctx *ctx, int argc, char **argv);
int cmd_policy_import(struct cli_ctx *ctx, int argc, char **argv);
int cmd_policy_diff(struct cli_ctx *ctx, int argc, char **argv);
int cmd_cert_list(struct cli_ctx *ctx, int argc, char **argv);
int cmd_cert_revoke(struct cli_ctx *ctx, int argc, char **argv);
int cmd_device_suspend(struct cli_ctx *ctx, int argc, char **argv);
int cmd_device_resume(struct cli_ctx *ctx, int argc, char **argv);
int cmd_device_delete(struct cli_ctx *ctx, int argc, char **argv);
int cmd_report(struct cli_ctx *ctx, int argc, char **argv);

int cmd_serve(struct cli_ctx *ctx, int argc, char **argv);
int cmd_sync(struct cli_ctx *ctx, int argc, char **argv);

#endif
