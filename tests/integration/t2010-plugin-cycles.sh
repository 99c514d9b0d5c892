#!/bin/bash
# Repeated connect / reload / kick cycles under the sanitizers (the ASan
# build of the plugin, runtime preloaded into mosquitto by broker-lib), and
# the plugin's exported symbols.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

test_expect_success 'the plugin exports only the three entry points' '
	nm -D --defined-only "$MQCERT_SO" | awk "{print \$3}" | grep -v "^_" | sort >actual &&
	printf "%s\n" mosquitto_plugin_cleanup mosquitto_plugin_init mosquitto_plugin_version >expect &&
	test_cmp expect actual
'

test_expect_success 'setup: PKI and broker' '
	pki_setup pki keeper &&
	plugin_broker b pki
'
port=$(broker_port b)

test_expect_success 'five cycles of issue, connect, SIGHUP, bad policy, revoke and kick' '
	stay_client keeper.out --port '"$port"' $(dev_args pki keeper) --id keeper &&
	for i in 1 2 3 4 5; do
		"$MQADMIN" -d pki device issue c$i >/dev/null &&
		wait_for 10 log_has b "mqcert: store sequence [0-9]+ in force \($((i + 1)) devices" &&
		stay_client c$i.out --port '"$port"' $(dev_args pki c$i) --id c$i &&
		test_grep "^READY" c$i.out &&
		broker_hup b &&
		cp pki/store/data.mdb good.mdb && echo "[]" >bad.mdb &&
		mv -T bad.mdb pki/store/data.mdb &&
		wait_for 10 eval "test \$(log_count b \"mqcert: store .*; keeping the state of sequence\") -eq $i" &&
		n=$(gen_loaded_count b) &&
		cp good.mdb new.mdb && mv -T new.mdb pki/store/data.mdb &&
		wait_for 10 eval "test \$(gen_loaded_count b) -gt $n" &&
		"$MQADMIN" -d pki device revoke c$i >/dev/null &&
		wait_for 10 grep -q "^DISCONNECTED" c$i.out || return 1
	done &&
	test_grep ! DISCONNECTED keeper.out &&
	test $(log_count b "mqcert: disconnecting client") -eq 5
'

test_expect_success 'five cycles of live rules, group changes and SIGHUP with ACL-checked traffic' '
	"$MQADMIN" -d pki device issue acl1 >/dev/null &&
	"$MQADMIN" -d pki acl add --group g3 --topic "grp/#" --access readwrite >/dev/null &&
	wait_policy b pki &&
	cmd_client acl1 --port '"$port"' $(dev_args pki acl1) --id acl1 &&
	for i in 1 2 3 4 5; do
		"$MQADMIN" -d pki acl add --device acl1 --topic "cyc/$i/#" --access readwrite >added &&
		id=$(sed -n "s/^added rule \([0-9]*\):.*/\1/p" added) &&
		sub_until 10 acl1 "cyc/$i/#" 1 &&
		client_do acl1 "pub cyc/$i/x m$i" &&
		wait_for 10 grep -q "^MSG cyc/$i/x m$i" acl1.out &&
		"$MQADMIN" -d pki device set acl1 --group g$i >/dev/null &&
		broker_hup b &&
		"$MQADMIN" -d pki acl remove $id >/dev/null &&
		sub_until 10 acl1 "cyc/$i/+" 128 || return 1
	done &&
	"$MQADMIN" -d pki device set acl1 --group g3 >/dev/null &&
	sub_until 10 acl1 "grp/#" 1 &&
	test_grep ! DISCONNECTED acl1.out
'

test_expect_success 'clean stop: no leak or error in the plugin' '
	kill $(cat keeper.out.pid) $(cat acl1.out.pid) &&
	broker_stop b && ! broker_is_running b &&
	broker_sanitizer_clean
'

test_done
