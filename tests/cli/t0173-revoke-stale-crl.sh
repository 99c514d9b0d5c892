#!/bin/bash
# Emergency revocation never waits for the CA passphrase: with an encrypted
# CA key and no passphrase at hand (or a wrong one) device revoke still
# revokes in the policy (what the plugin enforces), says the CRL is stale,
# exits 0; 'mqadmin crl update' re-signs it later. The CRL's own expiry is
# reported by doctor and by expiring.
. "$(dirname "$0")/../lib.sh"

json_check() { /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); $2" "$1"; }
crl_serials() { openssl crl -in "$1" -noout -text | sed -n "s/^ *Serial Number: *//p" | tr a-f A-F; }
is_revoked() { "$MQADMIN" -d pki device list | grep -q "^$1 .* revoked "; }
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }

test_expect_success 'setup: an encrypted CA and three devices' '
	echo "correct horse" >pass && echo "wrong horse" >wrong &&
	"$MQADMIN" -d pki init --passphrase-file pass >/dev/null &&
	for d in d1 d2 d3; do
		"$MQADMIN" -d pki device issue $d --passphrase-file pass >/dev/null || exit 1
	done
'

test_expect_success 'no passphrase, no terminal: revoked anyway, exit 0, the CRL named stale' '
	cp pki/crl.pem crl.before &&
	"$MQADMIN" -d pki device revoke d1 </dev/null >out 2>err &&
	test_grep "ca.key is encrypted: pass --passphrase-file FILE or set MQADMIN_PASSPHRASE_FILE" err &&
	test_grep "^mqadmin: warning: device .d1. IS revoked: the policy no longer admits it" err &&
	test_grep "pki/crl.pem was not re-signed (see above) and does not list it yet: run .mqadmin -d pki crl update." err &&
	test_grep -x "revoked 1 certificate of device .d1.; pki/crl.pem NOT updated" out &&
	"$MQADMIN" -d pki device show d1 --json >j &&
	json_check j "assert [c[\"status\"] for c in j[\"certs\"]]==[\"revoked\"]" &&
	cmp crl.before pki/crl.pem
'

test_expect_success 'a wrong passphrase: the same' '
	MQADMIN_PASSPHRASE_FILE=wrong "$MQADMIN" -d pki device revoke d2 >out 2>err &&
	test_grep "wrong passphrase" err &&
	test_grep "IS revoked" err &&
	"$MQADMIN" -d pki device list >list &&
	test_grep "^d2 .* revoked " list
'

test_expect_success 'doctor reports the stale CRL with the fix' '
	{ "$MQADMIN" -d pki doctor >doc 2>&1 || true; } &&
	test_grep "^warning \[crl-outdated\]: pki/crl.pem lacks 2 certificate(s) the policy says are revoked" doc &&
	test_grep "fix: mqadmin -d pki crl update$" doc
'

test_expect_success 'crl update with a wrong passphrase fails and changes nothing' '
	policy_cat >policy.before &&
	test_must_fail "$MQADMIN" -d pki crl update --passphrase-file wrong 2>err &&
	test_grep "wrong passphrase" err &&
	cmp crl.before pki/crl.pem && policy_cat >policy.before.now && cmp policy.before policy.before.now
'

test_expect_success 'crl update re-signs it: both revoked serials listed' '
	"$MQADMIN" -d pki crl update --passphrase-file pass >out &&
	test_grep -x "pki/crl.pem" out &&
	openssl crl -in pki/crl.pem -CAfile pki/ca.crt -noout 2>&1 | grep -q "verify OK" &&
	crl_serials pki/crl.pem >serials &&
	test_grep -x "$(serial_of pki/devices/d1/d1.crt)" serials &&
	test_grep -x "$(serial_of pki/devices/d2/d2.crt)" serials &&
	{ "$MQADMIN" -d pki doctor >doc 2>&1 || true; } &&
	test_grep ! "crl-outdated" doc
'

test_expect_success 'with the passphrase, revoke updates the CRL at once' '
	"$MQADMIN" -d pki device revoke d3 --passphrase-file pass >out 2>err &&
	test_grep -x "revoked 1 certificate of device .d3.; pki/crl.pem updated" out &&
	test_grep ! warning err &&
	crl_serials pki/crl.pem >serials &&
	test_grep -x "$(serial_of pki/devices/d3/d3.crt)" serials
'

test_expect_success 'on a terminal: asked for the passphrase after the revocation is written' '
	"$MQADMIN" -d pki device issue t1 --passphrase-file pass >/dev/null &&
	"$MQADMIN" -d pki device issue t2 --passphrase-file pass >/dev/null &&
	mkfifo tty.in &&
	{ timeout 30 script -qec "\"$MQADMIN\" -d pki device revoke t1; echo rc=\$?" /dev/null <tty.in >out & spid=$!; } &&
	exec 7>tty.in &&
	# While the prompt waits, the device is already revoked in the policy.
	wait_for 20 is_revoked t1 &&
	wait_for 10 grep -q "Enter CA key passphrase:" out &&
	kill -0 $spid &&
	printf "wrong horse\n" >&7 && exec 7>&- &&
	wait $spid &&
	test_grep "IS revoked" out && test_grep "rc=0" out &&
	"$MQADMIN" -d pki device list >list && test_grep "^t1 .* revoked " list &&
	printf "correct horse\n" | timeout 20 script -qec "\"$MQADMIN\" -d pki device revoke t2" /dev/null >out &&
	test_grep "pki/crl.pem updated" out &&
	crl_serials pki/crl.pem >serials &&
	test_grep -x "$(serial_of pki/devices/t1/t1.crt)" serials &&
	test_grep -x "$(serial_of pki/devices/t2/t2.crt)" serials
'

test_expect_success 'a CRL near its nextUpdate: doctor warns, expiring lists it (exit 1)' '
	"$MQADMIN" -d pki crl update --days 1 --passphrase-file pass >/dev/null &&
	{ "$MQADMIN" -d pki doctor >doc 2>&1 || true; } &&
	test_grep "^warning \[crl-expiring\]: CRL pki/crl.pem reaches its nextUpdate in [01] day(s): a broker using it as crlfile then refuses every client" doc &&
	test_grep "fix: mqadmin -d pki crl update" doc &&
	test_must_fail "$MQADMIN" -d pki expiring >out &&
	test_grep "^crl  *crl.pem  *[0-9][0-9]*  .*in 2[34]h\|^crl  *crl.pem  *[0-9][0-9]* .* in 1d" out &&
	test_must_fail "$MQADMIN" -d pki expiring --json >j &&
	n=$(printf "%d" "$(openssl crl -in pki/crl.pem -noout -crlnumber | cut -d= -f2)") &&
	json_check j "
c=[r for r in j if r[\"kind\"]==\"crl\"]
assert len(c)==1 and c[0][\"name\"]==\"crl.pem\" and c[0][\"serial\"]==\"$n\", c
assert c[0][\"days_left\"] in (0,1)
"
'

test_expect_success 'a CRL signed for 30 days is not listed by expiring' '
	"$MQADMIN" -d pki crl update --passphrase-file pass >/dev/null &&
	{ "$MQADMIN" -d pki expiring --within 365d --json >j || true; } &&
	json_check j "assert not [r for r in j if r[\"kind\"]==\"crl\"], j"
'

test_expect_success 'a CRL past its nextUpdate: doctor says error, expiring lists it as expired' '
	mkdir cadb && : >cadb/index.txt && echo 01 >cadb/crlnumber &&
	printf "[ca]\ndefault_ca = d\n[d]\ndatabase = cadb/index.txt\ndefault_md = sha256\ncrlnumber = cadb/crlnumber\n" >ca.cnf &&
	openssl ca -config ca.cnf -gencrl -keyfile pki/ca.key -passin file:pass -cert pki/ca.crt \
		-crl_lastupdate 20200101000000Z -crl_nextupdate 20200108000000Z -out stale.pem 2>/dev/null &&
	cp pki/crl.pem crl.good && cp stale.pem pki/crl.pem &&
	{ "$MQADMIN" -d pki doctor >doc 2>&1 || true; } &&
	test_grep "^error \[crl-expired\]: CRL pki/crl.pem is past its nextUpdate" doc &&
	test_must_fail "$MQADMIN" -d pki expiring >out &&
	test_grep "^crl  *crl.pem  *1  *2020-01-08T00:00:00Z  *expired" out &&
	cp crl.good pki/crl.pem
'

test_expect_success 'plain mqadmin crl is the same command' '
	"$MQADMIN" -d pki crl --passphrase-file pass >out &&
	test_grep -x "pki/crl.pem" out &&
	"$MQADMIN" crl --help >help &&
	test_grep "The same as .crl update." help &&
	"$MQADMIN" crl update --help >help &&
	test_grep "usage: mqadmin \[-d DIR\] crl update \[--days N\] \[--passphrase-file FILE\]" help
'

test_done
