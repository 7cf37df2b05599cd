# Nothing is lost: 100 MB each way through PortMux (at the same time)
# arrives with the same sha256, for every priority (relay strategy).
. "$(dirname "$0")/lib.sh"

P=$(free_port) E=$(free_port)
echo_backend "" "$E"
for prio in latency throughput both; do
	cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  fallback:
    port: $E
    priority: $prio
CFG
	start_portmux "$T/c.yaml"
	out=$(client bulk "$P" 100)
	assert_contains "$out" "ok 100 MB each way" "bulk ($prio)"
	stop_portmux
done
