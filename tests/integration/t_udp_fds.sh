# UDP flows and TCP share the descriptors of the process: each flow holds
# one (its socket to the backend), and flows may not take the ones TCP
# needs. With a low fd limit (64: the UDP budget is then a quarter of it),
# 200 forged OpenVPN resets — answered by the backend, so their flows are
# established and none can be evicted — get flows up to the budget and no
# further (fd_budget), and an HTTP request on the same port is still
# served, as is a UDP client that came before.
. "$(dirname "$0")/lib.sh"

P=$(free_port) H=$(free_port) U=$(free_port)
http_backend web "$H"
start_bg udpecho $PY "$TOOLS/backend.py" udpecho "ECHO:" "$U"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  workers: 1
HTTP:
  "default": $H
OPENVPN:
  "udp": $U
CFG
for _ in $(seq 1 100); do grep -q ready "$T/udpecho.log" && break; sleep 0.05; done
(ulimit -n 64 && exec "$PORTMUX_BIN" -c "$T/c.yaml") >>"$T/portmux.log" 2>&1 &
PORTMUX_PID=$!
wait_port "$P"
cat >"$T/fds.py" <<PY
import os, socket, subprocess, sys, time
reset = open("$TOP/tests/corpus/openvpn/udp-plain.bin", "rb").read()
def ask(s, data):
    s.send(data)
    return s.recv(100)
early = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
early.settimeout(2)
early.connect(("127.0.0.1", $P))
assert ask(early, reset) == b"ECHO:" + reset
for i in range(200):
    f = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    f.bind(("127.0.1.%d" % (i % 250 + 1), 0))
    f.sendto(b"\x38" + os.urandom(8) + b"\x00" * 5, ("127.0.0.1", $P))
    f.close()
    time.sleep(0.002)  # the backend's answers establish the flows
time.sleep(1.5)
nfds = len(os.listdir("/proc/$PORTMUX_PID/fd"))
out = subprocess.run(["curl", "-sS", "--max-time", "5",
                      "http://127.0.0.1:$P/after"],
                     capture_output=True, text=True).stdout
if not out.startswith("backend=web"):
    sys.exit("HTTP not served after 200 forged resets: %r (%d fds open)"
             % (out, nfds))
assert ask(early, b"still here") == b"ECHO:still here"
print("ok fds=%d" % nfds)
PY
out=$($PY "$T/fds.py")
echo "$out"
assert_contains "$out" "ok fds=" "HTTP beside a flood of UDP flows"
kill -0 "$PORTMUX_PID" || fail "PortMux died"
stop_portmux
assert_contains "$(pmx_log)" "fd_budget="
