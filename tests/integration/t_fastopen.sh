# fastopen: true on a route: the probe bytes ride on the SYN (TCP Fast
# Open) once the kernel holds a cookie from the backend, and everything a
# plain connect does still holds — a backend that refuses after the SYN
# carried the bytes gets the next address, with the bytes again; when
# none is left, the client hears 502; a kernel that forbids Fast Open
# gets one warning and plain connects. On io_uring (where a clean
# writable poll confirms the connect) and on epoll (SO_ERROR does).
# In a network namespace of its own: its sysctl net.ipv4.tcp_fastopen
# (3: client and server) and its TcpExt counters are the test's alone.
. "$(dirname "$0")/lib.sh"

if [ "${1:-}" != inner ]; then
	[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
	NS=pmxt-tfo-$$
	ip netns add "$NS" 2>/dev/null ||
		{ echo "SKIP: no network namespaces"; exit 77; }
	# A name with two addresses, for this namespace only (ip netns exec
	# puts /etc/netns/NS/hosts over /etc/hosts).
	mkdir -p "/etc/netns/$NS"
	printf '127.0.0.1 tfo.test\n127.0.0.2 tfo.test\n' >"/etc/netns/$NS/hosts"
	trap 'st=$?; ip netns del $NS 2>/dev/null; rm -rf /etc/netns/$NS;
		set +e; (exit $st); cleanup' EXIT INT TERM
	ip netns exec "$NS" ip link set lo up
	ip netns exec "$NS" sysctl -qw net.ipv4.tcp_fastopen=3 ||
		{ echo "SKIP: no net.ipv4.tcp_fastopen in a namespace"; exit 77; }
	for mode in true false; do
		PMX_TEST_IO_URING=$mode ip netns exec "$NS" bash "$0" inner ||
			exit 1
	done
	exit 0
fi

# TcpExt counter NAME of this namespace.
tcpext() {
	awk -v n="$1" '$1 == "TcpExt:" && !h { for (i = 2; i <= NF; i++)
		if ($i == n) c = i; h = 1; next }
		$1 == "TcpExt:" { print $c }' /proc/net/netstat
}
get() { # HOST-HEADER
	curl -sS --max-time 5 -H "Host: $1" "http://127.0.0.1:$P/" || true
}

P=$(free_port) H=$(free_port)
# The same port on both addresses: a backend on each.
FASTOPEN=1 http_backend one "$H" 127.0.0.1
pid_one=$LAST_PID
FASTOPEN=1 http_backend two "$H" 127.0.0.2
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  connect_timeout: 2
HTTP:
  "tfo.test": {host: tfo.test, port: $H, fastopen: true}
CFG
start_portmux "$T/c.yaml" -v
echo "mode io_uring=${PMX_TEST_IO_URING}: $(pmx_log | grep ' started: ')"

# 1. The first connection asks for a cookie; the next carry the request
# in their SYN.
a0=$(tcpext TCPFastOpenActive) p0=$(tcpext TCPFastOpenPassive)
first=""
for i in 1 2 3 4 5 6; do
	out=$(get tfo.test)
	assert_contains "$out" "host=tfo.test path=/" "request $i"
	first=${first:-${out%% *}}
	assert_eq "${out%% *}" "$first" "request $i: the first address serves"
done
a1=$(tcpext TCPFastOpenActive) p1=$(tcpext TCPFastOpenPassive)
[ $((a1 - a0)) -ge 4 ] ||
	fail "only $((a1 - a0)) of 6 connections sent data in the SYN"
[ $((p1 - p0)) -ge 4 ] ||
	fail "the backend took only $((p1 - p0)) Fast Open connections"
echo "ok: $((a1 - a0)) of 6 requests went in the SYN"

# 2. That backend goes: the SYN with the request (its cookie is cached)
# is refused after sendto() returned, and the other address gets the
# whole request.
if [ "$first" = backend=one ]; then
	kill "$pid_one"
	wait "$pid_one" 2>/dev/null || true
	other=backend=two
else
	kill "$LAST_PID"
	wait "$LAST_PID" 2>/dev/null || true
	other=backend=one
fi
out=$(get tfo.test)
assert_eq "${out%% *}" "$other" "after the first address refused"
assert_contains "$out" "host=tfo.test path=/" "the whole request, again"
assert_contains "$(pmx_log)" "failed: Connection refused" "the refusal"

# 3. None left: 502, and connect_failed in the close line.
pkill -f "backend.py http .* $H\$" || true
sleep 0.3
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
	-H 'Host: tfo.test' "http://127.0.0.1:$P/" || true)
assert_eq "$code" 502 "no backend address left"
assert_contains "$(pmx_log)" "reason=connect_failed:Connection_refused"

# 4. A kernel that forbids Fast Open: one warning, plain connects.
FASTOPEN=1 http_backend three "$H" 127.0.0.1
sysctl -qw net.ipv4.tcp_fastopen=0
for i in 1 2; do
	assert_contains "$(get tfo.test)" "backend=three host=tfo.test" \
		"tcp_fastopen=0, request $i"
done
sysctl -qw net.ipv4.tcp_fastopen=3
assert_eq "$(pmx_log | grep -c 'fastopen: the kernel does not allow')" 1 \
	"one warning"
kill -0 "$PORTMUX_PID" || fail "portmux died"
echo "ok: io_uring=${PMX_TEST_IO_URING}"
