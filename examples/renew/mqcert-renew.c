/* mqcert-renew: the reference device client for online renewal (docs/renewal.md,
 * "Renewal over MQTT"). Checks the device certificate's expiry, makes a new
 * key and a CSR, asks mqadmin serve over MQTT, verifies the answer (the new
 * certificate is for the new key and chains to the CA) and replaces the
 * key and certificate files atomically. For a systemd timer or cron:
 *
 *   0  renewed: the new files are in place
 *   1  local failure (files unreadable or unwritable, the answer does not
 *      verify); nothing was replaced
 *   2  usage error
 *   3  not due: the service answered outside_window (or, with --local-check,
 *      the certificate is outside --window and nothing was asked)
 *   4  refused by the service for another reason: its code and message are
 *      printed
 *   5  no answer (broker unreachable, service down, timeout): retry later
 *
 * --csr-file FILE sends FILE as the request (its key lives elsewhere) and
 * prints the certificate of a successful answer instead of writing files.
 *
 * Build: make (build/mqcert-renew); needs libmosquitto, OpenSSL, cJSON. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

enum { EX_RENEWED, EX_LOCAL, EX_USAGE, EX_NOT_DUE, EX_REFUSED, EX_RETRY };

struct opts {
	const char *host, *cafile, *cert, *key, *device, *csr_file, *id, *key_type;
	int port, window_pct, timeout, mqtt;
	bool local_check, reuse_key, der;
};

struct run {
	const struct opts *o;
	char req[300], res[300];
	unsigned char corr[16];
	const void *csr;
	int csrlen;
	char *answer;
	int state; /* 0 connecting, 1 waiting for the answer, 2 done, -1 failed */
};

static void die_usage(void)
{
	fprintf(stderr,
		"usage: mqcert-renew --device NAME --cafile CA --cert CRT --key KEY\n"
		"                    [--host H] [--port N] [--id CLIENT_ID] [--window PCT]\n"
		"                    [--key-type ec|rsa] [--mqtt 5|311] [--timeout SECS]\n"
		"                    [--local-check]\n"
		"                    [--der] [--reuse-key] [--csr-file FILE]\n");
	exit(EX_USAGE);
}

static void on_connect(struct mosquitto *m, void *ud, int rc, int flags,
		       const mosquitto_property *p)
{
	struct run *r = ud;

	if (rc) {
		fprintf(stderr, "mqcert-renew: the broker refused the connection: %s\n",
			mosquitto_reason_string(rc));
		r->state = -1;
		return;
	}
	if (mosquitto_subscribe(m, NULL, r->res, 1))
		r->state = -1;
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted,
			 const mosquitto_property *p)
{
	struct run *r = ud;
	mosquitto_property *props = NULL;

	if (n < 1 || granted[0] >= 128) {
		fprintf(stderr, "mqcert-renew: the broker refused the reply topic %s\n", r->res);
		r->state = -1;
		return;
	}
	if (r->o->mqtt == 5) {
		mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, r->res);
		mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, r->corr,
					      sizeof(r->corr));
	}
	if (mosquitto_publish_v5(m, NULL, r->req, r->csrlen, r->csr, 1, false, props))
		r->state = -1;
	else
		r->state = 1;
	mosquitto_property_free_all(&props);
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct run *r = ud;
	void *corr = NULL;
	uint16_t len = 0;

	if (r->state != 1 || strcmp(msg->topic, r->res))
		return;
	/* MQTT 5: only the answer to this request (correlation data echoed). */
	if (r->o->mqtt == 5) {
		bool mine = mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr,
							   &len, false) &&
			    len == sizeof(r->corr) && !memcmp(corr, r->corr, len);

		free(corr);
		if (!mine)
			return;
	}
	r->answer = strndup(msg->payload, (size_t)msg->payloadlen);
	r->state = 2;
}

static EVP_PKEY *newkey(const char *type)
{
	EVP_PKEY *k = NULL;

	if (!strcmp(type, "rsa"))
		k = EVP_RSA_gen(3072);
	else if (!strcmp(type, "ec"))
		k = EVP_EC_gen("P-256");
	return k;
}

static int make_csr(EVP_PKEY *k, const char *cn, bool der, unsigned char **out, int *len)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *nm = X509_NAME_new();
	BIO *b = BIO_new(BIO_s_mem());
	BUF_MEM *bm;
	int rc = -1;

	if (!req || !nm || !b ||
	    !X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_REQ_set_subject_name(req, nm) || !X509_REQ_set_pubkey(req, k) ||
	    !X509_REQ_sign(req, k, EVP_sha256()))
		goto out;
	if (der ? i2d_X509_REQ_bio(b, req) != 1 : PEM_write_bio_X509_REQ(b, req) != 1)
		goto out;
	BIO_get_mem_ptr(b, &bm);
	if (!(*out = malloc(bm->length)))
		goto out;
	memcpy(*out, bm->data, bm->length);
	*len = (int)bm->length;
	rc = 0;
out:
	X509_NAME_free(nm);
	X509_REQ_free(req);
	BIO_free(b);
	return rc;
}

static void sync_dir(const char *path)
{
	char dir[4096];
	int dfd;

	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
}

/* Writes data to PATH.new, fsynced. */
static int stage(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[4096];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len || fsync(fd)) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	return close(fd);
}

/* Moves PATH.new over PATH. */
static int commit(const char *path)
{
	char tmp[4096];

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if (rename(tmp, path))
		return -1;
	sync_dir(path);
	return 0;
}

static X509 *read_cert(const char *path);

/* A run cut short between the key's rename and the certificate's: the
 * staged certificate is for the key in place; finish the move. */
static void finish_staged(const struct opts *o)
{
	char crtnew[4096];
	X509 *x;
	EVP_PKEY *k = NULL;
	FILE *f;

	snprintf(crtnew, sizeof(crtnew), "%s.new", o->cert);
	if (!(x = read_cert(crtnew)))
		return;
	if ((f = fopen(o->key, "r"))) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (k && X509_check_private_key(x, k) == 1 && !commit(o->cert))
		fprintf(stderr, "mqcert-renew: completed the renewal an earlier run cut short\n");
	ERR_clear_error();
	EVP_PKEY_free(k);
	X509_free(x);
}

/* The new certificate is for the new key and chains to the CA. */
static int verify_answer(X509 *cert, EVP_PKEY *key, const char *cafile)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok = 0;

	if (st && ctx && X509_STORE_load_file(st, cafile) == 1 &&
	    X509_STORE_CTX_init(ctx, st, cert, NULL) == 1) {
		X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
		ok = X509_verify_cert(ctx) == 1;
		if (!ok)
			fprintf(stderr, "mqcert-renew: the new certificate does not chain to %s: %s\n",
				cafile, X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	}
	if (ok && (!key || X509_check_private_key(cert, key) != 1)) {
		fprintf(stderr, "mqcert-renew: the new certificate is not for the new key\n");
		ok = 0;
	}
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return ok ? 0 : -1;
}

static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	return x;
}

static unsigned char *read_file(const char *path, int *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
	    !(buf = malloc(n ? (size_t)n : 1)) || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	} else {
		*len = (int)n;
	}
	fclose(f);
	return buf;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"host", 1, NULL, 'h'}, {"port", 1, NULL, 'p'}, {"cafile", 1, NULL, 'A'},
		{"cert", 1, NULL, 'c'}, {"key", 1, NULL, 'k'}, {"device", 1, NULL, 'd'},
		{"id", 1, NULL, 'i'}, {"window", 1, NULL, 'w'}, {"key-type", 1, NULL, 't'},
		{"mqtt", 1, NULL, 'm'}, {"timeout", 1, NULL, 'T'}, {"local-check", 0, NULL, 'L'},
		{"der", 0, NULL, 'D'}, {"reuse-key", 0, NULL, 'R'}, {"csr-file", 1, NULL, 'C'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'h': o->host = optarg; break;
		case 'p': o->port = atoi(optarg); break;
		case 'A': o->cafile = optarg; break;
		case 'c': o->cert = optarg; break;
		case 'k': o->key = optarg; break;
		case 'd': o->device = optarg; break;
		case 'i': o->id = optarg; break;
		case 'w': o->window_pct = atoi(optarg); break;
		case 't': o->key_type = optarg; break;
		case 'm': o->mqtt = atoi(optarg); break;
		case 'T': o->timeout = atoi(optarg); break;
		case 'L': o->local_check = true; break;
		case 'D': o->der = true; break;
		case 'R': o->reuse_key = true; break;
		case 'C': o->csr_file = optarg; break;
		default: die_usage();
		}
	}
	if (optind != argc || !o->device || !o->cafile || !o->cert || !o->key || o->port < 1 ||
	    o->port > 65535 || o->window_pct < 1 || o->window_pct > 100 || o->timeout < 1 ||
	    (o->mqtt != 5 && o->mqtt != 311) || (strcmp(o->key_type, "ec") && strcmp(o->key_type, "rsa")))
		die_usage();
	if (!o->id)
		o->id = o->device;
}

int main(int argc, char **argv)
{
	struct opts o = {.host = "localhost", .port = 8883, .window_pct = 33, .timeout = 20,
			 .mqtt = 5, .key_type = "ec"};
	struct run r = {.o = &o};
	struct mosquitto *m = NULL;
	X509 *cur = NULL, *fresh = NULL;
	EVP_PKEY *key = NULL;
	unsigned char *csr = NULL;
	char *keypem = NULL;
	cJSON *ans = NULL;
	const cJSON *status, *certj, *code, *msg;
	time_t nb, na, now = time(NULL);
	int ret = EX_LOCAL, csrlen = 0, rc;
	BIO *b = NULL;

	parse_opts(argc, argv, &o);
	finish_staged(&o);
	if (!(cur = read_cert(o.cert))) {
		fprintf(stderr, "mqcert-renew: cannot read the certificate %s\n", o.cert);
		return EX_LOCAL;
	}
	{
		struct tm tb, ta;

		if (!ASN1_TIME_to_tm(X509_get0_notBefore(cur), &tb) ||
		    !ASN1_TIME_to_tm(X509_get0_notAfter(cur), &ta))
			goto out;
		nb = timegm(&tb);
		na = timegm(&ta);
	}
	/* The service decides (device set --renew-now opens the window early);
	 * --local-check spares it the requests of devices not yet due. */
	if (o.local_check && na - now > (na - nb) * o.window_pct / 100) {
		printf("not due: %s expires in %ld days; the renewal window is the last %d%% of its "
		       "lifetime\n", o.cert, (long)((na - now) / 86400), o.window_pct);
		ret = EX_NOT_DUE;
		goto out;
	}
	if (o.csr_file) {
		if (!(csr = read_file(o.csr_file, &csrlen))) {
			fprintf(stderr, "mqcert-renew: cannot read %s\n", o.csr_file);
			goto out;
		}
	} else {
		if (o.reuse_key) {
			FILE *f = fopen(o.key, "r");

			key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
			if (f)
				fclose(f);
		} else {
			key = newkey(o.key_type);
		}
		if (!key || make_csr(key, o.device, o.der, &csr, &csrlen)) {
			fprintf(stderr, "mqcert-renew: cannot make the key and CSR\n");
			goto out;
		}
	}
	r.csr = csr;
	r.csrlen = csrlen;
	snprintf(r.req, sizeof(r.req), "mqcert/renew/%s/req", o.device);
	snprintf(r.res, sizeof(r.res), "mqcert/renew/%s/res", o.device);
	RAND_bytes(r.corr, sizeof(r.corr));
	mosquitto_lib_init();
	m = mosquitto_new(o.id, true, &r);
	if (!m || mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION,
				       o.mqtt == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311) ||
	    mosquitto_tls_set(m, o.cafile, NULL, o.cert, o.key, NULL))
		goto out;
	mosquitto_connect_v5_callback_set(m, on_connect);
	mosquitto_subscribe_v5_callback_set(m, on_subscribe);
	mosquitto_message_v5_callback_set(m, on_message);
	ret = EX_RETRY;
	if ((rc = mosquitto_connect(m, o.host, o.port, 30))) {
		fprintf(stderr, "mqcert-renew: cannot connect to %s:%d: %s; retry later\n", o.host,
			o.port, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		goto out;
	}
	for (time_t end = time(NULL) + o.timeout; time(NULL) < end && r.state >= 0 && r.state < 2;)
		if (mosquitto_loop(m, 200, 1) != MOSQ_ERR_SUCCESS)
			break;
	if (r.state != 2) {
		fprintf(stderr, "mqcert-renew: no answer from the renewal service within %d s; "
			"retry later\n", o.timeout);
		goto out;
	}
	ret = EX_LOCAL;
	ans = cJSON_Parse(r.answer);
	status = cJSON_GetObjectItemCaseSensitive(ans, "status");
	if (!cJSON_IsString(status)) {
		fprintf(stderr, "mqcert-renew: the answer is not the service's JSON\n");
		goto out;
	}
	if (strcmp(status->valuestring, "ok")) {
		code = cJSON_GetObjectItemCaseSensitive(ans, "code");
		msg = cJSON_GetObjectItemCaseSensitive(ans, "message");
		printf("refused: %s: %s\n", cJSON_IsString(code) ? code->valuestring : "?",
		       cJSON_IsString(msg) ? msg->valuestring : "");
		ret = cJSON_IsString(code) && !strcmp(code->valuestring, "outside_window") ? EX_NOT_DUE
											   : EX_REFUSED;
		goto out;
	}
	certj = cJSON_GetObjectItemCaseSensitive(ans, "certificate");
	if (!cJSON_IsString(certj) || !(b = BIO_new_mem_buf(certj->valuestring, -1)) ||
	    !(fresh = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
		fprintf(stderr, "mqcert-renew: the answer holds no certificate\n");
		goto out;
	}
	if (!key) {
		/* --csr-file: the key is elsewhere (a TPM, a test); only print. */
		fputs(certj->valuestring, stdout);
		ret = EX_RENEWED;
		goto out;
	}
	if (verify_answer(fresh, key, o.cafile))
		goto out;
	{
		BIO *kb = BIO_new(BIO_s_mem());
		BUF_MEM *bm;

		if (!kb || PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1) {
			BIO_free(kb);
			goto out;
		}
		BIO_get_mem_ptr(kb, &bm);
		keypem = strndup(bm->data, bm->length);
		BIO_free(kb);
	}
	/* Both staged as .new (fsynced), then the key renamed, then the
	 * certificate: a crash between the two renames leaves CRT.new that
	 * matches the key in place, which finish_staged completes next run. */
	if (!keypem || stage(o.key, keypem, strlen(keypem), 0600) ||
	    stage(o.cert, certj->valuestring, strlen(certj->valuestring), 0644) ||
	    commit(o.key) || commit(o.cert)) {
		fprintf(stderr, "mqcert-renew: cannot write %s / %s: %s\n", o.key, o.cert,
			strerror(errno));
		goto out;
	}
	printf("renewed: %s, serial %s\n", o.cert,
	       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ans, "serial")));
	ret = EX_RENEWED;
out:
	if (m) {
		mosquitto_disconnect(m);
		mosquitto_destroy(m);
		mosquitto_lib_cleanup();
	}
	if (keypem) {
		OPENSSL_cleanse(keypem, strlen(keypem));
		free(keypem);
	}
	cJSON_Delete(ans);
	BIO_free(b);
	free(r.answer);
	free(csr);
	EVP_PKEY_free(key);
	X509_free(cur);
	X509_free(fresh);
	return ret;
}
