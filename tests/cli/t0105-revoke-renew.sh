#!/bin/bash
# mqadmin device revoke, device renew and crl.
. "$(dirname "$0")/../lib.sh"

serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
json_check() { /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); $2" "$1"; }

test_expect_success 'setup' '
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki device issue dev1 --group g1 --username u1 >/dev/null &&
	"$MQADMIN" -d pki device issue dev2 >/dev/null &&
	serial_of pki/devices/dev1/dev1.crt >dev1.serial1 &&
	cp pki/devices/dev1/dev1.crt dev1.old.crt && cp pki/devices/dev1/dev1.key dev1.old.key
'

test_expect_success 'renew adds a second active cert with the same identity' '
	"$MQADMIN" -d pki device renew dev1 --days 200 >out &&
	printf "%s\n" pki/devices/dev1/dev1.crt pki/devices/dev1/dev1.key >expect &&
	test_cmp expect out &&
	! cmp -s dev1.old.crt pki/devices/dev1/dev1.crt &&
	! cmp -s dev1.old.key pki/devices/dev1/dev1.key &&
	test "$(stat -c %a pki/devices/dev1/dev1.key)" = 600 &&
	! ls pki/devices/dev1 | grep -q "\.new\|tmp" &&
	openssl verify -CAfile pki/ca.crt pki/devices/dev1/dev1.crt &&
	openssl x509 -in pki/devices/dev1/dev1.crt -noout -subject >subj &&
	test_grep "OU = g1, CN = dev1" subj &&
	serial_of pki/devices/dev1/dev1.crt >dev1.serial2 &&
	"$MQADMIN" -d pki device show dev1 --json >j &&
	json_check j "
assert j[\"username\"]==\"u1\" and j[\"groups\"]==[\"g1\"]
assert [c[\"status\"] for c in j[\"certs\"]]==[\"active\",\"active\"]
assert j[\"serial\"]==\"$(tr A-F a-f <dev1.serial2)\"
assert j[\"days_left\"] in (199,200)
"
'

test_expect_success 'renew with --key-type rsa and with a CSR' '
	"$MQADMIN" -d pki device renew dev2 --key-type rsa >/dev/null &&
	openssl x509 -in pki/devices/dev2/dev2.crt -noout -text >text &&
	test_grep "Public-Key: (3072 bit)" text &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout own.key \
		-out own.csr -subj /CN=x 2>/dev/null &&
	"$MQADMIN" -d pki device renew dev2 --csr own.csr >out &&
	echo pki/devices/dev2/dev2.crt >expect && test_cmp expect out &&
	! test -e pki/devices/dev2/dev2.key &&
	openssl verify -CAfile pki/ca.crt pki/devices/dev2/dev2.crt
'

test_expect_success 'renew of an unknown device fails' '
	test_must_fail "$MQADMIN" -d pki device renew nosuch 2>err &&
	test_grep "no device .nosuch." err
'

test_expect_success 'revoke marks every cert revoked and signs a CRL with both serials' '
	"$MQADMIN" -d pki device revoke dev1 --reason keyCompromise >out &&
	test_grep "revoked 2 certificates of device .dev1." out &&
	"$MQADMIN" -d pki device show dev1 --json >j &&
	json_check j "
assert j[\"status\"]==\"revoked\"
assert all(c[\"status\"]==\"revoked\" and c[\"reason\"]==\"keyCompromise\" and c[\"revoked_at\"].endswith(\"Z\") for c in j[\"certs\"])
" &&
	openssl crl -in pki/crl.pem -CAfile pki/ca.crt -noout 2>err && test_grep "verify OK" err &&
	openssl crl -in pki/crl.pem -noout -text >crl &&
	test_grep "Serial Number: $(cat dev1.serial1)" crl &&
	test_grep "Serial Number: $(cat dev1.serial2)" crl &&
	test_grep "Key Compromise" crl &&
	test_grep "Authority Key Identifier" crl &&
	test_grep "CRL Number" crl &&
	test_grep ! "Serial Number: $(serial_of pki/devices/dev2/dev2.crt)" crl
'

test_expect_success 'openssl verify -crl_check refuses the revoked cert, accepts others' '
	cat pki/ca.crt pki/crl.pem >chain.pem &&
	! openssl verify -crl_check -CAfile chain.pem pki/devices/dev1/dev1.crt >out 2>&1 &&
	test_grep "certificate revoked" out &&
	openssl verify -crl_check -CAfile chain.pem pki/devices/dev2/dev2.crt
'

test_expect_success 'the device list shows it revoked' '
	"$MQADMIN" -d pki device list >out &&
	test_grep "^dev1 .* revoked " out && test_grep "^dev2 .* active " out
'

test_expect_success 'revoking twice, renewing a revoked device, bad reasons fail' '
	test_must_fail "$MQADMIN" -d pki device revoke dev1 2>err &&
	test_grep "device .dev1. is already revoked" err &&
	test_must_fail "$MQADMIN" -d pki device renew dev1 2>err &&
	test_grep "device .dev1. is revoked and cannot be renewed; issue it under a new name" err &&
	test_must_fail "$MQADMIN" -d pki device revoke nosuch 2>err &&
	test_grep "no device .nosuch." err &&
	test_must_fail "$MQADMIN" -d pki device revoke dev2 --reason "$(printf "a\nb")" 2>err &&
	test_grep "invalid --reason" err &&
	test_expect_code 2 "$MQADMIN" -d pki device revoke 2>err &&
	test_grep "missing device NAME" err
'

test_expect_success 'the CRL number increases; crl re-signs with --days' '
	n1=$(openssl crl -in pki/crl.pem -noout -crlnumber | cut -d= -f2) &&
	"$MQADMIN" -d pki crl --days 7 >out &&
	echo pki/crl.pem >expect && test_cmp expect out &&
	n2=$(openssl crl -in pki/crl.pem -noout -crlnumber | cut -d= -f2) &&
	test $((n2)) -eq $((n1 + 1)) &&
	next=$(openssl crl -in pki/crl.pem -noout -nextupdate | cut -d= -f2) &&
	days=$(( ($(date -d "$next" +%s) - $(date +%s) + 60) / 86400 )) &&
	test "$days" -eq 7 &&
	openssl crl -in pki/crl.pem -noout -text >crl &&
	test_grep "Serial Number: $(cat dev1.serial1)" crl &&
	test_must_fail "$MQADMIN" -d pki crl --days 0 2>err && test_grep "invalid --days" err
'

test_expect_success 'revoke without a reason leaves the reason code out' '
	"$MQADMIN" -d pki device revoke dev2 >/dev/null &&
	openssl crl -in pki/crl.pem -noout -text >crl &&
	test $(grep -c "Serial Number" crl) -eq 5 &&
	test $(grep -c "Key Compromise" crl) -eq 2
'

test_done
