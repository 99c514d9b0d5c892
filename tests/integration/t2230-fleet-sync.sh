#!/bin/bash
# mqadmin sync (issue 17): two brokers, each with its own DIR and sync, one
# administrator's DIR writing to etcd. A device issued is accepted on both
# (--wait confirms it fleet-wide), a revoked one is dropped where it is
# connected, --wait names a broker whose sync is stuck, garbage in etcd is
# skipped, a CRL not signed by the CA is refused, a revoked certificate
# marked active in etcd by hand stays refused, and audit --etcd flags one
# certificate connected to both brokers as a clone.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"
. "$MQ_ROOT/tests/etcd-lib.sh"
. "$MQ_ROOT/tests/sync-lib.sh"

test_expect_success 'setup: etcd, an administrator DIR, two broker DIRs with a broker and a sync each' '
	etcd_start &&
	pki_setup adm &&
	fleet_broker_dir adm b1 && fleet_broker_dir adm b2 &&
	plugin_broker b1 b1 "plugin_opt_instance b1" &&
	plugin_broker b2 b2 "plugin_opt_instance b2" &&
	"$MQADMIN" -d adm device issue dev0 >/dev/null &&
	sync_start b1 b1 --metrics-file "$TRASH/b1.prom" &&
	sync_start b2 b2 &&
	test_grep "started for broker .b1." b1.sync.log &&
	broker_key b1 >key &&
	test_grep "\"host\":\"$(hostname)\"" key &&
	test -f b1/audit/sync-b1.json &&
	test_grep "\"etcd\":[[:space:]]*\"up\"" b1/audit/sync-b1.json &&
	test_grep "^mqcert_sync_etcd_up{mqcert_instance=\"b1\"} 1$" b1.prom
'
P1=$(broker_port b1)
P2=$(broker_port b2)
ETCD_URL=$(etcd_url)
export MQADMIN_ETCD=$ETCD_URL

test_expect_success 'a device issued with --wait is accepted on both brokers when it returns' '
	"$MQADMIN" -d adm device issue dev1 --wait=20 >out 2>err &&
	test_grep "applied by 2 live brokers" err &&
	mq_connect adm $P1 dev1 >c1 && test_grep "^CONNACK 0" c1 &&
	mq_connect adm $P2 dev1 >c2 && test_grep "^CONNACK 0" c2
'

test_expect_success 'revoked from the administrator DIR: dropped on broker b2, refused on b1' '
	stay_client stay1.out --port $P2 $(dev_args adm dev1) --id dev1 &&
	test_grep "^READY" stay1.out &&
	"$MQADMIN" -d adm device revoke dev1 --wait=20 >out 2>err &&
	test_grep "applied by 2 live brokers" err &&
	wait_for 10 grep -q "^DISCONNECTED" stay1.out &&
	mq_connect adm $P1 dev1 >c1 && test_grep ! "^CONNACK 0" c1
'

test_expect_success 'the fleet CRL reached both broker DIRs (verified against their CA)' '
	wait_for 10 test_cmp adm/crl.pem b1/crl.pem &&
	wait_for 10 test_cmp adm/crl.pem b2/crl.pem &&
	test_grep "installed the fleet.s CRL number" b1.sync.log
'

test_expect_success 'a sync that is stuck but whose lease lives is named by --wait' '
	sync_stop b2 &&
	SYNC_TTL=30 sync_start b2 b2 &&
	kill -STOP $(cat b2.sync.pid) &&
	test_expect_code 1 "$MQADMIN" -d adm device issue dev2 --wait=2 >out 2>err &&
	test_grep "broker .b2. has not applied revision [0-9]* after 2 s (it is at [0-9]*)" err &&
	test_grep ! "broker .b1." err &&
	kill -CONT $(cat b2.sync.pid) &&
	wait_for 20 accepted adm $P2 dev2
'

test_expect_success 'a sync stuck until its lease ends is named as no longer reporting; it recovers' '
	sync_stop b2 &&
	sync_start b2 b2 &&
	kill -STOP $(cat b2.sync.pid) &&
	test_expect_code 1 "$MQADMIN" -d adm device issue dev2b --wait=20 >out 2>err &&
	test_grep "broker .b2. stopped reporting before it applied revision" err &&
	kill -CONT $(cat b2.sync.pid) &&
	wait_for 20 grep -q "lease [0-9a-f]* lost" b2.sync.log &&
	wait_for 20 broker_key b2 &&
	wait_for 20 accepted adm $P2 dev2b
'

test_expect_success 'a sync stopped cleanly revokes its lease: that broker is no longer waited for' '
	sync_stop b2 &&
	test_must_fail broker_key b2 &&
	"$MQADMIN" -d adm device issue dev3 --wait=20 >out 2>err &&
	test_grep "applied by 1 live broker " err &&
	sync_start b2 b2 &&
	wait_for 20 accepted adm $P2 dev3
'

test_expect_success 'a garbage device key is reported and skipped; the broker is unaffected' '
	etcd_put /mqcert/devices/junk "{not json" &&
	wait_for 10 grep -q "junk" b1.sync.log &&
	mq_connect adm $P1 dev0 >c && test_grep "^CONNACK 0" c &&
	"$MQADMIN" -d adm device issue dev4 --wait=20 2>err &&
	test_grep "applied by 2 live brokers" err
'

test_expect_success 'a CRL signed by another CA is refused, the broker keeps its own' '
	MQADMIN_ETCD= "$MQADMIN" -d other init --no-default >/dev/null &&
	cp b1/crl.pem crl.before &&
	etcdctl_t put /mqcert/crl.pem -- "$(cat other/crl.pem)" >/dev/null &&
	wait_for 10 grep -q "refused the fleet.s CRL .*not signed by this broker.s CA" b1.sync.log &&
	test_cmp crl.before b1/crl.pem
'

test_expect_success 'dev1 set back to active in etcd by hand: its certificate is in the CRL, still refused' '
	etcd_get /mqcert/devices/dev1 >rec &&
	test_grep "\"revoked\"" rec &&
	sed "s/\"status\":[[:space:]]*\"revoked\"/\"status\":\"active\"/g" rec >rec.active &&
	test_grep ! "\"revoked\"" rec.active &&
	etcd_put /mqcert/devices/dev1 "$(cat rec.active)" &&
	rev=$(key_rev /mqcert/devices/dev1) &&
	wait_for 10 applied_at_least b1 b1 $rev &&
	wait_for 10 applied_at_least b2 b2 $rev &&
	n1=$(log_count b1 "certificate is revoked by the CA.s CRL \(device .dev1.\)" || :) &&
	refused adm $P1 dev1 && refused adm $P2 dev1 &&
	test $(log_count b1 "certificate is revoked by the CA.s CRL \(device .dev1.\)") -gt $n1 &&
	test_grep ! "devices/dev1.*skipped" b1.sync.log
'

test_expect_success 'one certificate on both brokers at once: audit --etcd flags a clone' '
	stay_client sa.out --port $P1 $(dev_args adm dev4) --id dev4 &&
	stay_client sb.out --port $P2 $(dev_args adm dev4) --id dev4 &&
	wait_for 10 sh -c "\"$MQADMIN\" -d adm audit --etcd $ETCD_URL --json 2>/dev/null | grep -c \"\\\"broker\\\"\" | grep -q 2" &&
	"$MQADMIN" -d adm audit --etcd "$ETCD_URL" >out 2>err &&
	test_grep "^dev4 .* b1 .*clone" out &&
	test_grep "^dev4 .* b2 .*clone" out &&
	test_grep "CLONE: the certificate of device .dev4. .* is connected to brokers .b1. and .b2. at once" err &&
	test $(grep -c CLONE err) = 1
'

test_expect_success 'syncs stop cleanly on SIGTERM; no sanitizer reports' '
	sync_stop b1 && sync_stop b2 &&
	test_grep "stopping" b1.sync.log &&
	test_grep ! "ERROR: AddressSanitizer\|runtime error\|LeakSanitizer" b1.sync.log b2.sync.log &&
	broker_stop b1 && broker_stop b2 &&
	broker_sanitizer_clean
'

test_done
