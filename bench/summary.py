#!/usr/bin/python3
"""bench/summary.py RECORDS — the summary table of bench/run.sh (the table
of DESIGN.md §6): one row per test, one column per contender, then PortMux's
best variant against the best peer, and the DESIGN §6 target with a verdict.

RECORDS holds lines "test|contender|value|detail" written by the benchmark
scripts (lib.sh record). Values are numbers, "-" (not measured / failed), or
words ("closed", "never", "mixed") for the silent-client test.
"""
import os
import sys

COLS = ["direct", "portmux-tp", "portmux-lat", "portmux-kernel", "haproxy",
        "haproxy-splice", "nginx", "sslh-select", "sslh-fork", "socat"]
# Peers that fork a process per connection: not a one-worker contender.
PER_CONN_PROCESS = ["sslh-fork", "socat"]
PORTMUX = ["portmux-tp", "portmux-lat", "portmux-kernel", "portmux"]
SHORT = {"portmux-tp": "pm-tp", "portmux-lat": "pm-lat", "portmux": "pm",
         "portmux-kernel": "pm-kernel",
         "portmux-both": "pm-both", "haproxy-splice": "haproxy-spl",
         "sslh-select": "sslh-sel"}

# test key, label, higher is better?, cell format
ROWS = [
    ("bulk1", "bulk, iperf3 1 stream (Gbit/s)", True),
    ("bulk4", "bulk, iperf3 4 streams (Gbit/s)", True),
    ("cpu_gb", "relay CPU s per GB (1 stream)", False),
    ("connrate", "new connections/s (wrk -c50, close)", True),
    ("connrate_p99", "  p99 ms, new connections", False),
    ("connrate_cpu", "  relay CPU µs per new connection", False),
    ("syscalls", "  system calls per new connection", False),
    ("instructions", "  user instructions per new connection", False),
    ("keepalive", "keep-alive requests/s (wrk -c50)", True),
    ("keepalive_p99", "  p99 ms, keep-alive", False),
    ("keepalive_cpu", "  relay CPU µs per keep-alive request", False),
    ("idle_rss", "RSS KiB per idle relayed conn", False),
    ("idle_fds", "fds per idle relayed conn", False),
    ("silent", "silent client → SSH banner (s)", False),
    ("silent_worst", "  worst ms after the 2 s timeout", False),
    ("concurrent", "concurrent relayed connections", True),
    ("concurrent_rss", "  RSS KiB per held conn (concurrent)", False),
    ("concurrent_fds", "  fds per held conn (concurrent)", False),
]

# bench/priorities.sh: PortMux's three priorities next to direct and peers.
PRIO_COLS = ["direct", "portmux-lat", "portmux-both", "portmux-tp",
             "haproxy", "nginx"]
PRIO_ROWS = [
    ("pp_p50", "64 B ping-pong p50 µs", False),
    ("pp_p99", "64 B ping-pong p99 µs", False),
    ("pp_p999", "64 B ping-pong p99.9 µs", False),
    ("pp_cpu", "  relay CPU µs per round trip", False),
    ("pp2_p50", "64 B in 2 writes p50 µs", False),
    ("pp2_p99", "64 B in 2 writes p99 µs", False),
    ("prio_bulk1", "bulk 1 stream Gbit/s", True),
    ("prio_cpu_gb", "  relay CPU s per GB", False),
]
# What each priority claims (README "Priority settings"): (test, claimant).
PRIO_CLAIMS = [("pp_p50", "portmux-lat"), ("pp_p99", "portmux-lat"),
               ("pp2_p50", "portmux-lat"), ("pp2_p99", "portmux-lat"),
               ("prio_bulk1", "portmux-tp"), ("prio_cpu_gb", "portmux-tp")]
PRIOS = ["portmux-lat", "portmux-both", "portmux-tp"]

# bench/scale.sh: 1 and 2 workers on each side.
SCALE_COLS = ["direct", "portmux-w1", "portmux-w2", "portmux-auto",
              "haproxy-t1", "haproxy-t2", "nginx-w1", "nginx-w2"]
SCALE_ROWS = [
    ("scale_connrate", "new connections/s (wrk -c50, close)", True),
    ("scale_p99", "  p99 ms", False),
    ("scale_cpu", "  relay CPU µs per new connection", False),
]
SCALE_PAIRS = [("portmux-w2", "portmux-w1"), ("portmux-auto", "portmux-w1"),
               ("haproxy-t2", "haproxy-t1"), ("nginx-w2", "nginx-w1")]


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def fmt(v):
    x = num(v)
    if x is None:
        return v
    if x == int(x) or abs(x) >= 1000:
        return "%.0f" % x
    if abs(x) >= 100:
        return "%.1f" % x
    return ("%.3f" % x).rstrip("0").rstrip(".")


def target(test, rec, pm, pm_name, peer, peer_name):
    """DESIGN §6 target for this row: (text, met?) or None."""
    d = num(rec.get(test, {}).get("direct"))
    if test == "bulk1" and d:
        return "≥0.75× direct", pm is not None and pm >= 0.75 * d
    if test == "bulk4" and d:
        return "≥0.7× direct", pm is not None and pm >= 0.7 * d
    if test == "cpu_gb" and peer:
        return "≤0.5× best peer", pm is not None and pm <= 0.5 * peer
    if test == "connrate" and peer:
        return "≥1.2× best peer", pm is not None and pm >= 1.2 * peer
    if test == "connrate_cpu" and peer:
        return "≤0.8× best peer", pm is not None and pm <= 0.8 * peer
    if test == "keepalive" and peer:
        return "≥1.15× best peer", pm is not None and pm >= 1.15 * peer
    if test == "keepalive_p99" and peer:
        return "≤ best peer", pm is not None and pm <= peer
    if test == "idle_rss":
        return "≤1 KiB", pm is not None and pm <= 1
    if test == "idle_fds":
        return "2 fds", pm is not None and pm <= 2.0001
    if test == "silent_worst":
        return "≤+5 ms, always", pm is not None and pm <= 5
    if test == "concurrent":
        want = conc_target(rec)
        return "%s (fd limit)" % "{:,}".format(want), \
            pm is not None and pm >= want
    return None


def conc_target(rec):
    """The count concurrent.sh aimed at ("... of N, ..." in its detail)."""
    for d in rec.get("concurrent_detail", {}).values():
        words = d.replace(",", " ").split()
        if "of" in words and words.index("of") + 1 < len(words):
            try:
                return int(words[words.index("of") + 1])
            except ValueError:
                pass
    return 10000


def side_table(title, rec, cols_all, rows):
    """A table of its own for the rows of one script, one column per
    contender it measured (those of cols_all first, then any other)."""
    present = [t for t, _, _ in rows if t in rec]
    if not present:
        return
    seen = set(c for t in present for c in rec[t])
    cols = [c for c in cols_all if c in seen] \
        + sorted(c for c in seen if c not in cols_all)
    table = []
    for test, label, higher in rows:
        r = rec.get(test)
        if not r:
            continue
        table.append([("↑ " if higher else "↓ ") + label]
                     + [fmt(r.get(c, "")) for c in cols])
    head = ["test"] + [SHORT.get(c, c) for c in cols]
    widths = [max(len(row[i]) for row in table + [head])
              for i in range(len(head))]

    def line(row):
        return (row[0].ljust(widths[0]) + "".join(
            "  " + row[i].rjust(widths[i]) for i in range(1, len(row))))
    print("\n" + title)
    print(line(head))
    print("-" * len(line(head)))
    for row in table:
        print(line(row))


def prio_verdicts(rec):
    """Does each priority win what it claims, among the three?"""
    out = []
    higher = {t: h for t, _, h in PRIO_ROWS}
    label = {t: lab for t, lab, _ in PRIO_ROWS}
    for test, mine in PRIO_CLAIMS:
        r = rec.get(test, {})
        a = num(r.get(mine))
        others = [(o, num(r.get(o))) for o in PRIOS
                  if o != mine and num(r.get(o)) is not None]
        if a is None or not others:
            continue
        h = higher[test]
        best = all(a > b if h else a < b for _, b in others)
        close = any(abs(a - b) < 0.05 * max(a, b, 1e-9) for _, b in others)
        says = "best" if best else "NOT the best"
        if close:
            says += " (within 5 % of another: no measurable difference)"
        out.append("  %-24s %-7s %8s vs %-30s %s" % (
            label[test].strip(), SHORT[mine], fmt(str(a)),
            ", ".join("%s %s" % (SHORT[o], fmt(str(b))) for o, b in others),
            says))
    if out:
        print("\nDo the priorities do what they say? (bench/priorities.sh)")
        print("\n".join(out))
        print("  (pm-both runs throughput's code on bulk: a difference to it"
              " there is noise; on small messages pm-lat also busy-polls)")


def ports_detail(rec):
    d = rec.get("ports_detail", {}).get("ports_1", "")
    return d.split(";")[0] if d else "a small ip_local_port_range"


def scale_ratios(rec):
    r = rec.get("scale_connrate", {})
    out = []
    for two, one in SCALE_PAIRS:
        a, b = num(r.get(two)), num(r.get(one))
        if a is not None and b:
            out.append("  %-12s / %-10s %.2f×" % (two, one, a / b))
    if out:
        print("\nnew connections/s, 2 workers over 1 (bench/scale.sh):")
        print("\n".join(out))


def paired(rec, errs):
    """bench/paired.sh: PortMux over each peer, round by round."""
    cpu, rate = rec.get("paired_cpu", {}), rec.get("paired_rate", {})
    peers = [c for c in COLS if c in cpu] + sorted(c for c in cpu
                                                   if c not in COLS)
    for key, what, want in (("paired_bulk1_rr", "1 stream", 0.75),
                            ("paired_bulk4_rr", "4 streams", 0.7)):
        for c in ("portmux-tp", "portmux-kernel"):
            v = num(rec.get(key, {}).get(c))
            if v is None:
                continue
            print("\nBulk in paired rounds (bench/paired.sh): %s over"
                  " direct, %s, the median of each round's own ratio:"
                  " %.2f×, ≥%s×: %s" % (SHORT.get(c, c), what, v, want,
                                        "met" if v >= want else "NOT MET"))
    if not peers:
        return
    print("\nNew connections in paired rounds (bench/paired.sh): PortMux"
          " (pm-tp) over each one-worker peer, the median of each round's"
          " own ratio")
    for c in peers:
        bad = "!" if (("paired_cpu", c) in errs) else ""
        print("  %-15s relay CPU per connection %5s×   new connections/s"
              " %5s×" % (c + bad, fmt(cpu.get(c, "-")), fmt(rate.get(c, "-"))))
    cs = [(num(cpu[c]), c) for c in peers if num(cpu.get(c)) is not None]
    rs = [(num(rate[c]), c) for c in peers if num(rate.get(c)) is not None]
    if cs and rs:
        wc, wr = max(cs), min(rs)
        print("  against the best peer: CPU %.2f× (%s), ≤0.8×: %s;"
              " rate %.2f× (%s), ≥1.2×: %s" % (
                  wc[0], wc[1], "met" if wc[0] <= 0.8 else "NOT MET",
                  wr[0], wr[1], "met" if wr[0] >= 1.2 else "NOT MET"))


def rate_arithmetic(rec):
    """What this run's machine allowed point 1's rate to be: with wrk and
    the backend costing B CPU-µs per connection (2 CPUs / direct's rate)
    and a relay R, the rate is CPUs / (B + R)."""
    rate, cpu = rec.get("connrate", {}), rec.get("connrate_cpu", {})
    direct = num(rate.get("direct"))
    peers = [num(cpu.get(c)) for c in ("haproxy", "haproxy-splice", "nginx",
                                       "sslh-select")]
    peers = [p for p in peers if p]
    mine = [num(cpu.get(c)) for c in ("portmux-tp", "portmux-lat")]
    mine = [m for m in mine if m]
    if not direct or not peers or not mine:
        return
    ncpu = os.cpu_count() or 1
    b = ncpu * 1e6 / direct
    best, r = min(peers), min(mine)
    need = (b + best) / 1.2 - b
    print("\nThe rate's arithmetic (issue 11 point 1, bench/connrate.sh):"
          " direct made %.0f connections/s, so wrk and the backend cost"
          " about %.0f CPU-µs per connection on %d CPUs; with the cheapest"
          " peer at %.1f µs, 1.2× its rate needs PortMux at ≤ %.1f µs (it"
          " was at %.1f: (B + peer) / (B + PortMux) = %.2f×)" % (
              direct, b, ncpu, best, need, r, (b + best) / (b + r)))


def bulkwhere(rec, key="bulkwhere", streams=1):
    """bench/bulkwhere.sh: where a bulk transfer's time goes (issue 11
    point 2), 1 stream (key bulkwhere) or 4 (bulkwhere4)."""
    g = rec.get(key + "_gbit", {})
    if "portmux-tp" not in g:
        return
    idle, busy = rec.get(key + "_idle", {}), rec.get(key + "_busiest", {})
    relay = rec.get(key + "_relay", {})
    per_gb = rec.get(key + "_s_per_gb", {})
    print("\n%d stream%s under perf (bench/bulkwhere.sh, medians), %% of one"
          " CPU:" % (streams, "" if streams == 1 else "s"))
    for c in [c for c in ("direct", "portmux-tp", "portmux-kernel") if c in g]:
        print("  %-15s %6s Gbit/s  relay %4s%%  idle %4s%%  busiest CPU"
              " at least %4s%%  all tasks %s CPU s/GB" % (
                  c, fmt(g[c]), fmt(relay.get(c, "-")),
                  fmt(idle.get(c, "-")), fmt(busy.get(c, "-")),
                  fmt(per_gb.get(c, "-"))))
    b = num(busy.get("portmux-tp"))
    if streams == 1 and b is not None and b >= 95:
        print("  pm-tp: with client, server and relay on 2 CPUs one CPU"
              " carries two of them, and it is full: the stream goes as"
              " fast as that CPU allows (direct has two tasks, one per CPU)")


def main():
    rec = {}
    errs = set()  # (test, contender) where wrk reported errors
    runs = disturbed = 0
    for line in open(sys.argv[1]):
        parts = line.rstrip("\n").split("|", 3)
        if len(parts) < 3:
            continue
        rec.setdefault(parts[0], {})[parts[1]] = parts[2]
        if parts[0] == "ports_1" and len(parts) == 4:
            rec.setdefault("ports_detail", {})["ports_1"] = parts[3]
        if parts[0] == "concurrent" and len(parts) == 4:
            rec.setdefault("concurrent_detail", {})[parts[1]] = parts[3]
        if len(parts) == 4 and "errors " in parts[3] \
                and not parts[3].rstrip().endswith("errors 0"):
            errs.add((parts[0], parts[1]))
        if parts[0] in ("bulk1", "bulk4", "connrate", "keepalive", "pp_p50",
                        "prio_bulk1", "scale_connrate") \
                and len(parts) == 4:
            figures = parts[3].split(";")[0].split()
            runs += len(figures)
            disturbed += sum(1 for f in figures if f.endswith("*"))
    cols = [c for c in COLS if any(c in r for r in rec.values())]
    if any("portmux" in r for r in rec.values()):
        cols.insert(1, "portmux")
    table = []  # rows of [label, cells..., comparison, target]
    for test, label, higher in ROWS:
        r = rec.get(test)
        if not r:
            continue
        d = num(r.get("direct"))
        cells = []
        for c in cols:
            v = r.get(c, "")
            cell = fmt(v) if v != "" else ""
            if test in ("bulk1", "bulk4") and d and num(v) is not None \
                    and c != "direct":
                cell += " (%.2f×)" % (num(v) / d)
            if (test, c) in errs:
                cell += "!"
            cells.append(cell)
        best = max if higher else min
        pms = [(num(v), c) for c, v in r.items()
               if c in PORTMUX and num(v) is not None]
        # The best peer with one worker, like PortMux: sslh-fork and socat
        # run a process per connection, so they are shown, not compared.
        peers = [(num(v), c) for c, v in r.items()
                 if c not in PORTMUX and c not in PER_CONN_PROCESS
                 and c != "direct" and num(v) is not None]
        pm, pm_name = best(pms) if pms else (None, None)
        peer, peer_name = best(peers) if peers else (None, None)
        names = "(%s / %s)" % (SHORT.get(pm_name, pm_name),
                               SHORT.get(peer_name, peer_name))
        if pm is not None and peer is not None and test == "silent_worst":
            cmp = "%+.0f ms %s" % (pm - peer, names)
        elif pm is not None and peer:
            cmp = "%.2f× %s" % (pm / peer, names)
        elif pm is not None and any(c not in PORTMUX and c != "direct"
                                    for c in r):
            cmp = "no peer managed it"
        elif pm is not None:
            cmp = "no peer measured"
        else:
            cmp = "-"
        t = target(test, rec, pm, pm_name, peer, peer_name)
        tt = ""
        if t:
            tt = "%s: %s" % (t[0], "not measured" if pm is None
                             else "met" if t[1] else "NOT MET")
        table.append([label] + cells
                     + [("↑ " if higher else "↓ ") + cmp, tt])
    head = ["test"] + [SHORT.get(c, c) for c in cols] \
        + ["portmux vs best peer", "target (DESIGN §6, issue 11)"]
    widths = [max(len(row[i]) for row in table + [head])
              for i in range(len(head))]

    def line(row):
        out = row[0].ljust(widths[0])
        for i in range(1, len(cols) + 1):
            out += "  " + row[i].rjust(widths[i])
        out += "  " + row[-2].ljust(widths[-2]) + "  " + row[-1]
        return out.rstrip()
    if table:
        print(line(head))
        print("-" * len(line(head)))
        for row in table:
            print(line(row))
    # DESIGN §4: each priority must be measurably better at what it claims.
    checks = [("bulk1", "bulk 1 stream Gbit/s", "portmux-tp", "portmux-lat", True),
              ("bulk4", "bulk 4 streams Gbit/s", "portmux-tp", "portmux-lat", True),
              ("cpu_gb", "CPU s per GB", "portmux-tp", "portmux-lat", False),
              ("keepalive_p99", "keep-alive p99 ms", "portmux-lat", "portmux-tp", False),
              ("connrate_p99", "new-connection p99 ms", "portmux-lat", "portmux-tp", False)]
    out = []
    for test, what, mine, other, higher in checks:
        a = num(rec.get(test, {}).get(mine))
        b = num(rec.get(test, {}).get(other))
        if a is None or not b:
            continue
        better = a > b if higher else a < b
        out.append("  %-22s %-11s %8s vs %-11s %8s  %.2f×  %s" % (
            what, SHORT[mine], fmt(str(a)), SHORT[other], fmt(str(b)), a / b,
            "better" if better else "NOT better"))
    if out:
        print("\nPortMux priorities (DESIGN §4: each better at what it claims):")
        print("\n".join(out))
    rate_arithmetic(rec)
    paired(rec, errs)
    bulkwhere(rec)
    bulkwhere(rec, "bulkwhere4", 4)
    side_table("Priorities: 64-byte ping-pong and 1-stream bulk"
               " (bench/priorities.sh)", rec, PRIO_COLS, PRIO_ROWS)
    prio_verdicts(rec)
    side_table("Scale: 1 and 2 workers on each side (bench/scale.sh)", rec,
               SCALE_COLS, SCALE_ROWS)
    scale_ratios(rec)
    one = rec.get("ports_1", {}).get("portmux")
    two = rec.get("ports_2", {}).get("portmux")
    src = rec.get("ports_2_sources", {}).get("portmux")
    if one is not None and two is not None:
        print("\nephemeral ports (bench/ports.sh): connections held with a "
              "backend name of 1 address: %s, of 2 addresses: %s%s (%s)"
              % (one, two, "" if src is None else
                 ", 1 address from 2 source addresses: %s" % src,
                 ports_detail(rec)))
    if errs:
        print("\n! = wrk counted socket errors or non-2xx answers in these runs: "
              + ", ".join("%s %s" % (c, t) for t, c in sorted(errs))
              + " (see the per-test tables)")
    if disturbed:
        print("\nWARNING: %d of %d throughput/rate runs were measured while other"
              " processes used the CPUs (marked * in the per-test tables)"
              % (disturbed, runs))
    print("\n↑ higher is better, ↓ lower is better; the comparison takes the"
          " better PortMux variant (pm-tp = priority throughput, pm-lat ="
          " latency) against the best one-worker peer (sslh-fork and socat fork a"
          " process per connection: shown, not compared); bulk cells add the ratio to direct;"
          " \"-\" = failed or not measured (see the per-test tables).")


if __name__ == "__main__":
    main()
