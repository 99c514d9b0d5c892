#!/usr/bin/python3
"""Pads a policy (mqadmin policy export) with synthetic devices for timing
mqadmin's store paths at fleet sizes (docs/STORE.md, O(change) commands).

  fleet.py IN.json OUT.json DEVICES

Devices fake0000001...: one certificate (random serial and fingerprint, no
files) whose not_after is spread evenly over the next 365 days, so that
`expiring --within 30d` finds about 8 %; every 100th device is revoked and
every 50th has a second, retired certificate that expires within 10 days
(which `expiring` must not list). Written in name order (the store's).
"""
import json
import random
import sys
import time


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def main():
    src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(src) as f:
        pol = json.load(f)
    rnd = random.Random(15)
    now = int(time.time())
    nb = iso(now - 86400)
    out = []
    for i in range(n):
        name = "fake%07d" % i
        exp = now + 86400 + (i * 7919 % n) * (364 * 86400) // n
        cert = {"serial": "%032x" % rnd.getrandbits(128),
                "fingerprint": "%064x" % rnd.getrandbits(256),
                "not_before": nb, "not_after": iso(exp), "status": "active"}
        certs = [cert]
        if i % 100 == 0:
            cert["status"] = "revoked"
            cert["revoked_at"] = nb
        if i % 50 == 1:
            old = {"serial": "%032x" % rnd.getrandbits(128),
                   "fingerprint": "%064x" % rnd.getrandbits(256),
                   "not_before": nb, "not_after": iso(now + 5 * 86400), "status": "retired",
                   "retired_at": nb, "retire_reason": "renewed"}
            certs = [old, cert]
        out.append({"name": name, "username": name, "groups": ["g%d" % (i % 10)],
                    "created": nb, "certs": certs})
    pol["devices"] = sorted(pol["devices"] + out, key=lambda d: d["name"])
    with open(dst, "w") as f:
        f.write('{"version":1,"generation":%d,"next_rule_id":%d,"crl_number":%d,"devices":[\n'
                % (pol["generation"], pol["next_rule_id"], pol["crl_number"]))
        f.write(",\n".join(json.dumps(d, separators=(",", ":")) for d in pol["devices"]))
        f.write('\n],"rules":%s}\n' % json.dumps(pol.get("rules", []), separators=(",", ":")))


if __name__ == "__main__":
    main()
