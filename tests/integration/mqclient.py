#!/usr/bin/python3
"""A small MQTT-over-TLS client for the integration tests (paho 1.6).

Prints machine-readable lines on stdout, flushed at once:
  CONNACK <rc>          the broker's answer (0 accepted, 5 not authorised)
  ERROR <text>          TLS or socket failure before any CONNACK
  SUBACK <qos>          after --sub
  PUBLISHED             after --pub was acknowledged
  READY                 connected (and subscribed) and staying (--stay)
  MSG <topic> <payload> each message received
  DISCONNECTED <rc>     the connection was closed while staying
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


def say(*words):
    print(" ".join(str(w) for w in words), flush=True)


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
    ap.add_argument("--sub")
    ap.add_argument("--pub", nargs=2, metavar=("TOPIC", "MESSAGE"))
    ap.add_argument("--persistent", action="store_true", help="clean_session false")
    ap.add_argument("--stay", type=float, default=0, help="seconds to stay connected")
    ap.add_argument("--timeout", type=float, default=10)
    a = ap.parse_args()

    connack = threading.Event()
    gone = threading.Event()
    subacked = threading.Event()
    published = threading.Event()
    state = {"rc": None, "disc": None}

    c = mqtt.Client(client_id=a.id, clean_session=not a.persistent, protocol=mqtt.MQTTv311)
    try:
        c.tls_set(ca_certs=a.cafile, certfile=a.cert, keyfile=a.key,
                  tls_version=ssl.PROTOCOL_TLS_CLIENT)
    except Exception as e:  # unreadable key or cert
        say("ERROR", type(e).__name__, e)
        return 1
    if a.username is not None:
        c.username_pw_set(a.username, a.password)

    def on_connect(cl, ud, flags, rc):
        state["rc"] = rc
        say("CONNACK", rc)
        connack.set()

    def on_disconnect(cl, ud, rc):
        state["disc"] = rc
        gone.set()

    def on_subscribe(cl, ud, mid, granted):
        say("SUBACK", *granted)
        subacked.set()

    def on_publish(cl, ud, mid):
        published.set()

    def on_message(cl, ud, msg):
        say("MSG", msg.topic, msg.payload.decode("utf-8", "replace"))

    c.on_connect = on_connect
    c.on_disconnect = on_disconnect
    c.on_subscribe = on_subscribe
    c.on_publish = on_publish
    c.on_message = on_message
    try:
        c.connect(a.host, a.port, keepalive=30)
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
        if a.sub:
            c.subscribe(a.sub, qos=1)
            if not subacked.wait(a.timeout):
                say("ERROR", "no SUBACK")
                return 1
        if a.pub:
            c.publish(a.pub[0], a.pub[1], qos=1)
            if not published.wait(a.timeout):
                say("ERROR", "no PUBACK")
                return 1
            say("PUBLISHED")
        if a.stay > 0:
            say("READY")
            if gone.wait(a.stay):
                say("DISCONNECTED", state["disc"])
                return 3
        c.disconnect()
        return 0
    finally:
        c.loop_stop()


if __name__ == "__main__":
    sys.exit(main())
