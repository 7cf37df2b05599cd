# Real SOCKS clients and servers through PortMux, each version to the
# server of its route: curl's SOCKS4 and SOCKS4a go to OpenSSH's dynamic
# forwarding (ssh -D, whose own SSH connection also goes through PortMux,
# to sshd), curl's SOCKS5 (with local and with proxy-side name
# resolution) to microsocks; all fetch a page from an HTTP backend, next
# to HTTP itself on the same port.
. "$(dirname "$0")/lib.sh"

command -v microsocks >/dev/null || { echo "SKIP: no microsocks"; exit 77; }
P=$(free_port) S=$(free_port) H=$(free_port) D=$(free_port) M=$(free_port)
start_sshd "$S"
http_backend_localhost web "$H"
start_bg microsocks microsocks -i 127.0.0.1 -p "$M"
wait_port "$M"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  detectors: [ssh, socks, http]
HTTP:
  "default": $H
SSH:
  "default": $S
SOCKS:
  "socks4": $D
  "socks5": $M
CFG
start_portmux "$T/c.yaml"

# ssh -D through PortMux: its SOCKS server listens on $D.
# shellcheck disable=SC2086
start_bg ssh-d ssh $SSH_OPTS -N -D "127.0.0.1:$D" -p "$P" "$SSH_USER@127.0.0.1"
wait_port "$D"

page="backend=web host=127.0.0.1:$H path=/"
via() { # SCHEME URL
	curl -sS --max-time 10 -x "$1://127.0.0.1:$P" "$2"
}
assert_eq "$(via socks4 "http://127.0.0.1:$H/")" "$page" "curl over SOCKS4"
assert_eq "$(via socks4a "http://localhost:$H/")" \
	"backend=web host=localhost:$H path=/" "curl over SOCKS4a"
assert_eq "$(curl -sS --max-time 10 -x "socks4://alice@127.0.0.1:$P" \
	"http://127.0.0.1:$H/")" "$page" "curl over SOCKS4 with a user id"
assert_eq "$(via socks5 "http://127.0.0.1:$H/")" "$page" "curl over SOCKS5"
assert_eq "$(via socks5h "http://localhost:$H/")" \
	"backend=web host=localhost:$H path=/" "curl over SOCKS5, remote DNS"
assert_eq "$(curl -sS --max-time 5 "http://127.0.0.1:$P/")" \
	"backend=web host=127.0.0.1:$P path=/" "http next to socks"

sleep 0.2
log=$(pmx_log)
assert_contains "$log" "detector=socks key=socks4 backend=127.0.0.1:$D"
assert_contains "$log" "detector=socks key=socks5 backend=127.0.0.1:$M"
[ "$(grep -c "detector=socks key=socks4 " "$T/portmux.log")" -eq 3 ] ||
	fail "three SOCKS4 connections expected"
[ "$(grep -c "detector=socks key=socks5 " "$T/portmux.log")" -eq 2 ] ||
	fail "two SOCKS5 connections expected"

# No route for a version (and no fallback): the client hears a refusal in
# its own protocol. A reload drops SOCKS5's route (a restart would end
# ssh -D, whose connection goes through PortMux).
sed -i '/"socks5":/d' "$T/c.yaml"
kill -HUP "$PORTMUX_PID"
for _ in $(seq 1 100); do
	grep -q "reload: done" "$T/portmux.log" && break
	sleep 0.05
done
grep -q "reload: done" "$T/portmux.log" || fail "no reload"
assert_eq "$(via socks4 "http://127.0.0.1:$H/")" "$page" "SOCKS4 still served"
out=$(via socks5 "http://127.0.0.1:$H/" 2>&1 || true)
assert_contains "$out" "No authentication method was acceptable" \
	"SOCKS5 with no route: 05 FF"
