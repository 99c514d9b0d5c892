#!/bin/bash
# The rest of issue 15's O(change) commands: cert revoke, device renew,
# delete and batch, acl add, remove, import and list read only the records they
# change (and the CRL's entries, the rules when rules change). Shown as in
# t0251, by a store with one unreadable record that none of them touches.
# And what a killed O(change) command leaves (a device issue or renew
# killed before its store write) is cleaned by the next writer, whatever
# device that one touches (DIR/.inflight), without a fleet scan.
. "$(dirname "$0")/../lib.sh"

test_expect_success 'setup: a PKI, devices, rules, then a record the reader refuses' '
	"$MQADMIN" -d pki init >/dev/null &&
	for d in a1 a2 a3 gone; do "$MQADMIN" -d pki device issue $d --group g >/dev/null || exit 1; done &&
	"$MQADMIN" -d pki acl add --device gone --topic "gone/#" --access read >/dev/null &&
	"$MQADMIN" -d pki device revoke a3 >/dev/null &&
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

test_expect_success 'cert revoke by serial, by a fingerprint prefix; the CRL keeps the others' '
	s1=$(openssl x509 -in pki/devices/a1/a1.crt -noout -serial | cut -d= -f2) &&
	"$MQADMIN" -d pki cert revoke "$s1" >out 2>err &&
	test_grep "revoked certificate .* of device .a1." out &&
	fp=$(openssl x509 -in pki/devices/a2/a2.crt -noout -fingerprint -sha256 | cut -d= -f2 | tr -d :) &&
	"$MQADMIN" -d pki cert revoke "${fp:0:9}" >out 2>err &&
	test_grep "of device .a2." out &&
	s3=$(openssl x509 -in pki/devices/a3/a3.crt -noout -serial | cut -d= -f2) &&
	openssl crl -in pki/crl.pem -noout -text >crl &&
	for s in "$s1" "$s3"; do grep -qi "Serial Number: $s" crl || exit 1; done &&
	test_must_fail "$MQADMIN" -d pki cert revoke 0123456789abcdef 2>err &&
	test_grep "no certificate has a serial or fingerprint starting with" err
'

test_expect_success 'device renew, batch, delete (its rule goes with it)' '
	"$MQADMIN" -d pki device issue r1 >/dev/null &&
	"$MQADMIN" -d pki device renew r1 >/dev/null &&
	"$MQADMIN" -d pki device batch --count 3 --prefix bt >/dev/null 2>&1 &&
	"$MQADMIN" -d pki device show bt0002 >out && test_grep "^name: *bt0002$" out &&
	test_must_fail "$MQADMIN" -d pki device batch --count 2 --prefix bt 2>err &&
	test_grep "device .bt0001. already exists" err &&
	"$MQADMIN" -d pki device delete gone >out &&
	test_grep "deleted device .gone.: 1 certificate revoked, 1 ACL rule removed" out &&
	"$MQADMIN" -d pki acl list >out && test_grep ! "gone/#" out
'

test_expect_success 'acl add, remove, import' '
	"$MQADMIN" -d pki acl add --device r1 --topic "r/#" --access read >out &&
	id=$(sed -n "s/^added rule \([0-9]*\):.*/\1/p" out) && test -n "$id" &&
	"$MQADMIN" -d pki acl add --group nobody --topic "n/#" --access read >/dev/null 2>err &&
	test_grep "no device is in group .nobody." err &&
	"$MQADMIN" -d pki acl add --group g --topic "g/#" --access read >/dev/null 2>err &&
	test_grep ! "no device is in group" err &&
	"$MQADMIN" -d pki acl remove "$id" >out && test_grep "^removed " out &&
	printf "user r1\ntopic read y/#\nuser nosuch\ntopic read q/#\npattern read z/%%u\n" >aclfile &&
	"$MQADMIN" -d pki acl import aclfile >out 2>err &&
	test_grep "added rule .*device:r1 allow read y/#" out &&
	test_grep "user .nosuch. is no device" err &&
	"$MQADMIN" -d pki acl list >out && test_grep "z/%u" out
'

test_expect_success 'a device issue killed before its store write: the next device revoke cleans it' '
	{ (ulimit -f 1; exec "$MQADMIN" -d pki device issue killed) >/dev/null 2>&1; test $? -gt 128; } &&
	test -e pki/devices/killed/killed.key &&
	test_must_fail "$MQADMIN" -d pki device show killed 2>/dev/null &&
	"$MQADMIN" -d pki device revoke bt0001 >/dev/null 2>err &&
	test_grep "^mqadmin: note: cleaned up after an interrupted mqadmin run: 1 device director(ies) never recorded in the policy (with their keys)$" err &&
	! test -e pki/devices/killed &&
	! test -e pki/.inflight &&
	"$MQADMIN" -d pki device revoke bt0002 >/dev/null 2>err &&
	test_grep ! "cleaned up" err
'

test_expect_success 'a renew killed before its store write: its staged files go, the old ones stay' '
	cp pki/devices/r1/r1.crt r1.crt &&
	{ (ulimit -f 1; exec "$MQADMIN" -d pki device renew r1) >/dev/null 2>&1; test $? -gt 128; } &&
	ls pki/devices/r1 | grep -q "\.new" &&
	"$MQADMIN" -d pki acl add --all --topic "k/#" --access read >/dev/null 2>err &&
	test_grep "^mqadmin: note: cleaned up after an interrupted mqadmin run: .*staged renew file(s) never recorded$" err &&
	! ls pki/devices/r1 | grep "\.new" &&
	cmp r1.crt pki/devices/r1/r1.crt
'

test_done
