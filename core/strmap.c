/* A string-keyed open-addressing hash map with borrowed keys: the
 * policy's and the plugin's indexes. */
#include "mq_strmap.h"

#include <stdlib.h>
#include <string.h>

uint32_t mq_strmap_hash(const char *key)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return h;
}

void mq_strmap_init(struct mq_strmap *m)
{
	memset(m, 0, sizeof(*m));
}

void mq_strmap_release(struct mq_strmap *m)
{
	free(m->slots);
	mq_strmap_init(m);
}

static struct mq_strmap_slot *strmap_find(const struct mq_strmap *m, const char *key, uint32_t h)
{
	size_t mask = m->cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct mq_strmap_slot *s = &m->slots[i];

		if (!s->key || (s->hash == h && !strcmp(s->key, key)))
			return s;
	}
}

static int strmap_resize(struct mq_strmap *m, size_t cap)
{
	struct mq_strmap old = *m;

	m->slots = calloc(cap, sizeof(*m->slots));
	if (!m->slots) {
		*m = old;
		return -1;
	}
	m->cap = cap;
	for (size_t i = 0; i < old.cap; i++) {
		if (old.slots[i].key)
			*strmap_find(m, old.slots[i].key, old.slots[i].hash) = old.slots[i];
	}
	free(old.slots);
	return 0;
}

static int strmap_grow(struct mq_strmap *m)
{
	return strmap_resize(m, m->cap ? m->cap * 2 : 16);
}

int mq_strmap_reserve(struct mq_strmap *m, size_t n)
{
	size_t cap = m->cap ? m->cap : 16;

	/* The same load factor as put: at most 1/2. */
	while (n * 2 > cap)
		cap *= 2;
	return cap > m->cap ? strmap_resize(m, cap) : 0;
}

int mq_strmap_put(struct mq_strmap *m, const char *key, void *value)
{
	uint32_t h = mq_strmap_hash(key);
	struct mq_strmap_slot *s;

	/* Load factor at most 1/2 keeps probes short. */
	if ((m->count + 1) * 2 > m->cap && strmap_grow(m))
		return -1;
	s = strmap_find(m, key, h);
	if (!s->key) {
		s->key = key;
		s->hash = h;
		m->count++;
	}
	s->value = value;
	return 0;
}

void *mq_strmap_get(const struct mq_strmap *m, const char *key)
{
	const struct mq_strmap_slot *s;

	if (!m->cap)
		return NULL;
	s = strmap_find(m, key, mq_strmap_hash(key));
	return s->key ? s->value : NULL;
}

void *mq_strmap_del(struct mq_strmap *m, const char *key)
{
	size_t mask = m->cap - 1, i, j;
	struct mq_strmap_slot *s;
	void *value;

	if (!m->cap)
		return NULL;
	s = strmap_find(m, key, mq_strmap_hash(key));
	if (!s->key)
		return NULL;
	value = s->value;
	/* Backward-shift deletion keeps every probe chain unbroken. */
	i = (size_t)(s - m->slots);
	j = i;
	for (;;) {
		size_t home;

		/* An emptied slot keeps no value: it may be freed memory. */
		m->slots[i].key = NULL;
		m->slots[i].value = NULL;
		for (;;) {
			j = (j + 1) & mask;
			if (!m->slots[j].key)
				goto done;
			home = m->slots[j].hash & mask;
			/* Move j back into i unless home lies cyclically in (i, j]. */
			if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
				break;
		}
		m->slots[i] = m->slots[j];
		i = j;
	}
done:
	m->count--;
	return value;
}
