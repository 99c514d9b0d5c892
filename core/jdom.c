#include "mq_jdom.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Nodes per block: 2 MB blocks, each its own mmap in glibc, so freeing the
 * tree gives the memory straight back. */
#define JDOM_BLOCK_NODES 65536
/* Same depth limit as cJSON: deeper documents are refused, not recursed. */
#define JDOM_MAX_DEPTH 1000

struct jdom_block {
	struct jdom_block *prev;
	size_t used;
	struct mq_jdom_node nodes[JDOM_BLOCK_NODES];
};

struct mq_jdom {
	struct jdom_block *blocks;
	struct mq_jdom_node *root;
};

struct jdom_parser {
	struct mq_jdom *d;
	char *p;
	char *end;
	char *start;
	bool oom;
};

static struct mq_jdom_node *jdom_node(struct jdom_parser *ps, enum mq_jdom_type type)
{
	struct jdom_block *b = ps->d->blocks;
	struct mq_jdom_node *n;

	if (!b || b->used == JDOM_BLOCK_NODES) {
		b = malloc(sizeof(*b));
		if (!b) {
			ps->oom = true;
			return NULL;
		}
		b->prev = ps->d->blocks;
		b->used = 0;
		ps->d->blocks = b;
	}
	n = &b->nodes[b->used++];
	memset(n, 0, sizeof(*n));
	n->type = type;
	return n;
}

static void jdom_ws(struct jdom_parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int jdom_hex4(const char *s, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static char *jdom_utf8(char *w, unsigned cp)
{
	if (cp < 0x80) {
		*w++ = (char)cp;
	} else if (cp < 0x800) {
		*w++ = (char)(0xc0 | (cp >> 6));
		*w++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*w++ = (char)(0xe0 | (cp >> 12));
		*w++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*w++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*w++ = (char)(0xf0 | (cp >> 18));
		*w++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*w++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*w++ = (char)(0x80 | (cp & 0x3f));
	}
	return w;
}

/* At the opening quote. Unescapes in place (the result is never longer than
 * the source) and NUL-terminates; returns the string or NULL. */
static char *jdom_string(struct jdom_parser *ps)
{
	char *s = ++ps->p, *w = s;

	while (ps->p < ps->end) {
		char c = *ps->p;
		unsigned cp, lo;

		if (c == '"') {
			ps->p++;
			*w = '\0';
			return s;
		}
		/* Raw control bytes (a NUL above all, which would cut the string
		 * short and change what a name or fingerprint means) are not JSON. */
		if ((unsigned char)c < 0x20)
			return NULL;
		if (c != '\\') {
			*w++ = c;
			ps->p++;
			continue;
		}
		if (ps->end - ps->p < 2)
			return NULL;
		c = ps->p[1];
		ps->p += 2;
		switch (c) {
		case '"': case '\\': case '/':
			*w++ = c;
			break;
		case 'b': *w++ = '\b'; break;
		case 'f': *w++ = '\f'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case 't': *w++ = '\t'; break;
		case 'u':
			if (ps->end - ps->p < 4 || jdom_hex4(ps->p, &cp))
				return NULL;
			ps->p += 4;
			if (cp == 0 || (cp >= 0xdc00 && cp <= 0xdfff))
				return NULL;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
				    jdom_hex4(ps->p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
					return NULL;
				ps->p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			w = jdom_utf8(w, cp);
			break;
		default:
			ps->p -= 1;
			return NULL;
		}
	}
	return NULL;
}

static int jdom_digits(struct jdom_parser *ps)
{
	const char *s = ps->p;

	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
		ps->p++;
	return ps->p > s ? 0 : -1;
}

/* The JSON number grammar, then strtod on the checked text (which is
 * followed by a non-number byte or the NUL at buf[len]). */
static int jdom_number(struct jdom_parser *ps, double *out)
{
	char *s = ps->p;

	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p < ps->end && *ps->p == '0')
		ps->p++;
	else if (jdom_digits(ps))
		return -1;
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (jdom_digits(ps))
			return -1;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (jdom_digits(ps))
			return -1;
	}
	*out = strtod(s, NULL);
	return 0;
}

static int jdom_literal(struct jdom_parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return -1;
	ps->p += n;
	return 0;
}

static struct mq_jdom_node *jdom_value(struct jdom_parser *ps, int depth);

/* At '[' or '{'. */
static struct mq_jdom_node *jdom_container(struct jdom_parser *ps, int depth)
{
	bool obj = *ps->p == '{';
	char close = obj ? '}' : ']';
	struct mq_jdom_node *n = jdom_node(ps, obj ? MQ_JDOM_OBJECT : MQ_JDOM_ARRAY), *last = NULL;

	if (!n || depth >= JDOM_MAX_DEPTH)
		return NULL;
	ps->p++;
	jdom_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return n;
	}
	for (;;) {
		const char *key = NULL;
		struct mq_jdom_node *v;

		if (obj) {
			if (ps->p >= ps->end || *ps->p != '"' || !(key = jdom_string(ps)))
				return NULL;
			jdom_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return NULL;
			ps->p++;
			jdom_ws(ps);
		}
		v = jdom_value(ps, depth + 1);
		if (!v)
			return NULL;
		v->key = key;
		if (last)
			last->next = v;
		else
			n->child = v;
		last = v;
		n->count++;
		jdom_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			jdom_ws(ps);
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			return n;
		}
		return NULL;
	}
}

/* At the first byte of a value (whitespace skipped). */
static struct mq_jdom_node *jdom_value(struct jdom_parser *ps, int depth)
{
	struct mq_jdom_node *n;
	double num;
	char *s;

	if (ps->p >= ps->end)
		return NULL;
	switch (*ps->p) {
	case '{':
	case '[':
		return jdom_container(ps, depth);
	case '"':
		if (!(s = jdom_string(ps)) || !(n = jdom_node(ps, MQ_JDOM_STRING)))
			return NULL;
		n->str = s;
		return n;
	case 't':
		return jdom_literal(ps, "true") ? NULL : jdom_node(ps, MQ_JDOM_TRUE);
	case 'f':
		return jdom_literal(ps, "false") ? NULL : jdom_node(ps, MQ_JDOM_FALSE);
	case 'n':
		return jdom_literal(ps, "null") ? NULL : jdom_node(ps, MQ_JDOM_NULL);
	default:
		if (jdom_number(ps, &num) || !(n = jdom_node(ps, MQ_JDOM_NUMBER)))
			return NULL;
		n->num = num;
		return n;
	}
}

struct mq_jdom *mq_jdom_parse(char *buf, size_t len, long *bad_at, bool *trailing)
{
	struct jdom_parser ps = {0};
	struct mq_jdom *d = calloc(1, sizeof(*d));

	*trailing = false;
	*bad_at = -1;
	if (!d)
		return NULL;
	buf[len] = '\0';
	ps.d = d;
	ps.start = ps.p = buf;
	ps.end = buf + len;
	/* A byte order mark, as cJSON tolerates. */
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		ps.p += 3;
	jdom_ws(&ps);
	d->root = jdom_value(&ps, 0);
	if (d->root) {
		jdom_ws(&ps);
		if (ps.p == ps.end)
			return d;
		*trailing = true;
	}
	if (!ps.oom)
		*bad_at = (long)(ps.p - ps.start);
	mq_jdom_free(d);
	return NULL;
}

const struct mq_jdom_node *mq_jdom_root(const struct mq_jdom *d)
{
	return d->root;
}

void mq_jdom_free(struct mq_jdom *d)
{
	struct jdom_block *b, *prev;

	if (!d)
		return;
	for (b = d->blocks; b; b = prev) {
		prev = b->prev;
		free(b);
	}
	free(d);
}

const struct mq_jdom_node *mq_jdom_get(const struct mq_jdom_node *obj, const char *key)
{
	const struct mq_jdom_node *n;

	if (!obj || obj->type != MQ_JDOM_OBJECT)
		return NULL;
	for (n = obj->child; n; n = n->next)
		if (!strcmp(n->key, key))
			return n;
	return NULL;
}
