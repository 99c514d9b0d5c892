/* mqadmin serve: the renewal service. A TLS client of the broker with an
 * identity of role "service" (device issue NAME --role service), which
 * reads renewal requests from a shared subscription, answers them and
 * retires the certificates renewals replaced. The CA key stays in this
 * process; the broker never sees it. */
#include "cmds.h"

#include "ca.h"
#include "serve.h"
#include "store.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "mq_renew.h"

struct serve_opts {
	const char *host, *cert, *key, *cafile, *name, *client_id, *passfile, *log;
	int port;
	long once;
	bool verbose;
	struct serve_conf conf;
};

struct serve_run {
	struct serve_opts *o;
	struct serve_req *head, **tail;
	size_t queued;
	bool connected;
	int conn_rc;
};

/* A batch (one policy write) stops taking in requests at about this many
 * (bench/renew: 1,000 at once answered in 2.0 s with 250, 3.0 s with 1,000,
 * whose one big batch also delays every answer), and reads at most this
 * many packets more before answering. */
#define SERVE_BATCH_MAX 250
#define SERVE_DRAIN 2000

static volatile sig_atomic_t serve_stop;

static void serve_on_signal(int sig)
{
	serve_stop = 1;
}

static int serve_parse(struct cli_ctx *ctx, int argc, char **argv, struct serve_opts *o)
{
	static const struct option opts[] = {
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"cert", required_argument, NULL, 'c'},
		{"key", required_argument, NULL, 'k'},
		{"cafile", required_argument, NULL, 'A'},
		{"name", required_argument, NULL, 'n'},
		{"client-id", required_argument, NULL, 'i'},
		{"passphrase-file", required_argument, NULL, 'P'},
		{"window", required_argument, NULL, 'w'},
		{"rate-limit", required_argument, NULL, 'r'},
		{"grace", required_argument, NULL, 'g'},
		{"days", required_argument, NULL, 'D'},
		{"once", required_argument, NULL, 'o'},
		{"log", required_argument, NULL, 'l'},
		{"allow-key-reuse", no_argument, NULL, 'R'},
		{"verbose", no_argument, NULL, 'v'},
		{NULL, 0, NULL, 0},
	};
	long v;
	int c;
	size_t n;

	while ((c = cli_opt(ctx, argc, argv, opts)) != -1) {
		switch (c) {
		case 'h': o->host = optarg; break;
		case 'p':
			if (cli_parse_long(optarg, 1, 65535, &v))
				return cli_usage_error(ctx, "--port '%s' must be 1..65535", optarg);
			o->port = (int)v;
			break;
		case 'c': o->cert = optarg; break;
		case 'k': o->key = optarg; break;
		case 'A': o->cafile = optarg; break;
		case 'n':
			if (!cli_name_ok("service", optarg))
				return CLI_USAGE;
			o->name = optarg;
			break;
		case 'i': o->client_id = optarg; break;
		case 'P': o->passfile = optarg; break;
		case 'w':
			n = strlen(optarg);
			if (n > 1 && optarg[n - 1] == '%') {
				char pct[8];

				snprintf(pct, sizeof(pct), "%.*s", (int)(n - 1), optarg);
				if (n > 5 || cli_parse_long(pct, 1, 100, &v))
					return cli_usage_error(ctx, "--window '%s': give 1%%..100%% of the "
							       "lifetime or a duration like 30d", optarg);
				o->conf.window_pct = (int)v;
				o->conf.window = 0;
			} else if (cli_parse_duration("--window", optarg, &o->conf.window)) {
				return CLI_USAGE;
			}
			break;
		case 'r':
			if (cli_parse_duration("--rate-limit", optarg, &o->conf.rate))
				return CLI_USAGE;
			break;
		case 'g':
			if (cli_parse_duration("--grace", optarg, &o->conf.grace))
				return CLI_USAGE;
			break;
		case 'D':
			if (cli_parse_days(optarg, 36500, &o->conf.days))
				return CLI_USAGE;
			break;
		case 'o':
			if (cli_parse_long(optarg, 1, 1000000000, &o->once))
				return cli_usage_error(ctx, "--once '%s' must be a positive number", optarg);
			break;
		case 'l': o->log = optarg; break;
		case 'R': o->conf.allow_key_reuse = true; break;
		case 'v': o->verbose = true; break;
		default:
			return cli_usage_error(ctx, NULL);
		}
	}
	if (cli_operands(ctx, argc, argv, 0, 0, NULL))
		return CLI_USAGE;
	return CLI_OK;
}

static void serve_on_connect(struct mosquitto *m, void *ud, int rc, int flags,
			     const mosquitto_property *props)
{
	struct serve_run *run = ud;
	char *subs[] = {MQ_RENEW_SHARE MQ_RENEW_TOPIC "+/req", MQ_RENEW_SHARE MQ_ROLLOVER_TOPIC "+"};

	run->conn_rc = rc;
	if (rc) {
		cli_err("serve: the broker refused the connection: %s (is the identity a service? "
			"mqadmin device issue NAME --role service)", mosquitto_reason_string(rc));
		return;
	}
	run->connected = true;
	if (mosquitto_subscribe_multiple(m, NULL, 2, subs, 1, 0, NULL))
		cli_err("serve: cannot subscribe to the renewal topics");
	cli_err("serve: connected to %s:%d as '%s'", run->o->host, run->o->port,
		run->o->client_id);
}

static void serve_on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted,
			       const mosquitto_property *props)
{
	struct serve_run *run = ud;

	for (int i = 0; i < n; i++)
		if (granted[i] >= 128) {
			cli_err("serve: the broker refused a renewal subscription (code %d): the "
				"identity must have role service (device issue NAME --role service) "
				"and the broker must load mqcert.so", granted[i]);
			run->conn_rc = -1;
		}
	if (n && granted[0] < 128)
		cli_err("serve: ready");
}

static void serve_on_disconnect(struct mosquitto *m, void *ud, int rc, const mosquitto_property *p)
{
	struct serve_run *run = ud;

	run->connected = false;
}

static void serve_rollover_msg(struct serve_run *run, const struct mosquitto_message *msg)
{
	cJSON *o = cJSON_ParseWithLength(msg->payload, (size_t)msg->payloadlen);
	const cJSON *dev = cJSON_GetObjectItemCaseSensitive(o, "device");
	const cJSON *fpr = cJSON_GetObjectItemCaseSensitive(o, "fingerprint");
	const char *topic_dev = msg->topic + MQ_ROLLOVER_TOPIC_LEN;

	/* The topic is the plugin's; the payload must agree with it. */
	if (cJSON_IsString(dev) && cJSON_IsString(fpr) && !strcmp(dev->valuestring, topic_dev))
		serve_rollover(&run->o->conf, topic_dev, fpr->valuestring);
	cJSON_Delete(o);
}

static void serve_on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg,
			     const mosquitto_property *props)
{
	struct serve_run *run = ud;
	struct serve_req *r;
	const char *rest;
	size_t n;
	char *name = NULL, *value = NULL;
	uint16_t clen = 0;
	const mosquitto_property *p;
	bool first, dup = false;

	if (!strncmp(msg->topic, MQ_ROLLOVER_TOPIC, MQ_ROLLOVER_TOPIC_LEN)) {
		serve_rollover_msg(run, msg);
		return;
	}
	if (strncmp(msg->topic, MQ_RENEW_TOPIC, MQ_RENEW_TOPIC_LEN))
		return;
	rest = msg->topic + MQ_RENEW_TOPIC_LEN;
	n = strcspn(rest, "/");
	if (!n || n >= sizeof(r->device) || strcmp(rest + n, "/req"))
		return;
	if (!(r = calloc(1, sizeof(*r))))
		return;
	memcpy(r->device, rest, n);
	/* Every user property of that name: more than one (never the
	 * plugin's doing) makes the stamp ambiguous and is refused. */
	for (p = props, first = true;
	     (p = mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &name, &value,
							!first));
	     first = false) {
		if (!strcmp(name, MQ_RENEW_PROP) && !r->stamp && !dup)
			r->stamp = value;
		else if (!strcmp(name, MQ_RENEW_PROP))
			dup = true, free(value);
		else
			free(value);
		free(name);
		name = value = NULL;
	}
	if (dup) {
		free(r->stamp);
		r->stamp = NULL;
	}
	mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &r->resp_topic, false);
	mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &r->corr, &clen, false);
	r->corrlen = clen;
	if (msg->payloadlen > SERVE_CSR_MAX) {
		r->oversized = true;
	} else if (msg->payloadlen > 0 && (r->payload = malloc((size_t)msg->payloadlen))) {
		memcpy(r->payload, msg->payload, (size_t)msg->payloadlen);
		r->len = (size_t)msg->payloadlen;
	}
	*run->tail = r;
	run->tail = &r->next;
	run->queued++;
}

/* Answers the queued requests: one batch, then one reply each. */
static size_t serve_flush(struct mosquitto *m, struct serve_run *run, const struct ca *ca,
			  long limit)
{
	struct serve_req *r, *next, *rest = NULL;
	char topic[300];
	size_t n = 0;

	/* --once N: never more than the requests still to handle. */
	if (limit > 0) {
		struct serve_req **pp = &run->head;
		long k = 0;

		while (*pp && k < limit) {
			pp = &(*pp)->next;
			k++;
		}
		rest = *pp;
		*pp = NULL;
	}
	serve_batch(&run->o->conf, ca, run->head);
	if (run->o->verbose) {
		char stats[256];
		size_t k = 0;

		for (r = run->head; r; r = r->next)
			k++;
		serve_stats(stats, sizeof(stats));
		cli_err("serve: %zu request(s): %s", k, stats);
	}
	for (r = run->head; r; r = next) {
		mosquitto_property *props = NULL;

		next = r->next;
		snprintf(topic, sizeof(topic), "%s%s/res", MQ_RENEW_TOPIC, r->device);
		if (r->corr)
			mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, r->corr,
						      (uint16_t)r->corrlen);
		if (r->reply && mosquitto_publish_v5(m, NULL, topic, (int)strlen(r->reply), r->reply, 1,
						     false, props))
			cli_err("serve: cannot send the answer for '%s'", r->device);
		mosquitto_property_free_all(&props);
		serve_req_free(r);
		n++;
	}
	run->head = rest;
	run->tail = &run->head;
	while (*run->tail)
		run->tail = &(*run->tail)->next;
	run->queued -= n;
	return n;
}

static int serve_defaults(const struct cli_ctx *ctx, struct serve_opts *o, char **own)
{
	if (!o->name)
		o->name = "mqadmin-serve";
	if (!o->client_id)
		o->client_id = o->name;
	if (!o->host)
		o->host = "localhost";
	if (!o->port)
		o->port = 8883;
	if ((!o->cert && asprintf(&own[0], "%s/devices/%s/%s.crt", ctx->dir, o->name, o->name) < 0) ||
	    (!o->key && asprintf(&own[1], "%s/devices/%s/%s.key", ctx->dir, o->name, o->name) < 0) ||
	    (!o->cafile && asprintf(&own[2], "%s/ca.crt", ctx->dir) < 0) ||
	    (!o->log && asprintf(&own[3], "%s/serve.log", ctx->dir) < 0)) {
		cli_err("out of memory");
		return -1;
	}
	o->cert = o->cert ? o->cert : own[0];
	o->key = o->key ? o->key : own[1];
	o->cafile = o->cafile ? o->cafile : own[2];
	o->log = o->log ? o->log : own[3];
	return 0;
}

int cmd_serve(struct cli_ctx *ctx, int argc, char **argv)
{
	struct serve_opts o = {.conf = {.window_pct = 33, .rate = 3600, .grace = 7 * 86400,
					.days = 365}};
	struct serve_run run = {.o = &o};
	struct store *st;
	struct ca ca = {0};
	struct mosquitto *m = NULL;
	mosquitto_property *cprops = NULL;
	char *own[4] = {0};
	long handled = 0;
	time_t last_sweep = 0;
	int rc, ret = CLI_FAIL;
	struct sigaction sa = {.sa_handler = serve_on_signal};

	rc = serve_parse(ctx, argc, argv, &o);
	if (rc)
		return rc;
	o.conf.dir = ctx->dir;
	run.tail = &run.head;
	if (serve_defaults(ctx, &o, own))
		goto out;
	if (!(st = cmdtab_pki(ctx)))
		goto out;
	rc = ca_load(&ca, st, o.passfile) || ca_sign_prepare(&ca);
	/* Each renewal opens DIR for writing (serve.c): main's store, a
	 * second LMDB environment in this process, must not stay open. */
	cmdtab_pki_close(ctx);
	if (rc)
		goto out;
	if (serve_log_open(o.log))
		goto out;
	serve_log_set_instance(o.client_id);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	mosquitto_lib_init();
	/* A persistent session: rollover events wait for a restarting serve. */
	m = mosquitto_new(o.client_id, false, &run);
	if (!m || mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5)) {
		cli_err("cannot set up the MQTT client (out of memory)");
		goto out;
	}
	if (mosquitto_tls_set(m, o.cafile, NULL, o.cert, o.key, NULL)) {
		cli_err("serve: cannot use %s / %s / %s: check the files exist and the key matches",
			o.cafile, o.cert, o.key);
		goto out;
	}
	mosquitto_connect_v5_callback_set(m, serve_on_connect);
	mosquitto_subscribe_v5_callback_set(m, serve_on_subscribe);
	mosquitto_disconnect_v5_callback_set(m, serve_on_disconnect);
	mosquitto_message_v5_callback_set(m, serve_on_message);
	/* MQTT 5 sessions end at disconnect unless given an expiry: a day
	 * keeps the requests and rollover events of a restart. */
	if (mosquitto_property_add_int32(&cprops, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 86400)) {
		cli_err("out of memory");
		goto out;
	}
	rc = mosquitto_connect_bind_v5(m, o.host, o.port, 30, NULL, cprops);
	mosquitto_property_free_all(&cprops);
	if (rc)
		cli_err("serve: cannot connect to %s:%d: %s; retrying", o.host, o.port,
			rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
	while (!serve_stop && (!o.once || handled < o.once)) {
		time_t now = time(NULL);

		rc = mosquitto_loop(m, 200, 1);
		if (run.conn_rc) {
			ret = CLI_FAIL;
			goto out;
		}
		if (rc != MOSQ_ERR_SUCCESS && !serve_stop) {
			sleep(1);
			mosquitto_reconnect(m);
			continue;
		}
		/* Take in what else has arrived before answering: one policy
		 * write then covers a whole burst of requests. */
		for (int i = 0; run.head && i < SERVE_DRAIN && run.queued < SERVE_BATCH_MAX; i++) {
			size_t before = run.queued;

			if (mosquitto_loop(m, 0, 1) != MOSQ_ERR_SUCCESS || run.queued == before)
				break;
		}
		if (run.head)
			handled += (long)serve_flush(m, &run, &ca, o.once ? o.once - handled : 0);
		/* Grace deadlines: the plugin already refuses a certificate
		 * past its own; this makes it "retired" in the policy. */
		if (now - last_sweep >= (o.conf.grace < 60 ? o.conf.grace / 2 + 1 : 30)) {
			last_sweep = now;
			serve_sweep(&o.conf);
		}
	}
	/* Let the last answers leave before going. */
	for (int i = 0; i < 10 && run.connected; i++)
		mosquitto_loop(m, 50, 1);
	ret = CLI_OK;
out:
	while (run.head) {
		struct serve_req *next = run.head->next;

		serve_req_free(run.head);
		run.head = next;
	}
	if (m) {
		mosquitto_disconnect(m);
		mosquitto_destroy(m);
		mosquitto_lib_cleanup();
	}
	serve_log_close();
	ca_release(&ca);
	for (size_t i = 0; i < 4; i++)
		free(own[i]);
	return ret;
}
