# Nothing is lost: 100 MB each way through PortMux (at the same time)
# arrives with the same sha256, for every priority (relay strategy), and
# with relay: kernel (the eBPF sockmap relay) where this machine can load
# it.
. "$(dirname "$0")/lib.sh"

P=$(free_port) E=$(free_port)
echo_backend "" "$E"
for prio in latency throughput both kernel; do
	key="priority: $prio"
	[ "$prio" = kernel ] && key="relay: kernel"
	cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  fallback:
    port: $E
    $key
CFG
	start_portmux "$T/c.yaml" -v
	if [ "$prio" = kernel ] && pmx_log | grep -q 'relay: kernel: .*instead'; then
		echo "SKIP kernel: $(pmx_log | grep 'relay: kernel:')"
		stop_portmux
		continue
	fi
	out=$(client bulk "$P" 100)
	assert_contains "$out" "ok 100 MB each way" "bulk ($prio)"
	stop_portmux
	if [ "$prio" = kernel ]; then
		line=$(pmx_log | grep ' close conn=' | tail -n 1)
		assert_contains "$line" "up=104857600 down=104857600 " \
			"kernel: byte counts"
		assert_contains "$line" "reason=eof" "kernel: ends with eof"
		pmx_log | grep -q 'debug conn=[0-9]* relay: kernel' ||
			fail "kernel: the connection never went into the kernel relay"
	fi
done
