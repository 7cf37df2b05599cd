# PortMux watches its connections' sockets through io_uring where the
# kernel allows it (core/ring.h), and says so when it starts
# (sockets=io_uring); with `io_uring: false`, or where a kernel or a
# seccomp filter forbids io_uring, it uses epoll (sockets=epoll, and a line
# saying why when it wanted io_uring). Both ways relay the same: the relay
# tests run again here with `io_uring: false`.
. "$(dirname "$0")/lib.sh"

P=$(free_port) E=$(free_port)
echo_backend "hi:" "$E"
for want in true false; do
	cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  io_uring: $want
  fallback: {port: $E}
CFG
	start_portmux "$T/c.yaml"
	line=$(pmx_log | grep ' started: ' | tail -n 1)
	if [ "$want" = false ]; then
		assert_contains "$line" "sockets=epoll" "io_uring: false"
	elif pmx_log | grep -q 'io_uring not available'; then
		assert_contains "$line" "sockets=epoll" "no io_uring here"
		echo "io_uring not available here: $(pmx_log | grep 'io_uring not available')"
	else
		assert_contains "$line" "sockets=io_uring" "io_uring: true"
	fi
	out=$(client raw "$P" 'ping\n' 1)
	assert_contains "$out" "hi:ping" "relayed (io_uring: $want)"
	stop_portmux
done

# The relay tests, on epoll.
for t in backpressure bulk halfclose trickle; do
	PMX_TEST_IO_URING=false bash "$(dirname "$0")/t_$t.sh" >"$T/$t.out" 2>&1 ||
		{ cat "$T/$t.out"; fail "t_$t.sh with io_uring: false"; }
done
echo "ok: backpressure, bulk, halfclose, trickle with io_uring: false"

# A connection that keeps talking leaves the ring: after 4 events on the
# ring a side is watched by epoll (conn.c side_maybe_to_loop). Its bytes,
# its FINs and the idle timeout work the same before and after: 60
# exchanges of 1 byte to 300 KB, each echoed back whole and in order, then
# the client's FIN and the backend's; and a connection that moved and then
# says nothing is closed by idle_timeout.
K=$(free_port)
echo_backend "" "$K"
cat >"$T/ka.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  log_level: debug
  idle_timeout: 1
  fallback: {port: $K}
CFG
start_portmux "$T/ka.yaml"
cat >"$T/ka.py" <<PY
import hashlib, socket, sys, time
def exchange(s, n, i):
    data = hashlib.sha256(b"%d" % i).digest() * (n // 32 + 1)
    data = data[:n]
    s.sendall(data)
    got = b""
    while len(got) < n:
        part = s.recv(1 << 18)
        assert part, "EOF after %d of %d bytes, exchange %d" % (len(got), n, i)
        got += part
    assert got == data, "exchange %d: bytes differ" % i
s = socket.create_connection(("127.0.0.1", $P))
s.settimeout(5)
sizes = [1, 17, 100, 4095, 4096, 4097, 65536, 300000] * 7 + [5, 6, 7, 8]
for i, n in enumerate(sizes):
    exchange(s, n, i)
s.shutdown(socket.SHUT_WR)
assert s.recv(10) == b"", "no EOF after the client's FIN"
s.close()
# The same, then silence: idle_timeout closes it.
s = socket.create_connection(("127.0.0.1", $P))
s.settimeout(5)
for i in range(10):
    exchange(s, 10, i)
t = time.time()
assert s.recv(10) == b"", "not closed"
print("%d exchanges; idle closed after %.1f s" % (len(sizes), time.time() - t))
PY
out=$($PY "$T/ka.py")
echo "$out"
assert_contains "$out" "60 exchanges" "a connection that keeps talking"
t=${out##* after }
$PY -c "import sys; t=float('${t% s}'); sys.exit(0 if 0.8 <= t <= 3 else 'idle closed after %.1f s, idle_timeout is 1' % t)"
sleep 0.2
if pmx_log | grep ' started: ' | tail -n 1 | grep -q 'sockets=io_uring'; then
	for side in client backend; do
		[ "$(pmx_log | grep -c "the $side's socket is watched by epoll from now on")" -eq 2 ] ||
			fail "the $side side of both connections should have left the ring"
	done
	echo "both sides of both connections moved from the ring to epoll"
fi
assert_contains "$(pmx_log | grep "up=2645620 ")" "down=2645620 duration" "the first closed by its FINs, every byte counted"
assert_contains "$(pmx_log | grep "up=2645620 ")" "reason=eof" "the first closed by its FINs"
assert_eq "$(pmx_log | grep -c 'reason=idle_timeout')" 1 "the second closed idle"
stop_portmux
