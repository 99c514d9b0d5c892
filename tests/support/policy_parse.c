/* Test support: a policy document parsed from memory by the product's
 * reader (core/policy_read.c), for the unit tests and fuzz_policy; the
 * product reads files (mq_policy_load) and the store's records. */
#include "support.h"
#include "policy_int.h"
#include "mq_err.h"

#include <stdlib.h>
#include <string.h>

struct mq_policy *support_policy_parse(const char *buf, size_t len, char *err, size_t errlen)
{
	struct mq_policy *p;
	char *copy;

	if (len > (size_t)MQ_POLICY_MAX_BYTES) {
		mq_errf(err, errlen, "the policy is %zu bytes, over the limit of %ld (%ld MB)", len,
			MQ_POLICY_MAX_BYTES, MQ_POLICY_MAX_BYTES >> 20);
		return NULL;
	}
	copy = malloc(len + 1);
	if (!copy) {
		mq_errf(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(copy, buf, len);
	p = policy_parse_owned(copy, len, NULL, err, errlen);
	free(copy);
	return p;
}
