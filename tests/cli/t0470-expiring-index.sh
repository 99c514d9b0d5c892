#!/bin/bash
# expiring --within answers from the covering expiring index (docs/STORE.md,
# Layout): one entry per device, its certificate in use, with the serial and
# name, so the command reads no device record. Every writer keeps it: renew,
# revoke, cert revoke, delete, suspend, policy import; a retire_after
# deadline (mqadmin serve's rollover) is judged at the time of the command.
# The reference is the whole model (MQADMIN_EXPIRING_MODEL=1, a test hook).
. "$(dirname "$0")/../lib.sh"

# The index's values as "FLAGserial name" lines, sorted (mdb_dump -p: keys
# and values on alternate lines; a value is a flag byte, A the answer or T
# check the record, the serial, NUL, the name).
index_entries() {
	mdb_dump -p -s expiring pki/store |
		awk '/^HEADER=END/ { h = 1; next } /^DATA=END/ { h = 0 } h && ++n % 2 == 0' |
		sed 's/^ //; s/\\00/ /' | sort
}

# The index's answer against the whole model's, table and JSON, without the
# time left (two runs a second apart may round a certificate made "5 days
# from now" to 5 and 4 days).
same_as_model() {
	test_expect_code $1 "$MQADMIN" -d pki expiring --within 30d >fast.raw &&
	test_expect_code $1 "$MQADMIN" -d pki expiring --within 30d --json >>fast.raw &&
	test_expect_code $1 env MQADMIN_EXPIRING_MODEL=1 "$MQADMIN" -d pki expiring --within 30d >slow.raw &&
	test_expect_code $1 env MQADMIN_EXPIRING_MODEL=1 "$MQADMIN" -d pki expiring --within 30d \
		--json >>slow.raw &&
	sed -e "s/  in [0-9]*[dhm]\$//" -e "/\"days_left\":/d" fast.raw >fast &&
	sed -e "s/  in [0-9]*[dhm]\$//" -e "/\"days_left\":/d" slow.raw >slow &&
	test_cmp slow fast && test $(grep -c "^device" fast) -gt 0
}

# The serial the table lists for device $1 (empty: not listed).
listed() {
	"$MQADMIN" -d pki expiring --within 30d | awk -v n="$1" '$1 == "device" && $2 == n { print $3 }'
}

test_expect_success 'setup: a fleet with renewals, revocations and rollover deadlines' '
	"$MQADMIN" -d pki init >/dev/null &&
	for d in soon gone sus; do "$MQADMIN" -d pki device issue $d --days 5 >/dev/null || exit 1; done &&
	for d in far roll pending; do "$MQADMIN" -d pki device issue $d --days 300 >/dev/null || exit 1; done &&
	"$MQADMIN" -d pki device issue renewed --days 5 >/dev/null &&
	old=$(listed renewed) && test -n "$old" &&
	"$MQADMIN" -d pki device renew renewed --days 10 >/dev/null &&
	new=$(listed renewed) && test -n "$new" && test "$new" != "$old" &&
	echo "$new" >renewed.serial &&
	policy_cat >p.json &&
	/usr/bin/python3 - <<-\EOF &&
	import hashlib, json, time
	p = json.load(open("p.json"))
	t = lambda s: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + s))
	for d in p["devices"]:
	    c = d["certs"][0]
	    if d["name"] in ("roll", "pending"):
	        # serve renewed it with a shorter certificate: the old one (300
	        # days) counts until its retire_after deadline, then the new one.
	        new = dict(c, serial="0b" + c["serial"][2:],
	                   fingerprint=hashlib.sha256(d["name"].encode()).hexdigest(), not_after=t(5 * 86400))
	        c["retire_after"] = t(-3600 if d["name"] == "roll" else 10 * 86400)
	        d["certs"].append(new)
	json.dump(p, open("p2.json", "w"))
	EOF
	"$MQADMIN" -d pki policy import p2.json >/dev/null
'

test_expect_success 'one index entry per device: its certificate in use, serial and name' '
	index_entries >entries &&
	test $(wc -l <entries) = 7 &&
	grep -x "A$(cat renewed.serial) renewed" entries &&
	grep -x "T[0-9a-f]* roll" entries && grep -x "T[0-9a-f]* pending" entries &&
	test $(grep -c "^A" entries) = 5 &&
	same_as_model 1
'

test_expect_success 'listed by the certificate in use: renewed, rollover past and before its deadline' '
	test "$(listed renewed)" = "$(cat renewed.serial)" &&
	case "$(listed roll)" in 0b*) ;; *) false ;; esac &&
	test -z "$(listed pending)" && test -z "$(listed far)" &&
	test -n "$(listed soon)" && test -n "$(listed sus)"
'

test_expect_success 'expiring reads no device record: a broken record of a listed device is not read' '
	serial=$(listed soon) &&
	cp -a pki pki.save &&
	printf "VERSION=3\nformat=print\ntype=btree\nHEADER=END\n soon\n {broken\nDATA=END\n" >bad.txt &&
	mdb_load -f bad.txt -s devices pki/store &&
	test_must_fail "$MQADMIN" -d pki device show soon 2>err &&
	test_expect_code 1 "$MQADMIN" -d pki expiring --within 30d >out &&
	awk "\$2 == \"soon\" { print \$3 }" out >got && echo "$serial" >want && test_cmp want got &&
	rm -rf pki && mv pki.save pki
'

test_expect_success 'revoke, cert revoke, suspend, delete, renew: the index follows each write' '
	"$MQADMIN" -d pki device revoke gone >/dev/null &&
	test -z "$(listed gone)" && same_as_model 1 &&
	"$MQADMIN" -d pki cert revoke "$(listed roll)" >/dev/null &&
	test -z "$(listed roll)" && same_as_model 1 &&
	"$MQADMIN" -d pki device suspend sus >/dev/null &&
	test -n "$(listed sus)" && same_as_model 1 &&
	"$MQADMIN" -d pki device delete sus >/dev/null &&
	test -z "$(listed sus)" && same_as_model 1 &&
	"$MQADMIN" -d pki device renew soon --days 200 >/dev/null &&
	test -z "$(listed soon)" && same_as_model 1 &&
	index_entries >entries && test $(wc -l <entries) = 5 &&
	! grep -q " gone$" entries && ! grep -q " sus$" entries
'

test_expect_success 'policy import replaces the index with the imported certificates in use' '
	policy_cat >now.json &&
	/usr/bin/python3 - <<-\EOF &&
	import json, time
	p = json.load(open("now.json"))
	soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3 * 86400))
	for d in p["devices"]:
	    if d["name"] == "far":
	        d["certs"][-1]["not_after"] = soon
	p["devices"] = [d for d in p["devices"] if d["name"] != "renewed"]
	json.dump(p, open("now2.json", "w"))
	EOF
	"$MQADMIN" -d pki policy import now2.json >/dev/null &&
	test -n "$(listed far)" && test -z "$(listed renewed)" &&
	index_entries >entries && test $(wc -l <entries) = 4 &&
	same_as_model 1
'

test_expect_success 'names that need escaping: JSON as cJSON writes it, the table as cli_escape' '
	"$MQADMIN" -d pki server issue broker >/dev/null &&
	n=$(printf "a\"b\\\\c\\td\\303\\251\\001") &&
	mkdir "pki/servers/$n" && cp pki/servers/broker/broker.crt "pki/servers/$n/$n.crt" &&
	test_expect_code 1 "$MQADMIN" -d pki expiring --within 3650d --json >esc.json &&
	test_expect_code 1 "$MQADMIN" -d pki expiring --within 3650d >esc.txt &&
	/usr/bin/python3 - <<-\EOF
	import json
	raw = open("esc.json", "rb").read()
	names = [x["name"] for x in json.loads(raw) if x["kind"] == "server"]
	assert names == ["a\"b\\c\td\u00e9\x01", "broker"], names
	assert b"\"name\":\t\"a\\\"b\\\\c\\td\xc3\xa9\\u0001\"" in raw, raw
	table = open("esc.txt", "rb").read()
	assert b"server  a\"b\\\\c\\x09d\xc3\xa9\\x01  " in table, table
	EOF
'

test_done
