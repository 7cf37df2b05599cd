# PROXY protocol: a route with proxy_protocol v1/v2 tells its backend the
# real client address; behind a trusted load balancer (accept_proxy) the
# address comes from the balancer's header, and is passed on; a trusted
# source without a valid header is closed; an untrusted one is not asked.
. "$(dirname "$0")/lib.sh"

P=$(free_port) V1=$(free_port) V2=$(free_port) H=$(free_port)
start_bg pe1 $PY "$TOOLS/backend.py" proxyecho "$V1"
start_bg pe2 $PY "$TOOLS/backend.py" proxyecho "$V2"
wait_port "$V1"
wait_port "$V2"
http_backend web "$H"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  fallback: {port: $V1, proxy_protocol: v1}
HTTP:
  "v2.test": {port: $V2, proxy_protocol: v2}
  "default": $H
CFG
start_portmux "$T/c.yaml"
cat >"$T/pp.py" <<PY
import socket, sys
s = socket.create_connection(("127.0.0.1", $P))
me = "%s:%d" % s.getsockname()
s.sendall(sys.argv[1].encode().decode("unicode_escape").encode("latin-1"))
s.settimeout(2)
line = b""
while not line.endswith(b"\n"):
    line += s.recv(1)
print(line.decode().strip().replace(me, "ME"))
PY
assert_eq "$($PY "$T/pp.py" 'hello\n')" "v1 src=ME dst=127.0.0.1:$P" "v1 to the fallback"
assert_eq "$($PY "$T/pp.py" 'GET / HTTP/1.1\r\nHost: v2.test\r\n\r\n')" \
	"v2 src=ME dst=127.0.0.1:$P" "v2 to an http route"
stop_portmux

# Behind a trusted balancer (127.0.0.0/8 here): the header's address is
# the client's, in the log and towards the backends.
cat >"$T/lb.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  accept_proxy: ["127.0.0.0/8"]
  probe_timeout: 0.5
  fallback: {port: $V1, proxy_protocol: v1}
HTTP:
  "v2.test": {port: $V2, proxy_protocol: v2}
  "default": $H
CFG
start_portmux "$T/lb.yaml"
assert_eq "$($PY "$T/pp.py" 'PROXY TCP4 203.0.113.7 198.51.100.1 40000 443\r\nGET / HTTP/1.1\r\nHost: v2.test\r\n\r\n')" \
	"v2 src=203.0.113.7:40000 dst=198.51.100.1:443" "v1 in, v2 out"
v2in=$($PY -c 'import sys,struct,socket; sys.stdout.write("".join("\\x%02x" % b for b in b"\r\n\r\n\x00\r\nQUIT\n\x21\x11" + struct.pack("!H",12) + socket.inet_aton("192.0.2.50") + socket.inet_aton("192.0.2.1") + struct.pack("!HH", 1234, 8443)))')
assert_eq "$($PY "$T/pp.py" "${v2in}hi there\n")" \
	"v1 src=192.0.2.50:1234 dst=192.0.2.1:8443" "v2 in, v1 out"
assert_eq "$(curl -sS --max-time 5 --haproxy-protocol "http://127.0.0.1:$P/curl")" \
	"backend=web host=127.0.0.1:$P path=/curl" "curl --haproxy-protocol"
# A trusted source that sends no valid header is closed.
out=$(client raw "$P" 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' 1)
assert_eq "$out" "" "no header from a trusted source"
sleep 0.2
log=$(pmx_log)
assert_contains "$log" "client=203.0.113.7:40000 via=detector detector=http key=v2.test"
assert_contains "$log" "reason=bad_proxy_header"
stop_portmux

# Not trusted: no header expected; a PROXY line is just bytes.
sed 's|127.0.0.0/8|10.0.0.0/8|' "$T/lb.yaml" >"$T/untrusted.yaml"
start_portmux "$T/untrusted.yaml"
assert_eq "$(curl -sS --max-time 5 "http://127.0.0.1:$P/plain")" \
	"backend=web host=127.0.0.1:$P path=/plain" "untrusted, plain request"
