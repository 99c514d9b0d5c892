#!/bin/bash
# The plugin reads the store in place (issue 15): a device issued is in
# force as soon as the broker's next tick, a revoked subscriber is dropped,
# only the clients of the device that changed are judged again, and the
# broker never runs a second thread.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

threads() { ls "/proc/$(broker_pid b)/task" | wc -l; }
# judged NAME: how many times the plugin judged client NAME again (0 too).
judged() { log_count b "re-judging client .$1." || :; }

test_expect_success 'setup: PKI with three devices, broker with the plugin' '
	pki_setup pki dev1 dev2 dev3 &&
	"$MQADMIN" -d pki acl add --all --topic "q/#" --access readwrite >/dev/null &&
	test -f pki/store/data.mdb &&
	plugin_broker b pki &&
	log_has b "mqcert: store sequence [0-9]+ in force \(3 devices, 1 rules"
'
port=$(broker_port b)
P="--port $port"

test_expect_success 'one thread after start' '
	test "$(threads)" = 1
'

test_expect_success 'the state file reports the sequence in force' '
	wait_policy b pki &&
	test "$(applied_seq b pki)" = "$(store_seq pki)"
'

test_expect_success 'a device issued is accepted right after device issue returns' '
	"$MQADMIN" -d pki device issue new1 >/dev/null &&
	for i in $(seq 1 50); do
		$MQCLIENT $P $(dev_args pki new1) --id new1 >out && break
		sleep 0.1
	done &&
	test_grep "^CONNACK 0" out &&
	echo "accepted after $i tries" &&
	test "$i" -le 20 &&
	wait_policy b pki
'

test_expect_success 'device issue --wait returns once the broker applied it: accepted at once' '
	"$MQADMIN" -d pki device issue new2 --wait=10 >/dev/null &&
	test "$(applied_seq b pki)" -ge "$(store_seq pki)" &&
	$MQCLIENT $P $(dev_args pki new2) --id new2 >out &&
	test_grep "^CONNACK 0" out
'

test_expect_success 'dev1 and dev2 subscribe and stay' '
	stay_client dev1.out $P $(dev_args pki dev1) --id dev1 --sub "q/#" &&
	stay_client dev2.out $P $(dev_args pki dev2) --id dev2 --sub "q/#" &&
	test_grep "^READY" dev1.out && test_grep "^READY" dev2.out
'

test_expect_success 'revoking dev2 drops dev2 and judges only dev2 again' '
	before1=$(judged dev1) && before2=$(judged dev2) &&
	"$MQADMIN" -d pki device revoke dev2 >/dev/null &&
	wait_for 10 grep -q "^DISCONNECTED" dev2.out &&
	log_has b "mqcert: disconnecting client .dev2. from 127.0.0.1 \(device .dev2., serial [0-9a-f]+\): certificate is revoked" &&
	test "$(judged dev2)" -gt "$before2" &&
	test "$(judged dev1)" = "$before1" &&
	test_grep ! DISCONNECTED dev1.out &&
	wait_policy b pki
'

test_expect_success 'an ACL change reaches the connected client (rules recompiled)' '
	cmd_client c1 $P $(dev_args pki dev3) --id dev3 &&
	test "$(sub_code c1 "r/x")" = 128 &&
	"$MQADMIN" -d pki acl add --device dev3 --topic "r/#" --access read >/dev/null &&
	sub_until 10 c1 "r/x" 1 &&
	log_has b "mqcert: store sequence [0-9]+ in force .*rules recompiled"
'

test_expect_success 'still one thread after connects and 100 policy changes' '
	for i in $(seq 1 50); do
		"$MQADMIN" -d pki device suspend new1 >/dev/null &&
		"$MQADMIN" -d pki device resume new1 >/dev/null || return 1
	done &&
	wait_policy b pki &&
	$MQCLIENT $P $(dev_args pki new1) --id new1 >out &&
	test_grep "^CONNACK 0" out &&
	test "$(threads)" = 1
'

test_expect_success 'restart: the broker starts from the store and keeps working' '
	broker_stop b &&
	broker_start b "$(cat b.block)" &&
	$MQCLIENT $P $(dev_args pki dev1) --id dev1 >out &&
	test_grep "^CONNACK 0" out &&
	test_must_fail $MQCLIENT $P $(dev_args pki dev2) --id dev2 >out &&
	test_grep "^CONNACK 5" out &&
	test "$(threads)" = 1
'

test_expect_success 'the broker stops cleanly' '
	broker_stop b &&
	broker_sanitizer_clean
'

test_done
