#!/bin/bash
# cert list, cert revoke, device suspend/resume/delete and device issue
# of a deleted name (issue 14 item 2).
. "$(dirname "$0")/../lib.sh"

json_check() { /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); $2" "$1"; }
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr A-F a-f; }
fpr_of() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }

test_expect_success 'setup: dev1 with two certificates, dev2, a rule for dev2' '
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki device issue dev1 >/dev/null &&
	serial_of pki/devices/dev1/dev1.crt >s1 &&
	fpr_of pki/devices/dev1/dev1.crt >f1 &&
	"$MQADMIN" -d pki device renew dev1 >/dev/null &&
	serial_of pki/devices/dev1/dev1.crt >s2 &&
	"$MQADMIN" -d pki device issue dev2 >/dev/null &&
	serial_of pki/devices/dev2/dev2.crt >s3 &&
	"$MQADMIN" -d pki acl add --device dev2 --topic "d2/#" --access read >/dev/null &&
	"$MQADMIN" -d pki acl add --all --topic "pub/#" --access read >/dev/null
'

test_expect_success 'cert list shows every certificate with a total line' '
	"$MQADMIN" -d pki cert list >out &&
	head -n 1 out >head &&
	test_grep "^DEVICE  STATE      SERIAL  *FINGERPRINT  *NOT_BEFORE  *NOT_AFTER$" head &&
	test "$(grep -c "^dev1  *active  " out)" = 2 &&
	test_grep "^dev2  *active  *$(cat s3)  " out &&
	tail -n 1 out >total && echo "3 certificates: 3 active" >expect && test_cmp expect total
'

test_expect_success 'cert list --device --json' '
	"$MQADMIN" -d pki cert list --device dev1 --json >j &&
	json_check j "
assert [c[\"serial\"] for c in j]==[\"$(cat s1)\",\"$(cat s2)\"], j
assert all(c[\"device\"]==\"dev1\" and c[\"state\"]==\"active\" and len(c[\"fingerprint\"])==64 for c in j)
assert all(c[\"not_before\"].endswith(\"Z\") and c[\"not_after\"].endswith(\"Z\") for c in j)
"
'

test_expect_success 'cert list of an unknown device fails, a bad option is a usage error' '
	test_must_fail "$MQADMIN" -d pki cert list --device nosuch 2>err &&
	test_grep "no device .nosuch." err &&
	test_expect_code 2 "$MQADMIN" -d pki cert list --jsn 2>err &&
	test_grep "did you mean .--json." err
'

test_expect_success 'cert revoke of an unknown serial fails and changes nothing' '
	policy_cat >before.json &&
	test_must_fail "$MQADMIN" -d pki cert revoke 00000000ffff 2>err &&
	test_grep "no certificate has a serial or fingerprint starting with .00000000ffff." err &&
	test_must_fail "$MQADMIN" -d pki cert revoke 1 2>err &&
	test_grep "a prefix needs at least 4 hex digits" err &&
	test_must_fail "$MQADMIN" -d pki cert revoke "not-hex" 2>err &&
	test_grep "invalid serial or fingerprint .not-hex.: use its hex digits" err &&
	test_expect_code 2 "$MQADMIN" -d pki cert revoke 2>err &&
	policy_cat >before.json.now && cmp before.json before.json.now
'

test_expect_success 'cert revoke with a bad reason fails and changes nothing' '
	test_must_fail "$MQADMIN" -d pki cert revoke "$(cat s1)" --reason "$(printf "a\tb")" 2>err &&
	test_grep "invalid --reason: control characters are not allowed" err &&
	test_must_fail "$MQADMIN" -d pki cert revoke "$(cat s1)" --reason "" 2>err &&
	test_grep "invalid --reason: use 1-200 characters" err &&
	policy_cat >before.json.now && cmp before.json before.json.now
'

test_expect_success 'an ambiguous prefix lists the candidates and changes nothing' '
	cat >amb.py <<-\EOF &&
	import json, sys
	p = json.load(open("edit.json"))
	# Two serials that share a prefix: hand-made, as a CA rarely makes them.
	p["devices"][0]["certs"][0]["serial"] = "abcd0001"
	p["devices"][1]["certs"][0]["serial"] = "abcd0002"
	json.dump(p, open("edit.json", "w"))
	EOF
	policy_cat >edit.json && /usr/bin/python3 amb.py && "$MQADMIN" -d pki policy import edit.json >/dev/null &&
	policy_cat >amb.json &&
	test_must_fail "$MQADMIN" -d pki cert revoke ABCD 2>err &&
	test_grep ".ABCD. matches 2 certificates; give more digits" err &&
	test_grep "^  abcd0001  .*  dev1$" err &&
	test_grep "^  abcd0002  .*  dev2$" err &&
	policy_cat >amb.json.now && cmp amb.json amb.json.now &&
	"$MQADMIN" -d pki policy import before.json >/dev/null
'

test_expect_success 'cert revoke of a fingerprint prefix (colons, upper case) revokes that one only' '
	prefix=$(cut -c1-11 f1) &&
	"$MQADMIN" -d pki cert revoke "$prefix" --reason keyCompromise >out &&
	test_grep "^revoked certificate $(cat s1) of device .dev1. (1 other active certificate); pki/crl.pem updated$" out &&
	"$MQADMIN" -d pki cert list --json >j &&
	json_check j "
st = {c[\"serial\"]: c for c in j}
assert st[\"$(cat s1)\"][\"state\"]==\"revoked\" and st[\"$(cat s1)\"][\"reason\"]==\"keyCompromise\"
assert st[\"$(cat s2)\"][\"state\"]==\"active\" and st[\"$(cat s3)\"][\"state\"]==\"active\"
" &&
	openssl crl -in pki/crl.pem -noout -text >crl &&
	test_grep -i "Serial Number: $(cat s1)" crl &&
	test_grep "Key Compromise" crl &&
	test_grep ! -i "Serial Number: $(cat s2)" crl &&
	"$MQADMIN" -d pki device list >out &&
	test_grep "^dev1  .*  active  " out
'

test_expect_success 'cert revoke of a revoked certificate fails' '
	test_must_fail "$MQADMIN" -d pki cert revoke "$(cat s1)" 2>err &&
	test_grep "certificate $(cat s1) of device .dev1. is already revoked" err
'

test_expect_success 'device suspend: suspended everywhere, not in the CRL; again: exit 0' '
	cp pki/crl.pem crl.before &&
	"$MQADMIN" -d pki device suspend dev2 >out &&
	test_grep "^suspended device .dev2.: a running plugin refuses it" out &&
	"$MQADMIN" -d pki device suspend dev2 >out &&
	test_grep "^device .dev2. is already suspended (since .*Z); nothing changed$" out &&
	cmp pki/crl.pem crl.before &&
	"$MQADMIN" -d pki device list >out && test_grep "^dev2  .*  suspended  " out &&
	"$MQADMIN" -d pki cert list --device dev2 >out && test_grep "^dev2  *suspended  $(cat s3)" out &&
	test_grep "1 certificate: 1 suspended" out &&
	"$MQADMIN" -d pki device show dev2 >out && test_grep "^status:      suspended$" out &&
	policy_cat >edit.json && json_check edit.json "
d=[d for d in j[\"devices\"] if d[\"name\"]==\"dev2\"][0]
assert d[\"status\"]==\"suspended\" and d[\"suspended_at\"].endswith(\"Z\")
"
'

test_expect_success 'device resume: active again; again: exit 0' '
	"$MQADMIN" -d pki device resume dev2 >out &&
	test_grep "^resumed device .dev2." out &&
	"$MQADMIN" -d pki device resume dev2 >out &&
	test_grep "^device .dev2. is already active (not suspended); nothing changed$" out &&
	"$MQADMIN" -d pki device list >out && test_grep "^dev2  .*  active  " out &&
	policy_cat >edit.json && json_check edit.json "
d=[d for d in j[\"devices\"] if d[\"name\"]==\"dev2\"][0]
assert \"status\" not in d and \"suspended_at\" not in d
"
'

test_expect_success 'suspend, resume and delete of an unknown device fail' '
	for c in suspend resume delete; do
		test_must_fail "$MQADMIN" -d pki device $c nosuch 2>err &&
		test_grep "no device .nosuch." err || return 1
	done &&
	test_must_fail "$MQADMIN" -d pki device delete dev2 --reason "" 2>err &&
	test_grep "invalid --reason" err
'

test_expect_success 'device delete: revoked, out of the listings and the rules, files archived' '
	"$MQADMIN" -d pki device delete dev2 >out &&
	test_grep "^deleted device .dev2.: 1 certificate revoked, 1 ACL rule removed, files in pki/archive/dev2-[0-9]*T[0-9]*Z; pki/crl.pem updated$" out &&
	! test -e pki/devices/dev2 &&
	test "$(stat -c %a pki/archive)" = 700 &&
	a=$(echo pki/archive/dev2-*) &&
	test "$(stat -c %a $a/dev2.key)" = 600 &&
	test -f $a/dev2.crt &&
	"$MQADMIN" -d pki device list >out && test_grep ! dev2 out &&
	"$MQADMIN" -d pki cert list >out && test_grep ! "$(cat s3)" out &&
	"$MQADMIN" -d pki acl list >out && test_grep ! "device:dev2" out && test_grep "pub/#" out &&
	openssl crl -in pki/crl.pem -noout -text >crl &&
	test_grep -i "Serial Number: $(cat s3)" crl &&
	test_grep -i "Serial Number: $(cat s1)" crl &&
	test_must_fail "$MQADMIN" -d pki device show dev2 2>err &&
	test_grep "device .dev2. was deleted" err &&
	policy_cat >edit.json && json_check edit.json "
assert [d[\"name\"] for d in j[\"devices\"]]==[\"dev1\"]
x=j[\"deleted\"][0]
assert x[\"name\"]==\"dev2\" and x[\"archive\"].startswith(\"archive/dev2-\") and x[\"deleted_at\"].endswith(\"Z\")
assert x[\"certs\"][0][\"status\"]==\"revoked\" and x[\"certs\"][0][\"reason\"]==\"deleted\"
"
'

test_expect_success 'a deleted device cannot be deleted, suspended or resumed again' '
	test_must_fail "$MQADMIN" -d pki device delete dev2 2>err &&
	test_grep "device .dev2. was deleted (its files are in archive/dev2-" err &&
	test_must_fail "$MQADMIN" -d pki device suspend dev2 2>err &&
	test_grep "device .dev2. was deleted" err
'

test_expect_success 'device batch refuses a deleted name and issues nothing' '
	printf "newdev\ndev2\n" >names &&
	test_must_fail "$MQADMIN" -d pki device batch --from names 2>err &&
	test_grep "device .dev2. was deleted .*device issue dev2 --force.; nothing was issued" err &&
	! test -e pki/devices/newdev &&
	! test -e pki/devices/dev2
'

test_expect_success 'device issue of a deleted name needs --force' '
	test_must_fail "$MQADMIN" -d pki device issue dev2 2>err &&
	test_grep "device .dev2. was deleted .*: pass --force to do so" err &&
	! test -e pki/devices/dev2 &&
	"$MQADMIN" -d pki device issue dev2 --force >out &&
	test_grep "pki/devices/dev2/dev2.crt" out &&
	"$MQADMIN" -d pki cert list --device dev2 >out &&
	test_grep "1 certificate: 1 active" out &&
	"$MQADMIN" -d pki crl update >/dev/null &&
	openssl crl -in pki/crl.pem -noout -text >crl &&
	test_grep -i "Serial Number: $(cat s3)" crl &&
	policy_cat >edit.json && "$MQADMIN" -d pki policy validate edit.json >out && test_grep "^ok" out
'

test_expect_success 'the CRL lists a retired certificate as superseded, a suspension never' '
	policy_cat >edit.json &&
	/usr/bin/python3 - <<-\EOF &&
	import json
	p = json.load(open("edit.json"))
	c = p["devices"][0]["certs"][1]
	c.update(status="retired", retired_at="2026-01-01T00:00:00Z", retire_reason="renewed")
	json.dump(p, open("edit.json", "w"))
	EOF
	"$MQADMIN" -d pki policy import edit.json >/dev/null &&
	"$MQADMIN" -d pki cert list --device dev1 >out &&
	test_grep "^dev1  *retired  *$(cat s2)" out &&
	test_grep "2 certificates: 1 revoked, 1 retired" out &&
	"$MQADMIN" -d pki device show dev1 >out &&
	test_grep "retired 2026-01-01T00:00:00Z: renewed" out &&
	"$MQADMIN" -d pki crl update >/dev/null &&
	openssl crl -in pki/crl.pem -noout -text >crl &&
	grep -i -A4 "Serial Number: $(cat s2)" crl >entry &&
	test_grep "Superseded" entry
'

test_done
