#!/bin/bash
# mqadmin inspect: certificates (PEM, DER), CSRs, CRLs, PKCS#12, foreign and bad files.
. "$(dirname "$0")/../lib.sh"

json_get() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

test_expect_success 'setup' '
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki server issue localhost --san DNS:localhost --san IP:127.0.0.1 >/dev/null &&
	echo s3cret >p12pass &&
	"$MQADMIN" -d pki device issue dev1 --group sensors --format pem --format der \
		--format p12 --p12-passphrase-file p12pass >/dev/null &&
	"$MQADMIN" -d pki device issue dev2 >/dev/null &&
	"$MQADMIN" -d pki device show dev1 --json >dev1.json
'

test_expect_success 'a device certificate (PEM): every field, and what DIR says' '
	"$MQADMIN" -d pki inspect pki/devices/dev1/dev1.crt >out &&
	test_grep "^type  *certificate$" out &&
	test_grep "^subject  *CN=dev1,OU=sensors$" out &&
	test_grep "^issuer  *CN=mqcert CA,O=mqcert$" out &&
	test_grep "^serial  *$(json_get dev1.json "d[\"serial\"]")$" out &&
	test_grep "^SHA-256  *$(json_get dev1.json "d[\"fingerprint\"]")$" out &&
	test_grep "^valid until  *$(json_get dev1.json "d[\"not_after\"]")$" out &&
	test_grep "^days left  *36[45]$" out &&
	test_grep "^key  *EC P-256$" out &&
	test_grep "^signature  *ecdsa-with-SHA256$" out &&
	test_grep "^CA  *no$" out &&
	test_grep "^ext key usage  *clientAuth$" out &&
	test_grep "^issued by DIR  *yes$" out &&
	test_grep "^in DIR  *device dev1, active in the policy$" out
'

test_expect_success 'the same certificate as DER, and as JSON' '
	"$MQADMIN" -d pki inspect pki/devices/dev1/dev1.der --json >out.json &&
	test "$(json_get out.json "d[\"fingerprint\"]")" = "$(json_get dev1.json "d[\"fingerprint\"]")" &&
	test "$(json_get out.json "\" \".join([d[\"type\"], d[\"device\"], d[\"policy_status\"], d[\"file\"]])")" = \
		"certificate dev1 active pki/devices/dev1/dev1.der" &&
	test "$(json_get out.json "\",\".join(d[\"extended_key_usage\"])")" = clientAuth
'

test_expect_success 'server and CA certificates' '
	"$MQADMIN" -d pki inspect pki/servers/localhost/localhost.crt >out &&
	test_grep "^SANs  *DNS:localhost, IP:127.0.0.1$" out &&
	test_grep "^ext key usage  *serverAuth$" out &&
	test_grep "^in DIR  *server localhost$" out &&
	"$MQADMIN" -d pki inspect pki/ca.crt >out &&
	test_grep "^CA  *yes$" out &&
	test_grep "^key usage  *keyCertSign, cRLSign$" out &&
	test_grep "^in DIR  *the CA$" out
'

test_expect_success 'a revoked device, and the CRL naming it' '
	"$MQADMIN" -d pki device revoke dev2 --reason keyCompromise >/dev/null &&
	"$MQADMIN" -d pki inspect pki/devices/dev2/dev2.crt >out &&
	test_grep "^in DIR  *device dev2, revoked in the policy$" out &&
	serial=$("$MQADMIN" -d pki device show dev2 --json | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)[\"serial\"])") &&
	"$MQADMIN" -d pki inspect pki/crl.pem >out &&
	test_grep "^type  *crl$" out &&
	test_grep "^issuer  *CN=mqcert CA,O=mqcert$" out &&
	test_grep "^next update  *20[0-9-]*T" out &&
	test_grep "^CRL number  *[0-9]" out &&
	test_grep "^issued by DIR  *yes$" out &&
	test_grep "^revoked  *1$" out &&
	test_grep "^  $serial  20[0-9T:-]*Z  keyCompromise  device dev2$" out &&
	"$MQADMIN" -d pki inspect pki/crl.pem --json >out.json &&
	test "$(json_get out.json "d[\"revoked\"][0][\"device\"]")" = dev2
'

test_expect_success 'a CSR: subject, requested SANs, signature check' '
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout csr.key \
		-subj /CN=phone -addext subjectAltName=DNS:phone.example -out phone.csr 2>/dev/null &&
	"$MQADMIN" -d pki inspect phone.csr >out &&
	test_grep "^type  *csr$" out &&
	test_grep "^subject  *CN=phone$" out &&
	test_grep "^SANs  *DNS:phone.example$" out &&
	test_grep "^key  *EC P-384$" out &&
	test_grep "^signature ok  *yes$" out
'

test_expect_success 'PKCS#12: key type and match, never the key' '
	"$MQADMIN" -d pki inspect pki/devices/dev1/dev1.p12 --passphrase-file p12pass >out &&
	test_grep "^type  *pkcs12$" out &&
	test_grep "^private key  *EC P-256$" out &&
	test_grep "^key matches  *yes$" out &&
	test_grep "^  subject  *CN=dev1,OU=sensors$" out &&
	test_grep "^  in DIR  *device dev1, active in the policy$" out &&
	test_grep "^CA certs  *1$" out &&
	test_grep "^  in DIR  *the CA$" out &&
	test_grep ! "PRIVATE" out &&
	test_must_fail "$MQADMIN" -d pki inspect pki/devices/dev1/dev1.p12 </dev/null 2>err &&
	test_grep "pki/devices/dev1/dev1.p12 is protected by a passphrase: pass --passphrase-file FILE" err &&
	echo wrong >badpass &&
	test_must_fail "$MQADMIN" -d pki inspect pki/devices/dev1/dev1.p12 --passphrase-file badpass 2>err &&
	test_grep "dev1.p12: wrong passphrase" err
'

test_expect_success 'a certificate from another CA, and a DIR without a CA' '
	"$MQADMIN" -d other init >/dev/null &&
	"$MQADMIN" -d other device issue dev1 >/dev/null &&
	"$MQADMIN" -d pki inspect other/devices/dev1/dev1.crt >out &&
	test_grep "^issued by DIR  *no: not issued by this CA$" out &&
	test_grep "^in DIR  *unknown: not in the policy$" out &&
	mkdir empty &&
	"$MQADMIN" -d empty inspect other/devices/dev1/dev1.crt >out &&
	test_grep "^issued by DIR  *no CA in DIR$" out
'

test_expect_success 'a PEM with a certificate and its key: the key is never shown' '
	cat pki/devices/dev1/dev1.crt pki/devices/dev1/dev1.key >bundle.pem &&
	"$MQADMIN" -d pki inspect bundle.pem >out &&
	test_grep "^subject  *CN=dev1,OU=sensors$" out &&
	test_grep "^bundle.pem also holds a private key (not shown)$" out &&
	test_grep ! "BEGIN" out
'

test_expect_success 'garbage, a bare key, a missing file, usage' '
	head -c 512 /dev/urandom >junk.bin &&
	test_must_fail "$MQADMIN" -d pki inspect junk.bin 2>err &&
	test_grep "junk.bin is not a certificate, CSR, CRL or PKCS#12 file (PEM or DER)" err &&
	test_must_fail "$MQADMIN" -d pki inspect pki/devices/dev1/dev1.key >out 2>err &&
	test_grep "dev1.key holds only a private key: inspect .* never prints keys" err &&
	test ! -s out &&
	test_must_fail "$MQADMIN" -d pki inspect nosuch.pem 2>err &&
	test_grep "nosuch.pem" err &&
	test_expect_code 2 "$MQADMIN" -d pki inspect 2>err &&
	test_grep "missing FILE" err &&
	test_expect_code 2 "$MQADMIN" -d pki inspect a b 2>err &&
	test_grep "unexpected argument .b." err
'

test_done
