#!/bin/bash
# bench/connrate.sh — HTTP through each relay to one nginx backend (a small
# "hello" body), measured with wrk -t2 -c50 -d SECS (default 5):
#   new connections/s: every request on a new connection
#                      (-H "Connection: close": the backend closes after it);
#   keep-alive:        requests/s and p99 latency on 50 kept connections.
# Median of ROUNDS (default 3) rounds, each running every contender in turn
# (each round starting with the next one; each contender with its own
# backend port, so no run meets the previous one's TIME_WAIT sockets);
# p99 in ms is the median of the rounds' p99s; errors are wrk's socket
# errors plus non-2xx answers, summed over the rounds. The relay's CPU time
# (its cpuacct cgroup, see peers.sh) per connection / per request tells its
# own cost apart from wrk's and the backend's, which share the CPUs.
# A run disturbed by other processes on the machine is repeated (lib.sh
# clean_run) or marked "*".
#   BENCH_SECS, BENCH_ROUNDS, CONTENDERS override the defaults.
. "$(dirname "$0")/lib.sh"
. "$TOP/bench/peers.sh"
SECS=${BENCH_SECS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
LIST=${CONTENDERS:-$CONTENDERS_ALL}

# One backend port per contender: a run leaves ~100,000 TIME_WAIT sockets
# behind for 60 s; the next contender's connects then never collide with
# the previous one's on the same address.
declare -A BE
read -r -a ports < <(free_ports "$(echo $LIST | wc -w)")
i=0
for c in $LIST; do BE[$c]=${ports[$i]} i=$((i + 1)); done
nginx_backend "${ports[@]}"

# wrk through the relay, and the relay's CPU time per request (per
# connection with "Connection: close"): "req/s p99_ms errors cpu_us|-".
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

declare -A CR CL CE CC KR KL KE KC
for round in $(seq 1 "$ROUNDS"); do
	for c in $(rotate $((round - 1)) $LIST); do
		relay_start "$c" "${BE[$c]}"
		clean_run out wrk_cpu "http://127.0.0.1:$RPORT/" "$SECS" -H "Connection: close"
		read -r r l e u <<<"$out"
		r=$(mark "${r%.*}") l=$(mark "$l")
		CR[$c]="${CR[$c]:-} $r" CL[$c]="${CL[$c]:-} $l" CE[$c]=$((${CE[$c]:-0} + e))
		if [ "$u" != - ]; then CC[$c]="${CC[$c]:-} $(mark "$u")"; fi
		clean_run out wrk_cpu "http://127.0.0.1:$RPORT/" "$SECS"
		read -r r2 l2 e2 u2 <<<"$out"
		r2=$(mark "${r2%.*}") l2=$(mark "$l2")
		KR[$c]="${KR[$c]:-} $r2" KL[$c]="${KL[$c]:-} $l2" KE[$c]=$((${KE[$c]:-0} + e2))
		if [ "$u2" != - ]; then KC[$c]="${KC[$c]:-} $(mark "$u2")"; fi
		relay_stop
		echo "round $round: $c  close: $r conn/s p99 $l ms ($e errors) relay CPU $u µs/conn;" \
			"keep-alive: $r2 req/s p99 $l2 ms ($e2 errors) relay CPU $u2 µs/req" >&2
	done
done

printf '\n%-15s %8s %7s %6s %7s  %-20s %8s %7s %6s %7s  %s\n' contender "conn/s" "p99 ms" "errs" \
	"µs/conn" "runs" "ka req/s" "p99 ms" "errs" "µs/req" "runs"
for c in $LIST; do
	cr=$(median ${CR[$c]}) cl=$(median_f ${CL[$c]})
	kr=$(median ${KR[$c]}) kl=$(median_f ${KL[$c]})
	cc=- kc=-
	if [ -n "${CC[$c]:-}" ]; then cc=$(median_f ${CC[$c]}); fi
	if [ -n "${KC[$c]:-}" ]; then kc=$(median_f ${KC[$c]}); fi
	printf '%-15s %8s %7s %6s %7s  %-20s %8s %7s %6s %7s  %s\n' "$c" "$cr" "$cl" "${CE[$c]}" "$cc" \
		"${CR[$c]# }" "$kr" "$kl" "${KE[$c]}" "$kc" "${KR[$c]# }"
	record connrate "$c" "$cr" "${CR[$c]# }; errors ${CE[$c]}"
	record connrate_p99 "$c" "$cl" "${CL[$c]# }"
	record keepalive "$c" "$kr" "${KR[$c]# }; errors ${KE[$c]}"
	record keepalive_p99 "$c" "$kl" "${KL[$c]# }"
	if [ "$cc" != - ]; then record connrate_cpu "$c" "$cc" "${CC[$c]# }"; fi
	if [ "$kc" != - ]; then record keepalive_cpu "$c" "$kc" "${KC[$c]# }"; fi
done
echo "(wrk -t2 -c50 -d${SECS}s; close = -H 'Connection: close'; medians of $ROUNDS;"
echo " * = other processes used the CPUs during that run, even after retries)"
