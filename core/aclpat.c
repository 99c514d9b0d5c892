/* The ACL engine's pattern levels: a client's substitution values (%u, %c,
 * %{cn}, %{ou}) and the match of one pattern level against one topic level,
 * shared by the index (acl.c) and the reference scan of the tests. */
#include "aclpat.h"

#include <stdlib.h>
#include <string.h>

/* A value may stand for a topic level only if it is one: non-empty, no
 * level separator or wildcard, and no leading '$' (so a placeholder at the
 * first level can never reach $SYS or other '$' trees). Anything else
 * could only equal itself as a whole level, which no valid topic has, so
 * dropping it changes no decision and keeps every comparison trivial. */
static bool aclpat_usable(const char *s)
{
	return s && *s && *s != '$' && !s[strcspn(s, "/+#")];
}

int aclpat_vals_init(struct aclpat_vals *v, const struct mq_acl_ident *id, const char *username)
{
	const char *src[ACLPAT_NVARS] = { id->username ? id->username : username, id->client_id,
					  id->cn };
	size_t total = 0, nou = 0;
	char *s;

	memset(v, 0, sizeof(*v));
	for (int i = 0; i < ACLPAT_NVARS; i++) {
		if (aclpat_usable(src[i]))
			total += strlen(src[i]) + 1;
	}
	for (size_t i = 0; i < id->nou; i++) {
		if (aclpat_usable(id->ou[i])) {
			total += strlen(id->ou[i]) + 1;
			nou++;
		}
	}
	/* Arrays first so they stay aligned; the strings follow. */
	v->mem = malloc(nou * (sizeof(char *) + sizeof(size_t)) + total + 1);
	if (!v->mem)
		return -1;
	v->ou = v->mem;
	v->oulen = (size_t *)(v->ou + nou);
	s = (char *)(v->oulen + nou);
	for (int i = 0; i < ACLPAT_NVARS; i++) {
		if (!aclpat_usable(src[i]))
			continue;
		v->len[i] = strlen(src[i]);
		v->val[i] = memcpy(s, src[i], v->len[i] + 1);
		s += v->len[i] + 1;
	}
	for (size_t i = 0; i < id->nou; i++) {
		if (!aclpat_usable(id->ou[i]))
			continue;
		v->oulen[v->nou] = strlen(id->ou[i]);
		v->ou[v->nou] = memcpy(s, id->ou[i], v->oulen[v->nou] + 1);
		s += v->oulen[v->nou] + 1;
		v->nou++;
	}
	return 0;
}

void aclpat_vals_release(struct aclpat_vals *v)
{
	free(v->mem);
	memset(v, 0, sizeof(*v));
}

/* The variable a placeholder at p ('%') names and its length; ACLPAT_NVARS
 * for %{ou}, -1 for "%%". Patterns are validated, so nothing else occurs. */
static int aclpat_var(const char *p, size_t *plen)
{
	*plen = 2;
	if (p[1] == 'u')
		return ACLPAT_U;
	if (p[1] == 'c')
		return ACLPAT_C;
	if (p[1] == '%')
		return -1;
	*plen = 5;
	return p[2] == 'c' ? ACLPAT_CN : ACLPAT_NVARS;
}

bool aclpat_level_has_placeholder(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '%')
			continue;
		if (p[i + 1] != '%')
			return true;
		i++;
	}
	return false;
}

size_t aclpat_level_unescape(char *dst, const char *p, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		dst[n++] = p[i];
		if (p[i] == '%')
			i++;
	}
	return n;
}

static bool aclpat_eat(const char **t, const char *te, const char *s, size_t n)
{
	if ((size_t)(te - *t) < n || memcmp(*t, s, n))
		return false;
	*t += n;
	return true;
}

/* At most one %{ou} per level (mq_pattern_valid), so the recursion below
 * is one level deep and a match costs O(OUs x level length). */
static bool aclpat_match(const char *p, const char *pe, const char *t, const char *te,
			 const struct aclpat_vals *v)
{
	while (p < pe) {
		size_t plen;
		int var;

		if (*p != '%') {
			if (t == te || *t != *p)
				return false;
			p++;
			t++;
			continue;
		}
		var = aclpat_var(p, &plen);
		p += plen;
		if (var < 0) {
			if (!aclpat_eat(&t, te, "%", 1))
				return false;
		} else if (var < ACLPAT_NVARS) {
			if (!v->val[var] || !aclpat_eat(&t, te, v->val[var], v->len[var]))
				return false;
		} else {
			for (size_t i = 0; i < v->nou; i++) {
				const char *u = t;

				if (aclpat_eat(&u, te, v->ou[i], v->oulen[i]) &&
				    aclpat_match(p, pe, u, te, v))
					return true;
			}
			return false;
		}
	}
	return t == te;
}

bool aclpat_level_match(const char *p, size_t plen, const char *t, size_t tlen,
			const struct aclpat_vals *v)
{
	return aclpat_match(p, p + plen, t, t + tlen, v);
}

bool aclpat_level_bound(const char *p, size_t plen, const struct aclpat_vals *v)
{
	for (size_t i = 0; i < plen; i++) {
		size_t n;
		int var;

		if (p[i] != '%')
			continue;
		var = aclpat_var(p + i, &n);
		if ((var >= 0 && var < ACLPAT_NVARS && !v->val[var]) ||
		    (var == ACLPAT_NVARS && !v->nou))
			return false;
		i += n - 1;
	}
	return true;
}
