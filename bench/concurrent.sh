#!/bin/bash
# bench/concurrent.sh — how many relayed connections each relay holds at once.
#   The backend (tcphold.py server) answers the first bytes of each
#   connection with one byte and holds it. Through each relay, a client opens
#   up to COUNT (default 10000) connections, 64 connecting at a time, sends an
#   HTTP request head on each and counts it once the backend's byte came back
#   (relayed end to end). It stops at COUNT, after 200 failures (refused,
#   reset, closed, or no answer within 5 s), when none was added for 10 s,
#   or after 60 s; one second later
#   it counts the connections still open ("alive").
#   The open-files limit is raised for everyone as far as the hard limit
#   allows (65536 wanted): a relay needs 2 descriptors per connection, so
#   with a hard limit of 20000 no single-process relay can reach 10,000.
#   direct shows what the client and backend alone manage.
#   CONTENDERS, BENCH_CONC_COUNT and BENCH_CONC_SECS override the defaults.
. "$(dirname "$0")/lib.sh"
. "$TOP/bench/peers.sh"
COUNT=${BENCH_CONC_COUNT:-10000}
SECS=${BENCH_CONC_SECS:-60}
LIST=${CONTENDERS:-direct portmux-tp haproxy nginx sslh-select sslh-fork socat}

H=$(free_port)
bg holdsrv "$PY" "$TOP/bench/tcphold.py" server "$H"
wait_port "$H"
rfield() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

echo "open files limit: $(ulimit -n) (hard $(ulimit -Hn))"
printf '%-15s %6s %6s %6s %6s  %-10s %s\n' contender held alive failed secs stop "relay afterwards"
for c in $LIST; do
	relay_start "$c" "$H"
	bg client "$PY" "$TOP/bench/tcphold.py" client "$RPORT" "$COUNT" \
		--deadline "$SECS" --inflight 64 --max-fail 200
	CLIENT=$LAST
	RESULT=""
	for _ in $(seq 1 $(((SECS + 20) * 10))); do
		RESULT=$(grep -m1 '^RESULT' "$B/client.log" || true)
		[ -n "$RESULT" ] && break
		kill -0 "$CLIENT" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$RESULT" ] || RESULT="RESULT held=0 alive=0 failed=0 secs=0 stop=client-error"
	state="-"
	if [ -n "$RPID" ]; then
		if kill -0 "$RPID" 2>/dev/null; then
			res=$(relay_res)
			state="running, $(res_field "$res" procs) procs, $(res_field "$res" fds) fds, $(calc "$(res_field "$res" rss_kib) / 1024" 0) MiB RSS"
		else
			state="died: $(grep -v '^ *$' "$B/$c.log" | tail -1 | cut -c1-70)"
		fi
		# what the relay said about limits (first such line)
		why=$(grep -m1 -iE 'too many|maxconn|paused|limit|FD_SETSIZE|EMFILE|resource' "$B/$c.log" | cut -c1-100 || true)
		[ -n "$why" ] && state="$state; log: $why"
	fi
	stop "$CLIENT"
	relay_stop
	held=$(rfield "$RESULT" held) alive=$(rfield "$RESULT" alive)
	printf '%-15s %6s %6s %6s %6s  %-10s %s\n' "$c" "$held" "$alive" "$(rfield "$RESULT" failed)" \
		"$(rfield "$RESULT" secs)" "$(rfield "$RESULT" stop)" "$state"
	record concurrent "$c" "$alive" "held $held, alive $alive of $COUNT, stop $(rfield "$RESULT" stop) after $(rfield "$RESULT" secs) s; $state"
	sleep 1 # let the backend close its side
done
echo "(connections relayed end to end and still open; target $COUNT, ≤ $SECS s each)"
