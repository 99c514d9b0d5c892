#!/bin/bash
# Start-up: a missing policy fails closed without stopping the broker, and
# plugin options are checked strictly.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

test_expect_success 'setup: PKI with one device, policy moved away' '
	pki_setup pki dev1 &&
	mv pki/policy.json policy.saved
'

test_expect_success 'with no policy the broker starts and says why it refuses everyone' '
	plugin_broker b pki &&
	log_has b "mqcert: no valid policy \(cannot open .*/pki/policy.json: No such file or directory\); refusing every client until .*/pki/policy.json is valid"
'
port=$(broker_port b)

test_expect_success 'every client is refused while there is no policy' '
	test_must_fail $MQCLIENT --port '"$port"' $(dev_args pki dev1) --id dev1 >out &&
	test_grep "^CONNACK 5" out &&
	log_has b "mqcert: refused client .dev1. from 127.0.0.1: no valid policy is loaded" &&
	broker_is_running b
'

test_expect_success 'a policy written later lets clients in without a restart' '
	cp policy.saved pki/policy.json &&
	wait_for 10 log_has b "mqcert: policy generation [0-9]+ loaded \(1 devices, 0 rules\)" &&
	$MQCLIENT --port '"$port"' $(dev_args pki dev1) --id dev1 >out &&
	test_grep "^CONNACK 0" out &&
	broker_stop b
'

test_expect_success 'trailing whitespace after an option value is ignored' '
	port=$(broker_free_port) &&
	broker_start ws "$(sed "s|^plugin_opt_policy .*|& \t |" b.block)" &&
	log_has ws "mqcert: policy generation [0-9]+ loaded" &&
	broker_stop ws
'

test_expect_success 'an unknown option stops the broker from starting' '
	! BROKER_LEAKS=0 broker_start typo "$(cat b.block)
plugin_opt_polcy /tmp/x" 2>err &&
	log_has typo "mqcert: unknown option plugin_opt_polcy: known are policy, identity, clientid_binding, no_certificate"
'

test_expect_success 'a missing plugin_opt_policy stops the broker from starting' '
	! BROKER_LEAKS=0 broker_start nopol "$(grep -v plugin_opt_policy b.block)" 2>err &&
	log_has nopol "mqcert: plugin_opt_policy is missing"
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
