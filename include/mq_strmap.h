/* A string-keyed open-addressing hash map. Keys are borrowed: they must
 * outlive the map (they point into the records the map indexes). */
#ifndef MQ_STRMAP_H
#define MQ_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct mq_strmap_slot {
	const char *key;
	void *value;
	uint32_t hash;
};

struct mq_strmap {
	struct mq_strmap_slot *slots;
	size_t cap; /* power of two, or 0 */
	size_t count;
};

uint32_t mq_strmap_hash(const char *key);

void mq_strmap_init(struct mq_strmap *m);
void mq_strmap_release(struct mq_strmap *m);
/* Makes room for n keys in all, so that many puts never rehash. 0 or -1. */
int mq_strmap_reserve(struct mq_strmap *m, size_t n);
/* Inserts or replaces. Returns 0, or -1 when out of memory. */
int mq_strmap_put(struct mq_strmap *m, const char *key, void *value);
void *mq_strmap_get(const struct mq_strmap *m, const char *key);
/* Removes key if present; returns its value or NULL. */
void *mq_strmap_del(struct mq_strmap *m, const char *key);

#endif
