# Backpressure: a backend pushes 200 MB at a client that reads nothing for
# two seconds. PortMux reads a side only while the other can take more, so
# its memory stays small (the bytes wait in the kernel's socket buffers),
# and then every byte arrives, in order — in copy and in zero-copy mode,
# and with relay: kernel (t_kernel_relay also checks that the backend
# could not push everything into the kernel meanwhile).
. "$(dirname "$0")/lib.sh"

P=$(free_port) S=$(free_port)
size=209715200
start_bg source $PY "$TOOLS/backend.py" source "$S" "$size"
wait_port "$S"
for prio in latency throughput kernel; do
	key="priority: $prio"
	[ "$prio" = kernel ] && key="relay: kernel"
	cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  fallback: {port: $S, $key}
CFG
	start_portmux "$T/c.yaml"
	echo "$PORTMUX_PID" >"$T/pid"
	# relay: kernel starts bigger (libbpf read the kernel's BTF to load
	# the program; under ASan that memory stays in its quarantine): what
	# counts is growth.
	limit=20480
	[ "$prio" = kernel ] &&
		limit=$((limit + $(awk '/^VmRSS:/ {print $2}' "/proc/$PORTMUX_PID/status")))
	out=$(client slowreader "$P" 'hello\n' 2 "$size" "$T/pid")
	rss=${out#rss_kib=}
	rss=${rss%% *}
	echo "$prio: $out"
	[ "$rss" -lt "$limit" ] || fail "$prio: PortMux grew to $rss KiB while the client was not reading"
	assert_contains "$out" "bytes=$size" "$prio: all bytes"
	stop_portmux
done
