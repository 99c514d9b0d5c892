#!/bin/bash
# ACLs on a real broker: publish, subscribe and delivery decided by the
# policy's rules, placeholders, live rule and group changes for connected
# clients, wills, hostile identities.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

acl() { "$MQADMIN" -d pki acl add "$@" >/dev/null; }

test_expect_success 'setup: devices, rules and a broker with the plugin' '
	pki_setup pki dev1 dev2 mon ctl admin sysmon w1 w2 &&
	"$MQADMIN" -d pki device issue s1 --group sensors >/dev/null &&
	acl --all --topic "devices/%u/#" --access readwrite &&
	acl --device mon --topic "devices/+/status" --access read &&
	acl --all --topic "public/#" --access read &&
	acl --device ctl --topic "public/#" --access write &&
	acl --device admin --topic "#" --access read &&
	acl --device sysmon --topic "\$SYS/#" --access read &&
	acl --all --topic "cn/%{cn}/#" --access read &&
	acl --all --topic "ou/%{ou}/#" --access read &&
	acl --group ops --topic "ops/#" --access readwrite &&
	plugin_broker b pki &&
	log_has b "mqcert: store sequence [0-9]+ in force \(9 devices, 9 rules"
'
P="--port $(broker_port b)"

test_expect_success 'subscribe: granted inside the pattern, refused (0x80) outside it' '
	cmd_client dev1 $P $(dev_args pki dev1) --id dev1 &&
	test "$(sub_code dev1 "devices/dev1/#")" = 1 &&
	test "$(sub_code dev1 "devices/dev1/+/x")" = 1 &&
	test "$(sub_code dev1 "#")" = 128 &&
	test "$(sub_code dev1 "devices/#")" = 128 &&
	test "$(sub_code dev1 "devices/dev2/#")" = 128 &&
	test "$(sub_code dev1 "devices/+/status")" = 128 &&
	test "$(sub_code dev1 "\$share/g/devices/dev1/#")" = 1 &&
	test "$(sub_code dev1 "\$share/g/#")" = 128 &&
	log_has b "mqcert: denied subscribe .#. for client .dev1. \(device .dev1.\): deny \(no allow-read rule covers"
'

test_expect_success 'subscribe with MQTT v5: refused with 0x87 (not authorized)' '
	$MQCLIENT --v5 $P $(dev_args pki dev2) --id dev2 --sub "devices/dev2/#" --sub "#" >out &&
	test_grep "^CONNACK 0" out &&
	printf "SUBACK 1\nSUBACK 135\n" >expect &&
	grep "^SUBACK" out >actual &&
	test_cmp expect actual
'

test_expect_success 'publish: a denied message is not delivered, an allowed one is' '
	cmd_client mon $P $(dev_args pki mon) --id mon &&
	test "$(sub_code mon "devices/+/status")" = 1 &&
	client_do dev1 "pub devices/dev2/status forged" &&
	client_do dev1 "pub devices/dev1/status sentinel" &&
	wait_for 10 grep -q "^MSG devices/dev1/status sentinel" mon.out &&
	test_grep ! forged mon.out &&
	log_has b "mqcert: denied write .devices/dev2/status. for client .dev1. \(device .dev1.\): deny \(no rule matches: deny by default\)" &&
	test_grep ! DISCONNECTED dev1.out
'

test_expect_success 'delivery is decided per subscriber, also after a live deny rule' '
	cmd_client dev2 $P $(dev_args pki dev2) --id dev2 &&
	cmd_client ctl $P $(dev_args pki ctl) --id ctl &&
	test "$(sub_code dev1 "public/#")" = 1 &&
	test "$(sub_code dev2 "public/#")" = 1 &&
	client_do ctl "pub public/secret s1" &&
	wait_for 10 grep -q "^MSG public/secret s1" dev2.out &&
	gen_loaded_count b >before &&
	acl --device dev2 --deny --topic public/secret --access read &&
	wait_for 10 eval "test \$(gen_loaded_count b) -gt $(cat before)" &&
	client_do ctl "pub public/secret s2" &&
	client_do ctl "pub public/news n2" &&
	wait_for 10 grep -q "^MSG public/news n2" dev2.out &&
	wait_for 10 grep -q "^MSG public/secret s2" dev1.out &&
	test_grep ! "^MSG public/secret s2" dev2.out &&
	log_has b "mqcert: denied read .public/secret. for client .dev2. \(device .dev2.\): deny \(rule 10: device:dev2 deny read public/secret\)"
'

test_expect_success 'a retained message goes only to clients that may read it' '
	client_do dev2 "unsub public/#" &&
	client_do ctl "pubr public/secret rs" &&
	client_do ctl "pubr public/news rn" &&
	cmd_client admin $P $(dev_args pki admin) --id admin &&
	test "$(sub_code admin "public/#")" = 1 &&
	wait_for 10 grep -q "^MSG public/secret rs" admin.out &&
	wait_for 10 grep -q "^MSG public/news rn" admin.out &&
	test "$(sub_code dev2 "public/#")" = 128 &&
	test "$(sub_code dev2 "+/secret")" = 128 &&
	test "$(sub_code dev2 public/secret)" = 128 &&
	test "$(sub_code dev2 public/news)" = 1 &&
	wait_for 10 grep -q "^MSG public/news rn" dev2.out &&
	test_grep ! "public/secret rs" dev2.out
'

test_expect_success '$SYS is not readable through #, only through a $SYS rule' '
	test "$(sub_code admin "#")" = 1 &&
	test "$(sub_code admin "\$SYS/#")" = 128 &&
	test "$(sub_code admin "\$SYS/broker/version")" = 128 &&
	cmd_client sysmon $P $(dev_args pki sysmon) --id sysmon &&
	test "$(sub_code sysmon "\$SYS/#")" = 1 &&
	wait_for 10 grep -q "^MSG \$SYS/broker/version mosquitto version" sysmon.out &&
	test_grep ! "^MSG \\\$SYS" admin.out
'

test_expect_success 'a rule added live applies to a connected client, and its removal too' '
	test "$(sub_code dev1 live/dev1)" = 128 &&
	"$MQADMIN" -d pki acl add --device dev1 --topic "live/#" --access readwrite >added &&
	id=$(sed -n "s/^added rule \([0-9]*\):.*/\1/p" added) && test -n "$id" &&
	sub_until 10 dev1 "live/#" 1 &&
	client_do dev1 "pub live/x one" &&
	wait_for 10 grep -q "^MSG live/x one" dev1.out &&
	"$MQADMIN" -d pki acl remove $id >/dev/null &&
	sub_until 10 dev1 "live/+" 128 &&
	client_do dev1 "pub live/x two" &&
	client_do dev1 "pub devices/dev1/status after-removal" &&
	wait_for 10 grep -q "^MSG devices/dev1/status after-removal" dev1.out &&
	test_grep ! "^MSG live/x two" dev1.out &&
	test_grep ! DISCONNECTED dev1.out
'

test_expect_success 'mqadmin device set --group applies live to a connected client' '
	cmd_client s1 $P $(dev_args pki s1) --id s1 &&
	test "$(sub_code s1 "ops/#")" = 128 &&
	"$MQADMIN" -d pki device set s1 --group ops >/dev/null &&
	sub_until 10 s1 "ops/#" 1 &&
	"$MQADMIN" -d pki device set s1 --no-groups >/dev/null &&
	sub_until 10 s1 "ops/+" 128 &&
	test_grep ! DISCONNECTED s1.out
'

test_expect_success 'placeholders %{cn} and %{ou} come from the certificate' '
	test "$(sub_code s1 "cn/s1/#")" = 1 &&
	test "$(sub_code s1 "cn/dev1/#")" = 128 &&
	test "$(sub_code s1 "ou/sensors/#")" = 1 &&
	test "$(sub_code s1 "ou/ops/#")" = 128 &&
	test "$(sub_code dev1 "ou/sensors/#")" = 128 &&
	test "$(sub_code dev1 "cn/dev1/#")" = 1
'

test_expect_success 'a will is published only where its client may write' '
	# The wills are sent after the plugin forgot the connection: decided
	# by the username the session still carries.
	$MQCLIENT $P $(dev_args pki w1) --id w1 --will devices/w1/status bye --stay 60 >w1.out 2>&1 &
	echo $! >w1.pid
	$MQCLIENT $P $(dev_args pki w2) --id w2 --will devices/dev1/status evil --stay 60 >w2.out 2>&1 &
	echo $! >w2.pid
	wait_for 10 grep -q "^READY" w1.out &&
	wait_for 10 grep -q "^READY" w2.out &&
	kill -KILL $(cat w1.pid) $(cat w2.pid) &&
	wait_for 10 grep -q "^MSG devices/w1/status bye" mon.out &&
	wait_for 10 log_has b "mqcert: denied write .devices/dev1/status. for client .w2. \(device .w2.\)" &&
	client_do dev1 "pub devices/dev1/status after-will" &&
	wait_for 10 grep -q "^MSG devices/dev1/status after-will" mon.out &&
	test_grep ! evil mon.out
'

test_expect_success 'setup: certificates signed by the CA key with CNs holding + # /' '
	ca_sign_cn pki "/CN=dev\+1" plus &&
	ca_sign_cn pki "/CN=dev#1" hash &&
	ca_sign_cn pki "/CN=a\/b" slash &&
	gen_loaded_count b >before &&
	policy_add_cert pki hplus plus.crt &&
	policy_add_cert pki hhash hash.crt &&
	policy_add_cert pki hslash slash.crt &&
	wait_policy b pki
'

test_expect_success 'hostile CNs are refused at connect (identity cn)' '
	for h in plus:hplus hash:hhash slash:hslash; do
		test_must_fail $MQCLIENT $P --cafile pki/ca.crt --cert ${h%:*}.crt \
			--key ${h%:*}.key --id ${h#*:} >out &&
		test_grep "^CONNACK 5" out &&
		log_has b "mqcert: refused client .${h#*:}. from 127.0.0.1: identity field cn: field contains .\+., .#., ./., control characters or invalid UTF-8" ||
		return 1
	done
'

test_expect_success 'setup: a broker with clientid_binding none and identity fingerprint' '
	acl --all --topic "clients/%c/#" --access readwrite &&
	acl --device mon --topic "clients/#" --access read &&
	plugin_broker n pki "plugin_opt_clientid_binding none
plugin_opt_identity fingerprint"
'
N="--port $(broker_port n)"

test_expect_success '%c stands for the client id, literally' '
	cmd_client kitchen $N $(dev_args pki dev1) --id kitchen &&
	test "$(sub_code kitchen "clients/kitchen/#")" = 1 &&
	test "$(sub_code kitchen "clients/dev1/#")" = 128
'

test_expect_success 'client ids a/+ and # get nothing through clients/%c/#' '
	cmd_client nmon $N $(dev_args pki mon) --id nmon &&
	test "$(sub_code nmon "clients/#")" = 1 &&
	test "$(sub_code nmon "devices/+/status")" = 1 &&
	cmd_client wild $N $(dev_args pki dev2) --id "a/+" &&
	test "$(sub_code wild "clients/a/+/#")" = 128 &&
	test "$(sub_code wild "clients/a/#")" = 128 &&
	test "$(sub_code wild "clients/+/#")" = 128 &&
	test "$(sub_code wild "clients/#")" = 128 &&
	client_do wild "pub clients/a/x h1" &&
	client_do wild "pub devices/dev2/status wild-sentinel" &&
	wait_for 10 grep -q "^MSG devices/dev2/status wild-sentinel" nmon.out &&
	test_grep ! "^MSG clients/" nmon.out &&
	cmd_client hashid $N $(dev_args pki ctl) --id "#" &&
	test "$(sub_code hashid "clients/#")" = 128 &&
	test "$(sub_code hashid "clients/+")" = 128 &&
	test "$(sub_code hashid "devices/ctl/#")" = 1
'

test_expect_success 'a hostile CN gets in by fingerprint but %{cn} gives it nothing' '
	cmd_client hplus $N --cafile pki/ca.crt --cert plus.crt --key plus.key --id hplus &&
	test "$(sub_code hplus "devices/hplus/#")" = 1 &&
	test "$(sub_code hplus "cn/#")" = 128 &&
	test "$(sub_code hplus "cn/+/#")" = 128 &&
	test "$(sub_code hplus "cn/dev/#")" = 128
'

test_expect_success 'stop the brokers; nobody was disconnected; no sanitizer report' '
	for c in dev1 mon dev2 ctl admin sysmon s1 kitchen nmon wild hashid hplus; do
		test_grep ! DISCONNECTED $c.out && kill $(cat $c.out.pid) || return 1
	done &&
	broker_stop b && broker_stop n &&
	broker_sanitizer_clean
'

test_done
