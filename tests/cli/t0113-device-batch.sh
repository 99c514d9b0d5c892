#!/bin/bash
# mqadmin device batch: one lock, one policy write, interruptible.
. "$(dirname "$0")/../lib.sh"

json_check() { /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); $2" "$1"; }
generation() { policy_cat | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['generation'])"; }

# Every device in the policy has its complete files (and its cert's
# fingerprint is the policy's), and every device directory is in the policy.
policy_matches_files() {
	policy_cat "$1" >policy.now &&
	/usr/bin/python3 - "$1" <<-\EOP
	import json, os, subprocess, sys
	pki = sys.argv[1]
	p = json.load(open("policy.now"))
	names = {d["name"] for d in p["devices"]}
	dirs = set(os.listdir(pki + "/devices")) if os.path.isdir(pki + "/devices") else set()
	assert names == dirs, (sorted(names ^ dirs))
	for d in p["devices"]:
	    n = d["name"]; base = f"{pki}/devices/{n}/{n}"
	    for f in (base + ".crt", base + ".key", f"{pki}/devices/{n}/ca.crt"):
	        assert os.path.getsize(f) > 0, f
	    out = subprocess.run(["openssl", "x509", "-in", base + ".crt", "-noout", "-fingerprint", "-sha256"],
	                         capture_output=True, text=True, check=True).stdout
	    fpr = out.split("=")[1].strip().replace(":", "").lower()
	    assert fpr == d["certs"][-1]["fingerprint"], n
	print(len(names))
	EOP
}

test_expect_success 'setup' '
	"$MQADMIN" -d pki init >/dev/null
'

test_expect_success '--count 50: P0001..P0050, one policy write, progress lines' '
	g0=$(generation) &&
	"$MQADMIN" -d pki device batch --count 50 --prefix node- --group fleet --days 30 >out 2>err &&
	for i in $(seq -f %04g 1 50); do echo pki/devices/node-$i; done >expect &&
	echo "issued 50 devices" >>expect &&
	test_cmp expect out &&
	echo "issued 50/50" >expect && test_cmp expect err &&
	test $(generation) -eq $((g0 + 1)) &&
	test "$(policy_matches_files pki)" = 50 &&
	"$MQADMIN" -d pki device show node-0050 --json >j &&
	json_check j "assert j[\"groups\"]==[\"fleet\"] and j[\"days_left\"] in (29,30)" &&
	openssl verify -CAfile pki/ca.crt pki/devices/node-0001/node-0001.crt
'

test_expect_success 'a name that exists: nothing is issued' '
	policy_cat >before.json &&
	test_must_fail "$MQADMIN" -d pki device batch --count 60 --prefix node- 2>err &&
	test_grep "device .node-0001. already exists; nothing was issued" err &&
	policy_cat >before.json.now && cmp before.json before.json.now && ! test -e pki/devices/node-0051
'

test_expect_success '--from: groups, a CSR, comments and blank lines' '
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout own.key \
		-out own.csr -subj /CN=ignored 2>/dev/null &&
	cat >list <<-\EOT &&
	# kitchen
	kit-1 sensors,kitchen

	  kit-2	csr=own.csr   sensors # brings its own key
	kit-3
	EOT
	"$MQADMIN" -d pki device batch --from list --group home >out 2>err &&
	printf "%s\n" pki/devices/kit-1 pki/devices/kit-2 pki/devices/kit-3 "issued 3 devices" >expect &&
	test_cmp expect out &&
	"$MQADMIN" -d pki device list --json >j &&
	json_check j "
g={d[\"name\"]: d[\"groups\"] for d in j}
assert g[\"kit-1\"]==[\"home\",\"sensors\",\"kitchen\"], g
assert g[\"kit-2\"]==[\"home\",\"sensors\"] and g[\"kit-3\"]==[\"home\"], g
" &&
	! test -e pki/devices/kit-2/kit-2.key &&
	openssl pkey -in own.key -pubout >k.pub &&
	openssl x509 -in pki/devices/kit-2/kit-2.crt -pubkey -noout >c.pub && cmp k.pub c.pub
'

test_expect_success '--from: a bad line names its number; nothing is written' '
	policy_cat >before.json &&
	printf "new-1\n# ok\nnew-2 a/b\n" >bad &&
	test_must_fail "$MQADMIN" -d pki device batch --from bad 2>err &&
	echo "mqadmin: bad:3: invalid group name '"'"'a/b'"'"': use 1-64 characters of A-Za-z0-9._-" >expect &&
	test_cmp expect err &&
	printf "new-1\nx+y\n" >bad &&
	test_must_fail "$MQADMIN" -d pki device batch --from bad 2>err &&
	test_grep "^mqadmin: bad:2: invalid device name .x+y." err &&
	printf "new-1 g csr=a.csr extra\n" >bad &&
	test_must_fail "$MQADMIN" -d pki device batch --from bad 2>err &&
	test_grep "bad:1: unexpected .extra." err &&
	printf "new-1\nnew-1\n" >bad &&
	test_must_fail "$MQADMIN" -d pki device batch --from bad 2>err &&
	test_grep "device .new-1. is listed twice; nothing was issued" err &&
	printf "# nothing\n\n" >bad &&
	test_must_fail "$MQADMIN" -d pki device batch --from bad 2>err &&
	test_grep "lists no devices" err &&
	policy_cat >before.json.now && cmp before.json before.json.now && ! test -e pki/devices/new-1
'

test_expect_success 'usage errors' '
	test_expect_code 2 "$MQADMIN" -d pki device batch --count 3 2>err &&
	test_grep "give --count N and --prefix P, or --from FILE" err &&
	test_expect_code 2 "$MQADMIN" -d pki device batch --from list --count 3 --prefix x 2>err &&
	test_grep "excludes" err &&
	test_must_fail "$MQADMIN" -d pki device batch --count 0 --prefix x 2>err &&
	test_grep "invalid --count" err &&
	test_must_fail "$MQADMIN" -d pki device batch --count 2 --prefix "a/" 2>err &&
	test_grep "invalid --prefix .a/." err
'

test_expect_success 'SIGINT: stops after the current device; policy and files agree' '
	"$MQADMIN" -d int init >/dev/null &&
	{ "$MQADMIN" -d int device batch --count 3000 --prefix slow- --key-type rsa >out 2>err & pid=$!; } &&
	test_at_end "kill $pid" &&
	wait_for 60 test -e int/devices/slow-0003/slow-0003.crt &&
	kill -INT $pid &&
	rc=0 && wait $pid || rc=$? &&
	test "$rc" -eq 1 &&
	n=$(policy_matches_files int) &&
	test "$n" -ge 3 && test "$n" -lt 3000 &&
	test_grep "interrupted: issued $n of 3000 devices (all recorded in the policy)" err &&
	test $(wc -l <out) -eq "$n" &&
	! ls int/devices/*/ | grep -q "tmp\|\.new"
'

test_expect_success 'SIGTERM works the same; the DIR is usable afterwards' '
	{ "$MQADMIN" -d int device batch --count 3000 --prefix term- --key-type rsa >out 2>err & pid=$!; } &&
	test_at_end "kill $pid" &&
	wait_for 60 test -e int/devices/term-0002/term-0002.crt &&
	kill -TERM $pid &&
	rc=0 && wait $pid || rc=$? &&
	test "$rc" -eq 1 &&
	policy_matches_files int >/dev/null &&
	test_grep "interrupted: issued" err &&
	"$MQADMIN" -d int device issue after >/dev/null
'

test_done
