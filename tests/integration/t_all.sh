# Every detector enabled together, in the default order, on one port: each
# real client lands on its own backend — curl over HTTP and HTTPS, ssh,
# openvpn over TCP and UDP, XMPP (slixmpp's captured stream header), a
# PATTERN rule (mosquitto_pub's captured MQTT CONNECT), a client that waits
# for the server's banner, and bytes nobody claims. Then PORTMUX.detectors
# sets the order.
. "$(dirname "$0")/lib.sh"

P=$(free_port) H=$(free_port) S=$(free_port) TL=$(free_port) OT=$(free_port) OU=$(free_port) F=$(free_port)
http_backend web "$H"
start_sshd "$S"
start_nginx_tls "secure.example.com:$TL"
echo_backend "FALLBACK " "$F"
start_bg ovpn-tcp $PY "$TOOLS/capture.py" "$OT" "$T/ovpn-tcp.bin" 1
start_bg ovpn-udp $PY "$TOOLS/capture_udp.py" "$OU" "$T/ovpn-udp.bin"
X=$(free_port) MQ=$(free_port)
start_bg xmpp $PY "$TOOLS/capture.py" "$X" "$T/xmpp.bin" 1
start_bg mqtt $PY "$TOOLS/capture.py" "$MQ" "$T/mqtt.bin" 1
sleep 0.5
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  probe_timeout: 0.5
  fallback: "127.0.0.1:$F"
HTTP:
  "default": $H
HTTPS:
  "secure.example.com": $TL
OPENVPN:
  "tcp": $OT
  "udp": $OU
SSH:
  "default": $S
XMPP:
  "a.test": $X
PATTERN:
  rules:
    - {name: mqtt, hex: "00 04 4d 51 54 54", offset: 2, backend: $MQ}
CFG
start_portmux "$T/c.yaml"
assert_contains "$(pmx_log)" "detectors=ssh,tls,openvpn,xmpp,http,pattern on_timeout=SSH"

assert_eq "$(curl -sS --max-time 5 "http://127.0.0.1:$P/h")" \
	"backend=web host=127.0.0.1:$P path=/h" "http"
assert_eq "$(curl -sS -k --max-time 5 --resolve "secure.example.com:$P:127.0.0.1" "https://secure.example.com:$P/")" \
	"tls backend secure.example.com" "https"
# shellcheck disable=SC2086
assert_contains "$(ssh $SSH_OPTS -p "$P" "$SSH_USER@127.0.0.1" echo ssh-ok)" "ssh-ok" "ssh"
assert_contains "$(client silent "$P" 5)" "SSH-2.0-OpenSSH" "silent client -> SSH banner"
assert_eq "$(client raw "$P" 'QUIT\n' 2)" "FALLBACK QUIT" "unclaimed -> fallback"
# OpenVPN clients: their first packets reach the OpenVPN backends (captured
# there byte for byte).
$PY -c "
import socket, time
s = socket.create_connection(('127.0.0.1', $P))
s.sendall(open('$TOP/tests/corpus/openvpn/tcp-plain.bin', 'rb').read())
time.sleep(0.3)"
sleep 0.5
cmp "$T/ovpn-tcp.bin" "$TOP/tests/corpus/openvpn/tcp-plain.bin" || fail "openvpn tcp bytes"
# XMPP and MQTT (a PATTERN rule) likewise.
for f in xmpp/slixmpp-client.bin pattern/mosquitto-connect.bin; do
	$PY -c "
import socket, time
s = socket.create_connection(('127.0.0.1', $P))
s.sendall(open('$TOP/tests/corpus/$f', 'rb').read())
time.sleep(0.3)"
done
sleep 0.5
cmp "$T/xmpp.bin" "$TOP/tests/corpus/xmpp/slixmpp-client.bin" || fail "xmpp bytes"
cmp "$T/mqtt.bin" "$TOP/tests/corpus/pattern/mosquitto-connect.bin" || fail "mqtt bytes"
$PY -c "
import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(open('$TOP/tests/corpus/openvpn/udp-tls-crypt.bin','rb').read(), ('127.0.0.1',$P))"
for _ in $(seq 1 40); do [ -s "$T/ovpn-udp.bin" ] && break; sleep 0.05; done
cmp "$T/ovpn-udp.bin" "$TOP/tests/corpus/openvpn/udp-tls-crypt.bin" || fail "openvpn udp bytes"
sleep 0.2
log=$(pmx_log)
for d in "detector=http" "detector=tls key=secure.example.com" "detector=ssh" \
	"via=on_timeout" "via=fallback" "detector=openvpn key=tcp" \
	"detector=xmpp key=a.test" "detector=pattern key=mqtt"; do
	assert_contains "$log" "$d"
done

# The order is PORTMUX.detectors'.
stop_portmux
assert_contains "$(pmx_log)" "close udp=1 client=127.0.0.1:"
sed -i "s/^  port: $P$/  port: $P\n  detectors: [http, openvpn, tls, ssh, xmpp, pattern]/" "$T/c.yaml"
start_portmux "$T/c.yaml"
assert_contains "$(pmx_log)" "detectors=http,openvpn,tls,ssh,xmpp,pattern"
assert_eq "$(curl -sS --max-time 5 "http://127.0.0.1:$P/o")" \
	"backend=web host=127.0.0.1:$P path=/o" "http, reordered"
