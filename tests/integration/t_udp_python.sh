# Python routes UDP too: a new client's first datagram goes to analyse() on
# the probe threads while its next datagrams wait (a short queue); once the
# script answers, the flow opens and every waiting datagram follows, in
# order. A slow script delays only its own flow.
. "$(dirname "$0")/lib.sh"

P=$(free_port) G=$(free_port) O=$(free_port)
start_bg game $PY "$TOOLS/backend.py" udpecho "GAME:" "$G"
start_bg ovpn $PY "$TOOLS/backend.py" udpecho "OVPN:" "$O"
sleep 0.5
cat >"$T/udp.py" <<PY
import time
def analyse(buffer):
    if buffer.startswith(b"GAME"):
        time.sleep(0.02)  # a script that takes its time
        return $G
    return None
PY
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  udp: true
  detectors: [python, openvpn]
PYTHON:
  script: $T/udp.py
  timeout: 0.5
OPENVPN:
  "udp": $O
CFG
start_portmux "$T/c.yaml"
cat >"$T/game.py" <<PY
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect(("127.0.0.1", $P))
# Three datagrams at once: the last two wait while the script decides.
for i in range(3):
    s.send(b"GAME %d" % i)
got = [s.recv(100) for _ in range(3)]
assert got == [b"GAME:GAME 0", b"GAME:GAME 1", b"GAME:GAME 2"], got
s.send(b"any later datagram")
assert s.recv(100) == b"GAME:any later datagram"
# Not the script's: the next detector (openvpn) still classifies.
o = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
o.settimeout(3)
o.connect(("127.0.0.1", $P))
reset = open("$TOP/tests/corpus/openvpn/udp-plain.bin", "rb").read()
o.send(reset)
assert o.recv(2000) == b"OVPN:" + reset
print("ok")
PY
assert_eq "$($PY "$T/game.py")" "ok" "python over udp"
stop_portmux
assert_contains "$(pmx_log)" "detector=python backend=127.0.0.1:$G"
assert_contains "$(pmx_log)" "detector=openvpn backend=127.0.0.1:$O"
