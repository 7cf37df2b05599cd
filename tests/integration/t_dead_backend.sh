# A dead backend (connection refused, or a black hole that never answers)
# ends the client cleanly — an HTTP client hears 502 Bad Gateway — with one
# log line; PortMux keeps serving.
. "$(dirname "$0")/lib.sh"

P=$(free_port) DEAD=$(free_port) H=$(free_port) HOLE=$(free_port)
http_backend live "$H"
start_bg blackhole $PY "$TOOLS/backend.py" blackhole "$HOLE"
sleep 0.5
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  connect_timeout: 0.5
HTTP:
  "dead.example.com": $DEAD
  "hole.example.com": $HOLE
  "default": $H
CFG
start_portmux "$T/c.yaml"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Host: dead.example.com' "http://127.0.0.1:$P/" || true)
assert_eq "$code" "502" "dead backend"
start=$(date +%s%3N)
set +e
curl -sS --max-time 5 -H 'Host: hole.example.com' "http://127.0.0.1:$P/" >/dev/null 2>&1
set -e
ms=$(($(date +%s%3N) - start))
[ "$ms" -lt 2000 ] || fail "connect timeout took ${ms} ms"
assert_eq "$(curl -sS --max-time 5 "http://127.0.0.1:$P/")" \
	"backend=live host=127.0.0.1:$P path=/" "still serving"
sleep 0.2
log=$(pmx_log)
assert_contains "$log" "backend=127.0.0.1:$DEAD"
assert_contains "$log" "reason=connect_failed:Connection_refused"
assert_contains "$log" "key=hole.example.com backend=127.0.0.1:$HOLE"
assert_contains "$log" "reason=connect_timeout"
kill -0 "$PORTMUX_PID" || fail "portmux died"
