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
struct store *cmd_pki(struct cli_ctx *ctx);

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

/* Shared by device revoke, cert revoke and device delete (cmd_device_revoke.c). */
/* A --reason (NULL: none) of 1-200 printable characters; else says why. */
bool revoke_reason_ok(const char *reason);
/* Marks cert revoked at now with reason (NULL: none). 0 or -1 (out of memory). */
int revoke_cert(struct mq_cert *cert, const char *reason, time_t now);
/* Saves st's policy with a new CRL number, then re-signs crl.pem. -1 when
 * the policy was not saved (nothing changed), 0 when both were done, 1
 * when only the policy was (warning printed, naming what, e.g. "device
 * 'x'": it is revoked all the same and 'crl update' is to be run). */
int revoke_commit(struct store *st, const char *passfile, const char *what);
int cmd_serve(struct cli_ctx *ctx, int argc, char **argv);
int cmd_sync(struct cli_ctx *ctx, int argc, char **argv);

#endif
