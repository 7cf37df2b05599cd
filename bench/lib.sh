# bench/lib.sh — helpers shared by the benchmarks. Benchmarks are not
# tests: they print tables of figures and ratios measured side by side in
# one run (absolute numbers vary a lot between machines; ratios count).
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PORTMUX_BIN:-$TOP/build/portmux}
export PORTMUX_PLUGIN_DIR=${PORTMUX_PLUGIN_DIR:-$TOP/build/plugins}
PY=/usr/bin/python3
B=$(mktemp -d "${TMPDIR:-/tmp}/portmux-bench.XXXXXX")
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	rm -rf "$B"
}
trap cleanup EXIT INT TERM

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
	for _ in $(seq 1 200); do
		$PY -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2).close()" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "nothing listens on $1" >&2
	exit 1
}
bg() { # NAME CMD...
	n=$1
	shift
	"$@" >"$B/$n.log" 2>&1 &
	PIDS="$PIDS $!"
	LAST=$!
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# nginx answering a small body on 127.0.0.1:$1 (the backend every
# contender relays to).
nginx_backend() {
	mkdir -p "$B/ngx"
	cat >"$B/ngx/nginx.conf" <<NGX
worker_processes 1; daemon off; pid $B/ngx/nginx.pid; error_log $B/ngx/error.log;
$( [ "$(id -u)" -ne 0 ] || echo "user root;" )
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  client_body_temp_path $B/ngx/b; proxy_temp_path $B/ngx/p; fastcgi_temp_path $B/ngx/f;
  uwsgi_temp_path $B/ngx/u; scgi_temp_path $B/ngx/s;
  server { listen 127.0.0.1:$1 backlog=4096; location / { return 200 "hello\n"; } } }
NGX
	bg nginx nginx -c "$B/ngx/nginx.conf" -p "$B/ngx"
	wait_port "$1"
}

# wrk requests/s (and p99 latency in ms) for URL with extra args.
wrk_rate() { # URL SECONDS [wrk args...]
	url=$1 secs=$2
	shift 2
	wrk -t2 -c50 -d"${secs}s" --latency "$@" "$url" 2>&1 |
		awk '/Requests\/sec/ {r=$2} /^ +99%/ {l=$2} END {print r, l}'
}

median() { $PY -c 'import statistics,sys; print("%.0f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
