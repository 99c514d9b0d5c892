#!/bin/bash
# A store the broker's user cannot use is refused with a line naming the
# fix, and fixing the permissions is noticed without SIGHUP or restart.
# (Before issue 15 the subject was a policy.json made readable by chmod;
# the plugin now reads DIR/store, where the broker's user needs lock.mdb
# writable.) The broker runs as user mosquitto here.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

if ! getent passwd mosquitto >/dev/null || [ "$(id -u)" != 0 ]; then
	test_expect_success 'skipped: needs root and a mosquitto user' 'true'
	test_done
fi

test_expect_success 'setup: PKI with two devices, lock.mdb not writable by mosquitto' '
	chmod 755 "$TRASH" &&
	pki_setup pki dev1 dev2 &&
	chown mosquitto pki/servers/localhost/localhost.key &&
	chown root:root pki/store/lock.mdb && chmod 644 pki/store/lock.mdb &&
	: >"$TRASH/u.log" && chown mosquitto "$TRASH/u.log" &&
	# The checkout may sit under a directory user mosquitto cannot enter.
	cp "$MQCERT_SO" "$TRASH/mqcert.so" && chmod 644 "$TRASH/mqcert.so" &&
	MQCERT_SO=$TRASH/mqcert.so BROKER_USER=mosquitto plugin_broker u pki &&
	test "$(ps -o user= -p "$(broker_pid u)")" = mosquitto
'
P="--port $(broker_port u)"

test_expect_success 'the broker starts, names the fix once, and refuses every client' '
	log_has u "mqcert: store .*/pki/store: .*Permission denied \(run .mqadmin doctor.: it checks the store and gives lock.mdb to the broker.s user\); refusing every client until it is readable" &&
	test_must_fail $MQCLIENT $P $(dev_args pki dev1) --id dev1 >out &&
	test_grep "^CONNACK 5" out &&
	test "$(log_count u "Permission denied")" = 1
'

test_expect_success 'giving lock.mdb to mosquitto alone (no SIGHUP) lets clients in' '
	chown mosquitto pki/store/lock.mdb && chmod 600 pki/store/lock.mdb &&
	wait_for 10 log_has u "mqcert: store sequence [0-9]+ in force" &&
	stay_client dev1.out $P $(dev_args pki dev1) --id dev1 &&
	test_grep "^READY" dev1.out
'

test_expect_success 'and a revocation then drops the client' '
	"$MQADMIN" -d pki device revoke dev1 >/dev/null &&
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
