#!/bin/bash
# plugin_opt_read_fastpath. The read fast path (plugin/access.c) allows a
# client's deliveries without the read check while every subscription it
# has was allowed by mqcert's subscribe check. A plugin loaded before
# mqcert that allows a SUBSCRIBE itself (and defers READ) keeps that
# SUBSCRIBE from mqcert: the fast path then allows every delivery, also
# what mqcert's rules deny. tests/shim/plugin_subgrant.c is such a plugin.
# With the default (true) the test shows that leak; with false each
# delivery is read-checked and the denied one is not delivered. Then a bad
# value: the plugin refuses to load.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

acl() { "$MQADMIN" -d pki acl add "$@" >/dev/null; }

# subgrant_broker NAME EXTRA: a broker loading subgrant.so, then mqcert
# (with the EXTRA plugin_opt_ lines).
subgrant_broker() {
	local port
	port=$(broker_free_port) &&
	echo "$port" >"$TRASH/$1.port" &&
	"$MQADMIN" -d pki broker-config --plugin "$MQCERT_SO" --port "$port" \
		--bind 127.0.0.1 >"$TRASH/$1.block" &&
	sed "/^plugin /i plugin $TRASH/subgrant.so" "$TRASH/$1.block" >"$TRASH/$1.block2" &&
	broker_start "$1" "$(cat "$TRASH/$1.block2")
$2"
}

test_expect_success 'setup: rules, the subscribe-granting plugin, two brokers with it first' '
	pki_setup pki ctl sub sub2 &&
	acl --all --topic "fleet/#" --access read &&
	acl --all --deny --topic "fleet/secret/#" --access read &&
	acl --all --topic "mark/#" --access read &&
	acl --device ctl --topic "#" --access write &&
	cc -shared -fPIC -O1 -o subgrant.so "$MQ_ROOT/tests/shim/plugin_subgrant.c" &&
	subgrant_broker on "" &&
	subgrant_broker off "plugin_opt_read_fastpath false" &&
	log_has off "mqcert: read_fastpath false: every delivery is read-checked" &&
	! log_has on "read_fastpath"
'
ON="--port $(broker_port on 2>/dev/null)"
OFF="--port $(broker_port off 2>/dev/null)"

test_expect_success 'default (true): the plugin before mqcert granted "#", a denied topic leaks' '
	cmd_client ctl $ON $(dev_args pki ctl) --id ctl &&
	cmd_client sub $ON $(dev_args pki sub) --id sub &&
	test "$(sub_code sub "#")" = 1 &&
	client_do ctl "pub fleet/secret/x leak-on" &&
	client_do ctl "pub mark/on on" &&
	wait_for 10 grep -q "^MSG mark/on on" sub.out &&
	test_grep "^MSG fleet/secret/x leak-on" sub.out
'

test_expect_success 'read_fastpath false: the same delivery is read-checked and denied' '
	cmd_client ctl2 $OFF $(dev_args pki ctl) --id ctl &&
	cmd_client sub2 $OFF $(dev_args pki sub2) --id sub2 &&
	test "$(sub_code sub2 "#")" = 1 &&
	client_do ctl2 "pub fleet/secret/x leak-off" &&
	client_do ctl2 "pub fleet/open/x open-off" &&
	client_do ctl2 "pub mark/off off" &&
	wait_for 10 grep -q "^MSG mark/off off" sub2.out &&
	test_grep "^MSG fleet/open/x open-off" sub2.out &&
	test_grep ! "leak-off" sub2.out &&
	log_has off "mqcert: denied read .fleet/secret/x. for client .sub2."
'

test_expect_success 'stop the brokers; no sanitizer report' '
	for c in ctl sub ctl2 sub2; do
		kill $(cat $c.out.pid) || return 1
	done &&
	broker_stop on && broker_stop off &&
	broker_sanitizer_clean
'

test_expect_success 'a bad value: the plugin refuses to load, saying what to use' '
	test_must_fail plugin_broker bad pki "plugin_opt_read_fastpath yes" 2>err &&
	log_has bad "invalid plugin_opt_read_fastpath .yes.: use true or false"
'

test_done
