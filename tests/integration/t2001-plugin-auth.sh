#!/bin/bash
# The plugin at CONNECT: which certificates get in, under which username,
# and with which client ids.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

test_expect_success 'setup: PKI with two devices, a foreign CA, an unlisted cert' '
	pki_setup pki dev1 dev2 &&
	"$MQADMIN" -d pki acl add --all --topic "t/#" --access readwrite >/dev/null &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-keyout foreign-ca.key -out foreign-ca.crt -subj "/CN=mqcert CA" 2>/dev/null &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout foreign.key -out foreign.csr -subj "/CN=dev1" 2>/dev/null &&
	openssl x509 -req -in foreign.csr -CA foreign-ca.crt -CAkey foreign-ca.key \
		-CAcreateserial -days 30 -out foreign.crt 2>/dev/null &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout rogue.key -out rogue.csr -subj "/CN=dev1" 2>/dev/null &&
	openssl x509 -req -in rogue.csr -CA pki/ca.crt -CAkey pki/ca.key \
		-set_serial 0x4242 -days 30 -out rogue.crt 2>/dev/null &&
	openssl verify -CAfile pki/ca.crt rogue.crt
'

test_expect_success 'the broker starts with the plugin and loads the policy' '
	plugin_broker b pki &&
	log_has b "mqcert: store sequence [0-9]+ in force \(2 devices, 1 rules" &&
	log_has b "mqcert: version [0-9.]+, store .*/pki/store, identity cn, clientid_binding exact, no_certificate refuse"
'
port=$(broker_port b)

test_expect_success 'a listed device gets in with the policy username and exchanges a message' '
	stay_client sub.out --port '"$port"' $(dev_args pki dev2) --id dev2 --sub t/# &&
	test_grep "^READY" sub.out &&
	$MQCLIENT --port '"$port"' $(dev_args pki dev1) --id dev1 --pub t/x "hello from dev1" >pub.out &&
	test_grep "^CONNACK 0" pub.out &&
	wait_for 10 grep -q "^MSG t/x hello from dev1" sub.out &&
	log_has b "mqcert: accepted client .dev1. from 127.0.0.1 as device .dev1. \(username .dev1., identity .dev1., serial [0-9a-f]+, fingerprint [0-9a-f]{16}\)" &&
	log_has b "New client connected from 127.0.0.1.* as dev1 .*u.dev1.\)"
'

test_expect_success 'the username given in CONNECT may be the device username' '
	$MQCLIENT --port '"$port"' $(dev_args pki dev1) --id dev1 --username dev1 >out &&
	test_grep "^CONNACK 0" out
'

test_expect_success 'a certificate from a foreign CA is refused by TLS' '
	test_must_fail $MQCLIENT --port '"$port"' --cafile pki/ca.crt --cert foreign.crt \
		--key foreign.key --id dev1 >out &&
	test_grep ! "^CONNACK 0" out &&
	wait_for 10 log_has b "certificate verify failed"
'

test_expect_success 'a certificate signed by the CA key but not issued by mqadmin is refused' '
	test_must_fail $MQCLIENT --port '"$port"' --cafile pki/ca.crt --cert rogue.crt \
		--key rogue.key --id dev1 >out &&
	test_grep "^CONNACK 5" out &&
	log_has b "mqcert: refused client .dev1. from 127.0.0.1: certificate not on the allowlist \(identity .dev1., serial 4242, fingerprint [0-9a-f]{16}\)"
'

test_expect_success 'a spoofed username is refused' '
	test_must_fail $MQCLIENT --port '"$port"' $(dev_args pki dev1) --id dev1 --username dev2 >out &&
	test_grep "^CONNACK 5" out &&
	log_has b "mqcert: refused client .dev1. from 127.0.0.1: username spoofing: CONNECT says .dev2., certificate is .dev1."
'

test_expect_success 'a foreign client id is refused (exact binding by default)' '
	test_must_fail $MQCLIENT --port '"$port"' $(dev_args pki dev1) --id dev2 >out &&
	test_grep "^CONNACK 5" out &&
	log_has b "mqcert: refused client .dev2. from 127.0.0.1: client id does not match username .dev1. \(plugin_opt_clientid_binding exact\)" &&
	test_must_fail $MQCLIENT --port '"$port"' $(dev_args pki dev1) --id dev1:x >out &&
	test_grep "^CONNACK 5" out &&
	test_must_fail $MQCLIENT --port '"$port"' $(dev_args pki dev1) --id "" >out &&
	test_grep "^CONNACK 5" out
'

test_expect_success 'the refused takeover left dev2 connected' '
	$MQCLIENT --port '"$port"' $(dev_args pki dev1) --id dev1 --pub t/y still-there >out &&
	wait_for 10 grep -q "^MSG t/y still-there" sub.out &&
	test_grep ! DISCONNECTED sub.out
'

test_expect_success 'stop the broker; no sanitizer report' '
	kill $(cat sub.out.pid) &&
	broker_stop b && ! broker_is_running b &&
	broker_sanitizer_clean
'

test_done
