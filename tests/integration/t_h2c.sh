# HTTP/2 with prior knowledge (h2c) through PortMux: curl's and nghttp's
# connections are routed by the :authority of their first HEADERS frame
# (HPACK, Huffman-coded), with case, :port and wildcards as for Host; an
# "alpn: h2c" choice sends h2c and HTTP/1.1 of one name to different
# backends; a malformed stream after the preface goes to the default.
. "$(dirname "$0")/lib.sh"

curl -V | grep -qw HTTP2 || { echo "curl without HTTP/2"; exit 77; }

P=$(free_port) A=$(free_port) B=$(free_port) D=$(free_port) H=$(free_port)
h2c_backend() { # NAME PORT
	start_bg "h2c-$1" $PY "$TOOLS/h2c_backend.py" "$1" "$2"
	wait_port "$2"
}
h2c_backend a "$A"
h2c_backend b "$B"
h2c_backend default "$D"
http_backend h1 "$H"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  detectors: [http]
HTTP:
  "a.example.com":
    - {port: $A, alpn: h2c}
    - $H
  "*.b.example.com": $B
  "default": $D
CFG
start_portmux "$T/c.yaml"

h2() { # NAME PATH [CURL-ARGS...]
	name=$1 path=$2
	shift 2
	curl -sS --max-time 5 --http2-prior-knowledge \
		--resolve "$name:$P:127.0.0.1" "$@" "http://$name:$P$path"
}
assert_eq "$(h2 a.example.com /x)" "backend=a proto=h2c" "h2c exact name"
assert_eq "$(h2 A.Example.COM /x)" "backend=a proto=h2c" "h2c name case"
assert_eq "$(h2 api.b.example.com /y)" "backend=b proto=h2c" "h2c wildcard"
assert_eq "$(h2 other.example.org /)" "backend=default proto=h2c" \
	"h2c unknown name"
# The same name over HTTP/1.1 takes the choice without alpn.
assert_eq "$(curl -sS --max-time 5 --http1.1 --resolve "a.example.com:$P:127.0.0.1" \
	"http://a.example.com:$P/h1")" \
	"backend=h1 host=a.example.com:$P path=/h1" "HTTP/1.1, same name"
if command -v nghttp >/dev/null; then
	# nghttp sends PRIORITY frames first and HEADERS with PRIORITY; its
	# two requests share one connection, so both reach that backend.
	out=$(nghttp -H ':authority: x.b.example.com' \
		"http://127.0.0.1:$P/1" "http://127.0.0.1:$P/2")
	assert_eq "$out" "backend=b proto=h2c
backend=b proto=h2c" "nghttp, two requests"
fi
# After a complete preface, a stream that is not HTTP/2 is still h2c: the
# default backend (key -), not another detector or the fallback.
client raw "$P" 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nGARBAGE' 1 >/dev/null
sleep 0.2
log=$(pmx_log)
assert_contains "$log" "detector=http key=a.example.com backend=127.0.0.1:$A"
assert_contains "$log" "detector=http key=api.b.example.com backend=127.0.0.1:$B"
assert_contains "$log" "detector=http key=a.example.com backend=127.0.0.1:$H"
assert_contains "$log" "detector=http key=- backend=127.0.0.1:$D"
