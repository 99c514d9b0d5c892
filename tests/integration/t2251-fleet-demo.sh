#!/bin/bash
# make fleet-demo must keep working: run scripts/fleet-demo against the build
# under test (into $TRASH) and check each narrated step, then that it left no
# process behind.
. "$(dirname "$0")/../lib.sh"

# Sanitizer-built mosquitto plugin: the broker needs the runtime preloaded.
. "$MQ_ROOT/tests/broker-lib.sh"

test_expect_success 'the fleet demo runs to the end and exits 0' '
	{
		echo "#!/bin/bash"
		broker_asan_env | sed "s/^/export /"
		echo "exec $MOSQUITTO \"\$@\""
	} >"$TRASH/mosquitto-wrapper" &&
	chmod +x "$TRASH/mosquitto-wrapper" &&
	MQ_DEMO_BUILD="$MQ_BUILD" MQ_FLEET_DIR="$TRASH/fleet" MOSQUITTO="$TRASH/mosquitto-wrapper" \
		timeout 600 "$MQ_ROOT/scripts/fleet-demo" >demo.out 2>&1 ||
	{ tail -n 60 demo.out; exit 1; }
'

test_expect_success 'it narrated every step' '
	for s in "1. The fleet" "2. A 3-member etcd" "3. The administrator" "4. Three brokers" \
		"5. HAProxy" "6. A device connects through HAProxy" "7. The dashboard is revoked" \
		"8. One etcd member is killed" "9. All of etcd stops" "10. etcd returns" "Done."; do
		test_grep "== $s" demo.out || exit 1
	done
'

test_expect_success 'etcd: 3 members, TLS, a client without a certificate refused' '
	test "$(grep -c "| https://127.0.0.1:" demo.out)" -ge 3 &&
	test_grep "etcd refuses the connection" demo.out
'

test_expect_success 'etcd auth on: no login refused; a sync identity may not write the policy' '
	test_grep "| etcd auth enabled" demo.out &&
	test_grep "refused reading: etcd auth is on and no etcd user was given" demo.out &&
	test_grep "refused user .mqcert-sync-b1. the transaction: permission denied" demo.out
'

test_expect_success 'the device went through HAProxy to a broker, and that broker dropped it' '
	holder=$(sed -n "s/^   dashboard is on broker \(b[123]\):$/\1/p" demo.out) &&
	test -n "$holder" &&
	test_grep "$holder log: .*mqcert: disconnecting client .dashboard." demo.out &&
	test_grep "dropped by $holder" demo.out &&
	grep -q "mqcert: accepted client .dashboard." "$TRASH/fleet/$holder/mosquitto.log"
'

test_expect_success '--wait confirmed every change on all 3 brokers (4 commands)' '
	test "$(grep -c "| mqadmin: applied by 3 live brokers in" demo.out)" -eq 4
'

test_expect_success 'the revoked device is refused afterwards, even with etcd down' '
	test "$(grep -c "mqcert: refused client .dashboard." "$TRASH"/fleet/b?/mosquitto.log | \
		awk -F: "{s += \$2} END {print s}")" -ge 2
'

test_expect_success 'with etcd down the write failed and named etcd; after it returned, sensor3 went through' '
	sed -n "/== 9. All of etcd stops/,/== 10. etcd returns/p" demo.out >step9 &&
	test_grep "device issue sensor3" step9 &&
	test_grep "b1 sync: .*etcd unreachable since .*keeps enforcing" step9 &&
	test_grep -i "etcd" step9 &&
	sed -n "/== 10. etcd returns/,\$p" demo.out >step10 &&
	test_grep "device issue sensor3 --wait" step10 &&
	test_grep "b1 sync: .*etcd reachable again" step10 &&
	cat "$TRASH"/fleet/b?/mosquitto.log >all.log &&
	test_grep "mqcert: accepted client .sensor3." all.log
'

test_expect_success 'nothing it started is left running' '
	test "$(wc -l <"$TRASH/fleet/pids")" -ge 10 &&
	while read -r pid name; do
		if kill -0 "$pid" 2>/dev/null; then echo "left running: $name ($pid)"; exit 1; fi
	done <"$TRASH/fleet/pids"
'

test_done
