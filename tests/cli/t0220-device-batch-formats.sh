#!/bin/bash
# device batch --format der|p12|c-header: for every device the files device
# issue --format writes (names, modes, contents apart from keys and serials),
# the p12 passphrase read once, CSR lines refused with p12/c-header before
# anything is written, and no half-written device after an error or a signal.
. "$(dirname "$0")/../lib.sh"

ALL="--format der --format p12 --format c-header --p12-passphrase-file pass"

# The files of device $2 in directory $1 with their modes, NAME for the name.
listing() { (cd "$1" && stat -c "%n %a" -- * | sed "s/^$2\./NAME./" | sort); }

# A C header with the device's name, its key and certificate bytes and the
# lengths taken out: what stays must be the same for every device.
header_shape() {
	id=$(printf %s "$2" | tr .- __) && guard=$(printf %s "$id" | tr a-z A-Z) &&
	sed -e "s/$2/NAME/g" -e "s/\b$id\b/ID/g" -e "s/\b${id}_/ID_/g" -e "s/_${guard}_H/_GUARD_H/g" \
		-e '/^\t0x/d' -e '/^\t"[A-Za-z0-9+\/=]*\\n"$/d' -e 's/_len = [0-9]*;/_len = N;/' "$1"
}

# Every device in the policy has all its files, in every format asked for,
# agreeing with its PEM certificate and key; every device directory is in
# the policy. Prints the number of devices.
policy_matches_files() {
	policy_cat "$1" >policy.now &&
	/usr/bin/python3 - "$1" <<-\EOP
	import json, os, subprocess, sys
	pki = sys.argv[1]
	def run(*a):
	    return subprocess.run(a, capture_output=True, check=True).stdout
	p = json.load(open("policy.now"))
	names = {d["name"] for d in p["devices"]}
	dirs = set(os.listdir(pki + "/devices")) if os.path.isdir(pki + "/devices") else set()
	assert names == dirs, sorted(names ^ dirs)
	for n in names:
	    d = f"{pki}/devices/{n}"
	    files = sorted(os.listdir(d))
	    want = sorted([n + ".crt", n + ".key", "ca.crt", n + ".der", n + ".key.der", "ca.der", n + ".p12", n + ".h"])
	    assert files == want, (n, files)
	    crt = open(f"{d}/{n}.crt", "rb").read()
	    assert run("openssl", "x509", "-inform", "DER", "-in", f"{d}/{n}.der") == crt, n
	    assert run("openssl", "pkcs12", "-in", f"{d}/{n}.p12", "-passin", "file:pass", "-nokeys",
	               "-clcerts", "-out", "/dev/stdout").split(b"-----BEGIN")[1] == crt.split(b"-----BEGIN")[1], n
	    assert b"_cert_pem[]" in open(f"{d}/{n}.h", "rb").read(), n
	print(len(names))
	EOP
}

test_expect_success 'setup: device issue writes the reference files' '
	"$MQADMIN" -d pki init >/dev/null &&
	echo "batch pass" >pass &&
	"$MQADMIN" -d pki device issue i-0001 $ALL >/dev/null &&
	"$MQADMIN" -d pki device issue im-1 --format p12 --p12-modern --p12-passphrase-file pass >/dev/null
'

test_expect_success 'der p12 c-header: the files and modes device issue writes' '
	"$MQADMIN" -d pki device batch --count 3 --prefix b- $ALL >out 2>err &&
	printf "%s\n" pki/devices/b-0001 pki/devices/b-0002 pki/devices/b-0003 "issued 3 devices" >expect &&
	test_cmp expect out &&
	test_grep ! "passphrase" out &&
	listing pki/devices/i-0001 i-0001 >expect &&
	test $(wc -l <expect) -eq 8 &&
	for n in b-0001 b-0002 b-0003; do
		listing pki/devices/$n $n >actual && test_cmp expect actual || exit 1
	done
'

test_expect_success 'der: each file parses and equals the PEM one; ca.der is device issue'"'"'s' '
	for n in b-0001 b-0002 b-0003; do
		d=pki/devices/$n &&
		openssl x509 -inform DER -in $d/$n.der >c.pem && cmp c.pem $d/$n.crt &&
		openssl pkey -inform DER -in $d/$n.key.der >k.pem && cmp k.pem $d/$n.key &&
		cmp $d/ca.der pki/devices/i-0001/ca.der || exit 1
	done &&
	openssl x509 -inform DER -in pki/devices/b-0001/ca.der >a.pem && cmp a.pem pki/ca.crt
'

test_expect_success 'p12: opens with the passphrase, same algorithms as device issue, key, cert, CA' '
	openssl pkcs12 -info -noout -in pki/devices/i-0001/i-0001.p12 -passin file:pass >expect 2>&1 &&
	test_grep "^Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048$" expect &&
	for n in b-0001 b-0002 b-0003; do
		d=pki/devices/$n &&
		openssl pkcs12 -info -noout -in $d/$n.p12 -passin file:pass >info 2>&1 &&
		test_cmp expect info &&
		openssl pkcs12 -in $d/$n.p12 -passin file:pass -nokeys -clcerts -out p.pem 2>/dev/null &&
		test_grep "friendlyName: $n$" p.pem &&
		openssl x509 -in p.pem >c.pem && cmp c.pem $d/$n.crt &&
		openssl pkcs12 -in $d/$n.p12 -passin file:pass -nokeys -cacerts 2>/dev/null | openssl x509 >a.pem &&
		cmp a.pem pki/ca.crt &&
		openssl pkcs12 -in $d/$n.p12 -passin file:pass -nocerts -nodes 2>/dev/null | openssl pkey >k.pem &&
		cmp k.pem $d/$n.key || exit 1
	done &&
	echo wrong >wrong &&
	! openssl pkcs12 -info -noout -in pki/devices/b-0002/b-0002.p12 -passin file:wrong 2>/dev/null
'

test_expect_success 'c-header: device issue'"'"'s header apart from name, key and certificate' '
	header_shape pki/devices/i-0001/i-0001.h i-0001 >expect &&
	test_grep "WARNING: THIS FILE CONTAINS THE DEVICE.S PRIVATE KEY" expect &&
	for n in b-0001 b-0002 b-0003; do
		header_shape pki/devices/$n/$n.h $n >actual && test_cmp expect actual || exit 1
	done
'

test_expect_success 'c-header: the three headers compile into one program and hold the files' '
	d=$PWD/pki/devices &&
	cat >main.c <<-EOT &&
	#include <stdio.h>
	#include <string.h>
	#include "b-0001/b-0001.h"
	#include "b-0002/b-0002.h"
	#include "b-0003/b-0003.h"
	static int same(const char *p, const void *d, size_t n) { static unsigned char b[16384]; FILE *f = fopen(p, "rb"); size_t k; if (!f) return 0; k = fread(b, 1, sizeof(b), f); fclose(f); return k == n && memcmp(b, d, n) == 0; }
	#define DEV(id, n) (same("$d/" n "/" n ".der", id##_cert_der, id##_cert_der_len) \\
		&& same("$d/" n "/" n ".key.der", id##_key_der, id##_key_der_len) \\
		&& same("$d/" n "/ca.der", id##_ca_der, id##_ca_der_len) \\
		&& same("$d/" n "/" n ".crt", id##_cert_pem, strlen(id##_cert_pem)) \\
		&& same("$d/" n "/" n ".key", id##_key_pem, strlen(id##_key_pem)) \\
		&& same("$d/" n "/ca.crt", id##_ca_pem, strlen(id##_ca_pem)))
	int main(void) {
		int ok = DEV(b_0001, "b-0001") && DEV(b_0002, "b-0002") && DEV(b_0003, "b-0003");
		puts(ok ? "ok" : "mismatch");
		return !ok;
	}
	EOT
	gcc -std=c99 -Wall -Wextra -Werror -pedantic -I"$d" -o hdr main.c &&
	./hdr >out && echo ok >expect && test_cmp expect out
'

test_expect_success '--p12-modern: the algorithms of device issue --p12-modern' '
	"$MQADMIN" -d pki device batch --count 2 --prefix m- --format p12 --p12-modern \
		--p12-passphrase-file pass >/dev/null 2>&1 &&
	openssl pkcs12 -info -noout -in pki/devices/im-1/im-1.p12 -passin file:pass >expect 2>&1 &&
	test_grep "^MAC: sha256, Iteration 2048$" expect &&
	for n in m-0001 m-0002; do
		openssl pkcs12 -info -noout -in pki/devices/$n/$n.p12 -passin file:pass >info 2>&1 &&
		test_cmp expect info || exit 1
	done &&
	listing pki/devices/im-1 im-1 >expect &&
	listing pki/devices/m-0002 m-0002 >actual && test_cmp expect actual &&
	printf "%s\n" "NAME.crt 644" "NAME.key 600" "NAME.p12 600" "ca.crt 644" >expect &&
	test_cmp expect actual
'

test_expect_success '--format pem is the default files only; der alone adds the three DER files' '
	"$MQADMIN" -d pki device batch --count 1 --prefix p- --format pem >/dev/null 2>&1 &&
	printf "%s\n" "NAME.crt 644" "NAME.key 600" "ca.crt 644" >expect &&
	listing pki/devices/p-0001 p-0001 >actual && test_cmp expect actual &&
	"$MQADMIN" -d pki device batch --count 1 --prefix d- --format der >/dev/null 2>&1 &&
	printf "%s\n" "NAME.crt 644" "NAME.der 644" "NAME.key 600" "NAME.key.der 600" "ca.crt 644" \
		"ca.der 644" >expect &&
	listing pki/devices/d-0001 d-0001 >actual && test_cmp expect actual
'

test_expect_success '--from with a CSR line and --format der: as device issue --csr --format der' '
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout own.key \
		-out own.csr -subj /CN=x 2>/dev/null &&
	"$MQADMIN" -d pki device issue ic --csr own.csr --format der >/dev/null &&
	printf "c-1 csr=own.csr\nc-2\n" >list &&
	"$MQADMIN" -d pki device batch --from list --format der >/dev/null 2>&1 &&
	listing pki/devices/ic ic >expect &&
	listing pki/devices/c-1 c-1 >actual && test_cmp expect actual &&
	printf "%s\n" "NAME.crt 644" "NAME.der 644" "ca.crt 644" "ca.der 644" >expect &&
	test_cmp expect actual &&
	openssl x509 -inform DER -in pki/devices/c-1/c-1.der >c.pem && cmp c.pem pki/devices/c-1/c-1.crt &&
	test -e pki/devices/c-2/c-2.key.der
'

test_expect_success '--from with a CSR line and p12 or c-header: refused, nothing written' '
	policy_cat >before.json &&
	printf "r-1\n# own key:\nr-2 g csr=own.csr\nr-3\n" >list &&
	test_must_fail "$MQADMIN" -d pki device batch --from list --format p12 \
		--p12-passphrase-file pass 2>err &&
	echo "mqadmin: list:3: --format p12 needs the private key, which stays on device '"'"'r-2'"'"' with csr=; use --format pem or der, or issue it in a batch without --format p12" >expect &&
	test_cmp expect err &&
	test_must_fail "$MQADMIN" -d pki device batch --from list --format der --format c-header 2>err &&
	test_grep "^mqadmin: list:3: --format c-header needs the private key, which stays on device .r-2. with csr=" err &&
	policy_cat >before.json.now && cmp before.json before.json.now &&
	! test -e pki/devices/r-1 && ! test -e pki/devices/r-2 && ! test -e pki/devices/r-3
'

test_expect_success 'bad combinations and passphrase files: refused, nothing written' '
	policy_cat >before.json &&
	test_expect_code 2 "$MQADMIN" -d pki device batch --count 2 --prefix x- --format p12 2>err &&
	test_grep "^mqadmin: device batch --format p12 needs --p12-passphrase-file FILE: one passphrase for every device.s p12$" err &&
	test_expect_code 2 "$MQADMIN" -d pki device batch --count 2 --prefix x- --p12-modern 2>err &&
	test_grep "need --format p12" err &&
	test_expect_code 2 "$MQADMIN" -d pki device batch --count 2 --prefix x- --format der \
		--p12-passphrase-file pass 2>err &&
	test_grep "need --format p12" err &&
	test_must_fail "$MQADMIN" -d pki device batch --count 2 --prefix x- --format jks 2>err &&
	test_grep "invalid --format .jks.: use pem, der, p12 or c-header" err &&
	test_must_fail "$MQADMIN" -d pki device batch --count 2 --prefix x- --format p12 \
		--p12-passphrase-file nosuch 2>err &&
	test_grep "cannot read the passphrase: cannot open nosuch" err &&
	: >empty &&
	test_must_fail "$MQADMIN" -d pki device batch --count 2 --prefix x- --format p12 \
		--p12-passphrase-file empty 2>err &&
	test_grep "passphrase file empty is empty" err &&
	policy_cat >before.json.now && cmp before.json before.json.now && ! test -e pki/devices/x-0001
'

test_expect_success 'the p12 passphrase is read once for the whole batch (a pipe works)' '
	mkfifo fifo &&
	{ echo "piped pass" >fifo & wpid=$!; } &&
	test_at_end "kill $wpid 2>/dev/null" &&
	timeout -s KILL 60 "$MQADMIN" -d pki device batch --count 3 --prefix f- --format p12 \
		--p12-passphrase-file fifo >/dev/null 2>err &&
	echo "piped pass" >piped &&
	for n in f-0001 f-0002 f-0003; do
		openssl pkcs12 -info -noout -in pki/devices/$n/$n.p12 -passin file:piped 2>/dev/null || exit 1
	done
'

test_expect_success 'a device failing mid-batch leaves none of its files; the ones before are whole' '
	mkdir -p pki/devices/e-0002/e-0002.p12 &&
	test_must_fail "$MQADMIN" -d pki device batch --count 3 --prefix e- $ALL >out 2>err &&
	test_grep "stopped by the error above: issued 1 of 3 devices" err &&
	echo pki/devices/e-0001 >expect && test_cmp expect out &&
	ls pki/devices/e-0002 >left && echo e-0002.p12 >expect && test_cmp expect left &&
	! test -e pki/devices/e-0003 &&
	listing pki/devices/i-0001 i-0001 >expect &&
	listing pki/devices/e-0001 e-0001 >actual && test_cmp expect actual &&
	"$MQADMIN" -d pki device list --json >j &&
	/usr/bin/python3 -c "import json; n={d[\"name\"] for d in json.load(open(\"j\"))}; assert \"e-0001\" in n and not n & {\"e-0002\", \"e-0003\"}, n"
'

test_expect_success 'SIGINT with every format: each recorded device has all its files' '
	"$MQADMIN" -d int init >/dev/null &&
	{ "$MQADMIN" -d int device batch --count 3000 --prefix s- --key-type rsa $ALL >out 2>err & pid=$!; } &&
	test_at_end "kill $pid 2>/dev/null" &&
	wait_for 60 test -e int/devices/s-0003/s-0003.h &&
	kill -INT $pid &&
	rc=0 && wait $pid || rc=$? &&
	test "$rc" -eq 1 &&
	n=$(policy_matches_files int) &&
	test "$n" -ge 3 && test "$n" -lt 3000 &&
	test_grep "interrupted: issued $n of 3000 devices (all recorded in the policy)" err &&
	test $(wc -l <out) -eq "$n" &&
	! ls int/devices/*/ | grep -q "tmp\|\.new"
'

test_expect_success 'kill -9 with every format: the next write removes the unrecorded files' '
	"$MQADMIN" -d k9 init >/dev/null &&
	{ "$MQADMIN" -d k9 device batch --count 3000 --prefix k- --key-type rsa $ALL >/dev/null 2>&1 & pid=$!; } &&
	test_at_end "kill -9 $pid 2>/dev/null" &&
	wait_for 60 test -e k9/devices/k-0002/k-0002.p12 &&
	kill -9 $pid &&
	rc=0 && wait $pid || rc=$? &&
	test "$rc" -eq 137 &&
	"$MQADMIN" -d k9 device issue after $ALL >/dev/null 2>&1 &&
	"$MQADMIN" -d k9 crl update >/dev/null 2>&1 &&
	test "$(policy_matches_files k9)" -eq 1
'

test_done
