# UDP flows: an OpenVPN client's first datagram opens a flow to the "udp"
# route; datagrams go both ways on it; the flow table has a size limit (a
# flow whose backend answered is never pushed out: with every flow
# answered, a new client is dropped) and an idle timeout; datagrams no
# detector claims are dropped — and never push a live flow out.
. "$(dirname "$0")/lib.sh"

P=$(free_port) U=$(free_port)
start_bg udpecho $PY "$TOOLS/backend.py" udpecho "ECHO:" "$U"
sleep 0.5
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  udp_timeout: 1
  udp_max_flows: 2
  workers: 1  # the flow table is per worker
OPENVPN:
  "udp": $U
CFG
start_portmux "$T/c.yaml"
cat >"$T/udp.py" <<PY
import socket, sys, time
reset = open("$TOP/tests/corpus/openvpn/udp-tls-auth.bin", "rb").read()
def client():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.connect(("127.0.0.1", $P))
    return s
def ask(s, data):
    s.send(data)
    return s.recv(65536)
a, b, c = client(), client(), client()
# a's reset opens a flow; later datagrams of any content follow it.
assert ask(a, reset) == b"ECHO:" + reset
assert ask(a, b"data after the reset") == b"ECHO:data after the reset"
assert ask(b, reset) == b"ECHO:" + reset
# A third client: the table holds 2 flows the backend answered, so it is
# dropped and a and b keep working.
assert ask(b, b"b again") == b"ECHO:b again"
c.send(reset)
c.settimeout(0.5)
try:
    c.recv(100)
    sys.exit("a client beyond a full table of answered flows was served")
except socket.timeout:
    pass
assert ask(a, b"a is still there") == b"ECHO:a is still there"
assert ask(b, b"b too") == b"ECHO:b too"
time.sleep(2.2)  # idle timeout 1 s (swept every second): a and b go
# Garbage from a new client is dropped too.
d = client()
d.send(b"GARBAGE")
d.settimeout(0.5)
try:
    d.recv(100)
    sys.exit("an unclaimed datagram was relayed")
except socket.timeout:
    pass
print("ok")
PY
assert_eq "$($PY "$T/udp.py")" "ok" "udp flows"
stop_portmux # the last drops' summary is written on the way out
log=$(pmx_log)
assert_contains "$log" "table_full=1"
[ "$(printf '%s\n' "$log" | grep -c 'reason=idle')" -eq 2 ] || fail "expected 2 idle flows: $log"
assert_contains "$log" "unclaimed=1"
stop_portmux

# udp: auto with no detector that wants datagrams: a UDP port someone else
# holds does not stop PortMux (only the TCP side is served).
P2=$(free_port) H2=$(free_port)
http_backend web "$H2"
$PY -c "import socket,time; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', $P2)); time.sleep(30)" &
PIDS="$PIDS $!"
sleep 0.2
cat >"$T/tcp.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P2
HTTP:
  default: $H2
CFG
start_portmux "$T/tcp.yaml"
assert_contains "$(curl -sS --max-time 5 "http://127.0.0.1:$P2/x")" "backend=web" "TCP served"
