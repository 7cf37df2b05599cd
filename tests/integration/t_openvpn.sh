# A real openvpn client and server (TLS mode, --dev null, certificates made
# here) reach "Initialization Sequence Completed" through PortMux over TCP
# and over UDP, on the port that also serves HTTP.
. "$(dirname "$0")/lib.sh"

command -v openvpn >/dev/null || { echo "SKIP: no openvpn"; exit 77; }
P=$(free_port) ST=$(free_port) SU=$(free_port) H=$(free_port)

cd "$T"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
# shellcheck disable=SC2086
openssl req -x509 $ec -keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca 2>/dev/null
for n in server client; do
	# shellcheck disable=SC2086
	openssl req $ec -keyout $n.key -out $n.csr -subj /CN=$n 2>/dev/null
done
printf 'extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyAgreement\n' >s.ext
printf 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyAgreement\n' >c.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile s.ext 2>/dev/null
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 -extfile c.ext 2>/dev/null
common="--dev null --verb 3 --ca ca.crt"
server="$common --tls-server --dh none --cert server.crt --key server.key --local 127.0.0.1"
client="$common --connect-retry-max 1 --tls-client --cert client.crt --key client.key --remote-cert-tls server --remote 127.0.0.1 $P"

wait_for() { # FILE TEXT SECONDS
	for _ in $(seq 1 $(($3 * 10))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

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
