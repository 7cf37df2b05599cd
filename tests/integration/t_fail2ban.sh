# The fail2ban filter shipped in etc/fail2ban/ matches PortMux's own lines
# about clients it turned away or could not place — a per-source limit, a
# protocol nobody claims, a name with no route — and nothing else, on a
# real PortMux log (checked with fail2ban-regex).
. "$(dirname "$0")/lib.sh"

command -v fail2ban-regex >/dev/null || { echo "SKIP: no fail2ban-regex"; exit 77; }
P=$(free_port) H=$(free_port)
http_backend web "$H"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  rate_per_source: 1
HTTP:
  "a.test": $H
CFG
start_portmux "$T/c.yaml"
sleep 2.1 # start_portmux's probe took a token: let the bucket refill
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: a.test' "http://127.0.0.1:$P/")" "200" "served"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: b.test' "http://127.0.0.1:$P/")" "421" "no route"
# Then faster than 1 a second: refused.
for _ in 1 2 3 4 5; do curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$P/" || true; done
sleep 1.1
printf 'garbage that no detector claims\n' | $PY -c "
import socket, sys
s = socket.create_connection(('127.0.0.1', $P)); s.sendall(sys.stdin.buffer.read()); s.shutdown(1); s.recv(10)" || true
sleep 0.3
stop_portmux
filter="$TOP/etc/fail2ban/filter.d/portmux.conf"
[ -f "$filter" ] || fail "no $filter"
out=$(fail2ban-regex -v "$T/portmux.log" "$filter") || fail "fail2ban-regex: $out"
echo "$out" | grep -q "reason=(?:max_connections_per_source|rate_per_source)" || fail "filter not read: $out"
hits() { echo "$out" | sed -n "s/^|   $1) \[\([0-9]*\)\].*/\1/p"; }
[ "$(hits 1)" -ge 1 ] || fail "refusals not matched: $out"
[ "$(hits 2)" -eq 2 ] || fail "expected 2 unplaced clients (no_route, unrecognised): $out"
assert_contains "$out" "127.0.0.1"
# A served client is not matched.
served=$(grep -c "reason=eof" "$T/portmux.log" || true)
[ "$served" -ge 1 ] || fail "no served connection in the log"
matched=$(echo "$out" | sed -n 's/^Lines: .* \([0-9]*\) matched.*/\1/p')
[ "$matched" -eq $(( $(hits 1) + $(hits 2) )) ] || fail "unexpected matches: $out"
