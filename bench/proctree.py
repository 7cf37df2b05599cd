#!/usr/bin/python3
"""bench/proctree.py — resources of a relay: a process and all its
descendants (nginx's worker, sslh-fork's and socat's per-connection children).

  proctree.py PID [--children]
      Prints one line for the process tree rooted at PID:
        procs=N cpu=SECONDS rss_kib=K pss_kib=K fds=F
      cpu   utime+stime of every live process of the tree plus cutime+cstime
            (children already reaped), from /proc/PID/stat, in seconds;
      rss   sum of VmRSS (/proc/PID/status) — counts shared pages once per
            process, so it overstates forking relays;
      pss   sum of Pss (/proc/PID/smaps_rollup) — shared pages divided;
      fds   entries of /proc/PID/fd.
      With --children, prints the PIDs of the descendants only (one line).

  proctree.py --busy [SECONDS]
      Samples every process for SECONDS (default 1) and prints those that
      used more than 10% of a CPU meanwhile (other work on the machine skews
      the benchmarks), and the machine's overall CPU use.
"""
import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def tree(root):
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def field(path, name):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_all():
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        v = st[st.rindex(")") + 2:].split()
        out[int(d)] = (int(v[11]) + int(v[12]), cmd.strip())
    return out


def busy(secs):
    def machine():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]  # total, idle + iowait
    t0, i0 = machine()
    a = cpu_all()
    time.sleep(secs)
    t1, i1 = machine()
    b = cpu_all()
    me = os.getpid()
    for pid, (t, cmd) in sorted(b.items()):
        used = (t - a.get(pid, (t, ""))[0]) / TICK / secs
        if used > 0.10 and pid != me:
            print("   %3.0f%% %d %s" % (used * 100, pid, cmd[:100]))
    print("   machine CPU use: %.0f%% of %d CPUs"
          % (100 * (1 - (i1 - i0) / max(1, t1 - t0)), os.cpu_count()))


def main():
    if sys.argv[1] == "--busy":
        busy(float(sys.argv[2]) if len(sys.argv) > 2 else 1)
        return
    root = int(sys.argv[1])
    pids = tree(root)
    if "--children" in sys.argv:
        print(" ".join(str(p) for p in pids[1:]))
        return
    cpu = rss = pss = fds = n = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                st = f.read()
        except OSError:
            continue
        v = st[st.rindex(")") + 2:].split()
        cpu += sum(int(x) for x in v[11:15])  # utime stime cutime cstime
        n += 1
        rss += field("/proc/%d/status" % p, "VmRSS")
        pss += field("/proc/%d/smaps_rollup" % p, "Pss")
        try:
            fds += len(os.listdir("/proc/%d/fd" % p))
        except OSError:
            pass
    print("procs=%d cpu=%.2f rss_kib=%d pss_kib=%d fds=%d"
          % (n, cpu / TICK, rss, pss, fds))


if __name__ == "__main__":
    main()
