/* device import, device adopt: registering certificates that another tool
 * issued with this CA (a fleet that ran use_identity_as_username), so
 * existing devices move in without a new certificate. Only the certificate
 * is needed: the devices keep their keys. */
#include "cmds.h"

#include "ca.h"
#include "store.h"
#include "mq_x509.h"
#include "mq_fileio.h"
#include "mq_time.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define IMPORT_CERT_MAX (64 * 1024)
#define IMPORT_AUDIT_MAX (256L * 1024 * 1024)

/* One certificate to register. */
struct imp_item {
	const char *src;  /* file it came from, for messages */
	X509 *cert;
	char *name;       /* device name */
	char fpr[MQ_FPR_LEN];
};

struct imp_list {
	struct imp_item *v;
	size_t n, cap;
};

static void imp_list_free(struct imp_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		X509_free(l->v[i].cert);
		free(l->v[i].name);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* A certificate file, PEM or DER. NULL after printing why. */
static X509 *imp_read(const char *path)
{
	char err[512], *buf = NULL;
	const unsigned char *p;
	size_t len = 0;
	X509 *x = NULL;
	BIO *b;

	if (mq_file_read(path, IMPORT_CERT_MAX, &buf, &len, err, sizeof(err))) {
		cli_err("%s", err);
		return NULL;
	}
	b = BIO_new_mem_buf(buf, (int)len);
	x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!x) {
		p = (const unsigned char *)buf;
		x = d2i_X509(NULL, &p, (long)len);
	}
	if (!x)
		cli_err("%s holds no certificate (PEM or DER)", path);
	ERR_clear_error();
	free(buf);
	return x;
}

/* Why cert cannot be registered with this CA at now, into why; 0 when it
 * can. The signature decides, not the issuer name: another CA may have the
 * same name. */
static int imp_judge(X509 *cert, X509 *ca, time_t now, char *why, size_t len)
{
	EVP_PKEY *capub = X509_get0_pubkey(ca);
	char t[MQ_TIME_LEN];
	time_t nb, na;
	uint32_t flags = X509_get_extension_flags(cert);

	if (X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(ca)) ||
	    !capub || X509_verify(cert, capub) != 1) {
		ERR_clear_error();
		snprintf(why, len, "not signed by this CA (its signature does not verify with the "
			 "key of ca.crt)");
		return -1;
	}
	if ((flags & EXFLAG_CA) && (flags & EXFLAG_BCONS)) {
		snprintf(why, len, "a CA certificate, not a device's");
		return -1;
	}
	if (mq_x509_validity(cert, &nb, &na)) {
		snprintf(why, len, "its validity cannot be read");
		return -1;
	}
	if (now >= na) {
		mq_time_format(na, t);
		snprintf(why, len, "expired on %s: the device needs a new certificate "
			 "(mqadmin device issue)", t);
		return -1;
	}
	if (now < nb) {
		mq_time_format(nb, t);
		snprintf(why, len, "not valid before %s", t);
		return -1;
	}
	return 0;
}

/* The device name: given, or the CN (the identity use_identity_as_username
 * and plugin_opt_identity cn take). NULL after printing why. */
static char *imp_name(const struct imp_item *it, const char *given)
{
	char *cn = NULL;

	if (given)
		return strdup(given);
	if (mq_x509_identity(it->cert, MQ_ID_CN, &cn) != MQ_IDR_OK) {
		cli_err("%s: the certificate has no usable CN to name the device; pass --name NAME",
			it->src);
		free(cn);
		return NULL;
	}
	if (!cli_name_ok("device name (the certificate's CN)", cn)) {
		cli_err("%s: pass --name NAME (and see plugin_opt_identity)", it->src);
		free(cn);
		return NULL;
	}
	return cn;
}

static int imp_add(struct imp_list *l, const char *src, X509 *cert)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct imp_item *v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			cli_err("out of memory");
			X509_free(cert);
			return -1;
		}
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
	l->v[l->n].src = src;
	l->v[l->n].cert = cert;
	if (mq_x509_fingerprint(cert, l->v[l->n].fpr)) {
		cli_err("%s: cannot compute the fingerprint", src);
		X509_free(cert);
		return -1;
	}
	l->n++;
	return 0;
}

/* Records every item in st->policy (groups only for new devices); prints
 * one line each. 0, or -1 after printing why (the caller then does not save). */
static int imp_record(struct store *st, const struct imp_list *l, char *const *groups,
		      size_t ngroups, bool print)
{
	char err[256], t[MQ_TIME_LEN], e1[CLI_ESCAPE_SIZE(64)];

	for (size_t i = 0; i < l->n; i++) {
		const struct imp_item *it = &l->v[i];
		struct mq_device *d = mq_policy_find_device(st->policy, it->name);
		struct mq_cert rec;
		bool fresh = !d;

		memset(&rec, 0, sizeof(rec));
		if (!d && (!(d = mq_policy_add_device(st->policy, it->name, NULL, err, sizeof(err))) ||
			   (ngroups && mq_policy_set_groups(d, groups, ngroups, err, sizeof(err))))) {
			cli_err("%s: cannot add device '%s': %s", it->src,
				cli_escape(e1, sizeof(e1), it->name), err);
			return -1;
		}
		memcpy(rec.fingerprint, it->fpr, sizeof(rec.fingerprint));
		if (mq_x509_serial(it->cert, rec.serial) ||
		    mq_x509_validity(it->cert, &rec.not_before, &rec.not_after)) {
			cli_err("%s: cannot read the certificate's serial or validity", it->src);
			return -1;
		}
		rec.status = MQ_CERT_ACTIVE;
		if (mq_policy_add_cert(st->policy, d, &rec, err, sizeof(err))) {
			cli_err("%s: cannot record the certificate: %s", it->src, err);
			return -1;
		}
		mq_time_format(rec.not_after, t);
		if (print)
			printf("%s %s: %s, serial %s, fingerprint %.16s, expires %s\n",
			       fresh ? "imported" : "added to", cli_escape(e1, sizeof(e1), it->name),
			       it->src, rec.serial, rec.fingerprint, t);
	}
	return 0;
}

/* ---- device import ------------------------------------------------------ */

int cmd_device_import(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"name", required_argument, NULL, 'n'},
		{"group", required_argument, NULL, 'g'},
		{NULL, 0, NULL, 0},
	};
	struct store *st = NULL;
	struct imp_list l = {0};
	const char *name = NULL;
	char **groups = NULL, why[256], *cap = NULL;
	size_t ngroups = 0;
	X509 *ca = NULL;
	time_t now = time(NULL);
	int c, rc = CLI_FAIL, bad = 0;

	while ((c = cli_opt(ctx, argc, argv, opts)) != -1) {
		switch (c) {
		case 'n':
			if (!cli_name_ok("--name", optarg))
				return CLI_FAIL;
			name = optarg;
			break;
		case 'g': {
			char **g;

			if (!cli_name_ok("--group", optarg)) {
				free(groups);
				return CLI_FAIL;
			}
			if (!(g = realloc(groups, (ngroups + 1) * sizeof(*g)))) {
				free(groups);
				cli_err("out of memory");
				return CLI_FAIL;
			}
			groups = g;
			groups[ngroups++] = optarg;
			break;
		}
		default:
			free(groups);
			return cli_usage_error(ctx, NULL);
		}
	}
	if (optind == argc || (name && argc - optind > 1)) {
		free(groups);
		return cli_usage_error(ctx, optind == argc ? "name at least one certificate file"
				       : "--name names one device: import one certificate with it");
	}
	if (!(st = cmdtab_pki(ctx)) || store_load_policy(st) ||
	    !(cap = store_path(st, "ca.crt")) || !(ca = ca_load_cert(cap)))
		goto out;
	/* All or nothing: every file is judged before the policy changes. */
	for (int i = optind; i < argc; i++) {
		X509 *x = imp_read(argv[i]);
		struct imp_item *it;
		const struct mq_cert *have;

		if (!x || imp_add(&l, argv[i], x)) {
			bad++;
			continue;
		}
		it = &l.v[l.n - 1];
		if (imp_judge(it->cert, ca, now, why, sizeof(why))) {
			cli_err("%s: refused: %s", argv[i], why);
			bad++;
			continue;
		}
		if ((have = mq_policy_find_fingerprint(st->policy, it->fpr))) {
			cli_err("%s: refused: already registered (device '%s'); nothing to import",
				argv[i], have->device->name);
			bad++;
			continue;
		}
		for (size_t j = 0; j + 1 < l.n; j++)
			if (!strcmp(l.v[j].fpr, it->fpr)) {
				cli_err("%s: refused: the same certificate as %s", argv[i], l.v[j].src);
				bad++;
				break;
			}
		if (!(it->name = imp_name(it, name)))
			bad++;
		else if (mq_policy_find_device(st->policy, it->name))
			cli_err("%s: device '%s' exists; the certificate is added "
				"to it", argv[i], it->name);
	}
	if (bad) {
		cli_err("%d of %d certificate(s) refused: nothing imported", bad, argc - optind);
		goto out;
	}
	if (imp_record(st, &l, groups, ngroups, true) || store_save_policy(st))
		goto out;
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
out:
	X509_free(ca);
	free(cap);
	free(groups);
	imp_list_free(&l);
	return rc;
}

/* ---- device adopt --from-audit ------------------------------------------ */

/* The fingerprints of "observe" events at or after since in one audit
 * file, appended to fprs (deduplicated). Malformed lines are counted. */
static int adopt_scan(const char *path, time_t since, struct mq_strmap *seen, char ***fprs,
		      size_t *n, size_t *malformed)
{
	char err[512], *buf = NULL, *line, *save = NULL;
	size_t len = 0;

	if (mq_file_read(path, (size_t)IMPORT_AUDIT_MAX, &buf, &len, err, sizeof(err))) {
		cli_err("%s", err);
		return -1;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *o;
		const cJSON *ev, *ts, *fp;
		time_t t = 0;

		if (!strstr(line, "\"observe\""))
			continue;
		o = cJSON_Parse(line);
		ev = cJSON_GetObjectItemCaseSensitive(o, "event");
		ts = cJSON_GetObjectItemCaseSensitive(o, "ts");
		fp = cJSON_GetObjectItemCaseSensitive(o, "fingerprint");
		if (!o || !cJSON_IsString(ev) || !cJSON_IsString(ts) ||
		    mq_time_parse(ts->valuestring, &t)) {
			(*malformed)++;
		} else if (!strcmp(ev->valuestring, "observe") && t >= since) {
			if (!cJSON_IsString(fp) || !mq_fingerprint_valid(fp->valuestring)) {
				(*malformed)++;
			} else if (!mq_strmap_get(seen, fp->valuestring)) {
				char **v = realloc(*fprs, (*n + 1) * sizeof(*v));

				if (!v || !(v[*n] = strdup(fp->valuestring)) ||
				    mq_strmap_put(seen, v[*n], v[*n])) {
					if (v)
						*fprs = v;
					cJSON_Delete(o);
					free(buf);
					cli_err("out of memory");
					return -1;
				}
				*fprs = v;
				(*n)++;
			}
		}
		cJSON_Delete(o);
	}
	free(buf);
	return 0;
}

/* DIR/audit/audit.log and its rotated copies (audit.log.1, ...; not the
 * compressed ones): every broker on DIR appends to the same file. */
static int adopt_collect(const struct store *st, time_t since, char ***fprs, size_t *n)
{
	struct mq_strmap seen;
	struct dirent **names = NULL;
	char *dir = store_path(st, "audit");
	size_t malformed = 0, files = 0;
	int cnt, rc = -1;

	mq_strmap_init(&seen);
	if (!dir)
		goto out;
	cnt = scandir(dir, &names, NULL, alphasort);
	if (cnt < 0) {
		cli_err("cannot read %s: %s (has a broker run with plugin_opt_mode observe?)", dir,
			strerror(errno));
		goto out;
	}
	rc = 0;
	for (int i = 0; i < cnt; i++) {
		const char *nm = names[i]->d_name;
		size_t l = strlen(nm);

		if (!rc && !strncmp(nm, "audit.log", 9) && !(l > 3 && !strcmp(nm + l - 3, ".gz"))) {
			char *p = store_path(st, "audit/%s", nm);

			rc = p ? adopt_scan(p, since, &seen, fprs, n, &malformed) : -1;
			files++;
			free(p);
		}
		free(names[i]);
	}
	free(names);
	if (!rc && !files) {
		cli_err("no audit log in %s: run the broker with plugin_opt_mode observe first", dir);
		rc = -1;
	}
	if (malformed)
		cli_err("skipped %zu malformed observe line(s)", malformed);
out:
	mq_strmap_release(&seen);
	free(dir);
	return rc;
}

int cmd_device_adopt(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"from-audit", no_argument, NULL, 'a'},
		{"since", required_argument, NULL, 's'},
		{"dry-run", no_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	struct store *st = NULL;
	struct imp_list l = {0};
	bool from_audit = false, dry = false;
	char **fprs = NULL, why[256], *cap = NULL;
	size_t nfprs = 0, known = 0, refused = 0;
	time_t since = 0, now = time(NULL);
	X509 *ca = NULL;
	int c, rc = CLI_FAIL;

	while ((c = cli_opt(ctx, argc, argv, opts)) != -1) {
		switch (c) {
		case 'a':
			from_audit = true;
			break;
		case 's':
			if (cli_parse_since(ctx, optarg, now, &since))
				return CLI_USAGE;
			break;
		case 'n':
			dry = true;
			break;
		default:
			return cli_usage_error(ctx, NULL);
		}
	}
	if (cli_operands(ctx, argc, argv, 0, 0, NULL))
		return CLI_USAGE;
	if (!from_audit)
		return cli_usage_error(ctx, "say where the certificates come from: --from-audit");
	ctx->read_only = dry;
	if (!(st = cmdtab_pki(ctx)) || store_load_policy(st) ||
	    !(cap = store_path(st, "ca.crt")) || !(ca = ca_load_cert(cap)) ||
	    adopt_collect(st, since, &fprs, &nfprs))
		goto out;
	why[0] = '\0';
	for (size_t i = 0; i < nfprs; i++) {
		char *p, got[MQ_FPR_LEN];
		X509 *x;
		struct imp_item *it;

		if (mq_policy_find_fingerprint(st->policy, fprs[i])) {
			known++;
			continue;
		}
		if (!(p = store_path(st, "audit/seen/%s.pem", fprs[i])))
			goto out;
		if (access(p, F_OK)) {
			cli_err("certificate %.16s was seen but not kept (%s is missing: the seen "
				"directory was full or cleaned); skipped", fprs[i], p);
			free(p);
			refused++;
			continue;
		}
		x = imp_read(p);
		/* The file is named by the fingerprint the broker saw; a file
		 * that does not hash to its name is not that certificate. */
		if (x && (mq_x509_fingerprint(x, got) || strcmp(got, fprs[i]))) {
			cli_err("%s is not the certificate its name says; skipped", p);
			X509_free(x);
			x = NULL;
		}
		if (!x || imp_add(&l, p, x)) {
			free(p);
			refused++;
			continue;
		}
		it = &l.v[l.n - 1];
		it->src = "seen in observe mode"; /* p is freed below */
		if (imp_judge(it->cert, ca, now, why, sizeof(why)) || !(it->name = imp_name(it, NULL))) {
			char *cn = mq_x509_cn(it->cert);

			if (why[0])
				cli_err("certificate %.16s (CN '%s'): refused: %s", fprs[i],
					cn ? cn : "-", why);
			free(cn);
			X509_free(it->cert);
			free(it->name);
			l.n--;
			refused++;
		}
		why[0] = '\0';
		free(p);
	}
	if (dry) {
		for (size_t i = 0; i < l.n; i++)
			printf("would adopt %s: fingerprint %.16s\n", l.v[i].name, l.v[i].fpr);
	} else if (l.n && (imp_record(st, &l, NULL, 0, true) || store_save_policy(st))) {
		goto out;
	}
	cli_err("%zu certificate(s) %s, %zu already registered, %zu refused",
		l.n, dry ? "to adopt" : "adopted", known, refused);
	rc = cli_flush_stdout() ? CLI_FAIL : CLI_OK;
out:
	for (size_t i = 0; i < nfprs; i++)
		free(fprs[i]);
	free(fprs);
	X509_free(ca);
	free(cap);
	imp_list_free(&l);
	return rc;
}
