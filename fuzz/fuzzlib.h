/* What the libFuzzer targets in fuzz/ share: reading structured values out
 * of the fuzzer's bytes, and handing the bytes to code that only reads
 * files. Targets: fuzz_policy (policy reader, ACL index vs the naive scan,
 * serialize round trip), fuzz_acl (ACL engine vs an oracle built on
 * libmosquitto), fuzz_csr, fuzz_inspect, fuzz_audit (mqadmin's readers of
 * outside files). A new reader of outside input (the mosquitto acl_file
 * importer when it lands) gets fuzz/fuzz_NAME.c and fuzz/corpus/NAME/:
 * the Makefile and fuzz/run pick both up by name. */
#ifndef FUZZLIB_H
#define FUZZLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The bytes not consumed yet; reading past the end yields zeros. */
struct fz_in {
	const uint8_t *p;
	size_t n;
};

uint8_t fz_byte(struct fz_in *in);
/* A number in 0..n-1 (n > 0). */
unsigned fz_pick(struct fz_in *in, unsigned n);
bool fz_bool(struct fz_in *in);

/* Writes data to a file in a private temporary directory (made on first
 * use, removed at exit) and returns its path; name tells files apart.
 * Aborts when the file cannot be written: the target would test nothing. */
const char *fz_file(const char *name, const void *data, size_t len);

/* The fixture PKI directory (fuzz/pki: a CA certificate, a server
 * certificate, a CRL and a policy, no keys), or $MQCERT_FUZZ_PKI. */
const char *fz_pki_dir(void);

/* Prints "fuzz: " and the message to stderr, then aborts: an oracle
 * disagreement is a crash for libFuzzer. */
void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
