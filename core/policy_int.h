/* Private to the policy module (core/policy.c the model, policy_read.c
 * the JSON reader, policy_write.c the JSON writer): the model's internals
 * the reader builds a policy with, and the reader's in-memory entry that
 * the tests and fuzz targets call (tests/support/policy_parse.c). */
#ifndef MQ_POLICY_INT_H
#define MQ_POLICY_INT_H

#include "mq_policy.h"

void policy_device_free(struct mq_device *d);
struct mq_device *policy_device_alloc(const char *name, const char *username);
int policy_cert_attach(struct mq_policy *p, struct mq_device *d,
			const struct mq_cert *tmpl, bool index, char *err, size_t errlen);
struct mq_deleted *policy_deleted_append(struct mq_policy *p, struct mq_device *d);
int policy_rule_check(enum mq_subject_kind kind, const char *subject, const char *topic,
		       enum mq_access access, char *err, size_t errlen);
struct mq_rule *policy_rule_append(struct mq_policy *p, unsigned long id,
				   enum mq_subject_kind kind, const char *subject,
				   const char *topic, enum mq_access access, bool deny);

/* Parses buf[0..len), a private copy: the tree unescapes strings in it and
 * buf[len] is overwritten. name (the file, or NULL) starts a JSON error.
 * NULL + err. */
struct mq_policy *policy_parse_owned(char *buf, size_t len, const char *name, char *err,
				     size_t errlen);

#endif
