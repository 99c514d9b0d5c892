#!/bin/bash
# --san on device issue, renew and batch; a CSR's SANs; the SANs in the
# policy; doctor --config with plugin_opt_identity san-*.
. "$(dirname "$0")/../lib.sh"

chmod 755 "$TRASH"
ME=$(id -un)

policy_py() { policy_cat >policy.now && /usr/bin/python3 -c "import json,sys; p=json.load(open(\"policy.now\")); d={x[\"name\"]: x for x in p[\"devices\"]}; $1"; }
san_of() { openssl x509 -in "pki/devices/$1/$1.crt" -noout -ext subjectAltName | sed 1d | sed "s/^ *//"; }
snapshot() { policy_cat >policy.before && ls pki/devices >devices.before; }
unchanged() { policy_cat >policy.before.now && cmp policy.before policy.before.now && ls pki/devices >devices.after && test_cmp devices.before devices.after; }

test_expect_success 'setup' '
	"$MQADMIN" -d pki init >/dev/null &&
	"$MQADMIN" -d pki server issue localhost >/dev/null
'

test_expect_success 'device issue --san: DNS, email and URI in the certificate and the policy' '
	"$MQADMIN" -d pki device issue s1 --san DNS:s1.devices.example --san Email:s1@example.com \
		--san uri:urn:dev:s1 >out &&
	printf "%s\n" pki/devices/s1/s1.crt pki/devices/s1/s1.key pki/devices/s1/ca.crt >expect &&
	test_cmp expect out &&
	openssl x509 -in pki/devices/s1/s1.crt -noout -text >text &&
	test_grep -A1 "X509v3 Subject Alternative Name:" text &&
	test_grep "DNS:s1.devices.example, email:s1@example.com, URI:urn:dev:s1$" text &&
	test_grep "Subject: CN = s1" text &&
	policy_py "sys.exit(d[\"s1\"][\"certs\"][0][\"san\"] != [\"DNS:s1.devices.example\", \"email:s1@example.com\", \"URI:urn:dev:s1\"])" &&
	openssl verify -CAfile pki/ca.crt -purpose sslclient pki/devices/s1/s1.crt
'

test_expect_success 'without --san: no SAN in the certificate and no "san" in the policy' '
	"$MQADMIN" -d pki device issue plain >/dev/null &&
	openssl x509 -in pki/devices/plain/plain.crt -noout -text >text &&
	test_grep ! "Subject Alternative Name" text &&
	policy_py "sys.exit(\"san\" in d[\"plain\"][\"certs\"][0])"
'

test_expect_success 'bad --san values are refused with the reason, nothing written' '
	snapshot &&
	check() {
		test_expect_code 1 "$MQADMIN" -d pki device issue bad --san "$1" 2>err &&
		test_grep -F -- "$2" err || { cat err; return 1; }
	} &&
	check IP:10.0.0.1 "invalid --san '"'"'IP:10.0.0.1'"'"': IP SANs are for servers only ('"'"'mqadmin server issue --san IP:...'"'"'); a device takes DNS:, email: or URI:" &&
	check URI:https://example.com/dev "holds '"'"'/'"'"', '"'"'+'"'"' or '"'"'#'"'"': plugin_opt_identity san-* refuses such an identity" &&
	check email:a+b@example.com "plugin_opt_identity san-* refuses such an identity" &&
	check "DNS:a#b" "plugin_opt_identity san-* refuses such an identity" &&
	check "DNS:a$(printf "\001")b" "holds a space, a control or a non-ASCII character (a SAN is ASCII)" &&
	check "DNS:a b" "holds a space, a control or a non-ASCII character" &&
	check "DNS:$(printf "\303\251")t" "holds a space, a control or a non-ASCII character" &&
	check "DNS:a,DNS:b" "holds '"'"','"'"', which mqadmin does not put into a SAN" &&
	check "DNS:*.example.com" "not a host name: labels of A-Za-z0-9-" &&
	check "DNS:-a.example" "not a host name" &&
	check "email:nobody" "not an email address" &&
	check "email:copy" "not an email address" &&
	check "URI:nocolon" "not a URI without" &&
	check "DNS:" "the value is empty" &&
	check "RID:1.2.3" "use DNS:name, email:address or URI:uri" &&
	check "DNS:$(printf "a%.0s" $(seq 256))" "longer than 255 characters" &&
	test_expect_code 1 "$MQADMIN" -d pki device issue bad --san DNS:x.example --san dns:x.example 2>err &&
	test_grep "^mqadmin: --san .dns:x.example. is given twice" err &&
	args=$(for i in $(seq 17); do printf -- "--san DNS:h%d.example " $i; done) &&
	test_expect_code 1 "$MQADMIN" -d pki device issue bad $args 2>err &&
	test_grep "too many SANs: at most 16" err &&
	unchanged
'

test_expect_success 'renew keeps the SANs; --san replaces them; --no-san drops them' '
	"$MQADMIN" -d pki device renew s1 >/dev/null &&
	test "$(san_of s1)" = "DNS:s1.devices.example, email:s1@example.com, URI:urn:dev:s1" &&
	policy_py "sys.exit(d[\"s1\"][\"certs\"][1][\"san\"] != d[\"s1\"][\"certs\"][0][\"san\"])" &&
	"$MQADMIN" -d pki device renew s1 --san DNS:s1.new.example >/dev/null &&
	test "$(san_of s1)" = "DNS:s1.new.example" &&
	"$MQADMIN" -d pki device renew s1 >/dev/null &&
	test "$(san_of s1)" = "DNS:s1.new.example" &&
	"$MQADMIN" -d pki device renew s1 --no-san >/dev/null &&
	openssl x509 -in pki/devices/s1/s1.crt -noout -text >text &&
	test_grep ! "Subject Alternative Name" text &&
	policy_py "sys.exit(\"san\" in d[\"s1\"][\"certs\"][4] or len(d[\"s1\"][\"certs\"]) != 5)"
'

test_expect_success 'renew: --san and --no-san together is a usage error; a bad --san writes nothing' '
	snapshot &&
	test_expect_code 2 "$MQADMIN" -d pki device renew plain --san DNS:x.example --no-san 2>err &&
	test_grep "san and --no-san exclude each other" err &&
	test_expect_code 1 "$MQADMIN" -d pki device renew plain --san IP:1.2.3.4 2>err &&
	test_grep "IP SANs are for servers only" err &&
	unchanged
'

make_csr() { # make_csr NAME EXT...
	local n=$1
	shift
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$n.key" \
		-out "$n.csr" -subj "/CN=$n" "$@" 2>/dev/null
}

test_expect_success '--csr: the CSR DNS/email/URI SANs are honoured, CA:TRUE is not copied' '
	make_csr c1 -addext "subjectAltName=DNS:c1.example,email:c1@example.com" \
		-addext "basicConstraints=critical,CA:TRUE" &&
	"$MQADMIN" -d pki device issue c1 --csr c1.csr >out 2>err &&
	test_grep "^mqadmin: note: c1: the certificate carries the CSR.s SANs DNS:c1.example,email:c1@example.com (--san replaces them)" err &&
	test "$(san_of c1)" = "DNS:c1.example, email:c1@example.com" &&
	openssl x509 -in pki/devices/c1/c1.crt -noout -text >text &&
	test_grep "CA:FALSE" text &&
	test_grep ! "CA:TRUE" text &&
	policy_py "sys.exit(d[\"c1\"][\"certs\"][0][\"san\"] != [\"DNS:c1.example\", \"email:c1@example.com\"])"
'

test_expect_success '--csr: an IP or unsafe SAN in the CSR is refused (nothing written); --san overrides' '
	snapshot &&
	make_csr c2 -addext "subjectAltName=DNS:c2.example,IP:10.0.0.2" &&
	test_expect_code 1 "$MQADMIN" -d pki device issue c2 --csr c2.csr 2>err &&
	test_grep "c2.csr requests a SAN that is not DNS:, email: or URI: (IP or other): give the device.s SANs with --san" err &&
	make_csr c3 -addext "subjectAltName=URI:https://example.com/c3" &&
	test_expect_code 1 "$MQADMIN" -d pki device issue c3 --csr c3.csr 2>err &&
	test_grep "invalid SAN requested by c3.csr .URI:https://example.com/c3.: holds ./., .+. or .#." err &&
	test_grep "give the device.s SANs with --san (the CSR.s are then ignored)" err &&
	unchanged &&
	"$MQADMIN" -d pki device issue c2 --csr c2.csr --san DNS:c2.devices.example >out 2>err &&
	test_grep "note: c2: the CSR.s SANs are ignored; the certificate carries --san.s" err &&
	test "$(san_of c2)" = "DNS:c2.devices.example"
'

test_expect_success 'renew --csr keeps the device SANs, not the CSR ones' '
	make_csr c1b -addext "subjectAltName=DNS:other.example" &&
	"$MQADMIN" -d pki device renew c1 --csr c1b.csr >out 2>err &&
	test_grep "the CSR.s SANs are ignored: a renewed device keeps its SANs (DNS:c1.example,email:c1@example.com)" err &&
	test "$(san_of c1)" = "DNS:c1.example, email:c1@example.com"
'

test_expect_success 'batch --san with {name}' '
	"$MQADMIN" -d pki device batch --count 2 --prefix node- --san "DNS:{name}.devices.example" \
		--san "URI:urn:dev:{name}" >out 2>/dev/null &&
	test "$(san_of node-0001)" = "DNS:node-0001.devices.example, URI:urn:dev:node-0001" &&
	test "$(san_of node-0002)" = "DNS:node-0002.devices.example, URI:urn:dev:node-0002" &&
	policy_py "sys.exit(d[\"node-0002\"][\"certs\"][0][\"san\"] != [\"DNS:node-0002.devices.example\", \"URI:urn:dev:node-0002\"])"
'

test_expect_success 'batch --from: a line with san= replaces the --san templates' '
	cat >list.txt <<-EOF &&
	k1 g1 san=DNS:k1.home.example san=email:k1@example.com
	k2
	k3 csr=c9.csr
	EOF
	make_csr c9 -addext "subjectAltName=DNS:asked.example" &&
	"$MQADMIN" -d pki device batch --from list.txt --san "DNS:{name}.fleet.example" >out 2>err &&
	test "$(san_of k1)" = "DNS:k1.home.example, email:k1@example.com" &&
	test "$(san_of k2)" = "DNS:k2.fleet.example" &&
	test "$(san_of k3)" = "DNS:k3.fleet.example" &&
	policy_py "sys.exit(d[\"k1\"][\"groups\"] != [\"g1\"])"
'

test_expect_success 'batch: bad SANs are refused before the first key, nothing written' '
	snapshot &&
	test_expect_code 1 "$MQADMIN" -d pki device batch --count 2 --prefix n_ --san "DNS:{name}.example" 2>err &&
	test_grep "invalid SAN of device .n_0001. .DNS:n_0001.example.: not a host name" err &&
	test_expect_code 1 "$MQADMIN" -d pki device batch --count 2 --prefix m --san "DNS:{Name}.example" 2>err &&
	test_grep "invalid --san .DNS:{Name}.example.: the only placeholder is {name}" err &&
	printf "ok1\nok2 san=IP:10.0.0.1\n" >bad.txt &&
	test_expect_code 1 "$MQADMIN" -d pki device batch --from bad.txt 2>err &&
	test_grep "invalid SAN of device .ok2. (bad.txt:2) .IP:10.0.0.1.: IP SANs are for servers only" err &&
	unchanged
'

test_expect_success 'a hand-edited policy with a bad san is refused with its place' '
	policy_cat >good.json &&
	policy_cat >edit.json && /usr/bin/python3 -c "import json; p=json.load(open(\"edit.json\")); [d for d in p[\"devices\"] if d[\"name\"]==\"s1\"][0][\"certs\"][0][\"san\"]=[\"URI:http://x/y\"]; json.dump(p, open(\"edit.json\", \"w\"))" &&
	test_must_fail "$MQADMIN" -d pki policy import edit.json 2>err &&
	test_grep "device .s1. certificate 0: san .URI:http://x/y.: holds ./., .+. or .#." err &&
	cp good.json pki/policy.json
'

doctor() { "$MQADMIN" -d "$1" doctor --user "$ME" --config "$2"; }

test_expect_success 'doctor --config: san-dns that no active device satisfies is an error with the fix' '
	"$MQADMIN" -d p2 init >/dev/null && "$MQADMIN" -d p2 server issue localhost >/dev/null &&
	"$MQADMIN" -d p2 device issue a >/dev/null && "$MQADMIN" -d p2 device issue b >/dev/null &&
	"$MQADMIN" -d p2 broker-config >good.conf &&
	doctor p2 good.conf >out &&
	test_grep "^no problems found$" out &&
	{ cat good.conf && echo "plugin_opt_identity san-dns"; } >dns.conf &&
	test_expect_code 1 doctor p2 dns.conf >out &&
	test_grep "^error \[config-identity-san\]: the mqcert plugin (dns.conf:[0-9]*) takes the identity from plugin_opt_identity san-dns, but no active device has a DNS SAN: the broker refuses every device on every listener$" out &&
	test_grep "^  fix: mqadmin -d p2 device renew a --san DNS:a.devices.example (device batch takes --san with {name}), or plugin_opt_identity cn$" out
'

test_expect_success 'doctor --config: some devices without it is a warning; all with it is healthy' '
	"$MQADMIN" -d p2 device renew a --san DNS:a.devices.example >/dev/null &&
	doctor p2 dns.conf >out &&
	test_grep "^warning \[config-identity-san\]: .* plugin_opt_identity san-dns, but 1 of 2 active devices lack a DNS SAN (first .b.): the broker refuses them$" out &&
	test_grep "fix: mqadmin -d p2 device renew b --san DNS:b.devices.example" out &&
	"$MQADMIN" -d p2 device renew b --san DNS:b.devices.example >/dev/null &&
	doctor p2 dns.conf >out &&
	test_grep "^no problems found$" out &&
	sed "s/san-dns/san-email/" dns.conf >mail.conf &&
	test_expect_code 1 doctor p2 mail.conf >out &&
	test_grep "no active device has an email SAN" out &&
	test_grep "fix: mqadmin -d p2 device renew a --san email:a@example.com" out
'

test_done
