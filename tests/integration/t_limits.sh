# Guarantees under faults: idle_timeout closes relayed connections that
# stay quiet (active ones live on), a route's own idle_timeout overrides
# PORTMUX's; backend sockets get TCP keepalive; running out of file
# descriptors pauses
# accepting instead of spinning, and PortMux recovers; `user` drops root
# once the sockets are bound.
. "$(dirname "$0")/lib.sh"

P=$(free_port) E=$(free_port)
echo_backend "" "$E"

# 1. idle_timeout
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  idle_timeout: 0.6
  fallback: $E
CFG
start_portmux "$T/c.yaml"
cat >"$T/idle.py" <<PY
import socket, time
quiet = socket.create_connection(("127.0.0.1", $P))
busy = socket.create_connection(("127.0.0.1", $P))
for s in (quiet, busy):
    s.sendall(b"x")
    assert s.recv(10) == b"x"
start = time.time()
while time.time() - start < 1.6:
    busy.sendall(b"y")
    assert busy.recv(10) == b"y", "the busy connection was cut"
    time.sleep(0.2)
quiet.settimeout(0.1)
assert quiet.recv(10) == b"", "the quiet connection is still open"
print("ok")
PY
assert_eq "$($PY "$T/idle.py")" "ok" "idle_timeout"
sleep 0.1
assert_contains "$(pmx_log)" "reason=idle_timeout"
[ "$(grep -c 'reason=idle_timeout' "$T/portmux.log")" -eq 1 ] || fail "more than one idle close"
stop_portmux

# 1b. idle_timeout per route: 0.5 s on one route, 0 (never) on another,
# PORTMUX's 2 s on the rest — in one loop, each closed at its own time
# whatever the order the connections were made in. Backend sockets get
# TCP keepalive (ss -o shows its timer) once their connection is 10 s old,
# not at connect (a short connection never needs it).
cat >"$T/routes.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  workers: 1
  idle_timeout: 2
HTTP:
  "short.test": {port: $E, idle_timeout: 0.5}
  "never.test": {port: $E, idle_timeout: 0}
  "default": $E
CFG
start_portmux "$T/routes.yaml"
cat >"$T/routes.py" <<PY
import socket, subprocess, time
def open_route(host):
    s = socket.create_connection(("127.0.0.1", $P))
    req = b"GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % host
    s.sendall(req)
    got = b""
    while len(got) < len(req):
        got += s.recv(100)
    return s
def closed(s):
    s.settimeout(0.01)
    try:
        return s.recv(10) == b""
    except socket.timeout:
        return False
t0 = time.time()
conns = {h: open_route(h) for h in (b"never.test", b"other.test", b"short.test")}
ss = subprocess.run(["ss", "-Htno", "state", "established", "dport = :$E"],
                    capture_output=True, text=True).stdout
keepalive = ss.count("timer:(keepalive,")
when = {}
while time.time() - t0 < 3.5:
    for h, s in conns.items():
        if h not in when and closed(s):
            when[h] = time.time() - t0
    time.sleep(0.05)
while time.time() - t0 < 11:
    time.sleep(0.2)
ss = subprocess.run(["ss", "-Htno", "state", "established", "dport = :$E"],
                    capture_output=True, text=True).stdout
later = ss.count("timer:(keepalive,")
print("keepalive=%d later=%d" % (keepalive, later), " ".join(
    "%s=%s" % (h.decode().split(".")[0],
               "open" if h not in when else
               "%.0f" % when[h] if when[h] >= 1 else "%.1f" % when[h])
    for h, s in sorted(conns.items())))
PY
out=$($PY "$T/routes.py")
echo "$out"
case "$out" in
"keepalive=0 later=1 never=open other=2 short=0."[5-9]) ;;
*) fail "idle_timeout per route: $out" ;;
esac
stop_portmux

# 2. File descriptors run out: accept pauses (logged, rate-limited), no
# spin, and serving resumes once connections end.
cat >"$T/fd.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  workers: 1
  fallback: $E
CFG
(ulimit -n 48 && exec "$PORTMUX_BIN" -c "$T/fd.yaml") >>"$T/portmux.log" 2>&1 &
PORTMUX_PID=$!
wait_port "$P"
cat >"$T/fds.py" <<PY
import socket, time
held = []
for i in range(40):
    s = socket.create_connection(("127.0.0.1", $P))
    s.sendall(b"k")
    held.append(s)
time.sleep(1.0)
cpu0 = sum(int(x) for x in open("/proc/$PORTMUX_PID/stat").read().split()[13:15])
time.sleep(1.0)
cpu1 = sum(int(x) for x in open("/proc/$PORTMUX_PID/stat").read().split()[13:15])
for s in held:
    s.close()
time.sleep(0.5)
s = socket.create_connection(("127.0.0.1", $P))
s.sendall(b"after")
s.settimeout(3)
assert s.recv(10) == b"after", "not serving after fds came back"
print("ok cpu_ticks_while_paused=%d" % (cpu1 - cpu0))
PY
out=$($PY "$T/fds.py")
assert_contains "$out" "ok" "fd exhaustion"
ticks=${out##*=}
[ "$ticks" -le 20 ] || fail "PortMux used $ticks ticks/s while accept was paused (spinning?)"
assert_contains "$(pmx_log)" "pausing accept"
kill -0 "$PORTMUX_PID" || fail "PortMux died"
stop_portmux

# 3. user: root only binds.
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	printf '  user: nobody\n' >>"$T/c.yaml"
	start_portmux "$T/c.yaml"
	uid=$(awk '/^Uid:/ {print $2 $3 $4 $5}' "/proc/$PORTMUX_PID/status")
	n=$(id -u nobody)
	assert_eq "$uid" "$n$n$n$n" "running as nobody"
	assert_eq "$(client raw "$P" 'as nobody\n' 1)" "as nobody" "serving as nobody"
	stop_portmux
	# Sockets are bound as root, then root is dropped, then plugins and
	# scripts are loaded: a script's top level runs as nobody (the same
	# for -t). The script must be readable by nobody.
	pub=$(mktemp -d "${TMPDIR:-/tmp}/portmux-pub.XXXXXX")
	chmod 755 "$pub"
	cat >"$pub/who.py" <<'PY'
import os, portmux
portmux.log("top level euid=%d uid=%d" % (os.geteuid(), os.getuid()))
def analyse(buffer):
    return None
PY
	chmod 644 "$pub/who.py"
	printf 'PYTHON:\n  script: %s\n' "$pub/who.py" >>"$T/c.yaml"
	plugins_for_user # and so must the plugins be
	"$PORTMUX_BIN" -t -c "$T/c.yaml" >"$T/check.out" 2>&1 || { cat "$T/check.out"; fail "-t as root with user"; }
	assert_contains "$(cat "$T/check.out")" "top level euid=$n uid=$n"
	start_portmux "$T/c.yaml"
	assert_contains "$(pmx_log)" "top level euid=$n uid=$n"
	assert_eq "$(client raw "$P" 'py\n' 1)" "py" "serving with the script"
	rm -rf "$pub"
fi

# 4. Started from a shell with a low soft fd limit, PortMux raises it to
# what max_connections needs: 300 relayed connections from a limit of 256.
stop_portmux
cat >"$T/many.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  workers: 1
  max_connections: 300
  max_connections_per_source: 0 # one source opens them all
  fallback: $E
CFG
(ulimit -Sn 256 && exec "$PORTMUX_BIN" -c "$T/many.yaml") >>"$T/portmux.log" 2>&1 &
PORTMUX_PID=$!
wait_port "$P"
soft=$(awk '/Max open files/ {print $4}' "/proc/$PORTMUX_PID/limits")
[ "$soft" -ge 664 ] || fail "soft fd limit is $soft"
cat >"$T/many.py" <<PY
import socket
held = []
for i in range(300):
    s = socket.create_connection(("127.0.0.1", $P))
    s.sendall(b"%d\n" % i)
    held.append(s)
for i, s in enumerate(held):
    s.settimeout(5)
    assert s.recv(16) == b"%d\n" % i, "connection %d not relayed" % i
print("ok")
PY
assert_eq "$($PY "$T/many.py")" "ok" "300 connections from a soft limit of 256"

# 5. Slowloris and garbage: 400 clients that send one byte and stall, and
# 200 that send random bytes, do not keep a normal client waiting; the
# stalled ones are decided at probe_deadline, the garbage closed at once.
stop_portmux
H=$(free_port)
http_backend web "$H"
cat >"$T/slow.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  probe_deadline: 2
HTTP:
  "default": $H
CFG
start_portmux "$T/slow.yaml"
cat >"$T/crowd.py" <<PY
import os, socket, subprocess, time
stalled = []
for i in range(400):
    s = socket.create_connection(("127.0.0.1", $P))
    s.sendall(b"G")  # could still become "GET ..."
    stalled.append(s)
for i in range(200):
    s = socket.create_connection(("127.0.0.1", $P))
    s.sendall(os.urandom(64))
    s.close()
t = time.time()
out = subprocess.run(["curl", "-sS", "--max-time", "5", "http://127.0.0.1:$P/ok"],
                     capture_output=True, text=True).stdout
took = time.time() - t
assert out.startswith("backend=web"), "normal client not served: %r" % out
assert took < 0.5, "normal client waited %.2f s" % took
time.sleep(2.5)  # probe_deadline: the stalled ones are decided and closed
closed = 0
for s in stalled:
    s.settimeout(0.01)
    try:
        if s.recv(10) == b"":
            closed += 1
    except OSError:
        closed += 1
assert closed == 400, "%d of 400 stalled clients still held" % (400 - closed)
print("ok %.3f" % took)
PY
out=$($PY "$T/crowd.py")
assert_contains "$out" "ok" "slowloris and garbage"
kill -0 "$PORTMUX_PID" || fail "PortMux died"
