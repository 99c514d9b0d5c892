#!/bin/bash
# server issue: the broker's user can read its key as issued (run as root),
# --force keeps the owner an operator set, --broker-user names another user.
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" != 0 ] || ! getent passwd mosquitto >/dev/null; then
	echo "1..0 # skipped: needs root and a mosquitto user"
	exit 0
fi
chmod 755 "$TRASH"
KEY=pki/servers/localhost/localhost.key

test_expect_success 'setup' '
	"$MQADMIN" -d pki init >/dev/null 2>&1
'

test_expect_success 'run as root, the key goes to user mosquitto, 0600, and it says so' '
	"$MQADMIN" -d pki server issue localhost >out 2>err &&
	printf "%s\n" pki/servers/localhost/localhost.crt $KEY >expect &&
	test_cmp expect out &&
	test "$(stat -c %U:%G:%a $KEY)" = mosquitto:root:600 &&
	echo "mqadmin: $KEY now belongs to user mosquitto (mode 600), so the broker running as mosquitto can read it" >expect &&
	test_cmp expect err &&
	setpriv --reuid=mosquitto --regid=mosquitto --clear-groups head -c 10 $KEY >/dev/null &&
	"$MQADMIN" -d pki doctor >out &&
	test_grep "no problems found" out
'

test_expect_success '--force keeps the owner, group and mode the operator set' '
	chown root:mosquitto $KEY && chmod 640 $KEY &&
	cp $KEY old.key &&
	"$MQADMIN" -d pki server issue localhost --force >out 2>err &&
	! cmp -s old.key $KEY &&
	test "$(stat -c %U:%G:%a $KEY)" = root:mosquitto:640 &&
	test_grep "^mqadmin: $KEY keeps the owner root:mosquitto and mode 640 of the key it replaced$" err &&
	"$MQADMIN" -d pki doctor >out &&
	test_grep "no problems found" out
'

test_expect_success '--force never keeps a mode that lets others read the key' '
	chmod 644 $KEY &&
	"$MQADMIN" -d pki server issue localhost --force >out 2>err &&
	test "$(stat -c %a $KEY)" = 640 &&
	test_grep "mode 640 of the key it replaced" err
'

test_expect_success '--force with --broker-user gives the key to that user instead' '
	"$MQADMIN" -d pki server issue localhost --force --broker-user nobody >out 2>err &&
	test "$(stat -c %U:%a $KEY)" = nobody:600 &&
	test_grep "now belongs to user nobody (mode 600)" err &&
	"$MQADMIN" -d pki server issue localhost --force --broker-user mosquitto >out 2>err &&
	test "$(stat -c %U:%a $KEY)" = mosquitto:600
'

test_expect_success '--force on a key the broker cannot read keeps it, and says what to pass' '
	chown root:root $KEY && chmod 600 $KEY &&
	"$MQADMIN" -d pki server issue localhost --force >out 2>err &&
	test "$(stat -c %U:%a $KEY)" = root:600 &&
	test_grep "^mqadmin: $KEY keeps the owner root:root and mode 600 of the key it replaced; user mosquitto cannot read it: pass --broker-user mosquitto to give it the key$" err &&
	test_must_fail "$MQADMIN" -d pki doctor >out &&
	test_grep "broker-cannot-read" out &&
	"$MQADMIN" -d pki server issue localhost --force --broker-user mosquitto 2>err &&
	test "$(stat -c %U:%a $KEY)" = mosquitto:600
'

test_expect_success 'an unknown --broker-user is refused before anything is written' '
	cp $KEY before.key &&
	test_must_fail "$MQADMIN" -d pki server issue b2 --broker-user no-such-user 2>err &&
	test_grep "invalid --broker-user .no-such-user.: there is no such user here" err &&
	! test -e pki/servers/b2 &&
	test_must_fail "$MQADMIN" -d pki server issue localhost --force --broker-user no-such-user 2>err &&
	cmp before.key $KEY
'

test_expect_success 'not root: the key stays the caller'"'"'s, and it says what the broker needs' '
	mkdir -p np && chown nobody np &&
	setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/nonexistent \
		"$MQADMIN" -d np/pki init >/dev/null 2>&1 &&
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$MQADMIN" -d np/pki server issue s1 >out 2>err &&
	test "$(stat -c %U:%a np/pki/servers/s1/s1.key)" = nobody:600 &&
	test_grep "^mqadmin: np/pki/servers/s1/s1.key belongs to you (mode 600); a broker running as user mosquitto cannot read it until root runs .chown mosquitto np/pki/servers/s1/s1.key.$" err
'

test_done
