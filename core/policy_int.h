/* Private to the policy module (core/policy.c the model, policy_read.c
 * the JSON reader, policy_write.c the JSON writer): the model's internals
 * the reader builds a policy with. */
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

#endif
