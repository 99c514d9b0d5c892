#!/bin/bash
# mqadmin audit over several brokers' state files, and audit/audit log on
# files the broker's user can write: FIFOs, escape sequences, files the
# caller may not read, and --device of a device that does not exist.
. "$(dirname "$0")/../lib.sh"

M() { "$MQADMIN" -d pki "$@"; }
fpr() { M device show "$1" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])'; }

# state FILE INSTANCE RUNNING CLIENT...: a state file as the plugin writes
# it (pid: this shell); each CLIENT is "device|client_id|address|fingerprint".
state() {
	/usr/bin/python3 - "$$" "$@" <<'PY'
import datetime, json, socket, sys
pid, path, inst, running = sys.argv[1:5]
now = datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
clients = []
for spec in sys.argv[5:]:
    dev, cid, addr, fpr = spec.split("|")
    clients.append({"device": dev, "username": dev, "client_id": cid, "address": addr,
                    "identity": dev, "serial": "42", "fingerprint": fpr,
                    "not_after": "2099-01-01T00:00:00Z", "since": "2026-01-02T03:04:05Z"})
doc = {"version": 1, "updated": now, "broker_pid": int(pid), "host": socket.gethostname(),
       "instance": inst, "running": running == "true", "clients": clients,
       "suspected_clones": []}
# A byte that is not UTF-8 (from the command line, surrogate-escaped) goes
# into the file raw, as a broker user could put it there.
text = json.dumps(doc, indent=1).encode()
for b in range(0x80, 0x100):
    text = text.replace(b"\\udc%02x" % b, bytes([b]))
open(path, "wb").write(text)
PY
}

test_expect_success 'setup: a PKI with two devices' '
	M init >/dev/null &&
	M device issue dev1 >/dev/null &&
	M device issue dev2 >/dev/null &&
	mkdir -p pki/audit
'
F1=$(cd "$TRASH" && fpr dev1)
F2=$(cd "$TRASH" && fpr dev2)

test_expect_success 'audit merges every instance: a BROKER column, a stopped one named' '
	state pki/audit/connected-127.0.0.1-8883.json 127.0.0.1-8883 true "dev1|dev1|10.0.0.5|$F1" &&
	state pki/audit/connected-edge.json edge true "dev2|dev2|10.0.0.6|$F2" &&
	state pki/audit/connected-old.json old false &&
	: >pki/audit/connected-edge.json.tmp-0123456789abcdef &&
	M audit >out 2>err &&
	test_grep "^DEVICE  USERNAME  CLIENT-ID  ADDRESS   BROKER          SINCE" out &&
	test_grep "^dev1    dev1      dev1       10.0.0.5  127.0.0.1-8883  " out &&
	test_grep "^dev2    dev2      dev2       10.0.0.6  edge            " out &&
	test "$(wc -l <out)" = 3 &&
	test_grep "warning: broker .old. stopped at .* (pki/audit/connected-old.json): nobody is connected through it" err &&
	test_grep ! "the broker stopped" err &&
	test "$(wc -l <err)" = 1 &&
	M audit --json >out &&
	/usr/bin/python3 -c "
import json
a = json.load(open(\"out\"))
assert [(o[\"name\"], o[\"broker\"]) for o in a] == [(\"dev1\", \"127.0.0.1-8883\"), (\"dev2\", \"edge\")], a
"
'

test_expect_success 'audit --state FILE (repeatable) reads only those' '
	M audit --state pki/audit/connected-edge.json >out &&
	test_grep ! dev1 out && test_grep "^dev2 .* edge " out &&
	M audit --state pki/audit/connected-edge.json --state pki/audit/connected-127.0.0.1-8883.json >out &&
	test "$(wc -l <out)" = 3
'

test_expect_success 'a FIFO as the state file or audit log is refused at once, not waited on' '
	mkfifo pki/audit/connected-fifo.json fifo.log &&
	test_expect_code 1 timeout 10 "$MQADMIN" -d pki audit >out 2>err &&
	test_grep "the state file pki/audit/connected-fifo.json is not a regular file: refusing to read it" err &&
	test_grep "^dev1 " out &&
	test_expect_code 1 timeout 10 "$MQADMIN" -d pki audit --state fifo.log 2>err &&
	test_grep "fifo.log is not a regular file" err &&
	test_expect_code 1 timeout 10 "$MQADMIN" -d pki audit log --file fifo.log 2>err &&
	test_grep "the audit log fifo.log is not a regular file: refusing to read it" err &&
	rm pki/audit/connected-fifo.json
'

test_expect_success 'escape sequences and bad UTF-8 from the files never reach the terminal raw' '
	cid=$(printf "evil\033]0;owned\007\302\233x\377") &&
	state hostile.json "bad" true "dev1|$cid|10.0.0.9|$F1" "$(printf "gh\033[2Jost")|x|1.2.3.4|$(printf "%064d" 7)" &&
	test_must_fail M audit --state hostile.json >out 2>err &&
	test_grep -F "evil\\x1b]0;owned\\x07\\xc2\\x9bx\\xff" out &&
	test_grep -F "gh\\x1b[2Jost" out &&
	test_grep "SHOULD NEVER HAPPEN: client .x. (device .gh\\\\x1b\[2Jost.)" err &&
	! grep -q "$(printf "\033")" out err &&
	! grep -q "$(printf "\302\233")" out err &&
	printf "{\"ts\":\"2026-01-01T10:00:00Z\",\"event\":\"connect\",\"device\":\"dev1\",\"client_id\":\"a\\\\u001b[31mb\\\\u009bc\",\"address\":\"x\"}\n" >esc.log &&
	M audit log --file esc.log >out 2>err &&
	test_grep -F "a\\x1b[31mb\\xc2\\x9bc" out &&
	! grep -q "$(printf "\033")" out
'

test_expect_success 'audit log --device of no such device: exit 1 and says so' '
	printf "{\"ts\":\"2026-01-01T10:00:00Z\",\"event\":\"connect\",\"device\":\"dev1\",\"client_id\":\"dev1\"}\n" >a.log &&
	test_must_fail M audit log --file a.log --device ghost >out 2>err &&
	test_grep "no device .ghost. in the policy of pki and no event of it in the log" err &&
	test ! -s out &&
	M audit log --file a.log --device dev2 >out 2>err &&
	test ! -s err &&
	M audit log --file a.log --device dev1 >out &&
	test_grep "connect  *dev1" out
'

test_expect_success 'a state file the caller may not read: the permission is named, not the broker' '
	if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
		echo "skipped: needs root and setpriv"; exit 0
	fi &&
	chmod 755 "$TRASH" &&
	rm -f pki/audit/connected-*.json* &&
	state pki/audit/connected-b1.json b1 true "dev1|dev1|10.0.0.5|$F1" &&
	chmod 640 pki/audit/connected-b1.json &&
	printf "{\"ts\":\"2026-01-01T10:00:00Z\",\"event\":\"connect\",\"device\":\"dev1\"}\n" >pki/audit/audit.log &&
	chmod 640 pki/audit/audit.log &&
	test_must_fail setpriv --reuid 65534 --regid 65534 --clear-groups "$MQADMIN" -d pki audit >out 2>err &&
	test_grep "cannot read the state file pki/audit/connected-b1.json: permission denied: it is mode 0640, owner root, group root, and you are neither; run mqadmin as root or as the owner, or add yourself to group root" err &&
	test_grep ! "is mosquitto running" err &&
	test_must_fail setpriv --reuid 65534 --regid 65534 --clear-groups "$MQADMIN" -d pki audit log 2>err &&
	test_grep "cannot read the audit log pki/audit/audit.log: permission denied: it is mode 0640" err &&
	chmod 700 pki/audit &&
	test_must_fail setpriv --reuid 65534 --regid 65534 --clear-groups "$MQADMIN" -d pki audit 2>err &&
	test_grep "cannot read the directory pki/audit: permission denied: it is mode 0700, owner [a-z]*, group" err &&
	chmod 755 pki/audit
'

test_done
