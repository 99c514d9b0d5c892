#!/usr/bin/python3
"""Measures what a broker lets each client do, for comparing two brokers
(mosquitto with an acl_file, mosquitto with mqcert and the imported rules).

usage: aclcompare.py PORT CAFILE CERTDIR OBSERVER USER,... TOPICS FILTERS

CERTDIR/NAME.crt and NAME.key are each client's certificate; the client id
is NAME. OBSERVER must be allowed to read and write every topic of TOPICS.
Prints sorted lines:
  SUBACK user filter code   each user subscribing to each of FILTERS
  READ user topic           a message OBSERVER published to topic reached
                            user (subscribed to '#' and to each topic)
  WRITE user topic          a message user published to topic reached
                            OBSERVER (subscribed to '#')
Every wait is bounded: a sentinel message (devices/USER/end, which each
user may read and write) ends each phase.
"""
import ssl
import sys
import threading
import time

import paho.mqtt.client as mqtt

port, cafile, certdir, observer, users, topics, filters = sys.argv[1:8]
port = int(port)
users = users.split(",")
topics = [t for t in topics.split(",") if t]
filters = [f for f in filters.split(",") if f]
lock = threading.Lock()
got = {}      # name -> set of (topic, payload)
subacks = {}  # (name, mid) -> code


def client(name):
    c = mqtt.Client(client_id=name, clean_session=True, protocol=mqtt.MQTTv311)
    c.tls_set(ca_certs=cafile, certfile="%s/%s.crt" % (certdir, name),
              keyfile="%s/%s.key" % (certdir, name), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    c.tls_insecure_set(False)
    got[name] = set()
    ready = threading.Event()

    def on_connect(cl, ud, flags, rc):
        if rc != 0:
            sys.exit("%s: CONNACK %d" % (name, rc))
        ready.set()

    def on_message(cl, ud, msg):
        with lock:
            got[name].add((msg.topic, msg.payload.decode()))

    def on_subscribe(cl, ud, mid, granted):
        with lock:
            subacks[(name, mid)] = granted[0]

    c.on_connect = on_connect
    c.on_message = on_message
    c.on_subscribe = on_subscribe
    c.connect("localhost", port, 30)
    c.loop_start()
    if not ready.wait(10):
        sys.exit("%s: no CONNACK" % name)
    return c


def wait(cond, what):
    end = time.time() + 15
    while time.time() < end:
        with lock:
            if cond():
                return
        time.sleep(0.02)
    sys.exit("timeout waiting for " + what)


def sub(c, name, f):
    rc, mid = c.subscribe(f, 1)
    wait(lambda: (name, mid) in subacks, "SUBACK %s %s" % (name, f))
    return subacks[(name, mid)]


out = []
obs = client(observer)
sub(obs, observer, "#")
cl = {u: client(u) for u in users}
for u in users:
    for f in filters:
        out.append("SUBACK %s %s %d" % (u, f, sub(cl[u], u, f)))
    # Literal subscriptions too: with a checked SUBSCRIBE, what a user may
    # read is then delivered whatever its wildcard subscriptions got.
    for t in topics:
        sub(cl[u], u, t)
    sub(cl[u], u, "devices/%s/end" % u)
for t in topics:
    obs.publish(t, observer, 1).wait_for_publish()
for u in users:
    obs.publish("devices/%s/end" % u, observer, 1).wait_for_publish()
for u in users:
    wait(lambda u=u: ("devices/%s/end" % u, observer) in got[u], "end of reads for " + u)
    for t in sorted({t for (t, p) in got[u] if p == observer and t in topics}):
        out.append("READ %s %s" % (u, t))
for u in users:
    for t in topics:
        cl[u].publish(t, u, 1).wait_for_publish()
    cl[u].publish("devices/%s/end" % u, u, 1).wait_for_publish()
for u in users:
    wait(lambda u=u: ("devices/%s/end" % u, u) in got[observer], "end of writes of " + u)
    for t in sorted({t for (t, p) in got[observer] if p == u and t in topics}):
        out.append("WRITE %s %s" % (u, t))
for c in [obs] + list(cl.values()):
    c.disconnect()
    c.loop_stop()
print("\n".join(sorted(out)))
