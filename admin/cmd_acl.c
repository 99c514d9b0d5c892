/* acl add, list, remove and check. check decides with the shared engine
 * (mq_acl.h), the same code the plugin runs on every message. */
#include "cmds.h"
#include "out.h"

#include "mq_x509.h"
#include "mq_acl.h"
#include "mq_topic.h"
#include "store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define ACL_MAX_OUS 64

/* "all", "device:NAME" or "group:NAME", as mq_acl_result_str writes them. */
static void acl_subject_str(const struct mq_rule *r, char *buf, size_t len)
{
	if (r->kind == MQ_SUBJ_ALL)
		snprintf(buf, len, "all");
	else
		snprintf(buf, len, "%s:%s", r->kind == MQ_SUBJ_DEVICE ? "device" : "group", r->subject);
}

static void acl_rule_str(const struct mq_rule *r, char *buf, size_t len)
{
	char subj[80];

	acl_subject_str(r, subj, sizeof(subj));
	snprintf(buf, len, "rule %lu: %s %s %s %s", r->id, subj, r->deny ? "deny" : "allow",
		 mq_rule_access_str(r->access), r->topic);
}

static bool acl_same_rule(const struct mq_rule *r, enum mq_subject_kind kind, const char *subject,
			  const char *topic, enum mq_access access, bool deny)
{
	return r->kind == kind && (kind == MQ_SUBJ_ALL || !strcmp(r->subject, subject)) &&
	       !strcmp(r->topic, topic) && r->access == access && r->deny == deny;
}

int cmd_acl_add(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"device", required_argument, NULL, 'D'},
		{"group", required_argument, NULL, 'g'},
		{"all", no_argument, NULL, 'a'},
		{"topic", required_argument, NULL, 't'},
		{"access", required_argument, NULL, 'A'},
		{"deny", no_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	struct store *st = NULL;
	enum mq_subject_kind kind = MQ_SUBJ_ALL;
	enum mq_access access = MQ_ACCESS_READ;
	const char *subject = NULL, *topic = NULL, *access_s = NULL;
	const struct mq_rule *r;
	char err[512], line[600];
	bool deny = false;
	int c, nsubj = 0, rc = CLI_FAIL;

	while ((c = cli_opt(ctx, argc, argv, opts)) != -1) {
		switch (c) {
		case 'D':
		case 'g':
			kind = c == 'D' ? MQ_SUBJ_DEVICE : MQ_SUBJ_GROUP;
			subject = optarg;
			nsubj++;
			break;
		case 'a':
			kind = MQ_SUBJ_ALL;
			subject = NULL;
			nsubj++;
			break;
		case 't':
			topic = optarg;
			break;
		case 'A':
			access_s = optarg;
			break;
		case 'n':
			deny = true;
			break;
		default:
			return cli_usage_error(ctx, NULL);
		}
	}
	if (cli_operands(ctx, argc, argv, 0, 0, NULL))
		return CLI_USAGE;
	if (nsubj != 1)
		return cli_usage_error(ctx, nsubj ? "give only one of --device, --group and --all"
						  : "missing subject: give --device NAME, --group G or --all");
	if (!topic)
		return cli_usage_error(ctx, "missing --topic PATTERN");
	if (!access_s)
		return cli_usage_error(ctx, "missing --access read|write|readwrite");
	if (subject && !cli_name_ok(kind == MQ_SUBJ_DEVICE ? "device" : "group", subject))
		return CLI_FAIL;
	if (mq_rule_access_parse(access_s, &access)) {
		cli_err("invalid --access '%s': use read, write or readwrite", access_s);
		return CLI_FAIL;
	}
	if (mq_pattern_valid(topic, err, sizeof(err))) {
		cli_err("invalid --topic: %s", err);
		return CLI_FAIL;
	}
	/* O(change): the rules and the device the rule names. */
	if (!(st = cmdtab_pki(ctx)) ||
	    store_load_devices(st, &subject, kind == MQ_SUBJ_DEVICE) || store_load_rules(st))
		goto out;
	if (kind == MQ_SUBJ_DEVICE && !mq_policy_find_device(st->policy, subject)) {
		cli_err("no device '%s' in %s; issue it first, or use --group for devices to come",
			subject, st->dir);
		goto out;
	}
	for (size_t i = 0; i < st->policy->nrules; i++) {
		if (acl_same_rule(st->policy->rules[i], kind, subject, topic, access, deny)) {
			acl_rule_str(st->policy->rules[i], line, sizeof(line));
			cli_err("the policy already has this rule (%s)", line);
			goto out;
		}
	}
	r = mq_policy_add_rule(st->policy, kind, subject, topic, access, deny, err, sizeof(err));
	if (!r) {
		cli_err("cannot add the rule: %s", err);
		goto out;
	}
	if (kind == MQ_SUBJ_GROUP && store_group_has_members(st, subject) == 0)
		out_warn("no device is in group '%s' yet; the rule applies once one is "
			"(mqadmin device set NAME --group %s)", subject, subject);
	acl_rule_str(r, line, sizeof(line));
	if (store_save_policy(st))
		goto out;
	printf("added %s\n", line);
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
out:
	return rc;
}

static cJSON *acl_rule_json(const struct mq_rule *r)
{
	cJSON *o = cJSON_CreateObject();
	char subj[80];

	acl_subject_str(r, subj, sizeof(subj));
	if (!o || !cJSON_AddNumberToObject(o, "id", (double)r->id) ||
	    !cJSON_AddStringToObject(o, "subject", subj) ||
	    !cJSON_AddStringToObject(o, "effect", r->deny ? "deny" : "allow") ||
	    !cJSON_AddStringToObject(o, "access", mq_rule_access_str(r->access)) ||
	    !cJSON_AddStringToObject(o, "topic", r->topic)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static int acl_list_json(const struct mq_policy *p)
{
	cJSON *arr = cJSON_CreateArray();
	int rc;

	for (size_t i = 0; arr && i < p->nrules; i++) {
		cJSON *o = acl_rule_json(p->rules[i]);

		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			cJSON_Delete(arr);
			arr = NULL;
		}
	}
	rc = out_json(arr);
	cJSON_Delete(arr);
	return rc;
}

static int acl_list_table(const struct mq_policy *p)
{
	static const char *const head[] = {"ID", "SUBJECT", "EFFECT", "ACCESS", "TOPIC"};
	struct out_cols cols;
	char id[24], subj[80];
	const char *row[5];

	out_cols_init(&cols, head, 5);
	for (int pass = 0; pass < 2; pass++) {
		if (pass)
			out_cols_row(&cols, head);
		for (size_t i = 0; i < p->nrules; i++) {
			const struct mq_rule *r = p->rules[i];

			snprintf(id, sizeof(id), "%lu", r->id);
			acl_subject_str(r, subj, sizeof(subj));
			row[0] = id;
			row[1] = subj;
			row[2] = r->deny ? "deny" : "allow";
			row[3] = mq_rule_access_str(r->access);
			row[4] = r->topic;
			if (pass)
				out_cols_row(&cols, row);
			else
				out_cols_fit(&cols, row);
		}
	}
	return cli_flush_stdout();
}

int cmd_acl_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	struct store *st = NULL;
	bool json = false;
	int c, rc = CLI_FAIL;

	while ((c = cli_opt(ctx, argc, argv, opts)) != -1) {
		if (c != 'j')
			return cli_usage_error(ctx, NULL);
		json = true;
	}
	if (cli_operands(ctx, argc, argv, 0, 0, NULL))
		return CLI_USAGE;
	if (!(st = cmdtab_pki(ctx)) || store_load_rules(st))
		goto out;
	if (json ? acl_list_json(st->policy) : acl_list_table(st->policy))
		goto out;
	rc = CLI_OK;
out:
	return rc;
}

int cmd_acl_remove(struct cli_ctx *ctx, int argc, char **argv)
{
	struct store *st = NULL;
	const struct mq_rule *r;
	char line[600];
	long id;
	int rc = CLI_FAIL;

	if (cli_opt(ctx, argc, argv, (const struct option[]){{NULL, 0, NULL, 0}}) != -1)
		return cli_usage_error(ctx, NULL);
	if (cli_operands(ctx, argc, argv, 1, 1, "rule ID"))
		return CLI_USAGE;
	if (cli_parse_long(argv[optind], 1, 0x7fffffffL, &id)) {
		cli_err("invalid rule id '%s': use the number 'mqadmin acl list' shows", argv[optind]);
		return CLI_FAIL;
	}
	if (!(st = cmdtab_pki(ctx)) || store_load_rules(st))
		goto out;
	r = mq_policy_find_rule(st->policy, (unsigned long)id);
	if (!r) {
		cli_err("no rule %ld in %s; see 'mqadmin acl list'", id, st->dir);
		goto out;
	}
	acl_rule_str(r, line, sizeof(line));
	mq_policy_remove_rule(st->policy, (unsigned long)id);
	if (store_save_policy(st))
		goto out;
	printf("removed %s\n", line);
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
out:
	return rc;
}

/* The OUs a device presents: those of devices/NAME/NAME.crt when that file
 * is one of the device's certificates in the policy (what the device most
 * likely connects with); from_cert false means the caller falls back to the
 * groups. */
struct acl_ous {
	char **v;
	size_t n;
	bool from_cert;
};

static int acl_ous_from_cert(struct acl_ous *o, const struct store *st, const struct mq_device *d)
{
	char *path = store_path(st, "devices/%s/%s.crt", d->name, d->name);
	char fpr[MQ_FPR_LEN];
	const struct mq_cert *c;
	X509 *cert = NULL;
	BIO *b = path ? BIO_new_file(path, "rb") : NULL;
	int rc = 0;

	if (!b || !(cert = PEM_read_bio_X509(b, NULL, NULL, NULL)) || mq_x509_fingerprint(cert, fpr))
		goto out;
	c = mq_policy_find_fingerprint(st->policy, fpr);
	if (!c || c->device != d)
		goto out;
	rc = mq_x509_ous(cert, ACL_MAX_OUS, &o->v, &o->n);
	o->from_cert = rc == 0;
out:
	ERR_clear_error();
	X509_free(cert);
	BIO_free(b);
	free(path);
	return rc;
}

static bool acl_device_usable(const struct mq_device *d, time_t now)
{
	for (size_t i = 0; i < d->ncerts; i++) {
		enum mq_cert_state s = mq_cert_state(d->certs[i], now);

		if (s == MQ_STATE_ACTIVE || s == MQ_STATE_NOT_YET_VALID)
			return true;
	}
	return false;
}

int cmd_acl_check(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"client-id", required_argument, NULL, 'c'},
		{NULL, 0, NULL, 0},
	};
	struct store *st = NULL;
	struct mq_acl_index *idx = NULL;
	struct mq_acl_client *cl = NULL;
	struct mq_acl_ident id = {0};
	struct mq_acl_result res;
	struct acl_ous ous = {0};
	enum mq_acl_access access;
	const struct mq_device *d;
	const char *client_id = NULL, *name, *topic;
	char line[1024];
	int c, rc = CLI_FAIL;

	while ((c = cli_opt(ctx, argc, argv, opts)) != -1) {
		if (c != 'c')
			return cli_usage_error(ctx, NULL);
		client_id = optarg;
	}
	if (cli_operands(ctx, argc, argv, 3, 3, argc - optind == 0 ? "device NAME"
						: argc - optind == 1 ? "TOPIC" : "access"))
		return CLI_USAGE;
	name = argv[optind];
	topic = argv[optind + 1];
	if (mq_acl_access_parse(argv[optind + 2], &access)) {
		cli_err("invalid access '%s': use read, write or subscribe", argv[optind + 2]);
		return CLI_FAIL;
	}
	/* The device and the rules, as the plugin holds them: not the fleet. */
	if (!cli_name_ok("device", name) || !(st = cmdtab_pki(ctx)) ||
	    store_load_devices(st, &name, 1) || store_load_rules(st))
		goto out;
	d = mq_policy_find_device(st->policy, name);
	if (!d) {
		cli_err("no device '%s' in %s; see 'mqadmin device list'", name, st->dir);
		goto out;
	}
	if (acl_ous_from_cert(&ous, st, d)) {
		cli_err("cannot read the certificate's OUs: out of memory");
		goto out;
	}
	id.device = d->name;
	id.username = d->username;
	/* The default client-id binding (exact) makes the client id the username. */
	id.client_id = client_id ? client_id : d->username;
	id.cn = d->name;
	id.ou = ous.from_cert ? (const char *const *)ous.v : (const char *const *)d->groups;
	id.nou = ous.from_cert ? ous.n : d->ngroups;
	if (!(idx = mq_acl_index_build(st->policy)) || mq_acl_client_init(&cl, idx, &id)) {
		cli_err("cannot evaluate the rules: out of memory");
		goto out;
	}
	mq_acl_check(cl, topic, access, &res);
	mq_acl_result_str(&res, line, sizeof(line));
	if (!acl_device_usable(d, time(NULL)))
		cli_err("note: device '%s' has no valid certificate; the broker refuses it before "
			"any ACL check", name);
	printf("%s\n", line);
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
out:
	mq_acl_client_free(cl);
	mq_acl_index_free(idx);
	mq_x509_ous_free(ous.v, ous.n);
	return rc;
}
