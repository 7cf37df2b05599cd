# SIGHUP reloads the configuration: new connections use the new routes,
# a live connection keeps relaying, and a broken new configuration is
# reported while the running one stays.
. "$(dirname "$0")/lib.sh"

P=$(free_port) A=$(free_port) B=$(free_port) D=$(free_port)
http_backend a "$A"
http_backend b "$B"
http_backend default "$D"
write_config() { # BACKEND-FOR-a.test
	cat >"$T/c.yaml.new" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
HTTP:
  "a.test": $1
  "default": $D
CFG
	mv "$T/c.yaml.new" "$T/c.yaml"
}
reloads() { grep -c "reload: done" "$T/portmux.log" || true; }
wait_reload() { # COUNT
	for _ in $(seq 1 100); do
		[ "$(reloads)" -ge "$1" ] && return 0
		sleep 0.05
	done
	fail "no reload"
}
get() { curl -sS --max-time 5 -H "Host: $1" "http://127.0.0.1:$P/"; }

write_config "$A"
start_portmux "$T/c.yaml"
assert_eq "$(get a.test)" "backend=a host=a.test path=/" "before reload"

# A live keep-alive connection, held across the reloads.
req='GET /live HTTP/1.1\r\nHost: a.test\r\n\r\n'
client twostep "$P" "$req" "$req" "$T/go" >"$T/live.out" &
LIVE=$!
PIDS="$PIDS $LIVE"
sleep 0.5

write_config "$B"
kill -HUP "$PORTMUX_PID"
wait_reload 1
assert_eq "$(get a.test)" "backend=b host=a.test path=/" "after reload"

printf 'PORTMUX:\n  port: [oops\n' >"$T/c.yaml"
kill -HUP "$PORTMUX_PID"
for _ in $(seq 1 100); do
	grep -q "reload failed" "$T/portmux.log" && break
	sleep 0.05
done
assert_contains "$(pmx_log)" "$T/c.yaml:3:1: YAML syntax error"
assert_contains "$(pmx_log)" "reload failed; keeping the running configuration"
assert_eq "$(get a.test)" "backend=b host=a.test path=/" "after a failed reload"

touch "$T/go"
wait "$LIVE"
assert_eq "$(cat "$T/live.out")" "backend=a host=a.test path=/live
backend=a host=a.test path=/live" "the live connection kept its backend"
