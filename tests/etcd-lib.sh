# A real etcd for a test (issue 17): source after lib.sh.
#
#   etcd_start [NAME]       starts etcd NAME (default "etcd") on free loopback
#                           ports with its data under $TRASH/NAME.etcd, waits
#                           for /health, stops it when the test ends; sets
#                           ETCD_URL (and exports MQADMIN_ETCD unless
#                           ETCD_NO_EXPORT=1)
#   etcd_stop [NAME]        stops it (SIGTERM, then SIGKILL after 5 s)
#   etcd_url [NAME]         prints its client URL
#   etcdctl_t ARGS...       etcdctl (v3 API) against $ETCD_URL
#   etcd_put KEY VALUE      etcdctl put; etcd_get KEY prints the value only
#   etcd_save               keeps the running etcd's command line, so that
#   etcd_relaunch           starts it again on the same ports and data
#   etcd_restore SNAPSHOT   stops it, restores SNAPSHOT (etcdctl snapshot
#                           restore) into its data directory, relaunches it
#
# TLS: set ETCD_SCHEME=https, ETCD_EXTRA_ARGS (etcd's --cert-file ...) and
# ETCD_CURL_ARGS (--cacert/--cert/--key for the /health poll) first.
# Never fixed ports: each etcd takes two free ones.

ETCD_BIN=${ETCD_BIN:-/usr/bin/etcd}
ETCDCTL_BIN=${ETCDCTL_BIN:-/usr/bin/etcdctl}

etcd_free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

etcd_url() { cat "$TRASH/${1:-etcd}.etcd.url" 2>/dev/null; }

etcd_healthy() {
	# shellcheck disable=SC2086
	curl -fsS --max-time 1 ${ETCD_CURL_ARGS:-} "$1/health" 2>/dev/null | grep -q '"health":"true"'
}

etcd_start() {
	local name=${1:-etcd} cport pport url dir try
	dir=$TRASH/$name.etcd
	for try in 1 2 3; do
		cport=$(etcd_free_port)
		pport=$(etcd_free_port)
		[ "$cport" != "$pport" ] || continue
		url=${ETCD_SCHEME:-http}://127.0.0.1:$cport
		mkdir -p "$dir"
		ETCD_UNSUPPORTED_ARCH= "$ETCD_BIN" --name "$name" --data-dir "$dir/data" \
			--listen-client-urls "$url" --advertise-client-urls "$url" \
			--listen-peer-urls "http://127.0.0.1:$pport" \
			--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
			--initial-cluster "$name=http://127.0.0.1:$pport" \
			--max-txn-ops 20000 --max-request-bytes 33554432 ${ETCD_EXTRA_ARGS:-} \
			--log-level error >"$dir/log" 2>&1 </dev/null &
		echo $! >"$dir/pid"
		test_at_end "etcd_stop $name"
		if wait_for 20 etcd_healthy "$url"; then
			echo "$url" >"$TRASH/$name.etcd.url"
			ETCD_URL=$url
			[ "${ETCD_NO_EXPORT:-0}" = 1 ] || export MQADMIN_ETCD=$url
			return 0
		fi
		# A port taken between picking and binding: try others.
		etcd_stop "$name"
	done
	echo "etcd_start: etcd $name did not become healthy; its log:" >&2
	cat "$dir/log" >&2
	return 1
}

etcd_stop() {
	local name=${1:-etcd} pid i=0
	pid=$(cat "$TRASH/$name.etcd/pid" 2>/dev/null) || return 0
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || { rm -f "$TRASH/$name.etcd/pid"; return 0; }
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$TRASH/$name.etcd/pid"
}

etcdctl_t() { ETCDCTL_API=3 "$ETCDCTL_BIN" --endpoints="${ETCD_URL:?etcd_start first}" "$@"; }
etcd_put() { etcdctl_t put "$1" "$2" >/dev/null; }
etcd_get() { etcdctl_t get --print-value-only "$1"; }

etcd_save() { tr '\0' '\n' <"/proc/$(cat "$TRASH/etcd.etcd/pid")/cmdline" >"$TRASH/etcd.cmdline"; }

etcd_relaunch() {
	local args
	mapfile -t args <"$TRASH/etcd.cmdline"
	"${args[@]}" >>"$TRASH/etcd.etcd/log" 2>&1 </dev/null &
	echo $! >"$TRASH/etcd.etcd/pid"
	test_at_end "etcd_stop etcd"
	wait_for 20 etcd_healthy "$ETCD_URL"
}

etcd_restore() {
	local peer
	peer=$(grep -A1 -x -- "--initial-advertise-peer-urls" "$TRASH/etcd.cmdline" | tail -1)
	etcd_stop &&
	rm -rf "$TRASH/etcd.etcd/data" &&
	ETCDCTL_API=3 "$ETCDCTL_BIN" snapshot restore "$1" --data-dir "$TRASH/etcd.etcd/data" \
		--name etcd --initial-cluster "etcd=$peer" --initial-advertise-peer-urls "$peer" \
		>>"$TRASH/restore.log" 2>&1 || { cat "$TRASH/restore.log"; return 1; }
	etcd_relaunch
}
