/* loadgen: MQTT over TLS load on a loopback broker, for bench/run.
 *
 *   loadgen pubsub  --pubs N --subs M --qos Q (--count C | --duration S)
 *   loadgen connect --conns K (--count C | --duration S)
 *   loadgen gap     --rate R --duration S
 *
 * Every client presents the device certificate DEVDIR/devices/NAME/NAME.{crt,key}
 * and uses NAME as its client id (mqcert binds client id to the username).
 * Names: publishers bp0.., subscribers bs0.., connectors bc0... Publishers
 * send to bench/NAME/data; subscribers hold bench/+/data.
 * Results go to stdout as one line of key=value pairs; errors to stderr. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define LG_MAX_CLIENTS 256
#define LG_TOPIC_LEN 96

struct lg_opts {
	const char *mode;
	const char *host;
	int port;
	const char *cafile;
	const char *devdir;
	int pubs, subs, conns, qos;
	long count;        /* messages (pubsub) or connects (connect); -1 = use duration */
	double duration;   /* seconds */
	double timeout;    /* hard bound on the whole run, seconds */
	int payload;
	long window;       /* messages in flight per subscriber before publishers wait */
	double rate;       /* gap: messages per second */
};

/* One connected client. Counters are touched by libmosquitto's network
 * thread and read by the main thread. */
struct lg_client {
	struct mosquitto *mosq;
	SSL_CTX *ctx;
	char name[32];
	char topic[LG_TOPIC_LEN];
	atomic_int connected;  /* 0 waiting, 1 CONNACK ok, -1 refused/lost */
	atomic_int subscribed; /* 0 waiting, 1 granted, -1 refused */
};

static atomic_long lg_delivered;
static atomic_long lg_last_ns;   /* monotonic ns of the newest delivery */
static atomic_long lg_max_gap_ns;
static atomic_long lg_max_gap_at; /* ns since start where that gap ended */
static long lg_start_ns;

static long lg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void lg_sleep_ns(long ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000L, .tv_nsec = ns % 1000000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* One context per device: certificate and key are read once, not per
 * connect, so the connect mode measures handshakes rather than file reads.
 * No session cache: every connect is a full handshake. */
static SSL_CTX *lg_ctx_new(const struct lg_opts *o, const char *name)
{
	char crt[PATH_MAX], key[PATH_MAX];
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx)
		goto fail;
	snprintf(crt, sizeof(crt), "%s/devices/%s/%s.crt", o->devdir, name, name);
	snprintf(key, sizeof(key), "%s/devices/%s/%s.key", o->devdir, name, name);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(ctx, o->cafile, NULL) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, crt) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "loadgen: loading %s, %s or %s failed; run bench/run, which issues them\n",
			o->cafile, crt, key);
		goto fail;
	}
	return ctx;
fail:
	ERR_print_errors_fp(stderr);
	SSL_CTX_free(ctx);
	return NULL;
}

/* libmosquitto applies its own defaults to a caller's context unless told
 * not to, and then insists on a cafile of its own. */
static void lg_use_ctx(struct mosquitto *mosq, SSL_CTX *ctx)
{
	mosquitto_int_option(mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
	mosquitto_void_option(mosq, MOSQ_OPT_SSL_CTX, ctx);
}

static void lg_on_connect(struct mosquitto *mosq, void *ud, int rc)
{
	struct lg_client *c = ud;

	atomic_store(&c->connected, rc == 0 ? 1 : -1);
}

static void lg_on_disconnect(struct mosquitto *mosq, void *ud, int rc)
{
	struct lg_client *c = ud;

	if (rc != 0)
		atomic_store(&c->connected, -1);
}

static void lg_on_subscribe(struct mosquitto *mosq, void *ud, int mid, int n, const int *granted)
{
	struct lg_client *c = ud;

	atomic_store(&c->subscribed, n == 1 && granted[0] <= 2 ? 1 : -1);
}

static void lg_on_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *m)
{
	long now = lg_now_ns();
	long prev = atomic_exchange(&lg_last_ns, now);

	atomic_fetch_add(&lg_delivered, 1);
	/* Gaps count from half a second in: connection start-up is not a stall. */
	if (prev && now - lg_start_ns > 500000000L && now - prev > atomic_load(&lg_max_gap_ns)) {
		atomic_store(&lg_max_gap_ns, now - prev);
		atomic_store(&lg_max_gap_at, now - lg_start_ns);
	}
}

/* Waits until *flag leaves 0; false on refusal or after timeout_ns. */
static bool lg_wait_flag(atomic_int *flag, long timeout_ns)
{
	long end = lg_now_ns() + timeout_ns;

	while (atomic_load(flag) == 0 && lg_now_ns() < end)
		lg_sleep_ns(1000000);
	return atomic_load(flag) == 1;
}

static int lg_client_start(struct lg_client *c, const struct lg_opts *o, const char *name)
{
	int rc;

	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->topic, sizeof(c->topic), "bench/%s/data", name);
	c->ctx = lg_ctx_new(o, name);
	if (!c->ctx)
		return -1;
	c->mosq = mosquitto_new(name, true, c);
	if (!c->mosq) {
		fprintf(stderr, "loadgen: mosquitto_new failed: out of memory\n");
		return -1;
	}
	lg_use_ctx(c->mosq, c->ctx);
	mosquitto_connect_callback_set(c->mosq, lg_on_connect);
	mosquitto_disconnect_callback_set(c->mosq, lg_on_disconnect);
	mosquitto_subscribe_callback_set(c->mosq, lg_on_subscribe);
	mosquitto_message_callback_set(c->mosq, lg_on_message);
	/* Enough in flight that QoS 1 is limited by the broker, not by acks. */
	mosquitto_int_option(c->mosq, MOSQ_OPT_RECEIVE_MAXIMUM, 1000);
	mosquitto_int_option(c->mosq, MOSQ_OPT_SEND_MAXIMUM, 1000);
	mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	rc = mosquitto_connect(c->mosq, o->host, o->port, 60);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_loop_start(c->mosq);
	if (rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "loadgen: %s cannot connect to %s:%d: %s\n", name, o->host, o->port,
			mosquitto_strerror(rc));
		return -1;
	}
	if (!lg_wait_flag(&c->connected, 10000000000L)) {
		fprintf(stderr, "loadgen: %s: no CONNACK or connection refused; see the broker log\n",
			name);
		return -1;
	}
	return 0;
}

static void lg_client_stop(struct lg_client *c)
{
	if (c->mosq) {
		mosquitto_disconnect(c->mosq);
		mosquitto_loop_stop(c->mosq, false);
		mosquitto_destroy(c->mosq);
	}
	SSL_CTX_free(c->ctx);
	c->mosq = NULL;
	c->ctx = NULL;
}

static int lg_subscribe(struct lg_client *c, int qos)
{
	if (mosquitto_subscribe(c->mosq, NULL, "bench/+/data", qos) != MOSQ_ERR_SUCCESS ||
	    !lg_wait_flag(&c->subscribed, 10000000000L)) {
		fprintf(stderr, "loadgen: %s: subscription to bench/+/data refused or unanswered\n",
			c->name);
		return -1;
	}
	return 0;
}

static int lg_start_many(struct lg_client *cl, int n, const char *prefix, const struct lg_opts *o)
{
	char name[32];

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%d", prefix, i);
		if (lg_client_start(&cl[i], o, name))
			return -1;
	}
	return 0;
}

/* N publishers → M subscribers. Publishers pause while more than
 * window × M messages are undelivered, so the broker runs at its own
 * ceiling without unbounded queues in either process. */
static int lg_pubsub(const struct lg_opts *o)
{
	static struct lg_client pubs[LG_MAX_CLIENTS], subs[LG_MAX_CLIENTS];
	char *payload = calloc(1, (size_t)o->payload + 1);
	long sent = 0, expected, t0, tpub, tend, deadline, last_progress, seen;
	int rc = 1;

	if (!payload)
		return 1;
	memset(payload, 'x', (size_t)o->payload);
	if (lg_start_many(subs, o->subs, "bs", o) || lg_start_many(pubs, o->pubs, "bp", o))
		goto out;
	for (int i = 0; i < o->subs; i++)
		if (lg_subscribe(&subs[i], o->qos))
			goto out;
	t0 = lg_start_ns = lg_now_ns();
	deadline = t0 + (long)(o->timeout * 1e9);
	tend = o->count >= 0 ? deadline : t0 + (long)(o->duration * 1e9);
	while (lg_now_ns() < tend && (o->count < 0 || sent < o->count)) {
		long backlog = sent * o->subs - atomic_load(&lg_delivered);

		if (backlog > o->window * o->subs) {
			lg_sleep_ns(20000);
			continue;
		}
		for (int i = 0; i < o->pubs && (o->count < 0 || sent < o->count); i++) {
			int prc = mosquitto_publish(pubs[i].mosq, NULL, pubs[i].topic, o->payload,
						    payload, o->qos, false);
			if (prc != MOSQ_ERR_SUCCESS) {
				fprintf(stderr, "loadgen: publish by %s failed: %s\n", pubs[i].name,
					mosquitto_strerror(prc));
				goto out;
			}
			sent++;
		}
	}
	tpub = lg_now_ns();
	/* Drain: wait for the rest, but give up after 3 s without progress. */
	expected = sent * o->subs;
	last_progress = lg_now_ns();
	seen = atomic_load(&lg_delivered);
	while (seen < expected && lg_now_ns() < deadline && lg_now_ns() - last_progress < 3000000000L) {
		lg_sleep_ns(1000000);
		if (atomic_load(&lg_delivered) != seen) {
			seen = atomic_load(&lg_delivered);
			last_progress = lg_now_ns();
		}
	}
	seen = atomic_load(&lg_delivered);
	{
		double secs = seen ? (double)(atomic_load(&lg_last_ns) - t0) / 1e9 : 0.0;

		printf("mode=pubsub qos=%d pubs=%d subs=%d payload=%d published=%ld expected=%ld "
		       "delivered=%ld lost=%ld publish_s=%.3f seconds=%.3f rate=%.0f\n",
		       o->qos, o->pubs, o->subs, o->payload, sent, expected, seen, expected - seen,
		       (double)(tpub - t0) / 1e9, secs, secs > 0 ? (double)seen / secs : 0.0);
	}
	rc = seen == expected ? 0 : 1;
	if (rc)
		fprintf(stderr, "loadgen: %ld of %ld messages were not delivered\n", expected - seen,
			expected);
out:
	for (int i = 0; i < o->pubs; i++)
		lg_client_stop(&pubs[i]);
	for (int i = 0; i < o->subs; i++)
		lg_client_stop(&subs[i]);
	free(payload);
	return rc;
}

struct lg_conn_worker {
	pthread_t thread;
	const struct lg_opts *o;
	SSL_CTX *ctx;
	char name[32];
	long end_ns, limit;
	atomic_long *total;
	long done, failed;
};

/* One full connect: TCP + TLS handshake + CONNECT/CONNACK + DISCONNECT. */
static bool lg_connect_once(struct lg_conn_worker *w)
{
	struct lg_client c = { .ctx = w->ctx };
	long end = lg_now_ns() + 10000000000L;
	bool ok = false;

	c.mosq = mosquitto_new(w->name, true, &c);
	if (!c.mosq)
		return false;
	lg_use_ctx(c.mosq, w->ctx);
	mosquitto_int_option(c.mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_callback_set(c.mosq, lg_on_connect);
	if (mosquitto_connect(c.mosq, w->o->host, w->o->port, 60) != MOSQ_ERR_SUCCESS)
		goto out;
	while (atomic_load(&c.connected) == 0 && lg_now_ns() < end)
		if (mosquitto_loop(c.mosq, 100, 1) != MOSQ_ERR_SUCCESS)
			break;
	ok = atomic_load(&c.connected) == 1;
	if (ok) {
		mosquitto_disconnect(c.mosq);
		mosquitto_loop(c.mosq, 10, 1);
	}
out:
	mosquitto_destroy(c.mosq);
	return ok;
}

static void *lg_conn_thread(void *arg)
{
	struct lg_conn_worker *w = arg;

	while (lg_now_ns() < w->end_ns && atomic_load(w->total) < w->limit) {
		atomic_fetch_add(w->total, 1);
		if (lg_connect_once(w))
			w->done++;
		else if (++w->failed > 10)
			break;
	}
	return NULL;
}

static int lg_connect(const struct lg_opts *o)
{
	struct lg_conn_worker w[LG_MAX_CLIENTS];
	atomic_long total = 0;
	long t0, done = 0, failed = 0;
	int started = 0, rc = 1;

	memset(w, 0, sizeof(w));
	t0 = lg_now_ns();
	for (int i = 0; i < o->conns; i++) {
		w[i].o = o;
		w[i].total = &total;
		w[i].limit = o->count >= 0 ? o->count : LONG_MAX;
		w[i].end_ns = t0 + (long)((o->count >= 0 ? o->timeout : o->duration) * 1e9);
		snprintf(w[i].name, sizeof(w[i].name), "bc%d", i);
		w[i].ctx = lg_ctx_new(o, w[i].name);
		if (!w[i].ctx)
			goto out;
	}
	t0 = lg_now_ns();
	for (; started < o->conns; started++)
		if (pthread_create(&w[started].thread, NULL, lg_conn_thread, &w[started])) {
			fprintf(stderr, "loadgen: cannot start a thread\n");
			break;
		}
	for (int i = 0; i < started; i++) {
		pthread_join(w[i].thread, NULL);
		done += w[i].done;
		failed += w[i].failed;
	}
	{
		double secs = (double)(lg_now_ns() - t0) / 1e9;

		printf("mode=connect conns=%d connects=%ld failed=%ld seconds=%.3f rate=%.1f\n",
		       o->conns, done, failed, secs, secs > 0 ? (double)done / secs : 0.0);
	}
	rc = failed || started < o->conns ? 1 : 0;
	if (failed)
		fprintf(stderr, "loadgen: %ld connects failed; see the broker log\n", failed);
out:
	for (int i = 0; i < o->conns; i++)
		SSL_CTX_free(w[i].ctx);
	return rc;
}

/* A publisher at a steady rate and one subscriber that records the longest
 * silence between two deliveries (bench/run reloads the policy meanwhile). */
static int lg_gap(const struct lg_opts *o)
{
	static struct lg_client pub, sub;
	long t0, sent = 0, period = (long)(1e9 / o->rate), next;
	int rc = 1;

	if (lg_client_start(&sub, o, "bs0") || lg_client_start(&pub, o, "bp0") ||
	    lg_subscribe(&sub, o->qos))
		goto out;
	t0 = lg_start_ns = lg_now_ns();
	next = t0;
	printf("ready\n");
	fflush(stdout);
	while (lg_now_ns() - t0 < (long)(o->duration * 1e9)) {
		if (mosquitto_publish(pub.mosq, NULL, pub.topic, o->payload, "0123456789abcdef",
				      o->qos, false) != MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "loadgen: publish failed\n");
			goto out;
		}
		sent++;
		next += period;
		if (next > lg_now_ns())
			lg_sleep_ns(next - lg_now_ns());
	}
	lg_sleep_ns(200000000L);
	printf("mode=gap rate=%.0f published=%ld delivered=%ld max_gap_ms=%.3f max_gap_at_s=%.3f\n",
	       o->rate, sent, atomic_load(&lg_delivered), (double)atomic_load(&lg_max_gap_ns) / 1e6,
	       (double)atomic_load(&lg_max_gap_at) / 1e9);
	rc = 0;
out:
	lg_client_stop(&pub);
	lg_client_stop(&sub);
	return rc;
}

static void lg_usage(FILE *f)
{
	fprintf(f,
		"usage: loadgen pubsub  -p PORT --ca FILE --dir DIR [--pubs N] [--subs M] [--qos 0|1]\n"
		"                       [--count C | --duration S] [--payload B] [--window W]\n"
		"       loadgen connect -p PORT --ca FILE --dir DIR [--conns K] [--count C | --duration S]\n"
		"       loadgen gap     -p PORT --ca FILE --dir DIR [--rate R] [--duration S] [--qos 0|1]\n"
		"common: [-H HOST] [--timeout S]; DIR holds devices/NAME/NAME.{crt,key}\n");
}

static int lg_parse(int argc, char **argv, struct lg_opts *o)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' }, { "port", required_argument, NULL, 'p' },
		{ "ca", required_argument, NULL, 'a' },   { "dir", required_argument, NULL, 'd' },
		{ "pubs", required_argument, NULL, 'P' }, { "subs", required_argument, NULL, 'S' },
		{ "conns", required_argument, NULL, 'k' }, { "qos", required_argument, NULL, 'q' },
		{ "count", required_argument, NULL, 'c' }, { "duration", required_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, 'T' }, { "payload", required_argument, NULL, 'b' },
		{ "window", required_argument, NULL, 'w' }, { "rate", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int ch;

	if (argc < 2) {
		lg_usage(stderr);
		return -1;
	}
	o->mode = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "H:p:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'H': o->host = optarg; break;
		case 'p': o->port = atoi(optarg); break;
		case 'a': o->cafile = optarg; break;
		case 'd': o->devdir = optarg; break;
		case 'P': o->pubs = atoi(optarg); break;
		case 'S': o->subs = atoi(optarg); break;
		case 'k': o->conns = atoi(optarg); break;
		case 'q': o->qos = atoi(optarg); break;
		case 'c': o->count = atol(optarg); break;
		case 't': o->duration = atof(optarg); break;
		case 'T': o->timeout = atof(optarg); break;
		case 'b': o->payload = atoi(optarg); break;
		case 'w': o->window = atol(optarg); break;
		case 'r': o->rate = atof(optarg); break;
		case 'h': lg_usage(stdout); exit(0);
		default: lg_usage(stderr); return -1;
		}
	}
	if (optind != argc || o->port <= 0 || o->port > 65535 || !o->cafile || !o->devdir ||
	    o->pubs < 1 || o->pubs > LG_MAX_CLIENTS || o->subs < 1 || o->subs > LG_MAX_CLIENTS ||
	    o->conns < 1 || o->conns > LG_MAX_CLIENTS || (o->qos != 0 && o->qos != 1) ||
	    o->count < -1 || o->duration <= 0 || o->duration > 3600 || o->timeout <= 0 ||
	    o->payload < 1 || o->payload > 65536 || o->window < 1 || o->rate <= 0 || o->rate > 1e6) {
		fprintf(stderr, "loadgen: bad or missing option\n");
		lg_usage(stderr);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct lg_opts o = {
		.host = "127.0.0.1", .count = -1, .pubs = 4, .subs = 4, .conns = 4, .duration = 10,
		.timeout = 300, .payload = 16, .window = 200, .rate = 2000,
	};
	int rc;

	if (lg_parse(argc, argv, &o))
		return 2;
	mosquitto_lib_init();
	if (!strcmp(o.mode, "pubsub")) {
		rc = lg_pubsub(&o);
	} else if (!strcmp(o.mode, "connect")) {
		rc = lg_connect(&o);
	} else if (!strcmp(o.mode, "gap")) {
		rc = lg_gap(&o);
	} else {
		lg_usage(stderr);
		rc = 2;
	}
	mosquitto_lib_cleanup();
	return rc;
}
