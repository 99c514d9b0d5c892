#!/bin/bash
# device list --group, --state, --expiring, combined, and the total line.
# Devices come in name order (the store's key order).
. "$(dirname "$0")/../lib.sh"

M() { "$MQADMIN" -d pki "$@"; }
names() { awk 'NR > 1 && !/ devices? \(/ { print $1 }' "$1"; }
jnames() { /usr/bin/python3 -c 'import json,sys; print(" ".join(d["name"] for d in json.load(open(sys.argv[1]))))' "$1"; }

test_expect_success 'setup: five devices in two groups, one suspended, one revoked, one short-lived' '
	M init >/dev/null &&
	M device issue s1 --group sensors >/dev/null &&
	M device issue s2 --group sensors --days 5 >/dev/null &&
	M device issue s3 --group sensors --group lab >/dev/null &&
	M device issue c1 --group cams >/dev/null &&
	M device issue c2 --group cams --days 20 >/dev/null &&
	M device suspend s3 >/dev/null &&
	M device revoke c1 >/dev/null
'

test_expect_success 'no filter: every device and a total line' '
	M device list >out &&
	test "$(names out | tr "\n" " ")" = "c1 c2 s1 s2 s3 " &&
	tail -n 1 out >last && echo "5 devices (5 shown)" >expect && test_cmp expect last
'

test_expect_success '--group keeps the members of a group' '
	M device list --group sensors >out &&
	test "$(names out | tr "\n" " ")" = "s1 s2 s3 " &&
	tail -n 1 out >last && echo "5 devices (3 shown)" >expect && test_cmp expect last &&
	M device list --group lab >out &&
	test "$(names out)" = s3
'

test_expect_success '--state keeps one status' '
	M device list --state suspended >out && test "$(names out)" = s3 &&
	M device list --state revoked >out && test "$(names out)" = c1 &&
	M device list --state active >out && test "$(names out | tr "\n" " ")" = "c2 s1 s2 " &&
	M device list --state expired >out &&
	tail -n 1 out >last && echo "5 devices (0 shown)" >expect && test_cmp expect last
'

test_expect_success '--expiring keeps certificates ending within DURATION' '
	M device list --expiring 7d >out && test "$(names out)" = s2 &&
	M device list --expiring 30d >out && test "$(names out | tr "\n" " ")" = "c2 s2 " &&
	M device list --expiring 12h >out && test -z "$(names out)"
'

test_expect_success 'filters combine: all must hold' '
	M device list --group sensors --expiring 30d >out && test "$(names out)" = s2 &&
	M device list --group cams --state active --expiring 30d >out && test "$(names out)" = c2 &&
	M device list --group sensors --state revoked >out && test -z "$(names out)"
'

test_expect_success '--json stays a parseable array of the devices shown, no total line' '
	M device list --group cams --json >j &&
	test "$(jnames j)" = "c1 c2" &&
	test_grep ! "shown" j &&
	M device list --json >j && test "$(jnames j)" = "c1 c2 s1 s2 s3"
'

test_expect_success 'bad filters are usage errors that name the fix' '
	test_expect_code 2 M device list --state sleeping 2>err &&
	test_grep "invalid --state .sleeping.: use active, suspended, retired, revoked, expired or none" err &&
	test_expect_code 2 M device list --state suspnded 2>err &&
	test_grep "did you mean .suspended." err &&
	test_expect_code 2 M device list --expiring soon 2>err &&
	test_grep "invalid --expiring .soon.: use a duration like 30d" err &&
	test_expect_code 2 M device list --group "a b" 2>err &&
	test_grep "invalid group name" err
'

test_done
