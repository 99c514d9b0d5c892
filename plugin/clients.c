/* The clients this plugin let in, found by the broker's client pointer:
 * DISCONNECT and the SIGHUP re-check identify a client only by pointer, and
 * client ids are briefly shared during a takeover. */
#include "mqcert.h"

#include <stdint.h>
#include <stdlib.h>

void mqclients_init(struct mqclients_table *t)
{
	t->buckets = NULL;
	t->nbuckets = 0;
	t->shift = 0;
	t->count = 0;
	t->head = t->tail = NULL;
	mq_strmap_init(&t->by_device);
	t->earliest_expiry = 0;
}

struct mqclients_rec *mqclients_rec_new(void)
{
	return calloc(1, sizeof(struct mqclients_rec));
}

void mqclients_rec_free(struct mqclients_rec *r)
{
	if (!r)
		return;
	free(r->client_id);
	free(r->device);
	free(r->username);
	free(r->identity);
	free(r->address);
	mq_acl_client_free(r->acl);
	free(r->cn);
	mq_x509_ous_free(r->ou, r->nou);
	for (size_t i = 0; i < r->ngroups; i++)
		free(r->groups[i]);
	free(r->groups);
	free(r);
}

void mqclients_release(struct mqclients_table *t)
{
	struct mqclients_rec *r = t->head, *next;

	while (r) {
		next = r->next;
		mqclients_rec_free(r);
		r = next;
	}
	free(t->buckets);
	mq_strmap_release(&t->by_device);
	mqclients_init(t);
}

static int cl_grow(struct mqclients_table *t)
{
	size_t n = t->nbuckets ? t->nbuckets * 2 : 64;
	struct mqclients_rec **b = calloc(n, sizeof(*b));
	struct mqclients_rec *r;

	if (!b)
		return -1;
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
	t->shift = 64 - (unsigned)__builtin_ctzll(n);
	for (r = t->head; r; r = r->next) {
		size_t s = mqclients_slot(t, r->client);

		r->bucket_next = b[s];
		b[s] = r;
	}
	return 0;
}

/* The map's key is the first record's own name, so a new record goes
 * second and a departing first record hands the key to the next. */
static int cl_dev_link(struct mqclients_table *t, struct mqclients_rec *rec)
{
	struct mqclients_rec *first;

	if (!rec->device)
		return 0;
	first = mq_strmap_get(&t->by_device, rec->device);
	if (!first)
		return mq_strmap_put(&t->by_device, rec->device, rec);
	rec->dev_prev = first;
	rec->dev_next = first->dev_next;
	if (first->dev_next)
		first->dev_next->dev_prev = rec;
	first->dev_next = rec;
	return 0;
}

static void cl_dev_unlink(struct mqclients_table *t, struct mqclients_rec *rec)
{
	if (!rec->device)
		return;
	if (rec->dev_prev) {
		rec->dev_prev->dev_next = rec->dev_next;
		if (rec->dev_next)
			rec->dev_next->dev_prev = rec->dev_prev;
		return;
	}
	if (mq_strmap_get(&t->by_device, rec->device) != rec)
		return; /* never linked (out of memory at put) */
	mq_strmap_del(&t->by_device, rec->device);
	if (rec->dev_next) {
		rec->dev_next->dev_prev = NULL;
		/* Cannot fail: the slot just freed is reused. */
		(void)mq_strmap_put(&t->by_device, rec->dev_next->device, rec->dev_next);
	}
}

struct mqclients_rec *mqclients_by_device(const struct mqclients_table *t, const char *name)
{
	return mq_strmap_get(&t->by_device, name);
}

static void cl_unlink(struct mqclients_table *t, struct mqclients_rec *rec)
{
	cl_dev_unlink(t, rec);
	struct mqclients_rec **pp = &t->buckets[mqclients_slot(t, rec->client)];

	while (*pp && *pp != rec)
		pp = &(*pp)->bucket_next;
	if (*pp)
		*pp = rec->bucket_next;
	if (rec->prev)
		rec->prev->next = rec->next;
	else
		t->head = rec->next;
	if (rec->next)
		rec->next->prev = rec->prev;
	else
		t->tail = rec->prev;
	t->count--;
}

int mqclients_put(struct mqclients_table *t, struct mqclients_rec *rec)
{
	struct mqclients_rec *old = mqclients_find(t, rec->client);
	size_t s;

	if (old) {
		cl_unlink(t, old);
		mqclients_rec_free(old);
	}
	if (((t->count + 1) * 4 > t->nbuckets * 3 && cl_grow(t)) || cl_dev_link(t, rec)) {
		mqclients_rec_free(rec);
		return -1;
	}
	s = mqclients_slot(t, rec->client);
	rec->bucket_next = t->buckets[s];
	t->buckets[s] = rec;
	rec->next = NULL;
	rec->prev = t->tail;
	if (t->tail)
		t->tail->next = rec;
	else
		t->head = rec;
	t->tail = rec;
	t->count++;
	if (!rec->deferred && (!t->earliest_expiry || rec->not_after < t->earliest_expiry))
		t->earliest_expiry = rec->not_after;
	return 0;
}

void mqclients_forget(struct mqclients_table *t, const struct mosquitto *client)
{
	struct mqclients_rec *r = mqclients_find(t, client);

	if (!r)
		return;
	cl_unlink(t, r);
	mqclients_rec_free(r);
	/* earliest_expiry stays a lower bound; the tick recomputes it. */
}

void mqclients_update_expiry(struct mqclients_table *t)
{
	struct mqclients_rec *r;

	t->earliest_expiry = 0;
	for (r = t->head; r; r = r->next)
		if (!r->deferred && (!t->earliest_expiry || r->not_after < t->earliest_expiry))
			t->earliest_expiry = r->not_after;
}
