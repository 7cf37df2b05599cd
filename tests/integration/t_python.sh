# Python detectors with real clients: the product description's example
# script routes CUSTOM_PROTOCOL and GAME_DATA to two echo backends while curl
# and ssh keep going to theirs through the same port; libpython is never in
# the daemon (only portmux-python, the program that runs scripts, links it)
# and a config without Python starts no Python process; exceptions are
# logged with the script line; SIGHUP reloads the script (a broken one is
# refused); several scripts as separately named detectors.
. "$(dirname "$0")/lib.sh"

# The example script routes to the fixed ports 9000 and 7777.
for p in 9000 7777; do
	$PY -c "import socket; socket.socket().bind(('127.0.0.1', $p))" 2>/dev/null ||
		{ echo "SKIP: port $p is in use here"; exit 77; }
done
P=$(free_port) H=$(free_port) S=$(free_port)
echo_backend "CUSTOM-BACKEND " 9000
echo_backend "GAME-BACKEND " 7777
http_backend web "$H"
start_sshd "$S"

# 1. libpython: never in the daemon; no Python process without a Python
# config.
ldd "$PORTMUX_BIN" | grep -q libpython && fail "portmux links libpython"
ldd "$PORTMUX_PLUGIN_DIR/python.so" | grep -q libpython && fail "python.so links libpython"
ldd "$PORTMUX_PLUGIN_DIR/portmux-python" | grep -q libpython || fail "portmux-python does not link libpython"
cat >"$T/nopy.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
HTTP:
  "default": $H
SSH:
  "default": $S
CFG
start_portmux "$T/nopy.yaml"
grep -q libpython "/proc/$PORTMUX_PID/maps" && fail "libpython loaded without Python"
[ -z "$(pgrep -P "$PORTMUX_PID")" ] || fail "processes started without Python: $(pgrep -a -P "$PORTMUX_PID")"
stop_portmux

# 2. The example script, next to http and ssh.
cp "$TOP/etc/portmux/script.py" "$T/script.py"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
PYTHON:
  script: script.py
HTTP:
  "default": $H
SSH:
  "default": $S
CFG
start_portmux "$T/c.yaml"
assert_contains "$(pmx_log)" "detectors=python,ssh,http"
grep -q libpython "/proc/$PORTMUX_PID/maps" && fail "libpython loaded into the daemon"
ZYGOTE=$(pgrep -P "$PORTMUX_PID" -x portmux-python) || fail "no Python process with Python"
grep -q libpython "/proc/$ZYGOTE/maps" || fail "the Python process has no libpython"
assert_eq "$(client raw "$P" 'CUSTOM_PROTOCOL hello\n' 1)" \
	"CUSTOM-BACKEND CUSTOM_PROTOCOL hello" "CUSTOM_PROTOCOL"
assert_eq "$(client raw "$P" 'GAME_DATA 42\n' 1)" "GAME-BACKEND GAME_DATA 42" "GAME_DATA"
assert_eq "$(curl -sS --max-time 5 "http://127.0.0.1:$P/c")" \
	"backend=web host=127.0.0.1:$P path=/c" "curl next to the script"
# shellcheck disable=SC2086
assert_contains "$(ssh $SSH_OPTS -p "$P" "$SSH_USER@127.0.0.1" echo ssh-ok)" "ssh-ok" "ssh next to the script"
sleep 0.2
assert_contains "$(pmx_log)" "detector=python key=- backend=127.0.0.1:9000"
assert_contains "$(pmx_log)" "detector=python key=- backend=127.0.0.1:7777"

# 3. SIGHUP reloads the script; a broken script is refused, the old stays.
sed -i 's/return 9000/return 7777/' "$T/script.py"
kill -HUP "$PORTMUX_PID"
for _ in $(seq 1 100); do grep -q "reload: done" "$T/portmux.log" && break; sleep 0.05; done
assert_eq "$(client raw "$P" 'CUSTOM_PROTOCOL again\n' 1)" \
	"GAME-BACKEND CUSTOM_PROTOCOL again" "reloaded script"
printf 'def analyse(buffer)\n    return 1\n' >"$T/script.py"
kill -HUP "$PORTMUX_PID"
for _ in $(seq 1 100); do grep -q "reload failed" "$T/portmux.log" && break; sleep 0.05; done
assert_contains "$(pmx_log)" "script.py:1: SyntaxError"
assert_eq "$(client raw "$P" 'CUSTOM_PROTOCOL kept\n' 1)" \
	"GAME-BACKEND CUSTOM_PROTOCOL kept" "old script kept"
stop_portmux

# 4. portmux -t compiles the script: a syntax error or no analyse() fail the
# check with the script's file and line.
printf 'def analyse(buffer)\n    return 1\n' >"$T/bad.py"
printf 'PORTMUX:\n  port: %s\nPYTHON:\n  script: %s\n' "$P" "$T/bad.py" >"$T/bad.yaml"
set +e
out=$("$PORTMUX_BIN" -t -c "$T/bad.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" 1 "-t with a broken script"
assert_contains "$out" "$T/bad.py:1: SyntaxError"
printf 'def analyze(buffer):\n    return 1\n' >"$T/bad.py"
set +e
out=$("$PORTMUX_BIN" -t -c "$T/bad.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" 1 "-t without analyse"
assert_contains "$out" "analyse"

# 5. A raising script: logged with its line; the connection goes on to the
# next detector; the daemon lives. Two named scripts at their own places.
cat >"$T/raises.py" <<'PY'
def analyse(buffer):
    if buffer.startswith(b"GET"):
        raise ValueError("no thanks")
    return None
PY
cat >"$T/games.py" <<'PY'
def analyse(buffer):
    return 7777 if buffer.startswith(b"GAME") else None
PY
cat >"$T/c2.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  detectors: [python, ssh, "python:games", http]
PYTHON:
  script: $T/raises.py
"PYTHON:games":
  script: $T/games.py
  timeout: 0.1
HTTP:
  "default": $H
SSH:
  "default": $S
CFG
start_portmux "$T/c2.yaml"
assert_contains "$(pmx_log)" "detectors=python,ssh,python:games,http"
assert_eq "$(curl -sS --max-time 5 "http://127.0.0.1:$P/r")" \
	"backend=web host=127.0.0.1:$P path=/r" "http after a raising script"
assert_eq "$(client raw "$P" 'GAME on\n' 1)" "GAME-BACKEND GAME on" "second named script"
sleep 0.2
assert_contains "$(pmx_log)" "ValueError: no thanks"
assert_contains "$(pmx_log)" "raises.py:3"
assert_contains "$(pmx_log)" "detector=python:games key=- backend=127.0.0.1:7777"
kill -0 "$PORTMUX_PID" || fail "portmux died"

# 6. A script may answer with a host name: PortMux resolves it on the
# thread that ran the script, never on its event loop.
stop_portmux
if [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
	printf '127.0.0.1 game.test\n' >"$T/hosts"
	cat >"$T/names.py" <<'PY'
def analyse(buffer):
    if buffer.startswith(b"GAME"):
        return "game.test:7777"
    if buffer.startswith(b"NOPE"):
        return "no-such-host.invalid:7777"
    return None
PY
	printf 'PORTMUX:\n  ip: 127.0.0.1\n  port: %s\n  detectors: [python]\nPYTHON:\n  script: %s\n' \
		"$P" "$T/names.py" >"$T/names.yaml"
	unshare -m sh -c "mount --bind $T/hosts /etc/hosts && exec $PORTMUX_BIN -c $T/names.yaml" \
		>>"$T/portmux.log" 2>&1 &
	PORTMUX_PID=$!
	wait_port "$P"
	assert_eq "$(client raw "$P" 'GAME by name\n' 1)" "GAME-BACKEND GAME by name" "host name answer"
	assert_eq "$(client raw "$P" 'NOPE\n' 1)" "" "unresolvable name"
	sleep 0.2
	assert_contains "$(pmx_log)" "detector=python key=- backend=game.test:7777"
	assert_contains "$(pmx_log)" "returned a bad backend 'no-such-host.invalid:7777': cannot resolve"
fi
