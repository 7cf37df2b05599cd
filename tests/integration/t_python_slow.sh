# A looping script cannot stall PortMux: while clients keep a script busy
# in an endless loop (each call cut at PYTHON.timeout), HTTP requests from
# another source through the same port — which the script sees first and
# declines — still finish in milliseconds. (Clients of the looping source
# share its probe_source_share of the probe threads: t_probe_flood.)
. "$(dirname "$0")/lib.sh"

P=$(free_port) H=$(free_port)
http_backend web "$H"
cat >"$T/loop.py" <<'PY'
def analyse(buffer):
    if buffer.startswith(b"LOOP"):
        while True:
            pass
    return None
PY
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  log_level: warn
PYTHON:
  script: $T/loop.py
  timeout: 0.05
HTTP:
  "default": $H
CFG
start_portmux "$T/c.yaml"

# Two clients keep the script looping for the whole measurement.
cat >"$T/busy.py" <<PY
import socket, sys, threading, time
end = time.time() + float(sys.argv[1])
def hammer():
    while time.time() < end:
        s = socket.create_connection(("127.0.0.1", $P))
        s.sendall(b"LOOP forever")
        s.settimeout(2)
        try:
            s.recv(10)
        except OSError:
            pass
        s.close()
ts = [threading.Thread(target=hammer) for _ in range(2)]
[t.start() for t in ts]
[t.join() for t in ts]
PY
$PY "$T/busy.py" 6 &
BUSY=$!
PIDS="$PIDS $BUSY"
sleep 0.5
times=""
for i in $(seq 1 30); do
	t=$(curl -sS --interface 127.0.0.2 --max-time 5 -o /dev/null -w '%{time_total}' "http://127.0.0.1:$P/$i")
	times="$times $t"
done
wait "$BUSY"
echo "http times while the script loops:$times"
$PY - $times <<'PY'
import statistics, sys
t = sorted(float(x) for x in sys.argv[1:])
med, worst = statistics.median(t), t[-1]
print("median %.1f ms, worst %.1f ms" % (med * 1000, worst * 1000))
sys.exit(0 if med < 0.020 and worst < 0.100 else "HTTP was delayed by the looping script")
PY
# The loops were really cut by the deadline (and logged as such).
assert_contains "$(pmx_log)" "timeout"
