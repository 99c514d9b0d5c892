#!/usr/bin/python3
"""The one change of the reload-stall step, made from a process that is
already running (bench/run pins it to the load generator's core), so that no
fork/exec or TLS handshake lands on the broker's core at the moment that is
measured.

  change.py run CMD [ARG...]
      runs CMD (mqcert: mqadmin device issue into the store); its process
      inherits this one's CPU pinning
  change.py dynsec PORT CAFILE CERT KEY CLIENT_ID PAYLOAD
      connects first, then publishes PAYLOAD to $CONTROL/dynamic-security/v1
      (QoS 1) and waits for dynsec's response

Prints "ready" when set up, then waits for one line on stdin (bench/run
writes it with a shell builtin) before acting and prints "done"; then stays
idle until stdin is closed, so that its own exit (interpreter teardown) does
not fall inside the measured run either. Exits 0, or 1 when the change failed.
"""
import ssl
import subprocess
import sys
import threading

TIMEOUT = 60


def run(cmd):
    print("ready", flush=True)
    if not sys.stdin.readline():
        return 1
    rc = subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode
    if rc == 0:
        print("done", flush=True)
    sys.stdin.read()
    if rc != 0:
        sys.stderr.write("change.py: %s exited %d\n" % (" ".join(cmd), rc))
        return 1
    return 0


def dynsec(port, cafile, cert, key, client_id, payload):
    import paho.mqtt.client as mqtt

    answered = threading.Event()
    c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv311)
    c.tls_set(ca_certs=cafile, certfile=cert, keyfile=key, tls_version=ssl.PROTOCOL_TLSv1_2)
    c.on_message = lambda cl, ud, m: answered.set()
    c.connect("127.0.0.1", int(port))
    c.subscribe("$CONTROL/dynamic-security/v1/response", qos=1)
    c.loop_start()
    print("ready", flush=True)
    if not sys.stdin.readline():
        return 1
    c.publish("$CONTROL/dynamic-security/v1", payload, qos=1)
    ok = answered.wait(TIMEOUT)
    if ok:
        print("done", flush=True)
    sys.stdin.read()
    c.loop_stop()
    c.disconnect()
    if not ok:
        sys.stderr.write("change.py: no answer from dynamic-security within %d s\n" % TIMEOUT)
        return 1
    return 0


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "run":
        return run(sys.argv[2:])
    if len(sys.argv) == 8 and sys.argv[1] == "dynsec":
        return dynsec(*sys.argv[2:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
