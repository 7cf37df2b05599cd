# A client that half-closes after its request still receives the whole
# response: PortMux passes the FIN on with shutdown(SHUT_WR) and keeps the
# other direction flowing (sslh and sniproxy close both sides) — but not
# forever once nothing moves: halfclose_timeout.
. "$(dirname "$0")/lib.sh"

P=$(free_port) B=$(free_port) R=$(free_port)
drain_backend "$B" 5242880
drain_backend "$R" 100000
# The same with relay: kernel (t_kernel_relay: a FIN after the connection
# went into the kernel relay).
for relay in auto kernel; do
	cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  relay: $relay
  fallback: "127.0.0.1:$R"
HTTP:
  "default": $B
CFG
	start_portmux "$T/c.yaml"
	out=$(client halfclose "$P" 'POST /upload HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello' 5242880)
	assert_eq "$out" "ok 5242880 bytes after half-close" "half-close through http route ($relay)"
	# Half-close while still probing: the client sends a few unclaimed
	# bytes and its FIN at once; PortMux decides on what it has and still
	# relays both ways.
	out=$(client halfclose "$P" 'xyz' 100000)
	assert_eq "$out" "ok 100000 bytes after half-close" "half-close during probing ($relay)"
	stop_portmux
done

# halfclose_timeout: a relay with one direction ended and nothing moving is
# not kept forever. Measured before it existed (max_connections: 20, the 20
# silent clients below): 20 backend sockets in CLOSE_WAIT still after 6.4 s,
# a new client never served.
B=$(free_port) H=$(free_port) S=$(free_port)
cat >"$T/backends.py" <<'PY'
import socket, sys, threading, time
# banner: a line, then close. hold: read to the end, then keep the socket
# and say nothing. slow: read to the end, then 25 chunks of 4 KiB 0.1 s
# apart, then close.
def banner(c):
    c.sendall(b"banner from backend\n")
    c.close()
def hold(c):
    while c.recv(4096):
        pass
    held.append(c)
def slow(c):
    while c.recv(4096):
        pass
    for i in range(25):
        c.sendall(b"d" * 4096)
        time.sleep(0.1)
    c.close()
held = []
def serve(port, handle):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(128)
    while True:
        c, _ = srv.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()
for port, handle in zip(sys.argv[1:], (banner, hold, slow)):
    threading.Thread(target=serve, args=(int(port), handle), daemon=True).start()
print("ready", flush=True)
while True:
    time.sleep(60)
PY
start_bg backends $PY "$T/backends.py" "$B" "$H" "$S"
wait_port "$B"
wait_port "$H"
wait_port "$S"
cat >"$T/hc.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  max_connections: 20
  # The 20 clients come from one source: lift the per-source limits (which
  # alone would stop this attack, t_admit) to show halfclose_timeout does.
  max_connections_per_source: 0
  rate_per_source: 0
  probe_timeout: 0.3
  halfclose_timeout: 1
  on_timeout: $B
HTTP:
  "hold.test": $H
  "slow.test": $S
CFG
start_portmux "$T/hc.yaml"
cat >"$T/hold.py" <<PY
import socket, subprocess, sys, time
mode = sys.argv[1]
def close_wait(filt):
    out = subprocess.run(["ss", "-Htn", "state", "close-wait", filt],
                         capture_output=True, text=True).stdout
    return len(out.splitlines())
def served(wait):
    s = socket.create_connection(("127.0.0.1", $P))
    s.settimeout(wait)
    try:
        return s.recv(100).startswith(b"banner")
    except OSError:
        return False
    finally:
        s.close()
held = [socket.create_connection(("127.0.0.1", $P)) for i in range(20)]
if mode == "silent":
    # Sent by on_timeout to a backend that says a line and closes: the FIN
    # is passed on; the client keeps its socket.
    filt = "dport = :$B"
    for s in held:
        s.settimeout(5)
        assert s.recv(100).startswith(b"banner")
        assert s.recv(100) == b"", "FIN not passed on"
else:
    # A request to a backend that never answers, and the client's FIN.
    filt = "sport = :$P"
    for s in held:
        s.sendall(b"GET / HTTP/1.1\r\nHost: hold.test\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
    time.sleep(0.1)
fin = time.time()
held_now = close_wait(filt)
assert not served(0.5), "a 21st client was served while 20 are held"
while close_wait(filt) and time.time() - fin < 5:
    time.sleep(0.05)
freed = time.time() - fin
assert close_wait(filt) == 0, "still held after 5 s"
if mode == "hold":
    for s in held:
        s.settimeout(1)
        assert s.recv(100) == b"", "not closed"
assert served(2), "no new client served after the slots were freed"
print("held=%d freed_after=%.1f" % (held_now, freed))
PY
out=$($PY "$T/hold.py" silent)
assert_eq "${out%% *}" "held=20" "20 silent clients held at first"
$PY -c "import sys; t=float('${out##*=}'); sys.exit(0 if 0.8 <= t <= 2 else 'freed after %.1f s, halfclose_timeout is 1' % t)"
echo "silent clients, backend closes: $out"
out=$($PY "$T/hold.py" hold)
assert_eq "${out%% *}" "held=20" "20 half-closed clients held at first"
$PY -c "import sys; t=float('${out##*=}'); sys.exit(0 if 0.8 <= t <= 2 else 'freed after %.1f s, halfclose_timeout is 1' % t)"
echo "half-closed clients, backend silent: $out"
sleep 0.2
[ "$(grep -c 'reason=halfclose_timeout' "$T/portmux.log")" -eq 40 ] ||
	fail "expected 40 closes for halfclose_timeout"

# A long download after the client's FIN: bytes moving keep it alive
# (2.5 s, halfclose_timeout 1 s), and it ends with the backend's close.
cat >"$T/download.py" <<PY
import socket, time
s = socket.create_connection(("127.0.0.1", $P))
s.sendall(b"GET /big HTTP/1.1\r\nHost: slow.test\r\n\r\n")
s.shutdown(socket.SHUT_WR)
t = time.time()
got = 0
s.settimeout(5)
while True:
    data = s.recv(65536)
    if not data:
        break
    got += len(data)
print("%d bytes in %s" % (got, "more than 2 s" if time.time() - t > 2 else "%.1f s" % (time.time() - t)))
PY
assert_eq "$($PY "$T/download.py")" "102400 bytes in more than 2 s" \
	"download after the client's FIN"
sleep 0.2
line=$(grep 'key=slow.test' "$T/portmux.log")
assert_contains "$line" "down=102400 "
assert_contains "$line" "reason=eof"
[ "$(grep -c 'reason=halfclose_timeout' "$T/portmux.log")" -eq 40 ] ||
	fail "the download was cut by halfclose_timeout"
