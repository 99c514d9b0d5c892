#!/bin/bash
# A policy made readable by chmod is noticed without SIGHUP: chmod changes
# only the ctime, which the plugin's change check now compares too. The
# broker runs as user mosquitto here, so that a 0000 file is unreadable to
# the plugin.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

if ! getent passwd mosquitto >/dev/null || [ "$(id -u)" != 0 ]; then
	test_expect_success 'skipped: needs root and a mosquitto user' 'true'
	test_done
fi

test_expect_success 'setup: PKI with two devices, a broker running as user mosquitto' '
	chmod 755 "$TRASH" &&
	pki_setup pki dev1 dev2 &&
	chown mosquitto pki/servers/localhost/localhost.key &&
	: >"$TRASH/u.log" && chown mosquitto "$TRASH/u.log" &&
	# The checkout may sit under a directory user mosquitto cannot enter.
	cp "$MQCERT_SO" "$TRASH/mqcert.so" && chmod 644 "$TRASH/mqcert.so" &&
	MQCERT_SO=$TRASH/mqcert.so BROKER_USER=mosquitto plugin_broker u pki &&
	test "$(ps -o user= -p "$(broker_pid u)")" = mosquitto &&
	stay_client dev1.out --port $(broker_port u) $(dev_args pki dev1) --id dev1 &&
	test_grep "^READY" dev1.out
'
P="--port $(broker_port u)"

test_expect_success 'a new policy the broker cannot read: rejected, the old one stays' '
	cp pki/policy.json new.json &&
	policy_edit new.json dev1 status=revoked &&
	chmod 000 new.json &&
	mv -T new.json pki/policy.json &&
	wait_for 10 log_has u "mqcert: policy .*/pki/policy.json rejected: cannot open .*/pki/policy.json: Permission denied; keeping generation [0-9]+" &&
	$MQCLIENT $P $(dev_args pki dev2) --id dev2 >out &&
	test_grep "^CONNACK 0" out &&
	test_grep ! DISCONNECTED dev1.out
'

test_expect_success 'chmod 644 alone (no SIGHUP, same content and mtime) applies it' '
	before=$(stat -c %Y.%y pki/policy.json) &&
	chmod 644 pki/policy.json &&
	test "$(stat -c %Y.%y pki/policy.json)" = "$before" &&
	wait_policy u pki &&
	wait_for 10 grep -q "^DISCONNECTED" dev1.out &&
	log_has u "mqcert: disconnecting client .dev1. .*: certificate is revoked" &&
	test_must_fail $MQCLIENT $P $(dev_args pki dev1) --id dev1 >out &&
	test_grep "^CONNACK 5" out
'

test_expect_success 'no sanitizer report' '
	broker_stop u &&
	broker_sanitizer_clean
'

test_done
