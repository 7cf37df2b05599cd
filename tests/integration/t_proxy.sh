# PROXY protocol: a route with proxy_protocol v1/v2 tells its backend the
# real client address; behind a trusted load balancer (accept_proxy) the
# address comes from the balancer's header, and is passed on; a trusted
# source without a valid header is closed — also one that sends no header
# or part of one by probe_timeout, whose bytes are never forwarded; a
# client whose first bytes come with the header has until probe_deadline;
# an untrusted one is not asked.
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
  probe_deadline: 4
  on_timeout: {port: $V1, proxy_protocol: v1}
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

# The header and the client's first bytes in one read, then the client
# trickles the rest of its request past probe_timeout (0.5 s): it has until
# probe_deadline, as without a balancer (it was cut at probe_timeout and
# decided on the part before Host: the default route).
mark=$(wc -l <"$T/portmux.log")
cat >"$T/trickle.py" <<PY
import socket, time
s = socket.create_connection(("127.0.0.1", $P))
s.sendall(b"PROXY TCP4 203.0.113.9 198.51.100.1 40001 443\r\nGE")
t = time.time()
rest = b"T / HTTP/1.1\r\nHost: v2.test\r\n\r\n"
for i in range(0, len(rest), 3):
    time.sleep(0.1)
    s.sendall(rest[i:i + 3])
s.settimeout(3)
line = b""
while not line.endswith(b"\n"):
    more = s.recv(1)
    if not more:
        break
    line += more
dt = time.time() - t
print(line.decode().strip(), "past probe_timeout" if dt > 0.8 else dt)
PY
out=$($PY "$T/trickle.py")
assert_eq "$out" "v2 src=203.0.113.9:40001 dst=198.51.100.1:443 past probe_timeout" \
	"header and first bytes in one read, then a trickle"

# Silent, or part of a header then silence or EOF: closed at probe_timeout
# (or at the EOF), never sent to on_timeout or fallback — and the partial
# header never forwarded (both said "v1 src=127.0.0.1:..." and echoed it).
cat >"$T/held.py" <<PY
import socket, sys, time
s = socket.create_connection(("127.0.0.1", $P))
s.sendall(sys.argv[1].encode().decode("unicode_escape").encode("latin-1"))
if len(sys.argv) > 2:
    s.shutdown(socket.SHUT_WR)
t = time.time()
s.settimeout(3)
got = b""
try:
    while True:
        more = s.recv(4096)
        if not more:
            break
        got += more
    dt = time.time() - t
    end = ("closed at once" if dt < 0.2 else
           "closed at probe_timeout" if 0.45 <= dt < 1.2 else
           "closed after %.2f s" % dt)
except socket.timeout:
    end = "still open"
print(repr(got), end)
PY
assert_eq "$($PY "$T/held.py" '')" "b'' closed at probe_timeout" "trusted and silent"
assert_eq "$($PY "$T/held.py" 'PROXY TCP4 203.0.113.7 198.5')" \
	"b'' closed at probe_timeout" "part of a v1 header, then silence"
assert_eq "$($PY "$T/held.py" '\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00')" \
	"b'' closed at probe_timeout" "part of a v2 header, then silence"
assert_eq "$($PY "$T/held.py" 'PROXY TCP4 203.0.113.7 198.5' shut)" \
	"b'' closed at once" "part of a v1 header, then EOF"
sleep 0.2
tail -n +$((mark + 1)) "$T/portmux.log" >"$T/since.log"
[ "$(grep -c 'reason=proxy_header_timeout' "$T/since.log")" -eq 3 ] ||
	fail "expected 3 closes for proxy_header_timeout"
[ "$(grep -c 'reason=bad_proxy_header' "$T/since.log")" -eq 1 ] ||
	fail "expected 1 close for bad_proxy_header"
if grep 'via=on_timeout\|via=fallback' "$T/since.log"; then
	fail "a trusted source without its header was served"
fi
kill -USR1 "$PORTMUX_PID"
sleep 0.2
assert_contains "$(pmx_log)" " bad_proxy=5" "counted in the status line"
stop_portmux

# Not trusted: no header expected; a PROXY line is just bytes.
sed 's|127.0.0.0/8|10.0.0.0/8|' "$T/lb.yaml" >"$T/untrusted.yaml"
start_portmux "$T/untrusted.yaml"
assert_eq "$(curl -sS --max-time 5 "http://127.0.0.1:$P/plain")" \
	"backend=web host=127.0.0.1:$P path=/plain" "untrusted, plain request"
