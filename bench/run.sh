#!/bin/bash
# bench/run.sh — every benchmark against every peer in one run, then one
# summary table (the table of DESIGN §6): PortMux next to direct (no
# relay), haproxy, nginx stream, sslh-select, sslh-fork and socat, with
# PortMux's ratio to the best peer and the §6 target.
#   bench/throughput.sh  iperf3 1 and 4 streams, relay CPU s per GB
#   bench/connrate.sh    wrk new connections/s and keep-alive requests/s, p99
#   bench/paired.sh      the ratios of points 1 and 2 of issue 11 without
#                        the machine's drift: bulk with direct and PortMux
#                        in turn, new connections with PortMux and each
#                        one-worker peer in turn, each ratio between runs
#                        seconds apart (about 7 minutes)
#   bench/bulkwhere.sh   where 1 stream's time goes: perf on every CPU,
#                        samples by task (client, server, relay, kernel
#                        threads, idle) and what the relay was doing
#                        (about 1 minute); bulkwhere4: the same with 4
#                        streams
#   bench/syscalls.sh    system calls (strace) and user instructions
#                        (callgrind) per new connection
#   bench/idle_rss.sh    RSS and fds per idle relayed connection (2,000)
#   bench/silent.sh      silent client → SSH banner with a 2 s probe timeout
#   bench/concurrent.sh  relayed connections held at once (as many as the
#                        hard fd limit allows one relay: 9,900 with 20,000),
#                        RSS, fds and kernel slab per connection
#   bench/priorities.sh  PortMux's priorities latency / both / throughput:
#                        64-byte ping-pong p50/p99/p99.9 and 1-stream
#                        Gbit/s and CPU per GB, next to direct, haproxy,
#                        nginx; says whether each wins what it claims
#                        (about 3 minutes)
#   bench/scale.sh       new connections/s with 1 and 2 workers on each
#                        side (PortMux workers 1/2/auto, haproxy nbthread
#                        1/2, nginx worker_processes 1/2; about 3 minutes)
#   bench/ports.sh       ephemeral ports per backend address, shrunk to 10
#                        ports in a private network namespace: 1 backend
#                        address holds 10, 2 hold 20, 1 from 2 `source`
#                        addresses 20 (root; seconds)
# Everything runs on 127.0.0.1; figures vary between machines and runs, only
# the ratios of one run count. Takes about 30 minutes. The full output (each
# test's own table, per-run numbers, the summary) is also written to
# bench/results/<timestamp>.txt. Needs: make, scripts/deps.sh bench.
#   bench/run.sh [TEST...]      e.g. bench/run.sh throughput silent
# Environment: BENCH_SECS, BENCH_ROUNDS, CONTENDERS (see each script).
set -eu -o pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
TESTS=${*:-throughput connrate paired bulkwhere bulkwhere4 syscalls idle_rss silent concurrent priorities scale ports}
BIN=${PORTMUX_BIN:-$TOP/build/portmux}
PLUGINS=${PORTMUX_PLUGIN_DIR:-$TOP/build/plugins}
[ -x "$BIN" ] || { echo "no $BIN: run make first" >&2; exit 1; }
for t in sslh sslh-select haproxy nginx socat iperf3 wrk cc; do
	command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] ||
		{ echo "missing $t: run scripts/deps.sh bench" >&2; exit 1; }
done

mkdir -p "$TOP/bench/results"
OUT=$TOP/bench/results/$(date -u +%Y%m%dT%H%M%SZ).txt
export BENCH_RECORD
BENCH_RECORD=$(mktemp "${TMPDIR:-/tmp}/portmux-bench-records.XXXXXX")
# The whole run measures one build: a copy of the binary and plugins taken
# now (a rebuild during the run must not change what is measured).
SNAP=$(mktemp -d "${TMPDIR:-/tmp}/portmux-bench-build.XXXXXX")
trap 'rm -rf "$BENCH_RECORD" "$SNAP"' EXIT
cp "$BIN" "$SNAP/portmux"
cp -r "$PLUGINS" "$SNAP/plugins"
export PORTMUX_BIN=$SNAP/portmux PORTMUX_PLUGIN_DIR=$SNAP/plugins

# Whatever else keeps the CPUs busy skews the figures: say so.
busy() {
	out=$(/usr/bin/python3 "$TOP/bench/proctree.py" --busy 2)
	if echo "$out" | grep -q '^ *[0-9]*% '; then
		printf 'WARNING: other processes are using the CPUs:\n%s\n' "$out"
	else
		echo "$out"
	fi
}
{
	echo "PortMux benchmarks, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "portmux $(cd "$TOP" && git describe --always --dirty 2>/dev/null || echo '?'), $(uname -sr), $(nproc) CPUs"
	echo "binary: $BIN, built $(date -u -r "$BIN" '+%Y-%m-%d %H:%M:%S UTC'), sha256 $(sha256sum "$BIN" | cut -c1-12)"
	changed=$(cd "$TOP" && git status --short -- core plugins include 2>/dev/null | awk '{print $2}' | tr '\n' ' ')
	[ -z "$changed" ] || echo "uncommitted changes in: $changed"
	newer=$(cd "$TOP" && find core include plugins -name '*.[ch]' -not -path 'plugins/example/*' -newer "$BIN" | tr '\n' ' ')
	[ -z "$newer" ] || echo "WARNING: sources newer than the binary (run make): $newer"
	echo "peers: $(haproxy -v 2>/dev/null | head -1 | cut -d' ' -f1-3); $(nginx -v 2>&1);" \
		"$(/usr/sbin/sslh -V 2>&1 | head -1); $(socat -V 2>/dev/null | grep -m1 'socat version' | cut -d' ' -f1-3);" \
		"$(iperf3 -v | head -1 | cut -d' ' -f1-2); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
	echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
	busy
} | tee "$OUT"

for t in $TESTS; do
	echo | tee -a "$OUT"
	echo "=== $t ($(date -u +%H:%M:%S)) ===" | tee -a "$OUT"
	script=$t
	# bulkwhere4: bench/bulkwhere.sh with 4 streams.
	[ "$t" != bulkwhere4 ] || script="env STREAMS=4 $TOP/bench/bulkwhere.sh"
	[ "$script" != "$t" ] || script=$TOP/bench/$t.sh
	[ -x "${script##* }" ] || { echo "no test $t" >&2; exit 2; }
	$script 2>&1 | tee -a "$OUT" || echo "FAILED: bench/$t.sh (exit ${PIPESTATUS[0]})" | tee -a "$OUT"
	busy | tee -a "$OUT"
done

{
	echo
	echo "=== summary ==="
	/usr/bin/python3 "$TOP/bench/summary.py" "$BENCH_RECORD"
	echo
	echo "raw records (test|contender|value|detail):"
	cat "$BENCH_RECORD"
} 2>&1 | tee -a "$OUT"
echo "written to $OUT"
