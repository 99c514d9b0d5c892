#!/usr/bin/python3
"""Writes the equivalent access configuration for the four benchmark setups.

  genconf.py [--no-peers] OUTDIR DEVICES RULES REAL_DEVICE...

REAL_DEVICE... are the devices that really connect (bp*, bs*, bc*), already
in the PKI's store. The fleet is padded with fake devices dev0, dev1, ... up
to DEVICES (bench/genstore writes them into the store; here they only name
the per-device rules), and with filler rules up to RULES. Writes
OUTDIR/rules.json (a policy.json holding only the rules: genstore --rules
puts them in the store for mqcert), and unless --no-peers OUTDIR/aclfile
(acl_file) and OUTDIR/dynsec.json (dynamic-security), all saying the same:

  * every device may publish to bench/<its username>/data,
  * every device may subscribe to and receive bench/+/data,
  * filler: half "all" rules on r<i>/+/# (readwrite), half per-device rules
    on devices/<dev>/x<i> (readwrite) for fake devices,
  * everything else is denied.

The filler comes first and the workload rules last wherever order matters
(acl_file pattern order, dynsec role priority), so the peers do not get an
early exit that the rule set would not give them in real use.
"""
import json
import os
import sys


def main():
    args = sys.argv[1:]
    peers = True
    if args and args[0] == "--no-peers":
        peers = False
        args = args[1:]
    if len(args) < 4:
        sys.stderr.write("usage: genconf.py [--no-peers] OUTDIR DEVICES RULES REAL_DEVICE...\n")
        return 2
    out, ndev, nrules, real_names = args[0], int(args[1]), int(args[2]), args[3:]
    nfake = max(0, ndev - len(real_names))
    fake = ["dev%d" % i for i in range(nfake)]

    # Filler rules: (kind, subject, topic).
    filler = []
    for i in range(max(0, nrules - 2)):
        if i % 2 == 0 or not fake:
            filler.append(("all", None, "r%d/+/#" % i))
        else:
            dev = fake[(i // 2) % len(fake)]
            filler.append(("device", dev, "devices/%s/x%d" % (dev, i)))

    rules = []
    for kind, subj, topic in filler:
        rules.append({"subject": "all" if kind == "all" else "device:" + subj, "topic": topic,
                      "access": "readwrite", "effect": "allow"})
    rules.append({"subject": "all", "topic": "bench/%u/data", "access": "write", "effect": "allow"})
    rules.append({"subject": "all", "topic": "bench/+/data", "access": "read", "effect": "allow"})
    for i, r in enumerate(rules):
        r["id"] = i + 1
    pol_out = {"version": 1, "generation": 1, "devices": [], "rules": rules,
               "next_rule_id": len(rules) + 1}
    write(os.path.join(out, "rules.json"), json.dumps(pol_out, indent=1) + "\n")
    if not peers:
        return 0

    # acl_file: no groups needed; per-user topics, then patterns.
    lines = []
    per_dev = {}
    for kind, subj, topic in filler:
        if kind == "device":
            per_dev.setdefault(subj, []).append(topic)
    for dev, topics in per_dev.items():
        lines.append("user %s" % dev)
        lines.extend("topic readwrite %s" % t for t in topics)
    lines.append("")
    lines.extend("pattern readwrite %s" % t for kind, _, t in filler if kind == "all")
    lines.append("pattern write bench/%u/data")
    lines.append("pattern read bench/+/data")
    write(os.path.join(out, "aclfile"), "\n".join(lines) + "\n")

    # dynsec has no %u: each real device gets its own publish role. The
    # "everyone" role holds the "all" filler at a higher priority than the
    # workload roles, like the pattern order above.
    def acl(types, topic, prio=0):
        return [{"acltype": t, "topic": topic, "allow": True, "priority": prio} for t in types]

    rw = ["publishClientSend", "publishClientReceive", "subscribePattern", "unsubscribePattern"]
    roles = [{"rolename": "everyone",
              "acls": [a for kind, _, t in filler if kind == "all" for a in acl(rw, t)]},
             {"rolename": "bench-read",
              "acls": acl(["publishClientReceive", "subscribePattern", "unsubscribePattern"], "bench/+/data")}]
    clients = []
    for name in real_names:
        roles.append({"rolename": "pub-" + name, "acls": acl(["publishClientSend"], "bench/%s/data" % name)})
        clients.append({"username": name, "roles": [
            {"rolename": "everyone", "priority": 10},
            {"rolename": "pub-" + name, "priority": 0},
            {"rolename": "bench-read", "priority": 0}]})
    # The reload-stall step sends one dynsec command as bc0 (the connect-rate
    # clients have no other topics, so the extra role does not touch them).
    roles.append({"rolename": "bench-admin", "acls":
                  acl(["publishClientSend"], "$CONTROL/dynamic-security/#") +
                  acl(["publishClientReceive", "subscribePattern"], "$CONTROL/dynamic-security/#")})
    for c in clients:
        if c["username"] == "bc0":
            c["roles"].append({"rolename": "bench-admin", "priority": 0})
    for dev, topics in per_dev.items():
        roles.append({"rolename": "dev-" + dev, "acls": [a for t in topics for a in acl(rw, t)]})
    for name in fake:
        r = [{"rolename": "everyone", "priority": 10}]
        if name in per_dev:
            r.append({"rolename": "dev-" + name})
        clients.append({"username": name, "roles": r})
    dyn = {"clients": clients, "groups": [], "roles": roles,
           "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": False,
                                "subscribe": False, "unsubscribe": True}}
    write(os.path.join(out, "dynsec.json"), json.dumps(dyn) + "\n")
    return 0


def write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
