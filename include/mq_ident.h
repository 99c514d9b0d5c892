/* Certificate identity as text, without OpenSSL: which field names a
 * client, and the fingerprint and serial text that policy, audit and logs
 * use for a certificate. The X509 side is mq_x509.h. */
#ifndef MQ_IDENT_H
#define MQ_IDENT_H

#include <stdbool.h>
#include <stddef.h>

#define MQ_FPR_LEN 65    /* SHA-256 as 64 lowercase hex digits + NUL */
#define MQ_SERIAL_LEN 43 /* up to 21 bytes (RFC 5280 allows 20) as hex + NUL */

enum mq_idfield {
	MQ_ID_CN,
	MQ_ID_DN,
	MQ_ID_SAN_DNS,
	MQ_ID_SAN_EMAIL,
	MQ_ID_SAN_URI,
	MQ_ID_FINGERPRINT,
};

enum mq_id_result {
	MQ_IDR_OK = 0,
	MQ_IDR_MISSING, /* the certificate has no such field */
	MQ_IDR_UNSAFE,  /* present, but holds '+', '#', '/', controls or bad UTF-8 */
	MQ_IDR_ERROR,   /* out of memory or an OpenSSL failure */
};

/* "cn", "dn", "san-dns", "san-email", "san-uri", "fingerprint". */
int mq_idfield_parse(const char *s, enum mq_idfield *out);
const char *mq_idfield_name(enum mq_idfield f);

/* n bytes as 2n lowercase hex digits + NUL into out. */
void mq_hex(const unsigned char *in, size_t n, char *out);

/* Human text for a result, for log lines. */
const char *mq_id_result_str(enum mq_id_result r);

/* A host name: labels of A-Za-z0-9- (1-63 characters, no '-' at either
 * end), 253 characters at most, no wildcard. */
bool mq_dns_name_valid(const char *s);

/* One device subjectAltName as mqadmin and policy.json spell it:
 * "DNS:host", "email:local@host" or "URI:scheme:rest". Besides its syntax
 * the value must pass mq_identity_safe (so plugin_opt_identity san-* never
 * refuses it), be printable ASCII (SANs are IA5Strings) without ','
 * (the separator of mq_cert.san) and hold at most MQ_SAN_MAX characters.
 * NULL when valid (its field in *type when type is not NULL), else why
 * not, as text that follows "invalid SAN 'x': ". */
#define MQ_SAN_MAX 255
const char *mq_san_check(const char *spec, enum mq_idfield *type);

/* Whether the comma separated list sans (see mq_cert.san) holds an entry
 * for identity field f (san-dns, san-email, san-uri). */
bool mq_san_list_has(const char *sans, enum mq_idfield f);

/* Whether the hex fingerprint text is well-formed (64 lowercase hex). */
int mq_fingerprint_valid(const char *s);

#endif
