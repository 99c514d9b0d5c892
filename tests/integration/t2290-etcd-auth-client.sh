#!/bin/bash
# mqadmin and mqadmin sync against an etcd with auth on (issue 17 item 5):
# etcd 3.4's JSON gateway takes no identity from a client certificate, so
# each logs in as an etcd user with the password from its file
# (--etcd-user, --etcd-password-file; scripts/fleet-etcd-auth made both).
# The administrator writes devices, a sync as mqcert-sync-INSTANCE applies
# them and publishes its brokers/ key but may not write devices; a wrong
# password and a password file others can read are refused clearly; a sync
# logs in again when etcd forgot its token (a restart).
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"
. "$MQ_ROOT/tests/etcd-lib.sh"
. "$MQ_ROOT/tests/sync-lib.sh"

A=$TRASH/adm
# id NAME: the TLS files of etcd identity NAME, as global mqadmin options.
tls() { echo "--etcd-cacert $A/ca.crt --etcd-cert $A/servers/$1/$1.crt --etcd-key $A/servers/$1/$1.key"; }
# adm ARGS: mqadmin as the administrators' identity (its settings from the
# environment, as a deployment would set them).
adm() {
	MQADMIN_ETCD_CACERT=$A/ca.crt MQADMIN_ETCD_CERT=$A/servers/mqcert-admin/mqcert-admin.crt \
	MQADMIN_ETCD_KEY=$A/servers/mqcert-admin/mqcert-admin.key MQADMIN_ETCD_USER=mqcert-admin \
	MQADMIN_ETCD_PASSWORD_FILE=${PWFILE:-$A/etcd/mqcert-admin.password} "$MQADMIN" -d "$A" "$@"
}
# root_get KEY: etcdctl as etcd's root user.
root_get() {
	ETCDCTL_USER="root:$(cat "$A/etcd/root.password")" ETCDCTL_API=3 etcdctl \
		--dial-timeout 10s --command-timeout 30s \
		--endpoints "$ETCD_URL" --cacert "$A/ca.crt" --cert "$A/servers/root/root.crt" \
		--key "$A/servers/root/root.key" get "$@"
}
# local_has DIR DEVICE: the local store of DIR (no etcd) knows DEVICE.
local_has() { env -u MQADMIN_ETCD "$MQADMIN" -d "$1" device show "$2" >/dev/null 2>&1; }
# sync_as_b1: b1's sync, logged in as mqcert-sync-b1 (options after "sync").
sync_as_b1() {
	# shellcheck disable=SC2046
	"$MQADMIN" -d "$TRASH/b1" $(tls mqcert-sync-b1) sync --etcd "$ETCD_URL" --instance b1 \
		--lease-ttl 3 --etcd-user mqcert-sync-b1 \
		--etcd-password-file "$A/etcd/mqcert-sync-b1.password" >>"$TRASH/b1.sync.log" 2>&1 &
	echo $! >"$TRASH/b1.sync.pid"
	test_at_end "kill \$(cat $TRASH/b1.sync.pid) 2>/dev/null"
}
b1_key() { root_get --print-value-only /mqcert/brokers/b1 | grep -q '"instance":"b1"'; }

test_expect_success 'setup: a CA, a TLS etcd requiring client certificates, users and roles, auth on' '
	"$MQADMIN" -d "$A" init >/dev/null &&
	"$MQADMIN" -d "$A" server issue etcd1 --san IP:127.0.0.1 --client --broker-user "$(id -un)" >/dev/null 2>&1 &&
	"$MQADMIN" -d "$A" server issue probe --etcd-client --broker-user "$(id -un)" >/dev/null 2>&1 &&
	S=$A/servers/etcd1/etcd1 &&
	ETCD_SCHEME=https ETCD_NO_EXPORT=1 \
	ETCD_EXTRA_ARGS="--cert-file $S.crt --key-file $S.key --trusted-ca-file $A/ca.crt --client-cert-auth" \
	ETCD_CURL_ARGS="--cacert $A/ca.crt --cert $A/servers/probe/probe.crt --key $A/servers/probe/probe.key" \
		etcd_start &&
	MQADMIN="$MQADMIN" "$MQ_ROOT/scripts/fleet-etcd-auth" -d "$A" --endpoints "$(etcd_url)" --sync b1 >out &&
	test_grep "etcd auth enabled" out &&
	fleet_broker_dir "$A" b1
'
ETCD_URL=$(etcd_url)
export MQADMIN_ETCD=$ETCD_URL

test_expect_success 'no etcd user given: refused, saying to give --etcd-user and --etcd-password-file' '
	# shellcheck disable=SC2046
	test_expect_code 1 "$MQADMIN" -d "$A" $(tls mqcert-admin) device issue dev0 >out 2>err &&
	test_grep "etcd auth is on and no etcd user was given: give --etcd-user and --etcd-password-file" err
'

test_expect_success 'the administrator (mqcert-admin) writes devices to etcd' '
	adm device issue dev1 >out 2>err &&
	root_get --print-value-only /mqcert/devices/dev1 >val &&
	test_grep "\"name\":[[:space:]]*\"dev1\"" val &&
	test_grep ! "$(cat "$A/etcd/mqcert-admin.password")" out err
'

test_expect_success 'the same settings from the config file (etcd_user, etcd_password_file)' '
	printf "%s\n" "dir = $A" "etcd = $ETCD_URL" "etcd_cacert = $A/ca.crt" \
		"etcd_cert = $A/servers/mqcert-admin/mqcert-admin.crt" \
		"etcd_key = $A/servers/mqcert-admin/mqcert-admin.key" "etcd_user = mqcert-admin" \
		"etcd_password_file = $A/etcd/mqcert-admin.password" >adm.conf &&
	env -u MQADMIN_ETCD MQADMIN_CONFIG=$TRASH/adm.conf "$MQADMIN" device issue dev4 >/dev/null &&
	root_get --print-value-only /mqcert/devices/dev4 >val &&
	test_grep "\"name\":[[:space:]]*\"dev4\"" val
'

test_expect_success 'a wrong password: the user, the endpoint and the file are named; exit 1' '
	(umask 077 && echo wrong >"$TRASH/bad.password") &&
	PWFILE=$TRASH/bad.password test_expect_code 1 adm device issue dev9 >out 2>err &&
	test_grep "etcd at $ETCD_URL refused user .mqcert-admin.: authentication failed; check the password file $TRASH/bad.password" err &&
	test_grep ! wrong err &&
	! root_get /mqcert/devices/dev9 | grep -q dev9
'

test_expect_success 'a password file other users can read is refused before any request' '
	cp "$A/etcd/mqcert-admin.password" "$TRASH/open.password" &&
	chmod 644 "$TRASH/open.password" &&
	PWFILE=$TRASH/open.password test_expect_code 1 adm device issue dev9 >out 2>err &&
	test_grep "the etcd password file $TRASH/open.password is open to other users (mode 0644).*chmod o-rwx" err &&
	test_expect_code 1 "$MQADMIN" -d "$A" --etcd-user mqcert-admin device list >out 2>err &&
	test_grep "give both --etcd-user and --etcd-password-file" err
'

test_expect_success 'the sync as mqcert-sync-b1 applies the policy and publishes brokers/b1' '
	sync_as_b1 &&
	wait_for 20 b1_key &&
	wait_for 20 local_has "$TRASH/b1" dev1 &&
	adm device issue dev2 >/dev/null 2>&1 &&
	wait_for 20 local_has "$TRASH/b1" dev2 &&
	test_grep ! "permission denied" b1.sync.log
'

test_expect_success 'the sync identity may not write devices: permission denied, nothing written' '
	# shellcheck disable=SC2046
	test_expect_code 1 "$MQADMIN" -d "$A" $(tls mqcert-sync-b1) --etcd-user mqcert-sync-b1 \
		--etcd-password-file "$A/etcd/mqcert-sync-b1.password" device suspend dev1 >out 2>err &&
	test_grep "refused user .mqcert-sync-b1. the transaction: permission denied; the user.s etcd roles do not grant it" err &&
	root_get --print-value-only /mqcert/devices/dev1 >val &&
	test_grep ! suspended val
'

test_expect_success 'etcd restarted (its tokens forgotten): the sync logs in again and follows' '
	tr "\0" "\n" <"/proc/$(cat "$TRASH/etcd.etcd/pid")/cmdline" >"$TRASH/etcd.cmdline" &&
	etcd_stop &&
	mapfile -t args <"$TRASH/etcd.cmdline" &&
	{ "${args[@]}" >>"$TRASH/etcd.etcd/log" 2>&1 </dev/null & echo $! >"$TRASH/etcd.etcd/pid"; } &&
	test_at_end "etcd_stop etcd" &&
	wait_for 30 adm device list >/dev/null 2>&1 &&
	adm device issue dev3 >/dev/null 2>&1 &&
	wait_for 30 local_has "$TRASH/b1" dev3 &&
	kill -0 $(cat "$TRASH/b1.sync.pid")
'

test_done
