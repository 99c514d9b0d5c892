#!/bin/bash
# Live policy: revocation, expiry, garbage, deletion and SIGHUP while
# clients stay connected, with no broker restart.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

test_expect_success 'setup: PKI with six devices, broker with the plugin' '
	pki_setup pki dev1 dev2 dev3 dev4 dev5 dev6 &&
	"$MQADMIN" -d pki acl add --all --topic "q/#" --access readwrite >/dev/null &&
	plugin_broker b pki
'
port=$(broker_port b)
P="--port $port"

test_expect_success 'one thread: the broker'"'"'s own' '
	test "$(ls /proc/$(broker_pid b)/task | wc -l)" = 1
'

test_expect_success 'dev1, dev2 and dev3 connect and stay' '
	stay_client dev1.out $P $(dev_args pki dev1) --id dev1 &&
	stay_client dev2.out $P $(dev_args pki dev2) --id dev2 &&
	stay_client dev3.out $P $(dev_args pki dev3) --id dev3 &&
	test_grep "^READY" dev1.out && test_grep "^READY" dev2.out && test_grep "^READY" dev3.out
'

test_expect_success 'mqadmin device revoke drops dev1 live and only dev1' '
	gen_loaded_count b >before &&
	"$MQADMIN" -d pki device revoke dev1 >/dev/null &&
	wait_for 10 grep -q "^DISCONNECTED" dev1.out &&
	test $(gen_loaded_count b) -gt $(cat before) &&
	log_has b "mqcert: disconnecting client .dev1. from 127.0.0.1 \(device .dev1., serial [0-9a-f]+\): certificate is revoked" &&
	test_grep ! DISCONNECTED dev2.out && test_grep ! DISCONNECTED dev3.out
'

# Before issue 15 a policy thread started here (at nice 19); the store is
# read on the broker thread, so there is still none.
test_expect_success 'still one thread after the change: the broker'"'"'s own' '
	ps -L -o tid=,ni=,comm= -p "$(broker_pid b)" >threads &&
	cat threads &&
	test "$(wc -l <threads)" = 1 &&
	test "$(awk "{ print \$1 }" threads)" = "$(broker_pid b)"
'

test_expect_success 'the revoked device cannot reconnect' '
	test_must_fail $MQCLIENT $P $(dev_args pki dev1) --id dev1 >out &&
	test_grep "^CONNACK 5" out &&
	log_has b "mqcert: refused client .dev1. from 127.0.0.1: certificate is revoked \(device .dev1.\)"
'

# Before issue 15 these replaced policy.json; their store equivalents
# replace DIR/store/data.mdb under the running broker.
test_expect_success 'garbage swapped in for data.mdb is refused once and the last state stays' '
	cp -a pki/store good.store &&
	head -c 65536 /dev/urandom >garbage.mdb && mv -T garbage.mdb pki/store/data.mdb &&
	wait_for 10 log_has b "mqcert: store .*/pki/store: .*; keeping the state of sequence [0-9]+" &&
	$MQCLIENT $P $(dev_args pki dev4) --id dev4 >out && test_grep "^CONNACK 0" out &&
	test_must_fail $MQCLIENT $P $(dev_args pki dev1) --id dev1 >out &&
	test_grep "^CONNACK 5" out &&
	test $(log_count b "mqcert: store .*; keeping the state of sequence") -eq 1 &&
	test_grep ! DISCONNECTED dev2.out
'

test_expect_success 'a deleted data.mdb is reported once and the last state stays in force' '
	gen_loaded_count b >before &&
	rm pki/store/data.mdb && cp -a good.store/data.mdb pki/store/data.mdb &&
	wait_for 10 eval "test \$(gen_loaded_count b) -gt $(cat before)" &&
	$MQCLIENT $P $(dev_args pki dev4) --id dev4 >out && test_grep "^CONNACK 0" out &&
	rm pki/store/data.mdb &&
	wait_for 10 log_has b "mqcert: store .*/pki/store: .*/pki/store/data.mdb: No such file or directory \(run .mqadmin doctor.\); keeping the state of sequence [0-9]+" &&
	$MQCLIENT $P $(dev_args pki dev4) --id dev4 >out && test_grep "^CONNACK 0" out &&
	test_must_fail $MQCLIENT $P $(dev_args pki dev1) --id dev1 >out &&
	test $(log_count b "data.mdb: No such file or directory") -eq 1
'

test_expect_success 'a restored store is loaded again' '
	gen_loaded_count b >before &&
	cp -a good.store/data.mdb pki/store/data.mdb &&
	wait_for 10 eval "test \$(gen_loaded_count b) -gt $(cat before)"
'

test_expect_success 'a certificate expired in the policy drops dev3 live and keeps it out' '
	policy_edit pki dev3 not_before=2000-01-01T00:00:00Z \
		not_after=2001-01-01T00:00:00Z &&
	wait_for 10 grep -q "^DISCONNECTED" dev3.out &&
	log_has b "mqcert: disconnecting client .dev3. .*: certificate has expired" &&
	test_must_fail $MQCLIENT $P $(dev_args pki dev3) --id dev3 >out &&
	test_grep "^CONNACK 5" out &&
	log_has b "mqcert: refused client .dev3. .*: certificate has expired \(device .dev3.\)" &&
	test_grep ! DISCONNECTED dev2.out
'

test_expect_success 'SIGHUP keeps good clients and offline persistent sessions' '
	$MQCLIENT $P $(dev_args pki dev5) --id dev5 --persistent --sub "q/#" >out &&
	test_grep "^SUBACK 1" out &&
	$MQCLIENT $P $(dev_args pki dev4) --id dev4 --pub q/x queued >out &&
	gen_loaded_count b >before &&
	broker_hup b &&
	wait_for 10 eval "test \$(gen_loaded_count b) -gt $(cat before)" &&
	test_grep "Reloading config" "$(broker_log b)" &&
	test_grep ! "mqcert: refused client .dev5." "$(broker_log b)" &&
	test_grep ! DISCONNECTED dev2.out &&
	stay_client dev5.out $P $(dev_args pki dev5) --id dev5 --persistent &&
	wait_for 10 grep -q "^MSG q/x queued" dev5.out
'

test_expect_success 'a revocation followed by SIGHUP drops the revoked client only' '
	stay_client dev6.out $P $(dev_args pki dev6) --id dev6 &&
	"$MQADMIN" -d pki device revoke dev6 >/dev/null &&
	broker_hup b &&
	wait_for 10 grep -q "^DISCONNECTED" dev6.out &&
	test_must_fail $MQCLIENT $P $(dev_args pki dev6) --id dev6 >out &&
	test_grep ! DISCONNECTED dev2.out &&
	test_grep ! DISCONNECTED dev5.out
'

test_expect_success 'the broker stops cleanly and the plugin leaked nothing' '
	broker_is_running b &&
	for f in dev2.out dev5.out; do kill $(cat $f.pid); done &&
	broker_stop b && ! broker_is_running b &&
	broker_sanitizer_clean
'

test_done
