#!/bin/bash
# The renewal stamp (MOSQ_EVT_MESSAGE) costs nothing until a device asks to
# renew (issue 15, Ir per delivery): the plugin registers the event at the
# first renewal request its ACL check lets through, and the broker checks
# WRITE before it fires MESSAGE for the same PUBLISH, so even that first
# request is stamped: a forged mqcert-device property is replaced.
. "$(dirname "$0")/../lib.sh"
. "$MQ_ROOT/tests/broker-lib.sh"
. "$MQ_ROOT/tests/integration/plugin-lib.sh"

STAMP_LINE="first renewal request: renewal requests are stamped from now on"

# pubsub PUBLISHER TOPIC: svc1 subscribes to mqcert/renew/+/req, PUBLISHER
# publishes to TOPIC with a forged mqcert-device=dev2; prints what svc1
# received (topic and mqcert-device values) or "none".
pubsub() {
	/usr/bin/python3 - "$(broker_port b)" "$1" "$2" <<-'PY'
	import sys, time, threading
	import paho.mqtt.client as mqtt
	from paho.mqtt.properties import Properties
	from paho.mqtt.packettypes import PacketTypes
	port, pub, topic = int(sys.argv[1]), sys.argv[2], sys.argv[3]
	got, subscribed = [], threading.Event()
	def client(name):
	    c = mqtt.Client(client_id=name, protocol=mqtt.MQTTv5)
	    c.tls_set(ca_certs="pki/ca.crt", certfile="pki/devices/%s/%s.crt" % (name, name),
	          keyfile="pki/devices/%s/%s.key" % (name, name))
	    return c
	def on_message(c, u, m):
	    props = getattr(m.properties, "UserProperty", [])
	    got.append("%s %s" % (m.topic, ",".join(v for k, v in props if k == "mqcert-device") or "-"))
	s = client("svc1")
	s.on_message = on_message
	s.on_subscribe = lambda *a: subscribed.set()
	s.connect("localhost", port)
	s.subscribe("mqcert/renew/+/req", qos=1)
	s.loop_start()
	subscribed.wait(10)
	p = client(pub)
	p.connect("localhost", port)
	p.loop_start()
	props = Properties(PacketTypes.PUBLISH)
	props.UserProperty = [("mqcert-device", "dev2")]
	p.publish(topic, b"x", qos=1, properties=props).wait_for_publish(5)
	for _ in range(50):
	    if got:
	        break
	    time.sleep(0.1)
	p.disconnect(); s.disconnect()
	print("\n".join(got) or "none")
	PY
}

test_expect_success 'setup: a PKI with two devices and a service, a broker' '
	pki_setup pki dev1 dev2 &&
	"$MQADMIN" -d pki device issue svc1 --role service >/dev/null &&
	"$MQADMIN" -d pki acl add --all --topic "q/#" --access readwrite >/dev/null &&
	plugin_broker b pki &&
	wait_policy b pki
'

test_expect_success 'ordinary traffic: the stamp is not registered' '
	pubsub dev1 q/t >out &&
	cat out && test "$(cat out)" = none &&
	! log_has b "$STAMP_LINE"
'

test_expect_success 'a refused renewal request registers nothing' '
	pubsub dev1 mqcert/renew/dev2/req >out &&
	cat out && test "$(cat out)" = none &&
	! log_has b "$STAMP_LINE"
'

test_expect_success 'the first renewal request is stamped with the verified name' '
	pubsub dev1 mqcert/renew/dev1/req >out &&
	cat out && test "$(cat out)" = "mqcert/renew/dev1/req dev1" &&
	test "$(log_count b "$STAMP_LINE")" = 1
'

test_expect_success 'later requests are stamped too; registered once' '
	pubsub dev2 mqcert/renew/dev2/req >out &&
	cat out && test "$(cat out)" = "mqcert/renew/dev2/req dev2" &&
	pubsub dev1 mqcert/renew/dev1/req >out &&
	test "$(cat out)" = "mqcert/renew/dev1/req dev1" &&
	test "$(log_count b "$STAMP_LINE")" = 1
'

test_expect_success 'the broker stops cleanly' '
	broker_stop b &&
	broker_sanitizer_clean b
'

test_done
