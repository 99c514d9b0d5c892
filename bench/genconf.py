#!/usr/bin/python3
"""Writes the equivalent access configuration for the four benchmark setups.

  genconf.py PKI_POLICY OUTDIR DEVICES RULES
  genconf.py --one-more POLICY NEXT     (NEXT = POLICY plus one device)

PKI_POLICY is the policy.json mqadmin wrote for the devices that really
connect (bp*, bs*, bc*). The policy is padded with fake devices (unique random
fingerprints, no certificate files) up to DEVICES, and with filler rules up to
RULES. Writes OUTDIR/policy.json (mqcert), OUTDIR/aclfile (acl_file) and
OUTDIR/dynsec.json (dynamic-security), all saying the same thing:

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
import secrets
import sys


def one_more(src, dst):
    """Writes dst: the policy src with one more device (the reload step)."""
    with open(src) as f:
        pol = json.load(f)
    tmpl = pol["devices"][0]["certs"][0]
    pol["devices"].append({
        "name": "bench-new-device", "username": "bench-new-device", "groups": [],
        "certs": [{"serial": secrets.token_hex(16), "fingerprint": secrets.token_hex(32),
                   "not_before": tmpl["not_before"], "not_after": tmpl["not_after"],
                   "status": "active"}]})
    pol["generation"] = pol.get("generation", 1) + 1
    write(dst, json.dumps(pol, indent=1) + "\n")
    return 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--one-more":
        return one_more(sys.argv[2], sys.argv[3])
    if len(sys.argv) != 5:
        sys.stderr.write("usage: genconf.py PKI_POLICY OUTDIR DEVICES RULES\n")
        return 2
    src, out, ndev, nrules = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    with open(src) as f:
        pol = json.load(f)
    real = [d for d in pol["devices"]]
    real_names = [d["name"] for d in real]
    nfake = max(0, ndev - len(real))
    fake = ["dev%d" % i for i in range(nfake)]
    tmpl = real[0]["certs"][0]
    devices = list(real)
    for name in fake:
        devices.append({
            "name": name, "username": name, "groups": [], "created": real[0].get("created", tmpl["not_before"]),
            "certs": [{
                "serial": secrets.token_hex(16), "fingerprint": secrets.token_hex(32),
                "not_before": tmpl["not_before"], "not_after": tmpl["not_after"], "status": "active",
            }],
        })

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
    pol_out = dict(pol)
    pol_out["devices"] = devices
    pol_out["rules"] = rules
    pol_out["next_rule_id"] = len(rules) + 1
    pol_out["generation"] = pol.get("generation", 1) + 1
    write(os.path.join(out, "policy.json"), json.dumps(pol_out, indent=1) + "\n")

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
