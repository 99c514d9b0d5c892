#!/bin/bash
# mqadmin report (issue 16) names a broker whose 'mqadmin sync' reports
# etcd unreachable (its status file DIR/audit/sync-INSTANCE.json, read by
# the same reader as audit's), and says nothing when its sync is up.
. "$(dirname "$0")/../lib.sh"
unset MQADMIN_ETCD MQADMIN_ETCD_PREFIX

test_expect_success 'setup: a sync that cannot reach etcd writes its status file' '
	"$MQADMIN" -d pki init --no-default >/dev/null &&
	test_expect_code 124 timeout 3 "$MQADMIN" -d pki sync --etcd http://127.0.0.1:9 \
		--instance b1 >out 2>err &&
	test_grep "\"etcd\":[[:space:]]*\"down\"" pki/audit/sync-b1.json
'

test_expect_success 'report: one line naming the broker and since when' '
	"$MQADMIN" -d pki report --html r.html >out 2>err &&
	test_grep "data-sync=\"b1\"" r.html &&
	test_grep "Broker <code>b1</code>: etcd unreachable since 20[0-9-]*T[0-9:]*Z" r.html &&
	test "$(grep -c "data-sync=" r.html)" = 1
'

test_expect_success 'report: a sync that is up is not named' '
	sed "s/\"down\"/\"up\"/" pki/audit/sync-b1.json >s.json && mv s.json pki/audit/sync-b1.json &&
	"$MQADMIN" -d pki report --html r.html >out 2>err &&
	test_grep ! "data-sync=" r.html
'

test_done
