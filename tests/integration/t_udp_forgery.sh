# UDP under forged datagrams: real 14-byte OpenVPN hard resets, through
# openvpn.so, from many spoofed-looking sources (127.0.1.x) must not push a
# live client out of the flow table. A flow whose backend answered
# (established) is never evicted for a new one: with udp_max_flows: 64 the
# forged flows only push each other out, and once every flow is
# established a new client is dropped, while the live ones keep working.
# Junk is summed up, not logged datagram by datagram.
. "$(dirname "$0")/lib.sh"

P=$(free_port) U=$(free_port)
# The backend answers the real client's PINGs, and resets whose session id
# starts with 0xAA (phase B); other resets go unanswered, as an OpenVPN
# server with tls-auth ignores forged ones.
cat >"$T/backend.py" <<PY
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", $U))
print("ready", flush=True)
while True:
    d, a = s.recvfrom(65536)
    if d.startswith(b"PING") or (len(d) == 14 and d[1] == 0xAA):
        s.sendto(b"ECHO:" + d, a)
PY
start_bg backend $PY "$T/backend.py"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  udp_timeout: 30
  udp_max_flows: 64
  workers: 1  # the flow table is per worker
OPENVPN:
  "udp": $U
CFG
for _ in $(seq 1 100); do grep -q ready "$T/backend.log" && break; sleep 0.05; done
start_portmux "$T/c.yaml"
cat >"$T/forge.py" <<PY
import os, socket, sys, time
real_reset = open("$TOP/tests/corpus/openvpn/udp-plain.bin", "rb").read()
assert len(real_reset) == 14

def reset(first):
    # opcode 7 << 3, key id 0; session id; ack count 0; message packet id 0
    sid = bytes([first]) + os.urandom(7)
    return b"\x38" + sid + b"\x00" + b"\x00\x00\x00\x00"

n_forged = 0
def forge(count, first_sid_byte):
    global n_forged
    for _ in range(count):
        n_forged += 1
        f = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        f.bind(("127.0.1.%d" % (n_forged % 250 + 1), 0))
        f.sendto(reset(first_sid_byte), ("127.0.0.1", $P))
        f.close()

echoes = 0
def ping(s, i, expect=True):
    global echoes
    msg = b"PING %d" % i
    s.send(msg)
    s.settimeout(2 if expect else 0.5)
    try:
        got = s.recv(100)
    except socket.timeout:
        got = None
    if expect:
        if got != b"ECHO:" + msg:
            sys.exit("real client not echoed after %d forged resets: %r"
                     % (n_forged, got))
        echoes += 1
    elif got is not None:
        sys.exit("a client beyond a table of live flows was served")

real = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
real.bind(("127.0.0.1", 0))
real.connect(("127.0.0.1", $P))
real.send(real_reset)
ping(real, 0)  # the backend answered: the flow is established
start = time.time()
# 0. 2,000 junk datagrams from as many source ports: a few lines at most.
def log_lines():
    return open("$T/portmux.log").read().splitlines()
before = len(log_lines())
for i in range(2000):
    j = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    j.bind(("127.0.1.%d" % (i % 250 + 1), 0))
    j.sendto(b"JUNK %d" % i, ("127.0.0.1", $P))
    j.close()
    if i % 100 == 99:
        time.sleep(0.01)
time.sleep(1.5)  # the summary comes once a second
lines = log_lines()[before:]
unclaimed = sum(int(w.split("=")[1]) for l in lines for w in l.split()
                if w.startswith("unclaimed="))
if len(lines) > 3 or unclaimed < 1800:
    sys.exit("2,000 junk datagrams: %d lines, %d counted: %r"
             % (len(lines), unclaimed, lines[:3]))
ping(real, 1000)
# A. Unanswered forged resets: 3 x 64, the real client quiet in between
# (the least recently active flow each time).
for r in range(3):
    forge(64, 0x11)
    time.sleep(0.2)
    ping(real, 1 + r)
# B. Answered ones: the table fills with established flows.
for r in range(3):
    forge(64, 0xAA)
    time.sleep(0.2)
    ping(real, 10 + r)
# A new client now finds every flow established: dropped.
late = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
late.connect(("127.0.0.1", $P))
late.send(real_reset)
ping(late, 99, expect=False)
for i in range(20):
    ping(real, 100 + i)
assert time.time() - start < 30
print("ok real=127.0.0.1:%d echoes=%d forged=%d junk=2000 lines=%d "
      "unclaimed=%d" % (real.getsockname()[1], echoes, n_forged,
                        len(lines), unclaimed))
PY
out=$($PY "$T/forge.py")
echo "$out"
assert_contains "$out" "ok real=" "forged resets"
real=${out#ok real=}
real=${real%% *}
stop_portmux
log=$(pmx_log)
case "$log" in
*"client=$real "*"reason=evicted"*) fail "the real client's flow was evicted" ;;
esac
assert_contains "$log" "table_full="
