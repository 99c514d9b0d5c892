#!/bin/bash
# The O(change) commands (device revoke, cert revoke, device delete, device
# issue's catch-up) sign the CRL from the store's crl index and encode its
# entries themselves; crl update signs it from the whole policy with
# OpenSSL's objects. Both must list the same serials, dates and reasons in
# the same order (docs/STORE.md, "The CRL").
. "$(dirname "$0")/../lib.sh"

# The CRL as text without what differs between two signatures of the same
# content: the dates of issue, the number and the signature.
crl_body() {
	openssl crl -in pki/crl.pem -noout -text |
		/usr/bin/python3 -c '
import sys
skip = False
for line in sys.stdin:
    s = line.strip()
    if s.startswith(("Last Update:", "Next Update:")) or s.startswith("Signature Value"):
        skip = s.startswith("Signature Value")
        continue
    if skip:
        continue
    if s == "X509v3 CRL Number:":
        next(sys.stdin)
        continue
    sys.stdout.write(line)
'
}

# crl.pem as the last command signed it, against crl update's.
same_as_crl_update() {
	openssl crl -in pki/crl.pem -CAfile pki/ca.crt -noout 2>verify &&
	test_grep "verify OK" verify &&
	crl_body >fast &&
	"$MQADMIN" -d pki crl update >/dev/null &&
	crl_body >slow &&
	test_cmp slow fast &&
	test "$(grep -c "Serial Number" fast)" = "$1"
}

serial_of() {
	policy_cat | /usr/bin/python3 -c "
import json, sys
p = json.load(sys.stdin)
print([d for d in p[\"devices\"] if d[\"name\"] == \"$1\"][0][\"certs\"][-1][\"serial\"])"
}

test_expect_success 'setup: devices, one with a retired and one with a leading-zero serial' '
	"$MQADMIN" -d pki init >/dev/null &&
	for d in d1 d2 d3 d4 d5 d6; do "$MQADMIN" -d pki device issue $d >/dev/null || return 1; done &&
	policy_cat >p.json &&
	/usr/bin/python3 -c "
import json
p = json.load(open(\"p.json\"))
d = [d for d in p[\"devices\"] if d[\"name\"] == \"d6\"][0]
old = dict(d[\"certs\"][0])
old.update(serial=\"00\" + \"ab\" * 15, fingerprint=\"f\" * 64, status=\"retired\",
           retired_at=\"2024-03-01T10:00:00Z\", retire_reason=\"renewed\")
d[\"certs\"].insert(0, old)
old2 = dict(old, serial=\"7f\" * 4, fingerprint=\"e\" * 64, retired_at=\"2051-06-01T00:00:00Z\")
d[\"certs\"].insert(0, old2)
json.dump(p, open(\"p.json\", \"w\"))
" &&
	"$MQADMIN" -d pki policy import p.json >/dev/null
'

test_expect_success 'device revoke (reason keyCompromise) signs what crl update signs' '
	"$MQADMIN" -d pki device revoke d1 --reason keyCompromise >/dev/null &&
	same_as_crl_update 3 &&
	test_grep "Key Compromise" fast &&
	test_grep "Superseded" fast
'

test_expect_success 'device revoke without a reason: no reason extension' '
	"$MQADMIN" -d pki device revoke d2 >/dev/null &&
	same_as_crl_update 4
'

test_expect_success 'cert revoke with a free-text reason' '
	"$MQADMIN" -d pki cert revoke "$(serial_of d3)" --reason "lost in transit" >/dev/null &&
	same_as_crl_update 5
'

test_expect_success 'device delete: its certificates stay in the CRL (deleted list)' '
	"$MQADMIN" -d pki device delete d4 >/dev/null &&
	same_as_crl_update 6 &&
	test_grep "Cessation Of Operation" fast
'

test_expect_success 'device delete of a device with a revoked certificate' '
	"$MQADMIN" -d pki device delete d1 >/dev/null &&
	same_as_crl_update 6
'

# What an mqadmin that does not keep the index leaves: crl_seq behind seq
# (and here a bogus entry, serial 0x42, that only a rebuild drops).
test_expect_success 'a store written without the index is rebuilt by the next write' '
	fp=$(printf "%064d" 0) &&
	printf "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n %s\n %s\nDATA=END\n" \
		"$(printf crl_seq | od -An -tx1 | tr -d " \n")" 0000000000000001 >meta.txt &&
	printf "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 0142%s\n 520000000000000000\nDATA=END\n" \
		"$fp" >crl.txt &&
	mdb_load -f meta.txt -s meta pki/store &&
	mdb_load -f crl.txt -s crl pki/store &&
	mdb_dump -s crl pki/store | test_grep "^ 0142" &&
	"$MQADMIN" -d pki device issue d7 >/dev/null &&
	"$MQADMIN" -d pki device revoke d7 >/dev/null &&
	! mdb_dump -s crl pki/store | grep -q "^ 0142" &&
	same_as_crl_update 7 &&
	! grep -q "Serial Number: 42$" fast
'

test_expect_success 'policy import then revoke: the index follows the imported records' '
	policy_cat >all.json &&
	"$MQADMIN" -d pki policy import all.json >/dev/null &&
	"$MQADMIN" -d pki device revoke d5 >/dev/null &&
	same_as_crl_update 8
'

test_done
