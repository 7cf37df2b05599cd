# WireGuard through PortMux's UDP side, next to HTTP on the same port.
#  1. Real captured datagrams (tests/corpus/wireguard) replayed to a UDP
#     echo backend: the handshake initiation opens a flow, later datagrams
#     of that client (transport data, anything) follow it; a new client
#     whose first datagram is not an initiation is not served.
#  2. Two pairs of real wireguard-go peers configured with wg, both
#     clients' endpoint PortMux's port: the route named after server A's
#     public key takes client A (its mac1 proves it talks to A), client B
#     goes to `default`, server B. Each TUN device is moved into a network
#     namespace of its own (the UDP sockets stay here, on loopback), and
#     datagrams sent into each tunnel come back from its own server. Needs
#     root, /dev/net/tun and network namespaces: where the machine has
#     none of them, part 2 is skipped (said on stdout) and part 1 runs.
. "$(dirname "$0")/lib.sh"

P=$(free_port) U=$(free_port) H=$(free_port)
WA=$(free_port) WB=$(free_port)

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
if [ -z "$why" ]; then
	for ns in pmxca$$ pmxsa$$ pmxcb$$ pmxsb$$; do
		ip netns add "$ns" 2>/dev/null || { why="cannot make network namespaces"; break; }
		NETNS="${NETNS:-} $ns"
	done
fi
if [ -n "$why" ]; then
	echo "wireguard-go part skipped: $why (captured datagrams passed)"
	exit 0
fi

export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1
(umask 077 && for k in ca sa cb sb; do wg genkey >"$T/$k.key"; done)
hexkey() { wg pubkey <"$T/$1.key" | base64 -d | od -An -tx1 | tr -d ' \n'; }
cat >"$T/c2.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  detectors: [wireguard, http]
HTTP:
  "default": $H
WIREGUARD:
  "$(hexkey sa)": $WA
  "default": $WB
CFG
start_portmux "$T/c2.yaml"

# pair X SUBNET SERVER-PORT: client pmxcX$$ and server pmxsX$$, each TUN
# device in the namespace of its name; the server answers datagrams to
# SUBNET.2:7000 with "server X:" and what came.
pair() {
	c=pmxc$1$$ s=pmxs$1$$
	start_bg "wg-c$1" wireguard-go -f "$c"
	start_bg "wg-s$1" wireguard-go -f "$s"
	for _ in $(seq 1 100); do
		[ -S "/var/run/wireguard/$c.sock" ] &&
			[ -S "/var/run/wireguard/$s.sock" ] && break
		sleep 0.05
	done
	wg set "$s" private-key "$T/s$1.key" listen-port "$3" \
		peer "$(wg pubkey <"$T/c$1.key")" allowed-ips "$2.1/32"
	wg set "$c" private-key "$T/c$1.key" peer "$(wg pubkey <"$T/s$1.key")" \
		allowed-ips "$2.2/32" endpoint "127.0.0.1:$P"
	# The TUN devices move; their UDP sockets stay here.
	ip link set "$c" netns "$c"
	ip link set "$s" netns "$s"
	ip -n "$c" addr add "$2.1" peer "$2.2" dev "$c"
	ip -n "$s" addr add "$2.2" peer "$2.1" dev "$s"
	ip -n "$c" link set "$c" up
	ip -n "$s" link set "$s" up
	start_bg "echo-$1" ip netns exec "$s" $PY -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('$2.2', 7000))
s.settimeout(30)
while True:
    d, a = s.recvfrom(100)
    s.sendto(b'server $1:' + d, a)"
}
# talk X SUBNET: three datagrams into the tunnel, the answers printed
talk() {
	ip netns exec "pmxc$1$$" $PY -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
for i in range(3):
    for _ in range(3):  # the first one waits for the handshake
        s.sendto(b'hello %d' % i, ('$2.2', 7000))
        try:
            print(s.recv(100).decode())
            break
        except socket.timeout:
            pass" || true
}
pair a 10.88.1 "$WA"
pair b 10.88.2 "$WB"
sleep 0.3
assert_eq "$(talk a 10.88.1)" "server a:hello 0
server a:hello 1
server a:hello 2" "client A through the tunnel to server A"
assert_eq "$(talk b 10.88.2)" "server b:hello 0
server b:hello 1
server b:hello 2" "client B through the tunnel to server B"
for x in a b; do
	[ "$(wg show "pmxc$x$$" latest-handshakes | awk '{print $2}')" -gt 0 ] ||
		fail "client $x: no handshake"
done
assert_eq "$(curl -sS --max-time 5 "http://127.0.0.1:$P/")" \
	"backend=web host=127.0.0.1:$P path=/" "http next to wireguard-go"
stop_portmux
assert_contains "$(pmx_log)" "detector=wireguard backend=127.0.0.1:$WA"
assert_contains "$(pmx_log)" "detector=wireguard backend=127.0.0.1:$WB"
echo "wireguard-go: two servers on one port, each client to its own"
