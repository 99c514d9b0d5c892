#!/bin/bash
# The migration (docs/operations.md) from use_identity_as_username + acl_file to mqcert
# on a live broker, step by step, without reissuing a device certificate:
# adopt the CA, run the plugin in observe mode (it lets in what the listener
# verified and records what enforce would refuse), adopt the certificates it
# saw, import the acl_file, switch to enforce.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

# old_cert CA NAME: a client certificate as the old scripts made it.
old_cert() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout certs/$2.key \
		-subj "/CN=$2" -out certs/$2.csr 2>/dev/null &&
	openssl x509 -req -in certs/$2.csr -CA $1.crt -CAkey $1.key -CAcreateserial -days 60 \
		-out certs/$2.crt 2>/dev/null
}
dev() { echo "--cafile $TRASH/old/ca.crt --cert certs/$1.crt --key certs/$1.key --id $1"; }

test_expect_success 'setup: the old broker (use_identity_as_username, acl_file) and its fleet' '
	mkdir old certs &&
	openssl req -newkey rsa:2048 -x509 -nodes -sha256 -days 3650 -extensions v3_ca \
		-keyout old/ca.key -out old/ca.crt -subj "/CN=An MQTT broker/O=OwnTracks.org" 2>/dev/null &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
		-keyout other.key -out other.crt -subj "/CN=Other CA" -addext basicConstraints=critical,CA:TRUE 2>/dev/null &&
	for d in d1 d2 d3; do old_cert old/ca $d || return 1; done &&
	old_cert other f1 &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout old/server.key \
		-subj /CN=localhost -addext subjectAltName=DNS:localhost -out old/server.csr 2>/dev/null &&
	printf "subjectAltName=DNS:localhost\n" >san.ext &&
	openssl x509 -req -in old/server.csr -CA old/ca.crt -CAkey old/ca.key -CAcreateserial \
		-days 365 -extfile san.ext -out old/server.crt 2>/dev/null &&
	cat old/ca.crt other.crt >old/cafile.pem &&
	cat >old/acl <<-\ACL &&
	user d1
	topic readwrite fleet/d1/#
	pattern read public/#
	ACL
	port=$(broker_free_port) && echo $port >port &&
	cat >listener.conf <<-CONF &&
	listener $port 127.0.0.1
	cafile $TRASH/old/cafile.pem
	certfile $TRASH/old/server.crt
	keyfile $TRASH/old/server.key
	require_certificate true
	CONF
	BROKER_ASAN=0 broker_start b "$(cat listener.conf)
use_identity_as_username true
acl_file $TRASH/old/acl" &&
	$MQCLIENT --port $port $(dev d1) --pub fleet/d1/t hello >out &&
	test_grep "^CONNACK 0" out &&
	broker_stop b
'
P="--port $(cat "$TRASH/port" 2>/dev/null || echo 0)"

test_expect_success 'step 1: mqadmin init adopts the old CA' '
	"$MQADMIN" -d pki init --ca-cert old/ca.crt --ca-key old/ca.key --no-default >out &&
	test_grep "pki/ca.crt" out &&
	cmp old/ca.crt pki/ca.crt
'

test_expect_success 'step 2: the plugin in observe mode lets the fleet in and records it' '
	P="--port $(cat port)" &&
	broker_start b "$(cat listener.conf)
plugin $MQCERT_SO
plugin_opt_policy $TRASH/pki/policy.json
plugin_opt_mode observe
plugin_opt_acl_mode observe" &&
	log_has b "mqcert: mode observe, acl_mode observe" &&
	$MQCLIENT $P $(dev d1) --pub fleet/d1/t hello >out &&
	test_grep "^CONNACK 0" out &&
	$MQCLIENT $P $(dev d2) --pub anywhere/x hi >out &&
	test_grep "^CONNACK 0" out &&
	$MQCLIENT $P $(dev d2) --pub anywhere/x again >out &&
	$MQCLIENT $P $(dev f1) >out &&
	test_grep "^CONNACK 0" out &&
	log_has b "mqcert: observe: accepted client .d1. from 127.0.0.1 as .d1. \(identity, as use_identity_as_username would\); enforce would refuse it: certificate not on the allowlist" &&
	wait_for 10 grep -q "\"event\":\"acl_observe\".*\"topic\":\"anywhere/x\"" pki/audit/audit.log &&
	wait_for 10 test $(grep -c "\"event\":\"observe\"" pki/audit/audit.log) = 4 &&
	grep "\"event\":\"observe\".*\"identity\":\"d1\"" pki/audit/audit.log >line &&
	fpr=$(openssl x509 -in certs/d1.crt -outform DER | sha256sum | cut -c1-64) &&
	test_grep "\"fingerprint\":\"$fpr\"" line &&
	test_grep "\"subject\":\"CN=d1\"" line &&
	test_grep "\"not_after\":\"20" line &&
	test_grep "\"serial\":\"" line &&
	test $(ls pki/audit/seen | wc -l) = 3 &&
	cmp pki/audit/seen/$fpr.pem certs/d1.crt &&
	"$MQADMIN" -d pki audit log --denied >log &&
	test_grep "observe .* d1 .*let in; enforce would refuse: certificate not on the allowlist (identity d1)" log &&
	test_grep "acl_observe .* d2 .*write anywhere/x let through; enforce: not a device of the policy" log
'

test_expect_success 'step 3: device adopt registers exactly the certificates seen that this CA signed' '
	"$MQADMIN" -d pki device adopt --from-audit --dry-run >out 2>err &&
	test_grep "would adopt d1" out &&
	test_grep "would adopt d2" out &&
	test_grep ! "would adopt f1" out &&
	test_grep "refused: not signed by this CA" err &&
	"$MQADMIN" -d pki device list >before &&
	test_grep ! d1 before &&
	"$MQADMIN" -d pki device adopt --from-audit >out 2>err &&
	test_grep "^imported d1: " out &&
	test_grep "^imported d2: " out &&
	test_grep "2 certificate(s) adopted, 0 already registered, 1 refused" err &&
	"$MQADMIN" -d pki device list >list &&
	test_grep "^d1 " list && test_grep "^d2 " list &&
	test_grep ! "^d3 " list && test_grep ! "^f1 " list &&
	"$MQADMIN" -d pki device adopt --from-audit >out 2>err &&
	test_grep "0 certificate(s) adopted, 2 already registered, 1 refused" err
'

test_expect_success 'step 4: acl import of the old acl_file' '
	"$MQADMIN" -d pki acl import old/acl >out 2>err &&
	test_grep "device:d1 allow readwrite fleet/d1/#" out &&
	test_grep "all allow read public/#" out
'

test_expect_success 'step 5: enforce; the same certificates connect, the rest is refused' '
	P="--port $(cat port)" &&
	broker_stop b &&
	broker_start b "$(cat listener.conf)
plugin $MQCERT_SO
plugin_opt_policy $TRASH/pki/policy.json" &&
	$MQCLIENT $P $(dev d1) --pub fleet/d1/t hello >out &&
	test_grep "^CONNACK 0" out &&
	$MQCLIENT $P $(dev d2) >out &&
	test_grep "^CONNACK 0" out &&
	test_expect_code 1 $MQCLIENT $P $(dev d3) >out &&
	test_grep "^CONNACK 5" out &&
	test_expect_code 1 $MQCLIENT $P $(dev f1) >out &&
	test_grep "^CONNACK 5" out &&
	log_has b "refused client .d3. .*certificate not on the allowlist" &&
	$MQCLIENT $P $(dev d1) --sub "fleet/d1/#" --sub "#" >out &&
	printf "SUBACK 1\nSUBACK 128\n" >expect && grep "^SUBACK" out >actual && test_cmp expect actual &&
	$MQCLIENT $P $(dev d2) --pub anywhere/x denied >out &&
	log_has b "denied write .anywhere/x. for client .d2."
'

test_expect_success 'a bad plugin_opt_mode, acl_mode or subscribe stops the broker from starting' '
	broker_stop b &&
	for opt in "mode observ" "acl_mode off" "subscribe all"; do
		! BROKER_LEAKS=0 broker_start bad "$(cat listener.conf)
plugin $MQCERT_SO
plugin_opt_policy $TRASH/pki/policy.json
plugin_opt_$opt" 2>/dev/null || return 1
		log_has bad "mqcert: invalid plugin_opt_${opt% *} .${opt#* }.: use (enforce or observe|check or grant)" ||
			return 1
		broker_stop bad
	done
'

test_expect_success 'no sanitizer reports' '
	broker_stop b && broker_sanitizer_clean
'

test_done
