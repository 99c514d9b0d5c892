#!/bin/bash
# mqadmin --etcd (issue 17, item 1): two administrators on two "machines"
# (two PKI directories sharing the CA files) write the policy to a real
# etcd; each command is one etcd transaction comparing revisions.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/etcd-lib.sh"

# The local cache of a directory, read without etcd.
cache() { MQADMIN_ETCD= "$MQADMIN" -d "$1" "${@:2}"; }

etcd_start || exit 1

test_expect_success 'setup: admin A with a CA, admin B with the same CA files' '
	"$MQADMIN" -d a init >/dev/null 2>&1 &&
	mkdir b && cp -a a/ca.crt a/ca.key a/crl.pem b/ &&
	for f in a/*; do case $f in a/store|a/devices|a/audit) ;; *) cp -a "$f" b/ ;; esac; done &&
	"$MQADMIN" -d b device list >/dev/null
'

test_expect_success 'two administrators issuing different devices at once: both land' '
	"$MQADMIN" -d a device issue da >/dev/null 2>a.err &
	pa=$!
	"$MQADMIN" -d b device issue db >/dev/null 2>b.err &
	pb=$!
	wait $pa && wait $pb &&
	etcdctl_t get --prefix /mqcert/devices/ --keys-only >keys &&
	test_grep "^/mqcert/devices/da$" keys &&
	test_grep "^/mqcert/devices/db$" keys &&
	"$MQADMIN" -d a device list >la && test_grep "^da " la && test_grep "^db " la &&
	"$MQADMIN" -d b device list >lb && test_grep "^da " lb && test_grep "^db " lb
'

test_expect_success 'the etcd record is the store record (policy.c codec)' '
	etcd_get /mqcert/devices/da >rec &&
	/usr/bin/python3 -c "import json; d=json.load(open(\"rec\")); assert d[\"name\"]==\"da\", d; assert d[\"certs\"][0][\"status\"]==\"active\""
'

test_expect_success 'the same device edited by both: one wins, the other gets the conflict, nothing half-written' '
	rm -f hold &&
	MQADMIN_ETCD_TEST_HOLD=$TRASH/hold "$MQADMIN" -d a device set da --group from-a >a.out 2>a.err &
	pa=$!
	wait_for 20 test -f hold &&
	"$MQADMIN" -d b device set da --group from-b --username da-b &&
	rm -f hold &&
	rc=0 && wait $pa || rc=$? &&
	test $rc = 1 &&
	test_grep "device da was changed in etcd by another administrator (revision [0-9]*) after this command read it; nothing was written; run the command again" a.err &&
	etcd_get /mqcert/devices/da >rec &&
	test_grep "from-b" rec && test_grep ! "from-a" rec &&
	cache a device show da --json >local &&
	test_grep ! "from-a" local &&
	"$MQADMIN" -d a device show da --json >caught &&
	test_grep "from-b" caught && test_grep "da-b" caught
'

test_expect_success 'a device created by both: the second gets the conflict' '
	rm -f hold &&
	MQADMIN_ETCD_TEST_HOLD=$TRASH/hold "$MQADMIN" -d a device issue dup >/dev/null 2>a.err &
	pa=$!
	wait_for 20 test -f hold &&
	"$MQADMIN" -d b device issue dup >/dev/null &&
	rm -f hold &&
	rc=0 && wait $pa || rc=$? &&
	test $rc = 1 &&
	test_grep "device dup was changed in etcd by another administrator" a.err &&
	cache a device list >l && test_grep ! "^dup " l
'

test_expect_success 'a garbage key under devices/ is reported with its key and skipped' '
	etcd_put /mqcert/devices/bad "{\"name\": 42" &&
	"$MQADMIN" -d b device set db --group g2 &&
	"$MQADMIN" -d a device list >l 2>err &&
	test_grep "etcd key /mqcert/devices/bad: .*skipped, not applied" err &&
	test_grep ! "^bad " l && test_grep "^db " l &&
	mkdir c && cp -a b/ca.crt b/ca.key c/ &&
	for f in b/*; do case $f in b/store|b/devices|b/audit) ;; *) cp -a "$f" c/ ;; esac; done &&
	"$MQADMIN" -d c device list >lc 2>errc &&
	test_grep "etcd key /mqcert/devices/bad: .*skipped" errc &&
	test_grep "^da " lc && test_grep ! "^bad " lc &&
	etcdctl_t del /mqcert/devices/bad >/dev/null
'

test_expect_success 'catching up reads only the changed keys (O(change)) at 2,000 devices' '
	"$MQADMIN" -d a policy export >p.json &&
	/usr/bin/python3 - <<-\EOF &&
	import json, hashlib
	p = json.load(open("p.json"))
	t = p["devices"][0]
	for i in range(2000):
	    d = json.loads(json.dumps(t))
	    d["name"] = d["username"] = "bulk%04d" % i
	    c = d["certs"][0]
	    c["fingerprint"] = hashlib.sha256(d["name"].encode()).hexdigest()
	    c["serial"] = hashlib.md5(d["name"].encode()).hexdigest()
	    p["devices"].append(d)
	json.dump(p, open("big.json", "w"))
	EOF
	"$MQADMIN" -d a policy import big.json >/dev/null 2>&1 &&
	test $(etcdctl_t get --prefix /mqcert/devices/ --keys-only | grep -c .) -ge 2000 &&
	MQADMIN_ETCD_DEBUG=1 "$MQADMIN" -d b device list >lb 2>err &&
	test_grep "^bulk1999 " lb &&
	"$MQADMIN" -d a device set bulk0007 --group changed &&
	MQADMIN_ETCD_DEBUG=1 "$MQADMIN" -d b device show bulk0007 >show 2>err &&
	cat err &&
	test_grep "changed" show &&
	n=$(sed -n "s/.*caught up from revision [0-9]* to [0-9]*: \([0-9]*\) key(s) read/\1/p" err) &&
	test -n "$n" && test "$n" -le 4 &&
	MQADMIN_ETCD_DEBUG=1 "$MQADMIN" -d b device show bulk0007 >/dev/null 2>err2 &&
	test_grep ! "caught up" err2
'

test_expect_success 'policy import replaces the fleet: the devices it drops leave etcd' '
	"$MQADMIN" -d a policy export >all.json &&
	/usr/bin/python3 -c "import json; p=json.load(open(\"all.json\")); p[\"devices\"]=[d for d in p[\"devices\"] if not d[\"name\"].startswith(\"bulk\")]; json.dump(p, open(\"small.json\", \"w\"))" &&
	"$MQADMIN" -d a policy import small.json >/dev/null 2>&1 &&
	test $(etcdctl_t get --prefix /mqcert/devices/ --keys-only | grep -c "^/mqcert/devices/bulk") = 0 &&
	etcdctl_t get /mqcert/devices/da --keys-only | grep -q da &&
	"$MQADMIN" -d b device list >lb && test_grep ! "^bulk" lb && test_grep "^da " lb
'

test_expect_success 'a revocation: the device in etcd and the CA-signed CRL as P crl.pem' '
	"$MQADMIN" -d b device revoke db --reason test 2>err && cat err &&
	etcd_get /mqcert/devices/db >rec && test_grep "\"revoked\"" rec &&
	etcd_get /mqcert/crl.pem >crl.pem &&
	openssl crl -in crl.pem -CAfile a/ca.crt -noout -text >crl.txt 2>&1 &&
	cat crl.txt && test_grep "verify OK" crl.txt &&
	serial=$(/usr/bin/python3 -c "import json; print(json.load(open(\"rec\"))[\"certs\"][0][\"serial\"].upper())") &&
	test_grep -i "Serial Number: $serial" crl.txt &&
	test "$(cat crl.pem)" = "$(cat b/crl.pem)" &&
	"$MQADMIN" -d a device show db --json >show && test_grep "\"revoked\"" show &&
	cmp a/crl.pem b/crl.pem
'

test_expect_success 'a CRL in etcd not signed by the CA is refused, the one in place stays' '
	cp a/crl.pem crl.before &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout evil.key \
		-out evil.crt -subj "/O=mqcert/CN=mqcert CA" -days 1 2>/dev/null &&
	printf "[ca]\ndefault_ca=x\n[x]\ndatabase=index.txt\ncrlnumber=num\ndefault_md=sha256\ndefault_crl_days=9\n" >evil.cnf &&
	: >index.txt && echo 99 >num &&
	openssl ca -config evil.cnf -gencrl -keyfile evil.key -cert evil.crt -out evil.pem 2>/dev/null &&
	etcdctl_t put /mqcert/crl.pem <evil.pem >/dev/null &&
	"$MQADMIN" -d b device set db --group after-evil &&
	"$MQADMIN" -d a device list >/dev/null 2>err &&
	test_grep "not signed by the CA of .*a/ca.crt; not installed" err &&
	cmp crl.before a/crl.pem
'

test_expect_success 'after etcd compacted past the cache: a full resync, with a note' '
	"$MQADMIN" -d b device list >/dev/null &&
	"$MQADMIN" -d a device set da --group compact1 &&
	"$MQADMIN" -d a device set da --group compact2 &&
	rev=$(etcdctl_t endpoint status -w json | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)[0][\"Status\"][\"header\"][\"revision\"])") &&
	etcdctl_t compact "$rev" >/dev/null &&
	MQADMIN_ETCD_DEBUG=1 "$MQADMIN" -d b device show da --json >show 2>err &&
	test_grep "etcd compacted its history past this store.s revision" err &&
	test_grep "full resync" err &&
	test_grep compact2 show
'

test_expect_success 'etcd stopped: a change fails clearly (exit 1), nothing written' '
	etcd_stop &&
	cache a device show db --json >before &&
	test_expect_code 1 "$MQADMIN" -d a device set db --group offline 2>err &&
	test_grep "cannot reach etcd at $ETCD_URL" err &&
	test_grep "nothing was written" err &&
	cache a device show db --json >after &&
	test_cmp before after &&
	"$MQADMIN" -d a device list >l 2>err &&
	test_grep "warning: .*cannot reach etcd" err && test_grep "^db " l
'

test_done
