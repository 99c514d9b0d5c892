#!/bin/bash
# Two brokers on one PKI directory: each keeps its own state file, named
# after its instance (plugin_opt_instance, or its first listener, the same
# at every restart), and mqadmin audit merges them, saying which broker
# each client is on and which broker stopped.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

# audit_has PYEXPR: mqadmin audit --json succeeds and PYEXPR holds for the
# list a of {"name", "broker", ...}.
audit_has() {
	"$MQADMIN" -d pki audit --json >audit.json 2>audit.err &&
	/usr/bin/python3 -c 'import json, sys
a = json.load(open("audit.json"))
sys.exit(0 if eval(sys.argv[1]) else 1)' "$1"
}

test_expect_success 'setup: one PKI, two brokers on it' '
	pki_setup pki dev1 dev2 dev3 &&
	plugin_broker b1 pki &&
	plugin_broker b2 pki &&
	log_has b1 "mqcert: audit log .*/pki/audit/audit.log, state file .*/pki/audit/connected-127.0.0.1-$(broker_port b1).json" &&
	log_has b2 "mqcert: audit log .*/pki/audit/audit.log, state file .*/pki/audit/connected-127.0.0.1-$(broker_port b2).json" &&
	log_has b2 "mqcert: instance 127.0.0.1-$(broker_port b2), "
'
I1=127.0.0.1-$(broker_port b1)
I2=127.0.0.1-$(broker_port b2)

test_expect_success 'a client on each: audit lists both, each with its broker' '
	stay_client c1.out --port $(broker_port b1) $(dev_args pki dev1) --id dev1 &&
	stay_client c2.out --port $(broker_port b2) $(dev_args pki dev2) --id dev2 &&
	wait_for 10 audit_has "sorted((o[\"name\"], o[\"broker\"]) for o in a) == [(\"dev1\", \"$I1\"), (\"dev2\", \"$I2\")]" &&
	"$MQADMIN" -d pki audit >out 2>err &&
	test_grep "^dev1 .* $I1 " out &&
	test_grep "^dev2 .* $I2 " out &&
	test ! -s err
'

test_expect_success 'the second broker stops: reported for it alone; the first still lists its client' '
	broker_stop b2 &&
	"$MQADMIN" -d pki audit >out 2>err &&
	test_grep "warning: broker .$I2. stopped at .* (pki/audit/connected-$I2.json): nobody is connected through it" err &&
	test_grep ! "the broker stopped" err &&
	test_grep "^dev1 .* $I1 " out &&
	test_grep ! "^dev2 " out
'

test_expect_success 'restarted with the same configuration: the same instance and file' '
	broker_start b2 "$(cat b2.block)" &&
	log_has b2 "mqcert: instance $I2, " &&
	stay_client c3.out --port $(broker_port b2) $(dev_args pki dev3) --id dev3 &&
	wait_for 10 audit_has "sorted((o[\"name\"], o[\"broker\"]) for o in a) == [(\"dev1\", \"$I1\"), (\"dev3\", \"$I2\")]" &&
	test "$(ls pki/audit | grep -c "^connected-.*json$")" = 2 &&
	broker_stop b2
'

test_expect_success 'plugin_opt_instance names the file; the first listener is found through include_dir' '
	mkdir conf.d &&
	port=$(broker_free_port) &&
	"$MQADMIN" -d pki broker-config --plugin "$MQCERT_SO" --port "$port" --bind 127.0.0.1 >conf.d/10-mqcert.conf &&
	broker_start inc "include_dir $TRASH/conf.d" &&
	log_has inc "mqcert: instance 127.0.0.1-$port, " &&
	broker_stop inc &&
	plugin_broker named pki "plugin_opt_instance edge-1" &&
	log_has named "state file .*/pki/audit/connected-edge-1.json" &&
	stay_client n.out --port $(broker_port named) $(dev_args pki dev2) --id dev2 &&
	wait_for 10 audit_has "(\"dev2\", \"edge-1\") in [(o[\"name\"], o[\"broker\"]) for o in a]" &&
	broker_stop named
'

test_expect_success 'an invalid plugin_opt_instance stops the broker from starting' '
	! BROKER_LEAKS=0 broker_start badinst "$(cat b1.block)
plugin_opt_instance ../x" 2>err &&
	log_has badinst "mqcert: invalid plugin_opt_instance .\.\./x.: use 1-64 characters of A-Za-z0-9._-"
'

test_expect_success 'no sanitizer reports' '
	broker_stop b1 &&
	broker_sanitizer_clean
'

test_done
