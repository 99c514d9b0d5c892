#!/bin/bash
# Options several commands share are read by one helper each: --group
# (cli_group_add) in device issue, device set and device batch, the same name
# check and limit of 64 in each; --since (cli_parse_since) in audit log,
# report and device adopt, an ISO 8601 time or an age, the same error.
. "$(dirname "$0")/../lib.sh"

test_expect_success 'setup: a PKI and one device' '
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki device issue d1 --group a >/dev/null &&
	for i in $(seq 64); do printf -- "--group g%d " "$i"; done >g64 &&
	{ cat g64; printf -- "--group g65"; } >g65
'

test_expect_success '64 groups are taken, the 65th is refused, naming the limit' '
	"$MQADMIN" -d pki device set d1 $(cat g64) >/dev/null &&
	policy_cat | grep -o "\"g[0-9]*\"" | sort -u | wc -l >n && test "$(cat n)" -eq 64 &&
	for cmd in "device issue d2" "device set d1" "device batch --count 1 --prefix b"; do
		test_expect_code 1 "$MQADMIN" -d pki $cmd $(cat g65) 2>err &&
		test_grep "too many --group options: at most 64" err || exit 1
	done &&
	test_must_fail "$MQADMIN" -d pki device show d2 2>/dev/null
'

test_expect_success 'a bad group name is refused by each, naming the rule' '
	for cmd in "device issue d3" "device set d1" "device batch --count 1 --prefix c"; do
		test_expect_code 1 "$MQADMIN" -d pki $cmd --group "x/y" 2>err &&
		test_grep "invalid group name .x/y." err || exit 1
	done
'

test_expect_success '--since: a time or an age is taken, anything else refused alike (exit 2)' '
	for cmd in "audit log --file none.log" "report --html r.html" "device adopt --from-audit --dry-run"; do
		test_expect_code 2 "$MQADMIN" -d pki $cmd --since yesterday 2>err &&
		test_grep "invalid --since .yesterday.: use an ISO 8601 UTC time (2026-01-31T08:00:00Z) or an age like 30m, 2h or 3d" err &&
		test_grep "^usage: mqadmin" err || exit 1
		for ok in 2026-01-31T08:00:00Z 7d; do
			rc=0 && "$MQADMIN" -d pki $cmd --since $ok >out 2>err || rc=$?
			test $rc != 2 && ! grep -q "invalid --since" err || exit 1
		done
	done
'

test_done
