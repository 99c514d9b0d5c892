#!/bin/bash
# mqadmin report on the audit log of a real broker run, rendered by headless
# Chromium: the DOM holds the figures the log holds, the page loads nothing
# from elsewhere, and a screenshot is saved (as $MQ_BUILD/t2101-report.png).
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

if ! command -v chromium >/dev/null; then
	echo "1..0 # SKIP chromium is not installed (scripts/ensure-deps installs it)"
	exit 0
fi

# chrome ARGS...: headless Chromium that talks to nobody.
chrome() {
	timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$TRASH/chr" "$@" 2>>"$TRASH/chromium.err"
}

# count EVENT [FIELD]: events in both audit files (FIELD: the sum of it).
count() {
	cat pki/audit/audit.log.1 pki/audit/audit.log | /usr/bin/python3 -c '
import json, sys
ev, field = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None
L = [json.loads(l) for l in sys.stdin if l.strip()]
print(sum(o.get(field, 0) if field else 1 for o in L if o["event"] == ev))' "$@"
}

# dom ID: the data-value of the element with that id in the rendered DOM.
dom() { sed -n "s/.*id=\"$1\" data-value=\"\([0-9]*\)\".*/\1/p" dom.html; }

test_expect_success 'setup: PKI with groups, a broker' '
	pki_setup pki dev1 dev2 dev3 dev4 never1 &&
	"$MQADMIN" -d pki device set dev1 --group sensors >/dev/null &&
	"$MQADMIN" -d pki device set dev3 --group sensors --group lab >/dev/null &&
	"$MQADMIN" -d pki device set never1 --group lab >/dev/null &&
	plugin_broker b pki "plugin_opt_clientid_binding none" &&
	wait_for 10 grep -q "\"event\":\"policy\"" pki/audit/audit.log
'
P="--port $(broker_port b)"
A=pki/audit/audit.log

test_expect_success 'a day of traffic: connects, refusals, denials, a clone, a rotation' '
	$MQCLIENT $P $(dev_args pki dev1) --id dev1 >c.out &&
	$MQCLIENT $P $(dev_args pki dev1) --id dev1 >c.out &&
	"$MQADMIN" -d pki device revoke dev2 >/dev/null &&
	wait_policy b pki &&
	test_must_fail $MQCLIENT $P $(dev_args pki dev2) --id dev2 >c.out &&
	test_must_fail $MQCLIENT $P $(dev_args pki dev2) --id dev2 >c.out &&
	$MQCLIENT $P $(dev_args pki dev3) --id flood --flood forbidden/x 40 >c.out &&
	stay_client t1.out $P $(dev_args pki dev4) --id roam --bind 127.0.0.2 &&
	stay_client t2.out $P $(dev_args pki dev4) --id roam --bind 127.0.0.3 &&
	stay_client t3.out $P $(dev_args pki dev4) --id roam --bind 127.0.0.2 &&
	stay_client t4.out $P $(dev_args pki dev4) --id roam --bind 127.0.0.3 &&
	wait_for 15 grep -q "\"event\":\"clone\"" $A &&
	wait_for 15 grep -q "acl_denied_suppressed" $A &&
	mv $A $A.1 && broker_hup b && wait_for 10 test -s $A &&
	test_must_fail $MQCLIENT $P $(dev_args pki dev2) --id dev2 >c.out &&
	$MQCLIENT $P $(dev_args pki dev3) --id dev3 >c.out &&
	wait_for 10 grep -q "\"event\":\"connect\".*\"dev3\"" $A &&
	test "$(count refused)" = 3
'

test_expect_success 'report writes one page, mode 644, and sums it up' '
	"$MQADMIN" -d pki report --html report.html >out 2>err &&
	test "$(stat -c %a report.html)" = 644 &&
	test_grep "^wrote report.html: 5 devices, $(count connect) connects, 3 refused, " out &&
	test_grep ", 1 never seen, 0 not seen for 30d$" out
'

test_expect_success 'the page loads nothing: no src, href, url(), @import or script' '
	test_grep ! -Ei "(src|href|action|xlink:href)[[:space:]]*=" report.html &&
	test_grep ! -Ei "url\(|@import|<script|<link|<iframe|<object|<embed|<img" report.html &&
	test_grep ! -Ei "https?://" report.html
'

test_expect_success 'Chromium renders it: the DOM holds the numbers of the audit log' '
	chrome --dump-dom "file://$TRASH/report.html" >dom.html &&
	test_grep "<svg class=\"chart\" id=\"timeline-svg\"" dom.html &&
	test "$(dom sum-devices)" = 5 &&
	test "$(dom sum-refused)" = "$(count refused)" &&
	test "$(dom sum-connects)" = "$(count connect)" &&
	denied=$(( $(count acl_denied) + $(count acl_denied_suppressed count) )) &&
	test "$denied" -ge 40 &&
	test "$(dom sum-acl-denied)" = "$denied" &&
	test "$(dom sum-clones)" = 1 &&
	test "$(dom sum-never-seen)" = 1 &&
	/usr/bin/python3 - "$(count refused)" "$denied" <<-\PY
	import re, sys
	dom = open("dom.html").read()
	def cell(row, series):
	    m = re.search(r"<tr id=\"%s\">.*?data-series=\"%s\" data-value=\"(\d+)\"" % (row, series), dom, re.S)
	    return int(m.group(1))
	assert cell("timeline-total", "refused") == int(sys.argv[1])
	assert cell("timeline-total", "acl_denied") == int(sys.argv[2])
	assert re.search(r"<tr data-label=\"revoked\"><th>revoked</th><td data-series=\"devices\" data-value=\"1\">", dom)
	assert re.search(r"<tr data-label=\"lab\"><th>lab</th><td data-series=\"devices\" data-value=\"2\">", dom)
	assert re.search(r"<table id=\"never-list\">.*data-device=\"never1\".*</table>", dom, re.S)
	assert re.search(r"<table id=\"clones\">.*data-device=\"dev4\"><td>dev4</td>.*127\.0\.0\.2, 127\.0\.0\.3", dom, re.S)
	assert re.search(r"data-label=\"certificate is revoked \(device &#39;dev2&#39;\)\".*data-value=\"3\"", dom) \
	    or re.search(r"data-label=\"certificate is revoked \(device .dev2.\)\"><td>[^<]*</td><td data-value=\"3\"", dom), "reasons"
	# one rect per bar, with the value it stands for
	bars = re.findall(r"<rect class=\"bar\"[^>]*data-series=\"refused\" data-value=\"(\d+)\"", dom)
	assert sum(map(int, bars)) == int(sys.argv[1]), bars
	PY
'

test_expect_success 'a screenshot is saved' '
	chrome --screenshot="$TRASH/report.png" --window-size=1280,2000 "file://$TRASH/report.html" &&
	test "$(head -c 8 report.png | od -An -c | tr -d " ")" = "211PNG\r\n032\n" &&
	test "$(stat -c %s report.png)" -gt 20000 &&
	cp report.png "$MQ_BUILD/t2101-report.png"
'

test_expect_success '--since and --stale; bad values are usage errors' '
	"$MQADMIN" -d pki report --html r2.html --since 2099-01-01T00:00:00Z --stale 1h >out &&
	test_grep ": 5 devices, 0 connects, 0 refused, 0 ACL denials, 0 suspected clones, 1 never seen, 0 not seen for 1h$" out &&
	test_expect_code 2 "$MQADMIN" -d pki report --html r3.html --stale soon 2>err &&
	test_grep "invalid --stale .soon." err &&
	test_expect_code 2 "$MQADMIN" -d pki report 2>err &&
	test_grep "missing --html FILE" err &&
	test ! -e r3.html
'

test_expect_success 'the broker is clean' '
	broker_stop b &&
	broker_sanitizer_clean b
'

test_done
