/* doctor: options, the order of the checks, and the report. */
#include "cmds.h"

#include "doctor.h"
#include "out.h"
#include "mq_time.h"
#include "pkidir.h"
#include "store.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define DOCTOR_MAX_HOSTS 32

struct doctor_opts {
	const char *config;
	const char *user;
	const char *within_text;
	char *hosts[DOCTOR_MAX_HOSTS];
	size_t nhosts;
	long within_secs;
	bool json, strict;
};

static int doctor_parse(struct cli_ctx *ctx, int argc, char **argv, struct doctor_opts *o)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"host", required_argument, NULL, 'H'},
		{"within", required_argument, NULL, 'w'},
		{"broker-user", required_argument, NULL, 'u'},
		{"user", required_argument, NULL, 'u'}, /* deprecated: --broker-user */
		{"strict", no_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = cli_opt(ctx, argc, argv, opts)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'H':
			if (!*optarg || strpbrk(optarg, " \t/")) {
				cli_err("invalid --host '%s': use the host name or IP address clients "
					"connect to",
					optarg);
				return CLI_FAIL;
			}
			if (o->nhosts == DOCTOR_MAX_HOSTS) {
				cli_err("too many --host options: at most %d", DOCTOR_MAX_HOSTS);
				return CLI_FAIL;
			}
			o->hosts[o->nhosts++] = optarg;
			break;
		case 'w':
			if (cli_parse_duration("--within", optarg, &o->within_secs))
				return CLI_FAIL;
			o->within_text = optarg;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 's':
			o->strict = true;
			break;
		case 'j':
			o->json = true;
			break;
		default:
			return cli_usage_error(ctx, NULL);
		}
	}
	if (cli_operands(ctx, argc, argv, 0, 0, NULL))
		return CLI_USAGE;
	return CLI_OK;
}

static void doctor_count(const struct doctor *d, size_t *errors, size_t *warnings)
{
	*errors = *warnings = 0;
	for (size_t i = 0; i < d->nfindings; i++)
		(*(d->findings[i].sev == DOCTOR_ERROR ? errors : warnings))++;
}

static const char *doctor_sev_str(enum doctor_sev s)
{
	return s == DOCTOR_ERROR ? "error" : "warning";
}

static int doctor_print_json(const struct doctor *d, bool healthy)
{
	cJSON *root = cJSON_CreateObject(), *arr = NULL;
	size_t e, w;
	bool built = false;
	int rc;

	doctor_count(d, &e, &w);
	if (!root || !cJSON_AddStringToObject(root, "dir", d->dir) ||
	    !(d->config ? cJSON_AddStringToObject(root, "config", d->config)
			: cJSON_AddNullToObject(root, "config")) ||
	    !cJSON_AddBoolToObject(root, "healthy", healthy) ||
	    !cJSON_AddNumberToObject(root, "errors", (double)e) ||
	    !cJSON_AddNumberToObject(root, "warnings", (double)w) ||
	    !(arr = cJSON_AddArrayToObject(root, "findings")))
		goto out;
	for (size_t i = 0; i < d->nfindings; i++) {
		const struct doctor_finding *f = &d->findings[i];
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			goto out;
		}
		if (!cJSON_AddStringToObject(o, "severity", doctor_sev_str(f->sev)) ||
		    !cJSON_AddStringToObject(o, "check", f->check) ||
		    !cJSON_AddStringToObject(o, "what", f->what) ||
		    !(f->fix ? cJSON_AddStringToObject(o, "fix", f->fix)
			     : cJSON_AddNullToObject(o, "fix")))
			goto out;
	}
	built = true;
out:
	rc = out_json(built ? root : NULL);
	cJSON_Delete(root);
	return rc;
}

static void doctor_print_human(const struct doctor *d, bool healthy)
{
	size_t e, w;

	doctor_count(d, &e, &w);
	for (size_t i = 0; i < d->nfindings; i++) {
		const struct doctor_finding *f = &d->findings[i];

		printf("%s [%s]: %s\n", doctor_sev_str(f->sev), f->check, f->what);
		if (f->fix)
			printf("  fix: %s\n", f->fix);
		printf("\n");
	}
	printf("checked %s: CA, %zu server(s), %zu device(s), policy%s", d->dir, d->nservers,
	       d->ndevices, d->has_crl ? ", crl.pem" : "");
	if (d->config)
		printf("; %s: %zu listener(s)", d->config, d->nlisteners);
	if (d->user.known)
		printf("; broker user %s", d->user.name);
	printf("\n");
	if (!e && !w)
		printf("no problems found\n");
	else
		printf("%zu error(s), %zu warning(s): %s\n", e, w, healthy ? "healthy" : "not healthy");
}

int cmd_doctor(struct cli_ctx *ctx, int argc, char **argv)
{
	struct doctor_opts o = {.within_text = DOCTOR_DEFAULT_WITHIN, .within_secs = -1,
				.user = STORE_BROKER_USER};
	struct doctor d = {0};
	struct stat sb;
	size_t e, w;
	bool healthy;
	int rc = doctor_parse(ctx, argc, argv, &o);

	if (rc)
		return rc;
	if (o.within_secs < 0 && mq_duration_parse(o.within_text, &o.within_secs))
		return CLI_FAIL; /* cannot happen: the default parses */
	if (stat(ctx->dir, &sb) || !S_ISDIR(sb.st_mode)) {
		pkidir_err_missing(ctx->dir,
				   access(ctx->dir, F_OK) ? strerror(errno) : "not a directory");
		return CLI_FAIL;
	}
	d.dir = ctx->dir;
	d.config = o.config;
	d.hosts = o.hosts;
	d.nhosts = o.nhosts;
	d.within_secs = o.within_secs;
	d.within_text = o.within_text;
	d.now = time(NULL);
	doctor_user_init(&d.user, o.user);
	if (!d.user.known)
		doctor_add(&d, DOCTOR_WARNING, "no-broker-user",
			   "pass --broker-user NAME with the user mosquitto runs as",
			   "there is no user '%s' here: whether the broker can read its files was "
			   "not checked",
			   o.user);
	doctor_check_pki(&d);
	if (d.config)
		doctor_check_conf(&d);
	doctor_check_broker_access(&d);
	if (d.oom) {
		cli_err("out of memory");
		rc = CLI_FAIL;
		goto out;
	}
	doctor_count(&d, &e, &w);
	healthy = !e && !(o.strict && w);
	if (o.json ? doctor_print_json(&d, healthy) : (doctor_print_human(&d, healthy),
						       cli_flush_stdout())) {
		rc = CLI_FAIL;
		goto out;
	}
	rc = healthy ? CLI_OK : CLI_FAIL;
out:
	doctor_release(&d);
	return rc;
}
