#!/usr/bin/python3
"""The two latency figures of issue 15, measured against a running broker
with mqcert.so (bench/goals starts it).

  goals.py revoke PORT DIR MQADMIN N
      N times: connect device rvI (TLS, its certificate), run
      `mqadmin -d DIR device revoke rvI`, and time the command and how long
      after it returned the broker closed the client's connection.
  goals.py issue PORT DIR MQADMIN N
      N times: run `mqadmin -d DIR device issue nwI`, then connect with the
      new certificate again and again (each attempt a fresh TLS connection)
      until the broker accepts it; time the command and the first accepted
      CONNACK after the command returned. Each step also times one connect
      of a device known from the start (bp0), the client's own cost of a
      connect ("control"): an accept time near it means the device was in
      force at the first attempt.

Prints one line per step (`revoke i cmd_ms drop_ms`, `issue i cmd_ms
accept_ms tries=T control_ms`) and a summary `NAME_cmd_p50_ms= ... NAME_p99_ms= ...`. A client
not dropped (or not accepted) within 30 s fails the run (exit 1).
GOALS_TAG=X names the devices rvXI / nwXI instead (a second run on a PKI).
"""
import os
import ssl
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt

LIMIT = 30.0
TAG = os.environ.get("GOALS_TAG", "")


def client(port, d, name):
    c = mqtt.Client(client_id=name, protocol=mqtt.MQTTv311)
    c.tls_set(ca_certs=os.path.join(d, "ca.crt"),
              certfile=os.path.join(d, "devices", name, name + ".crt"),
              keyfile=os.path.join(d, "devices", name, name + ".key"),
              tls_version=ssl.PROTOCOL_TLSv1_2)
    return c


def connect(port, d, name):
    """Connects once: the CONNACK's return code (0 accepted), -1 when the
    connection closed without one. The client stays connected on 0."""
    c = client(port, d, name)
    res = {}
    ev = threading.Event()
    gone = threading.Event()

    def on_connect(cl, ud, flags, rc):
        res["rc"] = rc
        ev.set()

    def on_disconnect(cl, ud, rc):
        res.setdefault("rc", -1)
        gone.set()
        ev.set()

    c.on_connect = on_connect
    c.on_disconnect = on_disconnect
    try:
        c.connect("127.0.0.1", port)
    except (OSError, ssl.SSLError):
        return -1, None, None
    c.loop_start()
    if not ev.wait(LIMIT):
        c.loop_stop()
        return -1, None, None
    if res["rc"] != 0:
        c.loop_stop()
        try:
            c.disconnect()
        except Exception:
            pass
        return res["rc"], None, None
    return 0, c, gone


def pct(v, p):
    s = sorted(v)
    return s[min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))]


def summary(name, cmd, lat, extra=""):
    print("%s_cmd_p50_ms=%.1f %s_cmd_p99_ms=%.1f %s_cmd_max_ms=%.1f %s_p50_ms=%.1f %s_p99_ms=%.1f "
          "%s_max_ms=%.1f n=%d%s" % (name, pct(cmd, 50), name, pct(cmd, 99), name, max(cmd),
                                     name, pct(lat, 50), name, pct(lat, 99), name, max(lat),
                                     len(lat), extra), flush=True)


def run(mqadmin, d, *args):
    t0 = time.monotonic()
    p = subprocess.run([mqadmin, "-d", d] + list(args), stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    t1 = time.monotonic()
    if p.returncode != 0:
        sys.stderr.write("goals.py: mqadmin %s failed: %s\n" % (" ".join(args),
                                                                p.stderr.decode(errors="replace")))
        sys.exit(1)
    return t0, t1


def revoke(port, d, mqadmin, n):
    cmd, lat = [], []
    for i in range(n):
        name = "rv%s%d" % (TAG, i)
        rc, c, gone = connect(port, d, name)
        if rc != 0:
            sys.stderr.write("goals.py: %s was refused before its revocation (rc %d)\n" % (name, rc))
            return 1
        t0, t1 = run(mqadmin, d, "device", "revoke", name)
        if not gone.wait(LIMIT):
            sys.stderr.write("goals.py: %s still connected %d s after its revocation\n"
                             % (name, LIMIT))
            return 1
        t2 = time.monotonic()
        c.loop_stop()
        cmd.append((t1 - t0) * 1000)
        lat.append(max(0.0, t2 - t1) * 1000)
        print("revoke %d %.1f %.1f" % (i, cmd[-1], lat[-1]), flush=True)
    summary("revoke", cmd, lat)
    return 0


def issue(port, d, mqadmin, n):
    cmd, lat, ctl = [], [], []
    for i in range(n):
        name = "nw%s%d" % (TAG, i)
        c0 = time.monotonic()
        rc, c, _ = connect(port, d, "bp0")
        if rc != 0:
            sys.stderr.write("goals.py: the control device bp0 was refused (rc %d)\n" % rc)
            return 1
        ctl.append((time.monotonic() - c0) * 1000)
        c.disconnect()
        c.loop_stop()
        t0, t1 = run(mqadmin, d, "device", "issue", name)
        tries = 0
        while True:
            tries += 1
            rc, c, _ = connect(port, d, name)
            if rc == 0:
                t2 = time.monotonic()
                c.disconnect()
                c.loop_stop()
                break
            if time.monotonic() - t1 > LIMIT:
                sys.stderr.write("goals.py: %s not accepted %d s after it was issued\n"
                                 % (name, LIMIT))
                return 1
        cmd.append((t1 - t0) * 1000)
        lat.append((t2 - t1) * 1000)
        print("issue %d %.1f %.1f tries=%d %.1f" % (i, cmd[-1], lat[-1], tries, ctl[-1]),
              flush=True)
    summary("issue", cmd, lat, " control_p50_ms=%.1f control_p99_ms=%.1f" % (pct(ctl, 50),
                                                                             pct(ctl, 99)))
    return 0


def main():
    if len(sys.argv) != 6 or sys.argv[1] not in ("revoke", "issue"):
        sys.stderr.write(__doc__)
        return 2
    mode, port, d, mqadmin, n = sys.argv[1:]
    return (revoke if mode == "revoke" else issue)(int(port), d, mqadmin, int(n))


if __name__ == "__main__":
    sys.exit(main())
