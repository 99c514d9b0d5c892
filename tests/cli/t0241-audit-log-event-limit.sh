#!/bin/bash
# audit log --event (repeatable), --limit N, and their errors, on a hand-written log.
. "$(dirname "$0")/../lib.sh"

M() { "$MQADMIN" -d pki "$@"; }
ev() { awk 'NR > 1 { print $2 }' "$1" | tr "\n" " "; }
cids() { awk 'NR > 1 { print $4 }' "$1" | tr "\n" " "; }

test_expect_success 'setup: a PKI and a log of every kind of event' '
	M init >/dev/null &&
	M device issue dev1 >/dev/null &&
	cat >pki/audit/audit.log <<-\EOF
	{"ts":"2026-01-01T10:00:00Z","event":"policy","broker":"b1","result":"loaded","generation":3,"devices":1,"rules":0}
	{"ts":"2026-01-01T10:00:01Z","event":"connect","broker":"b1","device":"dev1","client_id":"c1","address":"10.0.0.1"}
	{"ts":"2026-01-01T10:00:02Z","event":"refused","broker":"b2","reason":"revoked","device":"dev1","client_id":"c2","address":"10.0.0.2"}
	{"ts":"2026-01-01T10:00:03Z","event":"acl_denied","broker":"b1","device":"dev1","client_id":"c1","topic":"x","access":"write"}
	{"ts":"2026-01-01T10:00:04Z","event":"connect","broker":"b2","device":"dev1","client_id":"c3","address":"10.0.0.3"}
	not json
	{"ts":"2026-01-01T10:00:05Z","event":"kicked","broker":"b1","device":"dev1","client_id":"c1","why":"revoked"}
	{"ts":"2026-01-01T10:00:06Z","event":"disconnect","broker":"b1","device":"dev1","client_id":"c1","reason":"kicked","duration":5}
	{"ts":"2026-01-01T10:00:07Z","event":"clone","broker":"b2","device":"dev1","client_id":"c4","kind":"concurrent","addresses":["10.0.0.3","10.0.0.4"]}
	{"ts":"2026-01-01T10:00:08Z","event":"connect","broker":"b1","device":"dev1","client_id":"c5","address":"10.0.0.5"}
	EOF
'

test_expect_success '--event keeps one kind; repeated, several' '
	M audit log --event connect >out 2>err &&
	test "$(ev out)" = "connect connect connect " &&
	test "$(cids out)" = "c1 c3 c5 " &&
	M audit log --event refused --event kicked --event clone >out 2>err &&
	test "$(ev out)" = "refused kicked clone "
'

test_expect_success '--limit N keeps the last N matching lines, oldest first' '
	M audit log --limit 2 >out 2>err &&
	test "$(ev out)" = "clone connect " &&
	M audit log --event connect --limit 2 >out 2>err &&
	test "$(cids out)" = "c3 c5 " &&
	M audit log --event connect --limit 100 >out 2>err &&
	test "$(cids out)" = "c1 c3 c5 " &&
	M audit log --event connect --limit 1 --json >j &&
	/usr/bin/python3 -c "
import json
L = json.load(open(\"j\"))
assert [o[\"client_id\"] for o in L] == [\"c5\"], L"
'

test_expect_success '--event combines with --denied and --device; malformed lines still counted' '
	M audit log --denied --event acl_denied >out 2>err &&
	test "$(ev out)" = "acl_denied " &&
	test_grep "skipped 1 malformed line of 10" err
'

test_expect_success 'bad --event and --limit are usage errors naming the fix' '
	test_expect_code 2 M audit log --event conect 2>err &&
	test_grep "unknown --event .conect.; did you mean .connect.?; the events are connect, refused" err &&
	test_expect_code 2 M audit log --limit 0 2>err &&
	test_grep "invalid --limit .0.: use a number of lines from 1 to 1000000" err &&
	test_expect_code 2 M audit log --limit x 2>err
'

test_done
