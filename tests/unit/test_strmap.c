#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mq_strmap.h"

static void strmap_get_should_return_null_on_an_empty_map(void **state)
{
	struct mq_strmap m;

	mq_strmap_init(&m);
	assert_null(mq_strmap_get(&m, "x"));
	assert_null(mq_strmap_del(&m, "x"));
	assert_int_equal(m.count, 0);
	mq_strmap_release(&m);
}

static void strmap_put_should_insert_replace_and_delete(void **state)
{
	struct mq_strmap m;
	int a = 1, b = 2, c = 3;

	mq_strmap_init(&m);
	assert_int_equal(mq_strmap_put(&m, "alpha", &a), 0);
	assert_int_equal(mq_strmap_put(&m, "beta", &b), 0);
	assert_int_equal(m.count, 2);
	assert_ptr_equal(mq_strmap_get(&m, "alpha"), &a);
	assert_ptr_equal(mq_strmap_get(&m, "beta"), &b);
	assert_null(mq_strmap_get(&m, "gamma"));

	assert_int_equal(mq_strmap_put(&m, "alpha", &c), 0);
	assert_int_equal(m.count, 2);
	assert_ptr_equal(mq_strmap_get(&m, "alpha"), &c);

	assert_ptr_equal(mq_strmap_del(&m, "alpha"), &c);
	assert_int_equal(m.count, 1);
	assert_null(mq_strmap_get(&m, "alpha"));
	assert_null(mq_strmap_del(&m, "alpha"));
	assert_ptr_equal(mq_strmap_get(&m, "beta"), &b);
	mq_strmap_release(&m);
	assert_int_equal(m.cap, 0);
}

static void strmap_key_should_be_compared_by_content(void **state)
{
	struct mq_strmap m;
	char k1[] = "same", k2[] = "same";
	int v = 7;

	mq_strmap_init(&m);
	assert_int_equal(mq_strmap_put(&m, k1, &v), 0);
	assert_ptr_equal(mq_strmap_get(&m, k2), &v);
	mq_strmap_release(&m);
}

/* A lookup that ends on a slot emptied by a deletion must not hand out the
 * value that used to live there (it may already be freed). */
static void strmap_get_should_not_return_a_deleted_value(void **state)
{
	struct mq_strmap m;
	char keys[64][16];
	int vals[64];

	mq_strmap_init(&m);
	for (int i = 0; i < 64; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		vals[i] = i;
		assert_int_equal(mq_strmap_put(&m, keys[i], &vals[i]), 0);
	}
	for (int i = 0; i < 64; i++)
		assert_ptr_equal(mq_strmap_del(&m, keys[i]), &vals[i]);
	assert_int_equal(m.count, 0);
	for (int i = 0; i < 64; i++)
		assert_null(mq_strmap_get(&m, keys[i]));
	for (int i = 0; i < 1000; i++) {
		char k[24];

		snprintf(k, sizeof(k), "absent%d", i);
		assert_null(mq_strmap_get(&m, k));
	}
	mq_strmap_release(&m);
}

/* Keys whose hashes share the low bits pile up in one probe run, which is
 * where backward-shift deletion can go wrong. */
static void strmap_del_should_keep_colliding_chains_intact(void **state)
{
	enum { N = 24 };
	struct mq_strmap m;
	char keys[N][16];
	int vals[N], found = 0;
	uint32_t want;

	mq_strmap_init(&m);
	/* Pre-size so that the mask (63) stays fixed while we look for keys. */
	want = mq_strmap_hash("seed") & 63u;
	for (unsigned int i = 0; found < N; i++) {
		char k[16];

		snprintf(k, sizeof(k), "c%u", i);
		if ((mq_strmap_hash(k) & 63u) != want)
			continue;
		memcpy(keys[found], k, sizeof(k));
		vals[found] = found;
		found++;
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(mq_strmap_put(&m, keys[i], &vals[i]), 0);
	assert_int_equal(m.cap, 64);
	/* Delete from the middle, the head and the tail of the run. */
	for (int i = 0; i < N; i += 3)
		assert_ptr_equal(mq_strmap_del(&m, keys[i]), &vals[i]);
	for (int i = 0; i < N; i++) {
		if (i % 3 == 0)
			assert_null(mq_strmap_get(&m, keys[i]));
		else
			assert_ptr_equal(mq_strmap_get(&m, keys[i]), &vals[i]);
	}
	mq_strmap_release(&m);
}

/* A naive array of (key, value) is the reference. Keys come from a small
 * space so that puts replace, deletes hit, and with an 8-bit hash mask many
 * keys collide and wrap around the table's end. */
struct ref_entry {
	char *key;
	void *value;
};

static void strmap_should_agree_with_a_naive_reference(void **state)
{
	enum { KEYS = 700, OPS = 60000 };
	static char keyspace[KEYS][24];
	static struct ref_entry ref[KEYS];
	size_t nref = 0;
	struct mq_strmap m;
	unsigned int seed = 12345;

	mq_strmap_init(&m);
	for (int i = 0; i < KEYS; i++)
		snprintf(keyspace[i], sizeof(keyspace[i]), "key-%d", i);
	for (int op = 0; op < OPS; op++) {
		char *k;
		size_t at = nref;

		seed = seed * 1103515245u + 12345u;
		k = keyspace[(seed >> 8) % KEYS];
		for (size_t i = 0; i < nref; i++)
			if (ref[i].key == k)
				at = i;
		switch ((seed >> 24) % 5) {
		case 0:
		case 1: { /* put */
			void *v = (void *)(uintptr_t)(op + 1);

			assert_int_equal(mq_strmap_put(&m, k, v), 0);
			if (at == nref)
				ref[nref++].key = k;
			ref[at].value = v;
			break;
		}
		case 2:
		case 3: { /* delete */
			void *got = mq_strmap_del(&m, k);

			if (at == nref) {
				assert_null(got);
			} else {
				assert_ptr_equal(got, ref[at].value);
				ref[at] = ref[--nref];
			}
			break;
		}
		default: /* get */
			if (at == nref)
				assert_null(mq_strmap_get(&m, k));
			else
				assert_ptr_equal(mq_strmap_get(&m, k), ref[at].value);
		}
		assert_int_equal(m.count, nref);
		/* Every so often the whole map must still match. */
		if (op % 2000 == 0) {
			for (int i = 0; i < KEYS; i++) {
				void *want = NULL;

				for (size_t j = 0; j < nref; j++)
					if (ref[j].key == keyspace[i])
						want = ref[j].value;
				assert_ptr_equal(mq_strmap_get(&m, keyspace[i]), want);
			}
		}
	}
	mq_strmap_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(strmap_get_should_return_null_on_an_empty_map),
		cmocka_unit_test(strmap_put_should_insert_replace_and_delete),
		cmocka_unit_test(strmap_key_should_be_compared_by_content),
		cmocka_unit_test(strmap_get_should_not_return_a_deleted_value),
		cmocka_unit_test(strmap_del_should_keep_colliding_chains_intact),
		cmocka_unit_test(strmap_should_agree_with_a_naive_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
