/* The command table: one entry per command, the single source of the
 * usage lines and descriptions that --help, --man (the mqadmin(1) page)
 * and the bash completion show. */
#ifndef ADMIN_CMDTAB_H
#define ADMIN_CMDTAB_H

#include <stddef.h>
#include <stdio.h>

#include "cli.h"

struct command {
	const char *group; /* first word */
	const char *name;  /* second word, or NULL for one-word commands */
	int (*run)(struct cli_ctx *ctx, int argc, char **argv);
	const char *usage;
	const char *about; /* one paragraph, unwrapped */
};

/* Writes the mqadmin(1) page in troff -man. options is the text of the
 * global options ("  -d, --dir DIR   what\n" lines). 0 or -1. */
int man_write(FILE *f, const struct command *cmds, size_t n, const char *options,
	      const char *version);

/* Prints text word-wrapped at width columns, each line indented. */
void man_wrap(FILE *f, const char *text, int indent, int width);

#endif
