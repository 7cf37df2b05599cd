# Server-speaks-first protocols next to the others: a client that waits for
# the server's banner can only be told apart by the port it came to, so
# each `listen` entry may have its own on_timeout (and detectors). One
# PortMux serves SSH as the silent-client route of one port and VNC as that
# of a second: a real VNC viewer (Debian's TigerVNC, shown on a headless
# Xvnc of its own) reaches a real VNC server (TigerVNC's Xvnc) through the
# second port, a real ssh client logs in through the first, and HTTP works
# on both. A reload gives the second port another on_timeout; portmux -t
# checks the entries' keys.
. "$(dirname "$0")/lib.sh"

command -v Xvnc >/dev/null || { echo "SKIP: no Xvnc"; exit 77; }
command -v xtigervncviewer >/dev/null ||
	{ echo "SKIP: no xtigervncviewer"; exit 77; }

P1=$(free_port) P2=$(free_port) S=$(free_port) H=$(free_port)
V=$(free_port) VV=$(free_port) E=$(free_port)
start_sshd "$S"
http_backend web "$H"
echo_backend "BANNER from-echo\r\n" "$E"

# Two Xvnc: the VNC server behind PortMux, and a display for the viewer.
# Display numbers that no one uses: the first free from a random start.
display() {
	d=$(( $(od -An -N2 -tu2 /dev/urandom) % 2000 + 2000 ))
	while [ -e "/tmp/.X$d-lock" ] || [ -e "/tmp/.X11-unix/X$d" ]; do
		d=$((d + 1))
	done
	echo "$d"
}
DS=$(display)
start_bg xvnc-server Xvnc ":$DS" -rfbport "$V" -localhost -nolisten tcp \
	-SecurityTypes None -geometry 640x480 -desktop portmux-test
wait_port "$V"
DV=$(display)
[ "$DV" != "$DS" ] || DV=$((DS + 1))
start_bg xvnc-viewer-display Xvnc ":$DV" -rfbport "$VV" -localhost \
	-nolisten tcp -SecurityTypes None -geometry 320x200
wait_port "$VV"

write_config() { # ON_TIMEOUT-OF-THE-SECOND-PORT [EXTRA-KEY-LINE]
	cat >"$T/c.yaml.new" <<CFG
PORTMUX:
  probe_timeout: 0.5
  listen:
    - "127.0.0.1:$P1"
    - address: "127.0.0.1:$P2"
      on_timeout: "$1"
      detectors: [http]
${2:-}
HTTP:
  "default": $H
SSH:
  "default": $S
CFG
	mv "$T/c.yaml.new" "$T/c.yaml"
}

write_config "127.0.0.1:$V"
"$PORTMUX_BIN" -t -c "$T/c.yaml" >"$T/check.out" 2>&1 ||
	fail "portmux -t: $(cat "$T/check.out")"
assert_contains "$(cat "$T/check.out")" \
	"listen 127.0.0.1:$P2: detectors: http, on_timeout: 127.0.0.1:$V, fallback: close"
"$PORTMUX_BIN" -c "$T/c.yaml" >>"$T/portmux.log" 2>&1 &
PORTMUX_PID=$!
wait_port "$P1"
wait_port "$P2"
for _ in $(seq 1 100); do
	grep -q ' started: ' "$T/portmux.log" && break
	sleep 0.05
done
assert_contains "$(pmx_log)" \
	"listen 127.0.0.1:$P2: detectors=http on_timeout=127.0.0.1:$V fallback=close"

# Silent clients: the banner of each port's own server.
out=$(client silent "$P1" 5)
assert_contains "$out" "SSH-2.0-OpenSSH" "first port: a silent client gets sshd"
out=$(client silent "$P2" 5)
assert_contains "$out" "RFB 003.008" "second port: a silent client gets Xvnc"

# The real viewer through the second port, shown on the other Xvnc: it
# waits for the server's version, so PortMux sends it on at probe_timeout.
DISPLAY=":$DV" timeout 8 xtigervncviewer -SecurityTypes None \
	"127.0.0.1::$P2" >"$T/viewer.log" 2>&1 &
VIEWER=$!
PIDS="$PIDS $VIEWER"
for _ in $(seq 1 100); do
	grep -q "Using pixel format" "$T/viewer.log" && break
	sleep 0.1
done
viewer=$(cat "$T/viewer.log")
assert_contains "$viewer" "Server supports RFB protocol version 3.8" "viewer"
assert_contains "$viewer" "Choosing security type None" "viewer security"
assert_contains "$viewer" "Using pixel format" "viewer got ServerInit"
kill "$VIEWER" 2>/dev/null || true
assert_contains "$(cat "$T/xvnc-server.log")" \
	"Client requests security type None" "Xvnc saw the viewer"

# A real ssh client on the first port (it speaks first: detected), HTTP on
# both; on the second port ssh is not among the detectors: closed.
# shellcheck disable=SC2086
out=$(ssh $SSH_OPTS -p "$P1" "$SSH_USER@127.0.0.1" 'echo ssh ok')
assert_eq "$out" "ssh ok" "ssh on the first port"
for p in "$P1" "$P2"; do
	assert_eq "$(curl -sS --max-time 5 "http://127.0.0.1:$p/")" \
		"backend=web host=127.0.0.1:$p path=/" "http on port $p"
done
# shellcheck disable=SC2086
if ssh $SSH_OPTS -p "$P2" "$SSH_USER@127.0.0.1" true 2>/dev/null; then
	fail "ssh on the second port, whose detectors are [http]"
fi
sleep 0.2
log=$(pmx_log)
assert_contains "$log" "via=on_timeout detector=- key=- backend=127.0.0.1:$V"
assert_contains "$log" "via=on_timeout detector=- key=- backend=127.0.0.1:$S"
assert_contains "$log" "reason=unrecognised"

# Reload: the second port's silent clients go elsewhere; the first's stay.
write_config "127.0.0.1:$E"
kill -HUP "$PORTMUX_PID"
for _ in $(seq 1 100); do
	grep -q "reload: done" "$T/portmux.log" && break
	sleep 0.05
done
assert_contains "$(pmx_log)" "listen 127.0.0.1:$P2: detectors=http on_timeout=127.0.0.1:$E"
assert_contains "$(client silent "$P2" 2)" "BANNER from-echo" "after reload"
assert_contains "$(client silent "$P1" 5)" "SSH-2.0-OpenSSH" "first port after reload"

# portmux -t: a misspelt key of an entry, located, with a suggestion.
write_config "127.0.0.1:$E" "    - {address: \"127.0.0.1:1\", fallbak: close}"
if "$PORTMUX_BIN" -t -c "$T/c.yaml" >"$T/check.out" 2>&1; then
	fail "portmux -t accepted a misspelt listen key"
fi
assert_contains "$(cat "$T/check.out")" \
	"c.yaml:8:32: listen: unknown key 'fallbak', did you mean 'fallback'?"
