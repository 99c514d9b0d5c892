#!/bin/bash
# device renew writes its files with issue's pipeline (device_files_write,
# issue 18 item 4): a device registered with 'device import' has no
# devices/NAME/ directory yet, and renewing it creates one like issue does
# instead of failing on the missing directory.
. "$(dirname "$0")/../lib.sh"

test_expect_success 'setup: a PKI and a device certificate issued elsewhere by its CA' '
	"$MQADMIN" -d pki init >/dev/null 2>&1 &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ext.key \
		-out ext.csr -subj /CN=ext1 2>/dev/null &&
	printf "extendedKeyUsage=clientAuth\n" >ext.cnf &&
	openssl x509 -req -in ext.csr -CA pki/ca.crt -CAkey pki/ca.key -CAcreateserial \
		-days 30 -extfile ext.cnf -out ext.crt 2>/dev/null &&
	cp ext.crt ext2.crt &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ext2.key \
		-out ext2.csr -subj /CN=ext2 2>/dev/null &&
	openssl x509 -req -in ext2.csr -CA pki/ca.crt -CAkey pki/ca.key -CAcreateserial \
		-days 30 -extfile ext.cnf -out ext2.crt 2>/dev/null &&
	"$MQADMIN" -d pki device import ext.crt ext2.crt >/dev/null &&
	! test -e pki/devices/ext1
'

test_expect_success 'renew --csr of an imported device creates its directory and files' '
	"$MQADMIN" -d pki device renew ext1 --csr ext.csr >out &&
	printf "%s\n" pki/devices/ext1/ext1.crt pki/devices/ext1/ca.crt >expect &&
	test_cmp expect out &&
	openssl verify -CAfile pki/devices/ext1/ca.crt pki/devices/ext1/ext1.crt &&
	! test -e pki/devices/ext1/ext1.key &&
	! ls -a pki/devices/ext1 | grep -q "\.new\|tmp" &&
	"$MQADMIN" -d pki device show ext1 --json >j &&
	python3 -c "import json,sys; j=json.load(open(\"j\")); assert len(j[\"certs\"])==2, j"
'

test_expect_success 'renew with a new key of an imported device: key 0600, DER too' '
	"$MQADMIN" -d pki device renew ext2 --format der >out &&
	test_grep "^pki/devices/ext2/ext2.crt$" out &&
	test_grep "^pki/devices/ext2/ext2.key$" out &&
	test_grep "^pki/devices/ext2/ca.crt$" out &&
	test_grep "^pki/devices/ext2/ext2.der$" out &&
	test "$(stat -c %a pki/devices/ext2/ext2.key)" = 600 &&
	openssl verify -CAfile pki/ca.crt pki/devices/ext2/ext2.crt
'

test_expect_success 'a second renew keeps ca.crt and lists only the replaced files' '
	"$MQADMIN" -d pki device renew ext1 --csr ext.csr >out &&
	echo pki/devices/ext1/ext1.crt >expect &&
	test_cmp expect out &&
	test -s pki/devices/ext1/ca.crt
'

test_expect_success 'renew and issue share one file pipeline (no copy in the command file)' '
	f=$(grep -l "^int cmd_device_renew(" "$MQ_ROOT"/admin/cmd_*.c) &&
	! grep -n "issue_write\|export_write\|export_commit\|rename(" "$f" &&
	test_grep "device_files_write" "$f"
'

test_done
