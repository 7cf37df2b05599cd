#!/bin/bash
# New connections per second (wrk -c50, "Connection: close") routed to one
# backend by a trivial Python script (python.so) and by http.so, side by
# side in one run, medians of 3. The issue's bar: Python ≥ 0.5× the C path.
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
