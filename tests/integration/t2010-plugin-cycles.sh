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
		wait_for 10 log_has b "mqcert: policy generation [0-9]+ loaded \($((i + 1)) devices" &&
		stay_client c$i.out --port '"$port"' $(dev_args pki c$i) --id c$i &&
		test_grep "^READY" c$i.out &&
		broker_hup b &&
		cp pki/policy.json good.json && echo "[]" >pki/policy.json &&
		wait_for 10 eval "test \$(log_count b \"mqcert: policy .* rejected\") -eq $i" &&
		cp good.json pki/policy.json &&
		"$MQADMIN" -d pki device revoke c$i >/dev/null &&
		wait_for 10 grep -q "^DISCONNECTED" c$i.out || return 1
	done &&
	test_grep ! DISCONNECTED keeper.out &&
	test $(log_count b "mqcert: disconnecting client") -eq 5
'

test_expect_success 'clean stop: no leak or error in the plugin' '
	kill $(cat keeper.out.pid) &&
	broker_stop b && ! broker_is_running b &&
	broker_sanitizer_clean
'

test_done
