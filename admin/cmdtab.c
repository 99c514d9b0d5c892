/* What a command table entry's CMD_PKI_* mode sets up: DIR opened for the
 * command in that mode, into the store main closes (kept out of main.c so
 * that the fuzz targets and tests, which link every admin module but
 * main, link the commands too). */
#include "cmds.h"
#include "cmdtab.h"
#include "store.h"

struct store *cmdtab_pki(struct cli_ctx *ctx)
{
	static const enum store_mode modes[] = {
		[CMD_PKI_READ] = STORE_READ,
		[CMD_PKI_WRITE] = STORE_WRITE,
		[CMD_PKI_CREATE] = STORE_CREATE,
	};
	enum store_mode mode;

	/* A command that opens DIR through main says so in the table. */
	if (ctx->pki == CMD_NO_PKI || !ctx->st || ctx->st->dir) {
		cli_err("internal error: the PKI opened twice or by a command without a PKI mode");
		return NULL;
	}
	mode = ctx->read_only && ctx->pki == CMD_PKI_WRITE ? STORE_READ : modes[ctx->pki];
	return store_open(ctx->st, ctx->dir, mode) ? NULL : ctx->st;
}

void cmdtab_pki_close(struct cli_ctx *ctx)
{
	if (ctx->st && ctx->st->dir)
		store_close(ctx->st);
}
