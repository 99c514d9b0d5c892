/* What `mqadmin audit` and `mqadmin audit log` read from files the broker
 * writes: the connected-state JSON (--state) checked against the fixture
 * policy (fuzz/pki), and the JSON-lines audit log (--file), each in both
 * output forms and with the log's filters.
 * fuzz-options: -close_fd_mask=3 */
#include "fuzzlib.h"

#include "cmds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fz_file("input", data, size);
	struct cli_ctx ctx = { .dir = fz_pki_dir(), .usage = "" };
	char *state[] = { "mqadmin audit", "--state", (char *)path, NULL };
	char *state_json[] = { "mqadmin audit", "--json", "--state", (char *)path, NULL };
	char *log[] = { "mqadmin audit log", "--file", (char *)path, NULL };
	char *log_json[] = { "mqadmin audit log", "--json", "--denied", "--device", "dev1",
			     "--since", "2026-01-01T10:00:02Z", "--file", (char *)path, NULL };

	cmd_audit(&ctx, 3, state);
	cmd_audit(&ctx, 4, state_json);
	cmd_audit_log(&ctx, 3, log);
	cmd_audit_log(&ctx, 9, log_json);
	return 0;
}
