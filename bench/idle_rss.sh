#!/bin/bash
# bench/idle_rss.sh — memory and descriptors per idle relayed connection.
#   A backend (tcphold.py server) accepts connections, answers the first
#   bytes of each with one byte and then holds them silently. Through each
#   relay, a client opens COUNT (default 2000) connections, sends an HTTP
#   request head on each (so PortMux routes it: here to its fallback) and
#   waits for the backend's byte to come back, so every connection is
#   relayed end to end; then everything is idle.
#   After a warm-up of 50 connections (opened and closed), the relay's
#   process tree is measured before and 1 s after the COUNT connections are
#   held: (VmRSS_with - VmRSS_before) / held in KiB (summed over processes
#   for forking relays, which counts their shared pages once per child: Pss,
#   shared pages divided, is printed too) and (fds_with - fds_before) / held
#   from /proc/PID/fd. One round (memory figures hardly vary).
#   CONTENDERS and BENCH_IDLE_COUNT override the defaults.
. "$(dirname "$0")/lib.sh"
. "$TOP/bench/peers.sh"
COUNT=${BENCH_IDLE_COUNT:-2000}
LIST=${CONTENDERS:-portmux-tp portmux-lat haproxy nginx sslh-select sslh-fork socat}

H=$(free_port)
bg holdsrv "$PY" "$TOP/bench/tcphold.py" server "$H"
wait_port "$H"

# Start a client holding N connections through PORT; waits for its RESULT
# line (≤ 90 s) and leaves it in $RESULT, the client's PID in $CLIENT.
hold_open() { # PORT N NAME
	bg "$3" "$PY" "$TOP/bench/tcphold.py" client "$1" "$2" --deadline 60
	CLIENT=$LAST
	RESULT=""
	for _ in $(seq 1 900); do
		RESULT=$(grep -m1 '^RESULT' "$B/$3.log" || true)
		[ -n "$RESULT" ] && break
		kill -0 "$CLIENT" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$RESULT" ] || RESULT="RESULT held=0 alive=0 failed=0 secs=0 stop=client-error"
}
rfield() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

printf '%-15s %6s %6s %9s %9s %7s  %s\n' contender held alive "KiB/conn" "Pss/conn" "fds/conn" "notes"
for c in $LIST; do
	relay_start "$c" "$H"
	hold_open "$RPORT" 50 warmup
	stop "$CLIENT"
	sleep 0.5
	base=$(relay_res)
	hold_open "$RPORT" "$COUNT" client
	sleep 1
	note="" died=""
	if kill -0 "$RPID" 2>/dev/null; then
		with=$(relay_res)
	else
		died=1
		note="relay died: $(tail -1 "$B/$c.log" | cut -c1-70)"
	fi
	stop "$CLIENT"
	relay_stop
	held=$(rfield "$RESULT" held) alive=$(rfield "$RESULT" alive)
	if [ "$held" -lt "$COUNT" ]; then
		note="held $held of $COUNT (stop: $(rfield "$RESULT" stop), failed $(rfield "$RESULT" failed)); $note"
	fi
	kib=- pss=- fds=-
	if [ -z "$died" ] && [ "$alive" -gt 0 ]; then
		kib=$(calc "($(res_field "$with" rss_kib) - $(res_field "$base" rss_kib)) / $alive" 2)
		pss=$(calc "($(res_field "$with" pss_kib) - $(res_field "$base" pss_kib)) / $alive" 2)
		fds=$(calc "($(res_field "$with" fds) - $(res_field "$base" fds)) / $alive" 2)
	else
		with="-"
	fi
	printf '%-15s %6s %6s %9s %9s %7s  %s\n' "$c" "$held" "$alive" "$kib" "$pss" "$fds" "$note"
	echo "  $c before: $base" >&2
	echo "  $c with:   $with" >&2
	record idle_rss "$c" "$kib" "pss $pss KiB/conn; held $held alive $alive of $COUNT; $note"
	record idle_fds "$c" "$fds" "held $held alive $alive of $COUNT; $note"
done
echo "(per connection held idle through the relay, $COUNT opened; VmRSS/Pss/fds of the relay's process tree, with minus before)"
