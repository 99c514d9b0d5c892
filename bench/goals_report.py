#!/usr/bin/python3
"""Prints bench/goals' results (SIZE KEY VALUE lines) as the goal table of
issue 15: one column per fleet size, beside the figures of the design before
the store (policy.json at 100,000 devices, docs/BENCHMARKS.md) and the goal.

  goals_report.py RESULTS
"""
import sys


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def main():
    data = {}
    sizes = []
    for line in open(sys.argv[1]):
        p = line.split()
        if len(p) != 3:
            continue
        size, key, val = int(p[0]), p[1], p[2]
        if size not in sizes:
            sizes.append(size)
        data.setdefault(size, {})[key] = val

    def get(s, k):
        return num(data.get(s, {}).get(k))

    def ms(v):
        return "-" if v is None else ("%.0f ms" % v if v >= 10 else "%.1f ms" % v)

    # (label, today at 100k, goal text, cell(size) -> (text, value), limit, higher is better)
    def cmd_cell(p50, p99):
        return lambda s: ("%s (p99 %s)" % (ms(get(s, p50)), ms(get(s, p99))), get(s, p50))

    def p99_cell(p99, mx):
        return lambda s: ("%s (max %s)" % (ms(get(s, p99)), ms(get(s, mx))), get(s, p99))

    def startup(s):
        m, b = get(s, "startup_ms_mqcert"), get(s, "startup_ms_baseline")
        return ("%s (baseline %s)" % (ms(m), ms(b)), m)

    def memory(s):
        m, b = get(s, "Private_Dirty_kb_mqcert"), get(s, "Private_Dirty_kb_baseline")
        am, ab = get(s, "Anonymous_kb_mqcert"), get(s, "Anonymous_kb_baseline")
        if m is None or b is None:
            return ("-", None)
        d = (m - b) / 1024
        t = "%.1f MB Private_Dirty" % d
        if am is not None and ab is not None:
            t += " (%.1f MB Anonymous)" % ((am - ab) / 1024)
        return (t, d)

    def ir(s):
        m, b = get(s, "ir_mqcert_changed"), get(s, "ir_baseline")
        if m is None or b is None or not b:
            return ("-", None)
        th = data.get(s, {}).get("threads_after_changes", "?")
        t = "%.3fx (%d / %d Ir; %s thread%s" % (m / b, m, b, th, "" if th == "1" else "s")
        # Each trial's own ratio (baseline and mqcert alternate, so a
        # trial's pair ran on the same machine state): the spread.
        rs = []
        for i in range(1, 100):
            tm, tb = get(s, "ir_mqcert_changed_t%d" % i), get(s, "ir_baseline_t%d" % i)
            if tm is None and tb is None and ("ir_baseline_t%d" % i) not in data.get(s, {}):
                break
            if tm and tb:
                rs.append(tm / tb)
        if len(rs) > 1:
            t += "; median of %d trials, each %s" % (len(rs), " / ".join("%.4fx" % r for r in rs))
        return (t + ")", m / b)

    def simple(k):
        return lambda s: (ms(get(s, k)), get(s, k))

    def expiring(s):
        v = get(s, "expiring_ms")
        c = data.get(s, {}).get("expiring_count", "?")
        return ("%s (%s devices)" % (ms(v), c), v)

    def listing(s):
        t, n = get(s, "list_json_ms"), get(s, "devices")
        if not t or n is None:
            return ("-", None)
        r = n / (t / 1000)
        return ("{:,.0f} devices/s ({})".format(r, ms(t)), r)

    rows = [
        ("`device revoke` command, p50 of 20", "0.74 s", "< 50 ms",
         cmd_cell("revoke_cmd_p50_ms", "revoke_cmd_p99_ms"), 50, False),
        ("revoked client dropped, after the command returns, p99 of 20", "1.8 s", "< 200 ms",
         p99_cell("revoke_p99_ms", "revoke_max_ms"), 200, False),
        ("new device accepted, after `device issue` returns, p99 of 20", "0.6-1.2 s", "< 200 ms",
         p99_cell("issue_p99_ms", "issue_max_ms"), 200, False),
        ("  (a known device's connect, the client's own cost, p50 / p99)", "", "",
         lambda s: ("%s / %s" % (ms(get(s, "control_p50_ms")), ms(get(s, "control_p99_ms"))),
                    None), None, False),
        ("single `device issue`, p50 of 20", "0.8-1.1 s", "< 100 ms",
         cmd_cell("issue_cmd_p50_ms", "issue_cmd_p99_ms"), 100, False),
        ("broker start-up, median of 3", "0.33 s", "< 100 ms", startup, 100, False),
        ("broker private memory above baseline", "46 MB", "< 32 MB", memory, 32, False),
        ("Ir per delivery after 100 policy changes, vs baseline", "1.033x", "<= 1.01x", ir,
         1.01, False),
        ("`device show`", "-", "< 100 ms", simple("show_ms"), 100, False),
        ("`acl check`", "-", "< 100 ms", simple("acl_check_ms"), 100, False),
        ("`expiring --within 30d`", "-", "< 100 ms", expiring, 100, False),
        ("`device list --json` (streamed to /dev/null)", "-", ">= 200,000 devices/s", listing,
         200000, True),
    ]
    head = ["figure", "today at 100k (policy.json)"] + ["store, {:,} devices".format(s)
                                                        for s in sizes] + ["goal", "met at " +
                                                                           "{:,}".format(sizes[-1])]
    out = [head]
    for label, today, goal, cell, limit, higher in rows:
        cells = [cell(s) for s in sizes]
        v = cells[-1][1]
        if limit is None:
            met = ""
        elif v is None:
            met = "not measured"
        elif (v >= limit) if higher else (v <= limit if limit == 1.01 else v < limit):
            met = "yes"
        else:
            met = "**no**"
        out.append([label, today] + [c[0] for c in cells] + [goal, met])
    w = [max(len(r[i]) for r in out) for i in range(len(head))]
    for i, r in enumerate(out):
        print("| " + " | ".join(c.ljust(w[j]) for j, c in enumerate(r)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (x + 2) for x in w) + "|")
    gen = ", ".join("{:,}: {} s, data.mdb {} MB".format(s, data[s].get("genstore_s", "?"),
                                                         data[s].get("store_mb", "?"))
                    for s in sizes)
    print("\nFleet written by bench/genstore (%s). Memory: /proc/PID/smaps_rollup after the "
          "same load on both brokers; data.mdb's pages are clean file pages (page cache) and "
          "are not in Private_Dirty or Anonymous." % gen)
    return 0


if __name__ == "__main__":
    sys.exit(main())
