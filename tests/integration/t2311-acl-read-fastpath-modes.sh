#!/bin/bash
# The read fast path (plugin/access.c) is only for plugin_opt_subscribe
# check and plugin_opt_acl_mode enforce: with subscribe grant a '#'
# subscription is granted and every delivery must still be read-checked;
# with acl_mode observe every read the rules deny is let through but must
# still be recorded. Also a renewal subscription keeps deliveries checked.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

acl() { "$MQADMIN" -d pki acl add "$@" >/dev/null; }

test_expect_success 'setup: devices, rules, a broker with subscribe grant, one with acl_mode observe' '
	pki_setup pki ctl sub obs ren &&
	acl --all --topic "fleet/#" --access read &&
	acl --all --deny --topic "fleet/secret/#" --access read &&
	acl --all --topic "mark/#" --access read &&
	acl --device ctl --topic "#" --access write &&
	plugin_broker g pki "plugin_opt_subscribe grant" &&
	plugin_broker o pki "plugin_opt_acl_mode observe" &&
	log_has g "subscribe grant" && log_has o "acl_mode observe"
'
G="--port $(broker_port g)"
O="--port $(broker_port o)"

test_expect_success 'subscribe grant: # is granted, a denied topic is still not delivered' '
	cmd_client ctl $G $(dev_args pki ctl) --id ctl &&
	cmd_client sub $G $(dev_args pki sub) --id sub &&
	test "$(sub_code sub "mark/#")" = 1 &&
	test "$(sub_code sub "#")" = 1 &&
	client_do ctl "pub fleet/secret/x leak-g1" &&
	client_do ctl "pub fleet/open/x open-g1" &&
	wait_for 10 grep -q "^MSG fleet/open/x open-g1" sub.out &&
	test_grep ! "leak-g1" sub.out &&
	log_has g "mqcert: denied read .fleet/secret/x. for client .sub."
'

test_expect_success 'subscribe grant: also for a filter the rules allow, subscribed first' '
	cmd_client ren $G $(dev_args pki ren) --id ren &&
	test "$(sub_code ren "fleet/open/#")" = 1 &&
	test "$(sub_code ren "fleet/+/x")" = 1 &&
	client_do ctl "pub fleet/secret/x leak-g2" &&
	client_do ctl "pub fleet/open/x open-g2" &&
	wait_for 10 grep -q "^MSG fleet/open/x open-g2" ren.out &&
	test_grep ! "leak-g2" ren.out
'

test_expect_success 'acl_mode observe: a read the rules deny is delivered and recorded' '
	cmd_client octl $O $(dev_args pki ctl) --id ctl &&
	cmd_client obs $O $(dev_args pki obs) --id obs &&
	test "$(sub_code obs "fleet/open/#")" = 1 &&
	test "$(sub_code obs "#")" = 1 &&
	client_do octl "pub fleet/secret/x seen-o1" &&
	wait_for 10 grep -q "^MSG fleet/secret/x seen-o1" obs.out &&
	log_has o "mqcert: observe: allowed read .fleet/secret/x. for client .obs. \(device .obs.\); enforce would deny it"
'

test_expect_success 'stop the brokers; nobody was disconnected; no sanitizer report' '
	for c in ctl sub ren octl obs; do
		test_grep ! DISCONNECTED $c.out && kill $(cat $c.out.pid) || return 1
	done &&
	broker_stop g && broker_stop o &&
	broker_sanitizer_clean
'

test_done
