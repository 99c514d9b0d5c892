/* The project's own JSON reader: an in-place, bounded, strict parse tree
 * for the policy reader (see mq_jdom.h for why not cJSON). */
#include "mq_jdom.h"
#include "mq_strmap.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nodes per block: 2 MB blocks, each its own mmap in glibc, so freeing the
 * tree gives the memory straight back. */
#define JDOM_BLOCK_NODES 65536
/* Objects up to this many members are searched for a duplicate name one by
 * one; larger ones (never in a policy) get a hash set, so no document makes
 * the check quadratic. */
#define JDOM_LINEAR_KEYS 16

struct jdom_block {
	struct jdom_block *prev;
	size_t used;
	struct mq_jdom_node nodes[JDOM_BLOCK_NODES];
};

struct mq_jdom {
	struct jdom_block *blocks;
	struct mq_jdom_node *root;
};

/* One open container, linked up to the root: the path of an error. */
struct jdom_frame {
	const struct jdom_frame *up;
	const char *key; /* object: the member being read */
	size_t idx;      /* array: the element being read */
	bool obj;
};

/* A place in the text, enough to name its line and column. */
struct jdom_pos {
	const char *at;
	const char *line_start;
	unsigned long line;
	size_t cont;
};

struct jdom_parser {
	struct mq_jdom *d;
	char *p;
	char *end;
	char *start;
	/* Newlines only occur in whitespace (a raw one in a string is an
	 * error), so counting them there gives the line; UTF-8 continuation
	 * bytes are only legal inside strings, counted there for the column. */
	const char *line_start;
	unsigned long line;
	size_t cont;
	size_t mem;
	size_t max_mem;
	const struct jdom_frame *top;
	struct mq_jdom_error *err;
	bool failed;
};

static struct jdom_pos jdom_here(const struct jdom_parser *ps)
{
	struct jdom_pos pos = {ps->p, ps->line_start, ps->line, ps->cont};

	return pos;
}

/* Records the first error only: the callers above it just unwind. */
__attribute__((format(printf, 3, 4)))
static void jdom_fail_at(struct jdom_parser *ps, struct jdom_pos pos, const char *fmt, ...)
{
	struct mq_jdom_error *e = ps->err;
	va_list ap;

	if (ps->failed)
		return;
	ps->failed = true;
	e->offset = (long)(pos.at - ps->start);
	e->line = pos.line;
	e->column = (unsigned long)(pos.at - pos.line_start) - pos.cont + 1;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

#define jdom_fail(ps, ...) jdom_fail_at((ps), jdom_here(ps), __VA_ARGS__)

static void jdom_oom(struct jdom_parser *ps)
{
	if (ps->failed)
		return;
	ps->failed = true;
	ps->err->offset = -1;
	ps->err->line = ps->err->column = 0;
	snprintf(ps->err->msg, sizeof(ps->err->msg), "out of memory");
}

/* Counts n bytes against the bound; false (error recorded) when over. */
static bool jdom_charge(struct jdom_parser *ps, size_t n)
{
	if (ps->max_mem && (n > ps->max_mem || ps->mem > ps->max_mem - n)) {
		jdom_fail(ps, "too many values for a file of this size (the parse would "
			  "take more than %zu bytes of memory)", ps->max_mem);
		return false;
	}
	ps->mem += n;
	return true;
}

static struct mq_jdom_node *jdom_node(struct jdom_parser *ps, enum mq_jdom_type type)
{
	struct jdom_block *b = ps->d->blocks;
	struct mq_jdom_node *n;

	if (!jdom_charge(ps, sizeof(*n)))
		return NULL;
	if (!b || b->used == JDOM_BLOCK_NODES) {
		b = malloc(sizeof(*b));
		if (!b) {
			jdom_oom(ps);
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
	while (ps->p < ps->end) {
		char c = *ps->p;

		if (c == '\n') {
			ps->line++;
			ps->line_start = ps->p + 1;
			ps->cont = 0;
		} else if (c != ' ' && c != '\t' && c != '\r') {
			return;
		}
		ps->p++;
	}
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

/* At a backslash inside a string: decodes one escape to w; returns the new
 * write position or NULL (error recorded). */
static char *jdom_escape(struct jdom_parser *ps, char *w)
{
	struct jdom_pos pos = jdom_here(ps);
	unsigned cp, lo;
	char c;

	if (ps->end - ps->p < 2) {
		jdom_fail(ps, "unterminated string");
		return NULL;
	}
	c = ps->p[1];
	ps->p += 2;
	switch (c) {
	case '"': case '\\': case '/':
		*w++ = c;
		return w;
	case 'b': *w++ = '\b'; return w;
	case 'f': *w++ = '\f'; return w;
	case 'n': *w++ = '\n'; return w;
	case 'r': *w++ = '\r'; return w;
	case 't': *w++ = '\t'; return w;
	case 'u':
		break;
	default:
		if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
			jdom_fail_at(ps, pos, "invalid escape '\\%c' in a string", c);
		else
			jdom_fail_at(ps, pos, "invalid escape in a string");
		return NULL;
	}
	if (ps->end - ps->p < 4 || jdom_hex4(ps->p, &cp)) {
		jdom_fail_at(ps, pos, "\\u must be followed by 4 hex digits");
		return NULL;
	}
	ps->p += 4;
	/* A NUL would cut the string short and change what a name means. */
	if (cp == 0) {
		jdom_fail_at(ps, pos, "\\u0000 is not allowed in a string");
		return NULL;
	}
	if (cp >= 0xdc00 && cp <= 0xdfff) {
		jdom_fail_at(ps, pos, "unpaired UTF-16 surrogate \\u%04x", cp);
		return NULL;
	}
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
		    jdom_hex4(ps->p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff) {
			jdom_fail_at(ps, pos, "unpaired UTF-16 surrogate \\u%04x", cp);
			return NULL;
		}
		ps->p += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	return jdom_utf8(w, cp);
}

/* At the opening quote. Unescapes in place (the result is never longer than
 * the source) and NUL-terminates; returns the string or NULL. */
static char *jdom_string(struct jdom_parser *ps)
{
	char *s = ++ps->p, *w = s;

	while (ps->p < ps->end) {
		unsigned char c = (unsigned char)*ps->p;

		if (c == '"') {
			ps->p++;
			*w = '\0';
			return s;
		}
		/* Raw control bytes (a NUL above all, which would cut the string
		 * short and change what a name or fingerprint means) are not JSON. */
		if (c == '\n') {
			jdom_fail(ps, "unterminated string (the line ends inside it)");
			return NULL;
		}
		if (c < 0x20) {
			jdom_fail(ps, "control character 0x%02x in a string: write it as \\u%04x", c, c);
			return NULL;
		}
		if (c == '\\') {
			if (!(w = jdom_escape(ps, w)))
				return NULL;
			continue;
		}
		ps->cont += (c & 0xc0) == 0x80;
		*w++ = (char)c;
		ps->p++;
	}
	jdom_fail(ps, "unterminated string");
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
		goto bad;
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (jdom_digits(ps))
			goto bad;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (jdom_digits(ps))
			goto bad;
	}
	*out = strtod(s, NULL);
	return 0;
bad:
	if (ps->p == s && (unsigned char)*s >= 0x21 && (unsigned char)*s < 0x7f)
		jdom_fail(ps, "expected a value, found '%c'", *s);
	else if (ps->p == s)
		jdom_fail(ps, "expected a value");
	else
		jdom_fail(ps, "invalid number");
	return -1;
}

static int jdom_literal(struct jdom_parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n)) {
		jdom_fail(ps, "expected a value (did you mean %s?)", word);
		return -1;
	}
	ps->p += n;
	return 0;
}

/* ---- duplicate member names ------------------------------------------- */

struct jdom_keyset {
	const char **slots;
	size_t cap;
};

static void jdom_keyset_free(struct jdom_parser *ps, struct jdom_keyset *ks)
{
	ps->mem -= ks->cap * sizeof(*ks->slots);
	free(ks->slots);
	ks->slots = NULL;
	ks->cap = 0;
}

/* Adds key; 1 when it was there already, 0 when added, -1 on error. */
static int jdom_keyset_add(struct jdom_keyset *ks, const char *key)
{
	size_t mask = ks->cap - 1;

	for (size_t i = mq_strmap_hash(key) & mask;; i = (i + 1) & mask) {
		if (!ks->slots[i]) {
			ks->slots[i] = key;
			return 0;
		}
		if (!strcmp(ks->slots[i], key))
			return 1;
	}
}

/* Makes room for members+1 keys at most half full, rebuilding from the
 * members read so far. 0 or -1 (error recorded). */
static int jdom_keyset_grow(struct jdom_parser *ps, struct jdom_keyset *ks,
			    const struct mq_jdom_node *first, size_t members)
{
	size_t cap = ks->cap ? ks->cap : 4 * JDOM_LINEAR_KEYS;

	while (cap < 2 * (members + 1))
		cap *= 2;
	if (cap == ks->cap)
		return 0;
	jdom_keyset_free(ps, ks);
	if (!jdom_charge(ps, cap * sizeof(*ks->slots)))
		return -1;
	ks->slots = calloc(cap, sizeof(*ks->slots));
	if (!ks->slots) {
		ps->mem -= cap * sizeof(*ks->slots);
		jdom_oom(ps);
		return -1;
	}
	ks->cap = cap;
	for (const struct mq_jdom_node *m = first; m; m = m->next)
		jdom_keyset_add(ks, m->key);
	return 0;
}

/* Writes one path component for a member name: .name, or ["name"] when it
 * is not a plain word. */
static void jdom_path_key(char *buf, size_t len, size_t *at, const char *key, bool first)
{
	bool plain = *key != '\0';

	for (const char *k = key; *k && plain; k++)
		plain = (*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
			(*k >= '0' && *k <= '9') || *k == '_' || *k == '-';
	if (plain) {
		*at += (size_t)snprintf(buf + *at, len - *at, "%s%s", first ? "" : ".", key);
		return;
	}
	*at += (size_t)snprintf(buf + *at, len - *at, "[\"");
	for (const char *k = key; *k && *at < len; k++) {
		unsigned char c = (unsigned char)*k;

		*at += (size_t)snprintf(buf + *at, len - *at, c < 0x20 || c == '"' || c == '\\' ||
					c == 0x7f ? "\\u%04x" : "%c", c);
	}
	if (*at < len)
		*at += (size_t)snprintf(buf + *at, len - *at, "\"]");
}

/* "devices[3].certs[0].status": the member or element being read. */
static void jdom_path(const struct jdom_parser *ps, char *buf, size_t len)
{
	const struct jdom_frame *chain[MQ_JDOM_MAX_DEPTH + 1];
	size_t n = 0, at = 0;

	for (const struct jdom_frame *f = ps->top; f && n < MQ_JDOM_MAX_DEPTH + 1; f = f->up)
		chain[n++] = f;
	buf[0] = '\0';
	while (n-- && at < len) {
		const struct jdom_frame *f = chain[n];

		if (f->obj)
			jdom_path_key(buf, len, &at, f->key, at == 0);
		else
			at += (size_t)snprintf(buf + at, len - at, "[%zu]", f->idx);
	}
	if (at >= len && len > 4)
		memcpy(buf + len - 4, "...", 4);
}

/* Checks the member name just read against the earlier members of its
 * object. 0, or -1 with the error recorded at pos. */
static int jdom_check_key(struct jdom_parser *ps, struct jdom_keyset *ks,
			  const struct mq_jdom_node *obj, struct jdom_pos pos)
{
	const char *key = ps->top->key;
	char path[200];
	int dup = 0;

	if (obj->count < JDOM_LINEAR_KEYS) {
		for (const struct mq_jdom_node *m = obj->child; m && !dup; m = m->next)
			dup = !strcmp(m->key, key);
	} else {
		if (2 * (obj->count + 1) > ks->cap && jdom_keyset_grow(ps, ks, obj->child, obj->count))
			return -1;
		dup = jdom_keyset_add(ks, key);
	}
	if (!dup)
		return 0;
	jdom_path(ps, path, sizeof(path));
	jdom_fail_at(ps, pos, "duplicate member %s: JSON readers disagree on which one counts; "
		     "keep only one", path);
	return -1;
}

/* ---- values ------------------------------------------------------------ */

static struct mq_jdom_node *jdom_value(struct jdom_parser *ps, int depth);

/* The member name and colon of an object member; 0 or -1. */
static int jdom_member_name(struct jdom_parser *ps, struct jdom_frame *f, struct jdom_keyset *ks,
			    const struct mq_jdom_node *obj)
{
	struct jdom_pos pos = jdom_here(ps);

	if (ps->p >= ps->end || *ps->p != '"') {
		jdom_fail(ps, ps->p >= ps->end ? "unexpected end of the file: expected a member name" :
			  "expected a member name in double quotes");
		return -1;
	}
	if (!(f->key = jdom_string(ps)) || jdom_check_key(ps, ks, obj, pos))
		return -1;
	jdom_ws(ps);
	if (ps->p >= ps->end || *ps->p != ':') {
		jdom_fail(ps, "expected ':' after the member name");
		return -1;
	}
	ps->p++;
	jdom_ws(ps);
	return 0;
}

/* At '[' or '{'. */
static struct mq_jdom_node *jdom_container(struct jdom_parser *ps, int depth)
{
	bool obj = *ps->p == '{';
	char close = obj ? '}' : ']';
	struct jdom_frame frame = {ps->top, NULL, 0, obj};
	struct jdom_keyset ks = {NULL, 0};
	struct mq_jdom_node *n, *last = NULL, *res = NULL;

	if (depth >= MQ_JDOM_MAX_DEPTH) {
		jdom_fail(ps, "nested deeper than %d levels", MQ_JDOM_MAX_DEPTH);
		return NULL;
	}
	if (!(n = jdom_node(ps, obj ? MQ_JDOM_OBJECT : MQ_JDOM_ARRAY)))
		return NULL;
	ps->p++;
	jdom_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return n;
	}
	ps->top = &frame;
	for (;;) {
		struct mq_jdom_node *v;

		if (obj && jdom_member_name(ps, &frame, &ks, n))
			goto out;
		v = jdom_value(ps, depth + 1);
		if (!v)
			goto out;
		v->key = frame.key;
		if (last)
			last->next = v;
		else
			n->child = v;
		last = v;
		n->count++;
		frame.idx++;
		jdom_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			jdom_ws(ps);
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			res = n;
			goto out;
		}
		if (ps->p >= ps->end)
			jdom_fail(ps, "unexpected end of the file: expected ',' or '%c'", close);
		else
			jdom_fail(ps, "expected ',' or '%c'", close);
		goto out;
	}
out:
	jdom_keyset_free(ps, &ks);
	ps->top = frame.up;
	return res;
}

/* At the first byte of a value (whitespace skipped). A scalar's node is
 * taken before the value is read, so that going over the memory bound is
 * reported at the value's first byte. */
static struct mq_jdom_node *jdom_value(struct jdom_parser *ps, int depth)
{
	struct mq_jdom_node *n;

	if (ps->p >= ps->end) {
		jdom_fail(ps, "unexpected end of the file: expected a value");
		return NULL;
	}
	switch (*ps->p) {
	case '{':
	case '[':
		return jdom_container(ps, depth);
	case '"':
		if (!(n = jdom_node(ps, MQ_JDOM_STRING)) || !(n->str = jdom_string(ps)))
			return NULL;
		return n;
	case 't':
		n = jdom_node(ps, MQ_JDOM_TRUE);
		return n && !jdom_literal(ps, "true") ? n : NULL;
	case 'f':
		n = jdom_node(ps, MQ_JDOM_FALSE);
		return n && !jdom_literal(ps, "false") ? n : NULL;
	case 'n':
		n = jdom_node(ps, MQ_JDOM_NULL);
		return n && !jdom_literal(ps, "null") ? n : NULL;
	default:
		n = jdom_node(ps, MQ_JDOM_NUMBER);
		return n && !jdom_number(ps, &n->num) ? n : NULL;
	}
}

struct mq_jdom *mq_jdom_parse(char *buf, size_t len, size_t max_bytes, struct mq_jdom_error *err)
{
	struct jdom_parser ps = {0};
	struct mq_jdom *d = calloc(1, sizeof(*d));

	memset(err, 0, sizeof(*err));
	ps.err = err;
	if (!d) {
		jdom_oom(&ps);
		return NULL;
	}
	buf[len] = '\0';
	ps.d = d;
	ps.start = ps.p = buf;
	ps.end = buf + len;
	ps.line = 1;
	ps.max_mem = max_bytes;
	/* A byte order mark, as cJSON tolerates; editors show no column for it. */
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		ps.p += 3;
	ps.line_start = ps.p;
	jdom_ws(&ps);
	d->root = jdom_value(&ps, 0);
	if (d->root) {
		jdom_ws(&ps);
		if (ps.p == ps.end)
			return d;
		/* A second value (a botched edit or two files glued together)
		 * must not be silently ignored. */
		jdom_fail(&ps, "unexpected data after the document");
	}
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
