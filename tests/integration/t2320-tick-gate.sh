#!/bin/bash
# The TICK gate (issue 15, Ir per delivery): under traffic mosquitto ticks
# once per loop pass, and the plugin does the full TICK work at most every
# 20 ms (coarse monotonic clock), or at once when work is owed (a SIGHUP's
# re-check window, audit lines waiting). Under steady traffic (a publisher
# sending every millisecond), the gate is on, and no TICK work is
# swallowed: a revocation is applied and the client dropped, a new
# client's audit line and state-file entry are written, the SIGHUP
# re-check window ends (a client without a certificate on a plain listener
# is refused again), and a change committed right as the traffic stops is
# applied. An LD_PRELOAD shim (built here) counts the full ticks: each
# asks LMDB once for its newest transaction (mdb_env_info).
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

export MQSHIM_COUNT_FILE=$TRASH/counts
# The shim rewrites the file (O_TRUNC) at each call: an empty read is one
# caught in between.
full_ticks() {
	local v i
	for ((i = 0; i < 100; i++)); do
		v=$(cat "$MQSHIM_COUNT_FILE") && [ -n "$v" ] && echo "$v" && return 0
	done
	return 1
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
msgs() { grep -c "^MSG q/flood " sub.out; }

# flood NAME DEVICE: publishes to q/flood every millisecond until the file
# NAME.stop exists (then disconnects); NAME.out says READY once connected.
flood() {
	/usr/bin/python3 - "$1" "$(broker_port b)" pki "$2" >"$1.out" 2>&1 <<'PY' &
import os, ssl, sys, time
import paho.mqtt.client as mqtt
name, port, pki, dev = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
c = mqtt.Client(client_id=dev, protocol=mqtt.MQTTv311)
c.tls_set(ca_certs=pki + "/ca.crt", certfile="%s/devices/%s/%s.crt" % (pki, dev, dev),
          keyfile="%s/devices/%s/%s.key" % (pki, dev, dev), tls_version=ssl.PROTOCOL_TLS_CLIENT)
c.connect("localhost", port)
c.loop_start()
end = time.monotonic() + 120
i = 0
while not os.path.exists(name + ".stop") and time.monotonic() < end:
    if i == 100:
        print("READY", flush=True)
    c.publish("q/flood", str(i), qos=0)
    i += 1
    time.sleep(0.001)
c.disconnect()
c.loop_stop()
print("SENT", i, flush=True)
PY
	echo $! >"$1.pid"
	test_at_end "touch $TRASH/$1.stop; kill $! 2>/dev/null"
	wait_for 15 grep -q "^READY" "$1.out"
}
flooding() { kill -0 "$(cat "$1.pid")" 2>/dev/null && test ! -e "$1.stop"; }

test_expect_success 'setup: the shim, a PKI, a broker with a plain listener too' '
	cat >shim.c <<-\SHIM &&
	#define _GNU_SOURCE
	#include <dlfcn.h>
	#include <fcntl.h>
	#include <lmdb.h>
	#include <stdio.h>
	#include <stdlib.h>
	#include <unistd.h>
	static unsigned long n;
	int mdb_env_info(MDB_env *env, MDB_envinfo *info)
	{
		static int (*real)(MDB_env *, MDB_envinfo *);
		const char *path = getenv("MQSHIM_COUNT_FILE");
		char buf[32];
		int fd, len;

		if (!real)
			real = (int (*)(MDB_env *, MDB_envinfo *))dlsym(RTLD_NEXT, "mdb_env_info");
		len = snprintf(buf, sizeof(buf), "%lu\n", ++n);
		if (path && (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0) {
			if (write(fd, buf, (size_t)len) != len)
				len = -1;
			close(fd);
		}
		return real(env, info);
	}
	SHIM
	cc -shared -fPIC -O1 -o shim.so shim.c -ldl &&
	pki_setup pki pub1 sub1 dev3 dev4 dev5 dev6 &&
	"$MQADMIN" -d pki acl add --all --topic "q/#" --access readwrite >/dev/null &&
	P2=$(broker_free_port) && echo "$P2" >p2 &&
	BROKER_PRELOAD=$TRASH/shim.so plugin_broker b pki "listener $P2 127.0.0.1" &&
	wait_policy b pki &&
	wait_for 10 test -s counts
'
P="--port $(broker_port b)"
S=pki/audit/connected-127.0.0.1-$(broker_port b).json
A=pki/audit/audit.log

test_expect_success 'steady traffic: the subscriber gets it; few full ticks' '
	stay_client sub.out $P $(dev_args pki sub1) --id sub1 --sub q/flood &&
	stay_client dev3.out $P $(dev_args pki dev3) --id dev3 &&
	test_grep "^READY" dev3.out &&
	flood f1 pub1 &&
	wait_for 10 eval "test \$(msgs) -ge 200" &&
	m0=$(msgs) && t0=$(full_ticks) && ms0=$(now_ms) &&
	sleep 2 &&
	m1=$(msgs) && t1=$(full_ticks) && ms=$(( $(now_ms) - ms0 )) &&
	echo "in $ms ms: $((m1 - m0)) messages delivered, $((t1 - t0)) full ticks" &&
	flooding f1 &&
	test $((m1 - m0)) -ge 400 &&
	test "$t1" -gt "$t0" &&
	test $(( (t1 - t0) * 1000 / ms )) -le 80
'

test_expect_success 'under traffic: a revoked client is dropped' '
	"$MQADMIN" -d pki device revoke dev3 >/dev/null &&
	wait_for 10 log_has b "mqcert: disconnecting client .dev3. .*certificate is revoked" &&
	wait_for 10 grep -q "^DISCONNECTED" dev3.out &&
	flooding f1
'

test_expect_success 'under traffic: a new client is in the audit log and the state file' '
	stay_client dev4.out $P $(dev_args pki dev4) --id dev4 &&
	test_grep "^READY" dev4.out &&
	wait_for 10 grep -q "\"event\":\"connect\".*\"client_id\":\"dev4\"" $A &&
	wait_for 10 grep -Eq "\"client_id\":[[:space:]]*\"dev4\"" $S &&
	flooding f1
'

test_expect_success 'under traffic: the SIGHUP re-check window ends' '
	n0=$(log_count b "every client judged again") &&
	broker_hup b &&
	wait_for 10 eval "test \$(log_count b \"every client judged again\") -gt $n0" &&
	test_expect_code 5 mosquitto_pub -h 127.0.0.1 -p $(cat p2) -u dev5 -P x -i nocert \
		-t q/x -m hi 2>nocert.err &&
	cat nocert.err &&
	wait_for 10 log_has b "mqcert: refused client .nocert.*no client certificate" &&
	flooding f1
'

test_expect_success 'a change committed as the traffic stops is applied' '
	stay_client dev6.out $P $(dev_args pki dev6) --id dev6 &&
	test_grep "^READY" dev6.out &&
	touch f1.stop &&
	"$MQADMIN" -d pki device revoke dev6 >/dev/null &&
	wait_for 10 grep -q "^SENT" f1.out &&
	wait_for 10 log_has b "mqcert: disconnecting client .dev6. .*certificate is revoked" &&
	wait_for 10 grep -q "^DISCONNECTED" dev6.out
'

test_expect_success 'the broker is clean' '
	broker_stop b &&
	broker_sanitizer_clean
'

test_done
