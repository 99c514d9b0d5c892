#!/bin/bash
# No lost or half-written state: concurrent runs and failed writes.
. "$(dirname "$0")/../lib.sh"

count_devices() {
	"$MQADMIN" -d pki device list --json >list.json &&
	/usr/bin/python3 -c "import json; print(len(json.load(open(\"list.json\"))))"
}

test_expect_success 'setup' '
	"$MQADMIN" -d pki init >/dev/null
'

test_expect_success 'eight device issue runs started at once all succeed and all land in the policy' '
	pids=
	for i in 1 2 3 4 5 6 7 8; do
		"$MQADMIN" -d pki device issue "par$i" --group g >"out$i" 2>"err$i" &
		pids="$pids $!"
	done
	for p in $pids; do
		wait "$p" || { echo "a run failed:"; cat err*; exit 1; }
	done
	test "$(count_devices)" = 8 &&
	for i in 1 2 3 4 5 6 7 8; do
		test_grep "\"name\":[[:space:]]*\"par$i\"" list.json &&
		openssl verify -CAfile pki/ca.crt "pki/devices/par$i/par$i.crt" >/dev/null || exit 1
	done &&
	policy_cat >policy.now && /usr/bin/python3 -c "import json; print(json.load(open(\"policy.now\"))[\"generation\"])" >gen &&
	test "$(cat gen)" -eq 9
'

test_expect_success 'concurrent issue, renew and revoke keep every change' '
	pids=
	for i in 1 2 3 4; do
		"$MQADMIN" -d pki device issue "mix$i" >/dev/null 2>&1 &
		pids="$pids $!"
		"$MQADMIN" -d pki device renew "par$i" >/dev/null 2>&1 &
		pids="$pids $!"
	done
	"$MQADMIN" -d pki device revoke par8 >/dev/null 2>&1 &
	pids="$pids $!"
	for p in $pids; do wait "$p" || exit 1; done
	test "$(count_devices)" = 12 &&
	/usr/bin/python3 -c "
import json
d = {x[\"name\"]: x for x in json.load(open(\"list.json\"))}
for i in range(1, 5):
    assert len(d[\"par%d\" % i][\"certs\"]) == 2, d[\"par%d\" % i]
assert d[\"par8\"][\"status\"] == \"revoked\"
"
'

# A write that fails half way (the disk fills up: here a file size limit,
# which makes write() fail with EFBIG) must leave the last good policy.
test_expect_success 'a failed policy write leaves the previous policy and no stray files' '
	policy_cat >before.json &&
	size=$(wc -c <before.json) &&
	limit=$(( size / 1024 )) &&
	(trap "" XFSZ; ulimit -f "$limit"; "$MQADMIN" -d pki device issue crash1 >out 2>err; echo $? >rc) &&
	test "$(cat rc)" = 1 &&
	test_grep "cannot write the policy store pki/store: .*File too large; it is unchanged" err &&
	policy_cat >before.json.now && cmp before.json before.json.now &&
	! test -e pki/devices/crash1 &&
	! ls -a pki | grep -q "tmp" &&
	"$MQADMIN" -d pki device issue crash1 >/dev/null
'

test_expect_success 'a failed renew keeps the old key, cert and policy' '
	policy_cat >before.json &&
	cp pki/devices/par5/par5.crt old.crt && cp pki/devices/par5/par5.key old.key &&
	limit=$(( $(wc -c <before.json) / 1024 )) &&
	(trap "" XFSZ; ulimit -f "$limit"; "$MQADMIN" -d pki device renew par5 >out 2>err; echo $? >rc) &&
	test "$(cat rc)" = 1 && test_grep "File too large" err &&
	policy_cat >before.json.now && cmp before.json before.json.now &&
	cmp old.crt pki/devices/par5/par5.crt && cmp old.key pki/devices/par5/par5.key &&
	! ls -a pki/devices/par5 | grep -q "new\|tmp"
'

test_expect_success 'a failed revoke changes nothing' '
	policy_cat >before.json && cp pki/crl.pem before.crl &&
	limit=$(( $(wc -c <before.json) / 1024 )) &&
	(trap "" XFSZ; ulimit -f "$limit"; "$MQADMIN" -d pki device revoke par6 >out 2>err; echo $? >rc) &&
	test "$(cat rc)" = 1 &&
	policy_cat >before.json.now && cmp before.json before.json.now && cmp before.crl pki/crl.pem
'

test_expect_success 'a temp file left by a crash does not block later writes' '
	echo junk >pki/policy.json.tmp-0123456789abcdef &&
	"$MQADMIN" -d pki device issue after-crash >/dev/null &&
	"$MQADMIN" -d pki device show after-crash >/dev/null &&
	! test -e pki/policy.json.tmp-0123456789abcdef
'

test_expect_success 'files of a device missing from the policy are leftovers and get replaced' '
	mkdir -p pki/devices/ghost && echo stale >pki/devices/ghost/ghost.crt &&
	"$MQADMIN" -d pki device issue ghost >/dev/null &&
	openssl verify -CAfile pki/ca.crt pki/devices/ghost/ghost.crt
'

# A running broker maps data.mdb: a change is a transaction in that file,
# never a new file it would not see (docs/STORE.md), and no policy.json.
test_expect_success 'the store is changed in place, never replaced; no policy.json is written' '
	ino1=$(stat -c %i pki/store/data.mdb) &&
	"$MQADMIN" -d pki device issue inode-check >/dev/null &&
	ino2=$(stat -c %i pki/store/data.mdb) &&
	test "$ino1" = "$ino2" &&
	policy_cat | grep -q "\"inode-check\"" &&
	! test -e pki/policy.json
'

# same_key CRT KEY: the key is the certificate's.
same_key() {
	test "$(openssl x509 -in "$1" -noout -pubkey)" = "$(openssl pkey -in "$2" -pubout)"
}

test_expect_success 'renew killed at random points: the next write leaves a working, recorded pair' '
	"$MQADMIN" -d pki device issue rk >/dev/null &&
	for i in $(seq 1 25); do
		"$MQADMIN" -d pki device renew rk >/dev/null 2>&1 &
		pid=$!
		sleep 0.0$((RANDOM % 5))$((RANDOM % 10))
		kill -9 $pid 2>/dev/null || true
		wait $pid 2>/dev/null || true
		"$MQADMIN" -d pki acl add --all --topic "rk/$i" --access read >/dev/null 2>>notes || exit 1
		! ls pki/devices/rk | grep -e "\.new" -e "\.tmp-" || exit 1
		same_key pki/devices/rk/rk.crt pki/devices/rk/rk.key || exit 1
		fpr=$(openssl x509 -in pki/devices/rk/rk.crt -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
		policy_cat | grep -q "\"$fpr\"" || exit 1
	done &&
	echo "cleanups after the kills:" && sort notes | uniq -c
'

test_done
