#!/bin/bash
# Real-world check: a real mosquitto with mqadmin's certificates and
# require_certificate true + use_identity_as_username true (no plugin)
# accepts an mqadmin device and refuses a foreign CA's certificate.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"

test_expect_success 'setup: CA, server cert, device certs, a foreign CA' '
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki server issue localhost --san DNS:localhost --san IP:127.0.0.1 >/dev/null &&
	"$MQADMIN" -d pki device issue sensor1 >/dev/null &&
	"$MQADMIN" -d pki device issue watcher >/dev/null &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-keyout foreign-ca.key -out foreign-ca.crt -subj "/CN=mqcert CA" 2>/dev/null &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout foreign.key -out foreign.csr -subj "/CN=sensor1" 2>/dev/null &&
	openssl x509 -req -in foreign.csr -CA foreign-ca.crt -CAkey foreign-ca.key \
		-CAcreateserial -days 30 -out foreign.crt 2>/dev/null
'

test_expect_success 'start mosquitto with the listener block from broker-config' '
	port=$(broker_free_port) && echo "$port" >port &&
	echo fake >fake.so &&
	"$MQADMIN" -d pki broker-config --plugin fake.so --port "$port" --bind 127.0.0.1 >block &&
	grep -v "^plugin" block >conf &&
	echo "use_identity_as_username true" >>conf &&
	broker_start tls "$(cat conf)"
'

port=$(cat "$TRASH/port" 2>/dev/null)
dev() { echo "--cafile pki/ca.crt --cert pki/devices/$1/$1.crt --key pki/devices/$1/$1.key"; }

test_expect_success 'an mqadmin device cert is accepted: a message goes through' '
	mosquitto_sub -h localhost -p "$port" $(dev watcher) -t "t/x" -C 1 -W 10 >got 2>sub.err &
	sub=$!
	wait_for 10 grep -q "Sending SUBACK" "$(broker_log tls)"
	mosquitto_pub -h localhost -p "$port" $(dev sensor1) -t "t/x" -m "hello from sensor1" &&
	wait "$sub" &&
	echo "hello from sensor1" >expect &&
	test_cmp expect got &&
	test_grep "New client connected .*u.watcher.)" "$(broker_log tls)" &&
	test_grep "New client connected .*u.sensor1.)" "$(broker_log tls)"
'

test_expect_success 'a certificate from a foreign CA is refused' '
	! mosquitto_pub -h localhost -p "$port" --cafile pki/ca.crt --cert foreign.crt \
		--key foreign.key -t "t/x" -m nope 2>err &&
	wait_for 10 grep -q "certificate verify failed" "$(broker_log tls)" &&
	test $(grep -c "New client connected" "$(broker_log tls)") -eq 2
'

test_expect_success 'no client certificate at all is refused' '
	! mosquitto_pub -h localhost -p "$port" --cafile pki/ca.crt -t "t/x" -m nope 2>err &&
	wait_for 10 grep -q "peer did not return a certificate" "$(broker_log tls)"
'

test_expect_success 'TLS 1.3 is offered, TLS 1.1 is not' '
	openssl s_client -connect "127.0.0.1:$port" -tls1_3 -CAfile pki/ca.crt \
		-cert pki/devices/sensor1/sensor1.crt -key pki/devices/sensor1/sensor1.key \
		</dev/null >s13 2>&1 &&
	test_grep "^New, TLSv1.3, Cipher is" s13 &&
	! openssl s_client -connect "127.0.0.1:$port" -tls1_1 -CAfile pki/ca.crt \
		</dev/null >s11 2>&1
'

test_expect_success 'the server cert verifies against the host name' '
	openssl s_client -connect "127.0.0.1:$port" -verify_hostname localhost -verify_return_error \
		-CAfile pki/ca.crt -cert pki/devices/sensor1/sensor1.crt \
		-key pki/devices/sensor1/sensor1.key </dev/null >s 2>&1 &&
	test_grep "Verify return code: 0 (ok)" s
'

test_expect_success 'stop the broker' '
	broker_stop tls &&
	! broker_is_running tls
'

test_done
