# Backend names are looked up again every resolve_interval, off the event
# loop: when a name moves to another address, new connections follow it;
# when it stops resolving, the last addresses are kept. (A private
# /etc/hosts in a mount namespace of our own plays DNS.)
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! unshare -m true 2>/dev/null; then
	echo "SKIP: needs root and mount namespaces"
	exit 77
fi
P=$(free_port) B=$(free_port)
http_backend two "$B" 127.0.0.2
http_backend three "$B" 127.0.0.3
printf '127.0.0.2 moving.test\n' >"$T/hosts"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  resolve_interval: 0.3
HTTP:
  "default": "moving.test:$B"
CFG
unshare -m sh -c "mount --bind $T/hosts /etc/hosts && exec $PORTMUX_BIN -c $T/c.yaml" \
	>>"$T/portmux.log" 2>&1 &
PORTMUX_PID=$!
wait_port "$P"
get() { curl -sS --max-time 5 "http://127.0.0.1:$P/$1"; }
assert_eq "$(get a)" "backend=two host=127.0.0.1:$P path=/a" "first address"
# Same file (the bind mount follows the inode): the name moves.
printf '127.0.0.3 moving.test\n' >"$T/hosts"
for _ in $(seq 1 40); do
	grep -q "resolve: backend=moving.test:$B addresses=127.0.0.3:$B (were 127.0.0.2:$B)" \
		"$T/portmux.log" && break
	sleep 0.1
done
assert_eq "$(get b)" "backend=three host=127.0.0.1:$P path=/b" "moved"
# The name vanishes: the last addresses stay.
printf '# nothing\n' >"$T/hosts"
sleep 1
assert_contains "$(pmx_log)" "keeping its addresses"
[ "$(grep -c 'keeping its addresses' "$T/portmux.log")" -eq 1 ] || fail "said more than once"
assert_eq "$(get c)" "backend=three host=127.0.0.1:$P path=/c" "kept"
