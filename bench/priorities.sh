#!/bin/bash
# bench/priorities.sh — do PortMux's priorities do what they say? PortMux
# with each backend `priority:` (latency, both, throughput; workers: 1), and
# for reference direct (no relay), haproxy (nbthread 1) and nginx stream
# (worker_processes 1), each measured on:
#   (a) latency: bench/pingpong.c (built here with cc) — one connection
#       through the relay to a C echo server, TCP_NODELAY on the client,
#       N (BENCH_PP_COUNT, default 20000) round trips of 64 bytes after a
#       warm-up; p50, p99 and p99.9 in µs, and the relay's CPU µs per round
#       trip. Then the same with each 64-byte request written in two
#       writes of 32 (BENCH_PP_SPLIT_COUNT, default 1000 round trips), to a
#       server that answers only whole requests: where Nagle is on (the
#       throughput priority) the relay holds the second half until the
#       first is acknowledged, and the backend delays that ACK (up to
#       40 ms on Linux) — what TCP_NODELAY is for; p50 and p99;
#   (b) bulk: iperf3 -t SECS (default 5), 1 stream, Gbit/s as received, and
#       the relay's CPU seconds per GB (its cpuacct cgroup, see peers.sh).
# Median of ROUNDS (default 3) rounds, each running every contender in turn
# (each round starting with the next one); a run disturbed by other
# processes is repeated (lib.sh clean_run) or marked "*". Then it says
# plainly whether `latency` has the lowest p50/p99 of the three priorities
# and `throughput` the highest Gbit/s and the lowest CPU per GB — and when
# not, which one beat it. About 3 minutes with the defaults.
#   BENCH_SECS, BENCH_ROUNDS, BENCH_PP_COUNT, CONTENDERS override the
#   defaults (a contender peers.sh knows, e.g. portmux-kernel, may be added).
. "$(dirname "$0")/lib.sh"
. "$TOP/bench/peers.sh"
SECS=${BENCH_SECS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
PP_COUNT=${BENCH_PP_COUNT:-20000}
PP_SPLIT_COUNT=${BENCH_PP_SPLIT_COUNT:-1000}
LIST=${CONTENDERS:-direct portmux-lat portmux-both portmux-tp haproxy nginx}
PRIOS="portmux-lat portmux-both portmux-tp"

cc -std=c11 -O2 -Wall -Wextra -Werror -o "$B/pingpong" "$TOP/bench/pingpong.c"
E=$(free_port)
bg echo "$B/pingpong" echo "$E" 64 # answers whole 64-byte requests
wait_port "$E"
S=$(free_port)
bg iperf3-server iperf3 -s -p "$S"
wait_port "$S"

# peers.sh starts portmux-lat and portmux-tp; `both` (the default
# priority, written out here) is started the same way.
contender_start() { # NAME BACKEND_PORT
	[ "$1" = portmux-both ] || { relay_start "$@"; return; }
	RPORT=$(free_port)
	cat >"$B/$1.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $RPORT
  log_level: warn
$(pm_workers)
$(pm_unlimited)
  fallback: {port: $2, priority: both}
CFG
	bg "$1" in_cg "$BIN" -c "$B/$1.yaml"
	RPID=$LAST
	relay_wait "$1"
}

# (a) "p50 p99 p99.9 cpu_us_per_round_trip|-" (all 0 if the client failed).
pingpong() { # COUNT PARTS
	local before=0 after p50 p99 p999 n
	if [ -n "$RPID" ]; then before=$(relay_cpu); fi
	if ! read -r p50 p99 p999 _ _ n < <(timeout 120 "$B/pingpong" client "$RPORT" "$1" 64 "$2" 2>>"$B/pingpong.err"); then
		echo "0 0 0 -"
		return 0
	fi
	if [ -n "$RPID" ]; then
		after=$(relay_cpu)
		# pingpong.c's warm-up: n / 10, at least 100 round trips
		echo "$p50 $p99 $p999 $(calc "($after - $before) * 1e6 / ($n + max($n // 10, 100))" 2)"
	else
		echo "$p50 $p99 $p999 -"
	fi
}

# (b) "Gbit/s cpu_s_per_GB|-", as throughput.sh's 1-stream run.
bulk() {
	local before=0 after g bytes
	if [ -n "$RPID" ]; then before=$(relay_cpu); fi
	timeout $((SECS + 25)) iperf3 -c 127.0.0.1 -p "$RPORT" -t "$SECS" -J >"$B/iperf.json" 2>&1 || true
	read -r g bytes < <($PY - "$B/iperf.json" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))["end"]["sum_received"]
    print("%.2f %d" % (r["bits_per_second"] / 1e9, r["bytes"]))
except Exception:
    print("0 0")
PY
)
	if [ -n "$RPID" ] && [ "$bytes" -gt 0 ]; then
		after=$(relay_cpu)
		echo "$g $(calc "($after - $before) / ($bytes / 1e9)" 3)"
	else
		echo "$g -"
	fi
}

declare -A P50 P99 P999 PCPU S50 S99 G1 GCPU
for round in $(seq 1 "$ROUNDS"); do
	for c in $(rotate $((round - 1)) $LIST); do
		contender_start "$c" "$E"
		clean_run out pingpong "$PP_COUNT" 1
		read -r p50 p99 p999 u <<<"$out"
		P50[$c]="${P50[$c]:-} $(mark "$p50")" P99[$c]="${P99[$c]:-} $(mark "$p99")"
		P999[$c]="${P999[$c]:-} $(mark "$p999")"
		if [ "$u" != - ]; then PCPU[$c]="${PCPU[$c]:-} $(mark "$u")"; fi
		clean_run out pingpong "$PP_SPLIT_COUNT" 2
		read -r s50 s99 _ _ <<<"$out"
		S50[$c]="${S50[$c]:-} $(mark "$s50")" S99[$c]="${S99[$c]:-} $(mark "$s99")"
		relay_stop
		contender_start "$c" "$S"
		clean_run out bulk
		read -r g cpu <<<"$out"
		G1[$c]="${G1[$c]:-} $(mark "$g")"
		if [ "$cpu" != - ]; then GCPU[$c]="${GCPU[$c]:-} $(mark "$cpu")"; fi
		relay_stop
		echo "round $round: $c  64 B ping-pong p50 $p50 p99 $p99 p99.9 $p999 µs," \
			"relay CPU $u µs/round trip; in 2 writes p50 $s50 p99 $s99 µs;" \
			"1 stream $g Gbit/s, relay CPU $cpu s/GB" >&2
	done
done

declare -A M50 M99 M999 MS50 MS99 MG MC
printf '\n%-13s %7s %7s %8s %9s %8s %8s  %-17s %7s %8s  %s\n' contender "p50 µs" "p99 µs" "p99.9 µs" \
	"CPU µs/rt" "2w p50" "2w p99" "p50 runs" "Gbit/s" "CPU s/GB" "Gbit/s runs"
for c in $LIST; do
	M50[$c]=$(median_f ${P50[$c]}) M99[$c]=$(median_f ${P99[$c]})
	M999[$c]=$(median_f ${P999[$c]}) MG[$c]=$(median_f ${G1[$c]})
	MS50[$c]=$(median_f ${S50[$c]}) MS99[$c]=$(median_f ${S99[$c]})
	pc=- MC[$c]=-
	if [ -n "${PCPU[$c]:-}" ]; then pc=$(median_f ${PCPU[$c]}); fi
	if [ -n "${GCPU[$c]:-}" ]; then MC[$c]=$(median_f ${GCPU[$c]}); fi
	printf '%-13s %7s %7s %8s %9s %8s %8s  %-17s %7s %8s  %s\n' "$c" "${M50[$c]}" "${M99[$c]}" \
		"${M999[$c]}" "$pc" "${MS50[$c]}" "${MS99[$c]}" "${P50[$c]# }" "${MG[$c]}" "${MC[$c]}" "${G1[$c]# }"
	record pp_p50 "$c" "${M50[$c]}" "${P50[$c]# }"
	record pp_p99 "$c" "${M99[$c]}" "${P99[$c]# }"
	record pp_p999 "$c" "${M999[$c]}" "${P999[$c]# }"
	if [ "$pc" != - ]; then record pp_cpu "$c" "$pc" "${PCPU[$c]# }"; fi
	record pp2_p50 "$c" "${MS50[$c]}" "${S50[$c]# }"
	record pp2_p99 "$c" "${MS99[$c]}" "${S99[$c]# }"
	record prio_bulk1 "$c" "${MG[$c]}" "${G1[$c]# }"
	if [ "${MC[$c]}" != - ]; then record prio_cpu_gb "$c" "${MC[$c]}" "${GCPU[$c]# }"; fi
done
echo "(64-byte ping-pong: $PP_COUNT round trips on one connection, TCP_NODELAY on the client;"
echo " CPU µs/rt = relay CPU per round trip, warm-up included; 2w = each request in 2 writes of 32 bytes,"
echo " $PP_SPLIT_COUNT round trips, to a server answering whole requests; bulk: iperf3 -t $SECS, 1 stream;"
echo " medians of $ROUNDS; * = other processes used the CPUs during that run, even after retries)"

# The verdict, among the priorities measured: does each win what it claims?
# VAR: M50 etc.; MINE: the priority that claims it; higher: 1 or 0.
verdict() { # WHAT VAR MINE HIGHER
	local what=$1 var=$2 mine=$3 higher=$4 a o b best=1 others="" close=""
	local -n m=$var
	a=${m[$mine]:-}
	if [ -z "$a" ] || [ "$a" = - ]; then return 0; fi
	for o in $PRIOS; do
		[ "$o" = "$mine" ] && continue
		b=${m[$o]:-}
		if [ -z "$b" ] || [ "$b" = - ]; then continue; fi
		if [ "$higher" = 1 ]; then
			[ "$(calc "$a > $b" 0)" = 1 ] || best=0
		else
			[ "$(calc "$a < $b" 0)" = 1 ] || best=0
		fi
		[ "$(calc "abs($a - $b) < 0.05 * max($a, $b, 1e-9)" 0)" = 1 ] && close=1
		others="$others${others:+, }${o#portmux-} $b"
	done
	[ -n "$others" ] || return 0
	local says="is the best"
	[ "$best" = 1 ] || says="is NOT the best"
	[ -z "$close" ] || says="$says (within 5 % of another: not a measurable difference)"
	printf '  %-28s %-5s %8s  vs %-22s →  %s\n' "$what" "${mine#portmux-}" "$a" "$others" "$says"
}
echo
echo "Do the priorities do what they say? (PortMux only, medians above)"
verdict "ping-pong p50 µs (lower)" M50 portmux-lat 0
verdict "ping-pong p99 µs (lower)" M99 portmux-lat 0
verdict "ping-pong p99.9 µs (lower)" M999 portmux-lat 0
verdict "in 2 writes p50 µs (lower)" MS50 portmux-lat 0
verdict "in 2 writes p99 µs (lower)" MS99 portmux-lat 0
verdict "bulk Gbit/s (higher)" MG portmux-tp 1
verdict "bulk CPU s per GB (lower)" MC portmux-tp 0
echo "(both = latency's TCP_NODELAY with throughput's relay: on bulk it runs the same code as throughput,"
echo " so a difference there is noise; on small messages latency also polls without sleeping for"
echo " latency_busy_poll after relaying, which both does not.)"
echo "(On a shared machine p99/p99.9 vary several-fold between rounds: trust what repeats in every round.)"
