# HTTP/3 by SNI on UDP: Debian's ngtcp2 client (gtlsclient) fetches a page
# from two ngtcp2 HTTP/3 servers (gtlsserver) through PortMux's port — one
# by its exact name, one by a "*." wildcard — over QUIC v1 and v2's draft
# version, with its ClientHello in one datagram or cut over two (an
# FFDHE-8192 key share: what curl and browsers do with post-quantum ones);
# a name with no route is dropped. The same port serves HTTPS over TCP
# (nginx) and OpenVPN over UDP (a real client and server) meanwhile.
. "$(dirname "$0")/lib.sh"

for c in gtlsclient gtlsserver openvpn unshare; do
	command -v $c >/dev/null || { echo "SKIP: no $c"; exit 77; }
done
P=$(free_port) Q1=$(free_port) Q2=$(free_port) A=$(free_port) SU=$(free_port)

# The client sends the name it connects to as its SNI (Debian 12's ngtcp2
# ignores --sni with GnuTLS): it gets names for 127.0.0.1 from an
# /etc/hosts of its own, bind-mounted in a mount namespace of its own.
printf '127.0.0.1 localhost one.example two.example three.other\n' >"$T/hosts"
if [ "$(id -u)" -eq 0 ]; then NS="unshare --mount"; else NS="unshare --map-root-user --mount"; fi
in_ns() {
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

# OpenVPN's certificates (as t_openvpn.sh)
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

# OpenVPN over UDP on the same port.
common="--dev null --verb 3 --ca ca.crt"
# shellcheck disable=SC2086
start_bg ovpn-server openvpn $common --tls-server --dh none --cert server.crt \
	--key server.key --local 127.0.0.1 --proto udp --port "$SU" --float
for _ in $(seq 1 100); do
	grep -q "UDPv4 link local" "$T/ovpn-server.log" 2>/dev/null && break
	sleep 0.1
done
# shellcheck disable=SC2086
start_bg ovpn-client openvpn $common --connect-retry-max 1 --tls-client \
	--cert client.crt --key client.key --remote-cert-tls server \
	--remote 127.0.0.1 "$P" --proto udp
for _ in $(seq 1 200); do
	grep -q "Initialization Sequence Completed" "$T/ovpn-client.log" 2>/dev/null && break
	sleep 0.1
done
grep -q "Initialization Sequence Completed" "$T/ovpn-client.log" ||
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
