#!/bin/bash
# New connections per second (wrk -c50, "Connection: close") routed to one
# backend by a trivial Python script (python.so) and by http.so, side by
# side in one run, medians of 3. The issue's bar: Python ≥ 0.5× the C path.
# Then what one analyse() call adds to a connection (2,000 sequential
# requests each way, p50/p99 of the difference) and the memory of the
# Python processes (RSS and PSS of the zygote and of each worker).
#   bench/python_vs_http.sh [SECONDS]
. "$(dirname "$0")/lib.sh"
SECS=${1:-5}
N=$(free_port) P=$(free_port)
nginx_backend "$N"
cat >"$B/trivial.py" <<PY
def analyse(buffer):
    return $N if buffer.startswith(b"GET ") else None
PY
cat >"$B/http.yaml" <<CFG
PORTMUX: {ip: 127.0.0.1, port: $P, log_level: warn, detectors: [http], rate_per_source: 0, max_connections_per_source: 0}
HTTP: {"default": $N}
CFG
cat >"$B/python.yaml" <<CFG
PORTMUX: {ip: 127.0.0.1, port: $P, log_level: warn, detectors: [python], rate_per_source: 0, max_connections_per_source: 0}
PYTHON: {script: $B/trivial.py, timeout: 0.5}
CFG
declare -A R
for round in 1 2 3; do
	for mode in http python; do
		bg portmux "$BIN" -c "$B/$mode.yaml"
		pm=$LAST
		wait_port "$P"
		r=$(wrk_rate "http://127.0.0.1:$P/" "$SECS" -H "Connection: close")
		R[$mode]="${R[$mode]:-} ${r%% *}"
		stop "$pm"
	done
done
h=$(median ${R[http]})
p=$(median ${R[python]})
printf '%-34s %12s %8s\n' "new connections/s (wrk -c50)" "conn/s" "ratio"
printf '%-34s %12s %8s\n' "http.so (C detector)" "$h" "1.00"
printf '%-34s %12s %8s\n' "python.so (trivial analyse())" "$p" \
	"$($PY -c "print('%.2f' % ($p / $h))")"
echo "runs: http:${R[http]}  python:${R[python]}"

# One request at a time: the time a connection takes, each way.
cat >"$B/seq.py" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
req = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
t = []
for _ in range(n):
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    while s.recv(65536):
        pass
    s.close()
    t.append(time.perf_counter() - t0)
t.sort()
print("%.1f %.1f" % (t[len(t) // 2] * 1e6, t[int(len(t) * 0.99)] * 1e6))
PY
declare -A L
for mode in http python; do
	bg portmux "$BIN" -c "$B/$mode.yaml"
	pm=$LAST
	wait_port "$P"
	$PY "$B/seq.py" "$P" 200 >/dev/null # warm up
	L[$mode]=$($PY "$B/seq.py" "$P" 2000)
	if [ "$mode" = python ]; then
		zyg=$(pgrep -P "$pm" -x portmux-python)
		mem="zygote $(awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} END {print r " KiB RSS, " p " KiB PSS"}' "/proc/$zyg/smaps_rollup")"
		for w in $(pgrep -P "$zyg"); do
			mem="$mem; worker $(awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} /^Private_Dirty:/ {d=$2} END {print r " RSS, " p " PSS, " d " private"}' "/proc/$w/smaps_rollup")"
		done
		daemon_rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pm/status")
	else
		http_rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pm/status")
	fi
	stop "$pm"
done
read -r hp50 hp99 <<<"${L[http]}"
read -r pp50 pp99 <<<"${L[python]}"
printf '%-34s %10s %10s\n' "one connection, sequential (µs)" "p50" "p99"
printf '%-34s %10s %10s\n' "http.so" "$hp50" "$hp99"
printf '%-34s %10s %10s\n' "python.so" "$pp50" "$pp99"
printf '%-34s %10s %10s\n' "added by one analyse() call" \
	"$(calc "$pp50 - $hp50" 1)" "$(calc "$pp99 - $hp99" 1)"
echo "daemon RSS: $http_rss KiB with http.so, $daemon_rss KiB with python.so"
echo "Python processes (KiB): $mem"
