/* Test support beyond the reference scans of naive.h. Never linked into
 * mqcert.so or mqadmin. */
#ifndef SUPPORT_H
#define SUPPORT_H

#include <stddef.h>

#include "mq_policy.h"

/* Parses a policy document held in memory (copied first) with the
 * product's reader. On failure returns NULL and writes a one-line reason
 * naming the offending element into err. */
struct mq_policy *support_policy_parse(const char *buf, size_t len, char *err, size_t errlen);

#endif
