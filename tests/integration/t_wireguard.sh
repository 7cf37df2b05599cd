# WireGuard through PortMux's UDP side, next to HTTP on the same port.
#  1. Real captured datagrams (tests/corpus/wireguard) replayed to a UDP
#     echo backend: the handshake initiation opens a flow, later datagrams
#     of that client (transport data, anything) follow it; a new client
#     whose first datagram is not an initiation is not served.
#  2. Two real wireguard-go peers configured with wg: the client's
#     endpoint is PortMux, the server's listen port its WIREGUARD route.
#     Each TUN device is moved into a network namespace of its own (the
#     UDP sockets stay here, on loopback), and a datagram sent into the
#     tunnel comes back from the far side. Needs root, /dev/net/tun and
#     network namespaces: where the machine has none of them, part 2 is
#     skipped (said on stdout) and part 1 still runs.
. "$(dirname "$0")/lib.sh"

P=$(free_port) U=$(free_port) W=$(free_port) H=$(free_port)

netns_down() {
	for ns in ${NETNS:-}; do
		ip netns del "$ns" 2>/dev/null || true
	done
}
trap 'st=$?; netns_down; (exit $st); cleanup' EXIT INT TERM

http_backend web "$H"
start_bg udpecho $PY "$TOOLS/backend.py" udpecho "ECHO:" "$U"
sleep 0.3

# ---- 1: captured datagrams ----
cat >"$T/c1.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  detectors: [wireguard, http]
HTTP:
  "default": $H
WIREGUARD:
  "default": $U
CFG
start_portmux "$T/c1.yaml"
grep -q "listening on udp 127.0.0.1:$P" "$T/portmux.log" ||
	fail "a WIREGUARD section alone did not open the UDP listener"
$PY - <<PY || fail "replayed handshake"
import socket
corpus = "$TOP/tests/corpus/wireguard/"
init = open(corpus + "initiation.bin", "rb").read()
data = open(corpus + "transport.bin", "rb").read()
def client():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.connect(("127.0.0.1", $P))
    return s
a = client()
a.send(init)
assert a.recv(2048) == b"ECHO:" + init
a.send(data)
assert a.recv(2048) == b"ECHO:" + data
a.send(b"anything at all")
assert a.recv(2048) == b"ECHO:anything at all"
# a new client starting with transport data: no detector claims it
b = client()
b.settimeout(0.5)
b.send(data)
try:
    b.recv(2048)
    raise SystemExit("transport data opened a flow")
except socket.timeout:
    pass
PY
assert_eq "$(curl -sS --max-time 5 "http://127.0.0.1:$P/")" \
	"backend=web host=127.0.0.1:$P path=/" "http next to wireguard"
stop_portmux
assert_contains "$(pmx_log)" "detector=wireguard backend=127.0.0.1:$U"

# ---- 2: real wireguard-go peers ----
why=""
[ "$(id -u)" -eq 0 ] || why="not root"
[ -n "$why" ] || [ -c /dev/net/tun ] || why="no /dev/net/tun"
[ -n "$why" ] || command -v wireguard-go >/dev/null || why="no wireguard-go"
[ -n "$why" ] || command -v wg >/dev/null || why="no wg (wireguard-tools)"
NC=pmxwc$$ NS=pmxws$$
if [ -z "$why" ]; then
	if ip netns add "$NC" 2>/dev/null && ip netns add "$NS" 2>/dev/null; then
		NETNS="$NC $NS"
	else
		why="cannot make network namespaces"
	fi
fi
if [ -n "$why" ]; then
	echo "wireguard-go part skipped: $why (captured datagrams passed)"
	exit 0
fi

cat >"$T/c2.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  detectors: [wireguard, http]
HTTP:
  "default": $H
WIREGUARD:
  "default": $W
CFG
start_portmux "$T/c2.yaml"

export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1
(umask 077 && wg genkey >"$T/c.key" && wg genkey >"$T/s.key")
start_bg wg-client wireguard-go -f "$NC"
start_bg wg-server wireguard-go -f "$NS"
for _ in $(seq 1 100); do
	[ -S "/var/run/wireguard/$NC.sock" ] &&
		[ -S "/var/run/wireguard/$NS.sock" ] && break
	sleep 0.05
done
wg set "$NS" private-key "$T/s.key" listen-port "$W" \
	peer "$(wg pubkey <"$T/c.key")" allowed-ips 10.88.0.1/32
wg set "$NC" private-key "$T/c.key" peer "$(wg pubkey <"$T/s.key")" \
	allowed-ips 10.88.0.2/32 endpoint "127.0.0.1:$P"
# The TUN devices move into the namespaces; the UDP sockets stay here.
ip link set "$NC" netns "$NC"
ip link set "$NS" netns "$NS"
ip -n "$NC" addr add 10.88.0.1 peer 10.88.0.2 dev "$NC"
ip -n "$NS" addr add 10.88.0.2 peer 10.88.0.1 dev "$NS"
ip -n "$NC" link set "$NC" up
ip -n "$NS" link set "$NS" up

start_bg tunnel-echo ip netns exec "$NS" $PY -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.88.0.2", 7000))
s.settimeout(20)
for _ in range(3):
    d, a = s.recvfrom(100)
    s.sendto(b"tunnel:" + d, a)'
sleep 0.5
out=$(ip netns exec "$NC" $PY -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
for i in range(3):
    for _ in range(3):  # the first one waits for the handshake
        s.sendto(b"hello %d" % i, ("10.88.0.2", 7000))
        try:
            print(s.recv(100).decode())
            break
        except socket.timeout:
            pass') || true
assert_eq "$out" "tunnel:hello 0
tunnel:hello 1
tunnel:hello 2" "datagrams through the WireGuard tunnel"
[ "$(wg show "$NC" latest-handshakes | awk '{print $2}')" -gt 0 ] ||
	fail "no handshake"
assert_eq "$(curl -sS --max-time 5 "http://127.0.0.1:$P/")" \
	"backend=web host=127.0.0.1:$P path=/" "http next to wireguard-go"
stop_portmux
assert_contains "$(pmx_log)" "detector=wireguard backend=127.0.0.1:$W"
echo "wireguard-go: handshake and 3 datagrams through PortMux"
