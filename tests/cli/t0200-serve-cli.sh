#!/bin/bash
# The policy side of online renewal without a broker: device issue --role
# service, device set --renew-now, the new policy fields through policy
# validate, and serve's usage and start-up errors. t2070 runs the service.
. "$(dirname "$0")/../lib.sh"

# The policy as the store holds it, exported to cur.json.
cur() { "$MQADMIN" -d pki policy export cur.json >/dev/null; }
json_check() { cur && /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); $1" cur.json; }
generation() { cur && /usr/bin/python3 -c "import json; print(json.load(open('cur.json'))['generation'])"; }

test_expect_success 'setup' '
	"$MQADMIN" -d pki init >/dev/null 2>&1 &&
	"$MQADMIN" -d pki device issue dev1 >/dev/null &&
	"$MQADMIN" -d pki device issue svc --role service >/dev/null &&
	"$MQADMIN" -d pki device issue plain --role device >/dev/null
'

test_expect_success '--role service is recorded; a device has no role member' '
	json_check "
d = {x[\"name\"]: x for x in j[\"devices\"]}
assert d[\"svc\"][\"role\"] == \"service\", d[\"svc\"]
assert \"role\" not in d[\"dev1\"] and \"role\" not in d[\"plain\"]
" &&
	test -f pki/devices/svc/svc.crt && test -f pki/devices/svc/svc.key
'

test_expect_success '--role with another value, or on renew: usage errors' '
	test_expect_code 2 "$MQADMIN" -d pki device issue x --role root 2>err &&
	test_grep "must be device or service" err &&
	test_expect_code 2 "$MQADMIN" -d pki device renew dev1 --role service 2>err &&
	test_grep "role" err &&
	cur && ! grep -q "\"x\"" cur.json
'

test_expect_success '--renew-now sets renew_now once; again changes nothing' '
	g0=$(generation) &&
	"$MQADMIN" -d pki device set dev1 --renew-now >out &&
	echo "dev1: renewal window open until its next renewal" >expect && test_cmp expect out &&
	test $(generation) -eq $((g0 + 1)) &&
	json_check "assert [x for x in j[\"devices\"] if x[\"name\"] == \"dev1\"][0][\"renew_now\"] is True" &&
	"$MQADMIN" -d pki device set dev1 --renew-now >out &&
	echo "dev1: unchanged" >expect && test_cmp expect out &&
	test $(generation) -eq $((g0 + 1))
'

test_expect_success '--renew-now on a service identity or an unknown device: refused' '
	test_must_fail "$MQADMIN" -d pki device set svc --renew-now 2>err &&
	test_grep "service identity" err &&
	test_must_fail "$MQADMIN" -d pki device set nosuch --renew-now 2>err &&
	test_grep "no device .nosuch." err
'

test_expect_success 'policy validate: retired, retire_after, renewed_at accepted; bad values refused' '
	cur &&
	/usr/bin/python3 - <<-PY &&
	import json
	p = json.load(open("cur.json"))
	d = [x for x in p["devices"] if x["name"] == "dev1"][0]
	d["renewed_at"] = "2026-01-01T00:00:00Z"
	c = dict(d["certs"][0])
	d["certs"][0]["status"] = "retired"
	d["certs"][0]["retired_at"] = "2026-01-02T00:00:00Z"
	d["certs"][0]["retire_reason"] = "renewed"
	d["certs"][0]["retire_after"] = "2026-01-03T00:00:00Z"
	json.dump(p, open("good.json", "w"))
	d["role"] = "admin"
	json.dump(p, open("badrole.json", "w"))
	d["role"] = "device"
	d["renew_now"] = "yes"
	json.dump(p, open("badrenew.json", "w"))
	del d["renew_now"]
	d["certs"][0]["status"] = "old"
	json.dump(p, open("badstatus.json", "w"))
	PY
	"$MQADMIN" policy validate good.json >out &&
	test_grep "^ok" out &&
	test_must_fail "$MQADMIN" policy validate badrole.json 2>err &&
	test_grep "role .admin. must be \"device\" or \"service\"" err &&
	test_must_fail "$MQADMIN" policy validate badrenew.json 2>err &&
	test_grep "\"renew_now\" must be true or false" err &&
	test_must_fail "$MQADMIN" policy validate badstatus.json 2>err &&
	test_grep "must be \"active\", \"retired\" or \"revoked\"" err
'

test_expect_success 'a retired certificate survives an mqadmin write unchanged' '
	"$MQADMIN" -d pki policy import good.json >/dev/null &&
	"$MQADMIN" -d pki device set dev1 --group g >/dev/null &&
	json_check "
c = [x for x in j[\"devices\"] if x[\"name\"] == \"dev1\"][0][\"certs\"][0]
assert c[\"status\"] == \"retired\" and c[\"retire_reason\"] == \"renewed\", c
assert c[\"retired_at\"] == \"2026-01-02T00:00:00Z\" and c[\"retire_after\"] == \"2026-01-03T00:00:00Z\", c
"
'

test_expect_success 'serve: usage errors exit 2 and name the option' '
	test_expect_code 2 "$MQADMIN" -d pki serve --window 0% 2>err &&
	test_grep "window" err &&
	test_expect_code 2 "$MQADMIN" -d pki serve --window 101% 2>err &&
	test_expect_code 2 "$MQADMIN" -d pki serve --rate-limit soon 2>err &&
	test_grep "rate-limit" err &&
	test_expect_code 2 "$MQADMIN" -d pki serve --grace -1 &&
	test_expect_code 2 "$MQADMIN" -d pki serve --once 0 &&
	test_expect_code 2 "$MQADMIN" -d pki serve --port 70000 &&
	test_expect_code 2 "$MQADMIN" -d pki serve --wndow 10% 2>err &&
	test_grep "did you mean .--window." err
'

test_expect_success 'serve: missing identity files or log directory: exit 1, nothing started' '
	test_must_fail "$MQADMIN" -d pki serve --name nosuch --port 1 2>err &&
	test_grep "cannot use" err &&
	test_must_fail "$MQADMIN" -d pki serve --name svc --port 1 --log nodir/serve.log 2>err &&
	test_grep "cannot open the serve log" err
'

test_done
