/* MQTT topic names, filters and ACL patterns (syntax only; the ACL engine
 * that evaluates patterns for a client lives in mq_acl.h). */
#ifndef MQ_TOPIC_H
#define MQ_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

#define MQ_TOPIC_MAX 65535
/* Deepest ACL pattern accepted: keeps the compiled index shallow (its walk
 * recurses once per pattern level) and no sane topic tree is deeper. */
#define MQ_PATTERN_MAX_LEVELS 128

/* An ACL pattern is an MQTT filter ('+' and '#' each alone in a level, '#'
 * last, at most MQ_PATTERN_MAX_LEVELS levels) in which '%' starts one of
 * the placeholders %u (username), %c (client id), %{cn} (certificate CN),
 * %{ou} (any one certificate OU) or %% (a literal '%'). Placeholders may sit
 * anywhere inside a level ("dev-%u"), %{ou} at most once per level.
 * Returns 0, or -1 with a one-line reason in err. */
int mq_pattern_valid(const char *pattern, char *err, size_t errlen);

/* A topic name a client may publish to or receive on: 1..MQ_TOPIC_MAX
 * bytes, no '+' or '#'. */
bool mq_topic_name_valid(const char *topic);

/* An MQTT subscription filter: 1..MQ_TOPIC_MAX bytes, '+' and '#' each
 * alone in a level, '#' only last. */
bool mq_filter_valid(const char *filter);

/* The filter inside a shared subscription "$share/GROUP/FILTER", the filter
 * itself when it is not shared, or NULL when the share is malformed (empty
 * or wildcard GROUP, missing or invalid FILTER) or filter is invalid. */
const char *mq_filter_unshare(const char *filter);

/* Specificity order of two valid patterns: <0 if a is less specific than
 * b, 0 if equally specific, >0 if more. Levels are compared left to right;
 * at the first level whose kind differs, a name (literal text, placeholders
 * included) beats '+', '+' beats '#', and a pattern that ends beats one that
 * goes on ("a" beats "a/#"). Placeholders count as names. */
int mq_pattern_cmp(const char *a, const char *b);

#endif
