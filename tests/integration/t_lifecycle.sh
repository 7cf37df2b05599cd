# Process lifecycle: systemd notifications (READY, RELOADING, STOPPING);
# SIGTERM stops accepting while live connections finish (graceful drain),
# and shutdown_timeout bounds the wait; max_connections pauses accepting
# (across workers) until a connection ends.
. "$(dirname "$0")/lib.sh"

P=$(free_port) H=$(free_port) E=$(free_port)
http_backend web "$H"
echo_backend "" "$E"

# A fake systemd: a datagram socket that records what PortMux tells it.
cat >"$T/notify.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
with open(sys.argv[2], "a") as out:
    while True:
        out.write(s.recv(4096).decode().replace("\n", " ") + "\n")
        out.flush()
PY
start_bg notify $PY "$T/notify.py" "$T/notify.sock" "$T/notify.txt"
for _ in $(seq 1 40); do [ -S "$T/notify.sock" ] && break; sleep 0.05; done

cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  workers: 2
  shutdown_timeout: 30
HTTP:
  "default": $H
CFG
NOTIFY_SOCKET=$T/notify.sock start_portmux "$T/c.yaml"
assert_contains "$(pmx_log)" "workers=2"
kill -HUP "$PORTMUX_PID"
for _ in $(seq 1 100); do grep -q "reload: done" "$T/portmux.log" && break; sleep 0.05; done
sleep 0.2
# SIGUSR1: a status line (and the same figures for `systemctl status`).
curl -sS --max-time 5 "http://127.0.0.1:$P/counted" >/dev/null
client raw "$P" 'nobody claims this\n' 1 >/dev/null
kill -USR1 "$PORTMUX_PID"
sleep 0.3
assert_contains "$(pmx_log)" "status generation=2 workers=2 connections=0 accepted="
assert_contains "$(pmx_log)" " http=1 on_timeout=0 fallback=0 unserved=1"

# 1. Graceful drain: a live keep-alive connection survives SIGTERM and
# still gets its answer; new connections are refused meanwhile.
req='GET /live HTTP/1.1\r\nHost: x\r\n\r\n'
client twostep "$P" "$req" "$req" "$T/go" >"$T/live.out" &
LIVE=$!
PIDS="$PIDS $LIVE"
sleep 0.5
kill -TERM "$PORTMUX_PID"
sleep 0.5
kill -0 "$PORTMUX_PID" || fail "exited with a live connection"
curl -sS --max-time 2 "http://127.0.0.1:$P/" >/dev/null 2>&1 &&
	fail "a new connection was accepted while stopping"
touch "$T/go"
wait "$LIVE"
assert_eq "$(cat "$T/live.out")" "backend=web host=x path=/live
backend=web host=x path=/live" "the live connection finished"
for _ in $(seq 1 40); do kill -0 "$PORTMUX_PID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$PORTMUX_PID" 2>/dev/null && fail "still running after its last connection ended"
wait "$PORTMUX_PID" || fail "exit status $?"
PORTMUX_PID=""
notes=$(cat "$T/notify.txt")
assert_contains "$notes" "READY=1 STATUS=serving on 127.0.0.1:$P (2 workers)"
assert_contains "$notes" "RELOADING=1 MONOTONIC_USEC="
assert_contains "$notes" "READY=1 STATUS=serving (generation 2)"
assert_contains "$notes" "STOPPING=1"
assert_contains "$notes" "STATUS=connections=0 accepted="

# 2. shutdown_timeout bounds the drain.
sed -i 's/shutdown_timeout: 30/shutdown_timeout: 0.5/' "$T/c.yaml"
start_portmux "$T/c.yaml"
client twostep "$P" "$req" "$req" "$T/never" >/dev/null 2>&1 &
PIDS="$PIDS $!"
sleep 0.5
start=$(date +%s%3N)
kill -TERM "$PORTMUX_PID"
wait "$PORTMUX_PID" || fail "exit status $?"
PORTMUX_PID=""
ms=$(($(date +%s%3N) - start))
[ "$ms" -ge 400 ] && [ "$ms" -lt 1500 ] || fail "drain took $ms ms, expected ~500"
assert_contains "$(pmx_log)" "drain time over: closing 1 connections"

# 3. max_connections: at the limit, new connections wait in the backlog
# until one ends (whichever worker holds it).
cat >"$T/m.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  workers: 2
  max_connections: 3
  max_connections_per_source: 0 # this test is about the global limit
  fallback: $E
CFG
start_portmux "$T/m.yaml"
cat >"$T/limit.py" <<PY
import socket, time
def echo(s, text):
    s.sendall(text)
    s.settimeout(0.7)
    try:
        return s.recv(100)
    except socket.timeout:
        return b""
held = [socket.create_connection(("127.0.0.1", $P)) for _ in range(3)]
assert all(echo(s, b"hold") == b"hold" for s in held), "3 under the limit"
extra = socket.create_connection(("127.0.0.1", $P))
assert echo(extra, b"wait") == b"", "a 4th was served at the limit"
held[0].close()
extra.settimeout(3)
assert extra.recv(100) == b"wait", "the 4th was not served once one ended"
print("ok")
PY
assert_eq "$($PY "$T/limit.py")" "ok" "max_connections"
assert_contains "$(pmx_log)" "accept paused: max_connections=3 reached"
