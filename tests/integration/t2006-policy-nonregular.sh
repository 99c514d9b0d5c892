#!/bin/bash
# Nothing at the store's path can stop the broker from starting, serving or
# exiting. Before issue 15 the subject was policy.json (a FIFO, /dev/zero
# behind a symlink, a file over the size cap, hand edits with a JSON error
# or a duplicate member); the plugin now reads DIR/store, so the same
# dangers are: a FIFO or /dev/zero in place of data.mdb (LMDB would block
# in open() on a FIFO), garbage in place of data.mdb, a store of an
# unknown version. Hand edits now go through `mqadmin policy import`, which
# refuses the broken ones before the broker ever sees them. (There is no
# size cap any more: the plugin never reads the store in full.)
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

test_expect_success 'setup: PKI with two devices; the store kept aside, a FIFO as data.mdb' '
	pki_setup pki dev1 dev2 &&
	cp -a pki/store good.store &&
	rm pki/store/data.mdb &&
	mkfifo pki/store/data.mdb
'

test_expect_success 'a FIFO at start-up: the broker listens and refuses every client' '
	plugin_broker s pki &&
	log_has s "mqcert: store .*/pki/store: .*/pki/store/data.mdb is a FIFO, not a regular file \(run .mqadmin doctor.\); refusing every client until it is readable" &&
	test_must_fail $MQCLIENT --port $(broker_port s) $(dev_args pki dev1) --id dev1 >out &&
	test_grep "^CONNACK 5" out &&
	broker_is_running s
'

test_expect_success 'and SIGTERM stops it within 5 seconds' '
	term_exits s 5 &&
	broker_stop s
'

test_expect_success '/dev/zero behind a symlink as data.mdb is refused at once' '
	rm pki/store/data.mdb &&
	ln -s /dev/zero pki/store/data.mdb &&
	plugin_broker z pki &&
	log_has z "mqcert: store .*/pki/store: .*/pki/store/data.mdb is a character device, not a regular file" &&
	term_exits z 5 &&
	broker_stop z
'

test_expect_success 'garbage as data.mdb: refused with LMDB'"'"'s reason, the broker serves' '
	rm pki/store/data.mdb &&
	head -c 65536 /dev/urandom >pki/store/data.mdb &&
	plugin_broker g pki &&
	log_has g "mqcert: store .*/pki/store: .*; refusing every client until it is readable" &&
	test_must_fail $MQCLIENT --port $(broker_port g) $(dev_args pki dev1) --id dev1 >out &&
	test_grep "^CONNACK 5" out &&
	term_exits g 5 &&
	broker_stop g
'

test_expect_success 'setup: the good store back, a broker with dev1 connected' '
	rm -r pki/store && cp -a good.store pki/store &&
	plugin_broker b pki &&
	stay_client dev1.out --port $(broker_port b) $(dev_args pki dev1) --id dev1 &&
	test_grep "^READY" dev1.out
'
P="--port $(broker_port b)"

test_expect_success 'a FIFO swapped in for data.mdb under a running broker changes nothing' '
	mv pki/store/data.mdb data.mdb.kept && mkfifo pki/store/data.mdb &&
	$MQCLIENT $P $(dev_args pki dev2) --id dev2 >out &&
	test_grep "^CONNACK 0" out &&
	test_grep ! DISCONNECTED dev1.out &&
	rm pki/store/data.mdb && mv data.mdb.kept pki/store/data.mdb
'

test_expect_success 'a hand edit with a JSON error is refused by policy import; nothing changes' '
	policy_json pki good.json &&
	/usr/bin/python3 - <<-\PY &&
	text = open("good.json").read()
	open("broken.json", "w").write(text.replace("\"username\":\"dev2\",", "\"username\":\"dev2\"", 1))
	PY
	seq=$(store_seq pki) &&
	test_must_fail "$MQADMIN" -d pki policy import broken.json 2>err &&
	test_grep "broken.json:[0-9]*:[0-9]*: expected" err &&
	test "$(store_seq pki)" = "$seq" &&
	$MQCLIENT $P $(dev_args pki dev2) --id dev2 >out &&
	test_grep "^CONNACK 0" out
'

test_expect_success 'an appended duplicate "status" is refused by policy import' '
	/usr/bin/python3 - <<-\PY &&
	text = open("good.json").read()
	j = text.rindex("\"status\":\"active\"") + len("\"status\":\"active\"")
	open("dup.json", "w").write(text[:j] + ",\"status\":\"revoked\"" + text[j:])
	PY
	test_must_fail "$MQADMIN" -d pki policy import dup.json 2>err &&
	test_grep "duplicate member devices\[1\]\.certs\[0\]\.status: JSON readers disagree" err &&
	$MQCLIENT $P $(dev_args pki dev2) --id dev2 >out &&
	test_grep "^CONNACK 0" out
'

test_expect_success 'a valid import is applied: dev1 revoked and dropped' '
	policy_edit pki dev1 status=revoked &&
	wait_policy b pki &&
	wait_for 10 grep -q "^DISCONNECTED" dev1.out &&
	test_must_fail $MQCLIENT $P $(dev_args pki dev1) --id dev1 >out &&
	test_grep "^CONNACK 5" out
'

test_expect_success 'a store of an unknown version under a running broker: one line, the last state kept' '
	store_meta_set pki version 99 &&
	store_meta_set pki seq $(( $(store_seq pki) + 1 )) &&
	wait_for 10 log_has b "mqcert: store .*/pki/store: the store is now version 99; this mqcert reads version 1: upgrade mqcert .*; keeping the state of sequence [0-9]+" &&
	test "$(log_count b "is now version 99")" = 1 &&
	broker_is_running b &&
	test_must_fail $MQCLIENT $P $(dev_args pki dev2) --id dev2 >out &&
	test_grep "^CONNACK 5" out
'

test_expect_success 'SIGTERM stops the broker within 5 seconds' '
	term_exits b 5 &&
	broker_stop b
'

test_expect_success 'at start-up, an unknown version: one line, every client refused, the broker runs' '
	plugin_broker v pki &&
	log_has v "mqcert: store .*/pki/store: .*is version 99; this mqcert reads version 1: upgrade mqcert.*; refusing every client until it is readable" &&
	test_must_fail $MQCLIENT --port $(broker_port v) $(dev_args pki dev2) --id dev2 >out &&
	test_grep "^CONNACK 5" out &&
	store_meta_set pki version 1 &&
	wait_for 10 log_has v "mqcert: store sequence [0-9]+ in force" &&
	test "$(log_count v "is version 99")" = 1 &&
	$MQCLIENT --port $(broker_port v) $(dev_args pki dev2) --id dev2 >out &&
	test_grep "^CONNACK 0" out &&
	term_exits v 5 &&
	broker_stop v
'

test_expect_success 'no sanitizer report from these brokers' '
	broker_sanitizer_clean
'

test_done
