#!/bin/bash
# mqadmin doctor: a healthy PKI and broker config, then one problem at a time.
. "$(dirname "$0")/../lib.sh"

# The broker user must be able to walk into $TRASH for the access checks.
chmod 755 "$TRASH"
ME=$(id -un)

# sign_with_ca NAME SUBJ DAYS [openssl x509 options...]: a certificate for
# servers/NAME signed by DIR's CA with openssl, outside mqadmin's rules.
sign_with_ca() {
	local name=$1 subj=$2 days=$3
	shift 3
	mkdir -p "pki/servers/$name" &&
	openssl req -new -newkey "${KEYSPEC:-ec:pki/ca.crt}" -nodes \
		-keyout "pki/servers/$name/$name.key" -subj "$subj" -out "$name.csr" 2>/dev/null &&
	chmod 600 "pki/servers/$name/$name.key" &&
	openssl x509 -req -in "$name.csr" -CA pki/ca.crt -CAkey pki/ca.key -set_serial 77 \
		-days "$days" -extfile <(printf 'subjectAltName=DNS:%s\n' "$name") \
		-out "pki/servers/$name/$name.crt" "$@" 2>/dev/null
}

doctor() { "$MQADMIN" -d pki doctor --broker-user "$ME" "$@"; }

test_expect_success 'setup: a CA, a server, a device, the printed broker config' '
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki server issue localhost >/dev/null &&
	"$MQADMIN" -d pki device issue dev1 >/dev/null &&
	"$MQADMIN" -d pki device issue dev2 >/dev/null &&
	"$MQADMIN" -d pki broker-config --crl >good.conf
'

test_expect_success 'healthy DIR and config: exit 0, no problems found' '
	doctor >out &&
	test_grep "^no problems found$" out &&
	doctor --config good.conf --host localhost >out &&
	test_grep "^no problems found$" out &&
	test_grep "good.conf: 1 listener(s)" out &&
	doctor --config good.conf --json >out.json &&
	/usr/bin/python3 -c "import json,sys; d=json.load(open(\"out.json\")); assert d[\"healthy\"] and d[\"findings\"] == [], d"
'

test_expect_success 'a private key readable by others: error with the chmod fix' '
	chmod 644 pki/ca.key &&
	test_must_fail doctor >out &&
	chmod 600 pki/ca.key &&
	test_grep "^error \[key-permissions\]: private key pki/ca.key is readable by every user" out &&
	test_grep "fix: chmod 600 pki/ca.key" out &&
	test_grep "1 error(s), 0 warning(s): not healthy" out &&
	chmod 640 pki/devices/dev1/dev1.key &&
	doctor >out &&
	chmod 600 pki/devices/dev1/dev1.key &&
	test_grep "^warning \[key-permissions\]: private key pki/devices/dev1/dev1.key is readable by its group" out
'

test_expect_success 'the broker user cannot read the server key until it owns it' '
	if ! getent passwd mosquitto >/dev/null || [ "$(id -u)" != 0 ]; then
		echo "skipped: needs root and a mosquitto user"; exit 0
	fi &&
	cp -a pki pki2 &&
	test "$(stat -c %U:%a pki2/servers/localhost/localhost.key)" = mosquitto:600 &&
	chown root pki2/servers/localhost/localhost.key &&
	test_must_fail "$MQADMIN" -d pki2 doctor >out &&
	test_grep "^error \[broker-cannot-read\]: the broker runs as user mosquitto and cannot read server key pki2/servers/localhost/localhost.key" out &&
	test_grep "fix: chown mosquitto pki2/servers/localhost/localhost.key" out &&
	chown mosquitto pki2/servers/localhost/localhost.key &&
	"$MQADMIN" -d pki2 doctor >out &&
	test_grep "no problems found" out &&
	chmod 700 pki2/servers &&
	test_must_fail "$MQADMIN" -d pki2 doctor >out &&
	test_grep "directory $TRASH/pki2/servers/ (mode 700" out &&
	test_grep "fix: chmod o+x $TRASH/pki2/servers/" out
'

test_expect_success 'the broker user may write DIR/audit and nothing else in DIR' '
	if ! getent passwd mosquitto >/dev/null || [ "$(id -u)" != 0 ]; then
		echo "skipped: needs root and a mosquitto user"; exit 0
	fi &&
	test "$(stat -c %U pki/audit)" = mosquitto &&
	test "$(stat -c %U:%a pki)" = root:755 &&
	cp -a pki pki3 &&
	chown mosquitto pki3/servers/localhost/localhost.key &&
	"$MQADMIN" -d pki3 doctor >out &&
	test_grep "no problems found" out &&
	chmod o+w pki3 &&
	test_must_fail "$MQADMIN" -d pki3 doctor >out &&
	test_grep "^error \[dir-writable-by-broker\]: user mosquitto can write pki3: the broker could replace the policy store" out &&
	chmod o-w pki3 && chown root pki3/audit &&
	"$MQADMIN" -d pki3 doctor >out &&
	test_grep "^warning \[audit-dir-not-writable\]: user mosquitto cannot write pki3/audit" out &&
	test_grep "fix: chown mosquitto pki3/audit" out &&
	rmdir pki3/audit &&
	"$MQADMIN" -d pki3 doctor >out &&
	test_grep "^warning \[audit-dir-missing\]" out
'

# bad_conf CHECK SED-EXPRESSION: that change to the good config is an error.
bad_conf() {
	sed "$2" good.conf >bad.conf &&
	test_must_fail doctor --config bad.conf >out &&
	test_grep "^error \[$1\]" out
}

test_expect_success 'use_identity_as_username / use_subject_as_username: error' '
	bad_conf config-identity-as-username "\$a use_identity_as_username true" &&
	test_grep "skips authentication plugins" out &&
	bad_conf config-identity-as-username "\$a use_subject_as_username true"
'

test_expect_success 'tls_version: below 1.2 is an error, unset a warning' '
	bad_conf config-tls-version "s/^tls_version .*/tls_version tlsv1.1/" &&
	test_grep "allows tlsv1.1" out &&
	sed "/^tls_version/d" good.conf >bad.conf &&
	doctor --config bad.conf >out &&
	test_grep "^warning \[config-tls-version\]: .* mosquitto 2.0.11 then also accepts TLS 1.1" out &&
	test_grep "0 error(s), 1 warning(s): healthy" out &&
	test_must_fail doctor --config bad.conf --strict >out &&
	test_grep "0 error(s), 1 warning(s): not healthy" out
'

test_expect_success 'per_listener_settings true: error' '
	bad_conf config-per-listener-settings "s/^per_listener_settings false/per_listener_settings true/" &&
	test_grep "sends the plugin no ticks" out
'

test_expect_success 'no require_certificate, no plugin, another policy, bad plugin option' '
	bad_conf config-no-require-certificate "/^require_certificate/d" &&
	bad_conf config-no-plugin "/^plugin/d" &&
	test_grep "loads no mqcert plugin" out &&
	bad_conf config-policy-mismatch "s|^plugin_opt_store .*|plugin_opt_store $TRASH/elsewhere/store|" &&
	test_grep "plugin_opt_store $TRASH/elsewhere/store (bad.conf:[0-9]*) is not $TRASH/pki/store" out &&
	test_grep "fix: plugin_opt_store $TRASH/pki/store" out &&
	bad_conf config-policy-mismatch "s|^plugin_opt_store .*|plugin_opt_policy $TRASH/other.json|" &&
	test_grep "plugin_opt_policy $TRASH/other.json (bad.conf:[0-9]*) makes the plugin read the policy store $TRASH/store" out &&
	# The old spelling naming this DIR (its policy.json long migrated):
	# the plugin reads this store.
	sed "s|^plugin_opt_store .*|plugin_opt_policy $TRASH/pki/policy.json|" good.conf >old.conf &&
	! test -e pki/policy.json &&
	doctor --config old.conf >out &&
	test_grep ! "config-policy-mismatch\|config-no-policy" out &&
	bad_conf config-no-policy "/^plugin_opt_store/d" &&
	bad_conf config-plugin-option "\$a plugin_opt_identity nosuchfield" &&
	bad_conf config-plugin-option "\$a plugin_opt_frobnicate 1" &&
	test_grep "unknown option plugin_opt_frobnicate" out
'

test_expect_success 'cafile, certfile and keyfile are compared by content' '
	"$MQADMIN" -d other init >/dev/null &&
	"$MQADMIN" -d other server issue localhost >/dev/null &&
	bad_conf config-cafile-mismatch "s|^cafile .*|cafile $TRASH/other/ca.crt|" &&
	bad_conf config-certfile-mismatch "s|^certfile .*|certfile $TRASH/other/servers/localhost/localhost.crt|" &&
	bad_conf config-keyfile-mismatch "s|^keyfile .*|keyfile $TRASH/other/servers/localhost/localhost.key|" &&
	cp pki/ca.crt copy-of-ca.crt &&
	sed "s|^cafile .*|cafile $TRASH/copy-of-ca.crt|" good.conf >ok.conf &&
	doctor --config ok.conf >out &&
	test_grep "no problems found" out
'

test_expect_success 'include_dir: the *.conf files in it are read' '
	mkdir conf.d &&
	echo "use_subject_as_username true" >conf.d/zz.conf &&
	echo "per_listener_settings true" >conf.d/ignored.txt &&
	{ cat good.conf; echo "include_dir $TRASH/conf.d"; } >inc.conf &&
	test_must_fail doctor --config inc.conf >out &&
	test_grep "^error \[config-identity-as-username\]" out &&
	test_grep ! "per-listener-settings" out
'

test_expect_success 'a server certificate with the CA subject (made with openssl)' '
	sign_with_ca twin "/O=mqcert/CN=mqcert CA" 30 &&
	test_must_fail doctor >out &&
	rm -r pki/servers/twin &&
	test_grep "^error \[server-subject-is-ca\]: server certificate pki/servers/twin/twin.crt has the CA.s subject (CN=mqcert CA,O=mqcert)" out &&
	test_grep "fix: mqadmin -d pki server issue twin --force" out
'

test_expect_success 'SHA-1 signature and an RSA 1024 key (made with openssl)' '
	KEYSPEC=rsa:1024 sign_with_ca old /CN=old 30 -sha1 &&
	test_must_fail doctor >out &&
	rm -r pki/servers/old &&
	test_grep "^error \[weak-signature\]: server certificate pki/servers/old/old.crt is signed with ecdsa-with-SHA1; OpenSSL 3 and current TLS clients refuse" out &&
	test_grep "^error \[weak-key\]: server certificate pki/servers/old/old.crt has a weak key (RSA 1024" out
'

test_expect_success 'expired and expiring certificates' '
	sign_with_ca gone /CN=gone -1 &&
	test_must_fail doctor >out &&
	rm -r pki/servers/gone &&
	test_grep "^error \[cert-expired\]: server certificate pki/servers/gone/gone.crt expired" out &&
	doctor --within 400 >out &&
	test_grep "^warning \[cert-expiring\]: device .dev1.: its certificate (serial [0-9a-f]*) expires in 36[45] day(s) (less than 400)" out &&
	test_grep "fix: mqadmin -d pki device renew dev1" out &&
	test_must_fail doctor --within 400 --strict >out &&
	test_grep "cert-expiring" out
'

test_expect_success '--within takes the duration syntax of expiring (hours, days, weeks)' '
	doctor --within 30d >out &&
	test_grep "^no problems found$" out &&
	doctor --within 400d >out &&
	test_grep "expires in 36[45] day(s) (less than 400d)" out &&
	doctor --within 8761h >out &&
	test_grep "^warning \[cert-expiring\]: device .dev1." out &&
	doctor --within 8759h >out &&
	test_grep "^no problems found$" out &&
	doctor --within 60w >out &&
	test_grep "(less than 60w)" out &&
	test_must_fail doctor --within 30x 2>err &&
	test_grep "invalid --within .30x.: use a duration like 30d, 12h, 45m, 90s or 2w" err &&
	test_must_fail doctor --within -1 2>err &&
	test_must_fail doctor --within 36501d 2>err
'

test_expect_success '--user is the deprecated name of --broker-user' '
	"$MQADMIN" -d pki doctor --user "$ME" >out &&
	test_grep "broker user $ME$" out &&
	"$MQADMIN" -d pki doctor --broker-user "$ME" >out2 &&
	test_cmp out out2
'

test_expect_success 'server SANs: --host, IP-only servers (ESP8266)' '
	test_must_fail doctor --host 192.0.2.7 --host localhost >out &&
	test_grep "^error \[server-san-missing-host\]: server certificate pki/servers/localhost/localhost.crt has no SAN for 192.0.2.7" out &&
	test_grep ! "no SAN for localhost" out &&
	test_grep "fix: .*--san IP:192.0.2.7" out &&
	"$MQADMIN" -d pki server issue 192.0.2.7 >/dev/null &&
	doctor >out &&
	test_grep "^warning \[server-ip-san-only\]: .*ESP8266 BearSSL cannot verify IP SANs" out &&
	rm -r pki/servers/192.0.2.7
'

test_expect_success 'policy entries whose certificate file is missing or differs' '
	mv pki/devices/dev1/dev1.crt dev1.crt.saved &&
	doctor >out &&
	test_grep "^warning \[device-cert-missing\]: device .dev1. is in the policy but pki/devices/dev1/dev1.crt is missing" out &&
	cp pki/devices/dev2/dev2.crt pki/devices/dev1/dev1.crt &&
	test_must_fail doctor >out &&
	mv dev1.crt.saved pki/devices/dev1/dev1.crt &&
	test_grep "^error \[device-cert-not-in-policy\]: pki/devices/dev1/dev1.crt" out
'

test_expect_success 'a policy store of an unknown version is named, with the fix' '
	cp -a pki/store store.saved &&
	cat >v2.txt <<-\EOF &&
	VERSION=3
	format=print
	type=btree
	HEADER=END
	 version
	 \00\00\00\00\00\00\00\02
	DATA=END
	EOF
	mdb_load -s meta -f v2.txt pki/store &&
	test_must_fail doctor >out 2>err &&
	rm -r pki/store && mv store.saved pki/store &&
	test_grep "^error \[store-invalid\]: policy store pki/store is version 2; this mqcert reads version 1: upgrade mqcert" out &&
	test_grep "fix: a newer store needs a newer mqcert; otherwise move pki/store aside and restore the last backup: mqadmin -d pki policy import FILE" out &&
	! test_grep "policy-invalid" out
'

test_expect_success 'CRL near nextUpdate is a warning, past it an error (also as crlfile)' '
	"$MQADMIN" -d pki crl --days 1 >/dev/null &&
	doctor >out &&
	test_grep "^warning \[crl-expiring\]: CRL pki/crl.pem reaches its nextUpdate in [01] day(s)" out &&
	test_grep "fix: mqadmin -d pki crl" out &&
	mkdir cadb && : >cadb/index.txt && echo 01 >cadb/crlnumber &&
	printf "[ca]\ndefault_ca = d\n[d]\ndatabase = cadb/index.txt\ndefault_md = sha256\ncrlnumber = cadb/crlnumber\n" >ca.cnf &&
	openssl ca -config ca.cnf -gencrl -keyfile pki/ca.key -cert pki/ca.crt \
		-crl_lastupdate 20200101000000Z -crl_nextupdate 20200108000000Z -out stale.pem 2>/dev/null &&
	cp stale.pem pki/crl.pem &&
	test_must_fail doctor --config good.conf >out &&
	test_grep "^error \[crl-expired\]: CRL pki/crl.pem is past its nextUpdate" out &&
	test_grep "^error \[crl-expired\]: crlfile of listener 8883 (good.conf:[0-9]*) $TRASH/pki/crl.pem is past its nextUpdate" out &&
	test_grep "refuses every client" out &&
	"$MQADMIN" -d pki crl >/dev/null &&
	doctor --config good.conf >out
'

test_expect_success 'the CRL lacks a revoked certificate' '
	"$MQADMIN" -d pki device revoke dev2 >/dev/null &&
	cp pki/crl.pem new.pem &&
	cp stale.pem pki/crl.pem &&
	test_must_fail doctor >out &&
	cp new.pem pki/crl.pem &&
	test_grep "^warning \[crl-outdated\]: pki/crl.pem lacks 1 certificate(s)" out
'

test_expect_success 'JSON: one document with every finding' '
	chmod 644 pki/ca.key &&
	test_must_fail doctor --json >out.json &&
	chmod 600 pki/ca.key &&
	/usr/bin/python3 -c "
import json
d = json.load(open(\"out.json\"))
assert d[\"healthy\"] is False and d[\"errors\"] == 1, d
f = d[\"findings\"][0]
assert f[\"severity\"] == \"error\" and f[\"check\"] == \"key-permissions\", f
assert f[\"fix\"] == \"chmod 600 pki/ca.key\", f
"
'

test_expect_success 'bad input: no DIR, missing config, bad options' '
	test_must_fail "$MQADMIN" -d nosuch doctor 2>err &&
	test_grep "no PKI in nosuch (from -d): No such file or directory" err &&
	mkdir empty &&
	test_must_fail "$MQADMIN" -d empty doctor --broker-user "$ME" >out &&
	test_grep "^error \[ca-missing\]" out &&
	test_grep "fix: create the CA with .mqadmin -d empty init." out &&
	test_must_fail doctor --config nosuch.conf >out &&
	test_grep "^error \[config-unreadable\]: cannot read nosuch.conf" out &&
	test_must_fail doctor --within x 2>err &&
	test_grep "invalid --within" err &&
	test_expect_code 2 doctor --frob 2>err &&
	test_grep "^usage: mqadmin \[-d DIR\] doctor" err &&
	"$MQADMIN" -d pki doctor --broker-user no-such-user-here >out &&
	test_grep "^warning \[no-broker-user\]" out &&
	test_grep "fix: pass --broker-user NAME" out
'

test_done
