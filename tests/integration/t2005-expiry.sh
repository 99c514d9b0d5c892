#!/bin/bash
# A certificate whose validity ends while its client is connected: the
# plugin drops the client when notAfter passes, and TLS keeps it out.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

test_expect_success 'setup: a device with an extra certificate valid for 10 more seconds' '
	pki_setup pki devx devy &&
	/usr/bin/python3 - pki devx <<-\PY &&
	import datetime, sys
	from cryptography import x509
	from cryptography.x509.oid import NameOID
	from cryptography.hazmat.primitives import hashes, serialization
	from cryptography.hazmat.primitives.asymmetric import ec
	d, name = sys.argv[1:3]
	ca_key = serialization.load_pem_private_key(open(d + "/ca.key", "rb").read(), None)
	ca = x509.load_pem_x509_certificate(open(d + "/ca.crt", "rb").read())
	key = ec.generate_private_key(ec.SECP256R1())
	now = datetime.datetime.utcnow().replace(microsecond=0)
	nb, na = now - datetime.timedelta(seconds=60), now + datetime.timedelta(seconds=10)
	cert = (x509.CertificateBuilder()
	        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
	        .issuer_name(ca.subject).public_key(key.public_key())
	        .serial_number(x509.random_serial_number())
	        .not_valid_before(nb).not_valid_after(na)
	        .sign(ca_key, hashes.SHA256()))
	open("short.crt", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
	open("short.key", "wb").write(key.private_bytes(serialization.Encoding.PEM,
	    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
	PY
	policy_add_cert pki devx short.crt &&
	plugin_broker b pki
'
port=$(broker_port b)

test_expect_success 'the short-lived certificate connects; a long-lived one stays' '
	stay_client x.out --port '"$port"' --cafile pki/ca.crt --cert short.crt --key short.key --id devx &&
	test_grep "^READY" x.out &&
	stay_client y.out --port '"$port"' $(dev_args pki devy) --id devy &&
	test_grep "^READY" y.out
'

test_expect_success 'when notAfter passes the client is dropped, the other is not' '
	wait_for 25 grep -q "^DISCONNECTED" x.out &&
	log_has b "mqcert: disconnecting client .devx. from 127.0.0.1 \(device .devx., serial [0-9a-f]+\): certificate has expired" &&
	test_grep ! DISCONNECTED y.out
'

test_expect_success 'the expired certificate is refused by TLS afterwards' '
	test_must_fail $MQCLIENT --port '"$port"' --cafile pki/ca.crt --cert short.crt --key short.key --id devx >out &&
	test_grep ! "^CONNACK 0" out &&
	wait_for 10 log_has b "certificate verify failed"
'

test_expect_success 'stop the broker; no sanitizer report' '
	kill $(cat y.out.pid) &&
	broker_stop b && ! broker_is_running b &&
	broker_sanitizer_clean
'

test_done
