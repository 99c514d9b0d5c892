#!/bin/bash
# Start-up: a missing store fails closed without stopping the broker, and
# plugin options are checked strictly. (Before issue 15 the subject was a
# missing policy.json; the plugin now reads DIR/store.)
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

test_expect_success 'setup: PKI with one device, store moved away' '
	pki_setup pki dev1 &&
	mv pki/store store.saved
'

test_expect_success 'with no store the broker starts and says why it refuses everyone' '
	plugin_broker b pki &&
	log_has b "mqcert: store .*/pki/store: cannot open it: No such file or directory \(run .mqadmin doctor. .*\); refusing every client until it is readable"
'
port=$(broker_port b)

test_expect_success 'every client is refused while there is no store' '
	test_must_fail $MQCLIENT --port '"$port"' $(dev_args pki dev1) --id dev1 >out &&
	test_grep "^CONNACK 5" out &&
	log_has b "mqcert: refused client .dev1. from 127.0.0.1: the store .*/pki/store is not readable" &&
	test "$(log_count b "cannot open it")" = 1 &&
	broker_is_running b
'

test_expect_success 'a store created later lets clients in without a restart' '
	mv store.saved pki/store &&
	wait_for 10 log_has b "mqcert: store sequence [0-9]+ in force \(1 devices, 0 rules" &&
	$MQCLIENT --port '"$port"' $(dev_args pki dev1) --id dev1 >out &&
	test_grep "^CONNACK 0" out &&
	broker_stop b
'

test_expect_success 'trailing whitespace after an option value is ignored' '
	port=$(broker_free_port) &&
	broker_start ws "$(sed "s|^plugin_opt_policy .*|& \t |" b.block)" &&
	log_has ws "mqcert: store sequence [0-9]+ in force" &&
	broker_stop ws
'

test_expect_success 'plugin_opt_store DIR/store/ (the new spelling) works alike' '
	broker_start st "$(sed "s|^plugin_opt_policy .*|plugin_opt_store $TRASH/pki/store/|" b.block)" &&
	log_has st "mqcert: version .*, store $TRASH/pki/store, " &&
	log_has st "mqcert: store sequence [0-9]+ in force" &&
	broker_stop st
'

test_expect_success 'an unknown option stops the broker from starting' '
	! BROKER_LEAKS=0 broker_start typo "$(cat b.block)
plugin_opt_polcy /tmp/x" 2>err &&
	log_has typo "mqcert: unknown option plugin_opt_polcy: known are store, policy, identity, clientid_binding, no_certificate"
'

test_expect_success 'neither plugin_opt_store nor plugin_opt_policy stops the broker from starting' '
	! BROKER_LEAKS=0 broker_start nopol "$(grep -v -e plugin_opt_policy -e plugin_opt_store b.block)" 2>err &&
	log_has nopol "mqcert: plugin_opt_store is missing"
'

test_expect_success 'a bad option value stops the broker from starting' '
	! BROKER_LEAKS=0 broker_start badval "$(cat b.block)
plugin_opt_identity common-name" 2>err &&
	log_has badval "mqcert: invalid plugin_opt_identity .common-name.: use cn, dn, san-dns, san-email, san-uri or fingerprint"
'

test_expect_success 'no sanitizer report from any of these brokers' '
	broker_sanitizer_clean
'

test_done
