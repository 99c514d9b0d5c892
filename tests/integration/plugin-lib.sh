# Helpers shared by the plugin integration tests. Source after lib.sh and
# broker-lib.sh.

MQCLIENT="/usr/bin/python3 $MQ_ROOT/tests/integration/mqclient.py"

# pki_setup DIR: a CA, a localhost server certificate and the devices named
# in the remaining arguments.
pki_setup() {
	local dir=$1 d
	shift
	"$MQADMIN" -d "$dir" init >/dev/null &&
	"$MQADMIN" -d "$dir" server issue localhost --san DNS:localhost --san IP:127.0.0.1 >/dev/null &&
	for d in "$@"; do
		"$MQADMIN" -d "$dir" device issue "$d" >/dev/null || return 1
	done
}

# plugin_broker NAME DIR [EXTRA_CONF]: starts a broker with the block that
# mqadmin broker-config prints for DIR (the plugin under test) plus
# EXTRA_CONF; the port is in $TRASH/NAME.port.
plugin_broker() {
	local name=$1 dir=$2 extra=${3:-} port
	port=$(broker_free_port) &&
	echo "$port" >"$TRASH/$name.port" &&
	"$MQADMIN" -d "$dir" broker-config --plugin "$MQCERT_SO" --port "$port" \
		--bind 127.0.0.1 >"$TRASH/$name.block" &&
	broker_start "$name" "$(cat "$TRASH/$name.block")
$extra"
}

broker_port() { cat "$TRASH/$1.port"; }

# dev_args DIR NAME: mqclient arguments for device NAME of DIR.
dev_args() {
	echo "--cafile $1/ca.crt --cert $1/devices/$2/$2.crt --key $1/devices/$2/$2.key"
}

# log_has NAME PATTERN: the broker's log has a line matching PATTERN (ERE).
log_has() { grep -Eq -- "$2" "$(broker_log "$1")"; }

# log_count NAME PATTERN
log_count() { grep -Ec -- "$2" "$(broker_log "$1")"; }

# stay_client NAME OUT ARGS...: a client that connects and stays (60 s at
# most) in the background, output in OUT; waits until it is READY (or has
# failed) and records its pid in OUT.pid for stay_stop.
stay_client() {
	local out=$1
	shift
	$MQCLIENT --stay 60 "$@" >"$out" 2>&1 &
	echo $! >"$out.pid"
	test_at_end "kill $! 2>/dev/null"
	wait_for 15 grep -Eq "^(READY|ERROR|CONNACK [1-9])" "$out"
}

# policy_edit FILE DEVICE FIELD=VALUE...: sets the fields of every
# certificate of DEVICE in the policy FILE, written atomically like mqadmin.
policy_edit() {
	/usr/bin/python3 - "$@" <<'PY'
import json, os, sys
path, dev = sys.argv[1:3]
sets = [a.split("=", 1) for a in sys.argv[3:]]
with open(path) as f:
    p = json.load(f)
hit = False
for d in p["devices"]:
    if d["name"] == dev:
        for c in d["certs"]:
            for field, value in sets:
                c[field] = value
            hit = True
if not hit:
    sys.exit("no device " + dev)
p["generation"] += 1
with open(path + ".tmp", "w") as f:
    json.dump(p, f, indent=1)
os.replace(path + ".tmp", path)
PY
}

# gen_loaded_count NAME: how many policy generations the plugin loaded.
gen_loaded_count() { log_count "$1" "mqcert: policy generation [0-9]+ loaded"; }
