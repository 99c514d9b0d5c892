#!/bin/bash
# The O(change) commands (issue 15): device issue, revoke, suspend/resume,
# set, show, acl check, expiring and list --json read only the records
# they need. Shown by a store with one unreadable record: commands on other
# devices still work; those that read every record name it.
. "$(dirname "$0")/../lib.sh"

test_expect_success 'setup: a PKI, devices, a rule, then a record the reader refuses' '
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki device issue a1 --group g >/dev/null &&
	"$MQADMIN" -d pki device issue short --days 3 >/dev/null &&
	"$MQADMIN" -d pki acl add --group g --topic "t/#" --access read >/dev/null &&
	cat >bad.txt <<-\EOF &&
	VERSION=3
	format=print
	type=btree
	HEADER=END
	 zzz
	 {"name":"zzz","username":"zzz","certs":[{"serial":"zz"}]}
	DATA=END
	EOF
	mdb_load -s devices -f bad.txt pki/store &&
	test_must_fail "$MQADMIN" -d pki device list 2>err &&
	test_grep "device .zzz." err
'

test_expect_success 'device issue, show, set, suspend, resume, revoke: point lookups only' '
	"$MQADMIN" -d pki device issue b1 >/dev/null &&
	"$MQADMIN" -d pki device show b1 >out && test_grep "^name: *b1$" out &&
	"$MQADMIN" -d pki device set b1 --group g >/dev/null &&
	"$MQADMIN" -d pki device suspend b1 >/dev/null &&
	"$MQADMIN" -d pki device resume b1 >/dev/null &&
	"$MQADMIN" -d pki device revoke b1 >out &&
	test_grep "revoked 1 certificate of device .b1.; pki/crl.pem updated" out &&
	serial=$(openssl x509 -in pki/devices/b1/b1.crt -noout -serial | cut -d= -f2) &&
	openssl crl -in pki/crl.pem -noout -text | grep -qi "Serial Number: $serial"
'

test_expect_success 'a taken username is refused with its device, from the index' '
	test_must_fail "$MQADMIN" -d pki device issue c1 --username a1 2>err &&
	test_grep "username .a1. is already used by device .a1." err &&
	! test -e pki/devices/c1 &&
	test_must_fail "$MQADMIN" -d pki device issue a1 2>err &&
	test_grep "device .a1. already exists" err
'

test_expect_success 'acl check reads the device and the rules' '
	"$MQADMIN" -d pki acl check a1 t/x read >out &&
	test_grep "^allow (rule 1" out
'

test_expect_success 'expiring --within reads the expiry index' '
	test_must_fail "$MQADMIN" -d pki expiring --within 10d >out &&
	test_grep "^device  *short " out &&
	test_grep ! " a1 " out
'

test_expect_success 'list --json streams until the bad record, then names it (exit 1)' '
	test_must_fail "$MQADMIN" -d pki device list --json >out 2>err &&
	test_grep "cannot list the devices: .*record .zzz." err &&
	test_grep "\"name\":\"a1\"" out
'

test_expect_success 'list --json of a good store: one JSON array, one device a line' '
	"$MQADMIN" -d good init >/dev/null &&
	"$MQADMIN" -d good device list --json >out &&
	echo "[]" >expect && test_cmp expect out &&
	"$MQADMIN" -d good device issue x1 >/dev/null &&
	"$MQADMIN" -d good device issue x2 >/dev/null &&
	"$MQADMIN" -d good device list --json >out &&
	/usr/bin/python3 -c "import json; j=json.load(open(\"out\")); assert [d[\"name\"] for d in j]==[\"x1\",\"x2\"] and j[0][\"status\"]==\"active\"" &&
	test "$(wc -l <out)" = 4
'

test_done
