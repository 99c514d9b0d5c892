#!/bin/bash
# make demo: a real mosquitto with the mqcert plugin on a free loopback port,
# narrated. Everything lives in ./demo (wiped first). Exits non-zero as soon
# as anything does not behave as the narration says.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${MQ_DEMO_BUILD:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
DEMO=${MQ_DEMO_DIR:-$ROOT/demo}
MQADMIN=$BUILD/mqadmin
PLUGIN=$BUILD/mqcert.so
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
PKI=$DEMO/pki
LOG=$DEMO/mosquitto.log
BROKER_PID=
SUB_PID=

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$*"; }
run() { printf '   $ %s\n' "$*"; "$@"; }
# try CMD...: like run, for a command that may fail; its output indented,
# its own exit status returned.
try() {
	local rc=0
	printf '   $ %s\n' "$*"
	"$@" >"$DEMO/try.out" 2>&1 || rc=$?
	sed 's/^/   | /' "$DEMO/try.out"
	return $rc
}
fail() {
	printf '\ndemo FAILED: %s\n' "$*" >&2
	if [ -f "$LOG" ]; then
		echo "--- last lines of $LOG:" >&2
		tail -n 20 "$LOG" >&2
	fi
	exit 1
}
# wait_for SECONDS CMD...: bounded poll, never a bare sleep-and-hope.
wait_for() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 10; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	return 1
}
log_has() { grep -Eq -- "$1" "$LOG"; }
show_log() { grep -E -- "$1" "$LOG" | tail -n "${2:-1}" | sed 's/^/   broker log: /'; }

cleanup() {
	if [ -n "$SUB_PID" ]; then kill "$SUB_PID" 2>/dev/null || true; fi
	if [ -n "$BROKER_PID" ] && kill -0 "$BROKER_PID" 2>/dev/null; then
		kill "$BROKER_PID" 2>/dev/null || true
		wait "$BROKER_PID" 2>/dev/null || true
	fi
}
trap cleanup EXIT

[ -x "$MQADMIN" ] && [ -f "$PLUGIN" ] || fail "build first: make (no $MQADMIN or $PLUGIN)"
[ -x "$MOSQUITTO" ] || fail "no mosquitto at $MOSQUITTO: apt-get install mosquitto"
command -v mosquitto_pub >/dev/null || fail "no mosquitto_pub: apt-get install mosquitto-clients"

say "1. A demo PKI in $DEMO"
rm -rf "$DEMO"
mkdir -p "$DEMO"
# --no-default: a demo never becomes the system's default PKI (/etc/mqcert/mqadmin.conf).
run "$MQADMIN" -d "$PKI" init --no-default
run "$MQADMIN" -d "$PKI" server issue localhost --san DNS:localhost --san IP:127.0.0.1
run "$MQADMIN" -d "$PKI" device issue sensor1
run "$MQADMIN" -d "$PKI" device issue dashboard
run "$MQADMIN" -d "$PKI" device list
note "nothing is allowed until a rule allows it: each sensor may publish under its own name,"
note "the dashboard may read every sensor"
run "$MQADMIN" -d "$PKI" acl add --all --topic 'sensors/%u/#' --access write
run "$MQADMIN" -d "$PKI" acl add --device dashboard --topic 'sensors/#' --access read
run "$MQADMIN" -d "$PKI" acl check sensor1 sensors/dashboard/temperature write

say "2. mosquitto.conf from 'mqadmin broker-config', started with the plugin"
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
{
	"$MQADMIN" -d "$PKI" broker-config --port "$PORT" --bind 127.0.0.1 --plugin "$PLUGIN"
	echo
	echo "# demo: log to a file, keep nothing on disk"
	echo "log_dest file $LOG"
	echo "log_type error"
	echo "log_type warning"
	echo "log_type notice"
	echo "log_type information"
	echo "log_type subscribe"
	echo "log_timestamp_format %Y-%m-%dT%H:%M:%S"
	echo "persistence false"
} >"$DEMO/mosquitto.conf"
: >"$LOG"
# Run as root, mosquitto drops to user mosquitto before it loads plugins:
# that user must read the server key, write the broker's log and write
# DIR/audit, where the plugin keeps its audit log and connected state (mqadmin
# init, run as root, already gave it that directory; the chown shows the step).
# The PKI directory itself stays root's, so the broker cannot replace
# the store; its data.mdb and the certificates are world-readable already.
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
	run chown mosquitto "$PKI/servers/localhost/localhost.key" "$PKI/audit" "$LOG"
	# A checkout under a private directory (a 0700 home or temp dir) is out
	# of that user's reach; a real install (make install, /etc/mqcert) is not.
	if ! runuser -u mosquitto -- test -r "$PLUGIN" -a -r "$PKI/store/data.mdb" -a -w "$PKI/store/lock.mdb" -a -w "$PKI/audit"; then
		note "user mosquitto cannot reach $PLUGIN or $PKI from here, so this demo runs"
		note "the broker as root ('user root'); an installed mqcert does not need that"
		echo "user root" >>"$DEMO/mosquitto.conf"
	fi
fi
note "listener on 127.0.0.1:$PORT; config: $DEMO/mosquitto.conf"
"$MOSQUITTO" -c "$DEMO/mosquitto.conf" >"$DEMO/mosquitto.out" 2>&1 &
BROKER_PID=$!
wait_for 10 log_has "mosquitto version .* running" || fail "mosquitto did not start (see $DEMO/mosquitto.out)"
show_log "mqcert: store sequence" 1

dev() { echo "-h localhost -p $PORT --cafile $PKI/ca.crt --cert $PKI/devices/$1/$1.crt --key $PKI/devices/$1/$1.key"; }

say "3. A device connects and exchanges a message"
note "dashboard subscribes to sensors/# (client id = its name, as mqcert requires by default)"
# shellcheck disable=SC2046
mosquitto_sub $(dev dashboard) -i dashboard -t 'sensors/#' -v >"$DEMO/dashboard.out" 2>&1 &
SUB_PID=$!
wait_for 10 log_has "mqcert: accepted client 'dashboard'" || fail "dashboard was not accepted"
wait_for 10 log_has "dashboard [0-2] sensors/#" || fail "dashboard did not subscribe"
# shellcheck disable=SC2046
run mosquitto_pub $(dev sensor1) -i sensor1 -t sensors/sensor1/temperature -m 21.5 ||
	fail "sensor1 could not publish"
wait_for 10 grep -q "sensors/sensor1/temperature 21.5" "$DEMO/dashboard.out" ||
	fail "the dashboard did not receive the message"
note "dashboard received: $(cat "$DEMO/dashboard.out")"
show_log "mqcert: accepted client 'sensor1'"

say "3b. The ACL at work: sensor1 may write only under sensors/sensor1/"
# shellcheck disable=SC2046
run mosquitto_pub $(dev sensor1) -i sensor1 -t sensors/dashboard/temperature -m -40 ||
	fail "sensor1's publish was not even sent"
# shellcheck disable=SC2046
run mosquitto_pub $(dev sensor1) -i sensor1 -t sensors/sensor1/humidity -m 40 ||
	fail "sensor1 could not publish"
# The single-threaded broker handled the first publish before the second
# connection existed: once the second message is here, the first would be.
wait_for 10 grep -q "sensors/sensor1/humidity 40" "$DEMO/dashboard.out" ||
	fail "the dashboard did not receive the allowed message"
if grep -q "sensors/dashboard/temperature" "$DEMO/dashboard.out"; then
	fail "the broker delivered a publish the ACL denies"
fi
note "the dashboard got sensors/sensor1/humidity but never sensors/dashboard/temperature"
wait_for 10 grep -q '"event":"acl_denied"' "$PKI/audit/audit.log" ||
	fail "the denial is not in the audit log"
grep '"event":"acl_denied"' "$PKI/audit/audit.log" | tail -n 1 | sed 's/^/   audit log: /'

say "4. A stranger's certificate is refused"
note "a certificate from some other CA, with the same CN as a real device:"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-keyout "$DEMO/stranger-ca.key" -out "$DEMO/stranger-ca.crt" -subj "/CN=Stranger CA" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$DEMO/stranger.key" \
	-out "$DEMO/stranger.csr" -subj "/CN=sensor1" 2>/dev/null
openssl x509 -req -in "$DEMO/stranger.csr" -CA "$DEMO/stranger-ca.crt" -CAkey "$DEMO/stranger-ca.key" \
	-CAcreateserial -days 30 -out "$DEMO/stranger.crt" 2>/dev/null
if try mosquitto_pub -h localhost -p "$PORT" --cafile "$PKI/ca.crt" --cert "$DEMO/stranger.crt" \
	--key "$DEMO/stranger.key" -i sensor1 -t sensors/sensor1/temperature -m 99; then
	fail "the foreign certificate got in"
fi
wait_for 10 log_has "certificate verify failed" || fail "no TLS refusal in the broker log"
show_log "certificate verify failed"
note "a certificate signed with the real CA key, CN sensor1, but never issued by mqadmin:"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$DEMO/forged.key" \
	-out "$DEMO/forged.csr" -subj "/CN=sensor1" 2>/dev/null
openssl x509 -req -in "$DEMO/forged.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
	-set_serial 0x4242 -days 30 -out "$DEMO/forged.crt" 2>/dev/null
if try mosquitto_pub -h localhost -p "$PORT" --cafile "$PKI/ca.crt" --cert "$DEMO/forged.crt" \
	--key "$DEMO/forged.key" -i sensor1 -t sensors/sensor1/temperature -m 99; then
	fail "the forged certificate got in"
fi
log_has "mqcert: refused client 'sensor1' .*certificate not on the allowlist" ||
	fail "no allowlist refusal in the broker log"
show_log "certificate not on the allowlist"

say "5. A device trying another device's client id is refused"
# shellcheck disable=SC2046
if try mosquitto_pub $(dev sensor1) -i dashboard -t sensors/sensor1/temperature -m 1; then
	fail "sensor1 got in as client id 'dashboard'"
fi
log_has "mqcert: refused client 'dashboard' .*client id does not match username 'sensor1'" ||
	fail "no client-id refusal in the broker log"
show_log "client id does not match"
kill -0 "$SUB_PID" 2>/dev/null || fail "the real dashboard was disconnected by the attempt"
note "the real dashboard is still connected"

say "6. Revoking a device drops it live"
run "$MQADMIN" -d "$PKI" device revoke dashboard --reason "demo: tablet lost"
wait_for 15 eval '! kill -0 "$SUB_PID"' || fail "the dashboard was not dropped after revocation"
SUB_STATUS=0
wait "$SUB_PID" || SUB_STATUS=$?
SUB_PID=
note "the dashboard's mosquitto_sub ended (exit status $SUB_STATUS); its last output:"
tail -n 2 "$DEMO/dashboard.out" | sed 's/^/   | /'
show_log "mqcert: store sequence" 1
show_log "mqcert: disconnecting client 'dashboard'" ||
	fail "no disconnect line in the broker log"
# shellcheck disable=SC2046
if try mosquitto_pub $(dev dashboard) -i dashboard -t sensors/x -m 1; then
	fail "the revoked dashboard reconnected"
fi
show_log "mqcert: refused client 'dashboard'.*revoked"

say "7. Stopping the broker"
kill "$BROKER_PID"
for ((i = 0; i < 100; i++)); do
	kill -0 "$BROKER_PID" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$BROKER_PID" 2>/dev/null && fail "mosquitto did not stop"
wait "$BROKER_PID" 2>/dev/null || true
BROKER_PID=
show_log "mosquitto version .* terminating"

say "Done. Everything is in $DEMO"
note "pki/            CA, server and device certificates, store/ (what the plugin enforces)"
note "mosquitto.conf  the broker configuration (from mqadmin broker-config)"
note "mosquitto.log   the broker log with every mqcert: line"
