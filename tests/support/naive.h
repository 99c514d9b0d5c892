/* Test support (tests/support/naive.c): reference implementations the
 * product is checked against. Never linked into mqcert.so or mqadmin. */
#ifndef NAIVE_H
#define NAIVE_H

#include <stdbool.h>

#include "mq_acl.h"

/* The ACL decision of mq_acl_check by a linear scan of p's rules. A device
 * not in p: MQ_ACL_NO_DEVICE. */
bool naive_acl_check(const struct mq_policy *p, const struct mq_acl_ident *id,
		     const char *topic, enum mq_acl_access access, struct mq_acl_result *res);

/* Whether topic name (no wildcards) matches filter, with MQTT's rule that
 * '+' and '#' at the first level never match a topic starting with '$'.
 * Plain MQTT: no placeholders. */
bool naive_topic_match(const char *filter, const char *topic);

#endif
