#!/bin/bash
# mqadmin device issue, with generated keys and with CSRs.
. "$(dirname "$0")/../lib.sh"

policy_py() { policy_cat >policy.now && /usr/bin/python3 -c "import json,sys; p=json.load(open(\"policy.now\")); $1"; }

test_expect_success 'setup' '
	"$MQADMIN" -d pki init >/dev/null
'

test_expect_success 'device issue writes cert, 0600 key and ca.crt and prints the paths' '
	umask 022 &&
	"$MQADMIN" -d pki device issue dev1 --group sensors --group lab >out &&
	printf "%s\n" pki/devices/dev1/dev1.crt pki/devices/dev1/dev1.key pki/devices/dev1/ca.crt >expect &&
	test_cmp expect out &&
	test "$(stat -c %a pki/devices/dev1/dev1.key)" = 600 &&
	test "$(stat -c %a pki/devices/dev1)" = 755 &&
	cmp pki/ca.crt pki/devices/dev1/ca.crt &&
	openssl verify -CAfile pki/ca.crt pki/devices/dev1/dev1.crt &&
	openssl verify -CAfile pki/ca.crt -purpose sslclient pki/devices/dev1/dev1.crt
'

test_expect_success 'device cert: clientAuth, CA:FALSE, OUs, SKI/AKI, 128-bit serial' '
	openssl x509 -in pki/devices/dev1/dev1.crt -noout -text >text &&
	test_grep "Subject: OU = sensors, OU = lab, CN = dev1" text &&
	test_grep "TLS Web Client Authentication" text &&
	test_grep ! "Server Authentication" text &&
	test_grep "CA:FALSE" text &&
	test_grep -A1 "Key Usage: critical" text && test_grep "Digital Signature$" text &&
	test_grep "Subject Key Identifier" text &&
	test_grep "Authority Key Identifier" text &&
	serial=$(openssl x509 -in pki/devices/dev1/dev1.crt -noout -serial | cut -d= -f2) &&
	test ${#serial} -eq 32 &&
	case $serial in [4-7]*) ;; *) echo "serial $serial not positive 128-bit"; exit 1;; esac
'

test_expect_success 'notBefore is 5 minutes in the past; default validity 365 days' '
	start=$(openssl x509 -in pki/devices/dev1/dev1.crt -noout -startdate | cut -d= -f2) &&
	end=$(openssl x509 -in pki/devices/dev1/dev1.crt -noout -enddate | cut -d= -f2) &&
	ago=$(( $(date +%s) - $(date -d "$start" +%s) )) &&
	test "$ago" -ge 300 && test "$ago" -le 330 &&
	days=$(( ($(date -d "$end" +%s) - $(date +%s)) / 86400 )) &&
	test "$days" -ge 364 && test "$days" -le 365
'

test_expect_success 'the policy records name, username, groups and the cert' '
	fpr=$(openssl x509 -in pki/devices/dev1/dev1.crt -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f) &&
	serial=$(openssl x509 -in pki/devices/dev1/dev1.crt -noout -serial | cut -d= -f2 | tr A-F a-f) &&
	policy_py "d=p[\"devices\"][0]; c=d[\"certs\"][0]; sys.exit(not (d[\"name\"]==\"dev1\" and d[\"username\"]==\"dev1\" and d[\"groups\"]==[\"sensors\",\"lab\"] and c[\"fingerprint\"]==\"$fpr\" and c[\"serial\"]==\"$serial\" and c[\"status\"]==\"active\" and c[\"not_after\"].endswith(\"Z\")))"
'

test_expect_success '--username, --days and --key-type rsa/ed25519' '
	"$MQADMIN" -d pki device issue dev2 --username user-2 --days 30 --key-type rsa >/dev/null &&
	openssl x509 -in pki/devices/dev2/dev2.crt -noout -text >text &&
	test_grep "Digital Signature, Key Encipherment" text &&
	test_grep "Public-Key: (3072 bit)" text &&
	policy_py "sys.exit(p[\"devices\"][1][\"username\"]!=\"user-2\")" &&
	"$MQADMIN" -d pki device issue dev3 --key-type ed25519 >/dev/null &&
	openssl verify -CAfile pki/ca.crt pki/devices/dev2/dev2.crt pki/devices/dev3/dev3.crt
'

test_expect_success 'an existing device is refused and left alone' '
	cp pki/devices/dev1/dev1.key key.before && policy_cat >policy.before &&
	test_must_fail "$MQADMIN" -d pki device issue dev1 2>err &&
	test_grep "device .dev1. already exists; use .mqadmin device renew dev1." err &&
	cmp key.before pki/devices/dev1/dev1.key && policy_cat >policy.before.now && cmp policy.before policy.before.now
'

test_expect_success 'a username already in use is refused' '
	test_must_fail "$MQADMIN" -d pki device issue dev4 --username dev1 2>err &&
	test_grep "username .dev1. is already used by device .dev1." err &&
	! test -e pki/devices/dev4
'

test_expect_success 'bad device, group and user names are refused' '
	for n in "a/b" "a+b" "x#" "." ".." "sp ace" "" "$(printf "%065d" 0)" "é"; do
		test_must_fail "$MQADMIN" -d pki device issue "$n" 2>err &&
		test_grep "invalid device name .$n.: use 1-64 characters of A-Za-z0-9._-" err || exit 1
	done &&
	test_must_fail "$MQADMIN" -d pki device issue ok1 --group "a/b" 2>err &&
	test_grep "invalid group name .a/b." err &&
	test_must_fail "$MQADMIN" -d pki device issue ok1 --username "+" 2>err &&
	test_grep "invalid user name .+." err &&
	! test -e pki/devices/ok1 &&
	policy_py "sys.exit(len(p[\"devices\"])!=3)"
'

test_expect_success 'bad --days and a cert outliving the CA are refused' '
	test_must_fail "$MQADMIN" -d pki device issue d5 --days 0 2>err && test_grep "invalid --days" err &&
	test_must_fail "$MQADMIN" -d pki device issue d5 --days 4000 2>err &&
	test_grep "would outlive the CA, which expires 20[0-9-]*T" err &&
	test_must_fail "$MQADMIN" -d pki device issue d5 --key-type rsa:1024 2>err &&
	test_grep "invalid --key-type" err &&
	! test -e pki/devices/d5
'

test_expect_success 'CSR: signs a P-256 CSR, ignores its subject, writes no key' '
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout csr.key \
		-out ok.csr -subj "/CN=evil/OU=admins" 2>/dev/null &&
	"$MQADMIN" -d pki device issue csr1 --csr ok.csr --group g1 >out &&
	printf "%s\n" pki/devices/csr1/csr1.crt pki/devices/csr1/ca.crt >expect &&
	test_cmp expect out &&
	! test -e pki/devices/csr1/csr1.key &&
	openssl verify -CAfile pki/ca.crt pki/devices/csr1/csr1.crt &&
	openssl x509 -in pki/devices/csr1/csr1.crt -noout -subject >subj &&
	echo "subject=OU = g1, CN = csr1" >expect && test_cmp expect subj &&
	openssl pkey -in csr.key -pubout >k.pub &&
	openssl x509 -in pki/devices/csr1/csr1.crt -pubkey -noout >c.pub && cmp k.pub c.pub
'

test_expect_success 'CSR in DER form is accepted' '
	openssl req -in ok.csr -outform DER -out ok.der &&
	openssl req -new -key csr.key -subj /CN=x -outform DER -out ok2.der &&
	"$MQADMIN" -d pki device issue csr2 --csr ok2.der >/dev/null &&
	openssl verify -CAfile pki/ca.crt pki/devices/csr2/csr2.crt
'

test_expect_success 'a tampered CSR is refused' '
	openssl req -new -key csr.key -subj /CN=whatever -outform DER -out t.der &&
	sed "s/whatever/whatevex/" t.der >tampered.der &&
	! cmp -s t.der tampered.der &&
	test_must_fail "$MQADMIN" -d pki device issue csr3 --csr tampered.der 2>err &&
	test_grep "signature does not verify" err &&
	! test -e pki/devices/csr3
'

test_expect_success 'weak CSR keys are refused: RSA-1024, P-192-style curves' '
	openssl req -new -newkey rsa:1024 -nodes -keyout r.key -out rsa1024.csr -subj /CN=x 2>/dev/null &&
	test_must_fail "$MQADMIN" -d pki device issue csr4 --csr rsa1024.csr 2>err &&
	test_grep "1024-bit RSA key: at least 2048 bits are required" err &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:secp256k1 -nodes -keyout k1.key \
		-out k1.csr -subj /CN=x 2>/dev/null &&
	test_must_fail "$MQADMIN" -d pki device issue csr4 --csr k1.csr 2>err &&
	test_grep "EC curve .secp256k1.: use P-256, P-384 or P-521" err &&
	! test -e pki/devices/csr4
'

test_expect_success 'unreadable or garbage CSR files are refused; --csr excludes --key-type' '
	test_must_fail "$MQADMIN" -d pki device issue csr5 --csr nosuch.csr 2>err &&
	test_grep "cannot open CSR nosuch.csr" err &&
	echo garbage >g.csr &&
	test_must_fail "$MQADMIN" -d pki device issue csr5 --csr g.csr 2>err &&
	test_grep "not a PEM or DER certificate request" err &&
	test_expect_code 2 "$MQADMIN" -d pki device issue csr5 --csr ok.csr --key-type rsa 2>err &&
	test_grep "exclude each other" err
'

test_expect_success 'no private key is ever printed' '
	"$MQADMIN" -d pki device issue quiet >out 2>&1 &&
	test_grep ! "PRIVATE" out
'

test_done
