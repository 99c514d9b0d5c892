#!/bin/bash
# The read fast path (plugin/access.c, mqaccess_connected): a client whose
# every subscription the subscribe check of its current rules allowed has
# its deliveries allowed without the read check. Each test here delivers
# something the rules no longer allow, in a way that leaks if the flag
# were kept when it must not be: rules changed (a deny rule added, an
# allow rule removed, the device's group removed) while subscribed, a
# persistent session resumed after a rule change, a SIGHUP re-check, a
# $share subscription. A marker published after the message by the same
# publisher (delivered in order) bounds each wait.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

acl() { "$MQADMIN" -d pki acl add "$@" --wait=20 >/dev/null; }

test_expect_success 'setup: devices, rules and a broker with the plugin' '
	pki_setup pki ctl sub1 sub2 per hup sh ret &&
	"$MQADMIN" -d pki device issue g1 --group grp >/dev/null &&
	acl --all --topic "fleet/#" --access read &&
	acl --all --topic "mark/#" --access read &&
	acl --group grp --topic "grp/#" --access read &&
	acl --device ctl --topic "#" --access write &&
	plugin_broker b pki &&
	log_has b "mqcert: store sequence [0-9]+ in force"
'
P="--port $(broker_port b)"

# pub_mark TOPIC MARK: ctl publishes a message on TOPIC, then MARK on
# mark/MARK (same publisher: delivered after it to each subscriber).
pub_mark() { client_do ctl "pub $1 leak-$2" && client_do ctl "pub mark/$2 $2"; }

test_expect_success 'subscribers receive what their rules allow' '
	cmd_client ctl $P $(dev_args pki ctl) --id ctl &&
	for c in sub1 sub2 g1 sh; do
		cmd_client $c $P $(dev_args pki $c) --id $c &&
		test "$(sub_code $c "mark/#")" = 1 || return 1
	done &&
	test "$(sub_code sub1 "fleet/#")" = 1 &&
	test "$(sub_code g1 "grp/#")" = 1 &&
	client_do ctl "pub fleet/open/a a" && client_do ctl "pub grp/a ga" &&
	wait_for 10 grep -q "^MSG fleet/open/a a" sub1.out &&
	wait_for 10 grep -q "^MSG grp/a ga" g1.out
'

test_expect_success 'a persistent session subscribes, then goes away' '
	cmd_client per $P $(dev_args pki per) --id per --persistent &&
	test "$(sub_code per "fleet/#")" = 1 &&
	test "$(sub_code per "mark/#")" = 1 &&
	kill "$(cat per.out.pid)" &&
	wait_for 10 log_has b "Client per (closed its connection|disconnected)"
'

test_expect_success 'a deny rule added while subscribed stops that delivery' '
	acl --all --deny --topic "fleet/secret/#" --access read &&
	pub_mark fleet/secret/x m1 &&
	wait_for 10 grep -q "^MSG mark/m1 m1" sub1.out &&
	test_grep ! "leak-m1" sub1.out &&
	log_has b "mqcert: denied read .fleet/secret/x. for client .sub1."
'

test_expect_success 'the persistent session resumed after the change: its old subscription is checked' '
	cmd_client per2 $P $(dev_args pki per) --id per --persistent &&
	pub_mark fleet/secret/y m2 &&
	wait_for 10 grep -q "^MSG mark/m2 m2" per2.out &&
	test_grep ! "leak-m2" per2.out &&
	log_has b "mqcert: denied read .fleet/secret/y. for client .per."
'

test_expect_success 'an allow rule removed while subscribed stops the delivery' '
	"$MQADMIN" -d pki acl add --device sub2 --topic "tmp/#" --access read >added &&
	id=$(sed -n "s/^added rule \([0-9]*\):.*/\1/p" added) && test -n "$id" &&
	sub_until 10 sub2 "tmp/#" 1 &&
	client_do ctl "pub tmp/a ta" &&
	wait_for 10 grep -q "^MSG tmp/a ta" sub2.out &&
	"$MQADMIN" -d pki acl remove "$id" --wait=20 >/dev/null &&
	pub_mark tmp/b m3 &&
	wait_for 10 grep -q "^MSG mark/m3 m3" sub2.out &&
	test_grep ! "leak-m3" sub2.out
'

test_expect_success 'the device'"'"'s group removed while subscribed stops the delivery' '
	"$MQADMIN" -d pki device set g1 --no-groups --wait=20 >/dev/null &&
	pub_mark grp/b m4 &&
	wait_for 10 grep -q "^MSG mark/m4 m4" g1.out &&
	test_grep ! "leak-m4" g1.out
'

test_expect_success 'a client re-checked at SIGHUP keeps checking its older subscriptions' '
	cmd_client hup $P $(dev_args pki hup) --id hup &&
	test "$(sub_code hup "fleet/open/#")" = 1 &&
	test "$(sub_code hup "mark/#")" = 1 &&
	acl --all --deny --topic "fleet/open/hidden" --access read &&
	broker_hup b &&
	wait_for 10 log_has b "Reloading config" &&
	pub_mark fleet/open/hidden m5 &&
	wait_for 10 grep -q "^MSG mark/m5 m5" hup.out &&
	test_grep ! "leak-m5" hup.out &&
	test_grep ! DISCONNECTED hup.out
'

test_expect_success 'a $share subscription: deliveries after a rule change are checked' '
	test "$(sub_code sh "\$share/g/fleet/open/#")" = 128 &&
	test "$(sub_code sh "\$share/g/fleet/open/pub/#")" = 1 &&
	client_do ctl "pub fleet/open/pub/a sa" &&
	wait_for 10 grep -q "^MSG fleet/open/pub/a sa" sh.out &&
	acl --all --deny --topic "fleet/open/pub/no" --access read &&
	pub_mark fleet/open/pub/no m6 &&
	wait_for 10 grep -q "^MSG mark/m6 m6" sh.out &&
	test_grep ! "leak-m6" sh.out
'

test_expect_success 'retained messages on a fresh subscription follow the current rules' '
	client_do ctl "pubr fleet/open/pub/no rno" &&
	client_do ctl "pubr fleet/open/pub/yes ryes" &&
	cmd_client ret $P $(dev_args pki ret) --id ret &&
	test "$(sub_code ret "fleet/open/pub/yes")" = 1 &&
	test "$(sub_code ret "fleet/open/pub/+")" = 128 &&
	wait_for 10 grep -q "^MSG fleet/open/pub/yes ryes" ret.out &&
	test_grep ! "rno" ret.out
'

test_expect_success 'stop the broker; nobody was disconnected; no sanitizer report' '
	for c in ctl sub1 sub2 g1 sh hup per2 ret; do
		test_grep ! DISCONNECTED $c.out && kill $(cat $c.out.pid) || return 1
	done &&
	broker_stop b &&
	broker_sanitizer_clean
'

test_done
