# A client that sends nothing (it waits for the server to speak, like some
# SSH clients) is sent to the on_timeout route when probe_timeout fires —
# by default the SSH route — and gets the real sshd's banner right after.
. "$(dirname "$0")/lib.sh"

P=$(free_port) S=$(free_port) E=$(free_port)
start_sshd "$S"
echo_backend "BANNER from-echo\r\n" "$E"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  probe_timeout: 0.5
HTTP:
  "default": 1
SSH:
  "default": $S
CFG
start_portmux "$T/c.yaml"
out=$(client silent "$P" 5)
secs=${out%% *}
banner=${out#* }
assert_contains "$banner" "SSH-2.0-OpenSSH" "silent client gets the SSH banner"
# Timeout + a little: the timer fired on time (and not never, like sslh-ev).
$PY -c "import sys; t=$secs; sys.exit(0 if 0.5 <= t < 0.75 else 'banner after %.3f s, expected 0.5 s + a little' % t)"

# on_timeout may name any route.
stop_portmux
cat >"$T/c2.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  probe_timeout: 0.3
  on_timeout: "127.0.0.1:$E"
SSH:
  "default": $S
CFG
start_portmux "$T/c2.yaml"
out=$(client silent "$P" 5)
assert_contains "$out" "BANNER from-echo" "on_timeout backend"

# on_timeout: close — the silent client is closed, not left hanging.
stop_portmux
sed 's|on_timeout: .*|on_timeout: close|' "$T/c2.yaml" >"$T/c3.yaml"
start_portmux "$T/c3.yaml"
out=$(client silent "$P" 5)
secs=${out%% *}
$PY -c "import sys; t=$secs; sys.exit(0 if 0.3 <= t < 1.0 else 'closed after %.3f s' % t)"
sleep 0.1
assert_contains "$(pmx_log)" "reason=probe_timeout"
