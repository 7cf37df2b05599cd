# A real RDP client, Debian's xfreerdp (under xvfb-run: it opens its
# display first), reaches the backend of its user name through PortMux,
# next to HTTP on the same port. The backends are capture servers: each
# records the bytes it receives and answers nothing, so xfreerdp gives up
# (it never logs in) — what counts is that its Connection Request arrived
# whole at the right backend. A user with no route goes to `default`.
. "$(dirname "$0")/lib.sh"

command -v xfreerdp >/dev/null || { echo "SKIP: no xfreerdp"; exit 77; }
command -v xvfb-run >/dev/null || { echo "SKIP: no xvfb-run"; exit 77; }
P=$(free_port) A=$(free_port) D=$(free_port) H=$(free_port)

http_backend web "$H"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  detectors: [rdp, http]
HTTP:
  "default": $H
RDP:
  "alice": $A
  "default": $D
CFG
start_portmux "$T/c.yaml"

# capture.py takes one connection and records it until it is quiet for
# 2 s; xfreerdp, waiting for the server's answer, is then killed.
listening() { # PORT
	for _ in $(seq 1 100); do
		ss -Htln "sport = :$1" | grep -q . && return 0
		sleep 0.05
	done
	fail "capture server on $1 did not start"
}
rdp_to() { # USER PORT-OF-ITS-BACKEND FILE
	start_bg "cap-$1" $PY "$TOOLS/capture.py" "$2" "$T/$3" 2
	cap=$LAST_PID
	listening "$2"
	timeout 10 xvfb-run -a xfreerdp "/v:127.0.0.1:$P" "/u:$1" /p:secret \
		/cert:ignore +auth-only >"$T/xfreerdp-$1.log" 2>&1 || true
	wait "$cap" || fail "no connection reached the backend for $1"
	[ -s "$T/$3" ] || fail "the backend for $1 received nothing"
}

rdp_to alice "$A" alice.bin
# TPKT version 3, then the X.224 Connection Request with alice's cookie
assert_eq "$(head -c 2 "$T/alice.bin" | od -An -tx1 | tr -d ' \n')" "0300" \
	"TPKT header at alice's backend"
assert_eq "$(od -An -tx1 -j5 -N1 "$T/alice.bin" | tr -d ' \n')" "e0" \
	"X.224 CR at alice's backend"
assert_contains "$(tr -d '\0' <"$T/alice.bin")" "Cookie: mstshash=alice" \
	"alice's cookie"

rdp_to bob "$D" bob.bin
assert_contains "$(tr -d '\0' <"$T/bob.bin")" "Cookie: mstshash=bob" \
	"bob (no route of his own) at default"

assert_eq "$(curl -sS --max-time 5 "http://127.0.0.1:$P/")" \
	"backend=web host=127.0.0.1:$P path=/" "http next to rdp"
sleep 0.2
assert_contains "$(pmx_log)" "detector=rdp key=alice backend=127.0.0.1:$A"
assert_contains "$(pmx_log)" "detector=rdp key=bob backend=127.0.0.1:$D"
