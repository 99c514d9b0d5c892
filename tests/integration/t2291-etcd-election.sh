#!/bin/bash
# A write during an etcd election succeeds (issue 17 item 5): the client
# retries "leader changed" / "no leader" a few times within about 2 s.
# Three members; the leader is frozen (SIGSTOP) and mqadmin, talking to a
# follower, writes at once: its read waits for a leader, gets "leader
# changed" when the other two elect one, and retries. Also: a user set
# while auth is off is no error.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/etcd-lib.sh"

declare -A CP PP
for m in m1 m2 m3; do CP[$m]=$(etcd_free_port); PP[$m]=$(etcd_free_port); done
CLUSTER=m1=http://127.0.0.1:${PP[m1]},m2=http://127.0.0.1:${PP[m2]},m3=http://127.0.0.1:${PP[m3]}
start_member() {
	mkdir -p "$TRASH/$1"
	ETCD_UNSUPPORTED_ARCH= "$ETCD_BIN" --name "$1" --data-dir "$TRASH/$1/data" \
		--listen-client-urls "http://127.0.0.1:${CP[$1]}" \
		--advertise-client-urls "http://127.0.0.1:${CP[$1]}" \
		--listen-peer-urls "http://127.0.0.1:${PP[$1]}" \
		--initial-advertise-peer-urls "http://127.0.0.1:${PP[$1]}" \
		--initial-cluster "$CLUSTER" --initial-cluster-state new \
		--log-level error >"$TRASH/$1/log" 2>&1 </dev/null &
	echo $! >"$TRASH/$1/pid"
	test_at_end "kill -CONT $! 2>/dev/null; kill $! 2>/dev/null"
}
url() { echo "http://127.0.0.1:${CP[$1]}"; }
# leader: the member that leads, from etcd's status
leader() {
	local m
	for m in m1 m2 m3; do
		ETCDCTL_API=3 "$ETCDCTL_BIN" --endpoints "$(url $m)" endpoint status -w json 2>/dev/null |
		/usr/bin/python3 -c 'import json, sys
s = json.load(sys.stdin)[0]["Status"]
sys.exit(0 if s["leader"] == s["header"]["member_id"] else 1)' && { echo $m; return 0; }
	done
	return 1
}

test_expect_success 'setup: three members and a leader; an administrator DIR in etcd' '
	for m in m1 m2 m3; do start_member $m; done &&
	for m in m1 m2 m3; do wait_for 30 etcd_healthy "$(url $m)" || exit 1; done &&
	wait_for 20 leader >/dev/null &&
	MQADMIN_ETCD=$(url m1),$(url m2),$(url m3) "$MQADMIN" -d adm init >/dev/null 2>&1 &&
	MQADMIN_ETCD=$(url m1),$(url m2),$(url m3) "$MQADMIN" -d adm device issue dev0 >/dev/null
'

test_expect_success 'the leader frozen, a write through a follower at once: it succeeds' '
	L=$(leader) &&
	F=$(for m in m1 m2 m3; do [ $m = $L ] || { echo $m; break; }; done) &&
	kill -STOP $(cat "$TRASH/$L/pid") &&
	MQADMIN_ETCD=$(url $F) "$MQADMIN" -d adm device issue dev1 >out 2>err ||
	{ kill -CONT $(cat "$TRASH/$L/pid"); cat err; exit 1; }
	kill -CONT $(cat "$TRASH/$L/pid") &&
	ETCDCTL_API=3 "$ETCDCTL_BIN" --endpoints "$(url $F)" get --print-value-only /mqcert/devices/dev1 >val &&
	test_grep "\"name\":[[:space:]]*\"dev1\"" val
'

test_expect_success 'a user configured while etcd auth is off (the bootstrap): no token, requests go on' '
	(umask 077 && echo pw >"$TRASH/u.password") &&
	MQADMIN_ETCD=$(url m1),$(url m2),$(url m3) "$MQADMIN" -d adm --etcd-user mqcert-admin \
		--etcd-password-file "$TRASH/u.password" device issue dev2 >out 2>err &&
	ETCDCTL_API=3 "$ETCDCTL_BIN" --endpoints "$(url m1)" get --print-value-only /mqcert/devices/dev2 >val &&
	test_grep "\"name\":[[:space:]]*\"dev2\"" val
'

test_done
