#!/bin/bash
# mqadmin doctor: a plugin (or auth_plugin) loaded before mqcert in the same
# security scope answers connects and ACL checks first (mosquitto takes the
# first answer that is not DEFER), so doctor calls it an error naming both
# lines. Scope: everything with per_listener_settings false, the listener
# block with true. Only a v5 plugin (one exporting mosquitto_plugin_version)
# can be asked first: 2.0.11 asks older auth plugins after every v5 one.
# acl_file/password_file are checked after all plugins: no finding. The
# other plugins are stubs compiled here (doctor only reads them).
. "$(dirname "$0")/../lib.sh"

chmod 755 "$TRASH"
ME=$(id -un)
doctor() { "$MQADMIN" -d pki doctor --broker-user "$ME" "$@"; }
OTHER=$TRASH/other5.so
# mqline: the line number of mqcert's plugin line in good.conf.
mqline() { grep -n "^plugin " good.conf | cut -d: -f1; }

test_expect_success 'setup: a CA, a server, a device, the printed broker config' '
	echo "int mosquitto_plugin_version(int n, const int *v) { return 5; }" >other5.c &&
	cc -shared -fPIC -o other5.so other5.c &&
	echo "int mosquitto_auth_plugin_version(void) { return 4; }" >other4.c &&
	cc -shared -fPIC -o other4.so other4.c &&
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki server issue localhost >/dev/null &&
	"$MQADMIN" -d pki device issue dev1 >/dev/null &&
	"$MQADMIN" -d pki broker-config >good.conf &&
	doctor --config good.conf >out &&
	test_grep "^no problems found$" out &&
	test -n "$(mqline)"
'

test_expect_success 'a plugin line just before mqcert: error naming both lines and the fix' '
	MQ=$(mqline) &&
	sed "${MQ}i plugin $OTHER" good.conf >bad.conf &&
	test_must_fail doctor --config bad.conf >out &&
	test_grep "^error \[config-plugin-order\]: plugin $OTHER (bad.conf:$MQ) comes before the mqcert plugin (bad.conf:$((MQ + 1))) in the global security settings" out &&
	test_grep "fix: load mqcert first" out &&
	test_grep "1 error(s), 0 warning(s): not healthy" out
'

test_expect_success 'auth_plugin spelling, before the first listener: the same error' '
	MQ=$(mqline) &&
	sed "1i auth_plugin $OTHER" good.conf >bad.conf &&
	test_must_fail doctor --config bad.conf >out &&
	test_grep "^error \[config-plugin-order\]: plugin $OTHER (bad.conf:1) comes before the mqcert plugin (bad.conf:$((MQ + 1)))" out
'

test_expect_success 'a plugin from an include_dir read before mqcert: the file is named' '
	MQ=$(mqline) &&
	mkdir conf.d &&
	echo "plugin $OTHER" >conf.d/other.conf &&
	sed "${MQ}i include_dir $TRASH/conf.d" good.conf >inc.conf &&
	test_must_fail doctor --config inc.conf >out &&
	test_grep "^error \[config-plugin-order\]: plugin $OTHER ($TRASH/conf.d/other.conf:1) comes before" out
'

test_expect_success 'the other plugin after mqcert, acl_file and password_file before it: healthy' '
	MQ=$(mqline) &&
	{ cat good.conf; echo; echo "plugin $OTHER"; } >after.conf &&
	doctor --config after.conf >out &&
	test_grep "^no problems found$" out &&
	sed -e "${MQ}i acl_file $TRASH/acl" -e "${MQ}i password_file $TRASH/pw" good.conf >files.conf &&
	doctor --config files.conf >out &&
	test_grep ! "config-plugin-order" out
'

test_expect_success 'a v4 auth_plugin before mqcert is asked after it: no finding' '
	MQ=$(mqline) &&
	sed "${MQ}i auth_plugin $TRASH/other4.so" good.conf >v4.conf &&
	doctor --config v4.conf >out &&
	test_grep "^no problems found$" out
'

test_expect_success 'a plugin file doctor cannot read counts as one asked first' '
	MQ=$(mqline) &&
	sed "${MQ}i plugin $TRASH/nosuch.so" good.conf >bad.conf &&
	test_must_fail doctor --config bad.conf >out &&
	test_grep "^error \[config-plugin-order\]: plugin $TRASH/nosuch.so (bad.conf:$MQ) comes before" out
'

test_expect_success 'per_listener_settings true: only a plugin in the same listener block counts' '
	MQ=$(mqline) &&
	sed -e "s/^per_listener_settings false/per_listener_settings true/" good.conf >pl.conf &&
	{ echo "listener 1884 127.0.0.1"; echo "plugin $OTHER"; } >>pl.conf &&
	test_must_fail doctor --config pl.conf >out &&
	test_grep "^error \[config-per-listener-settings\]" out &&
	test_grep ! "config-plugin-order" out &&
	sed "${MQ}i plugin $OTHER" pl.conf >pl2.conf &&
	test_must_fail doctor --config pl2.conf >out &&
	test_grep "^error \[config-plugin-order\]: plugin $OTHER (pl2.conf:$MQ) comes before the mqcert plugin (pl2.conf:$((MQ + 1))) in listener 8883 (pl2.conf:[0-9]*)" out
'

test_expect_success 'per_listener_settings false: a plugin in another listener block still counts' '
	sed "/^listener 8883/i listener 1884 127.0.0.1\nplugin $OTHER\n" good.conf >two.conf &&
	test_must_fail doctor --config two.conf >out &&
	test_grep "^error \[config-plugin-order\]: plugin $OTHER (two.conf:[0-9]*) comes before the mqcert plugin" out
'

test_done
