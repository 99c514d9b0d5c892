#!/bin/bash
# Adopting a CA, importing device certificates and an acl_file: every bad
# input is refused with a reason and changes nothing.
. "$(dirname "$0")/../lib.sh"

snap() { (cd "$1" && find . -type f ! -name .lock ! -name lock.mdb -exec sha256sum {} + | sort); }

# cert NAME CA DAYS [openssl x509 options]: a client certificate signed by CA.
cert() {
	local n=$1 ca=$2 days=$3
	shift 3
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key \
		-subj "/CN=$n" -out $n.csr 2>/dev/null &&
	openssl x509 -req -in $n.csr -CA $ca.crt -CAkey $ca.key -CAcreateserial -days $days \
		"$@" -out $n.crt 2>/dev/null
}

# dated CAKEY CACRT|-selfsign CSR OUT START END EXT: a certificate with given
# dates (openssl 3.0's req and x509 cannot set them; openssl ca can).
dated() {
	local cert=(-cert "$2")
	[ "$2" = -selfsign ] && cert=(-selfsign)
	mkdir -p cadb && touch cadb/index.txt && { [ -e cadb/serial ] || echo 01 >cadb/serial; } &&
	cat >ca.cnf <<-\EOF &&
	[ca]
	default_ca = d
	[d]
	database = cadb/index.txt
	new_certs_dir = cadb
	serial = cadb/serial
	default_md = sha256
	policy = p
	unique_subject = no
	[p]
	commonName = supplied
	[v3ca]
	basicConstraints = critical,CA:TRUE
	[usr]
	basicConstraints = CA:FALSE
	EOF
	openssl ca -batch -config ca.cnf -keyfile "$1" "${cert[@]}" -in "$3" -out "$4" \
		-startdate "$5" -enddate "$6" -extensions "$7" -notext 2>/dev/null
}

test_expect_success 'setup: CAs as the common recipes make them' '
	openssl req -newkey rsa:2048 -x509 -nodes -sha256 -days 3650 -extensions v3_ca \
		-keyout ot.key -out ot.crt -subj "/CN=An MQTT broker/O=OwnTracks.org" 2>/dev/null &&
	openssl genrsa -aes256 -passout pass:s3cret -out enc.key 2048 2>/dev/null &&
	openssl req -x509 -new -key enc.key -passin pass:s3cret -days 30 -subj /CN=enc \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		-out enc.crt 2>/dev/null &&
	echo s3cret >pass && echo wrong >badpass &&
	openssl req -x509 -new -key ot.key -days 30 -subj /CN=srv -addext basicConstraints=CA:FALSE \
		-out srv.crt 2>/dev/null &&
	openssl req -x509 -new -key ot.key -days 30 -subj /CN=nosign \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,digitalSignature \
		-out nosign.crt 2>/dev/null &&
	openssl req -new -key ot.key -subj /CN=old -out old.csr &&
	dated ot.key -selfsign old.csr old.crt 20200101000000Z 20210101000000Z v3ca
'

test_expect_success 'init adopts an OwnTracks-style CA: key copied 0600, never printed' '
	"$MQADMIN" -d pki init --ca-cert ot.crt --ca-key ot.key --no-default >out 2>err &&
	printf "%s\n" pki/ca.crt pki/ca.key pki/store pki/crl.pem >expect &&
	test_cmp expect out &&
	test_grep ! "PRIVATE" out err &&
	test "$(stat -c %a pki/ca.key)" = 600 &&
	cmp ot.crt pki/ca.crt &&
	openssl crl -in pki/crl.pem -noout -verify -CAfile ot.crt 2>&1 | grep -q "verify OK" &&
	"$MQADMIN" -d pki device issue native >/dev/null &&
	openssl verify -CAfile ot.crt pki/devices/native/native.crt
'

test_expect_success 'init adopts an encrypted key with --passphrase-file; it stays encrypted' '
	"$MQADMIN" -d encpki init --ca-cert enc.crt --ca-key enc.key --passphrase-file pass \
		--no-default >/dev/null &&
	test_grep "BEGIN ENCRYPTED PRIVATE KEY" encpki/ca.key &&
	"$MQADMIN" -d encpki device issue e1 --days 10 --passphrase-file pass >/dev/null
'

refused() { # DIR ARGS...: init must fail and create nothing
	local d=$1
	shift
	test_must_fail "$MQADMIN" -d $d init "$@" --no-default 2>err &&
	test ! -e $d
}

test_expect_success 'init refuses what is not a usable CA, writing nothing' '
	refused x1 --ca-cert srv.crt --ca-key ot.key &&
	test_grep "srv.crt is not a CA certificate (no basicConstraints CA:TRUE)" err &&
	refused x2 --ca-cert nosign.crt --ca-key ot.key &&
	test_grep "may not sign certificates: its keyUsage lacks keyCertSign" err &&
	refused x3 --ca-cert old.crt --ca-key ot.key &&
	test_grep "old.crt is expired on 2021-01-01T00:00:00Z" err &&
	refused x4 --ca-cert ot.crt --ca-key enc.key --passphrase-file pass &&
	test_grep "does not belong to --ca-cert ot.crt" err &&
	refused x5 --ca-cert enc.crt --ca-key enc.key &&
	test_grep "is encrypted: pass --passphrase-file FILE" err &&
	refused x6 --ca-cert enc.crt --ca-key enc.key --passphrase-file badpass &&
	test_grep "wrong passphrase" err &&
	refused x7 --ca-cert ot.key --ca-key ot.key &&
	test_grep "cannot read the CA certificate ot.key" err &&
	refused x8 --ca-cert ot.crt --ca-key nosuch &&
	test_grep "nosuch" err
'

test_expect_success 'init: adoption options are checked (exit 2)' '
	test_expect_code 2 "$MQADMIN" -d x init --ca-cert ot.crt 2>err &&
	test_grep "go together" err &&
	test_expect_code 2 "$MQADMIN" -d x init --ca-cert ot.crt --ca-key ot.key --cn X 2>err &&
	test_grep "an adopted CA keeps its own" err &&
	test_expect_code 1 "$MQADMIN" -d pki init --ca-cert ot.crt --ca-key ot.key 2>err &&
	test_grep "ca.crt already exists" err
'

test_expect_success 'setup: certificates from the adopted CA and from others' '
	cert d1 ot 30 && cert d2 ot 30 && cert d3 ot 30 &&
	cert foreign enc 10 -passin pass:s3cret &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout gone.key \
		-subj /CN=gone -out gone.csr 2>/dev/null &&
	dated ot.key ot.crt gone.csr gone.crt 20200101000000Z 20200201000000Z usr &&
	openssl x509 -in d3.crt -outform DER -out d3.der
'

test_expect_success 'device import: all or nothing, a reason per refused file' '
	snap pki >before &&
	test_must_fail "$MQADMIN" -d pki device import d1.crt foreign.crt gone.crt d1.crt ot.crt \
		nosuch.crt ot.key 2>err &&
	test_grep "foreign.crt: refused: not signed by this CA" err &&
	test_grep "gone.crt: refused: expired on 2020-02-01T00:00:00Z" err &&
	test_grep "d1.crt: refused: the same certificate as d1.crt" err &&
	test_grep "ot.crt: refused: a CA certificate" err &&
	test_grep "nosuch.crt" err &&
	test_grep "ot.key holds no certificate" err &&
	test_grep "6 of 7 certificate(s) refused: nothing imported" err &&
	snap pki >after && test_cmp before after
'

test_expect_success 'device import registers PEM and DER, named by the CN, with groups' '
	"$MQADMIN" -d pki device import d1.crt d3.der --group sensors >out &&
	test_grep "^imported d1: d1.crt, serial " out &&
	test_grep "^imported d3: d3.der, serial " out &&
	"$MQADMIN" -d pki device show d1 >show &&
	test_grep sensors show &&
	fpr=$(openssl x509 -in d1.crt -outform DER | sha256sum | cut -c1-64) &&
	policy_cat >policy.now && test_grep "$fpr" policy.now
'

test_expect_success 'device import refuses a duplicate and a bad --name (exit 1/2)' '
	snap pki >before &&
	test_must_fail "$MQADMIN" -d pki device import d1.crt 2>err &&
	test_grep "already registered (device .d1.)" err &&
	test_must_fail "$MQADMIN" -d pki device import d2.crt --name "a/b" 2>err &&
	test_expect_code 2 "$MQADMIN" -d pki device import d2.crt d3.crt --name x 2>err &&
	test_grep "import one certificate with it" err &&
	test_expect_code 2 "$MQADMIN" -d pki device import 2>err &&
	snap pki >after && test_cmp before after &&
	"$MQADMIN" -d pki device import d2.crt --name cam2 >out &&
	test_grep "^imported cam2: " out
'

test_expect_success 'device adopt: no audit, no flag, a tampered kept certificate' '
	test_must_fail "$MQADMIN" -d pki device adopt --from-audit 2>err &&
	test_grep "run the broker with plugin_opt_mode observe first" err &&
	test_expect_code 2 "$MQADMIN" -d pki device adopt 2>err &&
	test_grep -- "--from-audit" err &&
	test_expect_code 2 "$MQADMIN" -d pki device adopt --from-audit --since yesterday 2>err &&
	cert d4 ot 30 && cert d5 ot 30 &&
	f4=$(openssl x509 -in d4.crt -outform DER | sha256sum | cut -c1-64) &&
	f5=$(openssl x509 -in d5.crt -outform DER | sha256sum | cut -c1-64) &&
	ff=$(openssl x509 -in foreign.crt -outform DER | sha256sum | cut -c1-64) &&
	mkdir -p pki/audit/seen &&
	cp d5.crt pki/audit/seen/$f4.pem &&
	cp foreign.crt pki/audit/seen/$ff.pem &&
	for f in $f4 $f5 $ff; do
		echo "{\"ts\":\"2026-01-01T00:00:00Z\",\"event\":\"observe\",\"fingerprint\":\"$f\"}" || return 1
	done >pki/audit/audit.log &&
	echo "not json" >>pki/audit/audit.log &&
	snap pki >before &&
	"$MQADMIN" -d pki device adopt --from-audit >out 2>err &&
	test_grep "is not the certificate its name says" err &&
	test_grep "was seen but not kept" err &&
	test_grep "refused: not signed by this CA" err &&
	test_grep "0 certificate(s) adopted, 0 already registered, 3 refused" err &&
	test ! -s out &&
	snap pki >after && test_cmp before after &&
	cp d4.crt pki/audit/seen/$f4.pem &&
	"$MQADMIN" -d pki device adopt --from-audit --since 2026-06-01T00:00:00Z >out 2>err &&
	test_grep "0 certificate(s) adopted" err &&
	"$MQADMIN" -d pki device adopt --from-audit >out 2>err &&
	test_grep "^imported d4: " out
'

test_expect_success 'acl import: a line mosquitto refuses imports nothing, with its number' '
	snap pki >before &&
	printf "user d1\ntopic read a/#\ntopic readwrit b\n" >bad1 &&
	test_must_fail "$MQADMIN" -d pki acl import bad1 2>err &&
	test_grep "bad1:3: invalid access .readwrit." err &&
	printf "user d1\n  # indented comment\n" >bad2 &&
	test_must_fail "$MQADMIN" -d pki acl import bad2 2>err &&
	test_grep "bad2:2: .#. is not an acl_file line" err &&
	printf "topic read a/#/b\n" >bad3 &&
	test_must_fail "$MQADMIN" -d pki acl import bad3 2>err &&
	test_grep "bad3:1: invalid topic .a/#/b." err &&
	printf "user\n" >bad4 &&
	test_must_fail "$MQADMIN" -d pki acl import bad4 2>err &&
	test_grep "bad4:1: .user. without a name" err &&
	test_must_fail "$MQADMIN" -d pki acl import nosuch 2>err &&
	test_expect_code 2 "$MQADMIN" -d pki acl import 2>err &&
	snap pki >after && test_cmp before after
'

test_expect_success 'acl import --dry-run prints the rules and the lines it cannot translate' '
	cat >acl <<-\EOF &&
	# comment
	topic read public/#
	user d1
	topic read a/+
	topic write lit/%u/x
	user ghost
	topic read g
	pattern deny a/b
	pattern readwrite devices/%u/%c/#
	EOF
	snap pki >before &&
	"$MQADMIN" -d pki acl import acl --dry-run >out 2>err &&
	cat >expect <<-\EOF &&
	line 4: device:d1 allow read a/+
	line 5: device:d1 allow write lit/%%u/x
	line 8: all deny readwrite a/b
	line 9: all allow readwrite devices/%u/%c/#
	EOF
	test_cmp expect out &&
	test_grep "acl:2: not translated: a topic line before any .user." err &&
	test_grep "acl:7: not translated: user .ghost. is no device" err &&
	test_grep "acl:8: not faithful with line 4: where both match, mosquitto allows (a user line beats a pattern line) but mqcert denies" err &&
	snap pki >after && test_cmp before after &&
	"$MQADMIN" -d pki acl import acl >out 2>err &&
	test_grep "added rule 1 (line 4): device:d1 allow read a/+" out &&
	"$MQADMIN" -d pki acl import acl >out 2>err &&
	test_grep "0 rule(s) added, 4 already present" err
'

test_done
