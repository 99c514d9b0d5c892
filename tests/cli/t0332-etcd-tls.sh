#!/bin/bash
# mqadmin --etcd over TLS with client-certificate authentication (issue 17):
# etcd's server certificate and mqadmin's client certificate both issued by
# mqadmin's CA; --etcd-cacert/--etcd-cert/--etcd-key and the config file.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/etcd-lib.sh"

MQADMIN_ETCD= "$MQADMIN" -d "$TRASH/pki" init >/dev/null 2>&1 &&
MQADMIN_ETCD= "$MQADMIN" -d "$TRASH/pki" device issue admin1 >"$TRASH/cli" 2>&1 || exit 1
# etcd's JSON gateway dials etcd's own gRPC port with the member's
# certificate as a client certificate, so with --client-cert-auth the
# member needs clientAuth besides serverAuth ('server issue' gives only
# serverAuth today): signed here by the same CA with both.
SCRT=$TRASH/etcd1.crt SKEY=$TRASH/etcd1.key
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$SKEY" -subj /CN=etcd1 \
	-out "$TRASH/etcd1.csr" 2>/dev/null &&
printf "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n" >"$TRASH/etcd1.ext" &&
openssl x509 -req -in "$TRASH/etcd1.csr" -CA "$TRASH/pki/ca.crt" -CAkey "$TRASH/pki/ca.key" \
	-CAcreateserial -days 2 -extfile "$TRASH/etcd1.ext" -out "$SCRT" 2>/dev/null || exit 1
CCRT=$TRASH/pki/devices/admin1/admin1.crt CKEY=$TRASH/pki/devices/admin1/admin1.key
CA=$TRASH/pki/ca.crt
ETCD_SCHEME=https
ETCD_EXTRA_ARGS="--cert-file $SCRT --key-file $SKEY --client-cert-auth --trusted-ca-file $CA"
ETCD_CURL_ARGS="--cacert $CA --cert $CCRT --key $CKEY"
ETCD_NO_EXPORT=1
etcd_start || exit 1
etcdctl_t() { ETCDCTL_API=3 "$ETCDCTL_BIN" --endpoints="$ETCD_URL" --cacert "$CA" --cert "$CCRT" --key "$CKEY" "$@"; }

test_expect_success 'TLS with a client certificate: the device lands in etcd' '
	"$MQADMIN" -d pki --etcd "$ETCD_URL" --etcd-cacert "$CA" --etcd-cert "$CCRT" \
		--etcd-key "$CKEY" device issue d1 >/dev/null &&
	etcdctl_t get /mqcert/devices/d1 --keys-only | grep -q "^/mqcert/devices/d1$"
'

test_expect_success 'the same from the config file (etcd_cacert, etcd_cert, etcd_key)' '
	printf "dir = %s\netcd = %s\netcd_cacert = %s\netcd_cert = %s\netcd_key = %s\n" \
		"$TRASH/pki" "$ETCD_URL" "$CA" "$CCRT" "$CKEY" >conf &&
	MQADMIN_CONFIG=$TRASH/conf "$MQADMIN" device issue d2 >/dev/null &&
	etcdctl_t get /mqcert/devices/d2 --keys-only | grep -q "^/mqcert/devices/d2$"
'

test_expect_success 'no client certificate: refused, exit 1, nothing written, the TLS files named' '
	test_expect_code 1 "$MQADMIN" -d pki --etcd "$ETCD_URL" --etcd-cacert "$CA" device set d1 --group x 2>err &&
	test_grep "etcd at $ETCD_URL" err && test_grep "nothing was written" err &&
	test_grep "check --etcd-cert/--etcd-key" err &&
	MQADMIN_ETCD= "$MQADMIN" -d pki device show d1 >show && test_grep ! " x" show
'

test_expect_success 'a wrong CA for etcd: refused clearly' '
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
		-out other.crt -subj /CN=other -days 1 2>/dev/null &&
	test_expect_code 1 "$MQADMIN" -d pki --etcd "$ETCD_URL" --etcd-cacert other.crt \
		--etcd-cert "$CCRT" --etcd-key "$CKEY" device set d1 --group y 2>err &&
	test_grep "etcd_cacert" err && test_grep "nothing was written" err
'

test_expect_success 'a certificate without its key: a usage-like error naming both' '
	test_expect_code 1 "$MQADMIN" -d pki --etcd "$ETCD_URL" --etcd-cert "$CCRT" device list 2>err &&
	test_grep "give both etcd_cert and etcd_key" err
'

test_done
