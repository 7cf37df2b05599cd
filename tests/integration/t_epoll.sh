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
