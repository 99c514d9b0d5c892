/* mqadmin serve: judging and answering renewal requests (serve.c) and the
 * service around it (cmd_serve.c). README.md "Renewal over MQTT". */
#ifndef ADMIN_SERVE_H
#define ADMIN_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "ca.h"
#include "store.h"

/* A CSR larger than this is refused unread. */
#define SERVE_CSR_MAX 16384

struct serve_conf {
	const char *dir;
	long window;        /* seconds before expiry the window opens; 0: use window_pct */
	int window_pct;     /* percent of the lifetime (default 33) */
	long rate;          /* seconds between two renewals of one device */
	long grace;         /* seconds the old certificate stays usable at most */
	int days;           /* lifetime of a renewed certificate */
	bool allow_key_reuse;
};

/* One request as it came off the broker, and its answer. */
struct serve_req {
	char device[256];   /* from the topic, which the plugin enforced */
	char *stamp;        /* the plugin's mqcert-device user property, or NULL */
	char *resp_topic;   /* MQTT 5 response topic asked for, or NULL */
	void *corr;         /* MQTT 5 correlation data, or NULL */
	int corrlen;
	void *payload;
	size_t len;
	bool oversized;
	/* The answer: JSON (malloc'd) and the code that went into it. */
	char *reply;
	const char *code;   /* "ok" or an error code */
	bool replayed;      /* ok: the certificate this key already got */
	char serial[64];    /* the new certificate's, on success */
	char old_serial[64];
	struct serve_req *next;
};

/* Judges and answers every request of the list under one lock and one
 * policy write; renewals recorded in the policy before any reply is sent.
 * Also retires certificates whose grace deadline passed. Returns the
 * number of requests that were answered (all of them, errors included). */
size_t serve_batch(const struct serve_conf *c, const struct ca *ca, struct serve_req *list);

/* A rollover event: the device connected with the certificate of this
 * fingerprint; its older certificates pending retirement are retired.
 * Writes one audit line per retired certificate. 0 or -1. */
int serve_rollover(const struct serve_conf *c, const char *device, const char *fingerprint);

/* Retires certificates past their retire_after deadline. 0 or -1. */
int serve_sweep(const struct serve_conf *c);

/* The audit log: one JSON line per request or retirement. */
int serve_log_open(const char *path);
void serve_log(const char *event, const char *device, const char *outcome, const char *serial,
	       const char *old_serial, const char *message);
void serve_log_close(void);
void serve_log_set_instance(const char *instance);

void serve_req_free(struct serve_req *r);

/* Where the time of the batches since the last call went, one line. */
void serve_stats(char *buf, size_t len);

#endif
