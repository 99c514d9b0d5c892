/* What server and device issuing share: validity checks, SAN syntax and
 * writing the resulting files. */
#ifndef ADMIN_ISSUE_H
#define ADMIN_ISSUE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "ca.h"

/* Seconds a certificate's notBefore lies in the past, so devices whose
 * clock runs a little behind accept it at once. */
#define ISSUE_SKEW 300

/* Refuses a notAfter beyond the CA's own, naming the CA's expiry. */
int issue_check_expiry(const struct ca *ca, time_t not_after);

/* A DNS name for a SAN: labels of A-Za-z0-9- (1-63 characters, no '-' at
 * either end), 253 characters at most, optionally starting with "*.". */
bool issue_dns_valid(const char *s);

/* Validates "DNS:host" or "IP:addr" (IPv4 or IPv6) and appends it, comma
 * separated, to the malloc'd list *sans. 0, or -1 after printing why. */
int issue_add_san(char **sans, const char *spec);

/* SANs one device certificate may carry. */
#define ISSUE_MAX_SANS 16

/* A device SAN: "DNS:", "email:" or "URI:" (the type in any case) checked
 * with mq_san_check and appended in that spelling to the comma separated
 * malloc'd list *sans. IP SANs (servers only) and repeats are refused.
 * what names the value's origin in messages ("--san"). 0, or -1 after
 * printing why. */
int issue_add_device_san(char **sans, const char *arg, const char *what);

/* Writes data to path atomically with mode, printing why on failure. */
int issue_write(const char *path, const void *data, size_t len, mode_t mode);

/* Writes the PEM of key (0600) to path; cert, when not NULL, is the
 * certificate just issued for key (see ca_key_pem). 0 or -1 after printing
 * why. */
int issue_write_key(const char *path, EVP_PKEY *key, const X509 *cert);

/* Writes the PEM of cert (0644) to path. 0 or -1 after printing why. */
int issue_write_cert(const char *path, X509 *cert);

#endif
