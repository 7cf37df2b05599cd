# Protocols described in YAML alone (pattern.so): an MQTT broker and a
# Redis server behind one PortMux port shared with HTTP and SSH. Real
# clients and servers from Debian: mosquitto_sub / mosquitto_pub against
# mosquitto (a hex rule at an offset: the protocol name of MQTT's CONNECT),
# redis-cli against redis-server (a regex over RESP's first 8 bytes). The
# pattern detector is enabled by its section and runs after the built-in
# ones. A bad rule is refused by portmux -t with its line.
. "$(dirname "$0")/lib.sh"

for b in mosquitto mosquitto_pub mosquitto_sub redis-server redis-cli; do
	command -v "$b" >/dev/null || { echo "SKIP: no $b"; exit 77; }
done

P=$(free_port) M=$(free_port) R=$(free_port) H=$(free_port) S=$(free_port)

cat >"$T/mosquitto.conf" <<CFG
listener $M 127.0.0.1
allow_anonymous true
persistence false
log_dest file $T/mosquitto.events
log_type all
CFG
[ "$(id -u)" -ne 0 ] || echo "user root" >>"$T/mosquitto.conf"
start_bg mosquitto mosquitto -c "$T/mosquitto.conf"
wait_port "$M"
start_bg redis redis-server --port "$R" --bind 127.0.0.1 --save '' \
	--appendonly no --daemonize no --dir "$T"
wait_port "$R"
http_backend web "$H"
start_sshd "$S"

cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
HTTP:
  "default": $H
SSH:
  "default": $S
PATTERN:
  rules:
    # MQTT CONNECT: 0x10, a one-byte remaining length, then the protocol
    # name "MQTT" as a 2-byte length and its bytes
    - name: mqtt
      hex: "00 04 4d 51 54 54"
      offset: 2
      backend: $M
    # Redis: a RESP array of bulk strings, "*<n>\r\n\$<len>\r\n"
    - name: redis
      regex: "^\\\\*[0-9]+\\r\\n\\\\\$[0-9]+\\r\\n"
      need: 8
      backend: "127.0.0.1:$R"
CFG
"$PORTMUX_BIN" -t -c "$T/c.yaml" >"$T/check.out" 2>&1 ||
	fail "portmux -t: $(cat "$T/check.out")"
assert_contains "$(cat "$T/check.out")" "detectors: ssh,http,pattern"
start_portmux "$T/c.yaml"

# MQTT: a subscriber and a publisher, both through PortMux.
mosquitto_sub -h 127.0.0.1 -p "$P" -t portmux/test -C 1 -W 10 \
	>"$T/sub.out" 2>&1 &
SUB=$!
PIDS="$PIDS $SUB"
for _ in $(seq 1 100); do
	grep -q "Sending SUBACK" "$T/mosquitto.events" 2>/dev/null && break
	sleep 0.05
done
mosquitto_pub -h 127.0.0.1 -p "$P" -t portmux/test -m "hello via portmux"
wait "$SUB" || fail "mosquitto_sub: $(cat "$T/sub.out")"
assert_eq "$(cat "$T/sub.out")" "hello via portmux" "mqtt message"

# Redis.
assert_eq "$(redis-cli -h 127.0.0.1 -p "$P" SET portmux works)" "OK" "redis SET"
assert_eq "$(redis-cli -h 127.0.0.1 -p "$P" GET portmux)" "works" "redis GET"
assert_eq "$(redis-cli -h 127.0.0.1 -p "$R" GET portmux)" "works" \
	"the value is in the real redis"

# The built-in detectors still come first.
assert_eq "$(curl -sS --max-time 5 "http://127.0.0.1:$P/")" \
	"backend=web host=127.0.0.1:$P path=/" "http next to the rules"
# shellcheck disable=SC2086
out=$(ssh $SSH_OPTS -p "$P" "$SSH_USER@127.0.0.1" 'echo ssh ok')
assert_eq "$out" "ssh ok" "ssh next to the rules"

sleep 0.2
log=$(pmx_log)
assert_contains "$log" "via=detector detector=pattern key=mqtt backend=127.0.0.1:$M"
assert_contains "$log" "via=detector detector=pattern key=redis backend=127.0.0.1:$R"

# A broken regex and bad hex: refused with the file, line and column.
sed -e 's/regex: .*/regex: "^(RESP"/' "$T/c.yaml" >"$T/bad.yaml"
if "$PORTMUX_BIN" -t -c "$T/bad.yaml" >"$T/bad.out" 2>&1; then
	fail "portmux -t accepted a broken regex"
fi
assert_contains "$(cat "$T/bad.out")" "bad.yaml:18:14: regex: Unmatched ("
sed -e 's/hex: .*/hex: "00 04 4d 5"/' "$T/c.yaml" >"$T/bad.yaml"
if "$PORTMUX_BIN" -t -c "$T/bad.yaml" >"$T/bad.out" 2>&1; then
	fail "portmux -t accepted bad hex"
fi
assert_contains "$(cat "$T/bad.out")" \
	"bad.yaml:13:12: hex: an odd number of hex digits"
