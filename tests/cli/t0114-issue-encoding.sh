#!/bin/bash
# Keys and certificates are encoded by mqadmin itself for speed (EC and
# Ed25519): every file must be byte for byte what OpenSSL writes, and each
# certificate must hold the public key of its key file or CSR.
. "$(dirname "$0")/../lib.sh"

# spki FILE: the subjectPublicKeyInfo DER of a PEM certificate or CSR, as
# stored in it (not decoded and encoded again), in hex.
spki() {
	/usr/bin/python3 - "$1" <<-\EOP
	import base64, sys
	text = open(sys.argv[1]).read()
	der = base64.b64decode("".join(l for l in text.splitlines() if l and not l.startswith("-----")))
	def tlv(b, i):
	    n = b[i + 1]; h = 2
	    if n & 0x80:
	        k = n & 0x7f; n = int.from_bytes(b[i + 2:i + 2 + k], "big"); h += k
	    return i + h, i + h + n
	def items(b, i):
	    s, e = tlv(b, i); out = []
	    while s < e:
	        _, n = tlv(b, s); out.append(b[s:n]); s = n
	    return out
	body = items(der, 0)[0]
	fields = items(body, 0)
	# certificate: [0] version, serial, sigalg, issuer, validity, subject, SPKI
	# request: version, subject, SPKI
	print((fields[2] if "REQUEST" in text.splitlines()[0] else fields[6]).hex())
	EOP
}

# key_ok KEY CERT: KEY is 0600, exactly OpenSSL's PKCS#8 PEM of itself, and
# CERT holds its public key.
key_ok() {
	test "$(stat -c %a "$1")" = 600 &&
	openssl pkey -in "$1" | cmp - "$1" &&
	openssl pkey -in "$1" -pubout -outform DER | od -An -v -tx1 | tr -d " \n" >pub.hex &&
	echo >>pub.hex &&
	spki "$2" >spki.hex &&
	test_cmp pub.hex spki.hex
}

# cert_ok DIR NAME: the device's certificate is exactly OpenSSL's PEM of
# itself, verifies against DIR's CA, and its key (when there is one) fits.
cert_ok() {
	c=$1/devices/$2/$2.crt &&
	openssl x509 -in "$c" | cmp - "$c" &&
	openssl verify -CAfile "$1/ca.crt" "$c" &&
	cmp "$1/ca.crt" "$1/devices/$2/ca.crt" &&
	{ ! test -e "$1/devices/$2/$2.key" || key_ok "$1/devices/$2/$2.key" "$c"; }
}

test_expect_success 'setup' '
	"$MQADMIN" -d pki init >/dev/null &&
	openssl pkey -in pki/ca.key | cmp - pki/ca.key &&
	key_ok pki/ca.key pki/ca.crt
'

test_expect_success 'batch, EC keys: PKCS#8 as OpenSSL writes it, certificate holds the key' '
	"$MQADMIN" -d pki device batch --count 3 --prefix ec- >/dev/null 2>&1 &&
	for n in ec-0001 ec-0002 ec-0003; do cert_ok pki $n || exit 1; done &&
	openssl x509 -in pki/devices/ec-0001/ec-0001.crt -noout -text >text &&
	test_grep "ASN1 OID: prime256v1" text &&
	test_grep "Signature Algorithm: ecdsa-with-SHA256" text
'

test_expect_success 'batch, Ed25519 and RSA keys' '
	"$MQADMIN" -d pki device batch --count 2 --prefix ed- --key-type ed25519 >/dev/null 2>&1 &&
	cert_ok pki ed-0001 && cert_ok pki ed-0002 &&
	"$MQADMIN" -d pki device batch --count 1 --prefix rsa- --key-type rsa >/dev/null 2>&1 &&
	cert_ok pki rsa-0001 &&
	openssl x509 -in pki/devices/rsa-0001/rsa-0001.crt -noout -text >text &&
	test_grep "Public-Key: (3072 bit)" text
'

test_expect_success 'every device of a batch differs: own key, own serial' '
	for n in ec-0001 ec-0002 ec-0003; do
		openssl x509 -in pki/devices/$n/$n.crt -noout -serial -pubkey
	done >all &&
	test $(grep -c serial= all) = 3 &&
	test $(sort all | uniq -d | grep -cv "^-----") = 0
'

test_expect_success 'device issue, renew and server issue write the same encodings' '
	"$MQADMIN" -d pki device issue one >/dev/null &&
	cert_ok pki one &&
	"$MQADMIN" -d pki device renew one >/dev/null &&
	cert_ok pki one &&
	"$MQADMIN" -d pki device issue two --key-type ed25519 >/dev/null &&
	cert_ok pki two &&
	"$MQADMIN" -d pki server issue broker --san DNS:broker.lan >/dev/null &&
	key_ok pki/servers/broker/broker.key pki/servers/broker/broker.crt &&
	openssl x509 -in pki/servers/broker/broker.crt | cmp - pki/servers/broker/broker.crt &&
	openssl verify -CAfile pki/ca.crt pki/servers/broker/broker.crt
'

test_expect_success 'derived formats hold the same key' '
	"$MQADMIN" -d pki device issue fmt --format der --format c-header >/dev/null &&
	cert_ok pki fmt &&
	openssl pkey -inform DER -in pki/devices/fmt/fmt.key.der | cmp - pki/devices/fmt/fmt.key &&
	sed -n "/BEGIN PRIVATE KEY/,/END PRIVATE KEY/p" pki/devices/fmt/fmt.h |
		sed "s/^[^\"]*\"//; s/\\\\n\"[;]*$//" >hkey &&
	cmp hkey pki/devices/fmt/fmt.key
'

test_expect_success 'CSRs: the certificate holds the public key exactly as the CSR has it' '
	openssl ecparam -name prime256v1 -genkey -noout -out p256.key &&
	openssl ec -in p256.key -conv_form compressed -out c256.key 2>/dev/null &&
	openssl ecparam -name secp384r1 -genkey -noout -out p384.key &&
	openssl ecparam -name prime256v1 -genkey -noout -param_enc explicit -out x256.key &&
	openssl genpkey -algorithm ed25519 -out ed.key &&
	openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null &&
	for k in c256 p384 x256 ed rsa; do
		openssl req -new -key $k.key -subj /CN=ignored -out $k.csr &&
		"$MQADMIN" -d pki device issue csr-$k --csr $k.csr >/dev/null &&
		# OpenSSL refuses to verify explicit curve parameters; the
		# certificate must still hold them as the CSR does.
		{ test $k = x256 || cert_ok pki csr-$k; } &&
		spki $k.csr >want && spki pki/devices/csr-$k/csr-$k.crt >got &&
		test_cmp want got || exit 1
	done &&
	test $(wc -c <want) -gt 100
'

test_expect_success 'batch with a CSR in the list' '
	openssl req -new -key p384.key -subj /CN=x -out b.csr &&
	printf "b-1\nb-2 csr=b.csr\n" >list &&
	"$MQADMIN" -d pki device batch --from list >/dev/null 2>&1 &&
	cert_ok pki b-1 && cert_ok pki b-2 &&
	spki b.csr >want && spki pki/devices/b-2/b-2.crt >got && test_cmp want got
'

test_expect_success 'Ed25519 and RSA CAs sign batches' '
	for t in ed25519 rsa; do
		"$MQADMIN" -d ca-$t init --key-type $t >/dev/null &&
		openssl pkey -in ca-$t/ca.key | cmp - ca-$t/ca.key &&
		"$MQADMIN" -d ca-$t device batch --count 2 --prefix d- >/dev/null 2>&1 &&
		cert_ok ca-$t d-0001 && cert_ok ca-$t d-0002 || exit 1
	done &&
	openssl x509 -in ca-ed25519/devices/d-0001/d-0001.crt -noout -text >text &&
	test_grep "Signature Algorithm: ED25519" text
'

test_expect_success 'a passphrase-protected CA key still signs batches' '
	echo "correct horse battery" >pass &&
	"$MQADMIN" -d enc init --passphrase-file pass >/dev/null &&
	head -1 enc/ca.key | grep -q "BEGIN ENCRYPTED PRIVATE KEY" &&
	"$MQADMIN" -d enc device batch --count 2 --prefix d- --passphrase-file pass >/dev/null 2>&1 &&
	cert_ok enc d-0001 && cert_ok enc d-0002
'

test_done
