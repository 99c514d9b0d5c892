#!/bin/bash
# plugin_opt_clientid_binding, plugin_opt_identity and
# plugin_opt_no_certificate on real brokers.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

test_expect_success 'setup: PKI with two devices' '
	pki_setup pki dev1 dev1-b
'

test_expect_success 'prefix binding: USERNAME or USERNAME:suffix, nothing else' '
	plugin_broker pre pki "plugin_opt_clientid_binding prefix
plugin_opt_identity fingerprint" &&
	port=$(broker_port pre) &&
	$MQCLIENT --port $port $(dev_args pki dev1) --id dev1:kitchen >out &&
	test_grep "^CONNACK 0" out &&
	$MQCLIENT --port $port $(dev_args pki dev1) --id dev1 >out &&
	test_grep "^CONNACK 0" out &&
	for id in dev1: dev1-b dev1-b:x dev1x; do
		test_must_fail $MQCLIENT --port $port $(dev_args pki dev1) --id $id >out &&
		test_grep "^CONNACK 5" out || return 1
	done &&
	$MQCLIENT --port $port $(dev_args pki dev1-b) --id dev1-b:x >out &&
	test_grep "^CONNACK 0" out &&
	log_has pre "mqcert: refused client .dev1-b. from 127.0.0.1: client id does not match username .dev1. \(plugin_opt_clientid_binding prefix\)"
'

test_expect_success 'identity fingerprint: the log shows the fingerprint as identity' '
	fpr=$(openssl x509 -in pki/devices/dev1/dev1.crt -outform DER | sha256sum | cut -c1-64) &&
	log_has pre "mqcert: accepted client .dev1:kitchen. from 127.0.0.1 as device .dev1. \(username .dev1., identity .$fpr.," &&
	broker_stop pre
'

test_expect_success 'no binding: any client id, but the username still cannot be spoofed' '
	plugin_broker none pki "plugin_opt_clientid_binding none
plugin_opt_identity dn" &&
	port=$(broker_port none) &&
	$MQCLIENT --port $port $(dev_args pki dev1) --id whatever >out &&
	test_grep "^CONNACK 0" out &&
	log_has none "mqcert: accepted client .whatever. from 127.0.0.1 as device .dev1. \(username .dev1., identity .CN=dev1.," &&
	test_must_fail $MQCLIENT --port $port $(dev_args pki dev1) --id whatever --username dev1-b >out &&
	test_grep "^CONNACK 5" out &&
	broker_stop none
'

test_expect_success 'identity san-dns: a certificate without that field is refused clearly' '
	plugin_broker san pki "plugin_opt_identity san-dns" &&
	port=$(broker_port san) &&
	test_must_fail $MQCLIENT --port $port $(dev_args pki dev1) --id dev1 >out &&
	test_grep "^CONNACK 5" out &&
	log_has san "mqcert: refused client .dev1. from 127.0.0.1: identity field san-dns: certificate has no such field \(identity .-., serial [0-9a-f]+," &&
	broker_stop san
'

test_expect_success 'no certificate: refused by the plugin by default' '
	plugin_broker nocert pki &&
	port=$(broker_port nocert) && broker_stop nocert &&
	broker_start nocert "$(sed "s/^require_certificate true/require_certificate false/" nocert.block)" &&
	test_must_fail $MQCLIENT --port $port --cafile pki/ca.crt --id dev1 >out &&
	test_grep "^CONNACK 5" out &&
	log_has nocert "mqcert: refused client .dev1. from 127.0.0.1: no client certificate \(the listener needs require_certificate true\) \(identity .-., serial -, fingerprint -\)" &&
	broker_stop nocert
'

test_expect_success 'no certificate with no_certificate defer: password_file decides' '
	touch passwd && mosquitto_passwd -b passwd legacy s3cret &&
	plugin_broker defer pki &&
	port=$(broker_port defer) && broker_stop defer &&
	broker_start defer "$(sed "s/^require_certificate true/require_certificate false/" defer.block)
plugin_opt_no_certificate defer
password_file $TRASH/passwd
allow_anonymous false" &&
	$MQCLIENT --port $port --cafile pki/ca.crt --id legacy --username legacy --password s3cret >out &&
	test_grep "^CONNACK 0" out &&
	test_must_fail $MQCLIENT --port $port --cafile pki/ca.crt --id legacy --username legacy --password wrong >out &&
	test_grep "^CONNACK 5" out &&
	test_must_fail $MQCLIENT --port $port --cafile pki/ca.crt --id anon >out &&
	test_grep "^CONNACK 5" out &&
	test_grep ! "mqcert: refused" "$(broker_log defer)"
'

test_expect_success 'defer: a deferred client survives SIGHUP, judged again by password_file' '
	port=$(broker_port defer) &&
	stay_client legacy.out --port $port --cafile pki/ca.crt --id legacy --username legacy --password s3cret &&
	test_grep "^READY" legacy.out &&
	broker_hup defer &&
	wait_for 10 eval "test \$(log_count defer \"mqcert: store sequence\") -ge 2" &&
	test_grep ! DISCONNECTED legacy.out &&
	kill $(cat legacy.out.pid) &&
	broker_stop defer
'

test_expect_success 'no sanitizer report from any of these brokers' '
	broker_sanitizer_clean
'

test_done
