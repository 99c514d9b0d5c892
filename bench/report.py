#!/usr/bin/python3
"""Turns bench/run's raw results into the comparison table.

  report.py RESULTS

RESULTS has one measurement per line: `VARIANT CONFIG METRIC VALUE`
(VALUE may be `-` for a failed or skipped run). Prints, per variant and
metric, the median of each configuration, each configuration's ratio to
baseline, and mqcert's ratio to each peer.
"""
import statistics
import sys

CONFIGS = ["baseline", "acl_file", "dynsec", "mqcert"]
# metric -> (label, higher is better)
METRICS = {
    "qos0": ("QoS 0 delivered msg/s", True),
    "qos1": ("QoS 1 delivered msg/s", True),
    "connect": ("TLS connects/s", True),
    "startup_ms": ("start-up ms", False),
    "rss_mb": ("broker RSS MB at start", False),
    "rss_end_mb": ("broker RSS MB after load", False),
    "ir_per_msg": ("Ir per delivery (callgrind)", False),
    "ir_changed": ("Ir per delivery after policy changes", False),
    "ir_per_connect": ("Ir per TLS connect (callgrind)", False),
    "gap_idle_ms": ("longest delivery gap ms, no change", False),
    "gap_ms": ("longest delivery gap ms, 1 change", False),
}


def fmt(v):
    if v is None:
        return "n/a"
    if v >= 1000:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


# Rows measured for mqcert only: the peers' cells repeat their figure from
# the named row, so the ratios compare like with like.
PEERS_FROM = {"ir_changed": "ir_per_msg"}


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    return "%.3f" % (a / b)


def main():
    data = {}
    order = []
    with open(sys.argv[1]) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 4:
                continue
            variant, config, metric, value = parts
            key = (variant, metric)
            if key not in data:
                data[key] = {}
                order.append(key)
            vals = data[key].setdefault(config, [])
            if value != "-":
                vals.append(float(value))
    head = ["policy", "metric"] + CONFIGS + ["acl/base", "dyn/base", "mq/base", "mq/acl", "mq/dyn", "n"]
    rows = [head]
    for variant, metric in order:
        med = {}
        n = 0
        for c in CONFIGS:
            src = metric
            if c != "mqcert" and metric in PEERS_FROM:
                src = PEERS_FROM[metric]
            vals = data.get((variant, src), {}).get(c, [])
            med[c] = statistics.median(vals) if vals else None
            n = max(n, len(vals))
        rows.append([variant, METRICS.get(metric, (metric,))[0]] + [fmt(med[c]) for c in CONFIGS] + [
            ratio(med["acl_file"], med["baseline"]), ratio(med["dynsec"], med["baseline"]),
            ratio(med["mqcert"], med["baseline"]), ratio(med["mqcert"], med["acl_file"]),
            ratio(med["mqcert"], med["dynsec"]), str(n)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    out = []
    for j, r in enumerate(rows):
        out.append("| " + " | ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i])
                                     for i, c in enumerate(r)) + " |")
        if j == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print("\n".join(out))
    print("\npolicy = devices x rules. Cells are medians over n interleaved rounds. "
          "Ratios a/b are of those medians: above 1 means a is higher (better for rates, "
          "worse for ms, MB and Ir). In the \"after policy changes\" row only mqcert's "
          "cell is measured after changes (BENCH_CHANGES mqadmin device issue commands into its "
          "store, applied by the broker); the peers' cells repeat their Ir per delivery.")


if __name__ == "__main__":
    main()
