/* Name rules shared by mqadmin and the plugin: device, group and file
 * names (README.md, the reference for every command, spells them out). */
#ifndef MQ_NAMES_H
#define MQ_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define MQ_NAME_MAX 64

/* 1..64 characters of A-Za-z0-9._- ; never "." or ".." (they are path
 * components) and never a wildcard, '/', space or control character. */
bool mq_name_valid(const char *s);

/* An identity taken from a certificate field is safe to use as an MQTT
 * username, client id or ACL substitution when it is non-empty valid UTF-8
 * without NUL, control characters, '+', '#' or '/'. len excludes the NUL. */
bool mq_identity_safe(const char *s, size_t len);

/* Length of the UTF-8 sequence starting at s (at most left bytes), or 0 when
 * it is malformed, overlong, a surrogate, beyond U+10FFFF or a C1 control. */
size_t mq_utf8_seq(const unsigned char *s, size_t left);

#endif
