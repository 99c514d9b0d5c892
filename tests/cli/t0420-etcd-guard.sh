#!/bin/bash
# mqadmin --etcd never loses the fleet (issue 17 review): a new or empty
# store catches up from etcd and deletes nothing there; a new CA cannot
# join a fleet signed by another CA; an etcd rebuilt empty is noticed and
# refused until the administrator puts the store back (MQADMIN_ETCD_RESEED).
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/etcd-lib.sh"

etcd_start || exit 1

ndev() { etcdctl_t get --prefix /mqcert/devices/ --keys-only | grep -c . ; }

test_expect_success 'setup: a fleet of two devices in etcd' '
	"$MQADMIN" -d a init --no-default >/dev/null 2>&1 &&
	"$MQADMIN" -d a device issue d1 >/dev/null &&
	"$MQADMIN" -d a device issue d2 >/dev/null &&
	test "$(ndev)" = 2 &&
	"$MQADMIN" -d a device list >/dev/null &&
	etcd_get /mqcert/meta/ca_fingerprint >fpr &&
	openssl x509 -in a/ca.crt -noout -fingerprint -sha256 | tr -d : | tr A-F a-f |
		sed "s/.*=//" >want &&
	test_cmp want fpr
'

test_expect_success 'init of a new CA with etcd set: refused, nothing deleted in etcd' '
	test_expect_code 1 "$MQADMIN" -d new init --no-default >out 2>err &&
	test_grep "holds a fleet signed by another CA" err &&
	test "$(ndev)" = 2 &&
	! test -e new/ca.key && ! test -e new/ca.crt
'

test_expect_success 'init adopting the fleet CA with etcd set: catches up, deletes nothing' '
	"$MQADMIN" -d c init --no-default --ca-cert a/ca.crt --ca-key a/ca.key >out 2>err &&
	test "$(ndev)" = 2 &&
	"$MQADMIN" -d c device list >l && test_grep "^d1 " l && test_grep "^d2 " l &&
	"$MQADMIN" -d a device list >l && test_grep "^d1 " l && test_grep "^d2 " l
'

test_expect_success 'a command with an empty cache (store removed) deletes nothing' '
	rm -rf c/store &&
	"$MQADMIN" -d c device list >l && test_grep "^d2 " l &&
	test "$(ndev)" = 2
'

test_expect_success 'a store of another CA refuses the fleet' '
	MQADMIN_ETCD= "$MQADMIN" -d other init --no-default >/dev/null 2>&1 &&
	test_expect_code 1 "$MQADMIN" -d other device issue x >out 2>err &&
	test_grep "signed by another CA" err &&
	test "$(ndev)" = 2
'

test_expect_success 'a sync beside a broker of another CA applies nothing' '
	test_expect_code 124 timeout 4 "$MQADMIN" -d other sync --instance x >out 2>err &&
	test_grep "signed by another CA.*not applied to broker .x." err &&
	MQADMIN_ETCD= "$MQADMIN" -d other device list >l &&
	test_grep "^0 devices" l
'

# etcd rebuilt empty (the same name, a new data directory and ports).
etcd_stop && rm -rf "$TRASH/etcd.etcd" && etcd_start || exit 1

test_expect_success 'etcd rebuilt empty: refused with what to do, nothing pushed' '
	test_expect_code 1 "$MQADMIN" -d a device issue d3 >out 2>err &&
	test_grep "etcd .* was rebuilt or restored" err &&
	test_grep "MQADMIN_ETCD_RESEED=1" err &&
	test "$(ndev)" = 0 &&
	test_expect_code 1 "$MQADMIN" -d c device issue d3 >out 2>err &&
	test "$(ndev)" = 0
'

test_expect_success 'MQADMIN_ETCD_RESEED=1 puts the store back, then commands work' '
	MQADMIN_ETCD_RESEED=1 "$MQADMIN" -d a device list >l 2>err &&
	test_grep "put this store.s policy back" err &&
	test "$(ndev)" = 2 &&
	"$MQADMIN" -d a device issue d3 >/dev/null &&
	test "$(ndev)" = 3
'

test_expect_success 'another cache of the old etcd follows the reseed (a new epoch): one full read' '
	"$MQADMIN" -d c device list >l 2>err &&
	test_grep "etcd at .* was reseeded by an administrator (epoch [1-9][0-9]*): reading the whole policy from etcd" err &&
	test_grep "^d3 " l && test_grep "^d1 " l &&
	"$MQADMIN" -d c device list >l 2>err &&
	test_grep ! "reseeded" err
'

test_done
