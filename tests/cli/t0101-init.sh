#!/bin/bash
# mqadmin init, global options and exit codes.
. "$(dirname "$0")/../lib.sh"

test_expect_success '--version prints the version' '
	"$MQADMIN" --version >out &&
	echo "mqadmin 0.1.0" >expect &&
	test_cmp expect out
'

test_expect_success '--help and -h anywhere print usage on stdout, exit 0' '
	"$MQADMIN" --help >out && test_grep "device issue NAME" out &&
	"$MQADMIN" device issue -h >out && test_grep "^usage: mqadmin \[-d DIR\] device issue" out &&
	"$MQADMIN" device issue foo --group g --help >out && test_grep "device issue NAME" out &&
	"$MQADMIN" device --help >out && test_grep "device list" out && test_grep "device revoke" out &&
	"$MQADMIN" init --help >out && test_grep "init \[--cn NAME\]" out
'

test_expect_success 'usage errors exit 2 with usage on stderr' '
	test_expect_code 2 "$MQADMIN" 2>err && test_grep "no command given" err &&
	test_expect_code 2 "$MQADMIN" frobnicate 2>err && test_grep "unknown command .frobnicate." err &&
	test_expect_code 2 "$MQADMIN" device 2>err && test_grep "needs a subcommand" err &&
	test_expect_code 2 "$MQADMIN" device eat 2>err && test_grep "unknown command .device eat." err &&
	test_expect_code 2 "$MQADMIN" -d x init --bogus 2>err && test_grep "unknown option .--bogus." err &&
	test_grep "^usage: mqadmin" err &&
	test_expect_code 2 "$MQADMIN" -d x init extra 2>err && test_grep "unexpected argument .extra." err &&
	test_expect_code 2 "$MQADMIN" -d x device issue 2>err && test_grep "missing device NAME" err &&
	test_expect_code 2 "$MQADMIN" --dir 2>err &&
	! test -e x
'

test_expect_success 'init creates the CA, policy and CRL with safe modes' '
	umask 077 &&
	"$MQADMIN" -d pki init >out &&
	test_grep "pki/ca.crt" out &&
	test "$(stat -c %a pki)" = 755 &&
	test "$(stat -c %a pki/ca.key)" = 600 &&
	test "$(stat -c %a pki/ca.crt)" = 644 &&
	test "$(stat -c %a pki/store/data.mdb)" = 644 &&
	! test -e pki/policy.json &&
	test "$(stat -c %a pki/crl.pem)" = 644 &&
	test "$(stat -c %a pki/audit)" = 755 &&
	! ls pki/audit | grep . &&
	test_grep "BEGIN PRIVATE KEY" pki/ca.key &&
	test_grep ! "PRIVATE KEY" out &&
	policy_cat >policy.now && /usr/bin/python3 -c "import json,sys; p=json.load(open(\"policy.now\")); sys.exit(not (p[\"version\"]==1 and p[\"devices\"]==[]))" &&
	openssl crl -in pki/crl.pem -CAfile pki/ca.crt -noout 2>err && test_grep "verify OK" err
'

test_expect_success 'DIR/audit: given to user mosquitto by root, made again by any write' '
	if getent passwd mosquitto >/dev/null && [ "$(id -u)" = 0 ]; then
		test "$(stat -c %U pki/audit)" = mosquitto &&
		test "$(stat -c %U pki)" = root
	fi &&
	cp -a pki pki-old && rmdir pki-old/audit &&
	"$MQADMIN" -d pki-old device list >/dev/null &&
	! test -e pki-old/audit &&
	"$MQADMIN" -d pki-old acl add --all --topic "t/#" --access read >/dev/null &&
	test "$(stat -c %a pki-old/audit)" = 755 &&
	if getent passwd mosquitto >/dev/null && [ "$(id -u)" = 0 ]; then
		test "$(stat -c %U pki-old/audit)" = mosquitto &&
		chown root pki-old/audit &&
		"$MQADMIN" -d pki-old acl add --all --topic "u/#" --access read >/dev/null &&
		test "$(stat -c %U pki-old/audit)" = root
	fi
'

test_expect_success 'CA certificate: CA:TRUE pathlen:0, keyCertSign+cRLSign, SKI, subject' '
	openssl x509 -in pki/ca.crt -noout -text >text &&
	test_grep "CA:TRUE, pathlen:0" text &&
	test_grep -A1 "Basic Constraints: critical" text &&
	test_grep -A1 "Key Usage: critical" text &&
	test_grep "Certificate Sign, CRL Sign" text &&
	test_grep "Subject Key Identifier" text &&
	test_grep "Subject: O = mqcert, CN = mqcert CA" text &&
	test_grep "ecdsa-with-SHA256" text &&
	test_grep "NIST CURVE: P-256" text &&
	openssl verify -CAfile pki/ca.crt pki/ca.crt
'

test_expect_success 'default validity is 10 years' '
	end=$(openssl x509 -in pki/ca.crt -noout -enddate | cut -d= -f2) &&
	days=$(( ($(date -d "$end" +%s) - $(date +%s)) / 86400 )) &&
	test "$days" -ge 3649 && test "$days" -le 3650
'

test_expect_success 'init refuses to overwrite an existing CA' '
	cp pki/ca.key key.before &&
	test_must_fail "$MQADMIN" -d pki init 2>err &&
	test_grep "ca.crt already exists in pki; use a new --dir or remove it deliberately" err &&
	cmp key.before pki/ca.key
'

test_expect_success 'MQADMIN_DIR is the default directory, -d overrides it' '
	MQADMIN_DIR=envpki "$MQADMIN" init --cn "Env CA" >/dev/null &&
	openssl x509 -in envpki/ca.crt -noout -subject >out && test_grep "CN = Env CA" out &&
	MQADMIN_DIR=envpki "$MQADMIN" -d other init >/dev/null && test -f other/ca.crt &&
	MQADMIN_DIR=envpki "$MQADMIN" device list >/dev/null &&
	test_expect_code 2 "$MQADMIN" -d "" init 2>err && test_grep "directory name is empty" err
'

test_expect_success 'key types: rsa is 3072 bits, ed25519 works' '
	"$MQADMIN" -d rsa init --key-type rsa --days 30 >/dev/null &&
	openssl x509 -in rsa/ca.crt -noout -text >text &&
	test_grep "Public-Key: (3072 bit)" text && test_grep "sha256WithRSAEncryption" text &&
	"$MQADMIN" -d ed init --key-type ed25519 >/dev/null &&
	openssl x509 -in ed/ca.crt -noout -text >text && test_grep "ED25519" text &&
	openssl verify -CAfile ed/ca.crt ed/ca.crt
'

test_expect_success 'weak or unknown key types are refused' '
	for t in rsa:1024 rsa1024 dsa EC ec:P-192 ""; do
		test_must_fail "$MQADMIN" -d weak init --key-type "$t" 2>err &&
		test_grep "invalid --key-type .$t.: use ec (P-256), rsa (3072 bits) or ed25519" err || exit 1
	done &&
	! test -e weak
'

test_expect_success 'bad --days and --cn are refused' '
	for d in 0 -1 36501 abc 10x ""; do
		test_must_fail "$MQADMIN" -d baddays init --days "$d" 2>err &&
		test_grep "invalid --days" err || exit 1
	done &&
	test_must_fail "$MQADMIN" -d badcn init --cn "" 2>err && test_grep "invalid --cn" err &&
	! test -e baddays && ! test -e badcn
'

test_expect_success 'init creates missing parent directories, 0755' '
	"$MQADMIN" -d new/parent/pki init >out &&
	test -f new/parent/pki/ca.crt &&
	test "$(stat -c %a new/parent)" = 755
'

test_expect_success 'a parent that cannot be created is reported' '
	: >afile &&
	test_must_fail "$MQADMIN" -d afile/sub/pki init 2>err &&
	test_grep "cannot create directory afile/sub: Not a directory" err
'

test_expect_success 'commands on a directory without a CA say to run init' '
	mkdir empty &&
	test_must_fail "$MQADMIN" -d empty device list 2>err &&
	test_grep "no PKI in empty (from -d): it holds no CA (no ca.crt); if your PKI is elsewhere, pass -d DIR, set MQADMIN_DIR or name it in .*; only to start a new CA there: .mqadmin -d empty init." err &&
	test_must_fail "$MQADMIN" -d missing device issue d1 2>err &&
	test_grep "missing" err
'

test_done
