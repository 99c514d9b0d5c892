#!/bin/bash
# admin/etcd.c, the etcd v3 JSON gateway client (issue 17), against a real
# etcd through a small driver (tests/etcd/etcd_probe.c): leases, paged
# ranges, compare-and-put with the failed key, watch from a revision and
# its "compacted" code, endpoint failover and the unreachable message.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/etcd-lib.sh"

etcd_start || exit 1
PROBE=$TRASH/etcd_probe
SANF="-fsanitize=address,undefined -fno-omit-frame-pointer"
nm "$MQ_BUILD/obj/admin/etcd.o" | grep -q __asan || SANF=
cc -Iinclude -I"$MQ_ROOT/admin" -I"$MQ_ROOT/include" -D_GNU_SOURCE -std=c11 -O1 -g $SANF \
	-o "$PROBE" "$MQ_ROOT/tests/etcd/etcd_probe.c" "$MQ_BUILD/obj/admin/etcd.o" \
	"$MQ_BUILD/obj/core/err.o" -lcurl -lcjson -lcrypto || exit 1
DEAD=http://127.0.0.1:$(etcd_free_port)

test_expect_success 'a key under a lease: granted, kept alive, gone when revoked' '
	"$PROBE" "$ETCD_URL" lease-put /t/brokers/b1 alive 30 >out &&
	test_grep "^lease [0-9]* ttl [0-9]*$" out &&
	test_grep "^revoked$" out &&
	test_grep "keepalive after revoke: -1" out &&
	test -z "$(etcd_get /t/brokers/b1)"
'

test_expect_success 'compare-and-put: absent, then at its mod revision; a stale one names the key' '
	"$PROBE" "$ETCD_URL" cas /t/k v1 0 >out && test_grep "^ok at" out &&
	mod=$(sed -n "s/^ok at //p" out) &&
	"$PROBE" "$ETCD_URL" cas /t/k v2 "$mod" >out2 && test_grep "^ok at" out2 &&
	test_expect_code 1 "$PROBE" "$ETCD_URL" cas /t/k v3 "$mod" >out3 &&
	test_grep "^failed: /t/k now at $(sed -n "s/^ok at //p" out2)$" out3 &&
	test "$(etcd_get /t/k)" = v2
'

test_expect_success 'a range in pages of 3 reads every key once, at one revision' '
	for i in 1 2 3 4 5 6 7; do etcd_put /t/p/k$i v$i; done &&
	"$PROBE" "$ETCD_URL" range /t/p/ 3 >out &&
	test_grep "^count 7 at" out &&
	test $(grep -c "^/t/p/k" out) = 7 && test $(sort -u out | grep -c "^/t/p/k") = 7
'

test_expect_success 'watch from a past revision delivers puts and deletes in order' '
	"$PROBE" "$ETCD_URL" get /t/k >g && rev=$(sed -n "s/^rev //p;" g | cut -d" " -f1) &&
	etcd_put /t/w/a 1 && etcd_put /t/w/b 2 && etcdctl_t del /t/w/a >/dev/null &&
	"$PROBE" "$ETCD_URL" watch /t/w/ "$rev" 3 >out &&
	sed -n 1p out | grep "^PUT /t/w/a 1 " &&
	sed -n 2p out | grep "^PUT /t/w/b 2 " &&
	sed -n 3p out | grep "^DELETE /t/w/a " &&
	test_grep "^watch rc 1" out
'

test_expect_success 'watch from a compacted revision: the distinct code, with the oldest kept' '
	"$PROBE" "$ETCD_URL" get /t/k >g && rev=$(sed -n "s/^rev //p" g | cut -d" " -f1) &&
	etcdctl_t compact "$rev" >/dev/null &&
	test_expect_code 3 "$PROBE" "$ETCD_URL" watch /t/w/ 2 1 >out 2>err &&
	test_grep "^watch rc -3 compact $rev" out &&
	test_grep "compacted" err
'

test_expect_success 'a dead first endpoint: the next one answers' '
	"$PROBE" "$DEAD,$ETCD_URL" get /t/k >out &&
	test_grep "^/t/k=v2 " out
'

test_expect_success 'no endpoint answers: an error naming each, bounded in time' '
	start=$(date +%s) &&
	test_expect_code 1 "$PROBE" "$DEAD" get /t/k 2>err &&
	test $(( $(date +%s) - start )) -le 5 &&
	test_grep "cannot reach etcd at $DEAD (.*); is etcd running and the URL right (--etcd)?" err
'

test_expect_success 'mqadmin --etcd with a dead first endpoint writes through the second' '
	MQADMIN_ETCD= "$MQADMIN" -d pki init >/dev/null 2>&1 &&
	"$MQADMIN" -d pki --etcd "$DEAD,$ETCD_URL" --etcd-prefix /p2/ device issue x1 >/dev/null &&
	etcdctl_t get /p2/devices/x1 --keys-only | grep -q "^/p2/devices/x1$"
'

test_expect_success 'config file: etcd and etcd_prefix; --etcd-prefix must be /.../' '
	printf "dir = %s\netcd = %s\netcd_prefix = /p3/\n" "$TRASH/pki" "$ETCD_URL" >conf &&
	MQADMIN_ETCD= MQADMIN_CONFIG=$TRASH/conf "$MQADMIN" device list >l 2>err &&
	test_grep "held no policy under /p3/" err &&
	test_grep "^x1 " l &&
	etcdctl_t get /p3/devices/x1 --keys-only | grep -q "^/p3/devices/x1$" &&
	test_expect_code 1 "$MQADMIN" -d pki --etcd-prefix p4 device list 2>err &&
	test_grep "must start and end with ./." err
'

test_done
