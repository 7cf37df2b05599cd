# A client that half-closes after its request still receives the whole
# response: PortMux passes the FIN on with shutdown(SHUT_WR) and keeps the
# other direction flowing (sslh and sniproxy close both sides).
. "$(dirname "$0")/lib.sh"

P=$(free_port) B=$(free_port) R=$(free_port)
drain_backend "$B" 5242880
drain_backend "$R" 100000
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  fallback: "127.0.0.1:$R"
HTTP:
  "default": $B
CFG
start_portmux "$T/c.yaml"
out=$(client halfclose "$P" 'POST /upload HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello' 5242880)
assert_eq "$out" "ok 5242880 bytes after half-close" "half-close through http route"
# Half-close while still probing: the client sends a few unclaimed bytes and
# its FIN at once; PortMux decides on what it has and still relays both ways.
out=$(client halfclose "$P" 'xyz' 100000)
assert_eq "$out" "ok 100000 bytes after half-close" "half-close during probing"
