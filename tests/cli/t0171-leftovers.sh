#!/bin/bash
# What kill -9 leaves behind: temporary files (some holding keys), device
# directories whose keys were never recorded (a killed batch), renew's
# staged ".new" files. doctor reports them; the next whole-model write
# under the lock (crl update; O(change) commands clean only what
# DIR/.inflight names: t0310) removes exactly those (and moves staged files the policy records into
# place), nothing else.
. "$(dirname "$0")/../lib.sh"

ndirs() { ls pki/devices | wc -l; }
enough_dirs() { test "$(ndirs)" -ge 12; }

test_expect_success 'setup: a PKI with two devices' '
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki device issue keep >/dev/null &&
	"$MQADMIN" -d pki device issue d1 >/dev/null &&
	"$MQADMIN" -d pki device issue solo >/dev/null &&
	cp -p pki/devices/solo/solo.key solo.key &&
	cp pki/devices/d1/d1.crt d1.old.crt && cp pki/devices/d1/d1.key d1.old.key &&
	"$MQADMIN" -d pki device renew d1 >/dev/null &&
	cp pki/devices/d1/d1.crt d1.new.crt && cp -p pki/devices/d1/d1.key d1.new.key
'

test_expect_success 'kill -9 of a device batch mid-way leaves unrecorded keys' '
	policy_cat >before &&
	{ "$MQADMIN" -d pki device batch --count 50000 --prefix k >/dev/null 2>&1 & pid=$!; } &&
	test_at_end "kill -9 $pid 2>/dev/null" &&
	wait_for 60 enough_dirs &&
	kill -9 $pid && { wait $pid || true; } &&
	policy_cat >before.now && cmp before before.now &&
	test "$(ndirs)" -ge 12 &&
	test "$(stat -c %a pki/devices/k0001/k0001.key)" = 600 &&
	mkdir pki/devices/k99999 &&
	ls -d pki/devices/k[0-9]* >killed.dirs
'

test_expect_success 'more leftovers: temp files, staged renew files (recorded and not)' '
	printf "secret" >pki/ca.key.tmp-0123456789abcdef && chmod 600 pki/ca.key.tmp-0123456789abcdef &&
	printf "{" >pki/policy.json.tmp-fedcba9876543210 &&
	printf "key" >pki/devices/keep/keep.key.tmp-00112233445566aa &&
	printf "x" >pki/devices/keep/keep.crt.new && printf "y" >pki/devices/keep/keep.key.new &&
	cp pki/devices/keep/keep.crt keep.crt &&
	# d1: as if renew was killed after its policy write, before its renames.
	mv pki/devices/d1/d1.crt pki/devices/d1/d1.crt.new &&
	mv pki/devices/d1/d1.key pki/devices/d1/d1.key.new &&
	cp d1.old.crt pki/devices/d1/d1.crt && cp -p d1.old.key pki/devices/d1/d1.key &&
	# solo: renew killed while staging, after its key, before its certificate.
	cp -p d1.new.key pki/devices/solo/solo.key.new &&
	# Not ours: a directory with a file mqadmin never writes stays.
	mkdir pki/devices/manual && echo notes >pki/devices/manual/notes.txt &&
	echo mine >pki/notes.tmp-draft
'

test_expect_success 'doctor reports them with the fix' '
	{ "$MQADMIN" -d pki doctor >out 2>&1 || true; } &&
	n=$(wc -l <killed.dirs) &&
	test_grep "^warning \[leftover-files\]: pki holds what an interrupted mqadmin run left behind: 3 temporary file(s), $n device director(ies) never recorded in the policy (with their keys), 3 staged renew file(s) never recorded, 2 staged renew file(s) the policy records (to be moved into place)$" out &&
	test_grep "fix: the next mqadmin command that loads the whole policy of pki removes them" out
'

test_expect_success 'the next whole-model write cleans exactly the leftovers' '
	"$MQADMIN" -d pki crl update >/dev/null 2>err &&
	n=$(wc -l <killed.dirs) &&
	test_grep "^mqadmin: note: cleaned up after an interrupted mqadmin run: 3 temporary file(s), $n device director(ies) never recorded in the policy (with their keys), 3 staged renew file(s) never recorded, 2 staged renew file(s) the policy records (moved into place)$" err &&
	while read -r d; do ! test -e "$d" || exit 1; done <killed.dirs &&
	! ls pki | grep "\.tmp-[0-9a-f]\{16\}$" &&
	! ls pki/devices/keep | grep -e "\.new" -e "\.tmp-" &&
	cmp keep.crt pki/devices/keep/keep.crt &&
	! test -e pki/devices/solo/solo.key.new && cmp solo.key pki/devices/solo/solo.key &&
	! test -e pki/devices/d1/d1.crt.new && ! test -e pki/devices/d1/d1.key.new &&
	cmp d1.new.crt pki/devices/d1/d1.crt &&
	cmp d1.new.key pki/devices/d1/d1.key &&
	test "$(stat -c %a pki/devices/d1/d1.key)" = 600 &&
	test_grep "manual" <(ls pki/devices) && test -e pki/devices/manual/notes.txt &&
	test -e pki/notes.tmp-draft &&
	{ "$MQADMIN" -d pki doctor >out 2>&1 || true; } &&
	test_grep ! "leftover-files" out &&
	test_grep ! "device-cert" out
'

test_expect_success 'a second write finds nothing to clean' '
	"$MQADMIN" -d pki acl add --all --topic "u/%u" --access read >/dev/null 2>err &&
	test_grep ! "cleaned up" err
'

test_done
