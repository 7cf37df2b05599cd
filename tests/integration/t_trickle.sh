# A client that trickles its request one byte every 50 ms — past the probe
# timeout — is still routed by its Host (slow links are not misrouted to
# the on_timeout route as sslh does).
. "$(dirname "$0")/lib.sh"

P=$(free_port) A=$(free_port) D=$(free_port) S=$(free_port)
http_backend slow "$A"
http_backend default "$D"
echo_backend "SSH-2.0-fake\r\n" "$S"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  probe_timeout: 0.5
  probe_deadline: 10
HTTP:
  "slow.example.com": $A
  "default": $D
SSH:
  "default": $S
CFG
start_portmux "$T/c.yaml"
out=$(client trickle "$P" 0.05 'GET /t HTTP/1.1\r\nHost: slow.example.com\r\nConnection: close\r\n\r\n')
assert_contains "$out" "backend=slow host=slow.example.com path=/t" "trickled request"
