# systemd's watchdog (WatchdogSec=): PortMux sends WATCHDOG=1 a few times
# per interval while every worker loop turns, and stops when one is stuck
# (here a broken detector sleeps 3 s on the loop), so that systemd would
# restart it; feeding resumes once the loop turns again. A small launcher
# plays systemd: NOTIFY_SOCKET, WATCHDOG_USEC=1 s, WATCHDOG_PID.
. "$(dirname "$0")/lib.sh"

[ -n "$TEST_PLUGINS" ] || { echo "SKIP: no test plugins"; exit 77; }
P=$(free_port) E=$(free_port)
echo_backend "ECHO " "$E"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  workers: 2
  plugin_dir: $TEST_PLUGINS
  detectors: [t_stall]
  fallback: $E
CFG
cat >"$T/systemd.py" <<PY
import os, signal, socket, sys, time
path = "$T/notify.sock"
n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
n.bind(path)
n.settimeout(0.05)
log = open("$T/portmux.log", "ab")
pid = os.fork()
if pid == 0:
    os.dup2(log.fileno(), 2)
    os.environ["NOTIFY_SOCKET"] = path
    os.environ["WATCHDOG_USEC"] = "1000000"
    os.environ["WATCHDOG_PID"] = str(os.getpid())
    os.execv("$PORTMUX_BIN", ["portmux", "-c", "$T/c.yaml"])
pings = []
def listen(until):
    while time.monotonic() < until:
        try:
            msg = n.recv(4096)
        except socket.timeout:
            continue
        if b"WATCHDOG=1" in msg.split(b"\n"):
            pings.append(time.monotonic())
def gaps(a, b):
    t = [x for x in pings if a <= x <= b]
    return [y - x for x, y in zip(t, t[1:])], len(t)
t0 = time.monotonic()
listen(t0 + 2.0)
g, k = gaps(t0 + 0.5, t0 + 2.0)
assert k >= 4 and max(g) < 0.6, "healthy: %d pings, gaps %s" % (k, g)
# Stall one worker: with two, try until one connection lands (a stalled
# worker still accepts nothing, the other serves).
s = socket.create_connection(("127.0.0.1", $P), timeout=5)
s.sendall(b"STALL")
t1 = time.monotonic()
listen(t1 + 4.5)
g, k = gaps(t1, t1 + 4.5)
longest = max(g) if g else 4.5
assert longest > 1.0, "still fed while a loop was stuck: gaps %s" % g
after = [x for x in pings if x > t1 + 3.5]
assert after, "feeding did not resume after the stall"
s.close()
# Nobody reads the notification socket any more: its queue fills, and
# PortMux must still stop at once (notifications never wait). Four
# WATCHDOG=1 a second: 3 s fill a queue of 10 (net.unix.max_dgram_qlen).
time.sleep(3)
os.kill(pid, signal.SIGTERM)
_, status = os.waitpid(pid, 0)
assert status == 0, "portmux exited with %d" % status
assert time.monotonic() - t1 < 11, "slow to stop"
print("ok: healthy %d pings; a stuck loop stopped them for %.1f s" %
      (len(pings), longest))
PY
out=$($PY "$T/systemd.py")
echo "$out"
assert_contains "$out" "ok: "
assert_contains "$(pmx_log)" "has not turned its loop"
assert_contains "$(pmx_log)" "not feeding systemd's watchdog"
