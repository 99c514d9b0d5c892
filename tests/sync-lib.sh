# Helpers for the tests of mqadmin sync (issue 17): source after lib.sh,
# broker-lib.sh, plugin-lib.sh and etcd-lib.sh.
#
#   fleet_broker_dir ADMIN DIR   a broker's DIR made from the admin's: its
#                                CA certificate, CRL, server certificate
#                                and store, without the CA key
#   sync_start NAME DIR [ARGS]   mqadmin -d DIR sync --instance NAME against
#                                $ETCD_URL with a 3 s lease, log in
#                                NAME.sync.log; waits until its broker key
#                                is in etcd
#   sync_stop NAME               SIGTERM, waits for it to exit
#   broker_key NAME              P brokers/NAME's value (fails when absent)
#   mq_connect DIR PORT DEVICE   one connect of DEVICE's certificate (client
#                                id DEVICE): prints the answer (CONNACK 0 ...)

SYNC_TTL=${SYNC_TTL:-3}

fleet_broker_dir() {
	mkdir "$2" &&
	cp -a "$1/ca.crt" "$1/crl.pem" "$1/servers" "$2/" &&
	mkdir "$2/store" "$2/audit" &&
	cp "$1/store/data.mdb" "$2/store/"
}

sync_start() {
	local name=$1 dir=$2
	shift 2
	"$MQADMIN" -d "$dir" sync --etcd "$ETCD_URL" --instance "$name" \
		--lease-ttl "$SYNC_TTL" "$@" >>"$TRASH/$name.sync.log" 2>&1 &
	echo $! >"$TRASH/$name.sync.pid"
	test_at_end "kill -CONT $! 2>/dev/null; kill $! 2>/dev/null"
	wait_for 20 broker_key "$name"
}

sync_stop() {
	local pid
	pid=$(cat "$TRASH/$1.sync.pid") || return 0
	kill -CONT "$pid" 2>/dev/null || true
	kill -TERM "$pid" 2>/dev/null || return 0
	wait_for 10 sh -c "! kill -0 $pid 2>/dev/null"
}

broker_key() {
	etcd_get "/mqcert/brokers/$1" | grep -q instance && etcd_get "/mqcert/brokers/$1"
}

mq_connect() {
	$MQCLIENT --port "$2" $(dev_args "$1" "$3") --id "$3" 2>&1 | head -1
}

# accepted DIR PORT DEVICE / refused DIR PORT DEVICE
accepted() { mq_connect "$@" | grep -q "^CONNACK 0"; }
refused() { mq_connect "$@" | grep -q "^CONNACK [1-9]"; }

# applied_at_least DIR NAME REV: NAME's sync says (DIR/audit/sync-NAME.json)
# that its broker applied etcd revision REV or later.
applied_at_least() {
	/usr/bin/python3 -c 'import json, sys
sys.exit(0 if json.load(open(sys.argv[1]))["applied_rev"] >= int(sys.argv[2]) else 1)' \
		"$1/audit/sync-$2.json" "$3"
}

# key_rev KEY: the mod revision of KEY in etcd.
key_rev() {
	etcdctl_t get "$1" -w json | /usr/bin/python3 -c 'import json, sys
print(json.load(sys.stdin)["kvs"][0]["mod_revision"])'
}
