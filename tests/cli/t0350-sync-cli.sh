#!/bin/bash
# mqadmin sync's command line (issue 17): usage errors, the instance found
# from DIR/audit, and audit naming a broker whose sync cannot reach etcd.
. "$(dirname "$0")/../lib.sh"
unset MQADMIN_ETCD MQADMIN_ETCD_PREFIX

test_expect_success 'setup' '
	"$MQADMIN" -d pki init --no-default >/dev/null
'

test_expect_success 'no etcd: a usage error naming --etcd' '
	test_expect_code 2 "$MQADMIN" -d pki sync 2>err &&
	test_grep "no etcd to follow: pass --etcd URL" err
'

test_expect_success 'a bad --lease-ttl or --instance is a usage error' '
	test_expect_code 2 "$MQADMIN" -d pki sync --etcd http://127.0.0.1:9 --lease-ttl 1 2>err &&
	test_grep "invalid --lease-ttl .1.: use a number of seconds from 2 to 3600" err &&
	test_expect_code 2 "$MQADMIN" -d pki sync --etcd http://127.0.0.1:9 --instance ../x 2>err &&
	test_grep "invalid --instance" err
'

test_expect_success 'no --instance and no broker state file: says how to name it' '
	test_expect_code 1 "$MQADMIN" -d pki sync --etcd http://127.0.0.1:9 2>err &&
	test_grep "no broker state file in .*/audit (connected-INSTANCE.json).*--instance NAME" err
'

test_expect_success 'two broker state files: names both and asks for --instance' '
	echo "{}" >pki/audit/connected-b1.json &&
	echo "{}" >pki/audit/connected-b2.json &&
	test_expect_code 1 "$MQADMIN" -d pki sync --etcd http://127.0.0.1:9 2>err &&
	test_grep "several broker state files .*(b[12], b[12]).*--instance NAME" err &&
	rm pki/audit/connected-b2.json
'

test_expect_success 'etcd unreachable: the sync keeps running, writes its status file, stops on SIGTERM' '
	now=$(date -u +%Y-%m-%dT%H:%M) &&
	test_expect_code 124 timeout 3 "$MQADMIN" -d pki sync --etcd http://127.0.0.1:9 \
		--metrics-file "$TRASH/sync.prom" >out 2>err &&
	test_grep "started for broker .b1." err &&
	test_grep "etcd unreachable since 20" err &&
	test_grep "stopping" err &&
	test_grep "\"etcd\":[[:space:]]*\"down\"" pki/audit/sync-b1.json &&
	grep "^mqcert_sync_etcd_up{mqcert_instance=\"b1\"} 0$" sync.prom
'

test_expect_success 'audit names the broker whose sync reports etcd down' '
	cat >pki/audit/connected-b1.json <<-EOF2 &&
	{"version": 1, "updated": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "instance": "b1",
	 "running": true, "clients": [], "suspected_clones": []}
	EOF2
	"$MQADMIN" -d pki audit >out 2>err &&
	test_grep "broker .b1.: etcd unreachable since 20[0-9-]*T[0-9:]*Z (its sync.s status file)" err
'

test_expect_success 'sync --help shows its usage' '
	"$MQADMIN" sync --help >out &&
	test_grep "usage: mqadmin \[-d DIR\] sync \[--etcd URL" out
'

test_done
