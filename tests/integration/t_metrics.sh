# PORTMUX.metrics: traffic through PortMux moves the counters of GET
# /metrics (by detector and route, bytes, refusals, the detection
# histogram); other paths are 404; a unix socket works too; and Debian's
# real prometheus, scraping every second, sees the counters move.
. "$(dirname "$0")/lib.sh"

P=$(free_port) A=$(free_port) D=$(free_port) M=$(free_port)
http_backend a "$A"
http_backend default "$D"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  metrics: "127.0.0.1:$M"
  deny: [ "127.0.0.2" ]
HTTP:
  "a.test": $A
  "default": $D
CFG
"$PORTMUX_BIN" -t -c "$T/c.yaml" >/dev/null || fail "portmux -t refused metrics"
start_portmux "$T/c.yaml"
wait_port "$M"

metrics() {
	curl -sS --max-time 5 "http://127.0.0.1:$M/metrics"
}
# value NAME{LABELS} — its value in a fresh scrape (empty: absent).
value() {
	metrics | awk -v k="$1" '$1 == k { print $2 }'
}
get() {
	curl -sS --max-time 5 -H "Host: $1" "http://127.0.0.1:$P/"
}

out=$(metrics)
assert_contains "$out" '# TYPE portmux_connections_total counter'
assert_contains "$out" 'portmux_connections_total{detector="http",route="a.test"} 0'
assert_contains "$out" 'portmux_build_info{version="'
assert_contains "$out" 'portmux_detection_seconds_bucket{le="+Inf"} 0'
assert_contains "$out" 'portmux_process_start_time_seconds '

for i in 1 2 3; do
	assert_eq "$(get a.test)" "backend=a host=a.test path=/" "through a.test"
done
assert_eq "$(get other.test)" "backend=default host=other.test path=/" "default"
# A client PORTMUX.deny turns away.
curl -sS --max-time 5 --interface 127.0.0.2 "http://127.0.0.1:$P/" \
	>/dev/null 2>&1 || true

# Counters move when connections close: wait for the last one.
for _ in $(seq 1 100); do
	[ "$(value 'portmux_connections_active{detector="http",route="a.test"}')" = 0 ] &&
		[ "$(value 'portmux_refused_total{reason="deny"}')" = 1 ] && break
	sleep 0.05
done
out=$(metrics)
assert_contains "$out" 'portmux_connections_total{detector="http",route="a.test"} 3'
assert_contains "$out" 'portmux_connections_total{detector="http",route="default"} 1'
assert_contains "$out" 'portmux_connections_active{detector="http",route="a.test"} 0'
assert_contains "$out" 'portmux_refused_total{reason="deny"} 1'
assert_contains "$out" 'portmux_detection_seconds_count 4'
assert_contains "$out" 'portmux_detection_seconds_bucket{le="+Inf"} 4'
up=$(echo "$out" | awk '$1 == "portmux_bytes_total{direction=\"up\"}" { print $2 }')
down=$(echo "$out" | awk '$1 == "portmux_bytes_total{direction=\"down\"}" { print $2 }')
[ "${up:-0}" -gt 100 ] || fail "bytes up: '$up'"
[ "${down:-0}" -gt 100 ] || fail "bytes down: '$down'"

# Other paths and methods; HTTP/1.0.
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$M/")
assert_eq "$code" 404 "GET /"
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -X POST "http://127.0.0.1:$M/metrics")
assert_eq "$code" 405 "POST /metrics"
assert_contains "$(curl -sS --http1.0 --max-time 5 "http://127.0.0.1:$M/metrics?x=1")" \
	'portmux_connections_total{detector="http",route="a.test"} 3'
# A request larger than the bound is refused; more silent scrapers than
# the bound (16) hold the rest in the backlog only while they stay.
big=$($PY -c 'print("x" * 8000)')
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -H "X-Big: $big" "http://127.0.0.1:$M/metrics")
assert_eq "$code" 431 "huge request"
$PY -c "
import socket, time
ss = [socket.create_connection(('127.0.0.1', $M)) for _ in range(20)]
time.sleep(0.3)
" &
silent=$!
sleep 0.1
assert_contains "$(metrics)" 'portmux_connections_total{detector="http",route="a.test"} 3'
wait "$silent"
# A reload is counted.
kill -HUP "$PORTMUX_PID"
for _ in $(seq 1 100); do
	[ "$(value 'portmux_reloads_total{result="ok"}')" = 1 ] && break
	sleep 0.05
done
assert_eq "$(value 'portmux_reloads_total{result="ok"}')" 1 "reloads ok"
stop_portmux

# A unix socket.
sed -i "s|  metrics: .*|  metrics: \"$T/metrics.sock\"|" "$T/c.yaml"
start_portmux "$T/c.yaml"
assert_contains "$(curl -sS --max-time 5 --unix-socket "$T/metrics.sock" http://x/metrics)" \
	'portmux_connections_total{detector="http",route="a.test"} 0'
stop_portmux
[ ! -e "$T/metrics.sock" ] || fail "the unix socket was left behind"

# The real prometheus, scraping every second.
PROM=$(command -v prometheus || true)
[ -n "$PROM" ] || { echo "SKIP: no prometheus binary"; exit 77; }
sed -i "s|  metrics: .*|  metrics: \"127.0.0.1:$M\"|" "$T/c.yaml"
start_portmux "$T/c.yaml"
Q=$(free_port)
cat >"$T/prometheus.yml" <<CFG
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: portmux
    static_configs:
      - targets: ["127.0.0.1:$M"]
CFG
start_bg prometheus "$PROM" --config.file="$T/prometheus.yml" \
	--storage.tsdb.path="$T/prom-data" --web.listen-address="127.0.0.1:$Q"
wait_port "$Q"
# query EXPR — the value of a one-series instant query (empty: none yet).
query() {
	curl -sS --max-time 5 -G "http://127.0.0.1:$Q/api/v1/query" \
		--data-urlencode "query=$1" |
		$PY -c 'import json,sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")' 2>/dev/null || true
}
expr='portmux_connections_total{detector="http",route="a.test"}'
# wait_query EXPR VALUE — until prometheus has it (up to 20 s).
wait_query() {
	for _ in $(seq 1 80); do
		[ "$(query "$1")" = "$2" ] && return 0
		sleep 0.25
	done
	fail "prometheus: $1 is '$(query "$1")', expected $2"
}
for i in 1 2; do
	get a.test >/dev/null
done
wait_query "$expr" 2
wait_query 'up{job="portmux"}' 1
for i in 1 2 3; do
	get a.test >/dev/null
done
wait_query "$expr" 5
wait_query 'sum(portmux_connections_total)' 5
