#!/bin/bash
# mqadmin broker-config.
. "$(dirname "$0")/../lib.sh"

test_expect_success 'setup' '
	"$MQADMIN" -d pki init >/dev/null &&
	echo "not really a plugin" >fake.so
'

test_expect_success 'no server certificate: exit 1 saying what to run' '
	test_must_fail "$MQADMIN" -d pki broker-config --plugin fake.so 2>err &&
	test_grep "no server certificate in .*pki: run .mqadmin server issue NAME." err
'

test_expect_success 'prints a complete listener block with absolute paths' '
	"$MQADMIN" -d pki server issue localhost >/dev/null &&
	"$MQADMIN" -d pki broker-config --plugin fake.so >conf &&
	dir=$(cd pki && pwd) &&
	test_grep "^per_listener_settings false$" conf &&
	test_grep "^listener 8883$" conf &&
	test_grep "^cafile $dir/ca.crt$" conf &&
	test_grep "^certfile $dir/servers/localhost/localhost.crt$" conf &&
	test_grep "^keyfile $dir/servers/localhost/localhost.key$" conf &&
	test_grep "^require_certificate true$" conf &&
	test_grep "^tls_version tlsv1.2$" conf &&
	test_grep "^plugin $TRASH/fake.so$" conf &&
	test_grep "^plugin_opt_store $dir/store$" conf &&
	test_grep ! "policy.json" conf &&
	test_grep "^# root, gives it to user mosquitto (--broker-user USER for another), and$" conf &&
	test_grep "^# --force keeps its owner. Else: chown mosquitto $dir/servers/localhost/localhost.key$" conf &&
	test_grep "^# The plugin writes its audit log and connected state to $dir/audit,$" conf &&
	test_grep "chown mosquitto $dir/audit)\.$" conf &&
	test_grep ! "^plugin_opt_\(audit_log\|state_file\)" conf &&
	test_grep ! "^crlfile" conf
'

test_expect_success 'never sets use_identity_as_username or use_subject_as_username' '
	"$MQADMIN" -d pki broker-config --plugin fake.so --crl >conf &&
	test_grep ! "^[^#]*use_identity_as_username" conf &&
	test_grep ! "^[^#]*use_subject_as_username" conf &&
	test_grep "^# .*mosquitto#995" conf
'

test_expect_success '--port, --bind, --crl' '
	"$MQADMIN" -d pki broker-config --plugin fake.so --port 18883 --bind 127.0.0.1 --crl >conf &&
	test_grep "^listener 18883 127.0.0.1$" conf &&
	test_grep "^crlfile $(cd pki && pwd)/crl.pem$" conf &&
	test_grep "mosquitto refuses" conf
'

test_expect_success 'several servers need --server' '
	"$MQADMIN" -d pki server issue other.example >/dev/null &&
	test_must_fail "$MQADMIN" -d pki broker-config --plugin fake.so 2>err &&
	test_grep "holds 2 server certificates: choose one with --server NAME" err &&
	"$MQADMIN" -d pki broker-config --plugin fake.so --server other.example >conf &&
	test_grep "^certfile .*/servers/other.example/other.example.crt$" conf &&
	test_must_fail "$MQADMIN" -d pki broker-config --plugin fake.so --server nosuch 2>err &&
	test_grep "no server .nosuch." err
'

test_expect_success 'the default plugin is mqcert.so next to mqadmin' '
	"$MQADMIN" -d pki broker-config --server localhost >conf &&
	test_grep "^plugin $MQ_BUILD/mqcert.so$" conf
'

test_expect_success 'an installed mqadmin finds PREFIX/lib/mqcert/mqcert.so' '
	mkdir -p prefix/bin prefix/lib/mqcert &&
	cp "$MQADMIN" prefix/bin/mqadmin &&
	cp "$MQ_BUILD/mqcert.so" prefix/lib/mqcert/mqcert.so &&
	prefix/bin/mqadmin -d pki broker-config --server localhost >conf &&
	test_grep "^plugin $TRASH/prefix/lib/mqcert/mqcert.so$" conf &&
	rm prefix/lib/mqcert/mqcert.so &&
	test_must_fail prefix/bin/mqadmin -d pki broker-config --server localhost 2>err &&
	test_grep "mqcert.so not found beside $TRASH/prefix/bin or in ../lib/mqcert" err
'

test_expect_success 'bad options are refused' '
	for p in 0 65536 x -1 ""; do
		test_must_fail "$MQADMIN" -d pki broker-config --plugin fake.so --port "$p" 2>err &&
		test_grep "invalid --port" err || exit 1
	done &&
	test_must_fail "$MQADMIN" -d pki broker-config --plugin nosuch.so --server localhost 2>err &&
	test_grep "plugin nosuch.so: No such file" err &&
	test_must_fail "$MQADMIN" -d pki broker-config --plugin fake.so --bind "a b" 2>err &&
	test_grep "invalid --bind" err &&
	test_must_fail "$MQADMIN" -d pki broker-config --plugin fake.so --server localhost --bind notanip 2>err &&
	test_grep "invalid --bind .notanip.: use an IPv4 or IPv6 address of this machine" err &&
	test_must_fail "$MQADMIN" -d pki broker-config --plugin fake.so --server localhost --bind localhost 2>err &&
	test_must_fail "$MQADMIN" -d pki broker-config --plugin fake.so --server localhost --bind 127.0.0.256 2>err &&
	"$MQADMIN" -d pki broker-config --plugin fake.so --server localhost --bind ::1 >conf &&
	test_grep "^listener 8883 ::1$" conf &&
	"$MQADMIN" -d pki broker-config --plugin fake.so --server localhost --bind 0.0.0.0 >conf &&
	test_grep "^listener 8883 0.0.0.0$" conf &&
	test_expect_code 2 "$MQADMIN" -d pki broker-config --frob 2>err &&
	test_grep "unknown option" err
'

test_done
