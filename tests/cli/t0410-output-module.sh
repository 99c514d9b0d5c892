#!/bin/bash
# mqadmin's output helpers exist once, in admin/out.c (issue 18 item 4):
# JSON printing, timestamps in JSON, "days left", "in 364d", warnings and
# aligned tables. The commands call them instead of keeping their own
# copies, and what they print stays the same.
. "$(dirname "$0")/../lib.sh"

A="$MQ_ROOT/admin"

test_expect_success 'cJSON_Print (pretty JSON to stdout) is called from out.c only among the commands' '
	grep -l "cJSON_Print(" "$A"/cmd_*.c "$A"/doctor*.c "$A"/xinfo.c >printers || true &&
	test ! -s printers &&
	test_grep "cJSON_Print(" "$A/out.c"
'

test_expect_success 'the days-left rounding and the expiry wording are written once' '
	grep -l "86399" "$A"/*.c >days &&
	echo "$A/out.c" >expect &&
	test_cmp expect days &&
	grep -l "expired %lld%s ago" "$A"/*.c >wording &&
	test_cmp expect wording
'

test_expect_success 'no command writes "mqadmin: warning:" by hand' '
	grep -l "mqadmin: warning:" "$A"/cmd_*.c "$A"/doctor*.c "$A"/crl.c >warners || true &&
	test ! -s warners &&
	! grep -n "cli_err(\"warning:" "$A"/cmd_*.c
'

test_expect_success 'no command prints "mqadmin: ..." to stderr by hand (cli_err does)' '
	grep -l "fprintf(stderr, \"mqadmin: " "$A"/cmd_*.c "$A"/doctor*.c "$A"/crl.c "$A"/serve.c \
		>by_hand || true &&
	test ! -s by_hand
'

test_expect_success 'certificate records in JSON are named one way (out_json_cert)' '
	! grep -n "AddStringToObject(o, \"fingerprint\", c->fingerprint)" "$A"/cmd_*.c "$A"/serve.c
'

test_expect_success 'tables are aligned by out_cols in every listing command' '
	for c in cmd_acl_list cmd_audit cmd_cert_list cmd_device_list; do
		f=$(grep -l "^int $c(" "$A"/cmd_*.c) &&
		grep -q "out_cols_\|out_tbl_" "$f" || { echo "$c"; exit 1; }
		! grep -n "printf(\"%-\*s  %-\*s" "$f" || exit 1
	done
'

test_expect_success 'setup: a PKI with devices, certificates and rules' '
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki device issue dev1 --group g1 >/dev/null &&
	"$MQADMIN" -d pki device issue device-with-a-long-name >/dev/null &&
	"$MQADMIN" -d pki acl add --group g1 --topic "a/#" --access readwrite >/dev/null &&
	"$MQADMIN" -d pki acl add --device dev1 --deny --topic "b/+" --access read >/dev/null
'

test_expect_success 'acl list keeps its aligned columns' '
	"$MQADMIN" -d pki acl list >out &&
	cat >expect <<-\EOT &&
	ID  SUBJECT      EFFECT  ACCESS     TOPIC
	1   group:g1     allow   readwrite  a/#
	2   device:dev1  deny    read       b/+
	EOT
	test_cmp expect out
'

test_expect_success 'device list and cert list align on the longest name' '
	"$MQADMIN" -d pki device list >out &&
	head -1 out >head &&
	echo "NAME                     USERNAME                 GROUPS  STATUS  EXPIRES  SERIAL" >expect &&
	test_cmp expect head &&
	test_grep "^dev1                     dev1                     g1      active  in 36[45]d  [0-9a-f]*$" out &&
	"$MQADMIN" -d pki cert list >out &&
	test_grep "^DEVICE                   STATE      SERIAL                            FINGERPRINT       NOT_BEFORE            NOT_AFTER$" out &&
	test_grep "^dev1                     active     [0-9a-f ]\{32\}  [0-9a-f]\{16\}  [-0-9T:Z]\{20\}  [-0-9T:Z]\{20\}$" out
'

test_expect_success 'JSON output ends in one newline and carries days_left' '
	"$MQADMIN" -d pki device show dev1 --json >out &&
	test "$(tail -c 1 out | od -An -c | tr -d " ")" = "\n" &&
	test_grep "\"days_left\":	36[45]" out
'

test_done
