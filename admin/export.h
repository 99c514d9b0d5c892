/* A device's certificate, key and CA in the formats devices consume: DER,
 * PKCS#12 (phones) and a C header (microcontrollers). The PEM files are
 * written by device issue/renew themselves and always exist. */
#ifndef ADMIN_EXPORT_H
#define ADMIN_EXPORT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

enum export_format {
	EXPORT_PEM = 1u << 0,
	EXPORT_DER = 1u << 1,
	EXPORT_P12 = 1u << 2,
	EXPORT_CHEADER = 1u << 3,
};

/* Formats that cannot exist without the private key (refused with --csr). */
#define EXPORT_NEEDS_KEY (EXPORT_P12 | EXPORT_CHEADER)

/* 16 base32 characters (80 random bits) and a NUL. */
#define EXPORT_PASS_GEN_LEN 17

/* Adds "pem", "der", "p12" or "c-header" to *mask; else prints why, -1. */
int export_format_parse(const char *s, unsigned *mask);

struct export_opts {
	unsigned formats;
	const char *p12_passfile; /* NULL: generate one */
	bool p12_modern;          /* AES-256/PBKDF2/SHA-256 MAC instead of 3DES/SHA-1 */
	char *p12_pass;           /* p12_passfile's passphrase once export_read_pass read it */
};

/* Reads p12_passfile into o->p12_pass, so that every p12 of a batch gets
 * the passphrase read once (a FIFO or a file changed meanwhile cannot give
 * two devices different ones). 0 (also with no file), or -1 after printing
 * why. */
int export_read_pass(struct export_opts *o);
/* Wipes and frees o->p12_pass. */
void export_opts_release(struct export_opts *o);

/* Files written by export_write: each staged under its final name plus a
 * suffix ("" when written in place). Paths are malloc'd. */
#define EXPORT_MAX_FILES 5
struct export_files {
	char *staged[EXPORT_MAX_FILES];
	char *final[EXPORT_MAX_FILES];
	size_t n;
	char pass[1024]; /* the p12 passphrase when generated, else "" */
};

/* Writes the formats of o other than PEM for device name into dir (the
 * device's directory): NAME.der, NAME.key.der (0600), ca.der; NAME.p12
 * (0600); NAME.h (0600). key is NULL with a CSR (only DER allowed then).
 * 0, or -1 after printing why (files written so far stay listed in f). */
int export_write(const struct export_opts *o, const char *dir, const char *name, X509 *cert,
		 X509 *ca, EVP_PKEY *key, const char *suffix, struct export_files *f);

/* Renames every staged file to its final name. 0 or -1 after printing why. */
int export_commit(struct export_files *f);
/* Unlinks every staged file (error paths). */
void export_unlink(struct export_files *f);
/* Frees the paths and wipes the passphrase. */
void export_release(struct export_files *f);

/* Removes derived files in dir that hold a device's key or certificate and
 * are not among the formats (renew: they would keep the replaced ones),
 * with a note on stderr for each. */
void export_remove_stale(const char *dir, const char *name, unsigned formats);

#endif
