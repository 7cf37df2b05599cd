# Several PortMux instances behind an L4 balancer (haproxy in TCP mode, as
# the README shows): the balancer sends PROXY v2 (accept_proxy), so each
# PortMux logs the real client and passes it on to the backend (here with
# proxy_protocol: v1); when one instance dies, new connections go to the
# other and the live ones on the survivor go on untouched. PortMux keeps no
# cluster state of its own.
. "$(dirname "$0")/lib.sh"

command -v haproxy >/dev/null || { echo "SKIP: no haproxy"; exit 77; }
F=$(free_port) PA=$(free_port) PB=$(free_port) HA=$(free_port) HB=$(free_port)
# The backends (one behind each instance, so an answer tells which served):
# a PROXY v1 line, then HTTP/1.1 requests on one connection, each answered
# with the client address the header gave and the backend's name.
cat >"$T/backend.py" <<'PY'
import socket, sys, threading
def serve(c):
    f = c.makefile("rb")
    hdr = f.readline().split()
    who = hdr[2].decode() if hdr[:1] == [b"PROXY"] else "unknown"
    while True:
        line = f.readline()
        if not line:
            break
        while f.readline() not in (b"\r\n", b""):
            pass
        body = b"you are %s via %s\n" % (who.encode(), sys.argv[2].encode())
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                  % (len(body), body))
    c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
start_bg backendA $PY "$T/backend.py" "$HA" A
start_bg backendB $PY "$T/backend.py" "$HB" B
wait_port "$HA"
wait_port "$HB"
for i in A B; do
	port=$PA H=$HA
	[ "$i" = B ] && port=$PB H=$HB
	cat >"$T/$i.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $port
  accept_proxy: [127.0.0.1]
HTTP:
  default: {port: $H, proxy_protocol: v1}
CFG
done
start_portmux "$T/A.yaml"
start_bg pmB "$PORTMUX_BIN" -c "$T/B.yaml"
PMB=$LAST_PID
wait_port "$PB"
cat >"$T/haproxy.cfg" <<CFG
global
	maxconn 1000
defaults
	mode tcp
	timeout connect 2s
	timeout client 30s
	timeout server 30s
	retries 3
	option redispatch
frontend public
	bind 127.0.0.1:$F
	default_backend portmux
backend portmux
	balance roundrobin
	server a 127.0.0.1:$PA send-proxy-v2 check check-send-proxy inter 200ms fall 1 rise 2
	server b 127.0.0.1:$PB send-proxy-v2 check check-send-proxy inter 200ms fall 1 rise 2
CFG
start_bg haproxy haproxy -db -f "$T/haproxy.cfg"
wait_port "$F"
sleep 0.5 # both servers seen up

$PY - "$F" "$PMB" <<'PY'
import os, signal, socket, sys, time
F, PMB = int(sys.argv[1]), int(sys.argv[2])
def conn():
    s = socket.socket()
    s.bind(("127.0.0.2", 0))  # the real client: not the balancer
    s.settimeout(5)
    s.connect(("127.0.0.1", F))
    return s
def ask(s):
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"\n"):
        more = s.recv(4096)
        if not more:
            raise OSError("closed")
        data += more
    return data.split(b"\r\n\r\n", 1)[1].decode().strip()
# The backend sees the real client through both instances.
seen = set()
for _ in range(6):
    s = conn()
    reply = ask(s)
    assert reply.startswith("you are 127.0.0.2 via "), reply
    seen.add(reply[-1])
    s.close()
assert seen == {"A", "B"}, "round robin over both: %s" % seen
# A live connection on A.
live = None
for _ in range(4):
    s = conn()
    if ask(s).endswith("via A"):
        live = s
        break
    s.close()
assert live, "no connection landed on A"
# B dies (a crash: SIGKILL).
os.kill(PMB, signal.SIGKILL)
time.sleep(0.5)  # haproxy's check marks it down (inter 200ms, fall 1)
# The live connection on A goes on untouched.
for _ in range(3):
    assert ask(live) == "you are 127.0.0.2 via A", "live connection on A"
# New connections all go to A.
t0 = time.monotonic()
for _ in range(20):
    s = conn()
    reply = ask(s)
    assert reply == "you are 127.0.0.2 via A", reply
    s.close()
print("ok: 20 new connections after B died, the live one on A kept "
      "(%.0f ms)" % ((time.monotonic() - t0) * 1000))
PY
log=$(pmx_log)
assert_contains "$log" "client=127.0.0.2:"
assert_contains "$(cat "$T/pmB.log")" "client=127.0.0.2:"
assert_not_contains "$log" "reason=bad_proxy_header"
