#!/bin/bash
# device issue/renew --format der|p12|c-header.
. "$(dirname "$0")/../lib.sh"

test_expect_success 'setup' '
	"$MQADMIN" -d pki init >/dev/null &&
	echo "s3cret pass" >pass
'

test_expect_success 'issue --format der p12 c-header lists every file, modes exact' '
	"$MQADMIN" -d pki device issue sensor-01.a --format der --format p12 --format c-header >out &&
	d=pki/devices/sensor-01.a &&
	printf "%s\n" $d/sensor-01.a.crt $d/sensor-01.a.key $d/ca.crt $d/sensor-01.a.der \
		$d/sensor-01.a.key.der $d/ca.der $d/sensor-01.a.p12 $d/sensor-01.a.h >expect &&
	sed -n 1,8p out >paths && test_cmp expect paths &&
	test $(wc -l <out) -eq 9 &&
	test_grep "^p12 passphrase (shown once, not stored): [A-Z2-7]\{16\}$" out &&
	sed -n "9s/.*: //p" out >gen.pass &&
	test "$(stat -c %a $d/sensor-01.a.key.der)" = 600 &&
	test "$(stat -c %a $d/sensor-01.a.p12)" = 600 &&
	test "$(stat -c %a $d/sensor-01.a.h)" = 600 &&
	test "$(stat -c %a $d/sensor-01.a.der)" = 644 &&
	test "$(stat -c %a $d/ca.der)" = 644 &&
	! grep -rq "$(cat gen.pass)" pki
'

test_expect_success 'der files parse and equal the PEM ones' '
	d=pki/devices/sensor-01.a &&
	openssl x509 -inform DER -in $d/sensor-01.a.der -outform PEM >c.pem && cmp c.pem $d/sensor-01.a.crt &&
	openssl x509 -inform DER -in $d/ca.der -outform PEM >a.pem && cmp a.pem pki/ca.crt &&
	openssl pkey -inform DER -in $d/sensor-01.a.key.der -outform PEM >k.pem && cmp k.pem $d/sensor-01.a.key
'

test_expect_success 'p12 (default): generated passphrase, 3DES + SHA-1 MAC, key, cert and CA' '
	p12=pki/devices/sensor-01.a/sensor-01.a.p12 &&
	openssl pkcs12 -info -noout -in $p12 -passin file:gen.pass >info 2>&1 &&
	test_grep "^MAC: sha1, Iteration 2048$" info &&
	test_grep "^PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048$" info &&
	test_grep "^Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048$" info &&
	test $(grep -c "^Certificate bag$" info) -eq 2 &&
	openssl pkcs12 -in $p12 -passin file:gen.pass -nokeys -clcerts 2>/dev/null | openssl x509 >c.pem &&
	cmp c.pem pki/devices/sensor-01.a/sensor-01.a.crt &&
	openssl pkcs12 -in $p12 -passin file:gen.pass -nokeys -cacerts 2>/dev/null | openssl x509 >a.pem &&
	cmp a.pem pki/ca.crt &&
	openssl pkcs12 -in $p12 -passin file:gen.pass -nocerts -nodes 2>/dev/null | openssl pkey >k.pem &&
	cmp k.pem pki/devices/sensor-01.a/sensor-01.a.key &&
	echo wrong >wrong.pass && ! openssl pkcs12 -info -noout -in $p12 -passin file:wrong.pass 2>/dev/null
'

test_expect_success 'p12 --p12-modern --p12-passphrase-file: AES-256/PBKDF2, SHA-256 MAC' '
	"$MQADMIN" -d pki device issue m1 --format p12 --p12-modern --p12-passphrase-file pass >out &&
	test_grep ! "passphrase" out &&
	openssl pkcs12 -info -noout -in pki/devices/m1/m1.p12 -passin file:pass >info 2>&1 &&
	test_grep "^MAC: sha256, Iteration 2048$" info &&
	test_grep "^Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256$" info &&
	test_grep "^PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC" info
'

test_expect_success 'the C header compiles; lengths and PEM literals equal the files' '
	d=pki/devices/sensor-01.a && h=$d/sensor-01.a.h &&
	test_grep "WARNING: THIS FILE CONTAINS THE DEVICE.S PRIVATE KEY" $h &&
	test_grep "^#ifndef MQCERT_SENSOR_01_A_H$" $h &&
	cat >main.c <<-EOT &&
	#include <stdio.h>
	#include <string.h>
	#include "sensor-01.a.h"
	#include "sensor-01.a.h"
	static long fsize(const char *p) { FILE *f = fopen(p, "rb"); long n; if (!f) return -1; fseek(f, 0, SEEK_END); n = ftell(f); fclose(f); return n; }
	static int same(const char *p, const char *s) { static char b[16384]; FILE *f = fopen(p, "rb"); size_t n; if (!f) return 0; n = fread(b, 1, sizeof(b) - 1, f); fclose(f); b[n] = 0; return strcmp(b, s) == 0; }
	static int same_der(const char *p, const unsigned char *d, unsigned n) { static unsigned char b[16384]; FILE *f = fopen(p, "rb"); size_t k; if (!f) return 0; k = fread(b, 1, sizeof(b), f); fclose(f); return k == n && memcmp(b, d, n) == 0; }
	int main(void) {
		int ok = sensor_01_a_cert_der_len == fsize("$d/sensor-01.a.der")
			&& sensor_01_a_ca_der_len == fsize("$d/ca.der")
			&& sensor_01_a_key_der_len == fsize("$d/sensor-01.a.key.der")
			&& sizeof(sensor_01_a_cert_der) == sensor_01_a_cert_der_len
			&& same_der("$d/sensor-01.a.der", sensor_01_a_cert_der, sensor_01_a_cert_der_len)
			&& same_der("$d/sensor-01.a.key.der", sensor_01_a_key_der, sensor_01_a_key_der_len)
			&& same("$d/sensor-01.a.crt", sensor_01_a_cert_pem)
			&& same("$d/ca.crt", sensor_01_a_ca_pem)
			&& same("$d/sensor-01.a.key", sensor_01_a_key_pem);
		puts(ok ? "ok" : "mismatch");
		return !ok;
	}
	EOT
	gcc -std=c99 -Wall -Wextra -Werror -pedantic -I$d -o hdr main.c &&
	./hdr >out && echo ok >expect && test_cmp expect out
'

test_expect_success 'a name starting with a digit gets a valid identifier' '
	"$MQADMIN" -d pki device issue 7seg --format c-header >/dev/null &&
	test_grep "^static const unsigned char d_7seg_cert_der\[\] = {$" pki/devices/7seg/7seg.h &&
	printf "#include \"7seg.h\"\nint main(void){return d_7seg_key_der_len == 0;}\n" >m7.c &&
	gcc -std=c99 -Wall -Werror -Ipki/devices/7seg -o m7 m7.c && ./m7
'

test_expect_success '--csr: der without a key; p12 and c-header refused' '
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout own.key \
		-out own.csr -subj /CN=x 2>/dev/null &&
	"$MQADMIN" -d pki device issue c1 --csr own.csr --format der >out &&
	printf "%s\n" pki/devices/c1/c1.crt pki/devices/c1/ca.crt pki/devices/c1/c1.der pki/devices/c1/ca.der >expect &&
	test_cmp expect out && ! test -e pki/devices/c1/c1.key.der &&
	for f in p12 c-header; do
		test_expect_code 2 "$MQADMIN" -d pki device issue c2 --csr own.csr --format $f 2>err &&
		test_grep "format $f needs the private key, which stays on the device with --csr" err || exit 1
	done &&
	! test -e pki/devices/c2
'

test_expect_success 'bad --format and stray p12 options' '
	test_must_fail "$MQADMIN" -d pki device issue x --format jks 2>err &&
	test_grep "invalid --format .jks.: use pem, der, p12 or c-header" err &&
	test_expect_code 2 "$MQADMIN" -d pki device issue x --p12-modern 2>err &&
	test_grep "need --format p12" err &&
	test_must_fail "$MQADMIN" -d pki device issue x --format p12 --p12-passphrase-file nosuch 2>err &&
	test_grep "cannot read the passphrase" err &&
	! test -e pki/devices/x/x.crt
'

test_expect_success 'renew --format rewrites the formats; stale ones are removed' '
	d=pki/devices/sensor-01.a &&
	cp $d/sensor-01.a.h old.h &&
	"$MQADMIN" -d pki device renew sensor-01.a --format p12 --p12-passphrase-file pass >out 2>err &&
	printf "%s\n" $d/sensor-01.a.crt $d/sensor-01.a.key $d/sensor-01.a.p12 >expect &&
	test_cmp expect out &&
	test_grep "removed $d/sensor-01.a.h: it held the replaced certificate" err &&
	! test -e $d/sensor-01.a.h && ! test -e $d/sensor-01.a.der && ! test -e $d/sensor-01.a.key.der &&
	! ls $d | grep -q "\.new" &&
	openssl pkcs12 -in $d/sensor-01.a.p12 -passin file:pass -nokeys -clcerts 2>/dev/null | openssl x509 >c.pem &&
	cmp c.pem $d/sensor-01.a.crt
'

test_expect_success 'no private key is printed' '
	"$MQADMIN" -d pki device issue q1 --format der --format p12 --format c-header >out 2>&1 &&
	test_grep ! "PRIVATE" out && test_grep ! "0x30" out
'

test_done
