#!/bin/bash
# acl import measured against mosquitto itself: one broker runs the
# operator's acl_file with use_identity_as_username, another mqcert with the
# rules 'mqadmin acl import' made from that file (and plugin_opt_subscribe
# grant, the import's advice); the same clients, with certificates from an
# openssl-made CA that mqadmin adopted, subscribe, publish and receive
# through both, and what each broker granted and delivered must be equal.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

USERS=a1,a2,a3,a4
TOPICS=fleet/open/x,fleet/secret/x,fleet/secret,fleet/a2/t,public/news,x/1/y,x/1/z,devices/a1/t,devices/a2/t,devices/a3/admin,status/a1,status/a1/b,other,%/lit
FILTERS="fleet/#,fleet/secret/#,#,public/+,devices/a1/#,status/+,+/+"

test_expect_success 'setup: an openssl CA (as generate-CA.sh makes it) with its device certificates' '
	openssl req -newkey rsa:2048 -x509 -nodes -sha256 -days 3650 -extensions v3_ca \
		-keyout old-ca.key -out old-ca.crt -subj "/CN=An MQTT broker/O=OwnTracks.org" 2>/dev/null &&
	mkdir certs &&
	for u in root a1 a2 a3 a4; do
		openssl req -new -newkey rsa:2048 -nodes -keyout certs/$u.key -subj /CN=$u \
			-out certs/$u.csr 2>/dev/null &&
		openssl x509 -req -in certs/$u.csr -CA old-ca.crt -CAkey old-ca.key \
			-CAcreateserial -days 30 -out certs/$u.crt 2>/dev/null || return 1
	done &&
	"$MQADMIN" -d pki init --ca-cert old-ca.crt --ca-key old-ca.key --no-default >/dev/null &&
	"$MQADMIN" -d pki server issue localhost --san DNS:localhost >/dev/null &&
	"$MQADMIN" -d pki device import certs/root.crt certs/a1.crt certs/a2.crt certs/a3.crt \
		certs/a4.crt >/dev/null &&
	cat >acl <<-\ACL
	# the operator'"'"'s acl_file
	topic read public/#
	user root
	topic readwrite #
	user a1
	topic readwrite fleet/#
	topic deny fleet/secret/#
	topic read public/#
	user a2
	topic read fleet/#
	topic deny fleet/secret/#
	topic write fleet/a2/#
	topic read %/lit
	user a3
	topic write x/+/y
	topic
	pattern readwrite devices/%u/#
	pattern read status/+
	ACL
	sed -i "/^topic\$/d" acl
'

test_expect_success 'acl import translates it, naming the line it cannot' '
	"$MQADMIN" -d pki acl import acl >out 2>err &&
	test_grep "acl:2: not translated: a topic line before any .user." err &&
	test_grep "11 rule(s) added, 0 already present, 1 line(s) not translated, 0 pair(s)" err &&
	test_grep "plugin_opt_subscribe grant" err &&
	test_grep "device:a2 allow read %%/lit" out
'

test_expect_success 'start both brokers: mosquitto with the acl_file, mosquitto with mqcert' '
	port=$(broker_free_port) && echo $port >plain.port &&
	BROKER_ASAN=0 broker_start plain "listener $port 127.0.0.1
cafile $TRASH/pki/ca.crt
certfile $TRASH/pki/servers/localhost/localhost.crt
keyfile $TRASH/pki/servers/localhost/localhost.key
require_certificate true
use_identity_as_username true
acl_file $TRASH/acl" &&
	plugin_broker mq pki "plugin_opt_subscribe grant" &&
	log_has mq "mode enforce, acl_mode enforce, subscribe grant"
'

test_expect_success 'the same grants and deliveries on both brokers' '
	/usr/bin/python3 "$MQ_ROOT/tests/integration/aclcompare.py" $(cat plain.port) pki/ca.crt \
		certs root $USERS "$TOPICS" "$FILTERS" >plain.txt &&
	/usr/bin/python3 "$MQ_ROOT/tests/integration/aclcompare.py" $(broker_port mq) pki/ca.crt \
		certs root $USERS "$TOPICS" "$FILTERS" >mq.txt &&
	test_cmp plain.txt mq.txt &&
	# not vacuous: the deny lines, the patterns and the literal % hold
	test_grep "^READ a2 fleet/open/x" mq.txt &&
	test_grep ! "^READ a2 fleet/secret/x" mq.txt &&
	test_grep "^SUBACK a2 fleet/# 1" mq.txt &&
	test_grep "^WRITE a3 x/1/y" mq.txt &&
	test_grep ! "^WRITE a3 x/1/z" mq.txt &&
	test_grep "^WRITE a3 devices/a3/admin" mq.txt &&
	test_grep ! "^WRITE a1 devices/a2/t" mq.txt &&
	test_grep "^READ a4 status/a1\$" mq.txt &&
	test_grep "^READ a2 %/lit" mq.txt &&
	test_grep ! "^READ a4 public/news" mq.txt &&
	test $(grep -c "^READ" mq.txt) -ge 12 &&
	test $(grep -c "^WRITE" mq.txt) -ge 7
'

test_expect_success 'without subscribe grant mqcert refuses the filter a deny rule cuts into' '
	"$MQADMIN" -d pki acl check a2 "fleet/#" subscribe >out &&
	test_grep "^deny" out &&
	"$MQADMIN" -d pki acl check a2 "fleet/open/#" subscribe >out &&
	test_grep "^allow" out
'

test_expect_success 'no sanitizer reports' '
	broker_stop mq && broker_stop plain && broker_sanitizer_clean
'

test_done
