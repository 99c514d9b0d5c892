/* Certificate identity read from an X509 certificate (OpenSSL): its
 * fingerprint, serial, validity, identity field, CN and OUs. The text
 * side (field names, fingerprint and serial syntax) is mq_ident.h. */
#ifndef MQ_X509_H
#define MQ_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "mq_ident.h"

/* SHA-256 of the DER encoding, lowercase hex. Returns 0 or -1. */
int mq_x509_fingerprint(const X509 *cert, char out[MQ_FPR_LEN]);
/* The same from the DER bytes of a certificate, for a caller that has
 * encoded it anyway. 0 or -1. */
int mq_x509_der_fingerprint(const unsigned char *der, size_t len, char out[MQ_FPR_LEN]);

/* Serial number as lowercase hex without separators or sign. 0 or -1. */
int mq_x509_serial(const X509 *cert, char out[MQ_SERIAL_LEN]);
/* The same for a serial number alone (a CRL entry's). 0 or -1. */
int mq_x509_serial_hex(const ASN1_INTEGER *sn, char out[MQ_SERIAL_LEN]);

/* notBefore/notAfter as time_t. 0 or -1. */
int mq_x509_validity(const X509 *cert, time_t *not_before, time_t *not_after);

/* The identity of cert by field f, as a malloc'd NUL-terminated string in
 * *out (caller frees). For SANs the first entry of that type is used. The
 * DN is RFC 2253 ("CN=dev1,OU=sensors"); it may hold '/', '+' and '#'
 * since it is never used unescaped as a topic level, but controls (C1
 * included) and bad UTF-8 make it MQ_IDR_UNSAFE like any other field. */
enum mq_id_result mq_x509_identity(const X509 *cert, enum mq_idfield f, char **out);

/* Subject CN as UTF-8 (malloc'd) or NULL; used by mqadmin inspect/doctor. */
char *mq_x509_cn(const X509 *cert);

/* The subject's OU values that are safe identities (see mq_identity_safe),
 * in certificate order, at most max of them: a malloc'd array of malloc'd
 * strings in *out (NULL when there are none), count in *n. Unsafe values
 * are skipped: they could never match a topic level anyway. Free with
 * mq_x509_ous_free. 0, or -1 when out of memory. */
int mq_x509_ous(const X509 *cert, size_t max, char ***out, size_t *n);
void mq_x509_ous_free(char **ous, size_t n);

#endif
