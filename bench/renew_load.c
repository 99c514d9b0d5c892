/* renew_load: N devices ask mqadmin serve for renewal at the same moment,
 * for bench/renew.
 *
 *   renew_load -p PORT --ca FILE --dir DIR --prefix P --count N
 *              [--delay S] [--timeout S] [--no-requests]
 *
 * Device i (1-based) is P%04d with DIR/devices/NAME/NAME.{crt,key}. Every
 * client connects (TLS, MQTT 5), subscribes to its reply topic and holds
 * a fresh EC P-256 key and CSR; after "ready" and --delay seconds all N
 * requests are published at once and each answer is timed. With
 * --no-requests the clients stay connected for --delay seconds and leave
 * (the baseline of the delivery gap). One line of key=value results on
 * stdout; errors on stderr. One thread: libmosquitto's loop per client. */
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

struct rl_client {
	struct mosquitto *m;
	char name[64], req[128], res[128];
	unsigned char *csr;
	int csrlen;
	int state; /* 0 connecting, 1 connected, 2 subscribed, 3 sent, 4 answered ok, 5 refused, -1 failed */
	double sent_at, answered_at;
};

static double rl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void rl_on_connect(struct mosquitto *m, void *ud, int rc, int f, const mosquitto_property *p)
{
	struct rl_client *c = ud;

	if (rc) {
		fprintf(stderr, "renew_load: %s refused: %s\n", c->name, mosquitto_reason_string(rc));
		c->state = -1;
		return;
	}
	c->state = 1;
	if (mosquitto_subscribe(m, NULL, c->res, 1))
		c->state = -1;
}

static void rl_on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *g,
			    const mosquitto_property *p)
{
	struct rl_client *c = ud;

	c->state = n == 1 && g[0] < 128 ? 2 : -1;
}

static void rl_on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg,
			  const mosquitto_property *p)
{
	struct rl_client *c = ud;

	if (c->state != 3)
		return;
	c->answered_at = rl_now();
	c->state = msg->payloadlen > 15 && !memcmp(msg->payload, "{\"status\":\"ok\"", 14) ? 4 : 5;
	if (c->state == 5)
		fprintf(stderr, "renew_load: %s refused: %.*s\n", c->name, msg->payloadlen,
			(const char *)msg->payload);
}

static int rl_csr(struct rl_client *c)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509_REQ *r = X509_REQ_new();
	X509_NAME *nm = X509_NAME_new();
	int rc = -1;

	if (k && r && nm &&
	    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (unsigned char *)c->name, -1, -1, 0) &&
	    X509_REQ_set_subject_name(r, nm) && X509_REQ_set_pubkey(r, k) &&
	    X509_REQ_sign(r, k, EVP_sha256())) {
		c->csr = NULL;
		c->csrlen = i2d_X509_REQ(r, &c->csr);
		rc = c->csrlen > 0 ? 0 : -1;
	}
	X509_NAME_free(nm);
	X509_REQ_free(r);
	EVP_PKEY_free(k);
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One pass over every client: poll them all, then service the ready ones. */
static void rl_pass(struct rl_client *cl, int n, struct pollfd *pf, int ms)
{
	for (int i = 0; i < n; i++) {
		pf[i].fd = cl[i].m ? mosquitto_socket(cl[i].m) : -1;
		pf[i].events = POLLIN | (cl[i].m && mosquitto_want_write(cl[i].m) ? POLLOUT : 0);
		pf[i].revents = 0;
	}
	poll(pf, (nfds_t)n, ms);
	for (int i = 0; i < n; i++) {
		if (!cl[i].m || pf[i].fd < 0)
			continue;
		if (pf[i].revents & (POLLIN | POLLERR | POLLHUP))
			mosquitto_loop_read(cl[i].m, 1);
		if (mosquitto_want_write(cl[i].m))
			mosquitto_loop_write(cl[i].m, 1);
		mosquitto_loop_misc(cl[i].m);
	}
}

static int rl_count(const struct rl_client *cl, int n, int state)
{
	int k = 0;

	for (int i = 0; i < n; i++)
		k += cl[i].state == state || (state == 45 && cl[i].state >= 4);
	return k;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"port", 1, NULL, 'p'}, {"ca", 1, NULL, 'a'}, {"dir", 1, NULL, 'd'},
		{"prefix", 1, NULL, 'P'}, {"count", 1, NULL, 'n'}, {"delay", 1, NULL, 'D'},
		{"timeout", 1, NULL, 'T'}, {"no-requests", 0, NULL, 'N'}, {NULL, 0, NULL, 0},
	};
	const char *ca = NULL, *dir = NULL, *prefix = "rn";
	int port = 0, n = 100, ch, ok, refused;
	double delay = 2, timeout = 300, t0, t_keys, t_conn, end;
	bool no_req = false;
	struct rl_client *cl;
	struct pollfd *pf;
	double *lat;

	while ((ch = getopt_long(argc, argv, "p:", lo, NULL)) != -1) {
		switch (ch) {
		case 'p': port = atoi(optarg); break;
		case 'a': ca = optarg; break;
		case 'd': dir = optarg; break;
		case 'P': prefix = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 'D': delay = atof(optarg); break;
		case 'T': timeout = atof(optarg); break;
		case 'N': no_req = true; break;
		default: return 2;
		}
	}
	if (!port || !ca || !dir || n < 1 || n > 100000) {
		fprintf(stderr, "usage: renew_load -p PORT --ca FILE --dir DIR --prefix P --count N "
			"[--delay S] [--timeout S] [--no-requests]\n");
		return 2;
	}
	cl = calloc((size_t)n, sizeof(*cl));
	pf = calloc((size_t)n, sizeof(*pf));
	lat = calloc((size_t)n, sizeof(*lat));
	if (!cl || !pf || !lat)
		return 1;
	mosquitto_lib_init();
	t0 = rl_now();
	for (int i = 0; i < n; i++) {
		snprintf(cl[i].name, sizeof(cl[i].name), "%s%04d", prefix, i + 1);
		snprintf(cl[i].req, sizeof(cl[i].req), "mqcert/renew/%s/req", cl[i].name);
		snprintf(cl[i].res, sizeof(cl[i].res), "mqcert/renew/%s/res", cl[i].name);
		if (!no_req && rl_csr(&cl[i])) {
			fprintf(stderr, "renew_load: cannot make a key and CSR\n");
			return 1;
		}
	}
	t_keys = rl_now() - t0;
	t0 = rl_now();
	for (int i = 0; i < n; i++) {
		char crt[4096], key[4096];

		snprintf(crt, sizeof(crt), "%s/devices/%s/%s.crt", dir, cl[i].name, cl[i].name);
		snprintf(key, sizeof(key), "%s/devices/%s/%s.key", dir, cl[i].name, cl[i].name);
		cl[i].m = mosquitto_new(cl[i].name, true, &cl[i]);
		if (!cl[i].m || mosquitto_int_option(cl[i].m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5) ||
		    mosquitto_tls_set(cl[i].m, ca, NULL, crt, key, NULL)) {
			fprintf(stderr, "renew_load: cannot set up %s\n", cl[i].name);
			return 1;
		}
		mosquitto_connect_v5_callback_set(cl[i].m, rl_on_connect);
		mosquitto_subscribe_v5_callback_set(cl[i].m, rl_on_subscribe);
		mosquitto_message_v5_callback_set(cl[i].m, rl_on_message);
		if (mosquitto_connect(cl[i].m, "localhost", port, 600)) {
			fprintf(stderr, "renew_load: %s cannot connect\n", cl[i].name);
			return 1;
		}
		/* Keep the earlier ones' handshakes and CONNACKs moving. */
		if (i % 50 == 49)
			rl_pass(cl, i + 1, pf, 0);
	}
	end = rl_now() + timeout;
	while (rl_count(cl, n, 2) + rl_count(cl, n, -1) < n && rl_now() < end)
		rl_pass(cl, n, pf, 50);
	t_conn = rl_now() - t0;
	if (rl_count(cl, n, 2) < n) {
		fprintf(stderr, "renew_load: only %d of %d clients connected and subscribed\n",
			rl_count(cl, n, 2), n);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (double until = rl_now() + delay; rl_now() < until;)
		rl_pass(cl, n, pf, 50);
	if (no_req) {
		printf("mode=idle clients=%d connect_s=%.2f\n", n, t_conn);
		return 0;
	}
	t0 = rl_now();
	for (int i = 0; i < n; i++) {
		mosquitto_property *props = NULL;

		mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, cl[i].res);
		cl[i].sent_at = rl_now();
		if (mosquitto_publish_v5(cl[i].m, NULL, cl[i].req, cl[i].csrlen, cl[i].csr, 1, false,
					 props))
			cl[i].state = -1;
		else
			cl[i].state = 3;
		mosquitto_property_free_all(&props);
	}
	end = rl_now() + timeout;
	while (rl_count(cl, n, 45) + rl_count(cl, n, -1) < n && rl_now() < end)
		rl_pass(cl, n, pf, 20);
	ok = rl_count(cl, n, 4);
	refused = rl_count(cl, n, 5);
	for (int i = 0, k = 0; i < n; i++)
		if (cl[i].state >= 4)
			lat[k++] = cl[i].answered_at - cl[i].sent_at;
	qsort(lat, (size_t)(ok + refused), sizeof(*lat), cmp_double);
	{
		int a = ok + refused;
		double last = 0;

		for (int i = 0; i < n; i++)
			if (cl[i].state >= 4 && cl[i].answered_at - t0 > last)
				last = cl[i].answered_at - t0;
		printf("mode=renew clients=%d answered=%d ok=%d refused=%d keygen_s=%.2f connect_s=%.2f "
		       "all_answered_s=%.2f renewals_per_s=%.1f latency_p50_ms=%.0f latency_p99_ms=%.0f "
		       "latency_max_ms=%.0f\n", n, a, ok, refused, t_keys, t_conn, last,
		       last > 0 ? ok / last : 0, a ? lat[a / 2] * 1e3 : 0,
		       a ? lat[(int)(a * 0.99)] * 1e3 : 0, a ? lat[a - 1] * 1e3 : 0);
	}
	for (int i = 0; i < n; i++) {
		mosquitto_disconnect(cl[i].m);
		mosquitto_destroy(cl[i].m);
		OPENSSL_free(cl[i].csr);
	}
	free(cl);
	free(pf);
	free(lat);
	mosquitto_lib_cleanup();
	return ok == n ? 0 : 1;
}
