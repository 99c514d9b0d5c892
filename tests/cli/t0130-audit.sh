#!/bin/bash
# mqadmin audit, audit log and expiring on hand-written state and log files.
. "$(dirname "$0")/../lib.sh"

M() { "$MQADMIN" -d pki "$@"; }

# fpr NAME / serial NAME: from device show --json.
fpr() { M device show "$1" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])'; }
serial() { M device show "$1" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["serial"])'; }
notafter() { M device show "$1" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["not_after"])'; }

# state FILE UPDATED PID RUNNING CLIENT...: a state file as the plugin
# writes it; each CLIENT is "device:client_id:address:fingerprint[:clone]".
state() {
	/usr/bin/python3 - "$@" <<'PY'
import json, socket, sys
path, updated, pid, running = sys.argv[1:5]
clients, clones = [], []
for spec in sys.argv[5:]:
    dev, cid, addr, fpr, *rest = spec.split(":")
    c = {"device": dev, "username": dev, "client_id": cid, "address": addr,
         "identity": dev, "serial": "42", "fingerprint": fpr,
         "not_after": "2099-01-01T00:00:00Z", "since": "2026-01-02T03:04:05Z"}
    if rest:
        c["clone_suspected"] = True
        c["clone_addresses"] = [addr, "192.0.2.7"]
        clones.append({"device": dev, "serial": "42", "fingerprint": fpr,
                       "since": "2026-01-02T03:04:05Z", "addresses": [addr, "192.0.2.7"]})
    clients.append(c)
doc = {"version": 1, "updated": updated, "broker_pid": int(pid),
       "host": socket.gethostname(), "running": running == "true",
       "clients": clients, "suspected_clones": clones}
json.dump(doc, open(path, "w"), indent=1)
PY
}

now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

test_expect_success 'setup: a PKI with three devices, one revoked' '
	M init >/dev/null &&
	M server issue broker >/dev/null &&
	M device issue dev1 >/dev/null &&
	M device issue dev2 >/dev/null &&
	M device issue old --days 10 >/dev/null &&
	M device revoke dev2 >/dev/null
'
F1=$(cd "$TRASH" && fpr dev1)
F2=$(cd "$TRASH" && fpr dev2)

test_expect_success 'audit: who is connected, aligned, with expiry; exit 0' '
	state pki/audit/connected.json "$(now)" $$ true "dev1:dev1:10.0.0.5:$F1" \
		"old:old:10.0.0.6:$(fpr old)" &&
	M audit >out 2>err &&
	test_must_be_empty() { test ! -s "$1" || { cat "$1"; false; }; } &&
	test_must_be_empty err &&
	head -n 1 out >head &&
	echo "DEVICE  USERNAME  CLIENT-ID  ADDRESS   BROKER  SINCE                 EXPIRES-IN  SERIAL  FLAGS" >expect &&
	test_cmp expect head &&
	test_grep "^dev1    dev1      dev1       10.0.0.5  -       2026-01-02T03:04:05Z  in [0-9]*d  *42      -$" out &&
	test_grep "^old     old       old        10.0.0.6  " out &&
	test "$(wc -l <out)" = 3
'

test_expect_success 'audit --json: one array with the documented fields' '
	M audit --json >out &&
	/usr/bin/python3 -c "
import json, sys
a = json.load(open(\"out\"))
assert isinstance(a, list) and len(a) == 2, a
o = a[0]
for k in (\"name\", \"username\", \"client_id\", \"address\", \"serial\", \"since\",
          \"fingerprint\", \"not_after\", \"days_left\", \"flags\"):
    assert k in o, k
assert o[\"name\"] == \"dev1\" and o[\"flags\"] == [] and o[\"days_left\"] > 10000
"
'

test_expect_success 'audit: a revoked certificate connected is flagged loudly, exit 1' '
	later=$(date -u -d "+1 min" +%Y-%m-%dT%H:%M:%SZ) &&
	state pki/audit/connected.json "$later" $$ true "dev1:dev1:10.0.0.5:$F1" "dev2:dev2:10.0.0.9:$F2" &&
	test_must_fail M audit >out 2>err &&
	test_grep "^dev2 .* revoked$" out &&
	test_grep "SHOULD NEVER HAPPEN: client .dev2. (device .dev2., serial [0-9a-f]*) is connected with a revoked certificate" err &&
	test_must_fail M audit --json >out 2>err &&
	/usr/bin/python3 -c "import json; a = json.load(open(\"out\")); assert a[1][\"flags\"] == [\"revoked\"]"
'

test_expect_success 'audit: revoked after the state file was written: a warning, exit 0' '
	state pki/audit/connected.json 2026-01-01T00:00:00Z $$ true "dev2:dev2:10.0.0.9:$F2" &&
	M audit >out 2>err &&
	test_grep "^dev2 .* revoked$" out &&
	test_grep "warning: device .dev2. was revoked after the state file was written" err &&
	test_grep ! "SHOULD NEVER" err
'

test_expect_success 'audit: a certificate unknown to the policy is flagged loudly, exit 1' '
	state pki/audit/connected.json "$(now)" $$ true "ghost:ghost:10.0.0.5:$(printf "%064d" 7)" &&
	test_must_fail M audit >out 2>err &&
	test_grep "^ghost .* unknown$" out &&
	test_grep "SHOULD NEVER HAPPEN: client .ghost. (device .ghost.) is connected with a certificate that is not in the policy" err
'

test_expect_success 'audit: a suspected clone is flagged and explained' '
	state pki/audit/connected.json "$(now)" $$ true "dev1:dev1:10.0.0.5:$F1:clone" &&
	M audit >out 2>err &&
	test_grep "^dev1 .* clone$" out &&
	test_grep "warning: the certificate of device .dev1. (serial 42) looks cloned: seen from 10.0.0.5, 192.0.2.7" err
'

test_expect_success 'audit: stale state files are called stale' '
	true & dead=$! && wait $dead &&
	state pki/audit/connected.json "$(now)" $dead true "dev1:dev1:10.0.0.5:$F1" &&
	M audit >out 2>err &&
	test_grep "warning: pki/audit/connected.json is stale: broker pid $dead is not running" err &&
	state pki/audit/connected.json 2026-01-01T00:00:00Z $$ true &&
	M audit >out 2>err &&
	test_grep "warning: pki/audit/connected.json was last updated 2026-01-01T00:00:00Z, more than 15 minutes ago" err &&
	test_grep "^nobody is connected$" out &&
	state stopped.json "$(now)" $$ false &&
	M audit --state stopped.json >out 2>err &&
	test_grep "warning: broker .-. stopped at .* (stopped.json): nobody is connected through it" err
'

test_expect_success 'audit: a missing or foreign state file is an error that says what to do' '
	test_must_fail M audit --state nope.json 2>err &&
	test_grep "nope.json.*is mosquitto running with mqcert" err &&
	echo "[]" >foreign.json &&
	test_must_fail M audit --state foreign.json 2>err &&
	test_grep "foreign.json is not an mqcert state file" err &&
	test_expect_code 2 M audit extra
'

cat >"$TRASH/audit.log" <<'EOF'
{"ts":"2026-01-01T10:00:00Z","event":"policy","result":"loaded","generation":3,"devices":2,"rules":1}
{"ts":"2026-01-01T10:00:01Z","event":"connect","device":"dev1","username":"dev1","client_id":"dev1","address":"10.0.0.5","identity":"dev1","serial":"aa","fingerprint":"ff","not_after":"2027-01-01T00:00:00Z"}
this is not JSON
{"ts":"2026-01-01T10:00:02Z","event":"refused","reason":"certificate is revoked (device 'dev2')","device":"dev2","identity":"dev2","serial":"bb","fingerprint":"ee","client_id":"dev2","address":"10.0.0.9"}
{"ts":"2026-01-01T10:00:03Z","event":"acl_denied","device":"dev1","client_id":"dev1","topic":"secret/\u001b[31m","access":"write"}
{"ts":"2026-01-01T10:00:13Z","event":"acl_denied_suppressed","device":"dev1","client_id":"dev1","count":1979,"window":10}
{"event":"connect"}
{"ts":"2026-01-01T11:00:00Z","event":"disconnect","device":"dev1","client_id":"dev1","address":"10.0.0.5","serial":"aa","duration":3599,"reason":"kicked"}
EOF
NEW="{\"ts\":\"$(now)\",\"event\":\"connect\",\"device\":\"dev3\",\"client_id\":\"dev3\",\"address\":\"10.0.0.7\"}"
echo "$NEW" >>"$TRASH/audit.log"

test_expect_success 'audit log: everything, aligned; malformed lines counted on stderr' '
	M audit log --file audit.log >out 2>err &&
	test "$(wc -l <out)" = 8 &&
	head -n 2 out >actual &&
	cat >expect <<-\EOF &&
	TIME                  EVENT                  DEVICE  CLIENT-ID  ADDRESS   DETAIL
	2026-01-01T10:00:00Z  policy                 -       -          -         generation 3 loaded (2 devices, 1 rules)
	EOF
	test_cmp expect actual &&
	test_grep "^mqadmin: skipped 2 malformed lines of 9 in audit.log$" err &&
	test_grep "acl_denied  *dev1  *dev1  *-  *write secret/\\\\x1b\[31m$" out &&
	test_grep "1979 more denials in 10s not logged" out &&
	test_grep "kicked after 3599s" out
'

test_expect_success 'audit log: --device, --denied, --since filter' '
	M audit log --file audit.log --device dev1 >out 2>/dev/null &&
	test "$(grep -c " dev1 " out)" = 4 && test "$(wc -l <out)" = 5 &&
	M audit log --file audit.log --denied >out 2>/dev/null &&
	test "$(awk "NR > 1 {print \$2}" out | sort -u | tr "\n" " ")" = "acl_denied acl_denied_suppressed refused " &&
	M audit log --file audit.log --since 2026-01-01T10:00:03Z >out 2>/dev/null &&
	test "$(wc -l <out)" = 5 &&
	M audit log --file audit.log --since 2h >out 2>/dev/null &&
	test "$(wc -l <out)" = 2 && test_grep " dev3 " out &&
	M audit log --file audit.log --denied --device dev2 >out 2>/dev/null &&
	test "$(wc -l <out)" = 2 && test_grep "certificate is revoked" out
'

test_expect_success 'audit log --json: one array of the matching objects' '
	M audit log --file audit.log --device dev1 --json >out 2>/dev/null &&
	/usr/bin/python3 -c "
import json
a = json.load(open(\"out\"))
assert [o[\"event\"] for o in a] == [\"connect\", \"acl_denied\", \"acl_denied_suppressed\", \"disconnect\"], a
assert a[1][\"topic\"] == \"secret/\x1b[31m\"
"
'

test_expect_success 'audit log: the default file is DIR/audit/audit.log; bad options' '
	cp audit.log pki/audit/audit.log &&
	M audit log --denied >out 2>/dev/null &&
	test "$(wc -l <out)" = 4 &&
	test_must_fail M audit log --file missing.log 2>err &&
	test_grep "cannot open the audit log missing.log" err &&
	test_expect_code 2 M audit log --since yesterday &&
	test_must_fail M audit log --device "a/b"
'

test_expect_success 'expiring: exit 0 when nothing expires in the window' '
	M device revoke old >/dev/null &&
	M expiring >out &&
	test_grep "^nothing expires within 30d$" out &&
	M expiring --json >out &&
	test "$(cat out)" = "[]"
'

test_expect_success 'expiring: exit 1 and a table when something does' '
	M device issue soon --days 5 >/dev/null &&
	test_must_fail M expiring >out &&
	test "$(wc -l <out)" = 2 &&
	test_grep "^device  soon  [0-9a-f]*  [0-9T:-]*Z  in [45]d$" out &&
	test_must_fail M expiring --within 400d >out &&
	test_grep "^device  *dev1 " out && test_grep "^device  *soon " out &&
	test_grep ! "dev2\|^device  *old \|^server\|^ca" out &&
	test_must_fail M expiring --within 4000 >out &&
	test_grep "^server  *broker " out &&
	test_grep "^ca  *ca " out &&
	test_must_fail M expiring --json >out &&
	/usr/bin/python3 -c "
import json
a = json.load(open(\"out\"))
assert [(o[\"kind\"], o[\"name\"]) for o in a] == [(\"device\", \"soon\")], a
assert a[0][\"days_left\"] in (4, 5) and a[0][\"not_after\"].endswith(\"Z\")
" &&
	test_expect_code 2 M expiring --within soon
'

test_expect_success 'device list shows days to expiry' '
	M device list >out &&
	test_grep "^soon .* in [45]d " out &&
	M device list --json >out &&
	/usr/bin/python3 -c "
import json
assert {d[\"name\"]: d[\"days_left\"] for d in json.load(open(\"out\"))}[\"soon\"] in (4, 5)"
'

test_done
