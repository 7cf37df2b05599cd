# HTTP/3 by SNI on UDP: Debian's ngtcp2 client (gtlsclient) fetches a page
# from two ngtcp2 HTTP/3 servers (gtlsserver) through PortMux's port — one
# by its exact name, one by a "*." wildcard — over QUIC v1 and v2's draft
# version, with its ClientHello in one datagram or cut over two (an
# FFDHE-8192 key share: what curl and browsers do with post-quantum ones);
# a name with no route is dropped. The same port serves HTTPS over TCP
# (nginx) and OpenVPN over UDP (a real client and server) meanwhile.
. "$(dirname "$0")/lib.sh"

for c in gtlsclient gtlsserver unshare; do
	command -v $c >/dev/null || { echo "SKIP: no $c"; exit 77; }
done
P=$(free_port) Q1=$(free_port) Q2=$(free_port) A=$(free_port) SU=$(free_port)

# The client sends the name it connects to as its SNI (Debian 12's ngtcp2
# ignores --sni with GnuTLS): it gets names for 127.0.0.1 from an
# /etc/hosts of its own, bind-mounted in a mount namespace of its own.
printf '127.0.0.1 localhost one.example two.example three.other\n' >"$T/hosts"
if [ "$(id -u)" -eq 0 ]; then NS="unshare --mount"; else NS="unshare --map-root-user --mount"; fi
in_ns() {
	# shellcheck disable=SC2016 # expanded by the inner sh
	$NS sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh "$T/hosts" "$@"
}
in_ns getent hosts one.example >/dev/null 2>&1 ||
	{ echo "SKIP: cannot give the client a private /etc/hosts ($NS)"; exit 77; }

# quic_get NAME [gtlsclient options]: the page NAME serves through PortMux.
quic_get() {
	name=$1
	shift
	rm -rf "$T/dl" && mkdir "$T/dl"
	in_ns timeout 15 gtlsclient -q --exit-on-all-streams-close \
		--handshake-timeout=5s --download="$T/dl" "$@" \
		"$name" "$P" "https://$name:$P/index.html" >>"$T/client.log" 2>&1 || true
	cat "$T/dl/index.html" 2>/dev/null || true
}

# Is a UDP port taken (a server bound it)?
wait_udp() {
	for _ in $(seq 1 100); do
		$PY -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).bind(('127.0.0.1', $1))" 2>/dev/null ||
			return 0
		sleep 0.1
	done
	fail "nothing bound udp port $1"
}

cd "$T"
for n in one two; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout $n.key -out $n.crt -days 2 -subj /CN=$n.example 2>/dev/null
	mkdir www-$n
	echo "quic backend $n" >www-$n/index.html
done
start_bg quic-one gtlsserver -q -d "$T/www-one" 127.0.0.1 "$Q1" one.key one.crt
start_bg quic-two gtlsserver -q -d "$T/www-two" 127.0.0.1 "$Q2" two.key two.crt
wait_udp "$Q1"
wait_udp "$Q2"
start_nginx_tls "web.example:$A"

openvpn_setup "$P"

cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  udp_timeout: 2
  log_level: debug
HTTPS:
  "web.example": $A
OPENVPN:
  "udp": $SU
QUIC:
  "one.example": $Q1
  "*.example": $Q2
CFG
start_portmux "$T/c.yaml"
grep -q "listening on udp 127.0.0.1:$P" "$T/portmux.log" || fail "no UDP listener"

assert_eq "$(quic_get one.example)" "quic backend one" "QUIC v1, exact name"
assert_eq "$(quic_get two.example)" "quic backend two" "QUIC v1, wildcard"
assert_eq "$(quic_get two.example -v v2draft)" "quic backend two" "QUIC v2 (draft codepoint)"
ffdhe="--groups=-GROUP-ALL:+GROUP-FFDHE8192:+GROUP-X25519"
assert_eq "$(quic_get one.example "$ffdhe")" "quic backend one" \
	"ClientHello over two datagrams"
assert_eq "$(quic_get two.example -v v2draft "$ffdhe")" "quic backend two" \
	"v2 ClientHello over two datagrams"
# Those waited for their second datagram, then matched on both.
assert_eq "$(grep -c 'probe detector=quic len=1200 final=0 verdict=need_more' "$T/portmux.log")" 2 \
	"first datagrams of the cut ClientHellos"
assert_eq "$(grep -c 'probe detector=quic len=2400 final=0 verdict=match' "$T/portmux.log")" 2 \
	"cut ClientHellos matched on two datagrams"
assert_eq "$(quic_get three.other --handshake-timeout=1s)" "" "no route"

# HTTPS over TCP on the same port.
assert_eq "$(curl -sS -k --max-time 5 --resolve "web.example:$P:127.0.0.1" "https://web.example:$P/")" \
	"tls backend web.example" "HTTPS next to QUIC"

# OpenVPN over UDP on the same port (the server must --float: datagrams
# come from PortMux's address).
# shellcheck disable=SC2086
start_bg ovpn-server openvpn $OVPN_SERVER --proto udp --port "$SU" --float
wait_for "$T/ovpn-server.log" "UDPv4 link local" 10 || fail "openvpn server did not start"
# shellcheck disable=SC2086
start_bg ovpn-client openvpn $OVPN_CLIENT --proto udp
wait_for "$T/ovpn-client.log" "Initialization Sequence Completed" 20 ||
	{ tail -n 20 "$T/ovpn-client.log" "$T/ovpn-server.log" >&2; fail "openvpn over UDP did not connect"; }

# QUIC still routed while OpenVPN runs; then every flow's line, once idle.
assert_eq "$(quic_get one.example)" "quic backend one" "QUIC next to OpenVPN"
flows() { grep -c "detector=quic backend=127.0.0.1:$1 " "$T/portmux.log" || true; }
for _ in $(seq 1 100); do
	[ "$(flows "$Q1")" -ge 3 ] && [ "$(flows "$Q2")" -ge 3 ] && break
	sleep 0.1
done
assert_eq "$(flows "$Q1")" 3 "flows to one.example"
assert_eq "$(flows "$Q2")" 3 "flows to two.example"
assert_contains "$(pmx_log)" "no_route=" "the name without a route"
