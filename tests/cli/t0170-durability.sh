#!/bin/bash
# A directory fsync that fails after the rename: the change has happened
# (the plugin may already enforce the new policy), so mqadmin reports it as
# done with a durability warning, exit 0, and never undoes the files. The
# policy store commits by fsync of its data file, no directory involved:
# no warning for it.
# tests/shim/fsync_fail.c makes fsync fail on one directory (LD_PRELOAD).
. "$(dirname "$0")/../lib.sh"

json_check() { /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); $2" "$1"; }
crl_serials() { openssl crl -in "$1" -noout -text | sed -n "s/^ *Serial Number: *//p" | tr a-f A-F; }

# shimmed CMD...: CMD with fsync failing on the PKI directory itself.
shimmed() {
	LD_PRELOAD=$TRASH/fsync_fail.so MQSHIM_FSYNC_FAIL_DIR=$(cd "$TRASH/pki" && pwd -P) \
		ASAN_OPTIONS=$ASAN_OPTIONS:verify_asan_link_order=0 "$@"
}

test_expect_success 'setup: the shim, a PKI and one device' '
	cc -shared -fPIC -O1 -o fsync_fail.so "$MQ_ROOT/tests/shim/fsync_fail.c" -ldl &&
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki device issue first >/dev/null
'

test_expect_success 'the shim works: a directory fsync in pki fails, others do not' '
	/usr/bin/python3 -c "import os; fd=os.open(\"pki/devices\", os.O_RDONLY); os.fsync(fd)" &&
	! shimmed /usr/bin/python3 -c "import os; fd=os.open(\"pki\", os.O_RDONLY); os.fsync(fd)" 2>err &&
	test_grep "Input/output error" err
'

test_expect_success 'device issue: done, with a warning; the device and its files stay' '
	shimmed "$MQADMIN" -d pki device issue d1 >out 2>err &&
	test_grep ! "warning: the new policy" err &&
	test_grep -x "pki/devices/d1/d1.crt" out &&
	test -s pki/devices/d1/d1.crt && test -s pki/devices/d1/d1.key &&
	"$MQADMIN" -d pki device list >list &&
	test_grep "^d1 " list &&
	fpr=$(openssl x509 -in pki/devices/d1/d1.crt -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f) &&
	"$MQADMIN" -d pki policy export >policy &&
	test_grep "\"$fpr\"" policy
'

test_expect_success 'device batch: done, all recorded, nothing undone' '
	shimmed "$MQADMIN" -d pki device batch --count 5 --prefix b >out 2>err &&
	test_grep ! "warning: the new policy" err &&
	test_grep ! "nothing was issued" err &&
	test_grep -x "issued 5 devices" out &&
	"$MQADMIN" -d pki policy export >policy &&
	for i in 1 2 3 4 5; do
		test -s pki/devices/b000$i/b000$i.key && test_grep "\"b000$i\"" policy || exit 1
	done
'

test_expect_success 'device renew: done, the new files are in place' '
	cp pki/devices/d1/d1.crt d1.old &&
	shimmed "$MQADMIN" -d pki device renew d1 >out 2>err &&
	test_grep ! "warning: the new policy" err &&
	! cmp -s d1.old pki/devices/d1/d1.crt &&
	! ls pki/devices/d1 | grep "\.new" &&
	"$MQADMIN" -d pki device show d1 --json >j &&
	json_check j "assert len(j[\"certs\"])==2"
'

test_expect_success 'device revoke: exit 0, revoked in the policy and on the CRL' '
	"$MQADMIN" -d pki device issue r1 >/dev/null &&
	serial=$(openssl x509 -in pki/devices/r1/r1.crt -noout -serial | cut -d= -f2) &&
	shimmed "$MQADMIN" -d pki device revoke r1 >out 2>err &&
	test_grep ! "warning: the new policy" err &&
	test_grep "^mqadmin: warning: the new .*pki/crl.pem is in place, but cannot sync the directory" err &&
	test_grep "crl.pem updated" out &&
	"$MQADMIN" -d pki device show r1 --json >j &&
	json_check j "assert [c[\"status\"] for c in j[\"certs\"]]==[\"revoked\"]" &&
	crl_serials pki/crl.pem >serials &&
	test_grep -x "$serial" serials &&
	{ "$MQADMIN" -d pki doctor >doc 2>&1 || true; } &&
	test_grep ! "crl-outdated" doc
'

test_expect_success 'crl update: exit 0 with the warning' '
	shimmed "$MQADMIN" -d pki crl update >out 2>err &&
	test_grep "^mqadmin: warning: the new .*crl.pem is in place" err
'

test_done
