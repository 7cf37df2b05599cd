#!/bin/bash
# bench/bulktune.sh — the relay's bulk constants, measured rather than
# guessed (issue 11, point 2): the pipe size (F_SETPIPE_SZ, which is also
# the most one splice() moves: PIPE_SIZE in core/pipe_pool.h) and
# SO_SNDBUF / SO_RCVBUF of both relayed sockets (RELAY_SNDBUF, RELAY_RCVBUF
# in core/sockopt.h; 0, the default, leaves them to the kernel's
# autotuning).
#   Builds one PortMux per variant from this tree (make BUILD=... CFLAGS=
#   "-O2 -g -DNAME=VALUE"; only the core binary, ~10 s each), then runs
#   direct and every variant, each as bench/peers.sh's portmux-tp
#   (priority: throughput, workers: 1), round after round: iperf3 -t SECS
#   (default 4), 1 stream and 4 streams (-P 4), and the relay's CPU
#   seconds per GB in the 1-stream run. Prints each variant's medians, the
#   median of its rounds' own ratios to direct, and to `default` (the
#   constants as committed).
#   BENCH_SECS, BENCH_ROUNDS (default 3) override; VARIANTS replaces the
#   list ("name:-DA=1 -DB=2 ..." separated by ";"). CONTENDER=portmux-kernel
#   runs the variants with relay: kernel instead (for the kernel relay's
#   queue share, core/relay_kernel.c: "default:;q32m:-DQUEUE_MAX=33554432u;
#   q128m:-DQUEUE_MAX=134217728u"). Not part of run.sh.
. "$(dirname "$0")/lib.sh"
. "$TOP/bench/peers.sh"
SECS=${BENCH_SECS:-4}
ROUNDS=${BENCH_ROUNDS:-3}
CONTENDER=${CONTENDER:-portmux-tp}
VARIANTS=${VARIANTS:-"default:;pipe64k:-DPIPE_SIZE=65536;pipe256k:-DPIPE_SIZE=262144;pipe4m:-DPIPE_SIZE=4194304;buf1m:-DRELAY_SNDBUF=1048576 -DRELAY_RCVBUF=1048576;buf4m:-DRELAY_SNDBUF=4194304 -DRELAY_RCVBUF=4194304;rcv1m:-DRELAY_RCVBUF=1048576"}

# ---- the builds ----
declare -A BINOF
NAMES=""
IFS=';' read -r -a specs <<<"$VARIANTS"
for spec in "${specs[@]}"; do
	name=${spec%%:*}
	defs=${spec#*:}
	echo "building $name ($defs)" >&2
	make -s -C "$TOP" BUILD="$B/build-$name" CFLAGS="-O2 -g $defs" \
		"$B/build-$name/portmux" >"$B/make-$name.log" 2>&1 ||
		{ cat "$B/make-$name.log" >&2; exit 1; }
	BINOF[$name]=$B/build-$name/portmux
	NAMES="$NAMES $name"
done

S=$(free_port)
bg iperf3-server iperf3 -s -p "$S"
wait_port "$S"

iperf() { # PORT [-P 4]: prints "Gbit/s bytes_received"
	local port=$1
	shift
	timeout $((SECS + 25)) iperf3 -c 127.0.0.1 -p "$port" -t "$SECS" -J "$@" >"$B/iperf.json" 2>&1 || true
	$PY -c 'import json, sys
try:
    r = json.load(open(sys.argv[1]))["end"]["sum_received"]
    print("%.2f %d" % (r["bits_per_second"] / 1e9, r["bytes"]))
except Exception:
    print("0 0")' "$B/iperf.json"
}

declare -A G1 G4 CPU Q1 Q4 D1 D4
for round in $(seq 1 "$ROUNDS"); do
	declare -A r1=() r4=()
	for name in $(rotate $((round - 1)) direct $NAMES); do
		if [ "$name" = direct ]; then
			relay_start direct "$S"
		else
			BIN=${BINOF[$name]}
			relay_start "$CONTENDER" "$S"
		fi
		before=0
		if [ -n "$RPID" ]; then before=$(relay_cpu); fi
		read -r g1 bytes < <(iperf "$RPORT")
		cpu=-
		if [ -n "$RPID" ] && [ "$bytes" -gt 0 ]; then
			cpu=$(calc "($(relay_cpu) - $before) / ($bytes / 1e9)" 3)
			CPU[$name]="${CPU[$name]:-} $cpu"
		fi
		read -r g4 _ < <(iperf "$RPORT" -P 4)
		relay_stop
		G1[$name]="${G1[$name]:-} $g1"
		G4[$name]="${G4[$name]:-} $g4"
		r1[$name]=$g1 r4[$name]=$g4
		echo "round $round: $name  1 stream $g1 Gbit/s, 4 streams $g4, relay CPU s/GB $cpu" >&2
		sleep 0.5
	done
	for name in $NAMES; do
		[ "$(calc "${r1[direct]} > 0 and ${r4[direct]} > 0 and ${r1[default]:-0} > 0 and ${r4[default]:-0} > 0" 0)" = 1 ] || break
		Q1[$name]="${Q1[$name]:-} $(calc "${r1[$name]} / ${r1[direct]}" 3)"
		Q4[$name]="${Q4[$name]:-} $(calc "${r4[$name]} / ${r4[direct]}" 3)"
		D1[$name]="${D1[$name]:-} $(calc "${r1[$name]} / ${r1[default]}" 3)"
		D4[$name]="${D4[$name]:-} $(calc "${r4[$name]} / ${r4[default]}" 3)"
	done
done

printf '\n%-10s %-42s %7s %8s %9s %7s %8s %9s %9s\n' variant "built with" "1 strm" "×dir/rnd" "×default" "4 strm" \
	"×dir/rnd" "×default" "CPU s/GB"
for spec in direct "${specs[@]}"; do
	name=${spec%%:*}
	defs=-
	[ "$name" = direct ] || defs=${spec#*:}
	[ -n "$defs" ] || defs="(as committed)"
	q1=- q4=- d1=- d4=- cg=-
	if [ -n "${Q1[$name]:-}" ]; then
		q1=$(median_f ${Q1[$name]}) q4=$(median_f ${Q4[$name]})
		d1=$(median_f ${D1[$name]}) d4=$(median_f ${D4[$name]})
	fi
	[ -z "${CPU[$name]:-}" ] || cg=$(median_f ${CPU[$name]})
	printf '%-10s %-42s %7s %8s %9s %7s %8s %9s %9s\n' "$name" "$defs" "$(median_f ${G1[$name]})" "$q1" "$d1" \
		"$(median_f ${G4[$name]})" "$q4" "$d4" "$cg"
	record bulktune1 "$name" "$(median_f ${G1[$name]})" "${G1[$name]# }"
	record bulktune4 "$name" "$(median_f ${G4[$name]})" "${G4[$name]# }"
	[ "$cg" = - ] || record bulktune_cpu_gb "$name" "$cg" "${CPU[$name]# }"
done
echo "(Gbit/s received by iperf3 -t $SECS on loopback through PortMux as $CONTENDER, workers: 1;"
echo " medians of $ROUNDS rounds; ×dir/rnd and ×default: medians of each round's own ratio to direct and"
echo " to the default build; CPU: the relay's seconds per GB in the 1-stream run)"
