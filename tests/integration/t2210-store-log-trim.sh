#!/bin/bash
# The store's change log is trimmed by the writer (issue 15): it stays
# bounded however many changes are made, never drops what a running broker
# still has to apply (its applied_seq in DIR/audit) unless that broker is
# more than ten keep-counts behind, and a broker left behind the log's
# floor (here: stopped with SIGSTOP) re-judges every client when it
# resumes, so a device revoked meanwhile is still dropped.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

export MQADMIN_LOG_KEEP=5
log_entries() { mdb_stat -s log pki/store | sed -n "s/^ *Entries: //p"; }
log_floor() {
	mdb_dump -s meta pki/store | /usr/bin/python3 -c '
import sys
lines = [l.strip() for l in sys.stdin if l.startswith(" ")]
kv = dict(zip(lines[0::2], lines[1::2]))
print(int(kv.get("log_floor".encode().hex(), "0"), 16))'
}
changes() {
	for i in $(seq 1 "$1"); do
		"$MQADMIN" -d pki device suspend spare >/dev/null &&
		"$MQADMIN" -d pki device resume spare >/dev/null || return 1
	done
}

test_expect_success 'setup: PKI, broker with the plugin, dev2 subscribed' '
	pki_setup pki dev1 dev2 spare &&
	"$MQADMIN" -d pki acl add --all --topic "q/#" --access readwrite >/dev/null &&
	plugin_broker b pki &&
	wait_policy b pki &&
	stay_client dev2.out --port $(broker_port b) $(dev_args pki dev2) --id dev2 --sub "q/#" &&
	test_grep "^READY" dev2.out
'

test_expect_success 'with the broker keeping up, the log stays within twice the keep count' '
	changes 15 &&
	wait_policy b pki &&
	n=$(log_entries) && echo "entries $n, floor $(log_floor), seq $(store_seq pki)" &&
	test "$n" -le 11 && test "$(log_floor)" -gt 1
'

test_expect_success 'a stopped broker holds the floor back, up to ten keep counts' '
	wait_policy b pki &&
	held=$(applied_seq b pki) &&
	kill -STOP "$(broker_pid b)" && test_at_end "kill -CONT $(broker_pid b) 2>/dev/null" &&
	changes 10 &&
	test "$(log_floor)" -le $((held + 1)) &&
	changes 20 &&
	n=$(log_entries) && echo "entries $n, floor $(log_floor), held $held" &&
	test "$n" -le 51 &&
	test "$(log_floor)" -gt $((held + 1))
'

test_expect_success 'revoked while it lagged behind the floor: dropped once it resumes' '
	"$MQADMIN" -d pki device revoke dev2 >/dev/null &&
	kill -CONT "$(broker_pid b)" &&
	wait_for 10 grep -q "^DISCONNECTED" dev2.out &&
	log_has b "the change log no longer reaches back to sequence [0-9]+; judging every client again" &&
	wait_policy b pki &&
	test_must_fail $MQCLIENT --port $(broker_port b) $(dev_args pki dev2) --id dev2 >out &&
	test_grep "^CONNACK 5" out &&
	$MQCLIENT --port $(broker_port b) $(dev_args pki dev1) --id dev1 >out &&
	test_grep "^CONNACK 0" out
'

test_expect_success 'the broker stops cleanly' '
	broker_stop b &&
	broker_sanitizer_clean
'

test_done
