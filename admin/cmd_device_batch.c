/* device batch: many devices under one lock with one policy write. Every
 * name is checked before the first key is made; an interrupt stops after
 * the current device and records exactly the devices whose files exist. */
#include "cmds.h"
#include "crl.h"

#include "device.h"
#include "export.h"
#include "issue.h"
#include "mq_fileio.h"
#include "mq_names.h"
#include "store.h"

#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH_MAX 100000
#define BATCH_FILE_MAX (16 * 1024 * 1024)
#define BATCH_MAX_SANS ISSUE_MAX_SANS

struct batch_item {
	char *name;
	char *groups[CLI_MAX_GROUPS];
	size_t ngroups;
	char *csr;
	char *san; /* checked SAN list, malloc'd, or NULL */
};

struct batch {
	struct batch_item *items;
	size_t n;
	char *text; /* --from file; items point into it */
};

struct batch_opts {
	long count;
	const char *prefix;
	const char *from;
	char *groups[CLI_MAX_GROUPS];
	size_t ngroups;
	const char *san[BATCH_MAX_SANS]; /* --san templates */
	size_t nsan;
	struct issue_opts iss; /* --days, --key-type, --passphrase-file, the formats */
};

static volatile sig_atomic_t batch_stop;

static void batch_on_signal(int sig)
{
	(void)sig;
	batch_stop = 1;
}

/* Braces only as "{name}": a mistyped placeholder would otherwise be
 * issued literally where a SAN allows braces (an email's local part). */
static bool batch_template_ok(const char *t)
{
	for (const char *p = t; *p; p++) {
		if (!strncmp(p, "{name}", 6))
			p += 5;
		else if (*p == '{' || *p == '}') {
			cli_err("invalid --san '%s': the only placeholder is {name}", t);
			return false;
		}
	}
	return true;
}

static int batch_parse(struct cli_ctx *ctx, int argc, char **argv, struct batch_opts *o)
{
	static const struct option opts[] = {
		{"count", required_argument, NULL, 'n'},
		{"prefix", required_argument, NULL, 'p'},
		{"from", required_argument, NULL, 'f'},
		{"group", required_argument, NULL, 'g'},
		ISSUE_OPTIONS,
		{"san", required_argument, NULL, 's'},
		ISSUE_EXPORT_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	int c;

	o->iss.type = CA_KEY_EC;
	o->iss.days = DEVICE_DEFAULT_DAYS;
	while ((c = issue_getopt(ctx, argc, argv, opts, &o->iss)) != -1) {
		switch (c) {
		case ISSUE_OPT_BAD:
			return CLI_FAIL;
		case 'n':
			if (cli_parse_long(optarg, 1, BATCH_MAX, &o->count)) {
				cli_err("invalid --count '%s': use a number from 1 to %d", optarg, BATCH_MAX);
				return CLI_FAIL;
			}
			break;
		case 'p':
			o->prefix = optarg;
			break;
		case 'f':
			o->from = optarg;
			break;
		case 'g':
			if (cli_group_add(o->groups, &o->ngroups, optarg))
				return CLI_FAIL;
			break;
		case 's':
			if (o->nsan == BATCH_MAX_SANS) {
				cli_err("too many --san options: at most %d", BATCH_MAX_SANS);
				return CLI_FAIL;
			}
			if (!batch_template_ok(optarg))
				return CLI_FAIL;
			o->san[o->nsan++] = optarg;
			break;
		default:
			return cli_usage_error(ctx, NULL);
		}
	}
	if (cli_operands(ctx, argc, argv, 0, 0, NULL))
		return CLI_USAGE;
	if (o->from && (o->count || o->prefix))
		return cli_usage_error(ctx, "--from excludes --count and --prefix");
	if (!o->from && (!o->count || !o->prefix))
		return cli_usage_error(ctx, "give --count N and --prefix P, or --from FILE");
	if (issue_opts_check(ctx, &o->iss))
		return CLI_USAGE;
	/* device issue prints the passphrase it generates; a thousand of them
	 * on stdout would be a secret list nobody asked for. */
	if ((o->iss.ex.formats & EXPORT_P12) && !o->iss.ex.p12_passfile)
		return cli_usage_error(ctx, "device batch --format p12 needs --p12-passphrase-file FILE: "
				       "one passphrase for every device's p12");
	return CLI_OK;
}

static void batch_release(struct batch *b)
{
	for (size_t i = 0; b->items && i < b->n; i++) {
		if (!b->text)
			free(b->items[i].name);
		free(b->items[i].san);
	}
	free(b->items);
	free(b->text);
}

static int batch_add_group(struct batch_item *it, char *g, const char *file, size_t line)
{
	if (!mq_name_valid(g)) {
		cli_err("%s:%zu: invalid group name '%s': use 1-64 characters of A-Za-z0-9._-", file,
			line, g);
		return -1;
	}
	if (it->ngroups == CLI_MAX_GROUPS) {
		cli_err("%s:%zu: too many groups: at most %d", file, line, CLI_MAX_GROUPS);
		return -1;
	}
	it->groups[it->ngroups++] = g;
	return 0;
}

/* A --san template with every "{name}" replaced by the device name, checked
 * and appended to it->san. */
static int batch_add_san(struct batch_item *it, const char *tmpl, const char *where)
{
	char what[PATH_MAX + 96], *spec = NULL;
	size_t cap = strlen(tmpl) + 1, len = 0;
	int rc = -1;

	for (const char *p = strstr(tmpl, "{name}"); p; p = strstr(p + 6, "{name}"))
		cap += strlen(it->name);
	if (!(spec = malloc(cap))) {
		cli_err("out of memory");
		return -1;
	}
	for (const char *p = tmpl; *p;) {
		if (!strncmp(p, "{name}", 6)) {
			len += (size_t)sprintf(spec + len, "%s", it->name);
			p += 6;
		} else {
			spec[len++] = *p++;
		}
	}
	spec[len] = '\0';
	snprintf(what, sizeof(what), "SAN of device '%s'%s", it->name, where);
	rc = issue_add_device_san(&it->san, spec, what);
	free(spec);
	return rc;
}

static int batch_add_templates(struct batch_item *it, const struct batch_opts *o, const char *where)
{
	for (size_t i = 0; i < o->nsan; i++)
		if (batch_add_san(it, o->san[i], where))
			return -1;
	return 0;
}

/* One "NAME [group,group] [csr=PATH]" line (already stripped of comments). */
static int batch_parse_line(struct batch_item *it, char *s, const struct batch_opts *o,
			    size_t line)
{
	char *tok, *save = NULL, where[PATH_MAX + 32];
	bool have_groups = false, have_san = false;

	memset(it, 0, sizeof(*it));
	snprintf(where, sizeof(where), " (%s:%zu)", o->from, line);
	it->name = strtok_r(s, " \t\r", &save);
	if (!mq_name_valid(it->name)) {
		cli_err("%s:%zu: invalid device name '%s': use 1-64 characters of A-Za-z0-9._-",
			o->from, line, it->name);
		return -1;
	}
	for (size_t i = 0; i < o->ngroups; i++)
		it->groups[it->ngroups++] = o->groups[i];
	while ((tok = strtok_r(NULL, " \t\r", &save))) {
		if (!strncmp(tok, "csr=", 4)) {
			if (it->csr || !tok[4]) {
				cli_err("%s:%zu: give one csr=PATH", o->from, line);
				return -1;
			}
			it->csr = tok + 4;
			/* As device issue --csr refuses them: mqadmin never has the key. */
			if (o->iss.ex.formats & EXPORT_NEEDS_KEY) {
				cli_err("%s:%zu: --format %s needs the private key, which stays on device "
					"'%s' with csr=; use --format pem or der, or issue it in a batch "
					"without --format %s", o->from, line,
					o->iss.ex.formats & EXPORT_P12 ? "p12" : "c-header", it->name,
					o->iss.ex.formats & EXPORT_P12 ? "p12" : "c-header");
				return -1;
			}
		} else if (!strncmp(tok, "san=", 4)) {
			/* The line's own SANs replace the --san templates. */
			have_san = true;
			if (batch_add_san(it, tok + 4, where))
				return -1;
		} else if (!have_groups) {
			char *g, *gsave = NULL;

			have_groups = true;
			for (g = strtok_r(tok, ",", &gsave); g; g = strtok_r(NULL, ",", &gsave))
				if (batch_add_group(it, g, o->from, line))
					return -1;
		} else {
			cli_err("%s:%zu: unexpected '%s': use NAME [group,group] [csr=PATH] [san=SAN]...",
				o->from, line, tok);
			return -1;
		}
	}
	return have_san ? 0 : batch_add_templates(it, o, where);
}

static int batch_read_file(struct batch *b, const struct batch_opts *o)
{
	char err[512], *line, *next;
	size_t len = 0, lineno = 0, cap = 0;

	if (mq_file_read(o->from, BATCH_FILE_MAX, &b->text, &len, err, sizeof(err))) {
		cli_err("cannot read the device list: %s", err);
		return -1;
	}
	if (memchr(b->text, '\0', len)) {
		cli_err("%s holds a NUL byte: not a text file", o->from);
		return -1;
	}
	for (line = b->text; line; line = next) {
		char *hash, *p;

		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		for (p = line; *p == ' ' || *p == '\t' || *p == '\r'; p++)
			;
		if (!*p)
			continue;
		if (b->n == BATCH_MAX) {
			cli_err("%s:%zu: more than %d devices in one batch", o->from, lineno, BATCH_MAX);
			return -1;
		}
		if (b->n == cap) {
			struct batch_item *ni = realloc(b->items, (cap ? cap * 2 : 64) * sizeof(*ni));

			if (!ni) {
				cli_err("out of memory");
				return -1;
			}
			b->items = ni;
			cap = cap ? cap * 2 : 64;
		}
		if (batch_parse_line(&b->items[b->n], p, o, lineno)) {
			free(b->items[b->n].san);
			return -1;
		}
		b->n++;
	}
	if (!b->n) {
		cli_err("%s lists no devices", o->from);
		return -1;
	}
	return 0;
}

static int batch_make_names(struct batch *b, const struct batch_opts *o)
{
	b->items = calloc((size_t)o->count, sizeof(*b->items));
	if (!b->items) {
		cli_err("out of memory");
		return -1;
	}
	for (long i = 0; i < o->count; i++) {
		struct batch_item *it = &b->items[b->n];

		if (asprintf(&it->name, "%s%04ld", o->prefix, i + 1) < 0) {
			it->name = NULL;
			cli_err("out of memory");
			return -1;
		}
		b->n++;
		if (!mq_name_valid(it->name)) {
			cli_err("invalid --prefix '%s': '%s' is not a valid device name (1-64 characters "
				"of A-Za-z0-9._-)", o->prefix, it->name);
			return -1;
		}
		memcpy(it->groups, o->groups, o->ngroups * sizeof(*o->groups));
		it->ngroups = o->ngroups;
		if (batch_add_templates(it, o, ""))
			return -1;
	}
	return 0;
}

/* O(batch): the devices of the batch's names and those whose username
 * one of them is, nothing else. */
static int batch_load(struct store *st, const struct batch *b)
{
	if (store_load_devices(st, NULL, 0))
		return -1;
	for (size_t i = 0; i < b->n; i++)
		if (store_load_devices(st, (const char *const *)&b->items[i].name, 1) ||
		    store_load_user(st, b->items[i].name))
			return -1;
	return 0;
}

/* The batch's names into DIR/.inflight before any file is written. */
static int batch_intent(const struct store *st, const struct batch *b)
{
	const char **names = calloc(b->n, sizeof(*names));
	int rc;

	if (!names) {
		cli_err("out of memory");
		return -1;
	}
	for (size_t i = 0; i < b->n; i++)
		names[i] = b->items[i].name;
	rc = store_intent(st, names, b->n);
	free(names);
	return rc;
}

/* Every name new to the policy and unique within the batch. */
static int batch_check_names(const struct batch *b, const struct mq_policy *p)
{
	struct mq_strmap seen;
	int rc = -1;

	mq_strmap_init(&seen);
	for (size_t i = 0; i < b->n; i++) {
		const char *name = b->items[i].name;

		if (mq_policy_find_device(p, name)) {
			cli_err("device '%s' already exists; nothing was issued", name);
			goto out;
		}
		if (mq_policy_find_deleted(p, name)) {
			cli_err("device '%s' was deleted ('mqadmin device delete'); a batch never gives "
				"a new device an old one's identity: issue it alone with 'mqadmin device "
				"issue %s --force'; nothing was issued", name, name);
			goto out;
		}
		if (mq_policy_find_username(p, name)) {
			cli_err("'%s' is the username of device '%s'; nothing was issued", name,
				mq_policy_find_username(p, name)->name);
			goto out;
		}
		if (mq_strmap_get(&seen, name)) {
			cli_err("device '%s' is listed twice; nothing was issued", name);
			goto out;
		}
		if (mq_strmap_put(&seen, name, (void *)name)) {
			cli_err("out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	mq_strmap_release(&seen);
	return rc;
}

static void batch_progress(size_t done, size_t total, bool tty)
{
	if (tty) {
		int width = 40, fill = (int)(done * (size_t)width / total);

		fprintf(stderr, "\r[%.*s%*s] %zu/%zu", fill,
			"########################################", width - fill, "", done, total);
		if (done == total)
			fputc('\n', stderr);
	} else if (done % 100 == 0 || done == total) {
		fprintf(stderr, "issued %zu/%zu\n", done, total);
	}
}

int cmd_device_batch(struct cli_ctx *ctx, int argc, char **argv)
{
	struct batch_opts o = {0};
	struct batch b = {0};
	struct store *st = NULL;
	struct device_issued *done = NULL;
	struct sigaction sa = {0}, old_int, old_term;
	struct ca ca = {0};
	struct ca_keygen gen = {0};
	size_t ndone = 0;
	bool tty = isatty(STDERR_FILENO), handlers = false, failed = false;
	int rc;

	rc = batch_parse(ctx, argc, argv, &o);
	if (rc)
		return rc;
	rc = CLI_FAIL;
	if ((o.from ? batch_read_file(&b, &o) : batch_make_names(&b, &o)) ||
	    export_read_pass(&o.iss.ex))
		goto out;
	if (!(st = cmdtab_pki(ctx)) || batch_load(st, &b) ||
	    batch_check_names(&b, st->policy) || ca_load(&ca, st, o.iss.passfile) ||
	    ca_sign_prepare(&ca) || ca_keygen_start(&gen, o.iss.type))
		goto out;
	if (!(done = calloc(b.n, sizeof(*done)))) {
		cli_err("out of memory");
		goto out;
	}
	if (batch_intent(st, &b))
		goto out;
	sa.sa_handler = batch_on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	batch_stop = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	handlers = true;
	store_defer_sync(true);
	for (size_t i = 0; i < b.n && !batch_stop; i++) {
		struct device_issue_req req = {
			.name = b.items[i].name, .groups = b.items[i].groups,
			.ngroups = b.items[i].ngroups, .type = o.iss.type, .gen = &gen,
			.csr = b.items[i].csr, .san = b.items[i].san,
			.days = o.iss.days, .ex = &o.iss.ex,
		};

		if (device_issue_one(st, &ca, &req, &done[ndone])) {
			failed = true;
			break;
		}
		ndone++;
		batch_progress(ndone, b.n, tty);
	}
	if (tty && ndone < b.n)
		fputc('\n', stderr);
	/* The devices whose files are complete are recorded; the rest never
	 * existed. */
	store_defer_sync(false);
	/* The files must be on disk before the policy that names them. A
	 * failed save changed nothing (after its rename it cannot fail), so
	 * the files go with it. */
	if (ndone && (store_sync(st) || store_save_policy(st))) {
		for (size_t i = 0; i < ndone; i++)
			device_issued_undo(&done[i]);
		cli_err("nothing was issued");
		goto out;
	}
	if (ndone)
		crl_catch_up(st, &ca);
	for (size_t i = 0; i < ndone; i++)
		printf("%s\n", done[i].dir);
	if (cli_flush_stdout())
		goto out;
	if (failed || ndone < b.n) {
		cli_err("%s: issued %zu of %zu devices (all recorded in the policy); the others were not created",
			failed ? "stopped by the error above" : "interrupted", ndone, b.n);
		goto out;
	}
	printf("issued %zu device%s\n", ndone, ndone == 1 ? "" : "s");
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
out:
	if (handlers) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
	for (size_t i = 0; i < ndone; i++)
		device_issued_release(&done[i]);
	free(done);
	ca_keygen_end(&gen);
	ca_release(&ca);
	batch_release(&b);
	export_opts_release(&o.iss.ex);
	return rc;
}
