# systemd socket activation: PortMux serves on the sockets it is handed
# (LISTEN_FDS) instead of its configured address — TCP and UDP — and since
# the sockets outlive it, a client that connects while PortMux restarts
# waits in the backlog and is served by the next one: no refused connection.
# (A small launcher plays systemd.)
. "$(dirname "$0")/lib.sh"

P=$(free_port) CFGP=$(free_port) E=$(free_port) U=$(free_port)
echo_backend "ECHO " "$E"
start_bg udpecho $PY "$TOOLS/backend.py" udpecho "U:" "$U"
sleep 0.3
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $CFGP
  workers: 2
  fallback: $E
OPENVPN:
  "udp": $U
CFG
cat >"$T/systemd.py" <<PY
import os, signal, socket, sys, time
tcp = socket.socket()
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("127.0.0.1", $P))
tcp.listen(128)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", $P))
log = open("$T/portmux.log", "ab")

def start():
    pid = os.fork()
    if pid == 0:
        os.dup2(tcp.fileno(), 3)
        os.dup2(udp.fileno(), 4)
        os.set_inheritable(3, True)  # dup2(3, 3) keeps close-on-exec
        os.set_inheritable(4, True)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        os.environ["LISTEN_PID"] = str(os.getpid())
        os.environ["LISTEN_FDS"] = "2"
        os.execv("$PORTMUX_BIN", ["portmux", "-c", "$T/c.yaml"])
    return pid

def stop(pid):
    os.kill(pid, signal.SIGTERM)
    _, status = os.waitpid(pid, 0)
    assert status == 0, "portmux exited with %d" % status

def line(s):
    out = b""
    while not out.endswith(b"\n"):
        more = s.recv(100)
        if not more:
            break
        out += more
    return out

def ask(text):
    s = socket.create_connection(("127.0.0.1", $P), timeout=5)
    s.sendall(text)
    return line(s)

pid = start()
time.sleep(0.5)
assert ask(b"one\n") == b"ECHO one\n"
# The configured address is not used: systemd's sockets replace it.
try:
    socket.create_connection(("127.0.0.1", $CFGP), timeout=1)
    sys.exit("the configured port is listening")
except OSError:
    pass
reset = open("$TOP/tests/corpus/openvpn/udp-plain.bin", "rb").read()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(3)
u.connect(("127.0.0.1", $P))
u.send(reset)
assert u.recv(2000) == b"U:" + reset, "udp through systemd's socket"
stop(pid)
# PortMux is down; the socket is not: this client waits in the backlog.
waiting = socket.create_connection(("127.0.0.1", $P), timeout=5)
waiting.sendall(b"during the restart\n")
time.sleep(0.3)
pid = start()
assert line(waiting) == b"ECHO during the restart\n", "lost in the restart"
waiting.close()  # else the graceful stop waits for it
stop(pid)
print("ok")
PY
assert_eq "$($PY "$T/systemd.py")" "ok" "socket activation"
log=$(pmx_log)
assert_contains "$log" "listening on 127.0.0.1:$P (from systemd)"
assert_contains "$log" "listening on udp 127.0.0.1:$P (from systemd)"
assert_not_contains "$log" "systemd passed no UDP socket"

# A configuration with a UDP route under a .socket unit with only
# ListenStream=: no UDP is served, and PortMux says so.
cat >"$T/tcponly.py" <<PY
import os, signal, socket, time
tcp = socket.socket()
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("127.0.0.1", $P))
tcp.listen(128)
log = open("$T/tcponly.log", "ab")
pid = os.fork()
if pid == 0:
    os.dup2(tcp.fileno(), 3)
    os.set_inheritable(3, True)
    os.dup2(log.fileno(), 2)
    os.environ["LISTEN_PID"] = str(os.getpid())
    os.environ["LISTEN_FDS"] = "1"
    os.execv("$PORTMUX_BIN", ["portmux", "-c", "$T/c.yaml"])
time.sleep(0.5)
os.kill(pid, signal.SIGTERM)
_, status = os.waitpid(pid, 0)
assert status == 0, "portmux exited with %d" % status
print("ok")
PY
assert_eq "$($PY "$T/tcponly.py")" "ok" "TCP-only socket activation"
assert_contains "$(cat "$T/tcponly.log")" "warn the configuration wants UDP"
assert_contains "$(cat "$T/tcponly.log")" "add ListenDatagram= to portmux.socket"
