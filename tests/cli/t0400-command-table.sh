#!/bin/bash
# The command table owns setup: each entry says whether main opens DIR for
# the command read-only, for writing or creating it, or not at all
# (mqadmin --list-commands, undocumented, prints the table). A usage error
# exits 2 before any PKI or lock is touched; a read command takes no lock,
# so it runs while another mqadmin writes; --dry-run opens read-only.
. "$(dirname "$0")/../lib.sh"

test_expect_success 'setup: a PKI with a broker and a device' '
	"$MQADMIN" -d pki init >/dev/null 2>&1 &&
	"$MQADMIN" -d pki server issue s1 >/dev/null 2>&1 &&
	"$MQADMIN" -d pki device issue d1 >/dev/null 2>&1
'

test_expect_success 'the table lists every command of --help with a known mode' '
	"$MQADMIN" --list-commands >table &&
	cut -f1 table | sort -u >listed &&
	"$MQADMIN" --help | sed -n "s/^.*mqadmin \[-d DIR\] \([a-z][a-z-]*\( [a-z][a-z-]*\)\{0,1\}\).*/\1/p" |
		sort -u >usage &&
	grep -c . listed >n && test "$(cat n)" -ge 30 &&
	while read -r cmd; do
		grep -qx "$cmd" listed || grep -qx "${cmd% *}" listed || {
			echo "not in the table: $cmd"; exit 1; }
	done <usage &&
	! cut -f2 table | grep -vxE "none|read|write|create" &&
	grep -qx "device list	read" table &&
	grep -qx "device issue	write" table
'

test_expect_success 'every command: a usage error exits 2 and creates no PKI' '
	cut -f1 table >cmds &&
	while read -r cmd; do
		test_expect_code 2 "$MQADMIN" -d nopki $cmd --no-such-option-zz 2>err &&
		test_grep "unknown option .--no-such-option-zz." err &&
		test_grep "^usage: mqadmin" err &&
		! test -e nopki || { echo "failed: $cmd"; exit 1; }
	done <cmds
'

# The test shell holds DIR's write lock on fd 9 while each case runs.
test_expect_success 'every command: a usage error exits 2 at once while DIR is locked' '
	exec 9>>pki/.lock && flock -x 9 &&
	while read -r cmd; do
		test_expect_code 2 timeout 30 "$MQADMIN" -d pki $cmd --no-such-option-zz 2>err &&
		test_grep "^usage: mqadmin" err || { echo "failed: $cmd"; exit 1; }
	done <cmds
'

test_expect_success 'the lock the test holds keeps a writer out' '
	exec 9>>pki/.lock && flock -x 9 &&
	test_expect_code 124 timeout 2 "$MQADMIN" -d pki device set d1 --group g1
'

# Each read command exits as it does without the lock (0, or 1 for one
# that finds nothing to show), never waiting for the writer.
test_expect_success 'read commands take no lock: they run while DIR is locked' '
	cat >reads <<-\EOF &&
	device list
	device show d1
	cert list
	acl list
	acl check d1 t/x read
	policy export
	expiring
	report --html out.html
	broker-config
	audit
	EOF
	while read -r cmd; do
		rc=0 && "$MQADMIN" -d pki $cmd >/dev/null 2>&1 || rc=$?
		set -- $cmd
		{ grep -qx "$1 ${2:-}	read" table || grep -qx "$1	read" table; } ||
			{ echo "not read in the table: $cmd"; exit 1; }
		(exec 9>>pki/.lock && flock -x 9 &&
			test_expect_code $rc timeout 30 "$MQADMIN" -d pki $cmd >/dev/null 2>&1) ||
			{ echo "failed under the lock: $cmd"; exit 1; }
	done <reads
'

test_expect_success '--dry-run opens a write command read-only' '
	printf "user d1\ntopic read a/b\n" >acl_file &&
	exec 9>>pki/.lock && flock -x 9 &&
	timeout 30 "$MQADMIN" -d pki acl import acl_file --dry-run >out 2>err &&
	test_grep "line 2: device:d1 allow read a/b" out &&
	test_expect_code 124 timeout 2 "$MQADMIN" -d pki acl import acl_file
'

test_expect_success 'nothing was changed meanwhile; the write goes through unlocked' '
	"$MQADMIN" -d pki acl list >rules &&
	! test_grep "a/b" rules &&
	"$MQADMIN" -d pki acl import acl_file >out 2>err &&
	"$MQADMIN" -d pki acl list >rules &&
	test_grep "a/b" rules
'

test_done
