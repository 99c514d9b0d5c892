#!/bin/bash
# Metrics on a real broker: plugin_opt_metrics_file read back through
# Debian's prometheus-node-exporter (textfile collector) over HTTP, and the
# same figures as retained $SYS/broker/mqcert/... topics, after real
# accepted, refused and kicked clients and an ACL denial; counters survive
# SIGHUP and policy changes.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

NODE_EXPORTER=/usr/bin/prometheus-node-exporter

# prom_is PYEXPR: node_exporter's page parses, the textfile collector had
# no error, and PYEXPR holds, with m(NAME, LABEL=VALUE...) the value of the
# one series NAME with those labels (and mqcert_instance), None if absent.
prom_is() {
	/usr/bin/python3 - "$NE_PORT" "$INSTANCE" "$1" <<'PY'
import re, sys, urllib.request
port, inst, expr = sys.argv[1:4]
text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=5).read().decode()
series = {}
for line in text.splitlines():
    if not line or line.startswith("#"):
        continue
    mo = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)', line)
    assert mo, "not an exposition line: %r" % line
    # node_exporter gives every series of a family the same label names:
    # an empty value stands for a label the file does not set.
    labels = tuple(sorted((k, v) for k, v in re.findall(r'([a-zA-Z_]+)="([^"]*)"',
                                                         mo.group(2) or "") if v))
    series[(mo.group(1), labels)] = float(mo.group(3))
def m(name, **kw):
    if name.startswith("mqcert_"):
        kw["mqcert_instance"] = inst
    return series.get((name, tuple(sorted(kw.items()))))
assert m("node_textfile_scrape_error") == 0, "textfile collector error"
ok = eval(expr)
if not ok:
    sys.stderr.write("prom_is: %s does not hold; mqcert series:\n" % expr)
    for (n, l), v in sorted(series.items()):
        if n.startswith("mqcert_") and v:
            sys.stderr.write("  %s%s %s\n" % (n, dict(l), v))
sys.exit(0 if ok else 1)
PY
}

# prom_wait SECS PYEXPR: polls prom_is until it holds (bounded); on timeout
# shows why.
prom_wait() {
	local end=$((SECONDS + $1))
	while [ $SECONDS -lt $end ]; do
		prom_is "$2" 2>/dev/null && return 0
		sleep 0.2
	done
	prom_is "$2"
}

# sys_is TOPIC VALUE: a new subscriber (device mon) gets the retained
# $SYS/broker/mqcert/TOPIC at once and its payload is VALUE.
sys_is() {
	local got
	got=$(mosquitto_sub -h localhost -p "$(broker_port b)" --cafile pki/ca.crt \
		--cert pki/devices/mon/mon.crt --key pki/devices/mon/mon.key -i mon \
		-t "\$SYS/broker/mqcert/$1" --retained-only -C 1 -W 2 2>/dev/null; true) &&
	test "$got" = "$2" || { echo "sys_is: $1 is '$got', not '$2'" >&2; return 1; }
}

# sys_wait SECS TOPIC VALUE: polls sys_is (bounded).
sys_wait() {
	local end=$((SECONDS + $1))
	while [ $SECONDS -lt $end ]; do
		sys_is "$2" "$3" 2>/dev/null && return 0
		sleep 0.5
	done
	sys_is "$2" "$3"
}

test_expect_success 'setup: PKI, rules, node_exporter on the metrics directory, a broker' '
	test -x $NODE_EXPORTER &&
	pki_setup pki dev1 dev2 dev3 mon &&
	"$MQADMIN" -d pki device issue soon --days 20 >/dev/null &&
	"$MQADMIN" -d pki acl add --all --topic "devices/%u/#" --access readwrite >/dev/null &&
	"$MQADMIN" -d pki acl add --device mon --topic "\$SYS/broker/mqcert/#" --access read >/dev/null &&
	ca_sign_cn pki /CN=stranger stranger &&
	"$MQADMIN" -d pki device revoke dev2 >/dev/null &&
	mkdir metrics &&
	NE_PORT=$(broker_free_port) &&
	echo "$NE_PORT" >ne.port &&
	{ $NODE_EXPORTER --web.listen-address=127.0.0.1:$NE_PORT --collector.disable-defaults \
		--collector.textfile --collector.textfile.directory="$TRASH/metrics" >ne.log 2>&1 & } &&
	echo $! >ne.pid &&
	test_at_end "kill $(cat ne.pid)" &&
	plugin_broker b pki "plugin_opt_metrics_file $TRASH/metrics/mqcert.prom
plugin_opt_metrics_interval 1
plugin_opt_sys_interval 1" &&
	wait_for 10 test -s metrics/mqcert.prom
'
NE_PORT=$(cat "$TRASH/ne.port")
INSTANCE=127.0.0.1-$(broker_port b)
P="--port $(broker_port b)"

test_expect_success 'the file: exposition format with HELP and TYPE, mode 0644, no temp files' '
	test "$(stat -c %a metrics/mqcert.prom)" = 644 &&
	test "$(ls metrics)" = mqcert.prom &&
	test_grep -x "# TYPE mqcert_connects_total counter" metrics/mqcert.prom &&
	test_grep -x "# HELP mqcert_clients_connected Connected clients mqcert let in by their certificate." metrics/mqcert.prom &&
	test_grep -x "# TYPE mqcert_clients_connected gauge" metrics/mqcert.prom &&
	test_grep -x "mqcert_connects_total{mqcert_instance=\"$INSTANCE\",result=\"refused\",reason=\"revoked\"} 0" metrics/mqcert.prom &&
	# every family has exactly one HELP and one TYPE line, before its series
	/usr/bin/python3 - metrics/mqcert.prom <<-\PY
	import re, sys
	seen = {}
	for line in open(sys.argv[1]):
	    mo = re.match(r"# (HELP|TYPE) (\S+) ", line)
	    if mo:
	        seen.setdefault(mo.group(2), []).append(mo.group(1))
	        continue
	    name = re.match(r"[a-z_]+", line).group(0)
	    assert seen.get(name) == ["HELP", "TYPE"], (name, seen.get(name))
	PY
'

test_expect_success 'connects accepted and refused (revoked, unknown), an ACL denial: exact counts' '
	stay_client one.out $P $(dev_args pki dev1) --id dev1 &&
	test_grep "^READY" one.out &&
	stay_client soon.out $P $(dev_args pki soon) --id soon &&
	test_grep "^READY" soon.out &&
	test_must_fail $MQCLIENT $P $(dev_args pki dev2) --id dev2 >two.out &&
	test_grep "^CONNACK 5" two.out &&
	test_must_fail $MQCLIENT $P --cafile pki/ca.crt --cert stranger.crt --key stranger.key \
		--id stranger >three.out &&
	test_grep "^CONNACK 5" three.out &&
	$MQCLIENT $P $(dev_args pki dev3) --id dev3 --pub other/x hello >four.out &&
	prom_wait 15 "m(\"mqcert_connects_total\", result=\"accepted\") == 3 and \
		m(\"mqcert_connects_total\", result=\"refused\", reason=\"revoked\") == 1 and \
		m(\"mqcert_connects_total\", result=\"refused\", reason=\"unknown_certificate\") == 1 and \
		m(\"mqcert_acl_denials_total\", access=\"write\") == 1" &&
	prom_is "m(\"mqcert_acl_denials_total\", access=\"read\") == 0 and \
		m(\"mqcert_connects_total\", result=\"refused\", reason=\"expired\") == 0 and \
		sum(v for (n, l), v in series.items() if n == \"mqcert_connects_total\" and \
		    (\"result\", \"refused\") in l) == 2 and \
		m(\"mqcert_kicks_total\", reason=\"revoked\") == 0 and \
		m(\"mqcert_clones_flagged_total\") == 0 and \
		m(\"mqcert_policy_valid\") == 1 and m(\"mqcert_policy_loads_total\") == 1"
'

test_expect_success 'gauges: connected clients, certificates expiring within 7 and 30 days' '
	prom_wait 15 "m(\"mqcert_clients_connected\") == 2 and \
		m(\"mqcert_clients_expiring\", days=\"30\") == 1 and \
		m(\"mqcert_clients_expiring\", days=\"7\") == 0"
'

test_expect_success '$SYS/broker/mqcert: the same figures, retained, for a client allowed to read them' '
	# Each read is a TLS connect with a 2 s limit: poll (bounded) so that a
	# slow connect on a loaded machine is not taken for a wrong figure.
	sys_wait 15 connects/refused/revoked 1 &&
	sys_wait 15 connects/refused/unknown_certificate 1 &&
	sys_wait 15 acl/denied/write 1 &&
	sys_wait 15 policy/valid 1 &&
	sys_wait 15 clients/expiring/30d 1 &&
	sys_wait 15 clients/connected 2 &&
	# dev3 may not read $SYS: its subscription is refused
	{ $MQCLIENT $P $(dev_args pki dev3) --id dev3 --sub "\$SYS/broker/mqcert/#" >sys1.out || true; } &&
	test_grep "^SUBACK 128" sys1.out
'

test_expect_success 'a policy change and SIGHUP keep every counter; a revocation is a kick' '
	seq=$(store_seq pki) &&
	prom_wait 15 "m(\"mqcert_policy_sequence\") == $seq" &&
	"$MQADMIN" -d pki device revoke dev1 >/dev/null &&
	wait_policy b pki &&
	seq2=$(store_seq pki) && test $seq2 -gt $seq &&
	wait_for 15 grep -q "^DISCONNECTED" one.out &&
	broker_hup b &&
	wait_for 10 log_has b "Reloading config" &&
	prom_wait 15 "m(\"mqcert_kicks_total\", reason=\"revoked\") == 1 and \
		m(\"mqcert_policy_sequence\") == $seq2 and \
		m(\"mqcert_policy_loads_total\") >= 2 and m(\"mqcert_clients_connected\") == 1" &&
	prom_is "m(\"mqcert_connects_total\", result=\"refused\", reason=\"revoked\") == 1 and \
		m(\"mqcert_connects_total\", result=\"refused\", reason=\"unknown_certificate\") == 1 and \
		m(\"mqcert_acl_denials_total\", access=\"write\") == 1 and \
		m(\"mqcert_connects_total\", result=\"accepted\") >= 5" &&
	test_must_fail $MQCLIENT $P $(dev_args pki dev1) --id dev1 >again.out &&
	prom_wait 15 "m(\"mqcert_connects_total\", result=\"refused\", reason=\"revoked\") == 2" &&
	sys_wait 15 kicks/revoked 1 &&
	sys_wait 15 connects/refused/revoked 2
'

test_expect_success 'the file is replaced (a new inode) about once per interval, not per tick' '
	for i in $(seq 1 30); do stat -c %i metrics/mqcert.prom; sleep 0.1; done | sort -u >inodes &&
	test "$(wc -l <inodes)" -ge 2 && test "$(wc -l <inodes)" -le 5 &&
	test "$(grep -c "^mqcert_connects_total{" metrics/mqcert.prom)" = 36 &&
	test "$(ls metrics)" = mqcert.prom
'

test_expect_success 'an unwritable metrics file: logged once, clients still served, written once it can be' '
	plugin_broker w pki "plugin_opt_metrics_file $TRASH/later/m.prom
plugin_opt_metrics_interval 1
plugin_opt_sys_interval 0
plugin_opt_state_file none
plugin_opt_audit_log none" &&
	wait_for 10 log_has w "mqcert: metrics: cannot create .*/later/m.prom.*the broker.s user needs write access" &&
	$MQCLIENT --port $(broker_port w) $(dev_args pki dev3) --id dev3 >w.out &&
	test_grep "^CONNACK 0" w.out &&
	test "$(log_count w "mqcert: accepted client .dev3.")" = 1 &&
	mkdir later &&
	wait_for 10 log_has w "mqcert: metrics: .*/later/m.prom written again" &&
	test "$(log_count w "mqcert: metrics: cannot create")" = 1 &&
	test_grep -x "mqcert_connects_total{mqcert_instance=\"127.0.0.1-$(broker_port w)\",result=\"accepted\"} 1" later/m.prom &&
	broker_stop w
'

test_expect_success 'bad values refuse to load, naming the option' '
	! BROKER_LEAKS=0 plugin_broker bad pki "plugin_opt_metrics_interval 0" 2>err &&
	log_has bad "mqcert: invalid plugin_opt_metrics_interval .0.: use a number of seconds from 1 to 86400" &&
	! BROKER_LEAKS=0 plugin_broker bad2 pki "plugin_opt_sys_interval 10s" 2>err &&
	log_has bad2 "mqcert: invalid plugin_opt_sys_interval .10s.: use a number of seconds from 0 to 86400"
'

test_expect_success 'the brokers stopped cleanly (no sanitizer report)' '
	broker_stop b &&
	broker_sanitizer_clean
'

test_done
