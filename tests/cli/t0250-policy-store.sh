#!/bin/bash
# The policy store (issue 15): DIR/store made by init with the broker's
# modes, the one-off migration of a policy.json installation, O(change)
# writes (one log entry per record changed), policy export/import/diff.
. "$(dirname "$0")/../lib.sh"

# log_count DIR: entries in the store's change log.
log_count() { mdb_dump -p -s log "$1/store" | sed -n "/^HEADER=END/,/^DATA=END/p" | grep -c "^ " | awk '{print $1 / 2}'; }

test_expect_success 'init creates the store: data.mdb 0644, lock.mdb for the broker' '
	"$MQADMIN" -d pki init >/dev/null &&
	test -d pki/store && test "$(stat -c %a pki/store)" = 755 &&
	test "$(stat -c %a pki/store/data.mdb)" = 644 &&
	test -f pki/store/lock.mdb &&
	if test "$(id -u)" = 0 && getent passwd mosquitto >/dev/null; then
		test "$(stat -c %U:%a pki/store/lock.mdb)" = mosquitto:600
	fi &&
	mdb_stat -a pki/store >stat &&
	for db in devices by_fp by_user by_serial expiry rules meta log; do
		test_grep "^Status of $db$" stat || exit 1
	done
'

test_expect_success 'a change writes only what changed: one log entry per record' '
	"$MQADMIN" -d pki device issue d1 >/dev/null &&
	"$MQADMIN" -d pki device issue d2 --group g >/dev/null &&
	n0=$(log_count pki) &&
	"$MQADMIN" -d pki device issue d3 >/dev/null &&
	test "$(log_count pki)" = $((n0 + 1)) &&
	"$MQADMIN" -d pki acl add --group g --topic "t/#" --access read >/dev/null &&
	test "$(log_count pki)" = $((n0 + 2)) &&
	"$MQADMIN" -d pki device set d2 --group h >/dev/null &&
	test "$(log_count pki)" = $((n0 + 3)) &&
	mdb_dump -p -s log pki/store | tail -2 | head -1 | grep -q "^ Dd2$"
'

test_expect_success 'policy export: one document the plugin reader accepts, stdout or a file' '
	"$MQADMIN" -d pki policy export >out.json &&
	"$MQADMIN" -d pki policy validate out.json >v &&
	test_grep "^ok: out.json: generation [0-9]*, 3 devices, 1 rule$" v &&
	"$MQADMIN" -d pki policy export file.json &&
	cmp out.json file.json &&
	test "$(grep -c "^{\"name\":" file.json)" = 3 &&
	test_expect_code 2 "$MQADMIN" -d pki policy export a b 2>err &&
	test_grep "at most one FILE" err
'

test_expect_success 'policy diff: what changed from A to B, exit 1 when different' '
	"$MQADMIN" -d pki policy diff out.json - >d &&
	test ! -s d &&
	"$MQADMIN" -d pki device revoke d1 >/dev/null &&
	"$MQADMIN" -d pki acl remove 1 >/dev/null &&
	"$MQADMIN" -d pki device issue d4 >/dev/null &&
	test_expect_code 1 "$MQADMIN" -d pki policy diff out.json - >d &&
	cat >expect <<-\EOF &&
	~ device d1
	+ device d4
	- rule 1
	EOF
	test_cmp expect d &&
	test_expect_code 2 "$MQADMIN" -d pki policy diff out.json 2>err
'

test_expect_success 'policy import: the whole policy back, one log entry; generation, CRL number and revocations never go back' '
	"$MQADMIN" -d pki policy export now.json &&
	gen=$(sed -n "s/.*\"generation\":\([0-9]*\).*/\1/p" now.json) &&
	n0=$(log_count pki) &&
	"$MQADMIN" -d pki policy import out.json >out 2>err &&
	test_grep "^imported out.json: generation $((gen + 1)), 3 devices, 1 rule$" out &&
	test_grep "^mqadmin: note: 1 certificate(s) the file lists as not revoked stay revoked, as in the store: nothing un-revokes$" err &&
	test "$(log_count pki)" = $((n0 + 1)) &&
	mdb_dump -p -s log pki/store | tail -2 | head -1 | grep -q "^ I$" &&
	test_expect_code 1 "$MQADMIN" -d pki policy diff out.json - >d &&
	echo "~ device d1" >expect && test_cmp expect d &&
	"$MQADMIN" -d pki device show d1 >show && test_grep "revoked" show &&
	"$MQADMIN" -d pki policy export after.json &&
	test_grep "\"crl_number\":2" after.json
'

test_expect_success 'policy import of a bad file changes nothing' '
	"$MQADMIN" -d pki policy export before.json &&
	sed "s/\"status\":\"active\"/\"status\":\"lost\"/" before.json >bad.json &&
	test_must_fail "$MQADMIN" -d pki policy import bad.json 2>err &&
	test_grep "status .lost. must be" err &&
	test_grep "nothing was imported: the store is unchanged" err &&
	"$MQADMIN" -d pki policy export again.json &&
	cmp before.json again.json
'

test_expect_success 'an installation with only policy.json is migrated once, with a note' '
	"$MQADMIN" -d old init >/dev/null &&
	"$MQADMIN" -d old device issue m1 --group g >/dev/null &&
	"$MQADMIN" -d old acl add --group g --topic "m/#" --access read >/dev/null &&
	"$MQADMIN" -d old policy export expect.json &&
	! test -e old/policy.json &&
	# What an installation from before the store has: policy.json alone.
	cp expect.json old/policy.json &&
	rm -r old/store &&
	"$MQADMIN" -d old device list >list 2>err &&
	test_grep "^m1 " list &&
	test_grep "^mqadmin: note: moving the policy of old from policy.json into the policy store old/store" err &&
	test_grep "^mqadmin: note: migrated 1 device(s) and 1 rule(s); old/policy.json is kept as old/policy.json.migrated" err &&
	test -f old/policy.json.migrated && ! test -e old/policy.json &&
	"$MQADMIN" -d old policy diff expect.json - &&
	mdb_dump -p -s log old/store | grep -q "^ I$" &&
	"$MQADMIN" -d old device list >list 2>err &&
	test ! -s err
'

test_expect_success 'a broken policy.json is not migrated: named, nothing created' '
	"$MQADMIN" -d broken init >/dev/null &&
	rm -r broken/store &&
	echo "{" >broken/policy.json &&
	test_must_fail "$MQADMIN" -d broken device list 2>err &&
	test_grep "cannot migrate the policy: .*broken/policy.json:2:1: " err &&
	test_grep "mqadmin policy validate broken/policy.json" err &&
	test -f broken/policy.json && ! test -e broken/policy.json.migrated
'

test_done
