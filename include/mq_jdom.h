/* A read-only JSON tree for the policy loader. Unlike cJSON it parses in
 * place: strings are unescaped inside the caller's buffer and the nodes come
 * from a few large blocks, so a 40 MB policy needs the buffer plus one small
 * node per value, and freeing it returns whole blocks to the system at once
 * (cJSON's millions of small allocations stayed in the broker's heap).
 *
 * It is stricter than most readers where they disagree with each other: a
 * member name that appears twice in one object is an error (cJSON takes the
 * first, Python and jq the last, so a hand edit appending "status":"revoked"
 * would mean different things to different tools). */
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

/* Each node takes this much memory: what max_bytes below counts. */
#define MQ_JDOM_NODE_BYTES sizeof(struct mq_jdom_node)
/* Deeper documents are refused, not recursed (cJSON's limit too). */
#define MQ_JDOM_MAX_DEPTH 1000

/* Where and why a document was refused. */
struct mq_jdom_error {
	long offset;          /* byte offset of the error; -1 when out of memory */
	unsigned long line;   /* 1-based; 0 when out of memory */
	unsigned long column; /* 1-based, in characters (a UTF-8 sequence is one) */
	char msg[320];        /* e.g. "expected ',' or '}'" */
};

struct mq_jdom;

/* Parses buf[0..len) (buf[len] must be writable; it is overwritten) as one
 * JSON value followed only by whitespace. The tree points into buf, which
 * must outlive it. max_bytes bounds the memory the tree and the parse take
 * beyond buf (0: no bound), so a small file cannot make a large tree.
 * Returns NULL on bad JSON, over the bound or out of memory, with *err
 * filled in. */
struct mq_jdom *mq_jdom_parse(char *buf, size_t len, size_t max_bytes, struct mq_jdom_error *err);
const struct mq_jdom_node *mq_jdom_root(const struct mq_jdom *d);
void mq_jdom_free(struct mq_jdom *d);

/* The member named key of an object, or NULL (also for non-objects). */
const struct mq_jdom_node *mq_jdom_get(const struct mq_jdom_node *obj, const char *key);

#endif
