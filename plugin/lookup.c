/* Device lookups in the store on the broker thread: one lookup, one short
 * read transaction (never held between events). The store handle is
 * opened and replaced by reload.c; every module that needs a device
 * record (authentication, ACL, renewal, enforcement) asks here. */
#include "mqcert.h"

#include <stdio.h>

static int look_device(struct mqcert *st,
		       int (*lookup)(struct mq_store *, const char *, struct mq_device **,
				     char *, size_t),
		       const char *key, struct mq_device **out, char *err, size_t errlen)
{
	struct mq_store *s = st->store;
	int rc;

	*out = NULL;
	if (!s) {
		snprintf(err, errlen, "the store %s is not open", st->opt.store_path);
		return -1;
	}
	if (mq_store_read_begin(s, err, errlen))
		return -1;
	rc = lookup(s, key, out, err, errlen);
	mq_store_read_end(s);
	return rc;
}

int mqlook_by_fpr(struct mqcert *st, const char *fpr, struct mq_device **out, char *err,
		  size_t errlen)
{
	return look_device(st, mq_store_device_by_fpr, fpr, out, err, errlen);
}

int mqlook_by_user(struct mqcert *st, const char *user, struct mq_device **out, char *err,
		   size_t errlen)
{
	return look_device(st, mq_store_device_by_user, user, out, err, errlen);
}
