# curl with several Host headers reaches distinct HTTP backends through one
# PortMux port; exact name, case, :port and trailing dot, default, HTTP/1.0
# without Host, and an unknown method going to the fallback.
. "$(dirname "$0")/lib.sh"

P=$(free_port) A=$(free_port) B=$(free_port) D=$(free_port) F=$(free_port) W=$(free_port) WS=$(free_port)
http_backend a "$A"
http_backend b "$B"
http_backend wild "$W"
start_bg ws $PY "$TOOLS/backend.py" ws "$WS"
wait_port "$WS"
http_backend default "$D"
echo_backend "FALLBACK " "$F"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  fallback: "127.0.0.1:$F"
HTTP:
  "a.example.com":
    port: $A
    priority: latency
  "b.example.com": $B
  "*.example.net": $W
  "ws.example.com": $WS
  "default":
    port: $D
    priority: throughput
CFG
start_portmux "$T/c.yaml"

get() {
	curl -sS --max-time 5 "$@"
}
assert_eq "$(get -H 'Host: a.example.com' "http://127.0.0.1:$P/x")" \
	"backend=a host=a.example.com path=/x" "Host a"
assert_eq "$(get -H 'Host: B.Example.COM.:8080' "http://127.0.0.1:$P/y")" \
	"backend=b host=B.Example.COM.:8080 path=/y" "Host b (case, dot, port)"
assert_eq "$(get -H 'Host: other.example.org' "http://127.0.0.1:$P/")" \
	"backend=default host=other.example.org path=/" "unknown Host"
assert_eq "$(get --resolve "a.example.com:$P:127.0.0.1" "http://a.example.com:$P/r")" \
	"backend=a host=a.example.com:$P path=/r" "curl's own Host with port"
assert_eq "$(get --http1.0 -H 'Host:' "http://127.0.0.1:$P/old")" \
	"backend=default host=- path=/old" "HTTP/1.0 without Host"
assert_eq "$(get -X PROPFIND -H 'Host: b.example.com' "http://127.0.0.1:$P/dav")" \
	"backend=b host=b.example.com path=/dav" "WebDAV method"
assert_eq "$(get -d 'k=v' -H 'Host: a.example.com' "http://127.0.0.1:$P/post")" \
	"backend=a host=a.example.com path=/post" "POST with body"
# Keep-alive: two requests on one connection stay on the first backend.
out=$(get -H 'Host: a.example.com' "http://127.0.0.1:$P/1" "http://127.0.0.1:$P/2")
assert_eq "$out" "backend=a host=a.example.com path=/1
backend=a host=a.example.com path=/2" "keep-alive"
assert_eq "$(get -H 'Host: www.example.net' "http://127.0.0.1:$P/w")" \
	"backend=wild host=www.example.net path=/w" "wildcard"
assert_eq "$(get -H 'Host: a.b.EXAMPLE.net:81' "http://127.0.0.1:$P/w")" \
	"backend=wild host=a.b.EXAMPLE.net:81 path=/w" "deeper wildcard"
assert_eq "$(get -H 'Host: example.net' "http://127.0.0.1:$P/w")" \
	"backend=default host=example.net path=/w" "a wildcard needs a label"
assert_eq "$(client websocket "$P" ws.example.com)" "ok websocket" "websocket"
# Bytes no detector claims go to the fallback, unchanged.
out=$(client raw "$P" 'HELLO THERE\n' 2)
assert_eq "$out" "FALLBACK HELLO THERE" "fallback"
sleep 0.2
log=$(pmx_log)
assert_contains "$log" "via=detector detector=http key=b.example.com backend=127.0.0.1:$B"
assert_contains "$log" "via=fallback detector=- key=- backend=127.0.0.1:$F"
