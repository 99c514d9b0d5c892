/* cert list and cert revoke: certificates one by one, whatever device
 * holds them. A device keeps working on its other certificates when one is
 * revoked; 'device revoke' ends them all. */
#include "cmds.h"
#include "out.h"
#include "revoke.h"

#include "mq_names.h"
#include "mq_time.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* A prefix shorter than this must be a whole serial: one or two digits
 * would too easily name a certificate the operator did not mean. */
#define CERT_MIN_PREFIX 4
/* Candidates an ambiguous prefix lists before "and N more". */
#define CERT_MAX_LISTED 20

static cJSON *cert_json(const struct mq_cert *c, time_t now)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "device", c->device->name) ||
	    !cJSON_AddStringToObject(o, "state", mq_cert_state_str(out_cert_state(c, now))) ||
	    !out_json_cert(o, c) || !out_json_cert_end(o, c))
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

/* Lists devs[0..n) (one device, or all). */
static int cert_print_json(struct mq_device *const *devs, size_t n, time_t now)
{
	cJSON *arr = cJSON_CreateArray();
	int rc;

	for (size_t i = 0; arr && i < n; i++) {
		for (size_t j = 0; j < devs[i]->ncerts; j++) {
			cJSON *o = cert_json(devs[i]->certs[j], now);

			if (!o || !cJSON_AddItemToArray(arr, o)) {
				cJSON_Delete(o);
				cJSON_Delete(arr);
				arr = NULL;
				break;
			}
		}
	}
	rc = out_json(arr);
	cJSON_Delete(arr);
	return rc;
}

#define CERT_NSTATES (MQ_STATE_SUSPENDED + 1)

/* Fills row (6 cells) for c; nb, na and fp hold its texts. */
static void cert_row(const struct mq_cert *c, time_t now, const char *row[6],
		     char nb[MQ_TIME_LEN], char na[MQ_TIME_LEN], char fp[17])
{
	if (mq_time_format(c->not_before, nb))
		strcpy(nb, "?");
	if (mq_time_format(c->not_after, na))
		strcpy(na, "?");
	snprintf(fp, 17, "%.16s", c->fingerprint);
	row[0] = c->device->name;
	row[1] = mq_cert_state_str(out_cert_state(c, now));
	row[2] = c->serial;
	row[3] = fp;
	row[4] = nb;
	row[5] = na;
}

static int cert_print_table(struct mq_device *const *devs, size_t n, time_t now)
{
	static const char *const head[] = {"DEVICE", "STATE", "SERIAL", "FINGERPRINT", "NOT_BEFORE",
					   "NOT_AFTER"};
	size_t count[CERT_NSTATES] = {0}, total = 0;
	char nb[MQ_TIME_LEN], na[MQ_TIME_LEN], fp[17];
	const char *sep = ": ", *row[6];
	struct out_cols cols;

	/* The columns after DEVICE keep their widths whatever the rows hold
	 * (the longest state, a 16-byte serial, a timestamp). */
	out_cols_init(&cols, head, 6);
	cols.w[1] = strlen("suspended");
	cols.w[2] = 32;
	cols.w[4] = MQ_TIME_LEN - 1;
	for (int pass = 0; pass < 2; pass++) {
		if (pass)
			out_cols_row(&cols, head);
		for (size_t i = 0; i < n; i++) {
			for (size_t j = 0; j < devs[i]->ncerts; j++) {
				const struct mq_cert *c = devs[i]->certs[j];

				cert_row(c, now, row, nb, na, fp);
				if (!pass) {
					out_cols_fit(&cols, row);
					continue;
				}
				out_cols_row(&cols, row);
				count[out_cert_state(c, now)]++;
				total++;
			}
		}
	}
	printf("%zu certificate%s", total, total == 1 ? "" : "s");
	for (size_t s = 0; s < CERT_NSTATES; s++) {
		if (!count[s])
			continue;
		printf("%s%zu %s", sep, count[s], mq_cert_state_str((enum mq_cert_state)s));
		sep = ", ";
	}
	printf("\n");
	return cli_flush_stdout();
}

int cmd_cert_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"device", required_argument, NULL, 'D'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	struct store *st = NULL;
	struct mq_device *one;
	const char *device = NULL;
	bool json = false;
	int c, rc = CLI_FAIL;

	while ((c = cli_opt(ctx, argc, argv, opts)) != -1) {
		switch (c) {
		case 'D':
			device = optarg;
			break;
		case 'j':
			json = true;
			break;
		default:
			return cli_usage_error(ctx, NULL);
		}
	}
	if (cli_operands(ctx, argc, argv, 0, 0, NULL))
		return CLI_USAGE;
	if (device && !cli_name_ok("device", device))
		return CLI_FAIL;
	if (!(st = cmdtab_pki(ctx)) || store_load_policy(st))
		goto out;
	one = device ? mq_policy_find_device(st->policy, device) : NULL;
	if (device && !one) {
		if (mq_policy_find_deleted(st->policy, device))
			cli_err("device '%s' was deleted ('mqadmin device delete'); its certificates "
				"are revoked and no longer listed", device);
		else
			cli_err("no device '%s' in %s; see 'mqadmin device list'", device, st->dir);
		goto out;
	}
	if (json)
		rc = cert_print_json(one ? &one : st->policy->devices, one ? 1 : st->policy->ndevices,
				     time(NULL));
	else
		rc = cert_print_table(one ? &one : st->policy->devices, one ? 1 : st->policy->ndevices,
				      time(NULL));
	rc = rc ? CLI_FAIL : CLI_OK;
out:
	return rc;
}

/* The hex digits of a serial or fingerprint as typed: colons dropped
 * (openssl prints both with them), lowercased. false for anything else. */
static bool cert_normalize(const char *in, char *out, size_t outlen)
{
	size_t n = 0;

	for (; *in; in++) {
		if (*in == ':')
			continue;
		if (!isxdigit((unsigned char)*in) || n + 1 >= outlen)
			return false;
		out[n++] = (char)tolower((unsigned char)*in);
	}
	out[n] = '\0';
	return n > 0;
}

static bool cert_matches(const struct mq_cert *c, const char *q, size_t qlen)
{
	if (!strcmp(c->serial, q))
		return true;
	return qlen >= CERT_MIN_PREFIX &&
	       (!strncmp(c->serial, q, qlen) || !strncmp(c->fingerprint, q, qlen));
}

/* The one certificate of a live device that q names, or NULL after saying
 * why (none, or the candidates of an ambiguous prefix). */
static struct mq_cert *cert_find(const struct mq_policy *p, const char *given, const char *q,
				 time_t now)
{
	struct mq_cert *found = NULL;
	size_t qlen = strlen(q), n = 0;

	for (size_t i = 0; i < p->ndevices; i++) {
		for (size_t j = 0; j < p->devices[i]->ncerts; j++) {
			struct mq_cert *c = p->devices[i]->certs[j];

			/* A whole serial beats a fingerprint that starts with it. */
			if (!strcmp(c->serial, q))
				return c;
			if (!cert_matches(c, q, qlen))
				continue;
			found = c;
			n++;
		}
	}
	if (n == 1)
		return found;
	if (n == 0) {
		if (qlen < CERT_MIN_PREFIX)
			cli_err("no certificate has the serial '%s'; a prefix needs at least %d hex "
				"digits; see 'mqadmin cert list'", given, CERT_MIN_PREFIX);
		else
			cli_err("no certificate has a serial or fingerprint starting with '%s'; see "
				"'mqadmin cert list'", given);
		return NULL;
	}
	cli_err("'%s' matches %zu certificates; give more digits of the serial or fingerprint:",
		given, n);
	n = 0;
	for (size_t i = 0; i < p->ndevices; i++) {
		for (size_t j = 0; j < p->devices[i]->ncerts; j++) {
			const struct mq_cert *c = p->devices[i]->certs[j];

			if (!cert_matches(c, q, qlen) || n++ >= CERT_MAX_LISTED)
				continue;
			fprintf(stderr, "  %s  %.16s  %-9s  %s\n", c->serial, c->fingerprint,
				mq_cert_state_str(out_cert_state(c, now)), c->device->name);
		}
	}
	if (n > CERT_MAX_LISTED)
		fprintf(stderr, "  and %zu more\n", n - CERT_MAX_LISTED);
	return NULL;
}

int cmd_cert_revoke(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"reason", required_argument, NULL, 'r'},
		{"passphrase-file", required_argument, NULL, 'P'},
		{NULL, 0, NULL, 0},
	};
	struct store *st = NULL;
	struct mq_cert *cert;
	const char *reason = NULL, *passfile = NULL, *given;
	char q[MQ_FPR_LEN + 1], what[MQ_SERIAL_LEN + MQ_NAME_MAX + 64];
	char esc[CLI_ESCAPE_SIZE(64)];
	time_t now = time(NULL);
	int c, rc = CLI_FAIL, crl;
	size_t left = 0;

	while ((c = cli_opt(ctx, argc, argv, opts)) != -1) {
		switch (c) {
		case 'r':
			reason = optarg;
			break;
		case 'P':
			passfile = optarg;
			break;
		default:
			return cli_usage_error(ctx, NULL);
		}
	}
	if (cli_operands(ctx, argc, argv, 1, 1, "SERIAL or FINGERPRINT"))
		return CLI_USAGE;
	given = argv[optind];
	if (!cert_normalize(given, q, sizeof(q))) {
		cli_err("invalid serial or fingerprint '%s': use its hex digits (colons allowed), "
			"as 'mqadmin cert list' shows them", cli_escape(esc, sizeof(esc), given));
		return CLI_FAIL;
	}
	if (!revoke_reason_ok(reason))
		return CLI_FAIL;
	/* O(change): the devices the index says may hold q, then (crl_write)
	 * those already in the CRL. */
	if (!(st = cmdtab_pki(ctx)) || store_load_cert(st, q))
		goto out;
	cert = cert_find(st->policy, given, q, now);
	if (!cert)
		goto out;
	if (cert->status == MQ_CERT_REVOKED) {
		cli_err("certificate %s of device '%s' is already revoked", cert->serial,
			cert->device->name);
		goto out;
	}
	if (revoke_cert(cert, reason, now))
		goto out;
	for (size_t i = 0; i < cert->device->ncerts; i++)
		left += mq_cert_state(cert->device->certs[i], now) == MQ_STATE_ACTIVE;
	snprintf(what, sizeof(what), "certificate %s of device '%s'", cert->serial,
		 cert->device->name);
	crl = revoke_commit(st, passfile, what);
	if (crl < 0)
		goto out;
	printf("revoked certificate %s of device '%s' (%zu other active certificate%s); "
	       "%s/crl.pem %s\n", cert->serial, cert->device->name, left, left == 1 ? "" : "s",
	       st->dir, crl ? "NOT updated" : "updated");
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
out:
	return rc;
}
