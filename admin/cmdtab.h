/* The command table: one entry per command, the single source of the
 * usage lines and descriptions that --help, --man (the mqadmin(1) page)
 * and the bash completion show. */
#ifndef ADMIN_CMDTAB_H
#define ADMIN_CMDTAB_H

#include <stddef.h>
#include <stdio.h>

#include "cli.h"

/* What main sets up for a command (as git's RUN_SETUP | NEED_WORK_TREE):
 * the mode in which cmdtab_pki opens DIR. The command calls cmdtab_pki once its
 * command line is checked, so that a usage error exits 2 before any PKI or
 * lock error; main closes the store after the command returns. */
enum {
	CMD_NO_PKI = 0,    /* opens no store through main (see the entry's comment) */
	CMD_PKI_READ = 1,  /* DIR must hold a CA; no lock */
	CMD_PKI_WRITE = 2, /* DIR must hold a CA; exclusive lock (read-only with --dry-run) */
	CMD_PKI_CREATE = 3 /* DIR is created when missing; exclusive lock */
};

struct command {
	const char *group; /* first word */
	const char *name;  /* second word, or NULL for one-word commands */
	int (*run)(struct cli_ctx *ctx, int argc, char **argv);
	unsigned pki; /* CMD_PKI_* */
	const char *usage;
	const char *about; /* one paragraph, unwrapped */
};

/* Writes the mqadmin(1) page in troff -man. options is the text of the
 * global options ("  -d, --dir DIR   what\n" lines). 0 or -1. */
int manpage_write(FILE *f, const struct command *cmds, size_t n, const char *options,
	      const char *version);

/* Prints text word-wrapped at width columns, each line indented. */
void manpage_wrap(FILE *f, const char *text, int indent, int width);

#endif
