#!/bin/bash
# audit log --follow on a real broker: new events as they come, across
# logrotate's rename + SIGHUP, a truncation, and an exit 0 on SIGTERM/SIGINT.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

test_expect_success 'setup: PKI and a broker' '
	pki_setup pki dev1 dev2 &&
	plugin_broker b pki "plugin_opt_clientid_binding none" &&
	wait_for 10 grep -q "\"event\":\"policy\"" pki/audit/audit.log
'
P="--port $(broker_port b)"
A=pki/audit/audit.log

# follow OUT ARGS...: starts audit log --follow in the background: its pid
# in OUT.pid, its exit status in OUT.rc once it ends.
follow() {
	local out=$1
	shift
	( sh -c 'echo $$ >"$0.pid"; exec "$@"' "$out" "$MQADMIN" -d pki audit log --follow "$@" \
		>"$out" 2>"$out.err"; echo $? >"$out.rc" ) &
	wait_for 10 test -s "$out.pid" &&
	test_at_end "kill $(cat "$out.pid") 2>/dev/null"
}

# stop_follow OUT SIGNAL: sends SIGNAL and waits for the exit status.
stop_follow() {
	kill -"$2" "$(cat "$1.pid")" &&
	wait_for 10 test -s "$1.rc"
}

test_expect_success 'follow prints the events that come, as they come' '
	$MQCLIENT $P $(dev_args pki dev1) --id first >c.out &&
	follow f1 --event connect &&
	wait_for 10 grep -q " connect .* first " f1 &&
	head -n 1 f1 | grep -q "^TIME  *EVENT  *DEVICE" &&
	$MQCLIENT $P $(dev_args pki dev2) --id second >c.out &&
	wait_for 10 grep -q " connect .* dev2 .* second " f1 &&
	test_grep ! " disconnect " f1
'

test_expect_success 'it survives logrotate: rename, create, lines to the old file, SIGHUP' '
	mv $A $A.1 && : >$A &&
	$MQCLIENT $P $(dev_args pki dev1) --id before-hup >c.out &&
	grep -q before-hup $A.1 &&
	broker_hup b &&
	wait_for 10 grep -q "\"event\":\"policy\"" $A &&
	$MQCLIENT $P $(dev_args pki dev1) --id after-rotate >c.out &&
	wait_for 10 grep -q " connect .* after-rotate " f1 &&
	grep -q " connect .* before-hup " f1 &&
	test "$(grep -c " connect " f1)" = 4
'

test_expect_success 'it survives a truncation (copytruncate)' '
	: >$A &&
	wait_for 10 grep -q "was truncated; reading it from its start" f1.err &&
	$MQCLIENT $P $(dev_args pki dev2) --id after-truncate >c.out &&
	wait_for 10 grep -q " connect .* after-truncate " f1 &&
	test "$(grep -c " connect " f1)" = 5
'

test_expect_success 'SIGTERM ends it with exit 0' '
	stop_follow f1 TERM &&
	test "$(cat f1.rc)" = 0 &&
	test_must_be_empty() { test ! -s "$1" || { cat "$1"; false; }; } &&
	grep -v "was truncated" f1.err >rest || true &&
	test_must_be_empty rest
'

test_expect_success '--json --follow --limit 2: JSON lines, starting with the last 2' '
	follow f2 --json --limit 2 --event connect &&
	wait_for 10 grep -q after-truncate f2 &&
	$MQCLIENT $P $(dev_args pki dev1) --id json-one >c.out &&
	wait_for 10 grep -q json-one f2 &&
	/usr/bin/python3 -c "
import json
L = [json.loads(l) for l in open(\"f2\")]
assert [o[\"client_id\"] for o in L] == [\"after-truncate\", \"json-one\"], L
assert all(o[\"event\"] == \"connect\" for o in L)" &&
	stop_follow f2 INT &&
	test "$(cat f2.rc)" = 0
'

test_expect_success 'the broker is clean' '
	broker_stop b &&
	broker_sanitizer_clean b
'

test_done
