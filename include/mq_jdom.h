/* A read-only JSON tree for the policy loader. Unlike cJSON it parses in
 * place: strings are unescaped inside the caller's buffer and the nodes come
 * from a few large blocks, so a 40 MB policy needs the buffer plus one small
 * node per value, and freeing it returns whole blocks to the system at once
 * (cJSON's millions of small allocations stayed in the broker's heap). */
#ifndef MQ_JDOM_H
#define MQ_JDOM_H

#include <stdbool.h>
#include <stddef.h>

enum mq_jdom_type {
	MQ_JDOM_NULL,
	MQ_JDOM_FALSE,
	MQ_JDOM_TRUE,
	MQ_JDOM_NUMBER,
	MQ_JDOM_STRING,
	MQ_JDOM_ARRAY,
	MQ_JDOM_OBJECT,
};

struct mq_jdom_node {
	const char *key;             /* member name inside an object, else NULL */
	struct mq_jdom_node *next;   /* next sibling */
	union {
		const char *str;             /* MQ_JDOM_STRING: NUL-terminated, unescaped */
		double num;                  /* MQ_JDOM_NUMBER */
		struct mq_jdom_node *child;  /* ARRAY, OBJECT: first element or member */
	};
	unsigned int count;          /* ARRAY, OBJECT: elements or members */
	enum mq_jdom_type type;
};

struct mq_jdom;

/* Parses buf[0..len) (buf[len] must be writable; it is overwritten) as one
 * JSON value followed only by whitespace. The tree points into buf, which
 * must outlive it. Returns NULL when out of memory or on bad JSON; then
 * *bad_at is the byte offset of the error (or -1 when out of memory) and
 * *trailing tells whether the document itself was fine but followed by
 * other data. */
struct mq_jdom *mq_jdom_parse(char *buf, size_t len, long *bad_at, bool *trailing);
const struct mq_jdom_node *mq_jdom_root(const struct mq_jdom *d);
void mq_jdom_free(struct mq_jdom *d);

/* The first member named key of an object, or NULL (also for non-objects). */
const struct mq_jdom_node *mq_jdom_get(const struct mq_jdom_node *obj, const char *key);

#endif
