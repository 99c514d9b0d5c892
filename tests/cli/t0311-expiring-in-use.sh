#!/bin/bash
# expiring --within lists a device by the certificate it uses: retired and
# revoked certificates expire harmlessly and never list a device (issue 15;
# the expiry index holds active certificates only, so the command walks its
# result, not the fleet's history).
. "$(dirname "$0")/../lib.sh"

test_expect_success 'setup: devices whose soon-expiring certificates are retired or revoked' '
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki device issue soon --days 5 >/dev/null &&
	for d in far ret rev; do "$MQADMIN" -d pki device issue $d --days 300 >/dev/null || exit 1; done &&
	policy_cat >p.json &&
	/usr/bin/python3 - <<-\EOF &&
	import hashlib, json, time
	p = json.load(open("p.json"))
	soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5 * 86400))
	for d in p["devices"]:
	    c = d["certs"][0]
	    if d["name"] in ("far", "ret"):
	        # A renewal: the old certificate retired, expiring in 5 days.
	        old = dict(c, serial="0a" + c["serial"][2:], fingerprint=hashlib.sha256(d["name"].encode()).hexdigest(),
	                   not_after=soon, status="retired", retired_at=c["not_before"],
	                   retire_reason="renewed")
	        d["certs"].insert(0, old)
	    if d["name"] == "ret":
	        c["status"] = "revoked"; c["revoked_at"] = c["not_before"]
	    if d["name"] == "rev":
	        c["not_after"] = soon; c["status"] = "revoked"; c["revoked_at"] = c["not_before"]
	json.dump(p, open("p2.json", "w"))
	EOF
	"$MQADMIN" -d pki policy import p2.json >/dev/null
'

test_expect_success 'only the device whose certificate in use expires is listed' '
	test_expect_code 1 "$MQADMIN" -d pki expiring --within 30d --json >out &&
	/usr/bin/python3 -c "import json,sys; print(\" \".join(sorted(x[\"name\"] for x in json.load(open(\"out\")) if x[\"kind\"] == \"device\")))" >names &&
	echo soon >expect && test_cmp expect names
'

test_expect_success 'revoking the last one empties the list (the index follows)' '
	"$MQADMIN" -d pki device revoke soon >/dev/null &&
	"$MQADMIN" -d pki expiring --within 30d >out &&
	test_grep "nothing expires within 30d" out
'

test_done
