#!/bin/bash
# plugin_opt_identity san-dns / san-email with devices mqadmin issued with
# --san (and one whose CSR asked for its SAN): accepted, the username is
# still the device's username from the policy, the identity is the SAN;
# a device without that SAN is refused.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

test_expect_success 'setup: devices with and without SANs, a rule on %u' '
	pki_setup pki plain &&
	"$MQADMIN" -d pki device issue sen1 --username sensor-one \
		--san DNS:sen1.devices.example --san email:sen1@example.com >/dev/null &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout own.key \
		-out own.csr -subj /CN=whatever -addext "subjectAltName=DNS:own.devices.example" 2>/dev/null &&
	"$MQADMIN" -d pki device issue own --csr own.csr 2>err >/dev/null &&
	test_grep "the certificate carries the CSR.s SANs DNS:own.devices.example" err &&
	"$MQADMIN" -d pki acl add --all --topic "devices/%u/#" --access readwrite >/dev/null
'

test_expect_success 'san-dns: a device issued with --san DNS: is accepted as its policy username' '
	plugin_broker dns pki "plugin_opt_identity san-dns" &&
	port=$(broker_port dns) &&
	$MQCLIENT --port $port $(dev_args pki sen1) --id sensor-one \
		--sub "devices/sensor-one/#" --sub "devices/sen1.devices.example/#" >out &&
	test_grep "^CONNACK 0" out &&
	printf "SUBACK 1\nSUBACK 128\n" >expect &&
	grep "^SUBACK" out >actual &&
	test_cmp expect actual &&
	log_has dns "mqcert: accepted client .sensor-one. from 127.0.0.1 as device .sen1. \(username .sensor-one., identity .sen1\.devices\.example.,"
'

test_expect_success 'san-dns: the client id binding is to the username, not to the SAN' '
	port=$(broker_port dns) &&
	test_must_fail $MQCLIENT --port $port $(dev_args pki sen1) --id sen1.devices.example >out &&
	test_grep "^CONNACK 5" out
'

test_expect_success 'san-dns: a CSR device whose request carried the SAN is accepted' '
	port=$(broker_port dns) &&
	$MQCLIENT --port $port --cafile pki/ca.crt --cert pki/devices/own/own.crt --key own.key \
		--id own >out &&
	test_grep "^CONNACK 0" out &&
	log_has dns "accepted client .own. from 127.0.0.1 as device .own. \(username .own., identity .own\.devices\.example.,"
'

test_expect_success 'san-dns: a device issued without --san is refused, naming the field' '
	port=$(broker_port dns) &&
	test_must_fail $MQCLIENT --port $port $(dev_args pki plain) --id plain >out &&
	test_grep "^CONNACK 5" out &&
	log_has dns "mqcert: refused client .plain. from 127.0.0.1: identity field san-dns: certificate has no such field"
'

test_expect_success 'renew keeps the SAN: the new certificate is accepted with the same identity' '
	"$MQADMIN" -d pki device renew sen1 >/dev/null &&
	wait_policy dns pki &&
	port=$(broker_port dns) &&
	$MQCLIENT --port $port $(dev_args pki sen1) --id sensor-one >out &&
	test_grep "^CONNACK 0" out &&
	test "$(log_count dns "as device .sen1. \(username .sensor-one., identity .sen1\.devices\.example.,")" -ge 2 &&
	broker_stop dns
'

test_expect_success 'san-email: the email SAN is the identity, the username unchanged' '
	plugin_broker mail pki "plugin_opt_identity san-email" &&
	port=$(broker_port mail) &&
	$MQCLIENT --port $port $(dev_args pki sen1) --id sensor-one >out &&
	test_grep "^CONNACK 0" out &&
	log_has mail "as device .sen1. \(username .sensor-one., identity .sen1@example\.com.," &&
	test_must_fail $MQCLIENT --port $port --cafile pki/ca.crt --cert pki/devices/own/own.crt \
		--key own.key --id own >out &&
	log_has mail "refused client .own. from 127.0.0.1: identity field san-email: certificate has no such field" &&
	broker_stop mail
'

test_expect_success 'no sanitizer report from any of these brokers' '
	broker_sanitizer_clean
'

test_done
