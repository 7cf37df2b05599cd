#!/bin/bash
# bench/ab.sh — two or more PortMux builds side by side on short
# connections: new connections/s and relay CPU per connection, in
# interleaved rounds (A B A B ...), each round's figures also as a ratio to
# the first build's of the same round, and the median of those ratios.
#
# What a change to the connection path is worth, measured so that the
# machine's drift does not decide it: on the development VM one build's CPU
# per connection moves by ±25 % within minutes, more than most changes; two
# builds measured seconds apart, round after round, see the same machine.
#
#   bench/ab.sh NAME=BINARY NAME=BINARY ...
#     e.g. bench/ab.sh old=/tmp/old/build/portmux new=build/portmux
#   A BINARY may be followed by :VAR=VALUE, an environment variable for that
#   build's process only (old=build/portmux:PORTMUX_X=1). @CONTENDER in its
#   place runs one of bench/peers.sh's contenders instead (haproxy=@haproxy,
#   nginx=@nginx, sslh=@sslh-select): PortMux against the peers, each round
#   seconds apart, so that their ratio is not the machine's drift either.
#   BENCH_SECS (4) seconds of wrk per run, BENCH_ROUNDS (6), BENCH_MODE
#   close (-H 'Connection: close', the default) or ka (keep-alive).
#   PortMux runs as bench/peers.sh's portmux-tp (workers: 1, no limits),
#   relaying to one nginx backend; wrk -t2 -c50.
#   AB_RECORD=NAME (bench/paired.sh) also records, for every build after
#   the first, the median of the rounds' own ratios first/build as
#   NAME_cpu and NAME_rate (lib.sh record).
. "$(dirname "$0")/lib.sh"
. "$TOP/bench/peers.sh"
SECS=${BENCH_SECS:-4}
ROUNDS=${BENCH_ROUNDS:-6}
MODE=${BENCH_MODE:-close}
[ $# -ge 2 ] || { echo "usage: bench/ab.sh NAME=BINARY NAME=BINARY ..." >&2; exit 2; }
for spec in "$@"; do
	bin=${spec#*=}
	bin=${bin%%:*}
	case $bin in @*) continue ;; esac
	[ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 2; }
done
BE=$(free_port)
nginx_backend "$BE"

declare -A RATE CPU RRATIO CRATIO FRR FCR ERRS
first=${1%%=*}
for round in $(seq 1 "$ROUNDS"); do
	declare -A r_rate=() r_cpu=()
	for spec in "$@"; do
		name=${spec%%=*}
		BIN=${spec#*=}
		env_kv=""
		case $BIN in *:*) env_kv=${BIN#*:} BIN=${BIN%%:*} ;; esac
		if [ -n "$env_kv" ]; then export "${env_kv?}"; fi
		case $BIN in
		@*) relay_start "${BIN#@}" "$BE" ;;
		*) relay_start portmux-tp "$BE" ;;
		esac
		if [ -n "$env_kv" ]; then unset "${env_kv%%=*}"; fi
		before=$(relay_cpu)
		if [ "$MODE" = close ]; then
			read -r rate _ errs count < <(wrk_run "http://127.0.0.1:$RPORT/" "$SECS" -H "Connection: close")
		else
			read -r rate _ errs count < <(wrk_run "http://127.0.0.1:$RPORT/" "$SECS")
		fi
		ERRS[$name]=$((${ERRS[$name]:-0} + errs))
		after=$(relay_cpu)
		relay_stop
		cpu=$(calc "($after - $before) * 1e6 / max($count, 1)" 1)
		r_rate[$name]=${rate%.*}
		r_cpu[$name]=$cpu
		RATE[$name]="${RATE[$name]:-} ${rate%.*}"
		CPU[$name]="${CPU[$name]:-} $cpu"
		sleep 1
	done
	line="round $round:"
	for spec in "$@"; do
		name=${spec%%=*}
		rr=$(calc "${r_rate[$name]} / max(${r_rate[$first]}, 1)" 3)
		cr=$(calc "${r_cpu[$name]} / max(${r_cpu[$first]}, 0.001)" 3)
		RRATIO[$name]="${RRATIO[$name]:-} $rr"
		CRATIO[$name]="${CRATIO[$name]:-} $cr"
		FRR[$name]="${FRR[$name]:-} $(calc "${r_rate[$first]} / max(${r_rate[$name]}, 1)" 3)"
		FCR[$name]="${FCR[$name]:-} $(calc "${r_cpu[$first]} / max(${r_cpu[$name]}, 0.001)" 3)"
		line="$line  $name ${r_rate[$name]}/s ${r_cpu[$name]} µs (×$cr)"
	done
	echo "$line" >&2
done

printf '\n%-15s %10s %12s %7s %14s %14s\n' build "conn/s" "CPU µs/conn" errors "rate ×$first" "CPU ×$first"
for spec in "$@"; do
	name=${spec%%=*}
	printf '%-15s %10s %12s %7s %14s %14s\n' "$name" "$(median ${RATE[$name]})" \
		"$(median_f ${CPU[$name]})" "${ERRS[$name]}" "$(median_f ${RRATIO[$name]})" \
		"$(median_f ${CRATIO[$name]})"
	if [ -n "${AB_RECORD:-}" ] && [ "$name" != "$first" ]; then
		record "${AB_RECORD}_cpu" "$name" "$(median_f ${FCR[$name]})" "${FCR[$name]# }; errors ${ERRS[$name]}"
		record "${AB_RECORD}_rate" "$name" "$(median_f ${FRR[$name]})" "${FRR[$name]# }; errors ${ERRS[$name]}"
	fi
done
echo "(wrk -t2 -c50 -d${SECS}s, $MODE; medians of $ROUNDS interleaved rounds; the ratios are medians of each round's own ratio;"
echo " errors: wrk's socket errors and non-2xx answers, summed over the rounds)"
