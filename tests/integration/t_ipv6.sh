# IPv6: PortMux listens on several addresses at once (IPv4 and IPv6), routes
# to IPv6 literal backends ("[::1]:port"), and tries a backend name's
# addresses in turn when the first refuses.
. "$(dirname "$0")/lib.sh"

$PY -c "import socket; socket.socket(socket.AF_INET6).bind(('::1', 0))" 2>/dev/null ||
	{ echo "SKIP: no IPv6 loopback"; exit 77; }
P=$(free_port) V4=$(free_port) V6=$(free_port) M=$(free_port)
http_backend four "$V4"
http_backend six "$V6" ::1
http_backend multi "$M"
# multi.test resolves to ::1 first (nothing listens there on $M), then to
# 127.0.0.1: a private /etc/hosts in a mount namespace of our own.
printf '::1 multi.test\n127.0.0.1 multi.test\n' >"$T/hosts"
if [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
	multi=1
else
	multi=0
fi
cat >"$T/c.yaml" <<CFG
PORTMUX:
  listen: ["127.0.0.1:$P", "[::1]:$P"]
HTTP:
  "six.test": "[::1]:$V6"
  "six-map.test": {host: "::1", port: $V6}
  "multi.test": $( [ $multi = 1 ] && echo "\"multi.test:$M\"" || echo "$M")
  "default": $V4
CFG
if [ $multi = 1 ]; then
	unshare -m sh -c "mount --bind $T/hosts /etc/hosts && exec $PORTMUX_BIN -vv -c $T/c.yaml" >>"$T/portmux.log" 2>&1 &
	PORTMUX_PID=$!
else
	"$PORTMUX_BIN" -c "$T/c.yaml" >>"$T/portmux.log" 2>&1 &
	PORTMUX_PID=$!
fi
wait_port "$P"
wait_port "$P" ::1

get() { curl -sS --max-time 5 "$@"; }
assert_eq "$(get -H 'Host: six.test' "http://[::1]:$P/a")" \
	"backend=six host=six.test path=/a" "v6 client, v6 backend"
assert_eq "$(get -H 'Host: six-map.test' "http://127.0.0.1:$P/b")" \
	"backend=six host=six-map.test path=/b" "v4 client, v6 backend"
assert_eq "$(get -H 'Host: [::1]:8080' "http://[::1]:$P/c")" \
	"backend=four host=[::1]:8080 path=/c" "v6 literal Host"
assert_eq "$(get -H 'Host: multi.test' "http://127.0.0.1:$P/d")" \
	"backend=multi host=multi.test path=/d" "name with two addresses"
sleep 0.2
assert_contains "$(pmx_log)" "listening on [::1]:$P"
assert_contains "$(pmx_log)" "client=[::1]:"
if [ $multi = 1 ]; then
	assert_contains "$(pmx_log)" "address [::1]:$M failed: Connection refused"
	assert_contains "$(pmx_log)" "key=multi.test backend=multi.test:$M"
fi
