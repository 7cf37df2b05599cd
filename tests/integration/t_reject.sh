# A client a detector matched but PortMux cannot serve hears why in its own
# protocol instead of a bare close: HTTP 421 when no route takes its Host,
# 502 when its backend is down; a TLS unrecognized_name alert when no route
# takes its SNI, internal_error when the backend is down.
. "$(dirname "$0")/lib.sh"

P=$(free_port) DEAD=$(free_port) H=$(free_port)
http_backend web "$H"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
HTTP:
  "served.test": $H
  "down.test": $DEAD
HTTPS:
  "down.test": $DEAD
CFG
start_portmux "$T/c.yaml"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Host: $1" "http://127.0.0.1:$P/"; }
assert_eq "$(code served.test)" "200" "served"
assert_eq "$(code other.test)" "421" "no route: 421 Misdirected Request"
assert_eq "$(code down.test)" "502" "backend down: 502 Bad Gateway"
assert_contains "$(curl -s --max-time 5 -H 'Host: other.test' "http://127.0.0.1:$P/")" \
	"portmux: no route for this host"
tls_err() {
	openssl s_client -connect "127.0.0.1:$P" -servername "$1" </dev/null 2>&1 |
		grep -o 'SSL alert number [0-9]*' | head -n 1
}
assert_eq "$(tls_err nothing.test)" "SSL alert number 112" "TLS, no route: unrecognized_name"
assert_eq "$(tls_err down.test)" "SSL alert number 80" "TLS, backend down: internal_error"
sleep 0.2
assert_contains "$(pmx_log)" "key=other.test backend=- up="
assert_contains "$(pmx_log)" "reason=no_route"
