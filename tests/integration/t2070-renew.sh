#!/bin/bash
# Online renewal over MQTT against a real broker with the plugin, a real
# 'mqadmin serve' and the reference client (examples/renew): the window,
# the refusals and their codes, the built-in grant that user rules cannot
# widen, the stamp a client cannot forge, the rate limit, a service that is
# down, rollover at the first connect and at the grace deadline.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

RENEW=$MQ_BUILD/mqcert-renew

# serve_start NAME ARGS...: mqadmin serve in the background, output in
# NAME.out; waits until it has subscribed.
serve_start() {
	local name=$1
	shift
	"$MQADMIN" -d pki serve --port "$PORT" --passphrase-file "$TRASH/pass" "$@" >"$name.out" 2>&1 &
	echo $! >"$name.pid"
	test_at_end "kill $! 2>/dev/null"
	wait_for 30 grep -q "serve: ready" "$name.out"
}

serve_stop() {
	kill "$(cat "$1.pid")" 2>/dev/null || true
	wait_for 10 sh -c "! kill -0 $(cat "$1.pid") 2>/dev/null"
}

# devcopy DEV: the device's own copy of its files (serve rewrites the
# admin host's), in dev/DEV/.
devcopy() {
	mkdir -p "dev/$1" &&
	cp "pki/devices/$1/$1.crt" "pki/devices/$1/$1.key" "dev/$1/"
}

# renew DEV ARGS...: the reference client with DEV's own files.
renew() {
	local d=$1
	shift
	"$RENEW" --port "$PORT" --cafile pki/ca.crt --cert "dev/$d/$d.crt" --key "dev/$d/$d.key" \
		--device "$d" --timeout 10 "$@"
}

# logged DEV OUTCOME: serve's log has a request line of DEV with OUTCOME.
logged() {
	grep "\"event\":\"renew\",\"device\":\"$1\",\"outcome\":\"$2\"" pki/serve.log
}

certfield() {
	policy_json pki pol.json &&
	/usr/bin/python3 - "$@" <<'PY'
import json, sys
dev, serial, field = sys.argv[1:4]
for d in json.load(open("pol.json"))["devices"]:
    for c in d["certs"]:
        if d["name"] == dev and c["serial"] == serial:
            print(c.get(field, "-"))
PY
}

# refused CERT KEY ID: a connect with this pair is refused (polled: the
# plugin applies the policy a moment after serve writes it).
refused() {
	wait_for 15 sh -c "$MQCLIENT --port $PORT --cafile pki/ca.crt --cert $1 --key $2 --id $3 \
		2>&1 | grep -q '^CONNACK [1-9]\|^ERROR'"
}

serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f'; }

test_expect_success 'setup: an encrypted CA, devices, service identities, a broker' '
	echo "correct horse battery" >pass &&
	"$MQADMIN" -d pki init --passphrase-file pass >/dev/null 2>&1 &&
	export MQADMIN_PASSPHRASE_FILE=$TRASH/pass &&
	"$MQADMIN" -d pki server issue localhost --san DNS:localhost --san IP:127.0.0.1 >/dev/null 2>&1 &&
	for d in dev1 dev2 dev3 dev4 dev5 dev6 dev7 dev8; do
		"$MQADMIN" -d pki device issue $d >/dev/null || exit 1
	done &&
	"$MQADMIN" -d pki device issue svc1 --role service >/dev/null &&
	"$MQADMIN" -d pki device issue svc2 --role service >/dev/null &&
	policy_json pki pol.json && grep -q "\"role\":	*\"service\"" pol.json &&
	"$MQADMIN" -d pki acl add --all --topic "mqcert/#" --access readwrite >/dev/null &&
	"$MQADMIN" -d pki acl add --all --topic "#" --access read >/dev/null &&
	plugin_broker b pki &&
	for d in dev1 dev2 dev3 dev4 dev5 dev6 dev7 dev8; do devcopy $d; done
'
PORT=$(broker_port b)
export PORT

test_expect_success 'a service identity is refused by device set --renew-now; a bad --role by issue' '
	test_must_fail "$MQADMIN" -d pki device set svc1 --renew-now 2>err &&
	test_grep "service identity" err &&
	test_expect_code 2 "$MQADMIN" -d pki device issue x --role admin 2>err &&
	test_grep "must be device or service" err
'

test_expect_success 'serve: an encrypted CA key without its passphrase: exit 1, saying so' '
	test_must_fail "$MQADMIN" -d pki serve --port "$PORT" --name svc1 </dev/null 2>err &&
	test_grep -i "passphrase" err
'

test_expect_success 'serve: a device identity (not --role service) is refused its subscription: exit 1' '
	test_must_fail "$MQADMIN" -d pki serve --port "$PORT" --name dev7 --passphrase-file pass 2>err &&
	test_grep "refused a renewal subscription" err
'

test_expect_success 'serve starts with the service identity and the passphrase file' '
	serve_start s1 --name svc1 --grace 4s
'

test_expect_success 'not due: with --local-check the client does not ask; else serve says outside_window (exit 3 both)' '
	test_expect_code 3 renew dev1 --local-check >out &&
	test_grep "^not due" out &&
	! logged dev1 outside_window &&
	test_expect_code 3 renew dev1 >out &&
	test_grep "^refused: outside_window: the renewal window opens at" out &&
	logged dev1 outside_window
'

test_expect_success 'inside the window (renew-now): renewed, the files replaced, the new certificate connects' '
	old=$(serial_of dev/dev1/dev1.crt) &&
	cp dev/dev1/dev1.crt dev/dev1/dev1.key dev/ &&
	"$MQADMIN" -d pki device set dev1 --renew-now >out &&
	test_grep "renewal window open" out &&
	renew dev1 >out &&
	test_grep "^renewed: dev/dev1/dev1.crt" out &&
	new=$(serial_of dev/dev1/dev1.crt) &&
	test "$old" != "$new" &&
	openssl verify -CAfile pki/ca.crt dev/dev1/dev1.crt &&
	test "$(openssl x509 -in dev/dev1/dev1.crt -noout -pubkey | sha256sum)" = \
	     "$(openssl pkey -in dev/dev1/dev1.key -pubout | sha256sum)" &&
	test "$(stat -c %a dev/dev1/dev1.key)" = 600 &&
	! ls dev/dev1/*.new 2>/dev/null &&
	openssl x509 -in dev/dev1/dev1.crt -noout -subject | grep -q "CN *= *dev1" &&
	logged dev1 ok &&
	test "$(certfield dev1 "$old" status)" = active &&
	test "$(certfield dev1 "$old" retire_after)" != - &&
	policy_json pki pol.json && ! grep -q renew_now pol.json &&
	echo "$old" >old-serial
'

test_expect_success 'rollover: the first connect with the new certificate retires the old one' '
	old=$(cat old-serial) &&
	wait_for 15 sh -c "$MQCLIENT --port $PORT --cafile pki/ca.crt --cert dev/dev1/dev1.crt \
		--key dev/dev1/dev1.key --id dev1 | grep -q \"^CONNACK 0\"" &&
	wait_for 10 sh -c "grep -q \"\\\"retire\\\",\\\"device\\\":\\\"dev1\\\",\\\"outcome\\\":\\\"first-connect\\\"\" pki/serve.log" &&
	test "$(certfield dev1 "$old" status)" = retired &&
	test "$(certfield dev1 "$old" retire_reason)" = renewed &&
	refused dev/dev1.crt dev/dev1.key dev1 &&
	log_has b "certificate is retired"
'

test_expect_success 'the old key again: key_reused' '
	"$MQADMIN" -d pki device set dev2 --renew-now >/dev/null &&
	test_expect_code 4 renew dev2 --reuse-key >out &&
	test_grep "^refused: key_reused" out
'

test_expect_success 'garbage, oversized and weak CSRs: bad_csr, bad_csr, weak_key' '
	echo "not a CSR" >garbage &&
	test_expect_code 4 renew dev2 --csr-file garbage >out &&
	test_grep "^refused: bad_csr: the payload is not a PEM or DER" out &&
	head -c 20000 /dev/zero >big &&
	test_expect_code 4 renew dev2 --csr-file big >out &&
	test_grep "^refused: bad_csr: the CSR is larger than 16384 bytes" out &&
	openssl req -new -newkey rsa:1024 -nodes -keyout weak.key -subj /CN=dev2 -out weak.csr 2>/dev/null &&
	test_expect_code 4 renew dev2 --csr-file weak.csr >out &&
	test_grep "^refused: weak_key" out
'

test_expect_success 'a CSR asking for CA:true and another CN: the certificate is the device'"'"'s, CA:FALSE' '
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
		-subj /CN=evil -addext "basicConstraints=critical,CA:TRUE" -outform DER -out ca.csr 2>/dev/null &&
	renew dev2 --csr-file ca.csr >got.pem &&
	openssl x509 -in got.pem -noout -text >got.txt &&
	test_grep "CA:FALSE" got.txt &&
	test_grep ! "CA:TRUE" got.txt &&
	test_grep "Subject: CN *= *dev2" got.txt
'

test_expect_success 'the same request again (its answer lost): the same certificate, not a second one' '
	policy_json pki pol.json && n=$(grep -o "\"serial\"" pol.json | wc -l) &&
	renew dev2 --csr-file ca.csr >again.pem &&
	cmp got.pem again.pem &&
	logged dev2 replayed &&
	policy_json pki pol.json && test "$(grep -o "\"serial\"" pol.json | wc -l)" = "$n"
'

test_expect_success 'the rate limit holds (window wide open in a second serve run)' '
	serve_stop s1 &&
	serve_start s2 --name svc1 --window 100% --rate-limit 1h &&
	renew dev5 >out &&
	test_grep "^renewed" out &&
	test_expect_code 4 renew dev5 >out &&
	test_grep "^refused: rate_limited" out &&
	logged dev5 rate_limited
'

test_expect_success 'device A cannot publish to B'"'"'s request or read B'"'"'s reply, whatever the rules say' '
	cmd_client a --port $PORT $(dev_args pki dev3) --id dev3 &&
	test "$(sub_code a "mqcert/renew/dev4/res")" = 128 &&
	test "$(sub_code a "mqcert/renew/+/res")" = 128 &&
	test "$(sub_code a "mqcert/renew/+/req")" = 128 &&
	test "$(sub_code a "\$share/x/mqcert/renew/+/req")" = 128 &&
	test "$(sub_code a "mqcert/rollover/+")" = 128 &&
	test "$(sub_code a "#")" = 1 &&
	client_do a "pub mqcert/renew/dev4/req forged" &&
	log_has b "denied write .mqcert/renew/dev4/req. for client .dev3.: reserved for renewal" &&
	! logged dev4 bad_csr &&
	"$MQADMIN" -d pki device set dev4 --renew-now >/dev/null &&
	renew dev4 >out &&
	test_grep "^renewed" out &&
	test_grep ! "mqcert/renew/dev4/res" a.out
'

test_expect_success 'a user property mqcert-device sent by a client is replaced by the verified name' '
	/usr/bin/python3 - "$PORT" <<-PY
	import sys, time, ssl
	import paho.mqtt.client as mqtt
	from paho.mqtt.properties import Properties
	from paho.mqtt.packettypes import PacketTypes
	c = mqtt.Client(client_id="dev6", protocol=mqtt.MQTTv5)
	c.tls_set(ca_certs="pki/ca.crt", certfile="dev/dev6/dev6.crt", keyfile="dev/dev6/dev6.key")
	c.connect("localhost", int(sys.argv[1]))
	c.loop_start()
	time.sleep(0.5)
	p = Properties(PacketTypes.PUBLISH)
	p.UserProperty = [("mqcert-device", "dev7")]
	c.publish("mqcert/renew/dev6/req", b"junk", qos=1, properties=p).wait_for_publish(5)
	time.sleep(0.3)
	c.disconnect()
	PY
	wait_for 10 logged dev6 bad_csr &&
	! logged dev7 bad_csr &&
	! logged dev6 bad_request
'

test_expect_success 'MQTT 5: a response topic other than the device'"'"'s own is refused' '
	/usr/bin/python3 - "$PORT" <<-PY
	import sys, time
	import paho.mqtt.client as mqtt
	from paho.mqtt.properties import Properties
	from paho.mqtt.packettypes import PacketTypes
	c = mqtt.Client(client_id="dev6", protocol=mqtt.MQTTv5)
	c.tls_set(ca_certs="pki/ca.crt", certfile="dev/dev6/dev6.crt", keyfile="dev/dev6/dev6.key")
	c.connect("localhost", int(sys.argv[1]))
	c.loop_start()
	time.sleep(0.5)
	p = Properties(PacketTypes.PUBLISH)
	p.ResponseTopic = "devices/dev7/cmd"
	c.publish("mqcert/renew/dev6/req", b"junk", qos=1, properties=p).wait_for_publish(5)
	time.sleep(0.3)
	c.disconnect()
	PY
	wait_for 10 logged dev6 bad_request &&
	grep "\"device\":\"dev6\",\"outcome\":\"bad_request\"" pki/serve.log | grep -q "response topic must be mqcert/renew/dev6/res"
'

test_expect_success 'MQTT 3.1.1 client: the fixed reply topic' '
	"$MQADMIN" -d pki device set dev6 --renew-now >/dev/null &&
	renew dev6 --mqtt 311 --der >out &&
	test_grep "^renewed" out
'

test_expect_success 'service down: no answer, the client says retry later (exit 5)' '
	serve_stop s2 &&
	"$MQADMIN" -d pki device set dev7 --renew-now >/dev/null &&
	test_expect_code 5 renew dev7 --timeout 2 2>err &&
	test_grep "retry later" err
'

test_expect_success 'a request queued while serve was down, then the device revoked: refused as revoked' '
	"$MQADMIN" -d pki device revoke dev7 --passphrase-file pass >/dev/null &&
	serve_start s3 --name svc1 &&
	wait_for 15 logged dev7 revoked
'

test_expect_success 'a request queued while serve was down, then the device suspended: refused as suspended' '
	serve_stop s3 &&
	"$MQADMIN" -d pki device set dev8 --renew-now >/dev/null &&
	test_expect_code 5 renew dev8 --timeout 2 2>err &&
	"$MQADMIN" -d pki device suspend dev8 >/dev/null &&
	serve_start s3 --name svc1 &&
	wait_for 15 logged dev8 suspended
'

test_expect_success 'grace: the old certificate stops at its deadline without a connect, and is recorded retired' '
	"$MQADMIN" -d pki device set dev3 --renew-now >/dev/null &&
	serve_stop s3 &&
	serve_start s4 --name svc1 --grace 2s &&
	cp dev/dev3/dev3.crt dev/dev3/dev3.key dev/ &&
	old=$(serial_of dev/dev3.crt) &&
	renew dev3 >out &&
	test_grep "^renewed" out &&
	wait_for 15 sh -c "grep -q \"\\\"retire\\\",\\\"device\\\":\\\"dev3\\\",\\\"outcome\\\":\\\"grace-expired\\\"\" pki/serve.log" &&
	test "$(certfield dev3 "$old" status)" = retired &&
	refused dev/dev3.crt dev/dev3.key dev3
'

test_expect_success 'two services at once: every request answered exactly once' '
	serve_stop s4 &&
	serve_start t1 --name svc1 --window 100% --rate-limit 1s &&
	serve_start t2 --name svc2 --window 100% --rate-limit 1s &&
	: >pki/serve.log &&
	sleep 1 &&
	pids= &&
	for d in dev1 dev3 dev4 dev5 dev6; do
		(renew $d >"r-$d.out" 2>&1; echo $? >"r-$d.rc") & pids="$pids $!"
	done &&
	wait $pids &&
	for d in dev1 dev3 dev4 dev5 dev6; do
		test "$(cat r-$d.rc)" = 0 &&
		test "$(grep -c "\"event\":\"renew\",\"device\":\"$d\"" pki/serve.log)" = 1 || {
			cat r-$d.out pki/serve.log; false; }
	done
'

test_expect_success 'serve: usage errors exit 2' '
	test_expect_code 2 "$MQADMIN" -d pki serve --window 0% 2>err &&
	test_grep "window" err &&
	test_expect_code 2 "$MQADMIN" -d pki serve --port 0 &&
	test_expect_code 2 "$MQADMIN" -d pki serve extra
'

test_expect_success 'no sanitizer reports from the broker' '
	broker_sanitizer_clean
'

test_done
