#!/bin/bash
# The audit log and the connected-state file on a real broker: every event
# one well-formed JSON line, the state file tracking connects, disconnects,
# takeovers and kicks exactly, cloned certificates, the ACL-denial rate
# limit, logrotate, and an unwritable log that changes nothing.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

# state_is FILE PYEXPR: the state file parses and PYEXPR holds, with d the
# document and c its client list.
state_is() {
	/usr/bin/python3 - "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = d["clients"]
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}

# log_is FILE PYEXPR: every line of the audit log FILE is one JSON object
# with "ts" and "event" (else exit 2, naming the line), and PYEXPR holds
# with L the list of objects and ev(NAME, **fields) the matching ones.
log_is() {
	/usr/bin/python3 - "$@" <<'PY'
import json, os, re, sys
L = []
for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    try:
        o = json.loads(line)
        assert isinstance(o, dict) and line.endswith("\n")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", o["ts"]) and o["event"]
    except Exception as e:
        sys.exit("line %d is not a well-formed audit line (%r): %r" % (n, e, line))
    L.append(o)
def ev(name, **kw):
    return [o for o in L if o["event"] == name and all(o.get(k) == v for k, v in kw.items())]
ok = eval(sys.argv[2])
if not ok:
    sys.stderr.write("log_is: %s does not hold; last lines:\n" % sys.argv[2])
    for o in L[-8:]:
        sys.stderr.write(json.dumps(o) + "\n")
sys.exit(0 if ok else 1)
PY
}

test_expect_success 'setup: PKI, rules, a broker with clientid_binding none' '
	pki_setup pki dev1 dev2 dev3 dev4 &&
	"$MQADMIN" -d pki acl add --all --topic "devices/%u/#" --access readwrite >/dev/null &&
	plugin_broker b pki "plugin_opt_clientid_binding none" &&
	log_has b "mqcert: audit log .*/pki/audit/audit.log, state file .*/pki/audit/connected-127.0.0.1-$(broker_port b).json" &&
	log_has b "mqcert: instance 127.0.0.1-$(broker_port b), CRL .*/pki/crl.pem \(signed by .*/pki/ca.crt\)"
'
P="--port $(broker_port b)"
S=pki/audit/connected-127.0.0.1-$(broker_port b).json
A=pki/audit/audit.log

test_expect_success 'at start: an empty state file and a policy event' '
	wait_for 10 state_is $S "c == [] and d[\"running\"] and d[\"version\"] == 1" &&
	state_is $S "d[\"broker_pid\"] == $(broker_pid b)" &&
	test "$(stat -c %a $S)" = 640 &&
	wait_for 10 log_is $A "ev(\"policy\", result=\"loaded\", devices=4, rules=1)" &&
	test "$(stat -c %a $A)" = 640
'

test_expect_success 'a connect shows in the state file and the log' '
	stay_client one.out $P $(dev_args pki dev1) --id dev1 &&
	test_grep "^READY" one.out &&
	wait_for 10 state_is $S "len(c) == 1" &&
	state_is $S "c[0][\"device\"] == \"dev1\" and c[0][\"client_id\"] == \"dev1\" and \
		c[0][\"address\"] == \"127.0.0.1\" and c[0][\"username\"] == \"dev1\" and \
		len(c[0][\"fingerprint\"]) == 64 and c[0][\"serial\"] and \
		c[0][\"not_after\"].endswith(\"Z\") and c[0][\"since\"].endswith(\"Z\") and \
		\"clone_suspected\" not in c[0]" &&
	wait_for 10 log_is $A "ev(\"connect\", device=\"dev1\", client_id=\"dev1\", address=\"127.0.0.1\", username=\"dev1\", identity=\"dev1\")"
'

test_expect_success 'the same certificate from a second address: both listed, clone flagged' '
	stay_client two.out $P $(dev_args pki dev1) --id dev1-b --bind 127.0.0.2 &&
	test_grep "^READY" two.out &&
	wait_for 10 state_is $S "len(c) == 2 and all(x.get(\"clone_suspected\") for x in c)" &&
	state_is $S "sorted(x[\"address\"] for x in c) == [\"127.0.0.1\", \"127.0.0.2\"] and \
		sorted(c[0][\"clone_addresses\"]) == [\"127.0.0.1\", \"127.0.0.2\"] and \
		d[\"suspected_clones\"][0][\"device\"] == \"dev1\"" &&
	wait_for 10 log_is $A "ev(\"clone\", device=\"dev1\", kind=\"concurrent\", client_id=\"dev1-b\")" &&
	log_has b "WARNING: possible cloned certificate: device .dev1. .* connected from two addresses at once \(client .dev1-b. from 127.0.0.2, and another from 127.0.0.1\)"
'

test_expect_success 'a disconnect leaves the state file and is logged as closed' '
	kill $(cat two.out.pid) &&
	wait_for 10 state_is $S "len(c) == 1 and c[0][\"client_id\"] == \"dev1\"" &&
	wait_for 10 log_is $A "len(ev(\"disconnect\", client_id=\"dev1-b\", reason=\"closed\", address=\"127.0.0.2\")) == 1"
'

test_expect_success 'two clients with one identity from one address: both listed, no clone' '
	stay_client three.out $P $(dev_args pki dev2) --id dev2-a &&
	stay_client four.out $P $(dev_args pki dev2) --id dev2-b &&
	wait_for 10 state_is $S "sorted(x[\"client_id\"] for x in c if x[\"device\"] == \"dev2\") == [\"dev2-a\", \"dev2-b\"]" &&
	state_is $S "not any(x.get(\"clone_suspected\") for x in c if x[\"device\"] == \"dev2\")"
'

test_expect_success 'a client-id takeover: one record, the old one logged as taken over' '
	stay_client five.out $P $(dev_args pki dev2) --id dev2-a &&
	wait_for 10 grep -q "^DISCONNECTED" three.out &&
	wait_for 10 state_is $S "sorted(x[\"client_id\"] for x in c if x[\"device\"] == \"dev2\") == [\"dev2-a\", \"dev2-b\"]" &&
	wait_for 10 log_is $A "len(ev(\"disconnect\", client_id=\"dev2-a\", reason=\"takeover\")) == 1" &&
	log_is $A "len(ev(\"connect\", client_id=\"dev2-a\")) == 2"
'

test_expect_success 'another device takes over a session (binding none allows it): state follows' '
	stay_client six.out $P $(dev_args pki dev3) --id dev1 &&
	wait_for 10 grep -q "^DISCONNECTED" one.out &&
	wait_for 10 state_is $S "[x[\"device\"] for x in c if x[\"client_id\"] == \"dev1\"] == [\"dev3\"]" &&
	state_is $S "len(c) == 3"
'

test_expect_success 'a revoked device is kicked: logged, and gone from the state file' '
	"$MQADMIN" -d pki device revoke dev2 >/dev/null &&
	wait_for 10 grep -q "^DISCONNECTED" four.out &&
	wait_for 10 grep -q "^DISCONNECTED" five.out &&
	wait_for 10 state_is $S "[x[\"device\"] for x in c] == [\"dev3\"]" &&
	wait_for 10 log_is $A "len(ev(\"kicked\", device=\"dev2\", why=\"certificate is revoked\")) == 2 and \
		len(ev(\"disconnect\", device=\"dev2\", reason=\"kicked\")) == 2 and \
		ev(\"policy\", result=\"loaded\", devices=4)[-1][\"generation\"] > ev(\"policy\")[0][\"generation\"]"
'

test_expect_success 'refused connects are logged with the reason' '
	test_must_fail $MQCLIENT $P $(dev_args pki dev2) --id dev2 >out &&
	test_grep "^CONNACK 5" out &&
	wait_for 10 log_is $A "ev(\"refused\", device=\"dev2\", identity=\"dev2\", client_id=\"dev2\", address=\"127.0.0.1\", reason=\"certificate is revoked (device \x27dev2\x27)\")" &&
	log_is $A "all(len(o[\"fingerprint\"]) == 64 and o[\"serial\"] for o in ev(\"refused\"))"
'

# Before issue 15 a broken policy.json was swapped in; now a broken
# data.mdb is (the plugin keeps the store it has open).
test_expect_success 'a rejected store is logged' '
	cp pki/store/data.mdb good.mdb &&
	echo "{" >bad.mdb && mv -T bad.mdb pki/store/data.mdb &&
	wait_for 10 log_is $A "ev(\"policy\", result=\"rejected\")" &&
	n=$(gen_loaded_count b) &&
	cp good.mdb new.mdb && mv -T new.mdb pki/store/data.mdb &&
	wait_for 10 eval "test \$(gen_loaded_count b) -gt $n"
'

test_expect_success 'repeated takeovers of its own session from other addresses: clone' '
	stay_client t1.out $P $(dev_args pki dev4) --id roam --bind 127.0.0.2 &&
	stay_client t2.out $P $(dev_args pki dev4) --id roam --bind 127.0.0.3 &&
	stay_client t3.out $P $(dev_args pki dev4) --id roam --bind 127.0.0.2 &&
	wait_for 10 log_is $A "len(ev(\"disconnect\", device=\"dev4\", reason=\"takeover\")) == 2" &&
	log_is $A "not ev(\"clone\", device=\"dev4\")" &&
	stay_client t4.out $P $(dev_args pki dev4) --id roam --bind 127.0.0.3 &&
	wait_for 10 log_is $A "ev(\"clone\", device=\"dev4\", kind=\"takeovers\", takeovers=3)" &&
	log_is $A "sorted(ev(\"clone\", device=\"dev4\")[0][\"addresses\"]) == [\"127.0.0.2\", \"127.0.0.3\"]" &&
	log_has b "possible cloned certificate: device .dev4. .* took over its own session 3 times within 10 minutes" &&
	wait_for 10 state_is $S "[(x[\"client_id\"], x[\"address\"]) for x in c if x[\"device\"] == \"dev4\" and x.get(\"clone_suspected\")] == [(\"roam\", \"127.0.0.3\")]"
'

test_expect_success 'a flood of denied publishes: at most the limit, then one count' '
	$MQCLIENT $P $(dev_args pki dev3) --id flood --flood forbidden/x 2000 >flood.out &&
	test_grep "^FLOODED 2001" flood.out &&
	wait_for 15 log_is $A "ev(\"acl_denied_suppressed\", client_id=\"flood\")" &&
	log_is $A "sum(o[\"count\"] for o in ev(\"acl_denied_suppressed\", client_id=\"flood\")) + \
		len(ev(\"acl_denied\", client_id=\"flood\")) == 2001" &&
	log_is $A "len(ev(\"acl_denied\", client_id=\"flood\", topic=\"forbidden/x\", access=\"write\", device=\"dev3\")) <= 20 * len(ev(\"acl_denied_suppressed\", client_id=\"flood\"))"
'

ESC_ID='q"\x\u0041'
ESC_TOPIC='devices/"quoted"\back\n/é/ /x'
test_expect_success 'attacker-chosen topics and client ids are escaped' '
	$MQCLIENT $P $(dev_args pki dev3) --id "$ESC_ID" --flood "$ESC_TOPIC" 0 >esc.out &&
	test_grep "^FLOODED 1" esc.out &&
	ID=$ESC_ID TOPIC=$ESC_TOPIC wait_for 10 log_is $A \
		"ev(\"acl_denied\", client_id=os.environ[\"ID\"], topic=os.environ[\"TOPIC\"])"
'

test_expect_success 'every line is well-formed and every logged decision has its line' '
	log_is $A "len(ev(\"connect\")) == $(log_count b "mqcert: accepted client") and \
		len(ev(\"refused\")) == $(log_count b "mqcert: refused client") and \
		len(ev(\"kicked\")) == $(log_count b "mqcert: disconnecting client") and \
		len(ev(\"policy\", result=\"loaded\")) == $(gen_loaded_count b)"
'

test_expect_success 'logrotate: after a rename and SIGHUP the log is written anew' '
	mv $A audit.log.1 &&
	lines=$(wc -l <audit.log.1) &&
	broker_hup b &&
	wait_for 10 log_has b "Reloading config" &&
	$MQCLIENT $P $(dev_args pki dev1) --id after-rotate >out &&
	wait_for 10 log_is $A "ev(\"connect\", client_id=\"after-rotate\")" &&
	test "$(wc -l <audit.log.1)" = "$lines" &&
	test_grep ! after-rotate audit.log.1
'

test_expect_success 'at broker stop the state file says so and lists nobody' '
	broker_stop b &&
	state_is $S "c == [] and d[\"running\"] is False" &&
	log_is $A "ev(\"disconnect\", client_id=\"after-rotate\")" &&
	broker_sanitizer_clean
'

test_expect_success 'an unwritable audit log changes no decision and crashes nothing' '
	plugin_broker c pki "plugin_opt_audit_log /dev/null/audit.log
plugin_opt_state_file $TRASH/c-state.json" &&
	log_has c "mqcert: audit log /dev/null/audit.log: cannot open it \(Not a directory\)" &&
	PC="--port $(broker_port c)" &&
	stay_client c1.out $PC $(dev_args pki dev1) --id dev1 &&
	test_grep "^READY" c1.out &&
	test_must_fail $MQCLIENT $PC $(dev_args pki dev2) --id dev2 >c2.out &&
	test_grep "^CONNACK 5" c2.out &&
	$MQCLIENT $PC $(dev_args pki dev3) --id dev3 --flood forbidden/x 300 >c3.out &&
	test_grep "^FLOODED 301" c3.out &&
	wait_for 10 state_is c-state.json "[x[\"client_id\"] for x in c] == [\"dev1\"]" &&
	test "$(log_count c "audit log /dev/null/audit.log: cannot")" = 1 &&
	broker_is_running c
'

test_expect_success 'client-id binding exact: a takeover attempt is refused, state unchanged' '
	PC="--port $(broker_port c)" &&
	test_must_fail $MQCLIENT $PC $(dev_args pki dev3) --id dev1 >c4.out &&
	test_grep "^CONNACK 5" c4.out &&
	test_grep ! DISCONNECTED c1.out &&
	state_is c-state.json "[x[\"client_id\"] for x in c] == [\"dev1\"] and not d[\"suspected_clones\"]" &&
	broker_stop c &&
	broker_sanitizer_clean
'

test_expect_success 'a full disk: events are dropped and counted, the broker carries on' '
	mkdir full &&
	if ! mount -t tmpfs -o size=64k tmpfs full 2>/dev/null; then
		echo "# cannot mount a tmpfs here: skipped" >&2; exit 0
	fi &&
	test_at_end "umount $TRASH/full 2>/dev/null" &&
	# Full before the broker starts: filled later, the page the start
	# events already took could hold every event of the flood (the
	# denials are rate-limited), and nothing would fail.
	{ dd if=/dev/zero of=full/filler bs=4k 2>/dev/null || :; } &&
	plugin_broker f pki "plugin_opt_audit_log $TRASH/full/audit.log
plugin_opt_state_file none" &&
	PF="--port $(broker_port f)" &&
	$MQCLIENT $PF $(dev_args pki dev3) --id dev3 --flood forbidden/x 50 >f1.out &&
	test_grep "^FLOODED 51" f1.out &&
	wait_for 10 log_has f "audit log .*full/audit.log: cannot write to it \(No space left on device\)" &&
	stay_client f2.out $PF $(dev_args pki dev1) --id dev1 &&
	test_grep "^READY" f2.out &&
	rm full/filler &&
	wait_for 10 log_has f "audit log .*full/audit.log: writing again \([0-9]+ events were dropped\)" &&
	wait_for 10 log_is full/audit.log "ev(\"connect\", client_id=\"dev1\")" &&
	broker_stop f &&
	umount full &&
	broker_sanitizer_clean
'

test_expect_success 'as user mosquitto the plugin writes only DIR/audit; DIR stays root-owned' '
	if ! getent passwd mosquitto >/dev/null || [ "$(id -u)" != 0 ]; then
		echo "skipped: needs root and a mosquitto user"; exit 0
	fi &&
	chmod 755 "$TRASH" &&
	pki_setup upki dev1 dev2 &&
	"$MQADMIN" -d upki acl add --all --topic "devices/%u/#" --access readwrite >/dev/null &&
	test "$(stat -c %U:%a upki)" = root:755 &&
	test "$(stat -c %U:%a upki/audit)" = mosquitto:755 &&
	chown mosquitto upki/servers/localhost/localhost.key &&
	: >"$TRASH/u.log" && chown mosquitto "$TRASH/u.log" &&
	# The checkout may sit under a directory user mosquitto cannot enter.
	cp "$MQCERT_SO" "$TRASH/mqcert.so" && chmod 644 "$TRASH/mqcert.so" &&
	MQCERT_SO=$TRASH/mqcert.so BROKER_USER=mosquitto plugin_broker u upki &&
	test "$(ps -o user= -p "$(broker_pid u)")" = mosquitto &&
	stay_client u1.out --port $(broker_port u) $(dev_args upki dev1) --id dev1 &&
	test_grep "^READY" u1.out &&
	US=upki/audit/connected-127.0.0.1-$(broker_port u).json &&
	wait_for 10 state_is $US "len(c) == 1 and c[0][\"device\"] == \"dev1\"" &&
	wait_for 10 log_is upki/audit/audit.log "ev(\"connect\", device=\"dev1\")" &&
	test "$(stat -c %U $US upki/audit/audit.log | sort -u)" = mosquitto &&
	test "$(stat -c %U:%a upki/store upki/store/data.mdb | paste -sd " ")" = "root:755 root:644" &&
	test "$(stat -c %U upki/store/lock.mdb)" = mosquitto &&
	! ls upki | grep -v -e "^audit$" -e "^ca\." -e "^crl.pem$" -e "^devices$" -e "^policy.json$" -e "^servers$" -e "^store$" &&
	broker_stop u &&
	broker_sanitizer_clean
'

test_expect_success 'as user mosquitto with DIR/audit unwritable: one line each, same decisions' '
	if ! getent passwd mosquitto >/dev/null || [ "$(id -u)" != 0 ]; then
		echo "skipped: needs root and a mosquitto user"; exit 0
	fi &&
	"$MQADMIN" -d upki device revoke dev2 >/dev/null &&
	rm upki/audit/audit.log upki/audit/connected-*.json &&
	chown root upki/audit &&
	: >"$TRASH/w.log" && chown mosquitto "$TRASH/w.log" &&
	MQCERT_SO=$TRASH/mqcert.so BROKER_USER=mosquitto plugin_broker w upki &&
	PW="--port $(broker_port w)" &&
	wait_for 10 log_has w "mqcert: audit log .*/upki/audit/audit.log: cannot open it \(Permission denied\)" &&
	wait_for 10 log_has w "mqcert: state file .*/upki/audit/connected-127.0.0.1-$(broker_port w).json: .*Permission denied.*; retrying every second" &&
	stay_client w1.out $PW $(dev_args upki dev1) --id dev1 --v5 --sub devices/dev1/# --sub devices/dev2/# &&
	test_grep "^READY" w1.out &&
	test_grep -E "^SUBACK [0-2]$" w1.out &&
	test_grep -x "SUBACK 135" w1.out &&
	test_must_fail $MQCLIENT $PW $(dev_args upki dev2) --id dev2 >w2.out &&
	test_grep "^CONNACK 5" w2.out &&
	broker_is_running w &&
	broker_stop w &&
	test "$(log_count w "audit log .*/upki/audit/audit.log: cannot")" = 1 &&
	test "$(log_count w "state file .*/upki/audit/connected-.*.json: ")" = 1 &&
	! ls upki/audit | grep . &&
	broker_sanitizer_clean
'

test_done
