#!/bin/bash
# The fleet's CRL (P crl.pem) goes to etcd after the revocation's own etcd
# transaction (docs/FLEET-e1.md says why it is not the same one). When that
# put is lost, the next mqadmin command publishes DIR/crl.pem again by
# itself; it never replaces a newer CRL in etcd.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/etcd-lib.sh"

etcd_start || exit 1

fleet_crl() { etcd_get /mqcert/crl.pem | head -c -1; }
crlnum() { openssl crl -noout -crlnumber -in "$1" | sed "s/.*=//"; }

test_expect_success 'setup: a revocation publishes the CRL in etcd' '
	"$MQADMIN" -d a init --no-default >/dev/null 2>&1 &&
	"$MQADMIN" -d a device issue d1 >/dev/null &&
	"$MQADMIN" -d a device issue d2 >/dev/null &&
	fleet_crl >before.pem &&
	"$MQADMIN" -d a device revoke d1 >/dev/null 2>&1 &&
	fleet_crl >after.pem &&
	cmp after.pem a/crl.pem &&
	test "$(crlnum after.pem)" != "$(crlnum before.pem)"
'

test_expect_success 'a lost CRL put (etcd keeps the older CRL): the next command publishes it' '
	etcdctl_t put /mqcert/crl.pem <before.pem >/dev/null &&
	fleet_crl >now.pem && cmp now.pem before.pem &&
	"$MQADMIN" -d a device set d2 --group g >/dev/null &&
	fleet_crl >now.pem &&
	cmp now.pem a/crl.pem
'

test_expect_success 'no CRL in etcd at all: a reading command publishes it too' '
	etcdctl_t del /mqcert/crl.pem >/dev/null &&
	"$MQADMIN" -d a device list >/dev/null &&
	fleet_crl >now.pem &&
	cmp now.pem a/crl.pem
'

test_expect_success 'another administrator.s newer CRL: installed locally, never replaced in etcd' '
	cp a/crl.pem mine.pem &&
	mkdir b && cp a/ca.crt a/ca.key b/ &&
	for f in a/*; do case $f in a/store|a/devices|a/audit) ;; *) cp -a "$f" b/ ;; esac; done &&
	"$MQADMIN" -d b device revoke d2 >/dev/null 2>&1 &&
	fleet_crl >b.pem && cmp b.pem b/crl.pem &&
	cp mine.pem a/crl.pem &&
	"$MQADMIN" -d a device list >/dev/null &&
	fleet_crl >now.pem && cmp now.pem b.pem && cmp a/crl.pem b.pem
'

test_done
