# Who gets in: PORTMUX.allow / deny before a byte is read, a route's allow /
# deny after detection (as if it had no route: HTTP 421), the per-source
# limits (max_connections_per_source, rate_per_source), and with
# accept_proxy the address from the PROXY header. 127.0.0.1 and 127.0.0.2
# are two sources.
. "$(dirname "$0")/lib.sh"

P=$(free_port) H=$(free_port) E=$(free_port)
http_backend web "$H"
echo_backend "" "$E"
# curl from a given source address; prints the HTTP status (000: refused).
code() { # SOURCE HOST
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		--interface "$1" -H "Host: $2" "http://127.0.0.1:$P/" || true
}

# 1. The default per-source limit with max_connections: 40 (a quarter of
# it, 10): one source holding silent connections — each relayed to the
# SSH backend by on_timeout, so they stay — cannot keep another source out.
cat >"$T/limit.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  max_connections: 40
  probe_timeout: 0.2
HTTP:
  default: $H
SSH:
  default: $E
CFG
start_portmux "$T/limit.yaml"
cat >"$T/hold.py" <<PY
import socket, time
held, refused = [], 0
for i in range(40):
    s = socket.create_connection(("127.0.0.1", $P))
    held.append(s)
time.sleep(0.6)  # past probe_timeout: the admitted ones are relayed
for s in held:
    s.settimeout(2)
    try:
        s.sendall(b"ping")
        ok = s.recv(10) == b"ping"
    except OSError:
        ok = False
    refused += not ok
print(40 - refused)
open("$T/holding", "w").write("x")
time.sleep(3)
PY
$PY "$T/hold.py" >"$T/held.out" &
HOLD=$!
PIDS="$PIDS $HOLD"
for _ in $(seq 1 100); do [ -f "$T/holding" ] && break; sleep 0.05; done
assert_eq "$(cat "$T/held.out")" "10" "one source holds a quarter of max_connections"
assert_eq "$(code 127.0.0.2 a.test)" "200" "another source is served meanwhile"
assert_contains "$(pmx_log)" "refused client=127.0.0.1:"
assert_contains "$(pmx_log)" "reason=max_connections_per_source"
kill "$HOLD" 2>/dev/null || true
stop_portmux

# 2. rate_per_source: 5 (a burst of 10): a source that opens connections
# faster is refused, another is not.
cat >"$T/rate.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  rate_per_source: 5
HTTP:
  default: $H
CFG
start_portmux "$T/rate.yaml"
# 25 connections at once (well within a second), then their answers.
ok=$($PY - "$P" <<'PY'
import socket, sys
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
         for _ in range(25)]
for s in socks:
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    except OSError:
        pass
ok = 0
for s in socks:
    try:
        ok += s.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        pass
print(ok)
PY
)
# (start_portmux's own probe of the port took one token)
[ "$ok" -ge 9 ] && [ "$ok" -le 12 ] || fail "rate: $ok of 25 served, expected 9 or 10"
assert_eq "$(code 127.0.0.2 a.test)" "200" "another source is not limited"
assert_contains "$(pmx_log)" "reason=rate_per_source"
stop_portmux

# 3. PORTMUX.deny and allow, decided before a byte is read.
cat >"$T/acl.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  deny: [127.0.0.2]
HTTP:
  default: $H
CFG
start_portmux "$T/acl.yaml"
assert_eq "$(code 127.0.0.1 a.test)" "200" "deny: others served"
assert_eq "$(code 127.0.0.2 a.test)" "000" "deny: the denied source is closed"
stop_portmux
sed -i 's/deny: \[127.0.0.2\]/allow: ["127.0.0.1\/32", "::1"]/' "$T/acl.yaml"
start_portmux "$T/acl.yaml"
assert_eq "$(code 127.0.0.1 a.test)" "200" "allow: listed source served"
assert_eq "$(code 127.0.0.2 a.test)" "000" "allow: others closed"
assert_contains "$(pmx_log)" "refused client=127.0.0.2:"
assert_contains "$(pmx_log)" "reason=deny"
stop_portmux

# 4. A route's own allow / deny, after detection: like no route (421).
cat >"$T/route.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
HTTP:
  "admin.test": {port: $H, allow: [127.0.0.1]}
  "www.test": {port: $H, deny: ["127.0.0.0/30"]}
  default: $H
CFG
start_portmux "$T/route.yaml"
assert_eq "$(code 127.0.0.1 admin.test)" "200" "route allow: listed"
assert_eq "$(code 127.0.0.2 admin.test)" "421" "route allow: others get 421"
assert_eq "$(code 127.0.0.2 www.test)" "421" "route deny: 421"
assert_eq "$(code 127.0.0.5 www.test)" "200" "route deny: others served"
assert_eq "$(code 127.0.0.2 other.test)" "200" "other routes unaffected"
assert_contains "$(pmx_log)" "key=admin.test backend=- "
assert_contains "$(pmx_log)" "reason=denied"
stop_portmux

# 5. Behind a trusted balancer, the PROXY header's address decides.
cat >"$T/proxy.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  accept_proxy: [127.0.0.1]
  deny: ["192.0.2.0/24"]
HTTP:
  default: $H
CFG
start_portmux "$T/proxy.yaml"
pp() { # CLIENT-ADDRESS: a request through a PROXY v1 header
	$PY - "$P" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(("PROXY TCP4 %s 127.0.0.1 5555 80\r\n" % sys.argv[2]).encode() +
          b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
data = b""
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        data += d
except OSError:
    pass
print(data.split(b"\r\n")[0].decode() or "closed")
PY
}
assert_eq "$(pp 198.51.100.7)" "HTTP/1.1 200 OK" "proxy: allowed client"
assert_eq "$(pp 192.0.2.9)" "closed" "proxy: the header's address is denied"
assert_contains "$(pmx_log)" "refused client=192.0.2.9:"
# The balancer itself is not the source.
assert_eq "$(pp 198.51.100.8)" "HTTP/1.1 200 OK" "proxy: balancer still served"
