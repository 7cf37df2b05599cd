# Memory under a flood of big datagrams while flows are being decided: 300
# new clients, each sending 16 datagrams of 63 KiB to a slow Python script.
# What waits for Python is bounded by udp_queue_bytes (1 MiB per listener
# by default; the 16-datagram queue of each flow still applies): the
# first flows fill it, the others find no room to wait and nobody else
# claims them (no_room; check_udp.c counts the bytes exactly, and shows a
# client with no room to wait judged by the other detectors). PortMux's
# resident memory stays small (VmRSS, VmHWM from /proc), and a new OpenVPN
# client is served at once meanwhile.
. "$(dirname "$0")/lib.sh"

P=$(free_port) O=$(free_port)
start_bg ovpn $PY "$TOOLS/backend.py" udpecho "OVPN:" "$O"
cat >"$T/slow.py" <<PY
import time
def analyse(buffer):
    time.sleep(3)  # every flow stays undecided during the flood
    return None
PY
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  udp: true
  workers: 1
  detectors: [openvpn, python]
PYTHON:
  script: $T/slow.py
  timeout: 5
OPENVPN:
  "udp": $O
CFG
for _ in $(seq 1 100); do grep -q ready "$T/ovpn.log" && break; sleep 0.05; done
start_portmux "$T/c.yaml"
cat >"$T/flood.py" <<PY
import socket, sys, time
def kb(field):
    for line in open("/proc/$PORTMUX_PID/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
rss0 = kb("VmRSS")
big = b"x" * 64512
socks = []
start = time.time()
for i in range(300):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", $P))
    socks.append(s)
    for k in range(16):
        s.send(big)
        time.sleep(0.0003)  # let PortMux read: the kernel drops the rest
sent = time.time() - start
time.sleep(0.5)
rss, hwm = kb("VmRSS"), kb("VmHWM")
# A new OpenVPN client, the flood's flows still undecided.
o = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
o.settimeout(3)
o.connect(("127.0.0.1", $P))
reset = open("$TOP/tests/corpus/openvpn/udp-plain.bin", "rb").read()
o.send(reset)
try:
    served = o.recv(100) == b"OVPN:" + reset
except socket.timeout:
    served = False
print("rss_before_kb=%d rss_kb=%d hwm_kb=%d sent_s=%.1f openvpn_served=%d"
      % (rss0, rss, hwm, sent, served))
PY
out=$($PY "$T/flood.py")
echo "$out"
rss=$(echo "$out" | sed 's/.* rss_kb=\([0-9]*\).*/\1/')
hwm=$(echo "$out" | sed 's/.* hwm_kb=\([0-9]*\).*/\1/')
# A sanitizer keeps freed memory in quarantine (ASan: up to 256 MB) or
# shadows it (TSan): there the bound says nothing.
if grep -qa -e __asan_init -e __tsan_init "$PORTMUX_BIN"; then
	echo "sanitizer build: no bound on resident memory"
else
	[ "$rss" -lt 40960 ] || fail "VmRSS $rss kB after the flood (bound: 40 MB)"
	[ "$hwm" -lt 40960 ] || fail "VmHWM $hwm kB during the flood (bound: 40 MB)"
fi
assert_contains "$out" "openvpn_served=1" "an OpenVPN client during the flood"
stop_portmux
assert_contains "$(pmx_log)" "no_room="
