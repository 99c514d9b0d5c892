#!/usr/bin/python3
"""A small MQTT-over-TLS client for the integration tests (paho 1.6).

Prints machine-readable lines on stdout, flushed at once:
  CONNACK <rc>          the broker's answer (0 accepted, 5 not authorised)
  ERROR <text>          TLS or socket failure before any CONNACK
  SUBACK <code>         after each --sub: the granted QoS, or the failure
                        code (128 for MQTT 3.1.1, 135 "not authorized" for v5)
  PUBLISHED             after --pub was acknowledged
  READY                 connected (and subscribed) and staying (--stay)
  MSG <topic> <payload> each message received
  DISCONNECTED <rc>     the connection was closed while staying
  DONE <n>              line n of --commands was carried out
  FLOODED <n>           --flood: n publishes sent and handled by the broker
With --commands FILE the client, while staying, follows FILE (like tail -f)
and carries out each new line: "sub FILTER", "unsub FILTER",
"pub TOPIC MESSAGE" or "pubr TOPIC MESSAGE" (retained); so a test can make
one connection act again and again without reconnecting.
Exit: 0 accepted (and, with --stay, still connected at the end), 1 refused or
failed, 3 disconnected by the broker while staying. No reconnects, every wait
bounded.
"""
import argparse
import ssl
import sys
import threading
import time

import paho.mqtt.client as mqtt


SAY_LOCK = threading.Lock()


def say(*words):
    # One write per line under a lock: paho's thread and the main thread
    # both print, and print() writes the text and the newline separately.
    with SAY_LOCK:
        sys.stdout.write(" ".join(str(w) for w in words) + "\n")
        sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="localhost")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--id", default="")
    ap.add_argument("--username")
    ap.add_argument("--password")
    ap.add_argument("--sub", action="append", default=[])
    ap.add_argument("--pub", nargs=2, metavar=("TOPIC", "MESSAGE"))
    ap.add_argument("--retain", action="store_true", help="--pub is retained")
    ap.add_argument("--v5", action="store_true", help="MQTT v5 instead of 3.1.1")
    ap.add_argument("--commands", metavar="FILE")
    ap.add_argument("--will", nargs=2, metavar=("TOPIC", "MESSAGE"))
    ap.add_argument("--persistent", action="store_true", help="clean_session false")
    ap.add_argument("--stay", type=float, default=0, help="seconds to stay connected")
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--bind", default="", help="source address (e.g. 127.0.0.2)")
    ap.add_argument("--flood", nargs=2, metavar=("TOPIC", "N"),
                    help="publish N QoS 0 messages, then one QoS 1 (FLOODED once acked)")
    a = ap.parse_args()

    connack = threading.Event()
    gone = threading.Event()
    subacked = threading.Event()
    published = threading.Event()
    unsubacked = threading.Event()
    state = {"rc": None, "disc": None}

    if a.v5:
        c = mqtt.Client(client_id=a.id, protocol=mqtt.MQTTv5)
    else:
        c = mqtt.Client(client_id=a.id, clean_session=not a.persistent,
                        protocol=mqtt.MQTTv311)
    try:
        c.tls_set(ca_certs=a.cafile, certfile=a.cert, keyfile=a.key,
                  tls_version=ssl.PROTOCOL_TLS_CLIENT)
    except Exception as e:  # unreadable key or cert
        say("ERROR", type(e).__name__, e)
        return 1
    if a.will:
        c.will_set(a.will[0], a.will[1], qos=1)
    if a.username is not None:
        c.username_pw_set(a.username, a.password)

    def on_connect(cl, ud, flags, rc, props=None):
        rc = rc if isinstance(rc, int) else rc.value
        state["rc"] = rc
        say("CONNACK", rc)
        connack.set()

    def on_disconnect(cl, ud, rc, props=None):
        state["disc"] = rc if isinstance(rc, int) else rc.value
        gone.set()

    def on_subscribe(cl, ud, mid, granted, props=None):
        say("SUBACK", *[g if isinstance(g, int) else g.value for g in granted])
        subacked.set()

    def on_unsubscribe(cl, ud, mid, *rest):
        unsubacked.set()

    def on_publish(cl, ud, mid):
        published.set()

    def on_message(cl, ud, msg):
        say("MSG", msg.topic, msg.payload.decode("utf-8", "replace"))

    c.on_connect = on_connect
    c.on_disconnect = on_disconnect
    c.on_subscribe = on_subscribe
    c.on_publish = on_publish
    c.on_unsubscribe = on_unsubscribe
    c.on_message = on_message
    try:
        if a.v5:
            c.connect(a.host, a.port, keepalive=30, clean_start=not a.persistent,
                      bind_address=a.bind)
        else:
            c.connect(a.host, a.port, keepalive=30, bind_address=a.bind)
    except Exception as e:
        say("ERROR", type(e).__name__, e)
        return 1
    c.loop_start()
    try:
        deadline = time.monotonic() + a.timeout
        while not connack.is_set() and not gone.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not connack.is_set():
            say("ERROR", "no CONNACK", "(connection closed)" if gone.is_set() else "(timeout)")
            return 1
        if state["rc"] != 0:
            return 1
        def sub(flt):
            subacked.clear()
            c.subscribe(flt, qos=1)
            if not subacked.wait(a.timeout):
                say("ERROR", "no SUBACK")
                return False
            return True

        def pub(topic, msg, retain):
            published.clear()
            c.publish(topic, msg, qos=1, retain=retain)
            if not published.wait(a.timeout):
                say("ERROR", "no PUBACK")
                return False
            say("PUBLISHED")
            return True

        for flt in a.sub:
            if not sub(flt):
                return 1
        if a.pub and not pub(a.pub[0], a.pub[1], a.retain):
            return 1
        if a.flood:
            for i in range(int(a.flood[1])):
                c.publish(a.flood[0], str(i), qos=0)
            # QoS 1 after QoS 0 on one connection: its PUBACK means the
            # broker has handled every message before it.
            last = c.publish(a.flood[0], "last", qos=1)
            last.wait_for_publish(a.timeout * 3)
            if not last.is_published():
                say("ERROR", "no PUBACK")
                return 1
            say("FLOODED", int(a.flood[1]) + 1)
        if a.stay > 0:
            say("READY")
            end = time.monotonic() + a.stay
            done = 0
            while not gone.wait(0.05 if a.commands else a.stay):
                if time.monotonic() >= end:
                    break
                if not a.commands:
                    continue
                try:
                    with open(a.commands) as f:
                        lines = f.read().split("\n")[:-1]
                except FileNotFoundError:
                    lines = []
                for line in lines[done:]:
                    done += 1
                    w = line.split(" ", 2)
                    if w[0] == "sub" and not sub(w[1]):
                        return 1
                    if w[0] == "unsub":
                        unsubacked.clear()
                        c.unsubscribe(w[1])
                        if not unsubacked.wait(a.timeout):
                            say("ERROR", "no UNSUBACK")
                            return 1
                    if w[0] in ("pub", "pubr") and not pub(w[1], w[2], w[0] == "pubr"):
                        return 1
                    say("DONE", done)
            if gone.is_set():
                say("DISCONNECTED", state["disc"])
                return 3
        c.disconnect()
        return 0
    finally:
        c.loop_stop()


if __name__ == "__main__":
    sys.exit(main())
