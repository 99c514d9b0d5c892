/* What `mqadmin inspect FILE` reads: certificates, CSRs, CRLs and PKCS#12
 * files in PEM or DER, described against the fixture PKI (fuzz/pki) in
 * either output form; and xinfo's certificate and CRL loaders, which doctor
 * shares. The PKCS#12 seeds use the passphrase "fuzz".
 * fuzz-options: -close_fd_mask=3 */
#include "fuzzlib.h"

#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "cmds.h"
#include "xinfo.h"

static const char *fzi_passfile;

static void fzi_certs(const char *path)
{
	char err[512], desc[64];
	STACK_OF(X509) *sk = xinfo_load_certs(path, err, sizeof(err));
	X509_CRL *crl = xinfo_load_crl(path, err, sizeof(err));

	for (int i = 0; i < sk_X509_num(sk); i++) {
		X509 *x = sk_X509_value(sk, i);
		char *name = xinfo_name(X509_get_subject_name(x));
		char *sans = xinfo_sans(x, NULL, NULL);
		EVP_PKEY *key = X509_get0_pubkey(x);

		if (key) {
			xinfo_key_desc(key, desc, sizeof(desc));
			xinfo_key_weakness(key);
		}
		xinfo_sig_weak(x);
		free(name);
		free(sans);
	}
	sk_X509_pop_free(sk, X509_free);
	X509_CRL_free(crl);
	ERR_clear_error();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fz_file("input", data, size);
	struct cli_ctx ctx = { .dir = fz_pki_dir(), .usage = "" };
	char *text[] = { "mqadmin inspect", "--passphrase-file", (char *)fzi_passfile,
			 (char *)path, NULL };
	char *json[] = { "mqadmin inspect", "--json", "--passphrase-file", (char *)fzi_passfile,
			 (char *)path, NULL };

	/* One output form a run (each walks the same objects): the text one
	 * for odd sizes. */
	if (size & 1)
		cmd_inspect(&ctx, 4, text);
	else
		cmd_inspect(&ctx, 5, json);
	fzi_certs(path);
	ERR_clear_error();
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fzi_passfile = fz_file("p12pass", "fuzz\n", 5);
	return 0;
}
