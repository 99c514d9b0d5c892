#!/bin/bash
# mqadmin sync through an etcd outage and a compaction (issue 17): with
# etcd stopped the broker keeps enforcing the policy it has, the sync says
# since when (its log, DIR/audit/sync-INSTANCE.json, audit, the metrics);
# with etcd back it catches up. A sync stopped while etcd compacted the
# revisions it missed resynchronises in full, writing only differences.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"
. "$MQ_ROOT/tests/etcd-lib.sh"
. "$MQ_ROOT/tests/sync-lib.sh"

sync_says() {
	/usr/bin/python3 -c 'import json, sys
sys.exit(0 if json.load(open(sys.argv[1]))["etcd"] == sys.argv[2] else 1)' "b1/audit/sync-b1.json" "$1"
}

test_expect_success 'setup: etcd, an administrator DIR, a broker with its sync; dev1 issued, dev2 revoked' '
	etcd_start &&
	pki_setup adm &&
	fleet_broker_dir adm b1 &&
	plugin_broker b1 b1 "plugin_opt_instance b1" &&
	sync_start b1 b1 --metrics-file "$TRASH/b1.prom" &&
	"$MQADMIN" -d adm device issue dev1 >/dev/null &&
	"$MQADMIN" -d adm device issue dev2 >/dev/null &&
	"$MQADMIN" -d adm device revoke dev2 --wait=20 2>err &&
	test_grep "applied by 1 live broker " err
'
P1=$(broker_port b1)
ETCD_URL=$(etcd_url)
export MQADMIN_ETCD=$ETCD_URL

test_expect_success 'etcd stopped: the broker keeps enforcing; log, status file, audit and metrics say since when' '
	etcd_save &&
	etcd_stop &&
	wait_for 20 sync_says down &&
	test_grep "etcd unreachable since 20[0-9-]*T[0-9:]*Z" b1.sync.log &&
	test_grep "\"down_since\":[[:space:]]*\"20" b1/audit/sync-b1.json &&
	grep "^mqcert_sync_etcd_up{mqcert_instance=\"b1\"} 0$" b1.prom &&
	grep "^mqcert_sync_etcd_down_since_seconds{mqcert_instance=\"b1\"} [1-9][0-9]*$" b1.prom &&
	accepted adm $P1 dev1 &&
	refused adm $P1 dev2 &&
	MQADMIN_ETCD= "$MQADMIN" -d b1 audit >out 2>err &&
	test_grep "broker .b1.: etcd unreachable since 20[0-9-]*T[0-9:]*Z" err &&
	test_must_fail "$MQADMIN" -d adm device issue dev3 2>err &&
	cat err
'

test_expect_success 'etcd back: the sync reconnects and catches up' '
	etcd_relaunch &&
	wait_for 30 sync_says up &&
	test_grep "etcd reachable again" b1.sync.log &&
	grep "^mqcert_sync_etcd_up{mqcert_instance=\"b1\"} 1$" b1.prom &&
	"$MQADMIN" -d adm device issue dev3 --wait=20 2>err &&
	test_grep "applied by 1 live broker " err &&
	accepted adm $P1 dev3 &&
	MQADMIN_ETCD= "$MQADMIN" -d b1 audit >out 2>err &&
	test_grep ! "unreachable" err
'

test_expect_success 'broker stopped, sync running: --wait does not hang on it; restarted, the broker has the change' '
	broker_stop b1 &&
	wait_for 10 sh -c "etcdctl_t() { ETCDCTL_API=3 $ETCDCTL_BIN --endpoints=$ETCD_URL \"\$@\"; }; etcdctl_t get --print-value-only /mqcert/brokers/b1 | grep -q \"broker_running\\\":false\"" &&
	"$MQADMIN" -d adm device issue dev5 --wait=10 2>err &&
	test_grep "applied by 1 live broker " err &&
	broker_start b1 "$(cat b1.block)
plugin_opt_instance b1" &&
	accepted adm $P1 dev5
'

test_expect_success 'sync stopped, changes made, etcd compacted: the restarted sync resynchronises in full' '
	sync_stop b1 &&
	"$MQADMIN" -d adm device issue dev4 >/dev/null 2>&1 &&
	"$MQADMIN" -d adm device revoke dev1 >/dev/null 2>&1 &&
	rev=$(etcdctl_t endpoint status -w json | /usr/bin/python3 -c "import json, sys; print(json.load(sys.stdin)[0][\"Status\"][\"header\"][\"revision\"])") &&
	etcdctl_t compact $rev &&
	sync_start b1 b1 &&
	wait_for 10 grep -q "compacted revision" b1.sync.log &&
	test_grep "resynchronised at revision [0-9]*: [1-9][0-9]* key(s) applied" b1.sync.log &&
	wait_for 20 accepted adm $P1 dev4 &&
	wait_for 20 refused adm $P1 dev1
'

test_expect_success 'etcd rebuilt empty: the admin refuses until told to put its store back; the sync resynchronises in full' '
	etcd_save &&
	etcd_stop &&
	rm -rf "$TRASH/etcd.etcd/data" &&
	etcd_relaunch &&
	test_expect_code 1 "$MQADMIN" -d adm device issue dev6 >/dev/null 2>seed.err &&
	test_grep "etcd was rebuilt or restored from a backup. Nothing was written" seed.err &&
	MQADMIN_ETCD_RESEED=1 "$MQADMIN" -d adm device issue dev6 >/dev/null 2>seed.err &&
	test_grep "put this store.s policy back into etcd" seed.err &&
	wait_for 30 grep -q "etcd was reseeded by an administrator (epoch [1-9][0-9]*; etcd at revision [0-9]*, this store applied [0-9]*): resynchronising in full" b1.sync.log &&
	wait_for 20 accepted adm $P1 dev6 &&
	accepted adm $P1 dev4 &&
	refused adm $P1 dev1
'

test_expect_success 'a sync on a prefix with no policy neither empties the broker nor seeds etcd' '
	sync_stop b1 &&
	test_expect_code 124 timeout 3 "$MQADMIN" -d b1 sync --etcd "$ETCD_URL" --etcd-prefix /empty/ \
		--instance b1 >empty.log 2>&1 &&
	test_grep "etcd holds no policy under /empty/ but this broker.s store has [0-9]* device(s): not applied" empty.log &&
	test_grep "stopping" empty.log &&
	test -z "$(etcdctl_t get /empty/ --prefix --keys-only | grep -v "^/empty/\(brokers\|connected\)/")" &&
	accepted adm $P1 dev6
'

test_expect_success 'no sanitizer reports' '
	sync_start b1 b1 &&
	sync_stop b1 &&
	test_grep ! "AddressSanitizer\|runtime error\|LeakSanitizer" b1.sync.log &&
	broker_stop b1 &&
	broker_sanitizer_clean
'

test_done
