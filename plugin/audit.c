/* The audit log: one JSON object per line for every decision and every
 * connection. Callbacks only append to a memory buffer; the TICK writes it
 * out with one write() to a file opened O_APPEND, so a slow or full disk
 * never stalls the broker and never changes a decision: when the buffer is
 * full, events are counted and dropped, and the count is logged once the
 * file takes data again. Client ids and topics are attacker-controlled:
 * every string is escaped here, invalid UTF-8 included. */
#include "mqcert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "mq_names.h"
#include "mq_strmap.h"
#include "mq_time.h"

#define AUDIT_BUF_MAX ((size_t)1 << 20)

/* ACL denials of one client id within the current window. */
struct au_rate {
	char *client_id;
	char *device;
	time_t start;
	unsigned lines;
	unsigned long suppressed;
	struct au_rate *prev, *next;
};

struct mqaudit {
	char *path;
	char *instance; /* the broker instance, on every line */
	int fd;
	bool reopen;
	char *buf;
	size_t len, cap;
	cJSON *line;           /* the line being built (au_begin .. au_end) */
	bool line_lost;        /* it could not be built, or did not fit */
	unsigned long dropped; /* events lost and not yet reported */
	bool failing;          /* the broker was told writing fails */
	time_t next_try;       /* while failing: retry once a second */
	struct mq_strmap rates;
	struct au_rate *rates_head;
	time_t last_sweep;
	bool *owed; /* set with each line buffered: see mqaudit_open */
};

/* ---- the line buffer ----------------------------------------------------- */

static void au_put(struct mqaudit *a, const char *s, size_t n)
{
	if (a->line_lost)
		return;
	if (a->len + n > a->cap) {
		size_t cap = a->cap ? a->cap : 4096;
		char *b;

		while (cap < a->len + n)
			cap *= 2;
		if (cap > AUDIT_BUF_MAX)
			cap = AUDIT_BUF_MAX;
		if (a->len + n > cap || !(b = realloc(a->buf, cap))) {
			a->line_lost = true;
			return;
		}
		a->buf = b;
		a->cap = cap;
	}
	memcpy(a->buf + a->len, s, n);
	a->len += n;
}

/* Every line is one cJSON object, like every other JSON the plugin writes
 * (state file, rollover events), printed into the bounded buffer by
 * au_end. Client-chosen strings may hold invalid UTF-8, which cJSON would
 * copy through: such bytes (and C1 controls, see mq_utf8_seq) become
 * U+FFFD first. A line that cannot be built or does not fit is dropped
 * and counted. */
static cJSON *au_string(const char *v)
{
	const unsigned char *s = (const unsigned char *)v, *end = s + strlen(v);
	char *clean, *w;
	cJSON *j;

	for (const unsigned char *p = s; p < end;) {
		size_t n = mq_utf8_seq(p, (size_t)(end - p));

		if (!n)
			goto clean;
		p += n;
	}
	return cJSON_CreateString(v);
clean:
	/* At most three bytes (U+FFFD) for each byte in. */
	if (!(clean = malloc(3 * (size_t)(end - s) + 1)))
		return NULL;
	for (w = clean; s < end;) {
		size_t n = mq_utf8_seq(s, (size_t)(end - s));

		if (!n) {
			memcpy(w, "\xef\xbf\xbd", 3);
			w += 3;
			s++;
		} else {
			memcpy(w, s, n);
			w += n;
			s += n;
		}
	}
	*w = '\0';
	j = cJSON_CreateString(clean);
	free(clean);
	return j;
}

static void au_add(struct mqaudit *a, const char *key, cJSON *v)
{
	if (!v || !a->line || !cJSON_AddItemToObject(a->line, key, v)) {
		cJSON_Delete(v);
		a->line_lost = true;
	}
}

static void au_str(struct mqaudit *a, const char *key, const char *v)
{
	au_add(a, key, v ? au_string(v) : cJSON_CreateNull());
}

static void au_num(struct mqaudit *a, const char *key, long long v)
{
	au_add(a, key, cJSON_CreateNumber((double)v));
}

static void au_time(struct mqaudit *a, const char *key, time_t t)
{
	char ts[MQ_TIME_LEN];

	au_add(a, key, mq_time_format(t, ts) ? cJSON_CreateNull() : cJSON_CreateString(ts));
}

static void au_strings(struct mqaudit *a, const char *key, char *const *v, size_t n)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; arr && i < n; i++) {
		cJSON *s = au_string(v[i]);

		if (!s || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			cJSON_Delete(arr);
			arr = NULL;
		}
	}
	au_add(a, key, arr);
}

/* Starts a line {"ts":...,"event":...; false when auditing is off. */
static bool au_begin(struct mqaudit *a, const char *event)
{
	char ts[MQ_TIME_LEN];

	if (!a)
		return false;
	a->line_lost = false;
	a->line = cJSON_CreateObject();
	if (mq_time_format(time(NULL), ts))
		strcpy(ts, "1970-01-01T00:00:00Z");
	au_add(a, "ts", cJSON_CreateString(ts));
	au_str(a, "event", event);
	au_str(a, "broker", a->instance);
	return true;
}

static void au_end(struct mqaudit *a)
{
	char *text = a->line_lost ? NULL : cJSON_PrintUnformatted(a->line);

	if (text) {
		size_t n = strlen(text);

		text[n] = '\n'; /* over the NUL: one put, all or nothing */
		au_put(a, text, n + 1);
		cJSON_free(text);
		*a->owed = true;
	} else {
		a->line_lost = true;
	}
	cJSON_Delete(a->line);
	a->line = NULL;
	if (a->line_lost)
		a->dropped++;
}

/* ---- the file ----------------------------------------------------------- */

static void au_failed(struct mqaudit *a, const char *what, int err, time_t now)
{
	a->next_try = now + 1;
	if (a->failing)
		return;
	a->failing = true;
	mqlog(MOSQ_LOG_ERR, "audit log %s: cannot %s (%s); keeping up to %zu KiB of events in "
	      "memory and dropping the rest until it works again", a->path, what, strerror(err),
	      AUDIT_BUF_MAX / 1024);
}

static void au_recovered(struct mqaudit *a)
{
	if (!a->failing)
		return;
	a->failing = false;
	mqlog(MOSQ_LOG_NOTICE, "audit log %s: writing again (%lu events were dropped)", a->path,
	      a->dropped);
}

/* Only a regular file with one link that the broker's own user owns: a
 * hard link (made by root, say) would turn the plugin into a writer of
 * whatever other file it names, and a FIFO or device must never be
 * written from the broker thread. O_NOFOLLOW refuses a symlink. */
static void au_open_file(struct mqaudit *a, time_t now)
{
	struct stat sb;
	char why[128];
	int fd = open(a->path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
		      0640);

	if (fd < 0) {
		au_failed(a, "open it", errno, now);
		return;
	}
	if (fstat(fd, &sb)) {
		au_failed(a, "stat it", errno, now);
		close(fd);
		return;
	}
	if (!S_ISREG(sb.st_mode))
		snprintf(why, sizeof(why), "it is not a regular file");
	else if (sb.st_nlink != 1)
		snprintf(why, sizeof(why), "it has %lu hard links, so it is also another file",
			 (unsigned long)sb.st_nlink);
	else if (sb.st_uid != geteuid())
		snprintf(why, sizeof(why), "it is owned by uid %lu, not by the broker's uid %lu",
			 (unsigned long)sb.st_uid, (unsigned long)geteuid());
	else {
		a->fd = fd;
		return;
	}
	close(fd);
	a->next_try = now + 1;
	if (a->failing)
		return;
	a->failing = true;
	mqlog(MOSQ_LOG_ERR, "audit log %s: refusing to write it: %s; remove it (the plugin "
	      "creates a new one) or set plugin_opt_audit_log; keeping up to %zu KiB of events "
	      "in memory meanwhile, decisions are unchanged", a->path, why, AUDIT_BUF_MAX / 1024);
}

/* One write() of as much of the buffer as the file takes. */
static void au_flush(struct mqaudit *a, time_t now)
{
	ssize_t n;

	if (a->reopen) {
		a->reopen = false;
		if (a->fd >= 0)
			close(a->fd);
		a->fd = -1;
		a->next_try = 0;
	}
	if (a->failing && now < a->next_try)
		return;
	if (a->fd < 0) {
		au_open_file(a, now);
		if (a->fd < 0)
			return;
	}
	if (!a->len) {
		au_recovered(a);
		return;
	}
	n = write(a->fd, a->buf, a->len);
	if (n < 0) {
		if (errno != EINTR && errno != EAGAIN)
			au_failed(a, "write to it", errno, now);
		return;
	}
	memmove(a->buf, a->buf + n, a->len - (size_t)n);
	a->len -= (size_t)n;
	au_recovered(a);
	if (a->dropped && !a->failing && au_begin(a, "audit_dropped")) {
		unsigned long d = a->dropped;

		au_num(a, "count", (long long)d);
		au_end(a);
		if (!a->line_lost)
			a->dropped -= d;
	}
}

/* ---- ACL denial rate limit ------------------------------------------------ */

static void au_rate_free(struct mqaudit *a, struct au_rate *r)
{
	mq_strmap_del(&a->rates, r->client_id);
	if (r->prev)
		r->prev->next = r->next;
	else
		a->rates_head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	free(r->client_id);
	free(r->device);
	free(r);
}

/* Ends r's window: the count of lines left out, if any. */
static void au_rate_end(struct mqaudit *a, struct au_rate *r)
{
	if (r->suppressed && au_begin(a, "acl_denied_suppressed")) {
		au_str(a, "device", r->device);
		au_str(a, "client_id", r->client_id);
		au_num(a, "count", (long long)r->suppressed);
		au_num(a, "window", MQAUDIT_DENY_WINDOW);
		au_end(a);
	}
	au_rate_free(a, r);
}

static void au_rate_sweep(struct mqaudit *a, time_t now)
{
	struct au_rate *r = a->rates_head, *next;

	for (; r; r = next) {
		next = r->next;
		if (now - r->start >= MQAUDIT_DENY_WINDOW)
			au_rate_end(a, r);
	}
}

static struct au_rate *au_rate_get(struct mqaudit *a, const char *client_id,
				   const char *device, time_t now)
{
	struct au_rate *r = mq_strmap_get(&a->rates, client_id);

	if (r && now - r->start >= MQAUDIT_DENY_WINDOW) {
		au_rate_end(a, r);
		r = NULL;
	}
	if (r)
		return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->client_id = strdup(client_id);
	r->device = strdup(device ? device : "-");
	if (!r->client_id || !r->device || mq_strmap_put(&a->rates, r->client_id, r)) {
		free(r->client_id);
		free(r->device);
		free(r);
		return NULL;
	}
	r->start = now;
	r->next = a->rates_head;
	if (r->next)
		r->next->prev = r;
	a->rates_head = r;
	return r;
}

/* ---- public ----------------------------------------------------------------- */

int mqaudit_open(struct mqaudit **out, const char *path, const char *instance, bool *owed)
{
	struct mqaudit *a;

	*out = NULL;
	if (!path)
		return 0;
	a = calloc(1, sizeof(*a));
	if (!a || !(a->path = strdup(path)) || !(a->instance = strdup(instance))) {
		if (a)
			free(a->path);
		free(a);
		return -1;
	}
	a->fd = -1;
	a->owed = owed;
	mq_strmap_init(&a->rates);
	/* Opened now so that a bad path shows in the log at start. */
	au_open_file(a, time(NULL));
	*out = a;
	return 0;
}

void mqaudit_close(struct mqaudit *a)
{
	if (!a)
		return;
	while (a->rates_head)
		au_rate_end(a, a->rates_head);
	a->next_try = 0;
	au_flush(a, time(NULL));
	if (a->len)
		mqlog(MOSQ_LOG_WARNING, "audit log %s: %zu bytes of events could not be written",
		      a->path, a->len);
	if (a->fd >= 0)
		close(a->fd);
	mq_strmap_release(&a->rates);
	free(a->buf);
	free(a->path);
	free(a->instance);
	free(a);
}

void mqaudit_tick(struct mqaudit *a, time_t now)
{
	if (!a)
		return;
	if (now != a->last_sweep) {
		a->last_sweep = now;
		au_rate_sweep(a, now);
	}
	if (a->len || a->reopen || a->fd < 0 || a->failing)
		au_flush(a, now);
}

void mqaudit_reopen(struct mqaudit *a)
{
	if (a)
		a->reopen = true;
}

void mqaudit_connect(struct mqaudit *a, const struct mqclients_rec *r)
{
	if (!au_begin(a, "connect"))
		return;
	au_str(a, "device", r->device);
	au_str(a, "username", r->username);
	au_str(a, "client_id", r->client_id);
	au_str(a, "address", r->address);
	au_str(a, "identity", r->identity);
	au_str(a, "serial", r->serial);
	au_str(a, "fingerprint", r->fingerprint);
	au_time(a, "not_after", r->not_after);
	au_end(a);
}

void mqaudit_refused(struct mqaudit *a, const char *reason, const char *device,
		     const char *identity, const char *serial, const char *fingerprint,
		     const char *client_id, const char *address)
{
	if (!au_begin(a, "refused"))
		return;
	au_str(a, "reason", reason);
	au_str(a, "device", device);
	au_str(a, "identity", identity);
	au_str(a, "serial", serial && *serial ? serial : NULL);
	au_str(a, "fingerprint", fingerprint && *fingerprint ? fingerprint : NULL);
	au_str(a, "client_id", client_id);
	au_str(a, "address", address);
	au_end(a);
}

void mqaudit_disconnect(struct mqaudit *a, const struct mqclients_rec *rec, time_t now)
{
	struct au_rate *r;

	if (!a || !rec || rec->deferred)
		return;
	/* The client's denial window ends with it: report what was left out. */
	r = mq_strmap_get(&a->rates, rec->client_id);
	if (r)
		au_rate_end(a, r);
	if (!au_begin(a, "disconnect"))
		return;
	au_str(a, "device", rec->device);
	au_str(a, "client_id", rec->client_id);
	au_str(a, "address", rec->address);
	au_str(a, "serial", rec->serial);
	au_num(a, "duration", (long long)(now - rec->since));
	/* mosquitto 2.0.11 passes no reason (always -1): say what we know. */
	au_str(a, "reason", rec->leaving ? rec->leaving : "closed");
	au_end(a);
}

void mqaudit_kicked(struct mqaudit *a, struct mqclients_rec *rec, const char *why)
{
	rec->leaving = "kicked";
	if (!au_begin(a, "kicked"))
		return;
	au_str(a, "device", rec->device);
	au_str(a, "client_id", rec->client_id);
	au_str(a, "address", rec->address);
	au_str(a, "serial", rec->serial);
	au_str(a, "fingerprint", rec->fingerprint);
	au_str(a, "why", why);
	au_end(a);
}

void mqaudit_policy_loaded(struct mqaudit *a, unsigned long long seq, size_t devices,
			   size_t rules)
{
	if (!au_begin(a, "policy"))
		return;
	au_str(a, "result", "loaded");
	/* The store's sequence, which only ever grows, as generations did. */
	au_num(a, "generation", (long long)seq);
	au_num(a, "seq", (long long)seq);
	au_num(a, "devices", (long long)devices);
	au_num(a, "rules", (long long)rules);
	au_end(a);
}

void mqaudit_policy_rejected(struct mqaudit *a, const char *error, unsigned long kept)
{
	if (!au_begin(a, "policy"))
		return;
	au_str(a, "result", "rejected");
	au_str(a, "error", error);
	au_num(a, "kept_generation", (long long)kept);
	au_end(a);
}

/* An ACL line (denied, or what observe mode let through), rate-limited per
 * client so that a flood costs a counter, not the disk. */
static void au_acl_line(struct mqaudit *a, const char *event, const char *client_id,
			const char *device, const char *topic, int access, const char *why)
{
	time_t now = time(NULL);
	struct au_rate *r;

	if (!a)
		return;
	if (!client_id)
		client_id = "";
	r = au_rate_get(a, client_id, device, now);
	if (r && r->lines >= MQAUDIT_DENY_LIMIT) {
		r->suppressed++;
		return;
	}
	if (r)
		r->lines++;
	if (!au_begin(a, event))
		return;
	au_str(a, "device", device);
	au_str(a, "client_id", client_id);
	au_str(a, "topic", topic);
	au_str(a, "access", mq_acl_access_str((enum mq_acl_access)access));
	if (why)
		au_str(a, "would", why);
	au_end(a);
}

void mqaudit_acl_denied(struct mqaudit *a, const char *client_id, const char *device,
			const char *topic, int access)
{
	au_acl_line(a, "acl_denied", client_id, device, topic, access, NULL);
}

void mqaudit_observe(struct mqaudit *a, const char *reason, const char *device,
		     const char *identity, const char *serial, const char *fingerprint,
		     const char *subject, time_t not_after, const char *client_id,
		     const char *address)
{
	if (!au_begin(a, "observe"))
		return;
	au_str(a, "reason", reason);
	au_str(a, "device", device);
	au_str(a, "identity", identity);
	au_str(a, "serial", serial);
	au_str(a, "fingerprint", fingerprint);
	au_str(a, "subject", subject);
	au_time(a, "not_after", not_after);
	au_str(a, "client_id", client_id);
	au_str(a, "address", address);
	au_end(a);
}

void mqaudit_acl_observed(struct mqaudit *a, const char *client_id, const char *device,
			  const char *topic, int access, const char *why)
{
	au_acl_line(a, "acl_observe", client_id, device, topic, access, why);
}

void mqaudit_clone(struct mqaudit *a, const struct mqclients_rec *r, const char *kind,
		   char *const *addresses, size_t naddresses, unsigned takeovers)
{
	if (!au_begin(a, "clone"))
		return;
	au_str(a, "device", r->device);
	au_str(a, "client_id", r->client_id);
	au_str(a, "address", r->address);
	au_str(a, "serial", r->serial);
	au_str(a, "fingerprint", r->fingerprint);
	au_str(a, "kind", kind);
	if (takeovers)
		au_num(a, "takeovers", takeovers);
	au_strings(a, "addresses", addresses, naddresses);
	au_end(a);
}
