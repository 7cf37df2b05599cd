#!/bin/bash
# bench/scale.sh — new connections/s with 1 and 2 workers on each side.
#   wrk -t2 -c50 -d SECS (default 5) -H "Connection: close" (every request
#   on a new connection) through each relay to the nginx backend of
#   connrate.sh ("hello"; its own port per contender, so no run meets the
#   previous one's TIME_WAIT sockets):
#     portmux-w1, portmux-w2   PortMux with `workers: 1`, `workers: 2`
#     portmux-auto             `workers: auto` (one per CPU: $(nproc) here)
#     haproxy-t1, haproxy-t2   haproxy mode tcp, nbthread 1, 2
#     nginx-w1, nginx-w2       nginx stream, worker_processes 1, 2 (the
#                              second with `reuseport`, as PortMux's
#                              workers have, one accept queue each)
#     direct                   no relay: the limit
#   Median of ROUNDS (default 3) rounds, each running every contender in
#   turn (each round starting with the next one); p99 in ms; errors are
#   wrk's socket errors plus non-2xx answers; the relay's CPU µs per
#   connection from its cpuacct cgroup (all its threads and processes).
#   Then each relay's 2-worker rate over its 1-worker rate. On a machine
#   with 2 CPUs, wrk and the backend share them with the relay: a second
#   worker cannot double anything there; compare the ratios side by side.
#   About 3 minutes with the defaults.
#   BENCH_SECS, BENCH_ROUNDS, CONTENDERS override the defaults.
. "$(dirname "$0")/lib.sh"
. "$TOP/bench/peers.sh"
SECS=${BENCH_SECS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
LIST=${CONTENDERS:-direct portmux-w1 portmux-w2 portmux-auto haproxy-t1 haproxy-t2 nginx-w1 nginx-w2}

declare -A BE
read -r -a ports < <(free_ports "$(echo $LIST | wc -w)")
i=0
for c in $LIST; do BE[$c]=${ports[$i]} i=$((i + 1)); done
nginx_backend "${ports[@]}"

# Workers of a contender: "1", "2" or "auto".
workers_of() {
	case $1 in
	*-w1 | *-t1) echo 1 ;;
	*-w2 | *-t2) echo 2 ;;
	*-auto) echo auto ;;
	*) echo - ;;
	esac
}

scale_start() { # NAME BACKEND_PORT
	local name=$1 be=$2 n
	n=$(workers_of "$name")
	RPORT=$(free_port)
	RPID=""
	case $name in
	direct)
		RPORT=$be
		return 0
		;;
	portmux-*)
		cat >"$B/$name.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $RPORT
  log_level: warn
  workers: $n
$(pm_unlimited)
  fallback: {port: $be}
CFG
		bg "$name" in_cg "$BIN" -c "$B/$name.yaml"
		;;
	haproxy-*)
		haproxy_conf "$RPORT" "" "	default_backend b" "backend b
	server s 127.0.0.1:$be" | sed "s/^\tnbthread 1\$/\tnbthread $n/" >"$B/$name.cfg"
		bg "$name" in_cg haproxy -db -f "$B/$name.cfg"
		;;
	nginx-*)
		local rp=""
		[ "$n" -gt 1 ] && rp=" reuseport"
		nginx_conf "$name" "server { listen 127.0.0.1:$RPORT backlog=4096$rp; proxy_pass 127.0.0.1:$be; }" |
			sed "s/^worker_processes 1;/worker_processes $n;/" >"$B/$name.conf"
		bg "$name" in_cg nginx -c "$B/$name.conf" -p "$B/$name"
		;;
	*)
		echo "unknown contender $name" >&2
		exit 2
		;;
	esac
	RPID=$LAST
	relay_wait "$name"
}

# wrk through the relay: "conn/s p99_ms errors cpu_us_per_conn|-".
wrk_cpu() { # URL SECONDS [wrk args...]
	local before=0 after r l e n
	if [ -n "$RPID" ]; then before=$(relay_cpu); fi
	read -r r l e n < <(wrk_run "$@")
	if [ -n "$RPID" ] && [ "${n:-0}" -gt 0 ]; then
		after=$(relay_cpu)
		echo "$r $l $e $(calc "($after - $before) * 1e6 / $n" 1)"
	else
		echo "$r $l $e -"
	fi
}

declare -A CR CL CE CC
for round in $(seq 1 "$ROUNDS"); do
	for c in $(rotate $((round - 1)) $LIST); do
		scale_start "$c" "${BE[$c]}"
		threads=""
		if [ -n "$RPID" ]; then
			threads=$(ls /proc/"$RPID"/task 2>/dev/null | wc -l)
		fi
		clean_run out wrk_cpu "http://127.0.0.1:$RPORT/" "$SECS" -H "Connection: close"
		read -r r l e u <<<"$out"
		r=$(mark "${r%.*}") l=$(mark "$l")
		CR[$c]="${CR[$c]:-} $r" CL[$c]="${CL[$c]:-} $l" CE[$c]=$((${CE[$c]:-0} + e))
		if [ "$u" != - ]; then CC[$c]="${CC[$c]:-} $(mark "$u")"; fi
		relay_stop
		echo "round $round: $c  $r conn/s p99 $l ms ($e errors) relay CPU $u µs/conn${threads:+ ($threads threads in the main process)}" >&2
	done
done

declare -A M
printf '\n%-13s %7s %8s %7s %6s %8s  %s\n' contender workers "conn/s" "p99 ms" errs "µs/conn" runs
for c in $LIST; do
	M[$c]=$(median ${CR[$c]})
	cl=$(median_f ${CL[$c]}) cc=-
	if [ -n "${CC[$c]:-}" ]; then cc=$(median_f ${CC[$c]}); fi
	w=$(workers_of "$c")
	[ "$w" = auto ] && w="auto=$(nproc)"
	printf '%-13s %7s %8s %7s %6s %8s  %s\n' "$c" "$w" "${M[$c]}" "$cl" "${CE[$c]}" "$cc" "${CR[$c]# }"
	record scale_connrate "$c" "${M[$c]}" "${CR[$c]# }; errors ${CE[$c]}"
	record scale_p99 "$c" "$cl" "${CL[$c]# }"
	if [ "$cc" != - ]; then record scale_cpu "$c" "$cc" "${CC[$c]# }"; fi
done
echo "(wrk -t2 -c50 -d${SECS}s -H 'Connection: close'; medians of $ROUNDS; $(nproc) CPUs shared by wrk,"
echo " the nginx backend (1 worker) and the relay; * = other processes used the CPUs during that run)"
echo
echo "2 workers over 1 (new connections/s):"
for pair in "portmux-w2 portmux-w1" "portmux-auto portmux-w1" "haproxy-t2 haproxy-t1" "nginx-w2 nginx-w1"; do
	read -r two one <<<"$pair"
	if [ -n "${M[$two]:-}" ] && [ -n "${M[$one]:-}" ] && [ "${M[$one]}" != 0 ]; then
		printf '  %-13s / %-11s %s×\n' "$two" "$one" "$(calc "${M[$two]} / ${M[$one]}" 2)"
	fi
done
