#!/bin/bash
# bench/throughput.sh — bulk throughput through each relay, and the relay's
# CPU cost per GB.
#   iperf3 -t SECS (default 5) from a client through the relay to an iperf3
#   server on 127.0.0.1, 1 stream and 4 streams (-P 4); Gbit/s as the
#   receiver counted it (end.sum_received), median of ROUNDS (default 3)
#   rounds, each round running every contender in turn; ratio to direct.
#   CPU: CPU time of the relay and everything it forked (its cpuacct cgroup,
#   else utime+stime of its process tree from /proc/PID/stat) just before
#   and just after the 1-stream run, divided by the GB received. iperf3's control
#   connection goes through the relay too (a few hundred bytes).
#   A run disturbed by other processes on the machine is repeated (lib.sh
#   clean_run) or marked "*".
#   Each contender's ratio to direct is also taken round by round, and the
#   median of those is printed ("×dir/rnd") and recorded (bulk1_rr,
#   bulk4_rr): with few contenders (bench/paired.sh: direct and
#   portmux-tp) the two runs of a round are seconds apart, so the machine's
#   drift between rounds does not enter the ratio.
#   BENCH_SECS, BENCH_ROUNDS, CONTENDERS override the defaults; BULK_KEY is
#   a prefix for the record names (bench/paired.sh: paired_).
. "$(dirname "$0")/lib.sh"
. "$TOP/bench/peers.sh"
SECS=${BENCH_SECS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
LIST=${CONTENDERS:-$CONTENDERS_ALL}

S=$(free_port)
bg iperf3-server iperf3 -s -p "$S"
wait_port "$S"

# One iperf3 run through the relay: prints "Gbit/s bytes_received".
iperf() { # PORT [-P 4]
	port=$1
	shift
	timeout $((SECS + 25)) iperf3 -c 127.0.0.1 -p "$port" -t "$SECS" -J "$@" >"$B/iperf.json" 2>&1 || true
	$PY - "$B/iperf.json" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))["end"]["sum_received"]
    print("%.2f %d" % (r["bits_per_second"] / 1e9, r["bytes"]))
except Exception:
    print("0 0")
PY
}

# The 1-stream run with the relay's CPU: prints "Gbit/s cpu_s_per_GB|-".
one_stream() {
	local before=0 after g bytes
	if [ -n "$RPID" ]; then before=$(relay_cpu); fi
	read -r g bytes < <(iperf "$RPORT")
	if [ -n "$RPID" ] && [ "$bytes" -gt 0 ]; then
		sleep 0.3 # forked children exit
		after=$(relay_cpu)
		echo "$g $(calc "($after - $before) / ($bytes / 1e9)" 3)"
	else
		echo "$g -"
	fi
}
four_streams() { iperf "$RPORT" -P 4 | cut -d' ' -f1; }

KEY=${BULK_KEY:-}
declare -A G1 G4 CPU R1 R4 r1 r4
for round in $(seq 1 "$ROUNDS"); do
	r1=() r4=()
	for c in $(rotate $((round - 1)) $LIST); do
		relay_start "$c" "$S"
		clean_run out one_stream
		read -r g1 cpu <<<"$out"
		g1=$(mark "$g1")
		if [ "$cpu" != - ]; then CPU[$c]="${CPU[$c]:-} $(mark "$cpu")"; fi
		clean_run g4 four_streams
		g4=$(mark "$g4")
		relay_stop
		G1[$c]="${G1[$c]:-} $g1"
		G4[$c]="${G4[$c]:-} $g4"
		r1[$c]=${g1%\*} r4[$c]=${g4%\*}
		echo "round $round: $c  1 stream $g1 Gbit/s, 4 streams $g4 Gbit/s, cpu/GB $cpu" >&2
	done
	# This round's ratios to direct.
	for c in $LIST; do
		[ -n "${r1[direct]:-}" ] || break
		[ "$(calc "${r1[direct]} > 0 and ${r4[direct]} > 0" 0)" = 1 ] || break
		R1[$c]="${R1[$c]:-} $(calc "${r1[$c]} / ${r1[direct]}" 3)"
		R4[$c]="${R4[$c]:-} $(calc "${r4[$c]} / ${r4[direct]}" 3)"
	done
done

d1=$(median_f ${G1[direct]:-0})
d4=$(median_f ${G4[direct]:-0})
ratio() { [ "$(calc "$2 > 0" 0)" = 1 ] && calc "$1 / $2" 2 || echo "-"; }
printf '\n%-15s %8s %6s %8s  %-17s %8s %6s %8s  %-17s %8s  %s\n' contender "1 strm" "×dir" "×dir/rnd" \
	"runs" "4 strm" "×dir" "×dir/rnd" "runs" "CPU s/GB" "runs"
for c in $LIST; do
	m1=$(median_f ${G1[$c]})
	m4=$(median_f ${G4[$c]})
	cg="-" q1="-" q4="-"
	[ -n "${CPU[$c]:-}" ] && cg=$(median_f ${CPU[$c]})
	[ -n "${R1[$c]:-}" ] && q1=$(median_f ${R1[$c]}) q4=$(median_f ${R4[$c]})
	printf '%-15s %8s %6s %8s  %-17s %8s %6s %8s  %-17s %8s  %s\n' "$c" "$m1" "$(ratio "$m1" "$d1")" \
		"$q1" "${G1[$c]# }" "$m4" "$(ratio "$m4" "$d4")" "$q4" "${G4[$c]# }" "$cg" "${CPU[$c]:- -}"
	record "${KEY}bulk1" "$c" "$m1" "${G1[$c]# }"
	record "${KEY}bulk4" "$c" "$m4" "${G4[$c]# }"
	if [ "$q1" != - ] && [ "$c" != direct ]; then
		record "${KEY}bulk1_rr" "$c" "$q1" "${R1[$c]# }"
		record "${KEY}bulk4_rr" "$c" "$q4" "${R4[$c]# }"
	fi
	if [ "$cg" != "-" ]; then record "${KEY}cpu_gb" "$c" "$cg" "${CPU[$c]# }"; fi
done
echo "(Gbit/s received by iperf3 -t $SECS on loopback, medians of $ROUNDS; ×dir/rnd: the median of each round's own ratio"
echo " to direct; CPU seconds of the relay per GB in the 1-stream run;"
echo " * = other processes used the CPUs during that run, even after retries)"
