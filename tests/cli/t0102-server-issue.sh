#!/bin/bash
# mqadmin server issue.
. "$(dirname "$0")/../lib.sh"

test_expect_success 'setup' '
	"$MQADMIN" -d pki init >/dev/null
'

test_expect_success 'server issue writes a verifiable serverAuth cert and a 0600 key' '
	"$MQADMIN" -d pki server issue broker1 --san DNS:mqtt.example.com --san IP:127.0.0.1 \
		--san IP:::1 >out &&
	printf "%s\n" pki/servers/broker1/broker1.crt pki/servers/broker1/broker1.key >expect &&
	test_cmp expect out &&
	test "$(stat -c %a pki/servers/broker1/broker1.key)" = 600 &&
	openssl verify -CAfile pki/ca.crt pki/servers/broker1/broker1.crt &&
	openssl verify -CAfile pki/ca.crt -purpose sslserver pki/servers/broker1/broker1.crt &&
	openssl x509 -in pki/servers/broker1/broker1.crt -noout -text >text &&
	test_grep "Subject: O = mqcert server, CN = broker1" text &&
	test_grep "CA:FALSE" text &&
	test_grep "TLS Web Server Authentication" text &&
	test_grep "DNS:mqtt.example.com, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1" text &&
	test_grep "Digital Signature" text &&
	test_grep "Authority Key Identifier" text &&
	openssl pkey -in pki/servers/broker1/broker1.key -pubout >k.pub &&
	openssl x509 -in pki/servers/broker1/broker1.crt -pubkey -noout >c.pub && cmp k.pub c.pub
'

test_expect_success 'default SAN is DNS:NAME, or IP:NAME for an IPv4 address' '
	"$MQADMIN" -d pki server issue localhost >/dev/null &&
	openssl x509 -in pki/servers/localhost/localhost.crt -noout -ext subjectAltName >text &&
	test_grep "DNS:localhost" text &&
	"$MQADMIN" -d pki server issue 10.0.0.7 >/dev/null &&
	openssl x509 -in pki/servers/10.0.0.7/10.0.0.7.crt -noout -ext subjectAltName >text &&
	test_grep "IP Address:10.0.0.7" text
'

test_expect_success 'default validity is 825 days; --days changes it' '
	end=$(openssl x509 -in pki/servers/localhost/localhost.crt -noout -enddate | cut -d= -f2) &&
	days=$(( ($(date -d "$end" +%s) - $(date +%s)) / 86400 )) &&
	test "$days" -ge 824 && test "$days" -le 825 &&
	"$MQADMIN" -d pki server issue short --days 10 >/dev/null &&
	end=$(openssl x509 -in pki/servers/short/short.crt -noout -enddate | cut -d= -f2) &&
	days=$(( ($(date -d "$end" +%s) - $(date +%s)) / 86400 )) &&
	test "$days" -ge 9 && test "$days" -le 10
'

test_expect_success 'rsa server key gets keyEncipherment' '
	"$MQADMIN" -d pki server issue rsa1 --key-type rsa >/dev/null &&
	openssl x509 -in pki/servers/rsa1/rsa1.crt -noout -text >text &&
	test_grep "Digital Signature, Key Encipherment" text &&
	test_grep "Public-Key: (3072 bit)" text
'

test_expect_success 're-issuing needs --force, which replaces key and cert' '
	cp pki/servers/broker1/broker1.crt old.crt &&
	test_must_fail "$MQADMIN" -d pki server issue broker1 2>err &&
	test_grep "server .broker1. already exists" err && test_grep "\-\-force" err &&
	cmp old.crt pki/servers/broker1/broker1.crt &&
	"$MQADMIN" -d pki server issue broker1 --force --san DNS:new.example >/dev/null &&
	! cmp -s old.crt pki/servers/broker1/broker1.crt &&
	openssl verify -CAfile pki/ca.crt pki/servers/broker1/broker1.crt &&
	test "$(stat -c %a pki/servers/broker1/broker1.key)" = 600
'

test_expect_success 'bad SANs are refused' '
	for s in DNS: "DNS:bad host" DNS:-x.com DNS:a..b IP:300.1.1.1 IP:abc URI:http://x \
		email:a@b "DNS:$(printf "%0300d" 0)"; do
		test_must_fail "$MQADMIN" -d pki server issue s1 --san "$s" 2>err &&
		test_grep "invalid --san" err || exit 1
	done &&
	! test -e pki/servers/s1
'

test_expect_success 'bad names are refused, naming the rule' '
	for n in "a/b" "a+b" "a#b" "." ".." "has space" "$(printf "%065d" 0)"; do
		test_must_fail "$MQADMIN" -d pki server issue "$n" 2>err &&
		test_grep "invalid server name" err &&
		test_grep "A-Za-z0-9._-" err || exit 1
	done &&
	test_must_fail "$MQADMIN" -d pki server issue my_broker 2>err &&
	test_grep "not a valid host name: pass --san" err
'

test_expect_success 'a server cert may not outlive the CA' '
	"$MQADMIN" -d short init --days 100 >/dev/null &&
	test_must_fail "$MQADMIN" -d short server issue b1 2>err &&
	test_grep "would outlive the CA, which expires" err &&
	"$MQADMIN" -d short server issue b1 --days 90 >/dev/null
'

test_done
