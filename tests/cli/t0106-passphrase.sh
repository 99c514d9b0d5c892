#!/bin/bash
# A passphrase-protected CA key.
. "$(dirname "$0")/../lib.sh"

test_expect_success 'setup: init with --passphrase-file encrypts ca.key (PKCS#8, AES-256)' '
	printf "correct horse\n" >pass &&
	printf "wrong\n" >wrong &&
	"$MQADMIN" -d pki init --passphrase-file pass >/dev/null &&
	test "$(stat -c %a pki/ca.key)" = 600 &&
	test_grep "BEGIN ENCRYPTED PRIVATE KEY" pki/ca.key &&
	openssl asn1parse -in pki/ca.key >asn1 &&
	test_grep "PBES2" asn1 && test_grep "aes-256-cbc" asn1 &&
	! openssl pkey -in pki/ca.key -passin pass:wrong -noout 2>/dev/null &&
	openssl pkey -in pki/ca.key -passin "pass:correct horse" -noout
'

test_expect_success 'the trailing newline of the passphrase file is not part of it' '
	printf "correct horse" >pass.nonl &&
	"$MQADMIN" -d pki device issue d0 --passphrase-file pass.nonl >/dev/null
'

test_expect_success 'an empty or missing passphrase file is refused at init' '
	: >empty && printf "\n" >newline &&
	test_must_fail "$MQADMIN" -d p2 init --passphrase-file empty 2>err &&
	test_grep "passphrase file empty is empty" err &&
	test_must_fail "$MQADMIN" -d p2 init --passphrase-file newline 2>err &&
	test_grep "is empty" err &&
	test_must_fail "$MQADMIN" -d p2 init --passphrase-file nosuch 2>err &&
	test_grep "cannot read the passphrase: cannot open nosuch" err &&
	! test -e p2
'

test_expect_success '--passphrase-file on a signing command' '
	"$MQADMIN" -d pki device issue d1 --passphrase-file pass >/dev/null &&
	openssl verify -CAfile pki/ca.crt pki/devices/d1/d1.crt
'

test_expect_success 'MQADMIN_PASSPHRASE_FILE' '
	MQADMIN_PASSPHRASE_FILE=pass "$MQADMIN" -d pki device issue d2 >/dev/null &&
	MQADMIN_PASSPHRASE_FILE=pass "$MQADMIN" -d pki server issue b1 >/dev/null &&
	MQADMIN_PASSPHRASE_FILE=pass "$MQADMIN" -d pki device renew d2 >/dev/null &&
	MQADMIN_PASSPHRASE_FILE=pass "$MQADMIN" -d pki device revoke d2 >/dev/null &&
	MQADMIN_PASSPHRASE_FILE=pass "$MQADMIN" -d pki crl >/dev/null &&
	openssl crl -in pki/crl.pem -CAfile pki/ca.crt -noout
'

test_expect_success 'a wrong passphrase fails clearly and changes nothing' '
	policy_cat >before &&
	test_must_fail "$MQADMIN" -d pki device issue d3 --passphrase-file wrong 2>err &&
	test_grep "cannot decrypt pki/ca.key: wrong passphrase" err &&
	# device revoke goes ahead without the CA key: t0173-revoke-stale-crl.sh
	policy_cat >before.now && cmp before before.now && ! test -e pki/devices/d3
'

test_expect_success 'no passphrase and no terminal: exit 1 saying how to pass one' '
	test_must_fail "$MQADMIN" -d pki device issue d4 </dev/null 2>err &&
	test_grep "ca.key is encrypted: pass --passphrase-file FILE or set MQADMIN_PASSPHRASE_FILE" err &&
	! test -e pki/devices/d4
'

test_expect_success 'on a terminal the passphrase is prompted for' '
	printf "correct horse\n" | timeout 20 script -qec "\"$MQADMIN\" -d pki device issue d5" /dev/null >out &&
	test_grep "Enter CA key passphrase:" out &&
	openssl verify -CAfile pki/ca.crt pki/devices/d5/d5.crt
'

test_expect_success 'commands that do not sign need no passphrase' '
	"$MQADMIN" -d pki device list </dev/null >out &&
	test_grep "^d1 " out
'

test_expect_success 'an unencrypted CA ignores a given passphrase file' '
	"$MQADMIN" -d plain init >/dev/null &&
	"$MQADMIN" -d plain device issue x --passphrase-file pass >/dev/null
'

test_done
