# `source`: PortMux's connections to a backend come from the addresses the
# route (or PORTMUX) lists, each new one from the next in turn — a real
# nginx reports whom it sees; UDP flows the same, to a UDP echo server
# that answers with its peer's address. Then the point of it: in a private
# network namespace whose ip_local_port_range holds 6 ports, one source
# address holds 6 relayed connections to one backend address and two hold
# 12 (a source with no port left gives way to the next; the 13th is
# refused with EADDRNOTAVAIL logged). (An even number of ports: connect()
# draws from an even count of the range, so of 5 it would use 4.)
. "$(dirname "$0")/lib.sh"

command -v nginx >/dev/null || { echo "SKIP: needs nginx"; exit 77; }

P=$(free_port) NG=$(free_port) U=$(free_port)
mkdir -p "$T/ngx"
cat >"$T/ngx/nginx.conf" <<CFG
worker_processes 1; daemon off; pid $T/ngx/nginx.pid; error_log stderr warn;
$( [ "$(id -u)" -ne 0 ] || echo "user root;" )
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $T/ngx; proxy_temp_path $T/ngx;
	fastcgi_temp_path $T/ngx; uwsgi_temp_path $T/ngx; scgi_temp_path $T/ngx;
	server { listen 127.0.0.1:$NG; return 200 "\$remote_addr\n"; }
}
CFG
start_bg nginx nginx -c "$T/ngx/nginx.conf" -p "$T/ngx"
wait_port "$NG"
cat >"$T/udpwho.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    data, peer = s.recvfrom(65535)
    s.sendto(peer[0].encode(), peer)
PY
start_bg udpwho $PY "$T/udpwho.py" "$U"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  workers: 1  # one loop: one turn through the sources
  source: 127.0.0.9
HTTP:
  a.test: {port: $NG, source: [127.0.0.2, 127.0.0.3]}
  default: $NG
OPENVPN:
  udp: {port: $U, source: [127.0.0.4, 127.0.0.5]}
CFG
start_portmux "$T/c.yaml"

seen=""
for _ in 1 2 3 4; do
	seen="$seen $(curl -sS --max-time 5 -H 'Host: a.test' "http://127.0.0.1:$P/")"
done
assert_eq "$seen" " 127.0.0.2 127.0.0.3 127.0.0.2 127.0.0.3" "a route's sources, in turn"
got=$(curl -sS --max-time 5 "http://127.0.0.1:$P/")
assert_eq "$got" "127.0.0.9" "a route without source takes PORTMUX's"
got=$($PY - "$P" "$TOP/tests/corpus/openvpn/udp-tls-auth.bin" <<'PY'
import socket, sys
reset = open(sys.argv[2], "rb").read()
seen = []
for _ in range(2):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.connect(("127.0.0.1", int(sys.argv[1])))
    s.send(reset)
    seen.append(s.recv(100).decode())
print(" ".join(sorted(seen)))
PY
)
assert_eq "$got" "127.0.0.4 127.0.0.5" "UDP flows come from the route's sources"
stop_portmux

# A source that is not an address of this host: refused at start.
cat >"$T/bad.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  fallback: {port: $NG, source: 192.0.2.7}
CFG
out=$("$PORTMUX_BIN" -t -c "$T/bad.yaml" 2>&1 || true)
assert_contains "$out" "4:35: source: cannot use 192.0.2.7 as a source address (Cannot assign requested address): it is not an address of this host" "a foreign source is refused"

# ---- exhaustion: a private network namespace with 6 ephemeral ports ----
if [ "$(id -u)" -ne 0 ] || ! unshare -n true 2>/dev/null; then
	echo "ok (exhaustion part skipped: needs root and unshare -n)"
	exit 0
fi
hold() { # SOURCES (YAML) → "held refused EADDRNOTAVAIL-logged"
	cat >"$T/x.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: 7000
  log_level: info
  workers: 1
  rate_per_source: 0
  max_connections_per_source: 0
  fallback: {port: 7001$1}
CFG
	unshare -n sh -c '
		ip link set lo up
		sysctl -qw net.ipv4.ip_local_port_range="40000 40005"
		'"$PY"' "'"$TOOLS"'/backend.py" echo "" 7001 >/dev/null 2>&1 &
		"'"$PORTMUX_BIN"'" -c "'"$T"'/x.yaml" >"'"$T"'/x.log" 2>&1 &
		pm=$!
		'"$PY"' - "'"$T"'/x.log" <<PY
import socket, sys, time
# Ready: the backend answers (asked from a port outside the range) and
# PortMux logged that it started (asking it would spend a port).
for i in range(100):
    try:
        s = socket.socket()
        s.bind(("127.0.0.1", 51000 + i))
        s.settimeout(0.2)
        s.connect(("127.0.0.1", 7001))
        s.close()
        break
    except OSError:
        time.sleep(0.05)
for _ in range(100):
    if " started: " in open(sys.argv[1]).read():
        break
    time.sleep(0.05)
held, failed = [], 0
for i in range(15):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 50000 + i))  # outside the range: only
    s.settimeout(3)                    # PortMux draws from it
    try:
        s.connect(("127.0.0.1", 7000))
        s.send(b"x")
        if s.recv(10):
            held.append(s)
            continue
    except OSError:
        pass
    failed += 1
print(len(held), failed)
PY
		kill $pm; wait $pm'
	echo " $(grep -c 'reason=connect_failed:Cannot_assign_requested_address' "$T/x.log")"
}
got=$(hold "" | tr -d '\n')
assert_eq "$got" "6 9 9" "no source: the range's 6 ports towards one backend address"
got=$(hold ", source: [127.0.0.2, 127.0.0.3]" | tr -d '\n')
assert_eq "$got" "12 3 3" "two sources: 6 ports each"
echo ok
