#!/bin/bash
# make demo must keep working: run examples/demo.sh against the build under
# test (into $TRASH, not ./demo) and check that it told the whole story.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"

test_expect_success 'the demo runs to the end and exits 0' '
	# Run as root, mosquitto drops to user mosquitto: it must reach the
	# demo directory.
	chmod 755 "$TRASH" &&
	{
		echo "#!/bin/sh"
		env $(broker_asan_env) | sed -n "s/^LD_PRELOAD=/export LD_PRELOAD=/p"
		echo "export ASAN_OPTIONS=detect_leaks=0"
		echo "exec /usr/sbin/mosquitto \"\$@\""
	} >mosquitto-wrapper &&
	chmod +x mosquitto-wrapper &&
	MQ_DEMO_BUILD="$MQ_BUILD" MQ_DEMO_DIR="$TRASH/demo" MOSQUITTO="$TRASH/mosquitto-wrapper" \
		"$MQ_ROOT/examples/demo.sh" >demo.out 2>&1 ||
		{ cat demo.out; exit 1; }
'

test_expect_success 'every step of the story is in its output' '
	test_grep "dashboard received: sensors/sensor1/temperature 21.5" demo.out &&
	test_grep "the dashboard got sensors/sensor1/humidity but never sensors/dashboard/temperature" demo.out &&
	test_grep "audit log: .*\"event\":\"acl_denied\".*\"topic\":\"sensors/dashboard/temperature\"" demo.out &&
	test_grep "certificate verify failed" demo.out &&
	test_grep "certificate not on the allowlist" demo.out &&
	test_grep "client id does not match username .sensor1." demo.out &&
	test_grep "disconnecting client .dashboard.*certificate is revoked" demo.out &&
	test_grep "mosquitto version .* terminating" demo.out &&
	test_grep "Done. Everything is in $TRASH/demo" demo.out
'

test_expect_success 'the demo never makes its PKI the system default (make demo runs as root)' '
	test_grep "mqadmin -d .*/demo/pki init --no-default" demo.out &&
	! test -e "$MQADMIN_CONFIG"
'

test_expect_success 'the demo left its files and no broker behind' '
	test -f demo/mosquitto.conf && test -f demo/pki/store/data.mdb &&
	! pgrep -f "mosquitto -c $TRASH/demo/mosquitto.conf"
'

test_expect_success 'the broker ran as user mosquitto and wrote only DIR/audit' '
	if [ "$(id -u)" != 0 ] || grep -qx "user root" demo/mosquitto.conf; then
		echo "skipped: not root, or user mosquitto cannot reach this build"; exit 0
	fi &&
	test "$(stat -c %U:%a demo/pki demo/pki/store/data.mdb | paste -sd " ")" = "root:755 root:644" &&
	test "$(stat -c %U demo/pki/audit demo/pki/audit/audit.log demo/pki/audit/connected-*.json | sort -u)" = mosquitto
'

test_done
