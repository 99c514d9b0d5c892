#!/bin/bash
# Nothing at the policy path can stop the broker from starting, serving or
# exiting: a FIFO (which used to block the policy thread, and the broker in
# pthread_join at SIGTERM, for ever), /dev/zero behind a symlink, a file over
# the size cap, and hand edits with a JSON error or a duplicate member.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

# term_exits NAME SECS: SIGTERM makes broker NAME exit within SECS.
term_exits() {
	local pid
	pid=$(broker_pid "$1") &&
	kill -TERM "$pid" &&
	wait_for "$2" eval "! kill -0 $pid 2>/dev/null"
}

# swap_in FILE: FILE replaces pki/policy.json in one rename, as mqadmin does.
swap_in() { mv -T "$1" pki/policy.json; }

test_expect_success 'setup: PKI with two devices; the policy kept aside, a FIFO in its place' '
	pki_setup pki dev1 dev2 &&
	mv pki/policy.json good.json &&
	mkfifo pki/policy.json
'

test_expect_success 'a FIFO at start-up: the broker listens and refuses every client' '
	plugin_broker s pki &&
	log_has s "mqcert: no valid policy \(.*/pki/policy.json is a FIFO, not a regular file: the policy must be a file \(or a symbolic link to one\)\); refusing every client until .*/pki/policy.json is valid" &&
	test_must_fail $MQCLIENT --port $(broker_port s) $(dev_args pki dev1) --id dev1 >out &&
	test_grep "^CONNACK 5" out &&
	broker_is_running s
'

test_expect_success 'and SIGTERM stops it within 5 seconds' '
	term_exits s 5 &&
	broker_stop s
'

test_expect_success 'setup: a broker with the good policy, dev1 connected' '
	rm pki/policy.json &&
	cp good.json pki/policy.json &&
	plugin_broker b pki &&
	stay_client dev1.out --port $(broker_port b) $(dev_args pki dev1) --id dev1 &&
	test_grep "^READY" dev1.out
'
P="--port $(broker_port b)"

test_expect_success 'a FIFO swapped in: rejected, the last good policy stays' '
	mkfifo new.fifo && swap_in new.fifo &&
	wait_for 10 log_has b "mqcert: policy .*/pki/policy.json rejected: .*/pki/policy.json is a FIFO, not a regular file: the policy must be a file \(or a symbolic link to one\); keeping generation [0-9]+" &&
	$MQCLIENT $P $(dev_args pki dev2) --id dev2 >out &&
	test_grep "^CONNACK 0" out &&
	test_grep ! DISCONNECTED dev1.out
'

test_expect_success 'a valid policy after the FIFO is applied: dev1 revoked and dropped' '
	cp good.json new.json &&
	policy_edit new.json dev1 status=revoked &&
	swap_in new.json &&
	wait_policy b pki &&
	wait_for 10 grep -q "^DISCONNECTED" dev1.out &&
	test_must_fail $MQCLIENT $P $(dev_args pki dev1) --id dev1 >out &&
	test_grep "^CONNACK 5" out
'

test_expect_success '/dev/zero behind a symlink is refused at once' '
	cp pki/policy.json good2.json &&
	ln -s /dev/zero zero.link && swap_in zero.link &&
	wait_for 10 log_has b "mqcert: policy .*/pki/policy.json rejected: .*/pki/policy.json is a character device, not a regular file.*; keeping generation [0-9]+"
'

test_expect_success 'a file over the size cap is refused from its size, unread' '
	truncate -s 129M big.json && swap_in big.json &&
	wait_for 10 log_has b "mqcert: policy .*/pki/policy.json rejected: .*/pki/policy.json is 135266304 bytes, over the limit of 134217728 \(128 MB\): not read; keeping generation [0-9]+"
'

test_expect_success 'a hand edit with a JSON error is logged with line and column' '
	/usr/bin/python3 - <<-\PY &&
	text = open("good2.json").read()
	open("broken.json", "w").write(text.replace("\"dev2\",\n", "\"dev2\"\n", 1))
	PY
	line=$(grep -n "\"username\":.*\"dev2\"" broken.json | cut -d: -f1) &&
	swap_in broken.json &&
	wait_for 10 log_has b "mqcert: policy .*/pki/policy.json rejected: .*/pki/policy.json:$line:[0-9]+: expected .,. or .\}.; keeping generation [0-9]+"
'

test_expect_success 'an appended duplicate "status" is refused with its path' '
	/usr/bin/python3 - <<-\PY &&
	text = open("good2.json").read()
	i = text.rindex("\"status\":")
	j = text.index("\n", i)
	open("dup.json", "w").write(text[:j] + ", \"status\": \"revoked\"" + text[j:])
	PY
	swap_in dup.json &&
	wait_for 10 log_has b "mqcert: policy .*/pki/policy.json rejected: .*/pki/policy.json:[0-9]+:[0-9]+: duplicate member devices\[1\]\.certs\[0\]\.status: JSON readers disagree on which one counts; keep only one; keeping generation [0-9]+" &&
	$MQCLIENT $P $(dev_args pki dev2) --id dev2 >out &&
	test_grep "^CONNACK 0" out
'

test_expect_success 'a FIFO in place again, then SIGTERM stops the broker within 5 seconds' '
	mkfifo last.fifo && swap_in last.fifo &&
	wait_for 10 eval "test \$(log_count b \"is a FIFO, not a regular file\") -ge 2" &&
	broker_is_running b &&
	term_exits b 5 &&
	broker_stop b
'

test_expect_success 'no sanitizer report from these brokers' '
	broker_sanitizer_clean
'

test_done
