#!/bin/bash
# etcd restored from a snapshot (etcdctl snapshot save / restore): its
# revisions go back. The administrators' commands refuse it (t0420); a
# broker's sync must not take its older policy either, which would bring
# back a suspended device, until an administrator reseeds etcd
# (MQADMIN_ETCD_RESEED=1, a new epoch): then the syncs follow in full.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"
. "$MQ_ROOT/tests/etcd-lib.sh"
. "$MQ_ROOT/tests/sync-lib.sh"

etcd_rev() {
	etcdctl_t endpoint status -w json |
		/usr/bin/python3 -c "import json, sys; print(json.load(sys.stdin)[0][\"Status\"][\"header\"][\"revision\"])"
}

test_expect_success 'setup: etcd, an administrator DIR, a broker with its sync; dev1 and dev2 issued' '
	etcd_start &&
	pki_setup adm &&
	fleet_broker_dir adm b1 &&
	plugin_broker b1 b1 "plugin_opt_instance b1" &&
	sync_start b1 b1 &&
	"$MQADMIN" -d adm device issue dev1 >/dev/null &&
	"$MQADMIN" -d adm device issue dev2 --wait=20 >/dev/null 2>err &&
	test_grep "applied by 1 live broker " err
'
P1=$(broker_port b1)
ETCD_URL=$(etcd_url)
export MQADMIN_ETCD=$ETCD_URL

test_expect_success 'a snapshot; then dev2 suspended and dev3 issued, in force on the broker' '
	etcd_save &&
	etcdctl_t snapshot save "$TRASH/snap1.db" >/dev/null &&
	"$MQADMIN" -d adm device suspend dev2 --wait=20 >/dev/null 2>err &&
	test_grep "applied by 1 live broker " err &&
	"$MQADMIN" -d adm device issue dev3 --wait=20 >/dev/null 2>err &&
	test_grep "applied by 1 live broker " err &&
	refused adm $P1 dev2 &&
	accepted adm $P1 dev3
'

test_expect_success 'etcd restored from the snapshot: the sync refuses its older policy, the broker keeps dev2 suspended' '
	before=$(etcd_rev) &&
	etcd_restore "$TRASH/snap1.db" &&
	test "$(etcd_rev)" -lt "$before" &&
	etcd_get /mqcert/devices/dev2 >dev2.json && test_grep ! suspended dev2.json &&
	wait_for 30 grep -q "no administrator reseeded it: it was restored from an older backup or rebuilt. Not applied: broker .b1. keeps enforcing the policy it has" b1.sync.log &&
	test_grep "MQADMIN_ETCD_RESEED=1 mqadmin -d DIR device list" b1.sync.log &&
	test_grep ! "resynchronising in full" b1.sync.log &&
	refused adm $P1 dev2 &&
	accepted adm $P1 dev3 &&
	test_expect_code 1 "$MQADMIN" -d adm device list >/dev/null 2>err &&
	test_grep "etcd was rebuilt or restored from a backup. Nothing was written" err
'

test_expect_success 'reseeded from the newest store: a new epoch, the sync follows in full' '
	MQADMIN_ETCD_RESEED=1 "$MQADMIN" -d adm device list >/dev/null 2>err &&
	test_grep "put this store.s policy back into etcd" err &&
	etcd_get /mqcert/meta/epoch >epoch && test_grep -x "[1-9][0-9]*" epoch &&
	etcd_get /mqcert/devices/dev2 >dev2.json && test_grep suspended dev2.json &&
	wait_for 30 grep -q "etcd was reseeded by an administrator (epoch $(cat epoch);.*resynchronising in full" b1.sync.log &&
	"$MQADMIN" -d adm device issue dev4 --wait=20 >/dev/null 2>err &&
	test_grep "applied by 1 live broker " err &&
	accepted adm $P1 dev4 &&
	accepted adm $P1 dev3 &&
	refused adm $P1 dev2
'

test_expect_success 'a backup of the same epoch restored later is refused too' '
	etcd_save &&
	etcdctl_t snapshot save "$TRASH/snap2.db" >/dev/null &&
	"$MQADMIN" -d adm device suspend dev3 --wait=20 >/dev/null 2>err &&
	test_grep "applied by 1 live broker " err &&
	refused adm $P1 dev3 &&
	n=$(grep -c "no administrator reseeded it" b1.sync.log) &&
	etcd_restore "$TRASH/snap2.db" &&
	wait_for 30 sh -c "test \$(grep -c \"no administrator reseeded it\" b1.sync.log) -gt $n" &&
	refused adm $P1 dev3 &&
	accepted adm $P1 dev4
'

test_expect_success 'no sanitizer reports' '
	sync_stop b1 &&
	test_grep ! "AddressSanitizer\|runtime error\|LeakSanitizer" b1.sync.log &&
	broker_stop b1 &&
	broker_sanitizer_clean
'

test_done
