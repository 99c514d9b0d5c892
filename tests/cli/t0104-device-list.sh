#!/bin/bash
# mqadmin device list and device show.
. "$(dirname "$0")/../lib.sh"

json_check() { /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); $2" "$1"; }

test_expect_success 'setup' '
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki device issue alpha --group sensors --group lab >/dev/null &&
	"$MQADMIN" -d pki device issue beta-long-name --username bee --days 10 >/dev/null
'

test_expect_success 'list on an empty CA prints the header and the total line; --json prints []' '
	"$MQADMIN" -d empty init >/dev/null &&
	"$MQADMIN" -d empty device list >out &&
	printf "%s\n" "NAME  USERNAME  GROUPS  STATUS  EXPIRES  SERIAL" "0 devices (0 shown)" >expect &&
	test_cmp expect out &&
	"$MQADMIN" -d empty device list --json >out &&
	json_check out "sys.exit(j!=[])"
'

test_expect_success 'list prints an aligned table' '
	"$MQADMIN" -d pki device list >out &&
	sa=$(openssl x509 -in pki/devices/alpha/alpha.crt -noout -serial | cut -d= -f2 | tr A-F a-f) &&
	test_grep "^NAME            USERNAME  GROUPS       STATUS  EXPIRES  SERIAL$" out &&
	test_grep "^alpha           alpha     sensors,lab  active  in 36[45]d  $sa$" out &&
	test_grep "^beta-long-name  bee       -            active  in [91]0\?d   " out &&
	test_grep "^2 devices (2 shown)$" out &&
	test $(wc -l <out) -eq 4
'

test_expect_success 'list --json: one array with every documented field' '
	"$MQADMIN" -d pki device list --json >out &&
	fpr=$(openssl x509 -in pki/devices/alpha/alpha.crt -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f) &&
	json_check out "
a=j[0]; b=j[1]
assert len(j)==2, j
assert a[\"name\"]==\"alpha\" and a[\"username\"]==\"alpha\" and a[\"groups\"]==[\"sensors\",\"lab\"]
assert a[\"fingerprint\"]==\"$fpr\" and a[\"status\"]==\"active\"
assert len(a[\"serial\"])==32 and a[\"not_after\"].endswith(\"Z\") and a[\"not_before\"].endswith(\"Z\")
assert a[\"days_left\"] in (364,365) and b[\"days_left\"] in (9,10)
assert len(a[\"certs\"])==1 and a[\"certs\"][0][\"fingerprint\"]==\"$fpr\"
assert b[\"username\"]==\"bee\" and b[\"groups\"]==[]
"
'

test_expect_success 'show prints key: value lines and the cert list' '
	"$MQADMIN" -d pki device show alpha >out &&
	test_grep "^name: *alpha$" out &&
	test_grep "^username: *alpha$" out &&
	test_grep "^groups: *sensors,lab$" out &&
	test_grep "^status: *active$" out &&
	test_grep "^fingerprint: *[0-9a-f]\{64\}$" out &&
	test_grep "^certificates:$" out &&
	test_grep "^  [0-9a-f]\{32\}  active " out
'

test_expect_success 'show --json prints one object' '
	"$MQADMIN" -d pki device show beta-long-name --json >out &&
	json_check out "assert j[\"name\"]==\"beta-long-name\" and j[\"username\"]==\"bee\" and j[\"status\"]==\"active\""
'

test_expect_success 'show of an unknown or invalid device fails' '
	test_must_fail "$MQADMIN" -d pki device show nosuch 2>err &&
	test_grep "no device .nosuch. in pki" err &&
	test_must_fail "$MQADMIN" -d pki device show "a/b" 2>err &&
	test_grep "invalid device name" err &&
	test_expect_code 2 "$MQADMIN" -d pki device show 2>err &&
	test_expect_code 2 "$MQADMIN" -d pki device list extra 2>err &&
	test_grep "unexpected argument .extra." err
'

test_expect_success 'expired certificates show as expired' '
	policy_cat >edit.json &&
	/usr/bin/python3 - <<-\PY &&
	import json
	p = json.load(open("edit.json"))
	c = p["devices"][1]["certs"][0]
	c["not_before"] = "2020-01-01T00:00:00Z"
	c["not_after"] = "2020-01-04T00:00:00Z"
	json.dump(p, open("edit.json", "w"))
	PY
	"$MQADMIN" -d pki policy import edit.json >/dev/null &&
	"$MQADMIN" -d pki device list >out &&
	test_grep "^beta-long-name  bee *- *expired  expired [0-9]*d ago" out &&
	"$MQADMIN" -d pki device show beta-long-name --json >out &&
	json_check out "assert j[\"status\"]==\"expired\" and j[\"days_left\"] < -1000"
'

test_expect_success 'a corrupt policy file is refused by import, not guessed at; the store keeps working' '
	echo "{ not json" >bad.json &&
	test_must_fail "$MQADMIN" -d pki policy import bad.json 2>err &&
	test_grep "bad.json:1:3: expected a member name in double quotes" err &&
	test_grep "nothing was imported: the store is unchanged" err &&
	"$MQADMIN" -d pki device list >out &&
	test_grep "^alpha " out
'

test_done
