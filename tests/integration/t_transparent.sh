# Transparent proxying: with `transparent: true` PortMux connects to the
# backend from the client's own address, so a real sshd logs the real
# client and a backend's getpeername() is the client — IPv4 and IPv6.
# Three network namespaces on veth pairs: the client, PortMux (the
# gateway of the backends' network, with the routing recipe of the
# README: answers to clients are marked and delivered locally), and the
# backends.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v nft >/dev/null || { echo "SKIP: needs nft (nftables)"; exit 77; }
ip netns add "pmxt-probe-$$" 2>/dev/null || { echo "SKIP: no network namespaces"; exit 77; }
ip netns del "pmxt-probe-$$"

N=$$
CLI=pmxt-cli-$N PMX=pmxt-pmx-$N SRV=pmxt-srv-$N
trap 'st=$?; for n in $CLI $PMX $SRV; do ip netns del $n 2>/dev/null; done; set +e; (exit $st); cleanup' EXIT INT TERM
in_ns() { ns=$1; shift; ip netns exec "$ns" "$@"; }
for n in $CLI $PMX $SRV; do ip netns add "$n"; in_ns "$n" ip link set lo up; done
ip link add c0-$N netns "$CLI" type veth peer name p0-$N netns "$PMX"
ip link add s0-$N netns "$SRV" type veth peer name p1-$N netns "$PMX"
in_ns "$CLI" ip addr add 10.77.1.2/24 dev c0-$N
in_ns "$CLI" ip addr add fd77:1::2/64 dev c0-$N nodad
in_ns "$PMX" ip addr add 10.77.1.1/24 dev p0-$N
in_ns "$PMX" ip addr add fd77:1::1/64 dev p0-$N nodad
in_ns "$PMX" ip addr add 10.77.2.1/24 dev p1-$N
in_ns "$PMX" ip addr add fd77:2::1/64 dev p1-$N nodad
in_ns "$SRV" ip addr add 10.77.2.2/24 dev s0-$N
in_ns "$SRV" ip addr add fd77:2::2/64 dev s0-$N nodad
in_ns "$CLI" ip link set c0-$N up
in_ns "$PMX" ip link set p0-$N up
in_ns "$PMX" ip link set p1-$N up
in_ns "$SRV" ip link set s0-$N up
# The backends answer through PortMux's host.
in_ns "$SRV" ip route add default via 10.77.2.1
in_ns "$SRV" ip -6 route add default via fd77:2::1
SSHD_PORT=2222 PEER_PORT=7000 P=8443
# The recipe: the backends' answers to clients are marked as they come in
# and delivered to the local (transparent) sockets, not forwarded.
in_ns "$PMX" nft -f - <<NFT
table inet portmux {
	chain backends {
		type filter hook prerouting priority mangle;
		iifname "p1-$N" tcp sport { $SSHD_PORT, $PEER_PORT } meta mark set 1
	}
}
NFT
in_ns "$PMX" ip rule add fwmark 1 lookup 100
in_ns "$PMX" ip route add local 0.0.0.0/0 dev lo table 100
in_ns "$PMX" ip -6 rule add fwmark 1 lookup 100
in_ns "$PMX" ip -6 route add local ::/0 dev lo table 100

# A real sshd and a backend that tells whom it sees, in the backends' ns.
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$T/clientkey"
cp "$T/clientkey.pub" "$T/authorized_keys"
chmod 600 "$T/authorized_keys"
cat >"$T/sshd_config" <<CFG
Port $SSHD_PORT
ListenAddress 0.0.0.0
ListenAddress ::
HostKey $T/hostkey
PidFile $T/sshd.pid
AuthorizedKeysFile $T/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
LogLevel INFO
CFG
start_bg sshd ip netns exec "$SRV" /usr/sbin/sshd -D -e -f "$T/sshd_config"
cat >"$T/peer.py" <<'PY'
import socket, sys, threading
def serve(family, addr):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, int(sys.argv[1])))
    s.listen(16)
    while True:
        c, peer = s.accept()
        c.recv(4096)
        c.sendall(b"HTTP/1.0 200 OK\r\n\r\npeer=" + peer[0].encode() + b"\n")
        c.close()
threading.Thread(target=serve, args=(socket.AF_INET6, "::"), daemon=True).start()
serve(socket.AF_INET, "0.0.0.0")
PY
start_bg peer ip netns exec "$SRV" $PY "$T/peer.py" "$PEER_PORT"
sleep 0.5

SSH_OPTS="-F /dev/null -i $T/clientkey -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o BatchMode=yes -o LogLevel=ERROR -o ConnectTimeout=10"
run() { # FRONT BACK: PortMux on FRONT, backends at BACK; ssh and HTTP
	front=$1 back=$2 client=$3
	host=$front fb=$back
	case $front in *:*) host="[$front]" fb="[$back]" ;; esac
	cat >"$T/c.yaml" <<CFG
PORTMUX:
  listen: ["$host:$P"]
  transparent: true
  max_connections_per_source: 0
SSH:
  default: "$fb:$SSHD_PORT"
HTTP:
  default: "$fb:$PEER_PORT"
CFG
	starts=$(grep -c ' started: ' "$T/portmux.log" 2>/dev/null || true)
	ip netns exec "$PMX" "$PORTMUX_BIN" -c "$T/c.yaml" >>"$T/portmux.log" 2>&1 &
	PORTMUX_PID=$!
	for _ in $(seq 1 100); do
		[ "$(grep -c ' started: ' "$T/portmux.log")" -gt "${starts:-0}" ] && break
		sleep 0.05
	done
	got=$(in_ns "$CLI" curl -sS --max-time 5 "http://$host:$P/" || true)
	assert_eq "$got" "peer=$client" "the backend sees the client ($client)"
	out=$(in_ns "$CLI" ssh $SSH_OPTS -p "$P" "root@$front" echo through 2>&1 || true)
	assert_eq "$out" "through" "ssh through PortMux"
	for _ in $(seq 1 40); do
		grep -q "Accepted publickey for root from $client port" "$T/sshd.log" && break
		sleep 0.05
	done
	assert_contains "$(cat "$T/sshd.log")" "Accepted publickey for root from $client port" \
		"sshd logs the real client"
	stop_portmux
}
run 10.77.1.1 10.77.2.2 10.77.1.2
run fd77:1::1 fd77:2::2 fd77:1::2

# UDP flows too: an OpenVPN client's datagrams reach the backend from the
# client's address (the answers are marked and delivered the same way).
UDP_PORT=1194
in_ns "$PMX" nft add rule inet portmux backends iifname "p1-$N" udp sport $UDP_PORT meta mark set 1
cat >"$T/udppeer.py" <<PY
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", $UDP_PORT))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(b"peer=" + peer[0].encode(), peer)
PY
start_bg udppeer ip netns exec "$SRV" $PY "$T/udppeer.py"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  listen: ["10.77.1.1:$P"]
  transparent: true
OPENVPN:
  udp: "10.77.2.2:$UDP_PORT"
CFG
ip netns exec "$PMX" "$PORTMUX_BIN" -c "$T/c.yaml" >>"$T/portmux.log" 2>&1 &
PORTMUX_PID=$!
sleep 0.5
got=$(in_ns "$CLI" $PY -c "
import os, socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(3)
u.sendto(bytes([0x38]) + os.urandom(8) + bytes(5), ('10.77.1.1', $P))
print(u.recvfrom(100)[0].decode())" || true)
assert_eq "$got" "peer=10.77.1.2" "a UDP flow comes from the client's address"
stop_portmux

# user: keeps CAP_NET_ADMIN alone across the privilege drop.
if id nobody >/dev/null 2>&1; then
	plugins_for_user
	cat >"$T/c.yaml" <<CFG
PORTMUX:
  listen: ["10.77.1.1:$P"]
  user: nobody
HTTP:
  default: {host: 10.77.2.2, port: $PEER_PORT, transparent: true}
CFG
	ip netns exec "$PMX" "$PORTMUX_BIN" -c "$T/c.yaml" >>"$T/portmux.log" 2>&1 &
	PORTMUX_PID=$!
	for _ in $(seq 1 100); do
		in_ns "$CLI" curl -s -o /dev/null --max-time 1 "http://10.77.1.1:$P/" && break
		sleep 0.05
	done
	n=$(id -u nobody)
	assert_contains "$(grep '^Uid:' "/proc/$PORTMUX_PID/status")" "$n" "running as nobody"
	assert_eq "$(in_ns "$CLI" curl -sS --max-time 5 "http://10.77.1.1:$P/")" \
		"peer=10.77.1.2" "a route's transparent, as nobody"
	stop_portmux
fi

# Without CAP_NET_ADMIN (or CAP_NET_RAW) PortMux says so at start-up, and does not serve.
if command -v setpriv >/dev/null; then
	set +e
	out=$(ip netns exec "$PMX" setpriv --inh-caps=-net_admin,-net_raw \
		--bounding-set=-net_admin,-net_raw \
		"$PORTMUX_BIN" -c "$T/c.yaml" 2>&1)
	rc=$?
	set -e
	[ "$rc" -ne 0 ] || fail "started without CAP_NET_ADMIN"
	assert_contains "$out" "transparent: connecting from the client's address needs CAP_NET_ADMIN"
fi

# A backend on PortMux's own host (the README's second recipe): its answers
# are marked as they leave; it listens on the host's address, not 127.0.0.1.
LOCAL_PORT=7001
in_ns "$PMX" nft add chain inet portmux local '{ type route hook output priority mangle; }'
in_ns "$PMX" nft add rule inet portmux local tcp sport $LOCAL_PORT meta mark set 1
cat >"$T/local.py" <<PY
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.77.2.1", $LOCAL_PORT))
s.listen(16)
while True:
    c, peer = s.accept()
    c.recv(4096)
    c.sendall(b"HTTP/1.0 200 OK\r\n\r\npeer=" + peer[0].encode() + b"\n")
    c.close()
PY
start_bg local ip netns exec "$PMX" $PY "$T/local.py"
# It must listen before the request below (PortMux answers 502 until then).
for _ in $(seq 1 100); do
	[ -n "$(in_ns "$PMX" ss -Hltn "sport = :$LOCAL_PORT")" ] && break
	sleep 0.05
done
cat >"$T/c.yaml" <<CFG
PORTMUX:
  listen: ["10.77.1.1:$P"]
  transparent: true
HTTP:
  default: "10.77.2.1:$LOCAL_PORT"
CFG
ip netns exec "$PMX" "$PORTMUX_BIN" -c "$T/c.yaml" >>"$T/portmux.log" 2>&1 &
PORTMUX_PID=$!
for _ in $(seq 1 100); do
	in_ns "$CLI" curl -s -o /dev/null --max-time 1 "http://10.77.1.1:$P/" && break
	sleep 0.05
done
assert_eq "$(in_ns "$CLI" curl -sS --max-time 5 "http://10.77.1.1:$P/")" \
	"peer=10.77.1.2" "a backend on the same host sees the client"
