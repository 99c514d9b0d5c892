#!/bin/bash
# mqadmin report on hand-written audit logs: hostile strings from the log
# stay text, both rotated files count, no log is a warning, and a page that
# cannot be written leaves nothing behind.
. "$(dirname "$0")/../lib.sh"

M() { "$MQADMIN" -d pki "$@"; }
val() { sed -n "s/.*id=\"$1\" data-value=\"\([0-9]*\)\".*/\1/p" "$2"; }

test_expect_success 'setup: a PKI with three devices' '
	M init >/dev/null &&
	M device issue d1 --group g1 >/dev/null &&
	M device issue d2 --group g1 >/dev/null &&
	M device issue d3 --days 10 >/dev/null
'

test_expect_success 'no audit log: a warning, and a page with no events' '
	M report --html r.html >out 2>err &&
	test_grep "warning: no audit log in pki/audit" err &&
	test_grep "^wrote r.html: 3 devices, 0 connects, 0 refused, 0 ACL denials, 0 suspected clones, 3 never seen" out &&
	test "$(val sum-never-seen r.html)" = 3 &&
	test_grep "<tr data-label=\"wk " r.html
'

test_expect_success 'both audit.log.1 and audit.log count; malformed lines are skipped' '
	old=$(date -u -d "-40 days" +%Y-%m-%dT%H:%M:%SZ) &&
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ) &&
	cat >pki/audit/audit.log.1 <<-EOF &&
	{"ts":"$old","event":"connect","broker":"b1","device":"d1","client_id":"d1","address":"10.0.0.1"}
	{"ts":"$old","event":"refused","broker":"b1","reason":"certificate not on the allowlist","client_id":"x","address":"10.0.0.9"}
	EOF
	cat >pki/audit/audit.log <<-EOF &&
	{"ts":"$now","event":"connect","broker":"b2","device":"d2","client_id":"d2","address":"10.0.0.2"}
	garbage
	{"ts":"$now","event":"acl_denied_suppressed","broker":"b2","device":"d2","client_id":"d2","count":7,"window":10}
	EOF
	M report --html r.html >out 2>err &&
	test_grep "skipped 1 malformed audit line" err &&
	test_grep "^wrote r.html: 3 devices, 2 connects, 1 refused, 7 ACL denials, 0 suspected clones, 1 never seen, 1 not seen for 30d$" out &&
	M report --html r.html --stale 50d >out &&
	test_grep ", 1 never seen, 0 not seen for 50d$" out &&
	M report --html r.html --since 7d >out &&
	test_grep ": 3 devices, 1 connects, 0 refused, 7 ACL denials" out
'

test_expect_success 'hostile strings from the log are text, never markup' '
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ) &&
	cat >pki/audit/audit.log <<-EOF &&
	{"ts":"$now","event":"refused","broker":"b\"><script>alert(1)</script>","reason":"</td><img src=x onerror=alert(2)>","client_id":"c","address":"a"}
	{"ts":"$now","event":"clone","broker":"b1","device":"<svg onload=alert(3)>","serial":"\u0007'\''&","kind":"concurrent","client_id":"c","addresses":["10.0.0.1","<iframe src=//evil>"]}
	EOF
	M report --html r.html >out &&
	test_grep ! -Ei "<(script|img|iframe)|<svg onload" r.html &&
	test_grep "&lt;/td&gt;&lt;img src=x onerror=alert(2)&gt;" r.html &&
	test_grep "data-device=\"&lt;svg onload=alert(3)&gt;\"" r.html &&
	test_grep "&lt;iframe src=//evil&gt;" r.html &&
	test_grep "b&quot;&gt;&lt;script&gt;" r.html &&
	test_grep "&#xfffd;&#39;&amp;" r.html
'

test_expect_success 'past 200 distinct refusal reasons the rest count as other' '
	rm pki/audit/audit.log.1 &&
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ) &&
	for i in $(seq 1 300); do
		echo "{\"ts\":\"$now\",\"event\":\"refused\",\"broker\":\"b$i\",\"reason\":\"r$i\"}"
	done >pki/audit/audit.log &&
	M report --html r.html >out &&
	test_grep ": 3 devices, 0 connects, 300 refused, " out &&
	test_grep "<tr data-label=\"other\"><td>other</td><td data-value=\"100\">" r.html &&
	test "$(grep -c "<tr data-label=\"r[0-9]*\">" r.html)" = 200
'

test_expect_success 'a page that cannot be written: exit 1, nothing left, the old one kept' '
	echo old >keep.html &&
	mkdir ro && chmod 555 ro &&
	if [ "$(id -u)" != 0 ]; then
		test_must_fail M report --html ro/r.html 2>err &&
		test_grep "cannot write ro/r.html" err
	fi &&
	test_must_fail M report --html nodir/r.html 2>err &&
	test_grep "cannot write nodir/r.html" err &&
	test ! -e nodir &&
	M report --html keep.html >/dev/null &&
	test "$(stat -c %a keep.html)" = 644 &&
	test_grep "<!DOCTYPE html>" keep.html &&
	ls -a . | grep -v "\.tmp-" >/dev/null &&
	test -z "$(ls -a | grep "\.tmp-")"
'

test_done
