#!/bin/bash
# bench/ports.sh — ephemeral ports per backend address, on a small scale
# (the arithmetic of README "Limits": one source address reaches one backend
# address (ip, port) with at most as many connections at once as
# ip_local_port_range has ports; a backend name with several addresses
# widens it, because PortMux goes on to the next address when connect()
# finds no free port; so do several `source` addresses, each with the whole
# range towards each backend address).
#   In a private network namespace (unshare -n, so the machine's own
#   settings are untouched) whose ip_local_port_range holds PORTS ports
#   (BENCH_PORTS, default 10), and a private /etc/hosts (unshare -m, a bind
#   mount seen only there) where backend-one is 127.0.0.2 and backend-two
#   is 127.0.0.2 and 127.0.0.3: PortMux (workers: 1, fallback NAME:PORT;
#   the third case backend-one with `source: [127.0.0.4, 127.0.0.5]`)
#   relays to a backend listening on every address of lo; a client opens
#   3 × PORTS connections (from fixed source ports outside the range, so
#   only PortMux's side draws from it) and counts those relayed end to end
#   and held. Expected: PORTS with one address and one source, 2 × PORTS
#   with two addresses or two sources, and
#   PortMux logging reason=connect_failed:Cannot_assign_requested_address
#   (EADDRNOTAVAIL) for the others. Needs root (namespaces); a few seconds.
. "$(dirname "$0")/lib.sh"
PORTS=${BENCH_PORTS:-10}

# ---- inside the namespaces: NAME → "held failed refusals_logged" ----
if [ "${1:-}" = inner ]; then
	ip link set lo up
	sysctl -qw net.ipv4.ip_local_port_range="40000 $((40000 + PORTS - 1))"
	printf '127.0.0.1 localhost\n127.0.0.2 backend-one backend-two\n127.0.0.3 backend-two\n' \
		>"$B/hosts"
	mount --bind "$B/hosts" /etc/hosts
	bg backend "$PY" -c '
import selectors, socket
sel = selectors.DefaultSelector()
for port in (7001, 7002, 7003):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(1024)
    sel.register(s, selectors.EVENT_READ, None)
while True:
    for k, _ in sel.select():
        if k.data is None:
            c, _ = k.fileobj.accept()
            sel.register(c, selectors.EVENT_READ, c)
            continue
        d = k.data.recv(100)
        if d:
            k.data.send(b"k")
        else:
            sel.unregister(k.data)
            k.data.close()'
	# Each case its own backend port: the connections of the first leave
	# PortMux's ports in TIME_WAIT towards theirs for 60 s.
	for name in backend-one backend-two source-two; do
		target="\"$name:7001\""
		[ "$name" = backend-two ] && target="\"$name:7002\""
		[ "$name" = source-two ] &&
			target="{host: backend-one, port: 7003, source: [127.0.0.4, 127.0.0.5]}"
		cat >"$B/$name.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: 7000
  log_level: info
  workers: 1
  rate_per_source: 0
  max_connections_per_source: 0
  fallback: $target
CFG
		bg "$name" "$BIN" -c "$B/$name.yaml"
		pm=$LAST
		wait_port 7000
		read -r held failed < <("$PY" - "$((3 * PORTS))" <<'PY'
import socket, sys
held, failed = [], 0
for i in range(int(sys.argv[1])):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 50000 + i))
    s.settimeout(3)
    try:
        s.connect(("127.0.0.1", 7000))
        s.send(b"GET / HTTP/1.1\r\n\r\n")
        if s.recv(1) == b"k":
            held.append(s)
            continue
    except OSError:
        pass
    failed += 1
print(len(held), failed)
PY
)
		stop "$pm"
		echo "$name $held $failed $(grep -c 'reason=connect_failed:Cannot_assign_requested_address' "$B/$name.log")"
	done
	exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then
	echo "skipped: needs root and unshare (a private network namespace)"
	exit 0
fi
out=$(B=$B PORTS=$PORTS unshare -n -m "$0" inner) || {
	echo "skipped: could not run in a private network namespace: $out"
	exit 0
}
printf '%-14s %10s %8s %6s %6s %s\n' "backend name" addresses sources held failed "EADDRNOTAVAIL logged"
while read -r name held failed logged; do
	n=1 s=1 key=ports_1
	[ "$name" = backend-two ] && n=2 key=ports_2
	[ "$name" = source-two ] && s=2 key=ports_2_sources
	printf '%-14s %10s %8s %6s %6s %s\n' "$name" "$n" "$s" "$held" "$failed" "$logged"
	record "$key" portmux "$held" "ip_local_port_range of $PORTS ports; $failed failed; $logged EADDRNOTAVAIL logged"
done <<<"$out"
echo "(ip_local_port_range of $PORTS ports in a private network namespace; $((3 * PORTS)) connections tried;"
echo " expected: $PORTS held with one backend address and one source, $((2 * PORTS)) with two of either)"
