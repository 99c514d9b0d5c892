#!/bin/bash
# The broker's idle TICK costs next to nothing (issue 15, Ir per delivery):
# while no mqadmin write has committed, a tick opens no LMDB read
# transaction (LMDB's meta page says nothing changed), and the CRL file
# outside the store is looked at once a second, not ten times. A change is
# still read at the next tick. tests/shim/tick_count.c counts both in the
# broker (LD_PRELOAD).
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

export MQSHIM_COUNT_FILE=$TRASH/counts
# renews / crl_stats: the broker's read transactions and CRL stats so far.
renews() { awk '{ print $2 }' "$MQSHIM_COUNT_FILE"; }
crl_stats() { awk '{ print $4 }' "$MQSHIM_COUNT_FILE"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

test_expect_success 'setup: the shim, a PKI with two devices, a broker with the shim' '
	cc -shared -fPIC -O1 -o tick_count.so "$MQ_ROOT/tests/shim/tick_count.c" -ldl &&
	pki_setup pki dev1 dev2 &&
	"$MQADMIN" -d pki acl add --all --topic "q/#" --access readwrite >/dev/null &&
	BROKER_PRELOAD=$TRASH/tick_count.so plugin_broker b pki &&
	wait_policy b pki &&
	test -s counts
'

test_expect_success 'idle: no read transaction, the CRL looked at about once a second' '
	r0=$(renews) && s0=$(crl_stats) && t0=$(now_ms) &&
	wait_for 10 eval "test \$(crl_stats) -ge $((s0 + 3))" &&
	ms=$(( $(now_ms) - t0 )) &&
	echo "3 CRL stats in $ms ms; read transactions $r0 -> $(renews)" &&
	test "$ms" -ge 1500 &&
	test "$(renews)" = "$r0"
'

test_expect_success 'a change is still read at the next tick (--wait returns)' '
	r0=$(renews) &&
	t0=$(now_ms) &&
	"$MQADMIN" -d pki device issue new1 --wait=5 >out 2>&1 &&
	echo "device issue --wait took $(( $(now_ms) - t0 )) ms" && cat out &&
	test "$(applied_seq b pki)" = "$(store_seq pki)" &&
	test "$(renews)" -gt "$r0" &&
	$MQCLIENT --port $(broker_port b) $(dev_args pki new1) --id new1 >conn &&
	test_grep "^CONNACK 0" conn
'

test_expect_success 'a revoked client is dropped at the next tick' '
	stay_client sub --port $(broker_port b) $(dev_args pki dev2) --id dev2 --sub "q/x" &&
	test_grep "^READY" sub &&
	"$MQADMIN" -d pki device revoke dev2 >/dev/null &&
	wait_for 5 log_has b "mqcert: disconnecting client .dev2. .*certificate is revoked"
'

test_expect_success 'after the change, idle again: no read transaction' '
	r0=$(renews) && s0=$(crl_stats) &&
	wait_for 10 eval "test \$(crl_stats) -ge $((s0 + 2))" &&
	test "$(renews)" = "$r0"
'

test_expect_success 'the broker is clean' '
	broker_stop b &&
	broker_sanitizer_clean
'

test_done
