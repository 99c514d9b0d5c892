/* policy validate, export, import, diff. validate: the plugin's own reader on a file an operator is about
 * to move into place, so what it says is what the broker would do. */
#include "cmds.h"

#include "mq_acl.h"
#include "mq_err.h"
#include "mq_fileio.h"
#include "mq_policy.h"
#include "mq_store.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

	/* No options; getopt still handles "--" and refuses "-x". */
	if ((c = cli_opt(ctx, argc, argv, opts)) != -1)
		return cli_usage_error(ctx, NULL);
	if (cli_operands(ctx, argc, argv, 1, 1, "policy FILE"))
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

/* ---- export, import, diff: policy.json as the interchange format ---- */

struct pol_out {
	FILE *f;
	bool first;
};

static int pol_put_record(struct pol_out *o, const char *json, size_t len)
{
	if (fputs(o->first ? "\n" : ",\n", o->f) < 0 || fwrite(json, 1, len, o->f) != len)
		return -1;
	o->first = false;
	return 0;
}

static int pol_export_device(void *arg, const char *name, const char *json, size_t len)
{
	(void)name;
	return pol_put_record(arg, json, len);
}

static int pol_export_rule(void *arg, unsigned long id, const char *json, size_t len)
{
	(void)id;
	return pol_put_record(arg, json, len);
}

/* The store as one policy document, one record a line, streamed from
 * cursors in the read transaction: what policy validate and import read. */
static int pol_export(struct mq_store *db, FILE *f, char *err, size_t errlen)
{
	struct pol_out o = {f, true};
	uint64_t gen = 0, next = 1, crl = 0;
	char *deleted = NULL;
	size_t len;
	int rc = -1;

	if (mq_store_read_begin(db, err, errlen))
		return -1;
	mq_store_meta_get(db, "generation", &gen);
	mq_store_meta_get(db, "next_rule_id", &next);
	mq_store_meta_get(db, "crl_number", &crl);
	if (mq_store_meta_get_text(db, "deleted", &deleted, &len)) {
		mq_errf(err, errlen, "cannot read the deleted list");
		goto out;
	}
	fprintf(f, "{\"version\":%d,\"generation\":%" PRIu64 ",\"next_rule_id\":%" PRIu64,
		MQ_POLICY_VERSION, gen, next ? next : 1);
	if (crl)
		fprintf(f, ",\"crl_number\":%" PRIu64, crl);
	fputs(",\"devices\":[", f);
	if (mq_store_devices_each(db, pol_export_device, &o, err, errlen))
		goto out;
	fputs(o.first ? "],\"rules\":[" : "\n],\"rules\":[", f);
	o.first = true;
	if (mq_store_rules_each(db, pol_export_rule, &o, err, errlen))
		goto out;
	fputs(o.first ? "]" : "\n]", f);
	if (deleted && strcmp(deleted, "[]"))
		fprintf(f, ",\"deleted\":%s", deleted);
	fputs("}\n", f);
	rc = ferror(f) ? -1 : 0;
	if (rc)
		mq_errf(err, errlen, "write error");
out:
	mq_store_read_end(db);
	free(deleted);
	return rc;
}

int cmd_policy_export(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{NULL, 0, NULL, 0},
	};
	struct store *st;
	struct mq_store *db;
	char err[512] = "", *buf = NULL;
	size_t len = 0;
	FILE *mem = NULL;
	int rc = CLI_FAIL;

	if (cli_opt(ctx, argc, argv, opts) != -1)
		return cli_usage_error(ctx, NULL);
	if (argc - optind > 1)
		return cli_usage_error(ctx, "at most one FILE");
	if (!(st = cmdtab_pki(ctx)) || !(db = store_db(st)))
		goto out;
	if (optind == argc) {
		if (pol_export(db, stdout, err, sizeof(err))) {
			cli_err("cannot export the policy: %s", err);
			goto out;
		}
		rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
		goto out;
	}
	/* A file is written whole or not at all (it may be a backup). */
	mem = open_memstream(&buf, &len);
	if (!mem || pol_export(db, mem, err, sizeof(err)) || fclose(mem)) {
		mem = NULL;
		cli_err("cannot export the policy: %s", *err ? err : "out of memory");
		goto out;
	}
	mem = NULL;
	if (mq_file_write_atomic(argv[optind], buf, len, 0644, err, sizeof(err)) < 0) {
		cli_err("%s", err);
		goto out;
	}
	rc = CLI_OK;
out:
	if (mem)
		fclose(mem);
	free(buf);
	return rc;
}

/* The plugin's reader and rule compiler on path: NULL after saying why. */
static struct mq_policy *pol_read_file(const char *path)
{
	char err[512] = "";
	struct mq_policy *p = mq_policy_load(path, err, sizeof(err));
	struct mq_acl_index *idx;

	if (!p) {
		cli_err("%s", err);
		return NULL;
	}
	idx = mq_acl_index_build(p);
	if (!idx) {
		cli_err("%s: out of memory compiling the ACL rules", path);
		mq_policy_free(p);
		return NULL;
	}
	mq_acl_index_free(idx);
	return p;
}

int cmd_policy_import(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{NULL, 0, NULL, 0},
	};
	struct mq_policy *p = NULL;
	struct store *st;
	int rc = CLI_FAIL;

	if (cli_opt(ctx, argc, argv, opts) != -1)
		return cli_usage_error(ctx, NULL);
	if (cli_operands(ctx, argc, argv, 1, 1, "policy FILE"))
		return CLI_USAGE;
	if (!(p = pol_read_file(argv[optind]))) {
		cli_err("nothing was imported: the store is unchanged");
		goto out;
	}
	if (!(st = cmdtab_pki(ctx)) || store_import_policy(st, p))
		goto out;
	printf("imported %s: generation %lu, %zu device%s, %zu rule%s\n", argv[optind],
	       st->policy->generation, st->policy->ndevices, st->policy->ndevices == 1 ? "" : "s",
	       st->policy->nrules, st->policy->nrules == 1 ? "" : "s");
	p = NULL; /* st owns it */
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
out:
	mq_policy_free(p);
	return rc;
}

/* A side of a diff: a file, or "-" for the live store (*st, opened at the
 * first "-"; "- -" loads it twice). */
static struct mq_policy *pol_side(struct cli_ctx *ctx, struct store **st, const char *arg)
{
	struct mq_policy *p = NULL;

	if (strcmp(arg, "-"))
		return pol_read_file(arg);
	if ((*st || (*st = cmdtab_pki(ctx))) && !store_load_policy(*st)) {
		p = (*st)->policy;
		(*st)->policy = NULL;
	}
	return p;
}

static bool pol_same_json(char *a, char *b)
{
	bool same = a && b && !strcmp(a, b);

	free(a);
	free(b);
	return same;
}

int cmd_policy_diff(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{NULL, 0, NULL, 0},
	};
	struct mq_policy *a = NULL, *b = NULL;
	struct store *st = NULL;
	char e[200];
	size_t n = 0;
	int rc = CLI_FAIL;

	if (cli_opt(ctx, argc, argv, opts) != -1)
		return cli_usage_error(ctx, NULL);
	if (argc - optind != 2)
		return cli_usage_error(ctx, "policy diff takes two operands, A and B (a file or - for the store)");
	if (!(a = pol_side(ctx, &st, argv[optind])) || !(b = pol_side(ctx, &st, argv[optind + 1])))
		goto out;
	for (size_t i = 0; i < a->ndevices; i++) {
		const struct mq_device *d = a->devices[i], *o = mq_policy_find_device(b, d->name);

		if (!o)
			printf("- device %s\n", cli_escape(e, sizeof(e), d->name)), n++;
		else if (!pol_same_json(mq_device_json(d), mq_device_json(o)))
			printf("~ device %s\n", cli_escape(e, sizeof(e), d->name)), n++;
	}
	for (size_t i = 0; i < b->ndevices; i++)
		if (!mq_policy_find_device(a, b->devices[i]->name))
			printf("+ device %s\n", cli_escape(e, sizeof(e), b->devices[i]->name)), n++;
	for (size_t i = 0; i < a->nrules; i++) {
		const struct mq_rule *r = a->rules[i], *o = mq_policy_find_rule(b, r->id);

		if (!o)
			printf("- rule %lu\n", r->id), n++;
		else if (!pol_same_json(mq_rule_json(r), mq_rule_json(o)))
			printf("~ rule %lu\n", r->id), n++;
	}
	for (size_t i = 0; i < b->nrules; i++)
		if (!mq_policy_find_rule(a, b->rules[i]->id))
			printf("+ rule %lu\n", b->rules[i]->id), n++;
	if (cli_flush_stdout())
		goto out;
	rc = n ? CLI_FAIL : CLI_OK;
out:
	mq_policy_free(a);
	mq_policy_free(b);
	return rc;
}
