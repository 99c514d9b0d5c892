#!/bin/bash
# --wait[=SECONDS] (issue 15): after the commit, mqadmin reads every
# running broker's state file in DIR/audit until each reports an
# "applied_seq" at or above the change. The state files here are written
# by the test in the plugin's format (the plugin's side is tested with a
# real broker in tests/integration).
. "$(dirname "$0")/../lib.sh"

# state NAME RUNNING APPLIED [PID]: DIR/audit/connected-NAME.json.
state() {
	printf '{"version":1,"updated":"%s","broker_pid":%s,"host":"%s","running":%s,%s"instance":"%s","clients":[]}\n' \
		"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${4:-$$}" "$(hostname)" "$2" \
		"$( [ "$3" = none ] || printf '"applied_seq":%s,' "$3")" "$1" >pki/audit/.tmp &&
	mv pki/audit/.tmp "pki/audit/connected-$1.json"
}

test_expect_success 'setup' '
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki device issue d0 >/dev/null
'

test_expect_success 'no running broker: said, exit 0' '
	"$MQADMIN" -d pki device issue d1 --wait >out 2>err &&
	test_grep "^mqadmin: note: --wait: no running broker reports on pki" err &&
	state stopped false 0 &&
	"$MQADMIN" -d pki device issue d2 --wait=1 >out 2>err &&
	test_grep "no running broker" err
'

test_expect_success 'a state file of a dead broker pid is not waited for' '
	dead=$(sh -c "echo \$\$") &&
	! kill -0 "$dead" 2>/dev/null &&
	state ghost true 0 "$dead" &&
	"$MQADMIN" -d pki device issue d3 --wait=2 >out 2>err &&
	test_grep "no running broker" err && rm pki/audit/connected-ghost.json
'

test_expect_success 'every running broker applied it: exit 0 at once' '
	state b1 true 999999 && state b2 true 999999 &&
	"$MQADMIN" -d pki device issue d4 --wait >out 2>err &&
	test_grep "^mqadmin: applied by 2 running brokers in 0\.[0-9]* s (change [0-9]*)$" err &&
	test_grep -x "pki/devices/d4/d4.crt" out
'

test_expect_success 'a broker behind: named after SECONDS, exit 1, the change stays' '
	state b2 true 1 &&
	start=$(date +%s) &&
	test_must_fail "$MQADMIN" -d pki device revoke d4 --wait=1 >out 2>err &&
	test $(( $(date +%s) - start )) -lt 5 &&
	test_grep "^mqadmin: --wait: broker .b2. has not applied change [0-9]* after 1 s (it is at 1); the change is in the store" err &&
	test_grep ! "b1" err &&
	"$MQADMIN" -d pki device show d4 >show && test_grep "revoked" show
'

test_expect_success 'a broker that catches up while mqadmin waits: exit 0' '
	(sleep 1; state b2 true 999999) &
	"$MQADMIN" -d pki acl add --all --topic "w/#" --access read --wait=8 >out 2>err &&
	wait &&
	test_grep "applied by 2 running brokers" err
'

test_expect_success 'a broker without applied_seq is named as such' '
	state b2 true none &&
	test_must_fail "$MQADMIN" -d pki device suspend d0 --wait=0 2>err &&
	test_grep "broker .b2. does not report which change it applied" err &&
	rm pki/audit/connected-b2.json
'

test_expect_success 'bad values and read-only commands: usage errors (exit 2)' '
	test_expect_code 2 "$MQADMIN" -d pki device issue x --wait=soon 2>err &&
	test_grep "invalid --wait .soon." err &&
	test_expect_code 2 "$MQADMIN" -d pki device issue x --wait=99999 2>err &&
	test_expect_code 2 "$MQADMIN" -d pki device list --wait 2>err &&
	! test -e pki/devices/x
'

test_done
