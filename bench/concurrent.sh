#!/bin/bash
# bench/concurrent.sh — how many relayed connections each relay holds at once.
#   The backend (tcphold.py server) answers the first bytes of each
#   connection with one byte and holds it. Through each relay, a client opens
#   up to COUNT connections, 64 connecting at a time, sends an
#   HTTP request head on each and counts it once the backend's byte came back
#   (relayed end to end). It stops at COUNT, after 200 failures (refused,
#   reset, closed, or no answer within 5 s), when none was added for 10 s,
#   or after 60 s; one second later
#   it counts the connections still open ("alive").
#   The open-files limit is raised for everyone as far as the hard limit
#   allows (65536 wanted): a relay needs 2 descriptors per connection, so
#   with a hard limit of 20000 no single-process relay can reach 10,000.
#   COUNT defaults to what one relay process can hold within the hard
#   limit: (hard limit - 200) / 2, at most 10,000 — 9,900 with a hard limit
#   of 20,000 (200 descriptors left for listeners, pipes, logs).
#   For each relay still running, its RSS and descriptors per connection:
#   (process tree's VmRSS and fds while holding them - before the client
#   started) / alive, as in idle_rss.sh (RSS summed over a forking relay's
#   processes). slab/conn: how much the machine's kernel slab memory
#   (/proc/meminfo Slab) grew while they were held, / alive: the kernel's
#   side of every socket on this host — client, relay (2) and backend, so
#   4 sockets per connection, 2 for direct (other processes' work included:
#   rough).
#   direct shows what the client and backend alone manage.
#   CONTENDERS, BENCH_CONC_COUNT and BENCH_CONC_SECS override the defaults.
. "$(dirname "$0")/lib.sh"
. "$TOP/bench/peers.sh"
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=65536
COUNT=$(((hard - 200) / 2))
[ "$COUNT" -le 10000 ] || COUNT=10000
COUNT=${BENCH_CONC_COUNT:-$COUNT}
SECS=${BENCH_CONC_SECS:-60}
LIST=${CONTENDERS:-direct portmux-tp haproxy nginx sslh-select sslh-fork socat}

H=$(free_port)
bg holdsrv "$PY" "$TOP/bench/tcphold.py" server "$H"
wait_port "$H"
rfield() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

echo "open files limit: $(ulimit -n) (hard $(ulimit -Hn))"
slab_kib() { awk '/^Slab:/ {print $2}' /proc/meminfo; }
printf '%-15s %6s %6s %6s %6s  %-10s %8s %8s %9s  %s\n' contender held alive failed secs stop \
	"KiB/conn" "fds/conn" "slab/conn" "relay afterwards"
for c in $LIST; do
	relay_start "$c" "$H"
	base=""
	if [ -n "$RPID" ]; then base=$(relay_res); fi
	slab0=$(slab_kib)
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
	state="-" kib=- fpc=- slab=-
	alive=$(rfield "$RESULT" alive)
	if [ "${alive:-0}" -gt 0 ]; then
		slab=$(calc "($(slab_kib) - $slab0) / $alive" 2)
	fi
	if [ -n "$RPID" ]; then
		if kill -0 "$RPID" 2>/dev/null; then
			res=$(relay_res)
			if [ "${alive:-0}" -gt 0 ]; then
				kib=$(calc "($(res_field "$res" rss_kib) - $(res_field "$base" rss_kib)) / $alive" 2)
				fpc=$(calc "($(res_field "$res" fds) - $(res_field "$base" fds)) / $alive" 2)
			fi
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
	printf '%-15s %6s %6s %6s %6s  %-10s %8s %8s %9s  %s\n' "$c" "$held" "$alive" "$(rfield "$RESULT" failed)" \
		"$(rfield "$RESULT" secs)" "$(rfield "$RESULT" stop)" "$kib" "$fpc" "$slab" "$state"
	record concurrent "$c" "$alive" "held $held, alive $alive of $COUNT, stop $(rfield "$RESULT" stop) after $(rfield "$RESULT" secs) s; $state"
	if [ "$kib" != - ]; then
		record concurrent_rss "$c" "$kib" "KiB per connection with $alive held"
		record concurrent_fds "$c" "$fpc" "fds per connection with $alive held"
	fi
	if [ "$slab" != - ]; then record concurrent_slab "$c" "$slab" "machine-wide kernel slab KiB per connection"; fi
	sleep 1 # let the backend close its side
done
echo "(connections relayed end to end and still open; target $COUNT, ≤ $SECS s each;"
echo " KiB/conn, fds/conn: the relay's process tree holding them minus before the client, / alive;"
echo " slab/conn: the machine's kernel slab growth meanwhile, / alive — every socket of the test, rough)"
