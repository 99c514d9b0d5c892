#!/bin/bash
# mqadmin server issue --client (an etcd member: serverAuth and clientAuth)
# and --etcd-client (a client identity for etcd's JSON gateway: clientAuth,
# no CN, no SAN), the certificates of docs/FLEET.md.
. "$(dirname "$0")/../lib.sh"

test_expect_success 'setup' '
	"$MQADMIN" -d pki init >/dev/null
'

test_expect_success '--client: an etcd member certificate with both EKUs and its IP SAN' '
	"$MQADMIN" -d pki server issue etcd1 --san IP:127.0.0.1 --san DNS:localhost --client >out &&
	printf "%s\n" pki/servers/etcd1/etcd1.crt pki/servers/etcd1/etcd1.key >expect &&
	test_cmp expect out &&
	openssl x509 -in pki/servers/etcd1/etcd1.crt -noout -text >text &&
	test_grep "Subject: O = mqcert server, CN = etcd1" text &&
	test_grep "TLS Web Server Authentication, TLS Web Client Authentication" text &&
	test_grep "IP Address:127.0.0.1, DNS:localhost" text &&
	openssl verify -CAfile pki/ca.crt -purpose sslserver pki/servers/etcd1/etcd1.crt &&
	openssl verify -CAfile pki/ca.crt -purpose sslclient pki/servers/etcd1/etcd1.crt
'

test_expect_success 'without --client a server certificate stays serverAuth only' '
	"$MQADMIN" -d pki server issue broker1 >/dev/null &&
	openssl x509 -in pki/servers/broker1/broker1.crt -noout -ext extendedKeyUsage >text &&
	test_grep "TLS Web Server Authentication" text &&
	test_grep ! "Client Authentication" text &&
	! openssl verify -CAfile pki/ca.crt -purpose sslclient pki/servers/broker1/broker1.crt
'

test_expect_success '--etcd-client: clientAuth only, no CN (the name in the OU), no SAN' '
	"$MQADMIN" -d pki server issue mqcert-admin --etcd-client >/dev/null &&
	openssl x509 -in pki/servers/mqcert-admin/mqcert-admin.crt -noout -text >text &&
	test_grep "Subject: O = mqcert etcd client, OU = mqcert-admin$" text &&
	openssl x509 -in pki/servers/mqcert-admin/mqcert-admin.crt -noout -subject >subj &&
	test_grep ! "CN *=" subj &&
	test_grep ! "Subject Alternative Name" text &&
	test_grep "TLS Web Client Authentication" text &&
	test_grep ! "Server Authentication" text &&
	test "$(stat -c %a pki/servers/mqcert-admin/mqcert-admin.key)" = 600 &&
	openssl verify -CAfile pki/ca.crt -purpose sslclient pki/servers/mqcert-admin/mqcert-admin.crt
'

test_expect_success '--etcd-client with --client or --san is a usage error, nothing written' '
	test_expect_code 2 "$MQADMIN" -d pki server issue x1 --etcd-client --client 2>err &&
	test_grep "drop --client and --san" err &&
	test_expect_code 2 "$MQADMIN" -d pki server issue x2 --etcd-client --san DNS:x2 2>err &&
	test ! -e pki/servers/x1 && test ! -e pki/servers/x2
'

test_expect_success 'an etcd client identity is no device: the policy does not list it' '
	"$MQADMIN" -d pki device list >list &&
	test_grep ! mqcert-admin list
'

test_done
