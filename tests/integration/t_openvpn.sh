# A real openvpn client and server (TLS mode, --dev null, certificates made
# here) reach "Initialization Sequence Completed" through PortMux over TCP
# and over UDP, on the port that also serves HTTP.
. "$(dirname "$0")/lib.sh"

P=$(free_port) ST=$(free_port) SU=$(free_port) H=$(free_port)
openvpn_setup "$P"
server=$OVPN_SERVER
client=$OVPN_CLIENT

http_backend web "$H"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
HTTP:
  "default": $H
OPENVPN:
  "tcp": $ST
  "udp": $SU
CFG
start_portmux "$T/c.yaml"
grep -q "listening on udp 127.0.0.1:$P" "$T/portmux.log" || fail "no UDP listener"


# shellcheck disable=SC2086
start_bg ovpn-server-tcp openvpn $server --proto tcp-server --port "$ST"
# (no wait_port: a peer-to-peer TCP server takes exactly one connection)
wait_for "$T/ovpn-server-tcp.log" "Listening for incoming TCP" 10 || fail "server did not start"
# shellcheck disable=SC2086
start_bg ovpn-client-tcp openvpn $client --proto tcp-client
wait_for "$T/ovpn-client-tcp.log" "Initialization Sequence Completed" 20 ||
	{ tail -n 20 "$T/ovpn-client-tcp.log" "$T/ovpn-server-tcp.log" >&2; fail "openvpn over TCP did not connect"; }
wait_for "$T/ovpn-server-tcp.log" "Initialization Sequence Completed" 5 ||
	fail "openvpn TCP server did not complete"

# UDP: the server must --float, since datagrams come from PortMux's address.
# shellcheck disable=SC2086
start_bg ovpn-server-udp openvpn $server --proto udp --port "$SU" --float
wait_for "$T/ovpn-server-udp.log" "UDPv4 link local" 10 || fail "UDP server did not start"
# shellcheck disable=SC2086
start_bg ovpn-client-udp openvpn $client --proto udp
wait_for "$T/ovpn-client-udp.log" "Initialization Sequence Completed" 20 ||
	{ tail -n 20 "$T/ovpn-client-udp.log" "$T/ovpn-server-udp.log" >&2; fail "openvpn over UDP did not connect"; }
wait_for "$T/ovpn-server-udp.log" "Initialization Sequence Completed" 5 ||
	fail "openvpn UDP server did not complete"

# HTTP still served on the same port.
assert_eq "$(curl -sS --max-time 5 "http://127.0.0.1:$P/")" \
	"backend=web host=127.0.0.1:$P path=/" "http next to openvpn"
