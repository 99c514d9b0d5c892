#!/bin/bash
# The options the issuing commands share are parsed in one place,
# issue_getopt (admin/issue.c): --days, --key-type and --passphrase-file in
# init, server issue, device issue, device renew and device batch, --format,
# --p12-passphrase-file and --p12-modern in the device ones. Checked on the
# objects the build made (no command file calls the value parsers itself)
# and on what each command says about a bad value: the same message, exit 1.
. "$(dirname "$0")/../lib.sh"

OBJ=$MQ_BUILD/obj
CMDS="cmd_init cmd_server_issue cmd_device_issue cmd_device_batch"

test_expect_success 'setup: nm, the objects, a PKI with one device' '
	command -v nm >/dev/null && test -f "$OBJ/admin/issue.o" &&
	nm --defined-only "$OBJ/admin/issue.o" | grep -qw issue_getopt &&
	"$MQADMIN" -d pki init --no-default >/dev/null 2>&1 &&
	"$MQADMIN" -d pki device issue d1 >/dev/null 2>&1
'

test_expect_success 'the issuing commands read their shared options with issue_getopt only' '
	for m in $CMDS; do
		nm --undefined-only "$OBJ/admin/$m.o" >nm.out &&
		grep -qw issue_getopt nm.out || { echo "$m: no issue_getopt"; exit 1; }
		awk -v f="$m" "\$2 ~ /^(cli_parse_days|ca_keytype_parse|export_format_parse)\$/ {print f, \$2}" \
			nm.out
	done >parsed &&
	if test -s parsed; then cat parsed; false; fi
'

test_expect_success '--days and --key-type: one message from each command' '
	for cmd in "init" "server issue s9" "device issue d9" "device renew d1" \
		   "device batch --count 1 --prefix b"; do
		test_expect_code 1 "$MQADMIN" -d pki $cmd --days 0 2>err &&
		test_grep "invalid --days .0.: use a whole number of days from 1 to 36500" err &&
		test_expect_code 1 "$MQADMIN" -d pki $cmd --key-type dsa 2>err &&
		test_grep "invalid --key-type .dsa.: use ec (P-256), rsa (3072 bits) or ed25519" err ||
			{ echo "failed: $cmd"; exit 1; }
	done &&
	! test -e pki/servers/s9 && ! test -e pki/devices/d9 && ! test -e pki/devices/b0001
'

test_expect_success 'the formats: one message from each device command' '
	for cmd in "device issue d9" "device renew d1" "device batch --count 1 --prefix b"; do
		test_expect_code 1 "$MQADMIN" -d pki $cmd --format pfx 2>fmt.err &&
		test_expect_code 2 "$MQADMIN" -d pki $cmd --p12-modern 2>err &&
		test_grep "^mqadmin: --p12-passphrase-file and --p12-modern need --format p12" err &&
		test_grep "^usage: mqadmin" err || { echo "failed: $cmd"; exit 1; }
		cat fmt.err >>fmt.all
	done &&
	sort -u fmt.all >fmt.uniq && test "$(grep -c . fmt.uniq)" = 1 &&
	test_grep "pfx" fmt.uniq
'

test_expect_success 'init still refuses --days with an adopted CA' '
	test_expect_code 2 "$MQADMIN" -d other init --no-default --ca-cert pki/ca.crt \
		--ca-key pki/ca.key --days 10 2>err &&
	test_grep "an adopted CA keeps its own" err && ! test -e other
'

test_done
