/* The etcd v3 JSON gateway client (etcd.h): HTTP(S) with libcurl, keys and
 * values base64 in JSON, endpoints tried in turn, login and election retry. */
#include "etcd.h"

#include "mq_err.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define ETCD_TIMEOUT_MS 5000L
#define ETCD_CONNECT_MS 2000L
#define ETCD_PASSWORD_MAX 1024

/* etcd_http_error's verdicts that etcd_call acts on (never returned). */
enum {
	ETCD_RETRY_AUTH = -10,   /* the token is unknown or stale: log in again */
	ETCD_RETRY_LEADER = -11, /* an election is under way: wait a little, retry */
};

struct etcd {
	char *list;  /* the endpoints as given */
	char **urls; /* each without a trailing '/' */
	size_t nurls, cur;
	char *cacert, *cert, *key;
	long timeout_ms;
	CURL *h; /* reused: keeps the connection between calls */
	char *user, *pwfile, *password;
	char *token;    /* from /v3/auth/authenticate; NULL: log in first */
	size_t tok_url; /* the endpoint that issued it (simple tokens are per member) */
	bool authing;   /* the call under way is the login */
	bool auth_off;  /* etcd at tok_url said its auth is not enabled: no token */
};

/* ---- small helpers ------------------------------------------------------ */

static char *etcd_b64(const char *s, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)len);
	return out;
}

/* Decodes b64 into a NUL-terminated copy; NULL on bad input or OOM. */
static char *etcd_unb64(const char *b64, size_t *len)
{
	size_t n = strlen(b64), pad = 0;
	char *out;
	int got;

	if (n % 4)
		return NULL;
	if (!(out = malloc(n / 4 * 3 + 1)))
		return NULL;
	if (n && b64[n - 1] == '=')
		pad++;
	if (n > 1 && b64[n - 2] == '=')
		pad++;
	got = n ? EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)b64, (int)n) : 0;
	if (got < 0) {
		free(out);
		return NULL;
	}
	*len = (size_t)got - pad;
	out[*len] = '\0';
	return out;
}

/* int64 members come as strings ("12") from the gateway. */
static int64_t etcd_i64(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (cJSON_IsString(v))
		return strtoll(v->valuestring, NULL, 10);
	if (cJSON_IsNumber(v))
		return (int64_t)v->valuedouble;
	return 0;
}

static int etcd_add_i64(cJSON *o, const char *name, int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return cJSON_AddStringToObject(o, name, buf) ? 0 : -1;
}

static int etcd_add_b64(cJSON *o, const char *name, const char *s, size_t len)
{
	char *b = etcd_b64(s, len);
	int rc = b && cJSON_AddStringToObject(o, name, b) ? 0 : -1;

	free(b);
	return rc;
}

char *etcd_prefix_end(const char *key)
{
	size_t n = strlen(key);
	char *end = malloc(n + 2);

	if (!end)
		return NULL;
	memcpy(end, key, n + 1);
	while (n > 0) {
		if ((unsigned char)end[n - 1] < 0xff) {
			end[n - 1]++;
			end[n] = '\0';
			return end;
		}
		n--;
	}
	/* Every byte 0xff (or empty): etcd's "\0" means "to the end". */
	end[0] = '\0';
	return end;
}

/* key and range_end (NULL: one key; "": the prefix) into o. */
static int etcd_add_range(cJSON *o, const char *key, const char *range_end)
{
	int rc;

	if (etcd_add_b64(o, "key", key, strlen(key)))
		return -1;
	if (!range_end)
		return 0;
	if (*range_end)
		return etcd_add_b64(o, "range_end", range_end, strlen(range_end));
	char *end = etcd_prefix_end(key);

	if (!end)
		return -1;
	/* An all-0xff key: "\0" (one NUL byte) means "to the end". */
	rc = etcd_add_b64(o, "range_end", end, *end ? strlen(end) : 1);
	free(end);
	return rc;
}

/* ---- client -------------------------------------------------------------- */

static char *etcd_dup(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

void etcd_free(struct etcd *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nurls; i++)
		free(e->urls[i]);
	free(e->urls);
	free(e->list);
	free(e->cacert);
	free(e->cert);
	free(e->key);
	free(e->user);
	free(e->pwfile);
	free(e->token);
	if (e->password) {
		OPENSSL_cleanse(e->password, strlen(e->password));
		free(e->password);
	}
	if (e->h)
		curl_easy_cleanup(e->h);
	free(e);
}

/* The password of e->user from e->pwfile, read once: a regular file that
 * other users cannot open (it grants the user's roles on the fleet). */
static int etcd_read_password(struct etcd *e, char *err, size_t errlen)
{
	char buf[ETCD_PASSWORD_MAX + 2];
	size_t n = 0;
	struct stat sb;
	int fd = open(e->pwfile, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC), rc = -1;

	if (fd < 0) {
		mq_errf(err, errlen, "cannot open the password file %s of etcd user '%s': %s; give the "
			"file scripts/fleet-etcd-auth wrote (DIR/etcd/%s.password) with "
			"--etcd-password-file", e->pwfile, e->user, strerror(errno), e->user);
		return -1;
	}
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		mq_errf(err, errlen, "the etcd password file %s is not a regular file", e->pwfile);
		goto out;
	}
	if (sb.st_mode & S_IRWXO) {
		mq_errf(err, errlen, "the etcd password file %s is open to other users (mode %04o): "
			"anyone on this machine could act as etcd user '%s'; run chmod o-rwx %s "
			"(600, or 640 for the broker's group)", e->pwfile,
			(unsigned)(sb.st_mode & 07777), e->user, e->pwfile);
		goto out;
	}
	while (n < sizeof(buf)) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			mq_errf(err, errlen, "cannot read the etcd password file %s: %s", e->pwfile,
				strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n && buf[n - 1] == '\n')
		n--;
	if (n && buf[n - 1] == '\r')
		n--;
	if (!n || n > ETCD_PASSWORD_MAX || memchr(buf, '\0', n)) {
		mq_errf(err, errlen, "the etcd password file %s is %s: it holds the password of user "
			"'%s' on one line", e->pwfile, !n ? "empty" : "too long or holds a NUL byte",
			e->user);
		goto out;
	}
	if (!(e->password = strndup(buf, n))) {
		mq_errf(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

int etcd_new(struct etcd **out, const struct etcd_opts *o, char *err, size_t errlen)
{
	static bool inited;
	struct etcd *e = calloc(1, sizeof(*e));
	char *copy = NULL, *save = NULL;

	*out = NULL;
	if (!e)
		goto oom;
	if (!inited) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		inited = true;
	}
	if (!o->endpoints || !*o->endpoints) {
		mq_errf(err, errlen, "no etcd endpoint given; give --etcd URL[,URL...]");
		goto fail;
	}
	if (!(e->list = strdup(o->endpoints)) || !(copy = strdup(o->endpoints)))
		goto oom;
	for (char *u = strtok_r(copy, ", ", &save); u; u = strtok_r(NULL, ", ", &save)) {
		char **nv = realloc(e->urls, (e->nurls + 1) * sizeof(*nv));
		size_t n = strlen(u);

		if (!nv)
			goto oom;
		e->urls = nv;
		if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) {
			mq_errf(err, errlen,
				"etcd endpoint '%s' is not a URL; give http://HOST:PORT or https://HOST:PORT",
				u);
			goto fail;
		}
		while (n && u[n - 1] == '/')
			u[--n] = '\0';
		if (!(e->urls[e->nurls] = strdup(u)))
			goto oom;
		e->nurls++;
	}
	if (!e->nurls) {
		mq_errf(err, errlen, "no etcd endpoint in '%s'; give --etcd URL[,URL...]", o->endpoints);
		goto fail;
	}
	e->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : ETCD_TIMEOUT_MS;
	if ((o->cacert && *o->cacert && !(e->cacert = etcd_dup(o->cacert))) ||
	    (o->cert && *o->cert && !(e->cert = etcd_dup(o->cert))) ||
	    (o->key && *o->key && !(e->key = etcd_dup(o->key))))
		goto oom;
	if ((e->cert != NULL) != (e->key != NULL)) {
		mq_errf(err, errlen, "an etcd client certificate needs its key and a key its certificate: "
			"give both etcd_cert and etcd_key");
		goto fail;
	}
	if ((o->user && *o->user) != (o->password_file && *o->password_file)) {
		mq_errf(err, errlen, "an etcd user needs its password file and a password file its "
			"user: give both --etcd-user and --etcd-password-file (etcd_user, "
			"etcd_password_file)");
		goto fail;
	}
	if (o->user && *o->user) {
		if (!(e->user = strdup(o->user)) || !(e->pwfile = strdup(o->password_file)))
			goto oom;
		if (etcd_read_password(e, err, errlen))
			goto fail;
	}
	free(copy);
	*out = e;
	return 0;
oom:
	mq_errf(err, errlen, "out of memory");
fail:
	free(copy);
	etcd_free(e);
	return -1;
}

const char *etcd_endpoint_last(const struct etcd *e)
{
	return e->urls[e->cur];
}

const char *etcd_endpoints(const struct etcd *e)
{
	return e->list;
}

struct etcd_buf {
	char *p;
	size_t n, cap;
};

static size_t etcd_collect(char *data, size_t size, size_t nmemb, void *arg)
{
	struct etcd_buf *b = arg;
	size_t n = size * nmemb;

	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *p = realloc(b->p, cap);

		if (!p)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, n);
	b->n += n;
	b->p[b->n] = '\0';
	return n;
}

static void etcd_setup(const struct etcd *e, CURL *h, const char *url, struct curl_slist *hdrs)
{
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 e->timeout_ms < ETCD_CONNECT_MS ? e->timeout_ms : ETCD_CONNECT_MS);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (e->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, e->cacert);
	if (e->cert) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, e->cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, e->key);
	}
}

/* Failures that say nothing reached etcd, or that the endpoint died:
 * the next endpoint is tried. */
static bool etcd_conn_failure(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
		return true;
	default:
		return false;
	}
}

/* etcd's own error: {"error": "...", "code": N, "message": "..."}. */
static int etcd_http_error(const struct etcd *e, long status, const char *body, const char *what,
			   char *err, size_t errlen)
{
	cJSON *j = body ? cJSON_Parse(body) : NULL;
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
	const char *msg;
	int rc = ETCD_ERR;

	if (!cJSON_IsString(m))
		m = cJSON_GetObjectItemCaseSensitive(j, "error");
	msg = cJSON_IsString(m) ? m->valuestring : (body && *body ? body : "no answer");
	if (strstr(msg, "compacted")) {
		mq_errf(err, errlen, "etcd at %s: %s: %s", e->urls[e->cur], what, msg);
		rc = ETCD_COMPACTED;
	} else if (e->user && strstr(msg, "authentication failed")) {
		mq_errf(err, errlen, "etcd at %s refused user '%s': authentication failed; check the "
			"password file %s (scripts/fleet-etcd-auth sets the user's password from it)",
			e->urls[e->cur], e->user, e->pwfile);
	} else if (strstr(msg, "invalid auth token") || strstr(msg, "auth store is old")) {
		mq_errf(err, errlen, "etcd at %s refused %s: %s%s", e->urls[e->cur], what, msg,
			e->user ? "" : "; give --etcd-user and --etcd-password-file");
		rc = e->user ? ETCD_RETRY_AUTH : ETCD_ERR;
	} else if (strstr(msg, "leader changed") || strstr(msg, "no leader")) {
		mq_errf(err, errlen, "etcd at %s: %s failed: %s; the members are electing a leader: "
			"try again in a few seconds", e->urls[e->cur], what, msg);
		rc = ETCD_RETRY_LEADER;
	} else if (e->user && !e->authing && strstr(msg, "user name is empty")) {
		/* Auth was enabled after this client found it off. */
		mq_errf(err, errlen, "etcd at %s refused %s: %s", e->urls[e->cur], what, msg);
		rc = ETCD_RETRY_AUTH;
	} else if (strstr(msg, "user name is empty")) {
		mq_errf(err, errlen, "etcd at %s refused %s: etcd auth is on and no etcd user was "
			"given: give --etcd-user and --etcd-password-file (etcd_user, etcd_password_file "
			"in the config file; docs/FLEET.md)", e->urls[e->cur], what);
	} else if (strstr(msg, "permission denied")) {
		if (e->user)
			mq_errf(err, errlen, "etcd at %s refused user '%s' %s: permission denied; the "
				"user's etcd roles do not grant it (docs/FLEET.md, \"Who may read and "
				"write what\")", e->urls[e->cur], e->user, what);
		else
			mq_errf(err, errlen, "etcd at %s refused %s: permission denied; log in as a "
				"user whose roles grant it (--etcd-user, docs/FLEET.md)", e->urls[e->cur],
				what);
	} else if (strstr(msg, "user name") || strstr(msg, "authentication")) {
		mq_errf(err, errlen, "etcd at %s refused %s: %s; check --etcd-user and "
			"--etcd-password-file (docs/FLEET.md)", e->urls[e->cur], what, msg);
	} else if (strstr(msg, "too many operations") || strstr(msg, "request is too large")) {
		mq_errf(err, errlen, "etcd at %s refused %s: %s; one mqadmin command is one etcd "
			"transaction: raise etcd's --max-txn-ops and --max-request-bytes (docs/FLEET.md)",
			e->urls[e->cur], what, msg);
	} else {
		mq_errf(err, errlen, "etcd at %s: %s failed (HTTP %ld): %s", e->urls[e->cur], what,
			status, msg);
	}
	cJSON_Delete(j);
	return rc;
}

/* The request's headers: JSON, and the login's token when there is one. */
static struct curl_slist *etcd_headers(const struct etcd *e)
{
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json"), *n;
	char *auth;

	if (!h || !e->token || e->authing)
		return h;
	if (!(auth = malloc(strlen(e->token) + sizeof("Authorization: ")))) {
		curl_slist_free_all(h);
		return NULL;
	}
	sprintf(auth, "Authorization: %s", e->token);
	n = curl_slist_append(h, auth);
	free(auth);
	if (!n)
		curl_slist_free_all(h);
	return n;
}

/* POSTs body to path on the current endpoint, moving on to the next
 * when it cannot be reached. *resp: the parsed answer. */
static int etcd_post(struct etcd *e, const char *path, const char *body, cJSON **resp,
		     const char *what, char *err, size_t errlen)
{
	char tried[1024] = "";
	struct curl_slist *hdrs = NULL;
	struct etcd_buf b = {0};
	bool tls_closed = false; /* an https endpoint hung up during or after the handshake */
	int rc = ETCD_ERR;

	*resp = NULL;
	if (!(hdrs = etcd_headers(e)))
		goto oom;
	if (!e->h && !(e->h = curl_easy_init()))
		goto oom;
	for (size_t i = 0; i < e->nurls; i++) {
		char url[1024], ebuf[CURL_ERROR_SIZE] = "";
		long status = 0;
		CURLcode c;
		size_t tl = strlen(tried);

		snprintf(url, sizeof(url), "%s%s", e->urls[e->cur], path);
		etcd_setup(e, e->h, url, hdrs);
		curl_easy_setopt(e->h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e->h, CURLOPT_TIMEOUT_MS, e->timeout_ms);
		curl_easy_setopt(e->h, CURLOPT_WRITEFUNCTION, etcd_collect);
		curl_easy_setopt(e->h, CURLOPT_WRITEDATA, &b);
		curl_easy_setopt(e->h, CURLOPT_ERRORBUFFER, ebuf);
		b.n = 0;
		c = curl_easy_perform(e->h);
		if (c == CURLE_OK) {
			curl_easy_getinfo(e->h, CURLINFO_RESPONSE_CODE, &status);
			if (status != 200) {
				rc = etcd_http_error(e, status, b.p, what, err, errlen);
				goto out;
			}
			if (!b.p || !(*resp = cJSON_Parse(b.p))) {
				mq_errf(err, errlen, "etcd at %s: %s: the answer is not JSON; is this the "
					"client URL of an etcd 3.4 or later?", e->urls[e->cur], what);
				goto out;
			}
			rc = 0;
			goto out;
		}
		snprintf(tried + tl, sizeof(tried) - tl, "%s%s (%s)", tl ? ", " : "", e->urls[e->cur],
			 *ebuf ? ebuf : curl_easy_strerror(c));
		if (!etcd_conn_failure(c)) {
			mq_errf(err, errlen, "etcd at %s: %s failed: %s; check the URL and the TLS files "
				"(etcd_cacert, etcd_cert, etcd_key)", e->urls[e->cur], what,
				*ebuf ? ebuf : curl_easy_strerror(c));
			goto out;
		}
		if (!strncmp(e->urls[e->cur], "https:", 6) &&
		    (c == CURLE_SEND_ERROR || c == CURLE_RECV_ERROR || c == CURLE_GOT_NOTHING ||
		     c == CURLE_SSL_CONNECT_ERROR))
			tls_closed = true;
		e->cur = (e->cur + 1) % e->nurls;
	}
	mq_errf(err, errlen, "cannot reach etcd at %s; is etcd running and the URL right (--etcd)?%s",
		tried, tls_closed ? " With https: etcd closes the connection when it does not trust "
				    "the client certificate: check --etcd-cert/--etcd-key (etcd_cert, "
				    "etcd_key) and --etcd-cacert" : "");
	rc = ETCD_UNREACHABLE;
	goto out;
oom:
	mq_errf(err, errlen, "out of memory");
out:
	curl_slist_free_all(hdrs);
	free(b.p);
	if (rc) {
		cJSON_Delete(*resp);
		*resp = NULL;
	}
	return rc;
}

/* Logs in as e->user on the current endpoint: a new e->token. */
static int etcd_authenticate(struct etcd *e, char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *resp = NULL;
	const cJSON *t;
	char *body = NULL;
	int rc = ETCD_ERR;

	free(e->token);
	e->token = NULL;
	if (!req || !cJSON_AddStringToObject(req, "name", e->user) ||
	    !cJSON_AddStringToObject(req, "password", e->password) ||
	    !(body = cJSON_PrintUnformatted(req))) {
		mq_errf(err, errlen, "out of memory");
		goto out;
	}
	e->auth_off = false;
	e->authing = true;
	rc = etcd_post(e, "/v3/auth/authenticate", body, &resp, "logging in", err, errlen);
	e->authing = false;
	if (rc == ETCD_ERR && strstr(err, "authentication is not enabled")) {
		/* A user configured before auth is enabled (the bootstrap):
		 * go on without a token; "user name is empty" later means
		 * auth came on, and logs in then. */
		e->auth_off = true;
		e->tok_url = e->cur;
		rc = 0;
		goto out;
	}
	if (rc)
		goto out;
	t = cJSON_GetObjectItemCaseSensitive(resp, "token");
	if (!cJSON_IsString(t) || !*t->valuestring) {
		mq_errf(err, errlen, "etcd at %s gave user '%s' no token: is etcd auth enabled? "
			"(scripts/fleet-etcd-auth enables it)", e->urls[e->cur], e->user);
		rc = ETCD_ERR;
		goto out;
	}
	if (!(e->token = strdup(t->valuestring))) {
		mq_errf(err, errlen, "out of memory");
		rc = ETCD_ERR;
		goto out;
	}
	e->tok_url = e->cur;
out:
	if (rc == ETCD_RETRY_AUTH)
		rc = ETCD_ERR;
	if (body) {
		OPENSSL_cleanse(body, strlen(body));
		free(body);
	}
	/* cJSON keeps the password in its own copy: wipe it too. */
	t = cJSON_GetObjectItemCaseSensitive(req, "password");
	if (cJSON_IsString(t))
		OPENSSL_cleanse(t->valuestring, strlen(t->valuestring));
	cJSON_Delete(req);
	cJSON_Delete(resp);
	return rc;
}

/* Logs in when needed: no token yet, or one from another endpoint. */
static int etcd_ready(struct etcd *e, char *err, size_t errlen)
{
	if (!e->user || ((e->token || e->auth_off) && e->tok_url == e->cur))
		return 0;
	return etcd_authenticate(e, err, errlen);
}

static void etcd_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static const long etcd_leader_waits[] = {200, 500, 1200};

/* POSTs req (taken) to path, logged in when a user is configured. A
 * stale token ("invalid auth token") gets one new login; an election
 * ("leader changed", "no leader") up to three retries, about 2 s in all,
 * so that a write during an election succeeds. */
static int etcd_call(struct etcd *e, const char *path, cJSON *req, cJSON **resp, const char *what,
		     char *err, size_t errlen)
{
	char *body = cJSON_PrintUnformatted(req);
	bool relogged = false;
	size_t waits = 0;
	int rc;

	*resp = NULL;
	cJSON_Delete(req);
	if (!body) {
		mq_errf(err, errlen, "out of memory");
		return ETCD_ERR;
	}
	for (;;) {
		rc = etcd_ready(e, err, errlen);
		if (!rc)
			rc = etcd_post(e, path, body, resp, what, err, errlen);
		if (rc == ETCD_RETRY_AUTH && !relogged) {
			relogged = true;
			free(e->token);
			e->token = NULL;
			e->auth_off = false;
			continue;
		}
		if (rc == ETCD_RETRY_LEADER &&
		    waits < sizeof(etcd_leader_waits) / sizeof(etcd_leader_waits[0])) {
			etcd_sleep_ms(etcd_leader_waits[waits++]);
			continue;
		}
		break;
	}
	free(body);
	return rc == ETCD_RETRY_AUTH || rc == ETCD_RETRY_LEADER ? ETCD_ERR : rc;
}

/* ---- key-values ---------------------------------------------------------- */

static void etcd_kv_clear(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

void etcd_kvs_free(struct etcd_kvs *k)
{
	for (size_t i = 0; i < k->n; i++)
		etcd_kv_clear(&k->v[i]);
	free(k->v);
	memset(k, 0, sizeof(*k));
}

static int etcd_kv_read(const cJSON *o, struct etcd_kv *kv)
{
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "key"),
		    *v = cJSON_GetObjectItemCaseSensitive(o, "value");

	memset(kv, 0, sizeof(*kv));
	if (!cJSON_IsString(k) || !(kv->key = etcd_unb64(k->valuestring, &kv->keylen)))
		return -1;
	if (cJSON_IsString(v) && !(kv->value = etcd_unb64(v->valuestring, &kv->vlen))) {
		etcd_kv_clear(kv);
		return -1;
	}
	if (!kv->value && !(kv->value = strdup(""))) {
		etcd_kv_clear(kv);
		return -1;
	}
	kv->create_rev = etcd_i64(o, "create_revision");
	kv->mod_rev = etcd_i64(o, "mod_revision");
	kv->version = etcd_i64(o, "version");
	kv->lease = etcd_i64(o, "lease");
	return 0;
}

static int etcd_read_kvs(const cJSON *r, struct etcd_kvs *out)
{
	const cJSON *kvs = cJSON_GetObjectItemCaseSensitive(r, "kvs"), *it;
	size_t n = (size_t)cJSON_GetArraySize(kvs);

	memset(out, 0, sizeof(*out));
	out->rev = etcd_i64(cJSON_GetObjectItemCaseSensitive(r, "header"), "revision");
	out->count = etcd_i64(r, "count");
	out->more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "more"));
	if (!n)
		return 0;
	if (!(out->v = calloc(n, sizeof(*out->v))))
		return -1;
	cJSON_ArrayForEach(it, kvs) {
		if (etcd_kv_read(it, &out->v[out->n]))
			return -1;
		out->n++;
	}
	return 0;
}

static cJSON *etcd_range_json(const struct etcd_range_req *r)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || etcd_add_range(o, r->key, r->range_end) ||
	    (r->revision && etcd_add_i64(o, "revision", r->revision)) ||
	    (r->min_mod_revision && etcd_add_i64(o, "min_mod_revision", r->min_mod_revision)) ||
	    (r->limit && etcd_add_i64(o, "limit", r->limit)) ||
	    (r->keys_only && !cJSON_AddTrueToObject(o, "keys_only")) ||
	    (r->count_only && !cJSON_AddTrueToObject(o, "count_only"))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int etcd_range(struct etcd *e, const struct etcd_range_req *r, struct etcd_kvs *out, char *err,
	       size_t errlen)
{
	cJSON *req = etcd_range_json(r), *resp;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!req) {
		mq_errf(err, errlen, "out of memory");
		return ETCD_ERR;
	}
	rc = etcd_call(e, "/v3/kv/range", req, &resp, "reading", err, errlen);
	if (rc)
		return rc;
	if (etcd_read_kvs(resp, out)) {
		mq_errf(err, errlen, "etcd at %s: a key or value in the answer is not base64, or out of "
			"memory", etcd_endpoint_last(e));
		etcd_kvs_free(out);
		rc = ETCD_ERR;
	}
	cJSON_Delete(resp);
	return rc;
}

int etcd_range_each(struct etcd *e, const struct etcd_range_req *r, int64_t page,
		    int (*cb)(void *arg, const struct etcd_kv *kv), void *arg, int64_t *rev,
		    char *err, size_t errlen)
{
	struct etcd_range_req q = *r;
	char *next = NULL, *end = NULL;
	int rc = 0;

	*rev = 0;
	q.limit = page;
	if (r->range_end && !*r->range_end) {
		if (!(end = etcd_prefix_end(r->key))) {
			mq_errf(err, errlen, "out of memory");
			return ETCD_ERR;
		}
		q.range_end = end;
	}
	for (;;) {
		struct etcd_kvs k;

		rc = etcd_range(e, &q, &k, err, errlen);
		if (rc)
			break;
		if (!*rev)
			*rev = q.revision = k.rev;
		for (size_t i = 0; i < k.n && !rc; i++)
			rc = cb(arg, &k.v[i]);
		if (rc || !k.more || !k.n) {
			etcd_kvs_free(&k);
			break;
		}
		/* The next page starts just after the last key: key + "\0". */
		free(next);
		next = strdup(k.v[k.n - 1].key);
		etcd_kvs_free(&k);
		if (!next) {
			mq_errf(err, errlen, "out of memory");
			rc = ETCD_ERR;
			break;
		}
		size_t n = strlen(next);
		char *nk = realloc(next, n + 2);

		if (!nk) {
			mq_errf(err, errlen, "out of memory");
			rc = ETCD_ERR;
			break;
		}
		/* A key with a trailing NUL cannot be a C string: use the next
		 * byte value instead, which etcd orders just after key+"\0"
		 * for our printable keys. */
		next = nk;
		next[n] = '\x01';
		next[n + 1] = '\0';
		q.key = next;
	}
	free(next);
	free(end);
	return rc;
}

int etcd_put(struct etcd *e, const char *key, const char *value, size_t vlen, int64_t lease,
	     int64_t *rev, char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *resp;
	int rc;

	if (!req || etcd_add_b64(req, "key", key, strlen(key)) ||
	    etcd_add_b64(req, "value", value, vlen) || (lease && etcd_add_i64(req, "lease", lease))) {
		cJSON_Delete(req);
		mq_errf(err, errlen, "out of memory");
		return ETCD_ERR;
	}
	rc = etcd_call(e, "/v3/kv/put", req, &resp, "writing", err, errlen);
	if (!rc && rev)
		*rev = etcd_i64(cJSON_GetObjectItemCaseSensitive(resp, "header"), "revision");
	cJSON_Delete(resp);
	return rc;
}

int etcd_delete(struct etcd *e, const char *key, const char *range_end, int64_t *deleted,
		char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *resp;
	int rc;

	if (!req || etcd_add_range(req, key, range_end)) {
		cJSON_Delete(req);
		mq_errf(err, errlen, "out of memory");
		return ETCD_ERR;
	}
	rc = etcd_call(e, "/v3/kv/deleterange", req, &resp, "deleting", err, errlen);
	if (!rc && deleted)
		*deleted = etcd_i64(resp, "deleted");
	cJSON_Delete(resp);
	return rc;
}

/* ---- transactions -------------------------------------------------------- */

struct etcd_cmp {
	char *key;
	enum etcd_target target;
	enum etcd_op op;
	int64_t v;
	bool failed;
	int64_t now_mod; /* after a failure: the key's mod revision (0: absent) */
};

struct etcd_txn {
	cJSON *success;
	struct etcd_cmp *cmps;
	size_t ncmps, nops;
};

struct etcd_txn *etcd_txn_new(void)
{
	struct etcd_txn *t = calloc(1, sizeof(*t));

	if (t && !(t->success = cJSON_CreateArray())) {
		free(t);
		t = NULL;
	}
	return t;
}

void etcd_txn_free(struct etcd_txn *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->ncmps; i++)
		free(t->cmps[i].key);
	free(t->cmps);
	cJSON_Delete(t->success);
	free(t);
}

int etcd_txn_compare(struct etcd_txn *t, const char *key, enum etcd_target target,
		     enum etcd_op op, int64_t v)
{
	struct etcd_cmp *n = realloc(t->cmps, (t->ncmps + 1) * sizeof(*n));

	if (!n)
		return -1;
	t->cmps = n;
	memset(&n[t->ncmps], 0, sizeof(*n));
	if (!(n[t->ncmps].key = strdup(key)))
		return -1;
	n[t->ncmps].target = target;
	n[t->ncmps].op = op;
	n[t->ncmps].v = v;
	t->ncmps++;
	return 0;
}

int etcd_txn_put(struct etcd_txn *t, const char *key, const char *value, size_t vlen,
		 int64_t lease)
{
	cJSON *op = cJSON_CreateObject(), *put = cJSON_AddObjectToObject(op, "request_put");

	if (!op || !put || etcd_add_b64(put, "key", key, strlen(key)) ||
	    etcd_add_b64(put, "value", value, vlen) || (lease && etcd_add_i64(put, "lease", lease)) ||
	    !cJSON_AddItemToArray(t->success, op)) {
		cJSON_Delete(op);
		return -1;
	}
	t->nops++;
	return 0;
}

int etcd_txn_delete(struct etcd_txn *t, const char *key)
{
	cJSON *op = cJSON_CreateObject(), *del = cJSON_AddObjectToObject(op, "request_delete_range");

	if (!op || !del || etcd_add_b64(del, "key", key, strlen(key)) ||
	    !cJSON_AddItemToArray(t->success, op)) {
		cJSON_Delete(op);
		return -1;
	}
	t->nops++;
	return 0;
}

size_t etcd_txn_ops(const struct etcd_txn *t)
{
	return t->nops;
}

static const char *const etcd_targets[] = {"VERSION", "CREATE", "MOD"};
static const char *const etcd_target_fields[] = {"version", "create_revision", "mod_revision"};
static const char *const etcd_ops[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};

static bool etcd_cmp_holds(const struct etcd_cmp *c, int64_t have)
{
	switch (c->op) {
	case ETCD_EQUAL:
		return have == c->v;
	case ETCD_GREATER:
		return have > c->v;
	case ETCD_LESS:
		return have < c->v;
	default:
		return have != c->v;
	}
}

/* The failure branch read every compared key: mark the compares that do
 * not hold on what it read. */
static void etcd_txn_judge(struct etcd_txn *t, const cJSON *responses)
{
	const cJSON *it;
	size_t i = 0;

	cJSON_ArrayForEach(it, responses) {
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(it, "response_range");
		struct etcd_kvs k;
		int64_t have = 0;
		struct etcd_cmp *c;

		if (i >= t->ncmps)
			break;
		c = &t->cmps[i++];
		if (etcd_read_kvs(r, &k)) {
			etcd_kvs_free(&k);
			continue;
		}
		if (k.n) {
			c->now_mod = k.v[0].mod_rev;
			have = c->target == ETCD_VERSION ? k.v[0].version
			       : c->target == ETCD_CREATE ? k.v[0].create_rev
							  : k.v[0].mod_rev;
		}
		c->failed = !etcd_cmp_holds(c, have);
		etcd_kvs_free(&k);
	}
}

int etcd_txn_commit(struct etcd *e, struct etcd_txn *t, bool *ok, int64_t *rev, char *err,
		    size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *cmp, *fail, *resp = NULL;
	int rc = ETCD_ERR;

	*ok = false;
	if (rev)
		*rev = 0;
	if (!req || !(cmp = cJSON_AddArrayToObject(req, "compare")) ||
	    !(fail = cJSON_AddArrayToObject(req, "failure")))
		goto oom;
	for (size_t i = 0; i < t->ncmps; i++) {
		const struct etcd_cmp *c = &t->cmps[i];
		cJSON *o = cJSON_CreateObject(), *f = cJSON_CreateObject(), *rr;

		if (!o || !cJSON_AddItemToArray(cmp, o) || !f || !cJSON_AddItemToArray(fail, f)) {
			cJSON_Delete(o);
			cJSON_Delete(f);
			goto oom;
		}
		if (etcd_add_b64(o, "key", c->key, strlen(c->key)) ||
		    !cJSON_AddStringToObject(o, "target", etcd_targets[c->target]) ||
		    !cJSON_AddStringToObject(o, "result", etcd_ops[c->op]) ||
		    etcd_add_i64(o, etcd_target_fields[c->target], c->v) ||
		    !(rr = cJSON_AddObjectToObject(f, "request_range")) ||
		    etcd_add_b64(rr, "key", c->key, strlen(c->key)) ||
		    !cJSON_AddTrueToObject(rr, "keys_only"))
			goto oom;
	}
	if (!cJSON_AddItemReferenceToObject(req, "success", t->success))
		goto oom;
	rc = etcd_call(e, "/v3/kv/txn", req, &resp, "the transaction", err, errlen);
	req = NULL;
	if (rc)
		goto out;
	*ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "succeeded"));
	if (rev)
		*rev = etcd_i64(cJSON_GetObjectItemCaseSensitive(resp, "header"), "revision");
	if (!*ok)
		etcd_txn_judge(t, cJSON_GetObjectItemCaseSensitive(resp, "responses"));
	goto out;
oom:
	mq_errf(err, errlen, "out of memory");
	rc = ETCD_ERR;
out:
	cJSON_Delete(req);
	cJSON_Delete(resp);
	return rc;
}

int etcd_txn_failed(const struct etcd_txn *t, const char **key, int64_t *mod_rev)
{
	for (size_t i = 0; i < t->ncmps; i++) {
		if (t->cmps[i].failed) {
			*key = t->cmps[i].key;
			*mod_rev = t->cmps[i].now_mod;
			return 0;
		}
	}
	return 1;
}

/* ---- leases -------------------------------------------------------------- */

int etcd_lease_grant(struct etcd *e, int64_t ttl_s, int64_t *id, char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *resp;
	int rc;

	*id = 0;
	if (!req || etcd_add_i64(req, "TTL", ttl_s)) {
		cJSON_Delete(req);
		mq_errf(err, errlen, "out of memory");
		return ETCD_ERR;
	}
	rc = etcd_call(e, "/v3/lease/grant", req, &resp, "granting a lease", err, errlen);
	if (rc)
		return rc;
	*id = etcd_i64(resp, "ID");
	if (!*id) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(resp, "error");

		mq_errf(err, errlen, "etcd at %s granted no lease: %s", etcd_endpoint_last(e),
			cJSON_IsString(m) ? m->valuestring : "no ID in the answer");
		rc = ETCD_ERR;
	}
	cJSON_Delete(resp);
	return rc;
}

int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl, char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *resp;
	const cJSON *r;
	int64_t left;
	int rc;

	if (!req || etcd_add_i64(req, "ID", id)) {
		cJSON_Delete(req);
		mq_errf(err, errlen, "out of memory");
		return ETCD_ERR;
	}
	rc = etcd_call(e, "/v3/lease/keepalive", req, &resp, "renewing a lease", err, errlen);
	if (rc)
		return rc;
	/* A stream: the answer is wrapped in "result". */
	r = cJSON_GetObjectItemCaseSensitive(resp, "result");
	left = etcd_i64(r ? r : resp, "TTL");
	if (left <= 0) {
		mq_errf(err, errlen, "etcd at %s: lease %" PRId64 " not found (it expired); grant a new "
			"one", etcd_endpoint_last(e), id);
		rc = ETCD_ERR;
	} else if (ttl) {
		*ttl = left;
	}
	cJSON_Delete(resp);
	return rc;
}

int etcd_lease_revoke(struct etcd *e, int64_t id, char *err, size_t errlen)
{
	cJSON *req = cJSON_CreateObject(), *resp;
	int rc;

	if (!req || etcd_add_i64(req, "ID", id)) {
		cJSON_Delete(req);
		mq_errf(err, errlen, "out of memory");
		return ETCD_ERR;
	}
	rc = etcd_call(e, "/v3/lease/revoke", req, &resp, "revoking a lease", err, errlen);
	cJSON_Delete(resp);
	return rc;
}

/* ---- watch --------------------------------------------------------------- */

struct etcd_wctx {
	struct etcd_buf b;
	int (*cb)(void *arg, const struct etcd_event *ev, size_t n, int64_t rev);
	void *arg;
	int rc;         /* set when the stream must end */
	bool done;      /* rc is final */
	int64_t compact;
	char *err;
	size_t errlen;
	const struct etcd *e;
	const volatile int *stop;
	int (*tick)(void *arg);
	bool stale_token; /* etcd refused the watch's token */
	struct timespec last, start;
	long idle_ms, timeout_ms;
	bool idle;
	bool delivered; /* a batch reached cb: a broken stream is not retried here */
};

static long etcd_ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000L + (now.tv_nsec - t->tv_nsec) / 1000000L;
}

/* One line of the stream: {"result": {...}} or {"error": {...}}. */
static int etcd_watch_line(struct etcd_wctx *w, const char *line)
{
	cJSON *j = cJSON_Parse(line);
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "result"), *evs, *it;
	struct etcd_event *ev = NULL;
	size_t n = 0;
	int rc = 0;

	if (!j) {
		mq_errf(w->err, w->errlen, "etcd at %s: a watch message is not JSON", etcd_endpoint_last(w->e));
		return ETCD_ERR;
	}
	if (!r) {
		const cJSON *er = cJSON_GetObjectItemCaseSensitive(j, "error");
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(er, "message");

		mq_errf(w->err, w->errlen, "etcd at %s: the watch failed: %s", etcd_endpoint_last(w->e),
			cJSON_IsString(m) ? m->valuestring : line);
		w->stale_token = cJSON_IsString(m) && (strstr(m->valuestring, "invalid auth token") ||
						       strstr(m->valuestring, "auth store is old"));
		rc = cJSON_IsString(m) && strstr(m->valuestring, "compacted") ? ETCD_COMPACTED : ETCD_ERR;
		goto out;
	}
	if (etcd_i64(r, "compact_revision") > 0) {
		w->compact = etcd_i64(r, "compact_revision");
		mq_errf(w->err, w->errlen, "etcd at %s: the revision to watch from was compacted (the "
			"oldest kept is %" PRId64 "): resynchronise in full", etcd_endpoint_last(w->e),
			w->compact);
		rc = ETCD_COMPACTED;
		goto out;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "canceled"))) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "cancel_reason");

		if (w->e->user && cJSON_IsString(m) && strstr(m->valuestring, "permission denied"))
			mq_errf(w->err, w->errlen, "etcd at %s refused user '%s' watching: permission "
				"denied; the user's etcd roles do not grant reading the prefix "
				"(docs/FLEET.md)", etcd_endpoint_last(w->e), w->e->user);
		else
			mq_errf(w->err, w->errlen, "etcd at %s cancelled the watch: %s",
				etcd_endpoint_last(w->e), cJSON_IsString(m) ? m->valuestring : "no reason given");
		/* etcd 3.4 cancels a watch whose token it does not know with
		 * "permission denied": worth one new login. */
		w->stale_token = cJSON_IsString(m) && (strstr(m->valuestring, "invalid auth token") ||
						       strstr(m->valuestring, "auth store is old") ||
						       (w->e->token && strstr(m->valuestring,
									      "permission denied")));
		rc = ETCD_ERR;
		goto out;
	}
	evs = cJSON_GetObjectItemCaseSensitive(r, "events");
	if (cJSON_GetArraySize(evs) > 0 &&
	    !(ev = calloc((size_t)cJSON_GetArraySize(evs), sizeof(*ev)))) {
		mq_errf(w->err, w->errlen, "out of memory");
		rc = ETCD_ERR;
		goto out;
	}
	cJSON_ArrayForEach(it, evs) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "type");

		if (etcd_kv_read(cJSON_GetObjectItemCaseSensitive(it, "kv"), &ev[n].kv)) {
			mq_errf(w->err, w->errlen, "etcd at %s: an event's key or value is not base64",
				etcd_endpoint_last(w->e));
			rc = ETCD_ERR;
			goto out;
		}
		ev[n].type = cJSON_IsString(t) && !strcmp(t->valuestring, "DELETE") ? ETCD_EV_DELETE
										    : ETCD_EV_PUT;
		n++;
	}
	w->delivered = true;
	rc = w->cb(w->arg, ev, n, etcd_i64(cJSON_GetObjectItemCaseSensitive(r, "header"), "revision"));
out:
	for (size_t i = 0; i < n; i++)
		etcd_kv_clear(&ev[i].kv);
	free(ev);
	cJSON_Delete(j);
	return rc;
}

static size_t etcd_watch_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct etcd_wctx *w = arg;
	size_t n = size * nmemb;
	char *nl;

	clock_gettime(CLOCK_MONOTONIC, &w->last);
	if (etcd_collect(data, size, nmemb, &w->b) != n) {
		mq_errf(w->err, w->errlen, "out of memory");
		w->rc = ETCD_ERR;
		w->done = true;
		return 0;
	}
	while ((nl = memchr(w->b.p, '\n', w->b.n))) {
		int rc;

		*nl = '\0';
		rc = *w->b.p ? etcd_watch_line(w, w->b.p) : 0;
		w->b.n -= (size_t)(nl + 1 - w->b.p);
		memmove(w->b.p, nl + 1, w->b.n);
		w->b.p[w->b.n] = '\0';
		if (rc) {
			w->rc = rc;
			w->done = true;
			return 0; /* ends the transfer */
		}
	}
	return n;
}

static int etcd_watch_tick(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct etcd_wctx *w = arg;

	(void)a, (void)b, (void)c, (void)d;
	if (w->stop && *w->stop)
		return 1;
	if (w->tick && !w->done && (w->rc = w->tick(w->arg))) {
		w->done = true;
		return 1;
	}
	if (w->timeout_ms > 0 && etcd_ms_since(&w->start) >= w->timeout_ms)
		return 1;
	if (w->idle_ms > 0 && etcd_ms_since(&w->last) >= w->idle_ms) {
		w->idle = true;
		return 1;
	}
	return 0;
}

int etcd_watch(struct etcd *e, const struct etcd_watch_req *wr,
	       int (*cb)(void *arg, const struct etcd_event *ev, size_t n, int64_t rev), void *arg,
	       int64_t *compact_rev, char *err, size_t errlen)
{
	struct etcd_wctx w = {.cb = cb, .arg = arg, .err = err, .errlen = errlen, .e = e,
			      .stop = wr->stop, .tick = wr->tick, .idle_ms = wr->idle_ms, .timeout_ms = wr->timeout_ms};
	cJSON *req = cJSON_CreateObject(), *cr = cJSON_AddObjectToObject(req, "create_request");
	char *body = NULL, tried[1024] = "";
	struct curl_slist *hdrs = NULL;
	CURL *h = NULL;
	bool relogged = false;
	int rc = ETCD_ERR;

	if (compact_rev)
		*compact_rev = 0;
	if (!req || !cr || etcd_add_range(cr, wr->key, wr->range_end) ||
	    (wr->start_revision && etcd_add_i64(cr, "start_revision", wr->start_revision)) ||
	    (wr->progress_notify && !cJSON_AddTrueToObject(cr, "progress_notify")) ||
	    !(body = cJSON_PrintUnformatted(req)) || !(h = curl_easy_init())) {
		mq_errf(err, errlen, "out of memory");
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &w.start);
	for (size_t i = 0; i < e->nurls; i++) {
		char url[1024], ebuf[CURL_ERROR_SIZE] = "";
		long status = 0;
		CURLcode c;
		size_t tl = strlen(tried);

		if ((rc = etcd_ready(e, err, errlen))) {
			if (rc == ETCD_RETRY_LEADER)
				rc = ETCD_ERR;
			goto out;
		}
		curl_slist_free_all(hdrs);
		if (!(hdrs = etcd_headers(e))) {
			mq_errf(err, errlen, "out of memory");
			rc = ETCD_ERR;
			goto out;
		}
		rc = ETCD_ERR;
		snprintf(url, sizeof(url), "%s/v3/watch", e->urls[e->cur]);
		etcd_setup(e, h, url, hdrs);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, etcd_watch_data);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &w);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, etcd_watch_tick);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, &w);
		w.b.n = 0;
		w.idle = false;
		clock_gettime(CLOCK_MONOTONIC, &w.last);
		c = curl_easy_perform(h);
		if (w.done && w.stale_token && !w.delivered && !relogged) {
			/* A token from another member, or one that expired: log in
			 * again and watch again from the same revision. */
			relogged = true;
			w.done = false;
			w.stale_token = false;
			w.rc = 0;
			free(e->token);
			e->token = NULL;
			e->auth_off = false;
			i--;
			continue;
		}
		if (w.done) {
			rc = w.rc;
			if (rc == ETCD_COMPACTED && compact_rev)
				*compact_rev = w.compact;
			goto out;
		}
		if (c == CURLE_ABORTED_BY_CALLBACK && !w.idle) {
			rc = 0; /* stop flag or timeout */
			goto out;
		}
		if (c == CURLE_OK) {
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
			if (status != 200) {
				rc = etcd_http_error(e, status, w.b.p, "watching", err, errlen);
				if (rc == ETCD_RETRY_AUTH && !relogged) {
					relogged = true;
					free(e->token);
					e->token = NULL;
					e->auth_off = false;
					i--;
					continue;
				}
				if (rc == ETCD_RETRY_AUTH || rc == ETCD_RETRY_LEADER)
					rc = ETCD_ERR;
				goto out;
			}
			/* The server ended the stream: say so, the caller resumes. */
			mq_errf(err, errlen, "etcd at %s ended the watch stream", e->urls[e->cur]);
			rc = ETCD_UNREACHABLE;
			goto out;
		}
		if (w.delivered) {
			/* Events were delivered: only the caller knows where to resume. */
			mq_errf(err, errlen, "the watch stream from etcd at %s broke: %s; resume from the "
				"last revision applied", e->urls[e->cur],
				w.idle ? "no data within the idle limit" : *ebuf ? ebuf : curl_easy_strerror(c));
			e->cur = (e->cur + 1) % e->nurls;
			rc = ETCD_UNREACHABLE;
			goto out;
		}
		snprintf(tried + tl, sizeof(tried) - tl, "%s%s (%s)", tl ? ", " : "", e->urls[e->cur],
			 w.idle ? "no data within the idle limit" : *ebuf ? ebuf : curl_easy_strerror(c));
		if (!w.idle && !etcd_conn_failure(c)) {
			mq_errf(err, errlen, "etcd at %s: watching failed: %s; check the URL and the TLS "
				"files (etcd_cacert, etcd_cert, etcd_key)", e->urls[e->cur],
				*ebuf ? ebuf : curl_easy_strerror(c));
			goto out;
		}
		e->cur = (e->cur + 1) % e->nurls;
	}
	mq_errf(err, errlen, "cannot reach etcd at %s; is etcd running and the URL right (--etcd)?",
		tried);
	rc = ETCD_UNREACHABLE;
out:
	if (h)
		curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	cJSON_Delete(req);
	free(body);
	free(w.b.p);
	return rc;
}
