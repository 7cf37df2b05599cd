# A third-party detector builds from the public header alone (its own
# two-line Makefile, outside the tree's build) and plugs in without touching
# the core: plugins/example/socks5.c routes SOCKS5 greetings next to http.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/plugins" "$T/src"
cp "$TOP/plugins/example/socks5.c" "$TOP/plugins/example/Makefile" "$T/src/"
cp -r "$TOP/include" "$T/include" # the installed header, nothing else
make -s -C "$T/src" PORTMUX_INCLUDE="$T/include" >/dev/null
cp "$T/src/socks5.so" "$PORTMUX_PLUGIN_DIR/http.so" "$T/plugins/"
P=$(free_port) S=$(free_port) H=$(free_port)
echo_backend "SOCKS-BACKEND " "$S"
http_backend web "$H"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  plugin_dir: $T/plugins
  detectors: [socks5, http]
SOCKS5:
  default: $S
HTTP:
  default: $H
CFG
start_portmux "$T/c.yaml"
out=$($PY -c "
import socket
s = socket.create_connection(('127.0.0.1', $P))
s.sendall(bytes([5, 2, 0, 2]))
s.settimeout(2)
print(s.recv(100)[:14].decode())")
assert_eq "$out" "SOCKS-BACKEND " "socks5 greeting"
assert_eq "$(curl -sS --max-time 5 "http://127.0.0.1:$P/x")" \
	"backend=web host=127.0.0.1:$P path=/x" "http next to it"
sleep 0.2
assert_contains "$(pmx_log)" "detector=socks5 key=- backend=127.0.0.1:$S"
