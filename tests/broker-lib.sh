# Starting and stopping a real mosquitto for tests. Source after lib.sh.
#
#   broker_free_port                 -> prints a free loopback TCP port
#   broker_start NAME CONF_BODY      -> (user $BROKER_USER, default root) writes $TRASH/NAME.conf (CONF_BODY plus
#                                       log settings), starts mosquitto, waits
#                                       until it listens; sets BROKER_PID_<NAME>
#                                       and prints nothing. Log: $TRASH/NAME.log
#   broker_stop NAME                 -> SIGTERM and wait (bounded)
#   broker_hup NAME                  -> SIGHUP
#   broker_log NAME                  -> path of its log file
#
# With BROKER_ASAN=1 (the default when $MQCERT_SO was built with ASan) the
# sanitizer runtime is preloaded so the ASan-built plugin can load; leak
# checking then covers the plugin only (see tests/lsan.supp). BROKER_LEAKS=0
# turns leak checking off for a broker expected to refuse its configuration
# (mosquitto does not free its config when it exits early). BROKER_PRELOAD:
# a test's own shim, preloaded after the sanitizer runtime.

MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}

broker_free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

broker_log() { echo "$TRASH/$1.log"; }

broker_pid() { cat "$TRASH/$1.pid" 2>/dev/null; }

broker_is_running() {
	local pid
	pid=$(broker_pid "$1") && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

broker_asan_env() {
	if [ "${BROKER_ASAN:-auto}" = auto ]; then
		if nm -D "$MQCERT_SO" 2>/dev/null | grep -q __asan_init; then BROKER_ASAN=1; else BROKER_ASAN=0; fi
	fi
	if [ "$BROKER_ASAN" = 1 ]; then
		echo "LD_PRELOAD=$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)${BROKER_PRELOAD:+:$BROKER_PRELOAD}"
		echo "ASAN_OPTIONS=detect_leaks=${BROKER_LEAKS:-1}:exitcode=99:log_path=$TRASH/asan"
		echo "LSAN_OPTIONS=suppressions=$MQ_ROOT/tests/lsan.supp:print_suppressions=0"
		echo "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$TRASH/ubsan"
	elif [ -n "${BROKER_PRELOAD:-}" ]; then
		echo "LD_PRELOAD=$BROKER_PRELOAD"
	fi
}

# broker_start NAME CONF_BODY: CONF_BODY must contain the listener lines.
broker_start() {
	local name=$1 body=$2 conf=$TRASH/$1.conf log=$TRASH/$1.log i
	{
		echo "user ${BROKER_USER:-root}"
		echo "log_dest file $log"
		echo "log_type all"
		echo "log_timestamp_format %Y-%m-%dT%H:%M:%S"
		echo "persistence false"
		echo "$body"
	} >"$conf"
	: >"$log"
	# shellcheck disable=SC2046
	env $(broker_asan_env) "$MOSQUITTO" -c "$conf" >"$TRASH/$name.out" 2>&1 &
	echo $! >"$TRASH/$name.pid"
	test_at_end "broker_stop $name"
	for i in $(seq 1 100); do
		if grep -q "mosquitto version .* running" "$log" 2>/dev/null; then return 0; fi
		if ! broker_is_running "$name"; then break; fi
		sleep 0.1
	done
	echo "broker_start: mosquitto '$name' did not start; log:" >&2
	cat "$log" "$TRASH/$name.out" >&2
	return 1
}

broker_hup() { kill -HUP "$(broker_pid "$1")"; }

broker_stop() {
	local pid i
	pid=$(broker_pid "$1") || return 0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || { rm -f "$TRASH/$1.pid"; return 0; }
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	# "|| true": callers run under set -e, and these fail when the broker
	# is already gone or is not a child of this (sub)shell.
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -f "$TRASH/$1.pid"
	return 0
}

# broker_sanitizer_clean: fails (printing the reports) when the ASan/UBSan
# runtime inside any broker of this test wrote a report.
broker_sanitizer_clean() {
	local f bad=0
	for f in "$TRASH"/asan.* "$TRASH"/ubsan.*; do
		[ -e "$f" ] || continue
		echo "sanitizer report $f:" >&2
		cat "$f" >&2
		bad=1
	done
	# UBSan inside the ASan runtime may ignore log_path and write to the
	# broker's stderr.
	for f in "$TRASH"/*.out; do
		[ -e "$f" ] || continue
		if grep -Eq "runtime error:|AddressSanitizer|LeakSanitizer" "$f"; then
			echo "sanitizer report in $f:" >&2
			cat "$f" >&2
			bad=1
		fi
	done
	return $bad
}
