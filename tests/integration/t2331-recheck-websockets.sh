#!/bin/bash
# The SIGHUP re-check window (plugin/auth.c, auth_no_cert): between RELOAD
# and the next TICK a session with no certificate and no record of ours is
# taken for an offline persistent session and let through. On websockets
# that is wrong: 2.0.11's loop runs lws_service() inside that window, so a
# NEW websockets CONNECT would get in without a certificate. A session the
# broker reports as websockets must be judged as at any other time.
#
# What this proves and what it does not: Debian's mosquitto has no
# websockets, so no real websockets client can connect here. The test
# links tests/shim/client_protocol_ws.c into a copy of mqcert.so, which
# makes mosquitto_client_protocol() answer mp_websockets for client id
# "ws". The real broker's re-check then hands the plugin the offline
# session "ws" (no certificate, no record) inside the real window, reported
# as websockets: it must be refused by no_certificate refuse, while the
# ordinary offline session "per" is still let through. The timing of a
# websockets CONNECT inside lws_service() is not exercised.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"
# Read by the shim inside the broker.
export MQSHIM_WS_CLIENT=ws

test_expect_success 'setup: devices, a copy of the plugin that sees client "ws" as websockets' '
	pki_setup pki ws per ctl &&
	san= &&
	if nm "$MQ_BUILD/obj/plugin/auth.o" | grep -q __asan; then
		san="-fsanitize=address,undefined"
	fi &&
	cc -shared -fPIC $san -Wl,--version-script="$MQ_ROOT/plugin/mqcert.map" \
		-o "$TRASH/mqcert-ws.so" "$MQ_BUILD"/obj/plugin/*.o \
		"$MQ_ROOT/tests/shim/client_protocol_ws.c" "$MQ_BUILD/libmqcore.a" \
		-lcrypto -lcjson -llmdb -ldl &&
	MQCERT_SO=$TRASH/mqcert-ws.so plugin_broker b pki &&
	log_has b "mqcert: store sequence [0-9]+ in force"
'
P="--port $(broker_port b 2>/dev/null)"

test_expect_success 'two persistent sessions connect with their certificates and go away' '
	$MQCLIENT $P $(dev_args pki ws) --id ws --persistent >out &&
	test_grep "^CONNACK 0" out &&
	$MQCLIENT $P $(dev_args pki per) --id per --persistent >out &&
	test_grep "^CONNACK 0" out &&
	wait_for 10 log_has b "Client ws (closed its connection|disconnected)" &&
	wait_for 10 log_has b "Client per (closed its connection|disconnected)"
'

test_expect_success 'SIGHUP: the "websockets" session is judged and refused, the offline one is not' '
	broker_hup b &&
	wait_for 10 log_has b "mqcert: refused client .ws. from .*: no client certificate" &&
	$MQCLIENT $P $(dev_args pki ctl) --id ctl >out &&
	test_grep "^CONNACK 0" out &&
	test_grep ! "refused client .per." "$(broker_log b)"
'

test_expect_success 'the broker still serves; the sessions come back with their certificates' '
	$MQCLIENT $P $(dev_args pki ws) --id ws --persistent >out &&
	test_grep "^CONNACK 0" out &&
	$MQCLIENT $P $(dev_args pki per) --id per --persistent >out &&
	test_grep "^CONNACK 0" out &&
	broker_stop b &&
	broker_sanitizer_clean
'

test_done
