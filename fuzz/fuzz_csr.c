/* The CSR reader of `device issue --csr` / `device renew --csr`: PEM or
 * DER, public key extraction, proof of possession, key strength.
 * fuzz-options: -close_fd_mask=3 */
#include "fuzzlib.h"

#include <openssl/err.h>

#include "device.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct device_key dk;

	if (!device_key_get(&dk, CA_KEY_EC, NULL, fz_file("device.csr", data, size)))
		device_key_release(&dk);
	ERR_clear_error();
	return 0;
}
