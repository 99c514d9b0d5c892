#!/bin/bash
# What a policy swap re-judges (a shortened not_after), the CA-signed CRL as
# a revocation list no restored backup can undo (older generations warned,
# tampered CRLs refused), and an audit log that is a hard link, a FIFO or
# someone else's file refused without changing a decision.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

M() { "$MQADMIN" -d pki "$@"; }
serial() { M device show "$1" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["serial"])'; }

# crl_make KEY NUMBER OUT SERIAL...: a CRL with pki/ca.crt's subject as
# issuer, CRL number NUMBER, listing the hex SERIALs, signed with the key
# file KEY (or a fresh key: "fresh"), written to OUT atomically.
crl_make() {
	/usr/bin/python3 - "$@" <<'PY'
import datetime, os, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, ed448
keyarg, number, out = sys.argv[1:4]
ca = x509.load_pem_x509_certificate(open("pki/ca.crt", "rb").read())
if keyarg == "fresh":
    key = ec.generate_private_key(ec.SECP256R1())
else:
    key = serialization.load_pem_private_key(open(keyarg, "rb").read(), None)
now = datetime.datetime.utcnow()
b = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject).last_update(now)
     .next_update(now + datetime.timedelta(days=30))
     .add_extension(x509.CRLNumber(int(number)), critical=False))
for s in sys.argv[4:]:
    b = b.add_revoked_certificate(x509.RevokedCertificateBuilder()
                                  .serial_number(int(s, 16)).revocation_date(now).build())
alg = None if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)) else hashes.SHA256()
crl = b.sign(key, alg)
with open(out + ".tmp", "wb") as f:
    f.write(crl.public_bytes(serialization.Encoding.PEM))
os.replace(out + ".tmp", out)
PY
}

crl_number() {
	/usr/bin/python3 -c 'import sys
from cryptography import x509
c = x509.load_pem_x509_crl(open(sys.argv[1], "rb").read())
print(c.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)' "$1"
}

# connect_refused DEVICE REASON: DEVICE is refused, and the log says why.
connect_refused() {
	test_must_fail $MQCLIENT $P $(dev_args pki "$1") --id "$1" >"refused-$1.out" &&
	test_grep "^CONNACK 5" "refused-$1.out" &&
	wait_for 10 log_has b "refused client '$1' from 127.0.0.1: $2"
}

test_expect_success 'setup: PKI with five devices, a broker' '
	pki_setup pki dev1 dev2 dev3 dev4 dev5 &&
	M acl add --all --topic "devices/%u/#" --access readwrite >/dev/null &&
	test -f pki/crl.pem &&
	plugin_broker b pki &&
	log_has b "mqcert: instance 127.0.0.1-$(broker_port b), CRL $TRASH/pki/crl.pem \(signed by $TRASH/pki/ca.crt\)" &&
	log_has b "mqcert: CRL $TRASH/pki/crl.pem number [0-9]+ loaded \(0 revoked serials\)"
'
P="--port $(broker_port b)"

test_expect_success 'a not_after shortened to a few seconds ahead drops the client then' '
	stay_client na.out $P $(dev_args pki dev1) --id dev1 &&
	test_grep "^READY" na.out &&
	soon=$(date -u -d "+3 seconds" +%Y-%m-%dT%H:%M:%SZ) &&
	policy_edit pki dev1 not_after=$soon &&
	wait_policy b pki &&
	wait_for 15 grep -q "^DISCONNECTED" na.out &&
	log_has b "disconnecting client .dev1. from 127.0.0.1 \(device .dev1., serial [0-9a-f]+\): certificate has expired"
'

test_expect_success 'a not_after moved into the past drops the client at the swap' '
	stay_client past.out $P $(dev_args pki dev2) --id dev2 &&
	test_grep "^READY" past.out &&
	policy_edit pki dev2 not_before=2019-01-01T00:00:00Z not_after=2020-01-01T00:00:00Z &&
	wait_for 10 grep -q "^DISCONNECTED" past.out &&
	log_has b "disconnecting client .dev2. .*: certificate has expired"
'

# Before issue 15 the backup was an old policy.json; now it is an old copy
# of the store's data.mdb put back in place.
test_expect_success 'revoke, then restore an old store backup: still refused by the CRL, and warned' '
	cp pki/store/data.mdb backup.mdb &&
	old_gen=$(store_seq pki) &&
	stay_client r.out $P $(dev_args pki dev3) --id dev3 &&
	test_grep "^READY" r.out &&
	M device revoke dev3 >/dev/null &&
	wait_for 10 grep -q "^DISCONNECTED" r.out &&
	wait_for 10 log_has b "mqcert: CRL $TRASH/pki/crl.pem number [0-9]+ loaded \(1 revoked serials\)" &&
	cp backup.mdb new.mdb && mv -T new.mdb pki/store/data.mdb &&
	wait_for 10 log_has b "WARNING: store sequence $old_gen is older than sequence [0-9]+ it replaces: was an old backup restored\?" &&
	connect_refused dev3 "certificate is revoked by the CA.s CRL \(device .dev3.\)"
'

test_expect_success 'a CRL signed by the CA alone kicks a connected client it lists' '
	stay_client k.out $P $(dev_args pki dev4) --id dev4 &&
	test_grep "^READY" k.out &&
	cp pki/crl.pem good-crl.pem &&
	n=$(crl_number pki/crl.pem) &&
	crl_make pki/ca.key $((n + 1)) pki/crl.pem $(serial dev3) $(serial dev4) &&
	wait_for 10 grep -q "^DISCONNECTED" k.out &&
	log_has b "disconnecting client .dev4. .*: certificate is revoked by the CA.s CRL" &&
	connect_refused dev4 "certificate is revoked by the CA.s CRL"
'

test_expect_success 'a CRL not signed by the CA is refused and logged; the last good one stays' '
	n=$(crl_number pki/crl.pem) &&
	crl_make fresh $((n + 5)) pki/crl.pem &&
	wait_for 10 log_has b "mqcert: CRL refused: the signature of $TRASH/pki/crl.pem does not verify with the CA key of $TRASH/pki/ca.crt; keeping the last verified CRL" &&
	connect_refused dev4 "certificate is revoked by the CA.s CRL" &&
	echo garbage >pki/crl.pem.tmp && mv pki/crl.pem.tmp pki/crl.pem &&
	wait_for 10 log_has b "mqcert: CRL refused: $TRASH/pki/crl.pem holds no PEM CRL" &&
	mkfifo fifo && mv fifo pki/crl.pem &&
	wait_for 10 log_has b "mqcert: CRL refused: $TRASH/pki/crl.pem is a FIFO, not a regular file" &&
	rm pki/crl.pem &&
	wait_for 10 log_has b "mqcert: CRL $TRASH/pki/crl.pem is gone; keeping the last verified CRL \(number [0-9]+, 2 serials\)" &&
	connect_refused dev3 "certificate is revoked by the CA.s CRL" &&
	$MQCLIENT $P $(dev_args pki dev5) --id dev5 >ok.out &&
	broker_is_running b
'

test_expect_success 'an older CRL (a restored backup) is refused' '
	cp good-crl.pem pki/crl.pem.tmp && mv pki/crl.pem.tmp pki/crl.pem &&
	wait_for 10 log_has b "mqcert: CRL refused: $TRASH/pki/crl.pem has CRL number [0-9]+, older than the [0-9]+ in use" &&
	connect_refused dev4 "certificate is revoked by the CA.s CRL" &&
	broker_stop b &&
	broker_sanitizer_clean
'

test_expect_success 'plugin_opt_crl none turns the CRL off (the policy alone decides)' '
	plugin_broker n pki "plugin_opt_crl none" &&
	log_has n "mqcert: instance 127.0.0.1-$(broker_port n), CRL none" &&
	$MQCLIENT --port $(broker_port n) $(dev_args pki dev4) --id dev4 >n.out &&
	broker_stop n
'

test_expect_success 'an audit log that is a hard link to another file is refused; decisions unchanged' '
	mkdir hl && echo "precious" >victim && ln victim hl/audit.log &&
	plugin_broker h pki "plugin_opt_audit_log $TRASH/hl/audit.log" &&
	PH="--port $(broker_port h)" &&
	wait_for 10 log_has h "mqcert: audit log $TRASH/hl/audit.log: refusing to write it: it has 2 hard links, so it is also another file" &&
	$MQCLIENT $PH $(dev_args pki dev5) --id dev5 >h1.out &&
	test_must_fail $MQCLIENT $PH $(dev_args pki dev3) --id dev3 >h2.out &&
	test_grep "^CONNACK 5" h2.out &&
	echo "precious" >expect && test_cmp expect victim &&
	test "$(log_count h "audit log .*: refusing")" = 1 &&
	rm hl/audit.log &&
	wait_for 10 log_has h "mqcert: audit log $TRASH/hl/audit.log: writing again" &&
	wait_for 10 grep -q "\"event\":\"refused\"" hl/audit.log &&
	echo "precious" >expect && test_cmp expect victim &&
	broker_stop h
'

test_expect_success 'an audit log that is a FIFO or owned by another user is refused' '
	mkfifo fifo.log && : >foreign.log && chown 65534 foreign.log &&
	plugin_broker f pki "plugin_opt_audit_log $TRASH/fifo.log
plugin_opt_state_file none" &&
	wait_for 10 log_has f "mqcert: audit log $TRASH/fifo.log: (refusing to write it: it is not a regular file|cannot open it \(No such device or address\))" &&
	$MQCLIENT --port $(broker_port f) $(dev_args pki dev5) --id dev5 >f1.out &&
	broker_stop f &&
	plugin_broker o pki "plugin_opt_audit_log $TRASH/foreign.log
plugin_opt_state_file none" &&
	wait_for 10 log_has o "mqcert: audit log $TRASH/foreign.log: refusing to write it: it is owned by uid 65534, not by the broker.s uid $(id -u)" &&
	$MQCLIENT --port $(broker_port o) $(dev_args pki dev5) --id dev5 >o1.out &&
	test ! -s foreign.log &&
	broker_stop o &&
	broker_sanitizer_clean
'

test_done
