# Every built-in detector that reads fixed bytes enabled at once, in the
# default order (no PORTMUX.detectors), on one port: each real client lands
# on its own backend — curl over HTTP and HTTPS, ssh, xfreerdp, curl over
# SOCKS4 (to ssh -D) and SOCKS5 (to microsocks), psql, OpenVPN and
# WireGuard first packets (captures, over TCP and UDP). The RDP and
# PostgreSQL backends are capture servers that check the client's first
# bytes arrived; a client that waits for a banner still gets SSH's.
. "$(dirname "$0")/lib.sh"

for c in xfreerdp xvfb-run microsocks psql; do
	command -v $c >/dev/null || { echo "SKIP: no $c"; exit 77; }
done
P=$(free_port) H=$(free_port) S=$(free_port) TL=$(free_port)
OT=$(free_port) OU=$(free_port) R=$(free_port) D=$(free_port)
M=$(free_port) G=$(free_port) W=$(free_port)
http_backend_localhost web "$H"
start_sshd "$S"
start_nginx_tls "secure.example.com:$TL"
start_bg microsocks microsocks -i 127.0.0.1 -p "$M"
start_bg ovpn-tcp $PY "$TOOLS/capture.py" "$OT" "$T/ovpn-tcp.bin" 1
start_bg ovpn-udp $PY "$TOOLS/capture_udp.py" "$OU" "$T/ovpn-udp.bin"
start_bg rdp $PY "$TOOLS/capture.py" "$R" "$T/rdp.bin" 2
rdp_pid=$LAST_PID
start_bg pg $PY "$TOOLS/capture.py" "$G" "$T/pg.bin" 2
pg_pid=$LAST_PID
start_bg wg $PY "$TOOLS/backend.py" udpecho "WG:" "$W"
wait_port "$M"
for port in "$R" "$G"; do
	for _ in $(seq 1 100); do
		ss -Htln "sport = :$port" | grep -q . && break
		sleep 0.05
	done
done
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  probe_timeout: 0.5
HTTP:
  "default": $H
HTTPS:
  "secure.example.com": $TL
SSH:
  "default": $S
OPENVPN:
  "tcp": $OT
  "udp": $OU
RDP:
  "default": $R
SOCKS:
  "socks4": $D
  "socks5": $M
POSTGRES:
  "default": $G
WIREGUARD:
  "default": $W
CFG
start_portmux "$T/c.yaml"
assert_contains "$(pmx_log)" \
	"detectors=ssh,tls,rdp,socks,postgres,openvpn,wireguard,http on_timeout=SSH"

assert_eq "$(curl -sS --max-time 5 "http://127.0.0.1:$P/h")" \
	"backend=web host=127.0.0.1:$P path=/h" "http"
assert_eq "$(curl -sS -k --max-time 5 --resolve "secure.example.com:$P:127.0.0.1" "https://secure.example.com:$P/")" \
	"tls backend secure.example.com" "https"
# shellcheck disable=SC2086
assert_contains "$(ssh $SSH_OPTS -p "$P" "$SSH_USER@127.0.0.1" echo ssh-ok)" "ssh-ok" "ssh"
assert_contains "$(client silent "$P" 5)" "SSH-2.0-OpenSSH" "silent client -> SSH banner"

# SOCKS4 to ssh -D (itself connected through PortMux), SOCKS5 to microsocks
# shellcheck disable=SC2086
start_bg ssh-d ssh $SSH_OPTS -N -D "127.0.0.1:$D" -p "$P" "$SSH_USER@127.0.0.1"
wait_port "$D"
assert_eq "$(curl -sS --max-time 10 -x "socks4a://127.0.0.1:$P" "http://localhost:$H/4")" \
	"backend=web host=localhost:$H path=/4" "socks4a"
assert_eq "$(curl -sS --max-time 10 -x "socks5h://127.0.0.1:$P" "http://localhost:$H/5")" \
	"backend=web host=localhost:$H path=/5" "socks5"

timeout 10 xvfb-run -a xfreerdp "/v:127.0.0.1:$P" /u:alice /p:x /cert:ignore \
	+auth-only >"$T/xfreerdp.log" 2>&1 || true
wait "$rdp_pid" || fail "rdp capture"
assert_contains "$(tr -d '\0' <"$T/rdp.bin")" "Cookie: mstshash=alice" "rdp"

PGCONNECT_TIMEOUT=3 timeout 10 psql -AtqX \
	"host=127.0.0.1 port=$P user=alice dbname=sales sslmode=disable" \
	-c "select 1" >/dev/null 2>&1 || true
wait "$pg_pid" || fail "postgres capture"
assert_contains "$(tr '\0' ' ' <"$T/pg.bin")" "user alice database sales" \
	"postgres"

$PY -c "
import socket, time
s = socket.create_connection(('127.0.0.1', $P))
s.sendall(open('$TOP/tests/corpus/openvpn/tcp-tls-auth.bin', 'rb').read())
time.sleep(0.3)"
$PY - <<PY || fail "udp: openvpn and wireguard"
import socket
def send(f):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.connect(("127.0.0.1", $P))
    d = open("$TOP/tests/corpus/" + f, "rb").read()
    s.send(d)
    return s, d
send("openvpn/udp-tls-crypt.bin")
s, d = send("wireguard/initiation.bin")
assert s.recv(2048) == b"WG:" + d
PY
for _ in $(seq 1 40); do
	[ -s "$T/ovpn-udp.bin" ] && [ -s "$T/ovpn-tcp.bin" ] && break
	sleep 0.05
done
cmp "$T/ovpn-tcp.bin" "$TOP/tests/corpus/openvpn/tcp-tls-auth.bin" || fail "openvpn tcp bytes"
cmp "$T/ovpn-udp.bin" "$TOP/tests/corpus/openvpn/udp-tls-crypt.bin" || fail "openvpn udp bytes"

sleep 0.2
stop_portmux
log=$(pmx_log)
for d in "detector=http" "detector=tls key=secure.example.com" \
	"detector=ssh" "via=on_timeout" "detector=socks key=socks4" \
	"detector=socks key=socks5" "detector=rdp key=alice" \
	"detector=postgres key=sales" "detector=openvpn key=tcp" \
	"detector=openvpn backend=127.0.0.1:$OU" \
	"detector=wireguard backend=127.0.0.1:$W"; do
	assert_contains "$log" "$d"
done
assert_not_contains "$log" "via=fallback"
