#!/bin/bash
# Certificate lifecycle on a real broker with real TLS clients: cert revoke
# of one of a device's two certificates, device suspend/resume, device
# delete, and a retired certificate, each applied live by the plugin.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr A-F a-f; }

# audit_has PYEXPR: with ev(NAME, **fields) the matching audit events.
audit_has() {
	/usr/bin/python3 - pki/audit/audit.log "$1" <<'PY'
import json, sys
L = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
def ev(name, **kw):
    return [o for o in L if o["event"] == name and all(o.get(k) == v for k, v in kw.items())]
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}

test_expect_success 'setup: dev1 with two certificates (renewed), dev2, dev3, a broker' '
	pki_setup pki dev1 dev2 dev3 dev4 &&
	cp pki/devices/dev1/dev1.crt old.crt && cp pki/devices/dev1/dev1.key old.key &&
	"$MQADMIN" -d pki device renew dev1 >/dev/null &&
	serial_of old.crt >old.serial &&
	serial_of pki/devices/dev1/dev1.crt >new.serial &&
	! cmp -s old.serial new.serial &&
	"$MQADMIN" -d pki acl add --all --topic "q/#" --access readwrite >/dev/null &&
	plugin_broker b pki
'
P="--port $(broker_port b)"
OLD="--cafile pki/ca.crt --cert old.crt --key old.key"

test_expect_success 'both certificates of dev1 connect (one after the other)' '
	$MQCLIENT $P $OLD --id dev1 >out && test_grep "^CONNACK 0" out &&
	$MQCLIENT $P $(dev_args pki dev1) --id dev1 >out && test_grep "^CONNACK 0" out
'

test_expect_success 'cert revoke of the old serial drops the client on it, and only it' '
	stay_client old.out $P $OLD --id dev1 &&
	stay_client dev4.out $P $(dev_args pki dev4) --id dev4 &&
	test_grep "^READY" old.out && test_grep "^READY" dev4.out &&
	"$MQADMIN" -d pki cert revoke "$(cat old.serial)" >out &&
	test_grep "1 other active certificate" out &&
	wait_for 10 grep -q "^DISCONNECTED" old.out &&
	log_has b "mqcert: disconnecting client .dev1. from 127.0.0.1 \(device .dev1., serial $(cat old.serial)\): certificate is revoked" &&
	test_grep ! DISCONNECTED dev4.out
'

test_expect_success 'the revoked certificate is refused, the other one of dev1 works' '
	test_must_fail $MQCLIENT $P $OLD --id dev1 >out &&
	test_grep "^CONNACK 5" out &&
	log_has b "mqcert: refused client .dev1. from 127.0.0.1: certificate is revoked \(device .dev1.\)" &&
	$MQCLIENT $P $(dev_args pki dev1) --id dev1 --pub q/x still-here >out &&
	test_grep "^CONNACK 0" out
'

test_expect_success 'device suspend drops dev2 live and it cannot reconnect' '
	stay_client dev2.out $P $(dev_args pki dev2) --id dev2 &&
	test_grep "^READY" dev2.out &&
	"$MQADMIN" -d pki device suspend dev2 >/dev/null &&
	wait_for 10 grep -q "^DISCONNECTED" dev2.out &&
	log_has b "mqcert: disconnecting client .dev2. .*: device is suspended" &&
	test_must_fail $MQCLIENT $P $(dev_args pki dev2) --id dev2 >out &&
	test_grep "^CONNACK 5" out &&
	log_has b "mqcert: refused client .dev2. from 127.0.0.1: device is suspended \(device .dev2.\)" &&
	wait_for 10 audit_has "ev(\"refused\", device=\"dev2\", reason=\"device is suspended (device '"'"'dev2'"'"')\")" &&
	audit_has "ev(\"kicked\", device=\"dev2\", why=\"device is suspended\")" &&
	test_grep ! DISCONNECTED dev4.out
'

test_expect_success 'device resume lets dev2 back in' '
	"$MQADMIN" -d pki device resume dev2 >/dev/null &&
	wait_for 10 eval "$MQCLIENT $P $(dev_args pki dev2) --id dev2 >out" &&
	test_grep "^CONNACK 0" out
'

test_expect_success 'device delete drops dev3 live; it is refused and no longer listed' '
	stay_client dev3.out $P $(dev_args pki dev3) --id dev3 &&
	test_grep "^READY" dev3.out &&
	cp pki/devices/dev3/dev3.crt dev3.crt && cp pki/devices/dev3/dev3.key dev3.key &&
	"$MQADMIN" -d pki device delete dev3 >out &&
	test_grep "^deleted device .dev3." out &&
	wait_for 10 grep -q "^DISCONNECTED" dev3.out &&
	log_has b "mqcert: disconnecting client .dev3. .*: certificate removed from the policy" &&
	test_must_fail $MQCLIENT $P --cafile pki/ca.crt --cert dev3.crt --key dev3.key --id dev3 >out &&
	test_grep "^CONNACK 5" out &&
	log_has b "mqcert: refused client .dev3. from 127.0.0.1: certificate not on the allowlist" &&
	"$MQADMIN" -d pki device list >out &&
	test_grep ! dev3 out &&
	test_grep ! DISCONNECTED dev4.out
'

test_expect_success 'a retired certificate is dropped and refused with its own reason' '
	stay_client dev1.out $P $(dev_args pki dev1) --id dev1 &&
	test_grep "^READY" dev1.out &&
	policy_edit pki dev1 status=retired retired_at=2026-01-01T00:00:00Z &&
	wait_for 10 grep -q "^DISCONNECTED" dev1.out &&
	log_has b "mqcert: disconnecting client .dev1. .*: certificate is retired" &&
	test_must_fail $MQCLIENT $P $(dev_args pki dev1) --id dev1 >out &&
	test_grep "^CONNACK 5" out &&
	log_has b "mqcert: refused client .dev1. from 127.0.0.1: certificate is retired \(device .dev1.\)" &&
	wait_for 10 audit_has "ev(\"kicked\", device=\"dev1\", why=\"certificate is retired\")"
'

test_expect_success 'the broker stops cleanly and the plugin leaked nothing' '
	broker_is_running b &&
	kill $(cat dev4.out.pid) &&
	broker_stop b && ! broker_is_running b &&
	broker_sanitizer_clean
'

test_done
