#!/bin/bash
# bench/bulkwhere.sh — where the time goes in a bulk transfer (issue 11,
# point 2: "say where the time goes (perf) if not reached").
#   iperf3 -t SECS (default 6), STREAMS streams (default 1; 4 runs
#   iperf3 -P 4, whose streams share one iperf3 thread), from a client through each
#   contender (default: direct, portmux-tp, portmux-kernel) to an iperf3
#   server on 127.0.0.1. While the stream runs (from 1.5 s in, past the
#   control connection and slow start), `perf record -a` samples every CPU;
#   the samples are sorted by whose they are: the iperf3 client, the iperf3
#   server, the relay (every thread of it and of what it forked), kernel
#   threads (kworker, ksoftirqd: the kernel relay's verdicts and redirects
#   run there), idle (no task) and anything else. Each is printed in % of
#   one CPU (the machine has `nproc` × 100 %).
#   Then the bound those figures set, with one task per CPU at a time: the
#   busiest CPU carries at least max(largest task, sum of the others) when
#   three tasks share two CPUs, so "busiest %" near 100 says the stream is
#   as fast as the slowest CPU's share allows, and "idle" is what the
#   scheduler could not fill. Also the relay's top kernel functions, and
#   the CPU seconds per GB relayed of the three tasks together and of the
#   relay alone: where the CPUs are all busy (4 streams) the rate is 2
#   CPUs over that total, so the ratio of two contenders' totals is the
#   ratio of their rates.
#   ROUNDS (default 2) rounds, contenders in turn; the medians are recorded
#   (bulkwhere_* in bench/run.sh's summary; bulkwhere4_* for 4 streams).
#   BENCH_SECS, BENCH_ROUNDS, CONTENDERS override the defaults. Needs perf
#   and root (or perf_event_paranoid ≤ 0) for system-wide sampling.
. "$(dirname "$0")/lib.sh"
. "$TOP/bench/peers.sh"
SECS=${BENCH_SECS:-6}
ROUNDS=${BENCH_ROUNDS:-2}
LIST=${CONTENDERS:-direct portmux-tp portmux-kernel}
STREAMS=${STREAMS:-1}
KEY=bulkwhere
[ "$STREAMS" = 1 ] || KEY=bulkwhere$STREAMS
command -v perf >/dev/null || { echo "missing perf" >&2; exit 1; }
[ "$SECS" -ge 4 ] || SECS=4

S=$(free_port)
bg iperf3-server iperf3 -s -p "$S"
SPID=$LAST
wait_port "$S"

# Thread ids of a process and of everything it forked.
tids_of() { # PID...
	local p
	for p in "$@" $($PY "$TOP/bench/proctree.py" "$1" --children); do
		ls "/proc/$p/task" 2>/dev/null
	done | tr '\n' ' '
}

# One stream through $RPORT under perf: prints the analysis line
# "gbit client server relay kthreads idle other busiest" (% of one CPU).
measure() { # CONTENDER
	local c=$1 ip rtids stids g
	timeout $((SECS + 25)) iperf3 -c 127.0.0.1 -p "$RPORT" -t "$SECS" -P "$STREAMS" -J >"$B/w.json" 2>&1 &
	ip=$!
	sleep 1.5
	rtids=""
	if [ -n "$RPID" ]; then rtids=$(tids_of "$RPID"); fi
	stids=$(tids_of "$SPID")
	perf record -a -F 997 -g -o "$B/w.data" -- sleep $((SECS - 3)) >/dev/null 2>&1 || true
	wait "$ip" || true
	g=$($PY -c 'import json,sys
try: print("%.2f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))
except Exception: print(0)' "$B/w.json")
	perf script -i "$B/w.data" -F comm,tid,ip,sym 2>/dev/null |
		$PY -c "$WHERE_PY" "$(nproc)" "$g" "$rtids" "$stids" "$B/w.sym.$c"
}

# Reads perf script's samples (a "comm tid" line, then the call chain);
# prints the analysis line and writes what the relay's samples were doing
# (a sample counts for each step below that its call chain went through)
# to the file named last, in % of the relay's samples.
WHERE_PY='
import re, sys
ncpu, gbit, rtids, stids, symfile = sys.argv[1:6]
ncpu = int(ncpu)
relay = set(rtids.split()); server = set(stids.split())
kthread = re.compile(r"^(kworker|ksoftirqd|migration|rcu|kthreadd|cpuhp|irq/|kcompactd|kswapd|khugepaged|kdamond|idle_inject)")
what = [("reading the client: splice, socket to pipe", {"tcp_splice_read"}),
        ("reading: recv (copy mode)", {"__x64_sys_recvfrom"}),
        ("writing to the server: splice, pipe to socket", {"splice_to_socket"}),
        ("writing: send (copy mode)", {"__x64_sys_sendto"}),
        ("  the server socket receiving it (loopback softirq, in the relay)", {"net_rx_action"}),
        ("waiting: epoll_wait, epoll_ctl, io_uring_enter", {"__x64_sys_epoll_wait", "__x64_sys_epoll_ctl",
                                                            "__x64_sys_io_uring_enter"}),
        ("  switching tasks (__schedule)", {"__schedule"})]
count = {k: 0 for k in ("client", "server", "relay", "kthreads", "idle", "other")}
under = [0] * len(what)
samples = 0
def done(kind, syms):
    global samples
    if kind is None:
        return
    samples += 1
    count[kind] += 1
    if kind == "relay":
        for i, (_, want) in enumerate(what):
            if syms & want:
                under[i] += 1
kind, syms = None, set()
for line in sys.stdin:
    if not line.strip():
        continue
    if not line[0].isspace() or not re.match(r"\s+[0-9a-f]+ ", line):
        done(kind, syms)
        m = re.match(r"\s*(.*?)\s+(\d+)\s*$", line)
        comm, tid = (m.group(1), m.group(2)) if m else ("?", "?")
        if tid == "0":
            kind = "idle"
        elif tid in relay:
            kind = "relay"
        elif tid in server:
            kind = "server"
        elif comm == "iperf3":
            kind = "client"
        elif kthread.match(comm):
            kind = "kthreads"
        else:
            kind = "other"
        syms = set()
    else:
        parts = line.split()
        if len(parts) >= 2:
            syms.add(parts[1].split("+")[0])
done(kind, syms)
share = {k: (100.0 * ncpu * v / samples if samples else 0) for k, v in count.items()}
tasks = sorted((share["client"], share["server"], share["relay"]), reverse=True)
# Three tasks on two CPUs, one CPU each at a time: the busiest CPU holds
# the largest task alone or the two others together, whichever is more.
busiest = max(tasks[0], tasks[1] + tasks[2]) if ncpu == 2 and tasks[2] > 0 else tasks[0]
# CPU seconds per GB: % of one CPU / 100 over GB per second.
gbs = float(gbit) / 8 or 1
per_gb = lambda pct: "%.3f" % (pct / 100.0 / gbs)
print(gbit, *("%.0f" % share[k] for k in ("client", "server", "relay", "kthreads", "idle", "other")),
      "%.0f" % busiest, per_gb(share["client"] + share["server"] + share["relay"] + share["kthreads"]),
      per_gb(share["relay"] + (share["kthreads"] if relay else 0)))
with open(symfile, "w") as f:
    for (name, _), n in zip(what, under):
        if count["relay"] and n:
            f.write("    %5.1f %%  %s\n" % (100.0 * n / count["relay"], name))
'

declare -A ROWS
for round in $(seq 1 "$ROUNDS"); do
	for c in $(rotate $((round - 1)) $LIST); do
		relay_start "$c" "$S"
		line=$(measure "$c")
		relay_stop
		ROWS[$c]="${ROWS[$c]:-}|$line"
		echo "round $round: $c  $line" >&2
	done
done

echo
printf '%-15s %7s %7s %7s %7s %8s %6s %6s %9s %8s %8s\n' contender Gbit/s client server relay kthreads idle other "busiest" "s/GB" "relay"

for c in $LIST; do
	IFS='|' read -r -a rows <<<"${ROWS[$c]#|}"
	for r in "${rows[@]}"; do
		# shellcheck disable=SC2086
		printf '%-15s %7s %6s%% %6s%% %6s%% %7s%% %5s%% %5s%% %8s%% %8s %8s\n' "$c" $r
	done
done
echo "(% of one CPU while iperf3 runs $STREAMS stream(s), from perf samples on all $(nproc) CPUs; the relay counts"
echo " every thread of it; busiest: the least the busiest CPU carries with the three tasks"
echo " client, server and relay on $(nproc) CPUs, one CPU each at a time; s/GB: CPU seconds per GB"
echo " relayed of client, server, relay and kernel threads together; relay: of the relay (and, for a"
echo " relay, the kernel threads: the kernel relay's redirects run there))"
for c in $LIST; do
	IFS='|' read -r -a rows <<<"${ROWS[$c]#|}"
	g=() idle=() busy=() rel=() tot=()
	for r in "${rows[@]}"; do
		read -r gb _ _ rl _ id _ bz tg _ <<<"$r"
		g+=("$gb") idle+=("$id") busy+=("$bz") rel+=("$rl") tot+=("$tg")
	done
	record ${KEY}_gbit "$c" "$(median_f "${g[@]}")" "${g[*]}"
	record ${KEY}_idle "$c" "$(median_f "${idle[@]}")" "${idle[*]}"
	record ${KEY}_busiest "$c" "$(median_f "${busy[@]}")" "${busy[*]}"
	record ${KEY}_s_per_gb "$c" "$(median_f "${tot[@]}")" "${tot[*]}"
	[ "$c" = direct ] || record ${KEY}_relay "$c" "$(median_f "${rel[@]}")" "${rel[*]}"
	if [ -s "$B/w.sym.$c" ]; then
		echo "$c: where the relay spent its time (last round, % of its samples):"
		cat "$B/w.sym.$c"
	fi
done
