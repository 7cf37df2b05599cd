# The README's first command: `make run PORT=…` (dependencies already
# installed here) builds if needed and runs the daemon in the foreground on
# the example configuration, on the given port; SIGINT (Ctrl-C) stops it.
. "$(dirname "$0")/lib.sh"

[ -f "$TOP/Makefile" ] || { echo "SKIP: not in a source tree"; exit 77; }
P=$(free_port) H=$(free_port)
# The example config sends HTTP's default route to port 80; a test cannot
# own that port, so check routing with a Host it sends elsewhere: nothing
# answers there, PortMux logs the refusal and keeps serving.
setsid make -s -C "$TOP" run PORT="$P" >"$T/portmux.log" 2>&1 &
RUN=$!
PIDS="$PIDS $RUN"
for _ in $(seq 1 600); do # a first build may take a while
	grep -q "started" "$T/portmux.log" 2>/dev/null && break
	kill -0 "$RUN" 2>/dev/null || { cat "$T/portmux.log" >&2; fail "make run exited"; }
	sleep 0.1
done
wait_port "$P"
assert_contains "$(pmx_log)" "listening on 0.0.0.0:$P"
assert_contains "$(pmx_log)" "detectors=ssh,tls,openvpn,http"
curl -sS --max-time 3 -H 'Host: api.example.com' "http://127.0.0.1:$P/" >/dev/null 2>&1 || true
sleep 0.3
assert_contains "$(pmx_log)" "key=api.example.com backend=127.0.0.1:3001"
kill -INT -- "-$RUN" 2>/dev/null || kill -INT "$RUN"
for _ in $(seq 1 100); do kill -0 "$RUN" 2>/dev/null || break; sleep 0.05; done
kill -0 "$RUN" 2>/dev/null && fail "make run did not stop on Ctrl-C"
assert_contains "$(pmx_log)" "stopped"
