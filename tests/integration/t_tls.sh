# HTTPS is routed by the SNI of the TLS ClientHello (then ALPN): curl and
# openssl s_client reach nginx TLS backends with distinct certificates and
# bodies; wildcards, no SNI, TLS 1.2 and 1.3, an ALPN-conditioned route,
# and a ClientHello split into 3 TLS records sent as 3 TCP segments.
. "$(dirname "$0")/lib.sh"

P=$(free_port) A=$(free_port) W=$(free_port) D=$(free_port) ACME=$(free_port) B=$(free_port) H2=$(free_port)
start_nginx_tls "a.example.com:$A" "wild:$W" "default:$D" "acme:$ACME" "b:$B" "h2:$H2:http2"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
HTTPS:
  "a.example.com": $A
  "*.wild.example.com": $W
  "alpn.example.com":
    - {port: $ACME, alpn: acme-tls/1}
    - {port: $H2, alpn: h2}
    - {port: $B}
  "default": $D
CFG
start_portmux "$T/c.yaml"

curl_tls() { # NAME [curl args]
	n=$1
	shift
	curl -sS -k --max-time 5 --resolve "$n:$P:127.0.0.1" "$@" "https://$n:$P/"
}
subject() { # openssl s_client args...
	openssl s_client -connect "127.0.0.1:$P" "$@" </dev/null 2>/dev/null |
		sed -n 's/^subject=//p'
}

assert_eq "$(curl_tls a.example.com)" "tls backend a.example.com" "exact SNI"
assert_eq "$(curl_tls A.EXAMPLE.com --tlsv1.2 --tls-max 1.2)" "tls backend a.example.com" "TLS 1.2, case"
assert_eq "$(curl_tls x.wild.example.com)" "tls backend wild" "wildcard"
assert_eq "$(curl_tls y.z.wild.example.com --http2)" "tls backend wild" "deeper wildcard"
assert_eq "$(curl_tls other.example.org)" "tls backend default" "unknown SNI"
assert_eq "$(curl_tls alpn.example.com --http1.1)" "tls backend b" "ALPN http/1.1 -> b"
assert_eq "$(curl_tls alpn.example.com --http2)" "tls backend h2" "ALPN h2 -> h2"

assert_contains "$(subject -servername a.example.com -tls1_3)" "CN = a.example.com" "s_client TLS 1.3 cert"
assert_contains "$(subject -servername a.example.com -tls1_2)" "CN = a.example.com" "s_client TLS 1.2 cert"
assert_contains "$(subject -servername q.wild.example.com)" "CN = wild" "s_client wildcard cert"
assert_contains "$(subject -noservername)" "CN = default" "no SNI -> default"
assert_contains "$(subject -servername alpn.example.com -alpn h2)" "CN = h2" "s_client ALPN h2"
assert_contains "$(subject -servername alpn.example.com -alpn http/1.1)" "CN = b" "s_client ALPN http/1.1"
# An ACME tls-alpn-01 validation goes to the ACME client's port (nginx
# itself refuses that ALPN, so look at where PortMux sent it).
subject -servername alpn.example.com -alpn acme-tls/1 >/dev/null

out=$($PY "$TOOLS/tls_client.py" "$P" a.example.com 3)
assert_contains "$out" "CN = a.example.com" "ClientHello in 3 records: cert"
assert_contains "$out" "tls backend a.example.com" "ClientHello in 3 records: body"
out=$($PY "$TOOLS/tls_client.py" "$P" x.wild.example.com 2)
assert_contains "$out" "tls backend wild" "ClientHello in 2 records"
sleep 0.2
assert_contains "$(pmx_log)" "detector=tls key=a.example.com backend=127.0.0.1:$A"
assert_contains "$(pmx_log)" "detector=tls key=alpn.example.com backend=127.0.0.1:$ACME"
