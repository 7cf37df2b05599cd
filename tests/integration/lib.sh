# lib.sh — helpers for integration tests (sourced by each t_*.sh).
# Every test runs in its own directory $T; everything started with start_bg
# is killed on exit. Hosts are loopback only.
set -eu

: "${PORTMUX_BIN:?PORTMUX_BIN must point at the portmux binary}"
TOP=$(cd "$(dirname "$0")/../.." && pwd)
TOOLS=$TOP/tests/tools
PY=/usr/bin/python3
TEST_PLUGINS=${PORTMUX_TEST_PLUGINS:-}
T=$(mktemp -d "${TMPDIR:-/tmp}/portmux-test.XXXXXX")
PIDS=""

cleanup() {
	status=$?
	[ -z "${KEEP_T:-}" ] || cp -r "$T" /tmp/kept-test 2>/dev/null || true
	# Clients and servers first: their connections end, so PortMux's
	# graceful drain has nothing to wait for.
	for pid in $PIDS; do
		kill "$pid" 2>/dev/null || true
	done
	if [ -n "${PORTMUX_PID:-}" ] && ! stop_portmux; then
		status=1
	fi
	if [ -f "$T/portmux.log" ] &&
		grep -qE 'ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error:|SUMMARY: UndefinedBehavior' "$T/portmux.log"; then
		echo "FAIL: sanitizer report in portmux.log" >&2
		grep -A30 -E 'Sanitizer|runtime error:' "$T/portmux.log" | head -60 >&2
		status=1
	fi
	for pid in $PIDS; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in $PIDS; do
		wait "$pid" 2>/dev/null || true
	done
	if [ "$status" -ne 0 ] && [ -f "$T/portmux.log" ]; then
		echo "--- portmux.log (last 30 lines)" >&2
		tail -n 30 "$T/portmux.log" >&2
	fi
	rm -rf "$T"
	exit "$status"
}
trap cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# A free port on 127.0.0.1 (TCP and UDP), below the kernel's ephemeral
# range: a port the kernel picked there could be taken, before the test
# binds it, by an outgoing connection's automatic bind (a CI run failed
# so: "cannot listen on 127.0.0.1:50449: Address already in use"). Never
# the same twice in one test ($T/ports).
free_port() {
	$PY - "$T/ports" <<'PY'
import random, socket, sys
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
try:
    given = set(open(sys.argv[1]).read().split())
except OSError:
    given = set()
for _ in range(1000):
    p = random.randrange(10000, max(lo, 10001))
    if str(p) in given:
        continue
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            with socket.socket(socket.AF_INET, kind) as s:
                s.bind(("127.0.0.1", p))
    except OSError:
        continue
    open(sys.argv[1], "a").write("%d\n" % p)
    print(p)
    break
else:
    sys.exit("no free port below %d" % lo)
PY
}

# Wait until something accepts on ${2:-127.0.0.1}:$1 (up to ~10 s).
wait_port() {
	for _ in $(seq 1 200); do
		if $PY -c "import socket,sys; socket.create_connection(('${2:-127.0.0.1}',$1),0.2).close()" 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	fail "nothing listens on port $1"
}

# start_bg NAME CMD... — run in the background, output in $T/NAME.log.
start_bg() {
	name=$1
	shift
	"$@" >"$T/$name.log" 2>&1 &
	PIDS="$PIDS $!"
	LAST_PID=$!
}

# start_portmux CONFIG [ARGS...] — start PortMux and wait for its port.
# The port answers as soon as the sockets are bound, a moment before the
# "started" line is logged: wait for that line too (when info is logged),
# so a test may read the start-up lines at once.
# PMX_TEST_IO_URING=false (t_epoll.sh) runs it with `io_uring: false`
# added to a config's block-style PORTMUX section.
start_portmux() {
	cfg=$1
	shift
	if [ -n "${PMX_TEST_IO_URING:-}" ] && grep -q '^PORTMUX:$' "$cfg" &&
		! grep -q '^  io_uring:' "$cfg"; then
		sed -i "s/^PORTMUX:\$/PORTMUX:\n  io_uring: $PMX_TEST_IO_URING/" "$cfg"
	fi
	starts=$(grep -c ' started: ' "$T/portmux.log" 2>/dev/null || true)
	"$PORTMUX_BIN" -c "$cfg" "$@" >>"$T/portmux.log" 2>&1 &
	PORTMUX_PID=$!
	port=$(sed -n 's/^  port: *//p' "$cfg" | head -n 1)
	wait_port "$port"
	grep -qE '^ *log_level: *(warn|error)' "$cfg" && return 0
	for _ in $(seq 1 100); do
		if [ "$(grep -c ' started: ' "$T/portmux.log")" -gt "${starts:-0}" ]; then
			[ "${PMX_TEST_IO_URING:-}" != false ] ||
				grep ' started: ' "$T/portmux.log" | tail -n 1 |
				grep -q 'sockets=epoll' ||
				fail "PMX_TEST_IO_URING=false, but PortMux did not start on epoll"
			return 0
		fi
		sleep 0.05
	done
	fail "PortMux answers on port $port but never logged that it started"
}

# stop_portmux — SIGTERM, wait; fails unless it exits 0 (a sanitizer
# report or a crash makes it non-zero). Live connections get 2 s of the
# graceful drain, then a second SIGTERM closes them.
stop_portmux() {
	[ -n "${PORTMUX_PID:-}" ] || return 0
	kill -TERM "$PORTMUX_PID" 2>/dev/null || true
	for _ in $(seq 1 40); do
		kill -0 "$PORTMUX_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -TERM "$PORTMUX_PID" 2>/dev/null || true
	set +e
	wait "$PORTMUX_PID"
	rc=$?
	set -e
	PORTMUX_PID=""
	if [ "$rc" -ne 0 ]; then
		echo "FAIL: portmux exited with status $rc" >&2
		return 1
	fi
}

# http_backend NAME PORT; echo_backend PREFIX PORT; drain_backend PORT [N]
http_backend() { # NAME PORT [BIND-ADDRESS]
	BIND=${3:-127.0.0.1} start_bg "http-$1" $PY "$TOOLS/backend.py" http "$1" "$2"
	wait_port "$2" "${3:-127.0.0.1}"
}
# The same HTTP backend for the name "localhost": Debian's /etc/hosts
# gives it ::1 as well as 127.0.0.1, and a client that takes the first
# address (microsocks resolving for SOCKS5) may get either, so it listens
# on both (on ::1 when the machine has IPv6 loopback).
http_backend_localhost() { # NAME PORT
	http_backend "$1" "$2"
	if $PY -c "import socket; socket.socket(socket.AF_INET6).bind(('::1', $2))" 2>/dev/null; then
		BIND=::1 start_bg "http-$1-v6" $PY "$TOOLS/backend.py" http "$1" "$2"
		wait_port "$2" ::1
	fi
}
# Plugins the user PortMux drops to (`user: nobody`) can load: it loads
# them after the drop, and a checkout under /root is closed to others.
# PORTMUX_PLUGIN_DIR points at a readable copy from then on, in $T (which
# that user may then enter, not list).
plugins_for_user() {
	chmod 711 "$T"
	if [ ! -d "$T/pub-plugins" ]; then
		cp -r "$PORTMUX_PLUGIN_DIR" "$T/pub-plugins"
		chmod -R a+rX "$T/pub-plugins"
	fi
	export PORTMUX_PLUGIN_DIR=$T/pub-plugins
}
echo_backend() {
	start_bg "echo-$2" $PY "$TOOLS/backend.py" echo "$1" "$2"
	wait_port "$2"
}
drain_backend() {
	start_bg "drain-$1" $PY "$TOOLS/backend.py" drain "$1" "${2:-5242880}"
	wait_port "$1"
}

client() {
	$PY "$TOOLS/client.py" "$@"
}

assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-values differ}: got '$1', expected '$2'"
}

assert_contains() {
	case "$1" in
	*"$2"*) ;;
	*) fail "${3:-missing text}: '$2' not in '$1'" ;;
	esac
}

assert_not_contains() {
	case "$1" in
	*"$2"*) fail "${3:-unexpected text}: '$2' in '$1'" ;;
	esac
}

# Log lines of PortMux so far.
pmx_log() {
	cat "$T/portmux.log"
}

# Start a real sshd on 127.0.0.1:$1 with its own keys; sets SSH_CMD (an
# ssh command line without host/port) and SSH_USER. Skips the test (exit
# 77) when sshd cannot run here. SSHD_EXTRA: more sshd_config lines.
start_sshd() {
	sshd_port=$1
	sshd_bin=/usr/sbin/sshd
	[ -x "$sshd_bin" ] || { echo "SKIP: no $sshd_bin"; exit 77; }
	if [ "$(id -u)" -eq 0 ]; then
		mkdir -p /run/sshd
	elif [ ! -d /run/sshd ]; then
		echo "SKIP: sshd needs /run/sshd (run as root)"
		exit 77
	fi
	ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey"
	ssh-keygen -q -t ed25519 -N '' -f "$T/clientkey"
	cp "$T/clientkey.pub" "$T/authorized_keys"
	chmod 600 "$T/authorized_keys"
	cat >"$T/sshd_config" <<CFG
Port $sshd_port
ListenAddress 127.0.0.1
HostKey $T/hostkey
PidFile $T/sshd.pid
AuthorizedKeysFile $T/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
LogLevel ERROR
${SSHD_EXTRA:-}
CFG
	start_bg sshd "$sshd_bin" -D -e -f "$T/sshd_config"
	wait_port "$sshd_port"
	SSH_USER=$(id -un)
	SSH_OPTS="-F /dev/null -i $T/clientkey -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o BatchMode=yes -o LogLevel=ERROR -o ConnectTimeout=10"
}

# start_nginx_tls NAME:PORT[:http2]... — one nginx with a TLS server per
# NAME on 127.0.0.1:PORT, each with its own self-signed certificate
# (CN=NAME) and body "tls backend NAME". Skips when nginx is missing.
start_nginx_tls() {
	command -v nginx >/dev/null || { echo "SKIP: no nginx"; exit 77; }
	mkdir -p "$T/nginx"
	{
		echo "worker_processes 1; daemon off; pid $T/nginx/nginx.pid;"
		echo "error_log $T/nginx/error.log;"
		[ "$(id -u)" -ne 0 ] || echo "user root;"
		echo "events { worker_connections 256; }"
		echo "http { access_log off;"
		for t in client_body proxy fastcgi uwsgi scgi; do
			echo "${t}_temp_path $T/nginx/$t;"
		done
	} >"$T/nginx/nginx.conf"
	for spec in "$@"; do
		name=${spec%%:*}
		rest=${spec#*:}
		port=${rest%%:*}
		extra=""
		[ "$rest" = "$port" ] || extra=" http2"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
			-nodes -days 2 -subj "/CN=$name" -keyout "$T/nginx/$name.key" \
			-out "$T/nginx/$name.crt" 2>/dev/null
		cat >>"$T/nginx/nginx.conf" <<NGX
server { listen 127.0.0.1:$port ssl$extra;
  ssl_certificate $T/nginx/$name.crt; ssl_certificate_key $T/nginx/$name.key;
  ssl_protocols TLSv1.2 TLSv1.3;
  location / { default_type text/plain; return 200 "tls backend $name\n"; } }
NGX
	done
	echo "}" >>"$T/nginx/nginx.conf"
	start_bg nginx nginx -c "$T/nginx/nginx.conf" -p "$T/nginx"
	for spec in "$@"; do
		rest=${spec#*:}
		wait_port "${rest%%:*}"
	done
}

# wait_for FILE TEXT SECONDS — until TEXT is in FILE; 1 if it never is.
wait_for() {
	for _ in $(seq 1 $(($3 * 10))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# openvpn_setup PORT — a CA, server and client certificates in $T for a real
# openvpn (TLS mode, --dev null); sets OVPN_SERVER (its options but --proto
# and --port) and OVPN_CLIENT (its options but --proto: it connects to
# 127.0.0.1:PORT). Skips the test when openvpn is missing.
openvpn_setup() {
	command -v openvpn >/dev/null || { echo "SKIP: no openvpn"; exit 77; }
	ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
	# shellcheck disable=SC2086
	openssl req -x509 $ec -keyout "$T/ca.key" -out "$T/ca.crt" -days 2 -subj /CN=test-ca 2>/dev/null
	for n in server client; do
		# shellcheck disable=SC2086
		openssl req $ec -keyout "$T/$n.key" -out "$T/$n.csr" -subj /CN=$n 2>/dev/null
	done
	printf 'extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyAgreement\n' >"$T/s.ext"
	printf 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyAgreement\n' >"$T/c.ext"
	for n in server:s client:c; do
		openssl x509 -req -in "$T/${n%:*}.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" \
			-CAcreateserial -out "$T/${n%:*}.crt" -days 2 -extfile "$T/${n#*:}.ext" 2>/dev/null
	done
	common="--dev null --verb 3 --ca $T/ca.crt"
	OVPN_SERVER="$common --tls-server --dh none --cert $T/server.crt --key $T/server.key --local 127.0.0.1"
	OVPN_CLIENT="$common --connect-retry-max 1 --tls-client --cert $T/client.crt --key $T/client.key --remote-cert-tls server --remote 127.0.0.1 $1"
}
