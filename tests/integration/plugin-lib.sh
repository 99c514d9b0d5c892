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

# policy_json DIR FILE: the policy of DIR (its store) exported to FILE.
policy_json() { "$MQADMIN" -d "$1" policy export "$2" >/dev/null; }

# policy_edit DIR DEVICE FIELD=VALUE...: sets the fields of every
# certificate of DEVICE, through export, an edit and `mqadmin policy import`
# (the store is never edited by hand; policy.json is the interchange form).
policy_edit() {
	local dir=$1 f
	f=$(mktemp "$TRASH/policy-edit.XXXXXX") &&
	policy_json "$dir" "$f" &&
	/usr/bin/python3 - "$f" "${@:2}" <<'PY' &&
import json, sys
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
with open(path, "w") as f:
    json.dump(p, f, indent=1)
PY
	"$MQADMIN" -d "$dir" policy import "$f" >/dev/null
}

# store_seq DIR: the store's meta.seq (mdb_dump, read-only).
store_seq() {
	mdb_dump -s meta "$1/store" | /usr/bin/python3 -c '
import sys
lines = [l.strip() for l in sys.stdin if l.startswith(" ")]
kv = dict(zip(lines[0::2], lines[1::2]))
print(int(kv["seq".encode().hex()], 16))'
}

# store_meta_set DIR KEY N: sets the store's meta KEY to the integer N
# (mdb_dump + mdb_load, one write transaction): to fake a store written by
# another version.
store_meta_set() {
	mdb_dump -s meta "$1/store" >"$TRASH/meta.dump" &&
	/usr/bin/python3 - "$TRASH/meta.dump" "$2" "$3" <<'PY' &&
import sys
path, key, val = sys.argv[1], sys.argv[2].encode().hex(), int(sys.argv[3])
lines = open(path).read().split("\n")
i = lines.index(" " + key)
lines[i + 1] = " %016x" % val
open(path, "w").write("\n".join(lines))
PY
	mdb_load -s meta -f "$TRASH/meta.dump" "$1/store" 2>"$TRASH/mdb_load.err"
}

# applied_seq NAME DIR: the store sequence broker NAME reports in force
# (its state file in DIR/audit), or 0.
applied_seq() {
	/usr/bin/python3 - "$2/audit" "$(broker_pid "$1")" <<'PY'
import glob, json, sys
for f in glob.glob(sys.argv[1] + "/connected-*.json"):
    try:
        d = json.load(open(f))
    except Exception:
        continue
    if str(d.get("broker_pid")) == sys.argv[2]:
        print(d.get("applied_seq", 0))
        break
else:
    print(0)
PY
}

# wait_policy NAME DIR: waits (bounded) until broker NAME has applied
# what DIR's store holds now: a device issued a moment ago is refused
# until then.
wait_policy() {
	local want
	want=$(store_seq "$2") &&
	wait_for 10 eval "test \$(applied_seq $1 $2) -ge $want"
}

# gen_loaded_count NAME: how many store states the plugin put in force.
gen_loaded_count() { log_count "$1" "mqcert: store sequence [0-9]+ in force"; }

# cmd_client NAME ARGS...: a client that stays connected and carries out the
# lines later written to NAME.cmds (see mqclient.py --commands); output in
# NAME.out. Waits until it is READY.
cmd_client() {
	local name=$1
	shift
	: >"$name.cmds"
	stay_client "$name.out" --commands "$name.cmds" "$@" &&
	grep -q "^READY" "$name.out"
}

# client_do NAME LINE: makes the cmd_client NAME carry out LINE and waits
# (bounded) until it has.
client_do() {
	local n
	echo "$2" >>"$1.cmds"
	n=$(wc -l <"$1.cmds")
	wait_for 15 grep -qx "DONE $n" "$1.out"
}

# last_suback NAME: the code of NAME's latest SUBACK.
last_suback() { grep "^SUBACK " "$1.out" | tail -n 1 | cut -d" " -f2; }

# sub_code NAME FILTER: subscribes the cmd_client NAME to FILTER and prints
# the SUBACK code.
sub_code() { client_do "$1" "sub $2" && last_suback "$1"; }

# sub_until SECS NAME FILTER CODE: subscribes again and again (bounded) until
# the SUBACK code is CODE: for changes that reach the broker asynchronously.
# A granted attempt that is not wanted is unsubscribed at once, and FILTER
# must not be held already: mosquitto 2.0.11 leaks memory when a client
# subscribes again to a filter it holds (LeakSanitizer: sub__add).
sub_until() {
	local limit=$1 name=$2 filter=$3 code=$4 i got
	for ((i = 0; i < limit * 5; i++)); do
		got=$(sub_code "$name" "$filter") || return 1
		[ "$got" = "$code" ] && return 0
		if [ "$got" != 128 ] && [ "$got" != 135 ]; then
			client_do "$name" "unsub $filter" || return 1
		fi
		sleep 0.2
	done
	echo "sub_until: $name never got SUBACK $code for $filter" >&2
	return 1
}

# policy_add_cert DIR DEVICE CERT: puts the certificate file CERT on the
# allowlist as a certificate of DEVICE (created with no groups when
# missing), through export, an edit and `mqadmin policy import`: for
# certificates that mqadmin would never issue.
policy_add_cert() {
	local dir=$1 f
	f=$(mktemp "$TRASH/policy-edit.XXXXXX") &&
	policy_json "$dir" "$f" &&
	/usr/bin/python3 - "$f" "${@:2}" <<'PY' &&
import hashlib, json, ssl, sys
path, dev, crt = sys.argv[1:4]
der = ssl.PEM_cert_to_DER_cert(open(crt).read())
from cryptography import x509
c = x509.load_der_x509_certificate(der)
fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
with open(path) as f:
    p = json.load(f)
d = next((d for d in p["devices"] if d["name"] == dev), None)
if d is None:
    d = {"name": dev, "username": dev, "groups": [], "created": fmt(c.not_valid_before),
         "certs": []}
    p["devices"].append(d)
d["certs"].append({"serial": format(c.serial_number, "x"),
                   "fingerprint": hashlib.sha256(der).hexdigest(),
                   "not_before": fmt(c.not_valid_before), "not_after": fmt(c.not_valid_after),
                   "status": "active"})
with open(path, "w") as f:
    json.dump(p, f, indent=1)
PY
	"$MQADMIN" -d "$dir" policy import "$f" >/dev/null
}

# ca_sign_cn DIR SUBJECT OUT: a key and certificate OUT.key/OUT.crt with the
# given subject (openssl -subj syntax), signed by DIR's CA key.
ca_sign_cn() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$3.key" -out "$3.csr" -subj "$2" 2>/dev/null &&
	openssl x509 -req -in "$3.csr" -CA "$1/ca.crt" -CAkey "$1/ca.key" \
		-set_serial "0x$(openssl rand -hex 8)" -days 30 -out "$3.crt" 2>/dev/null
}
