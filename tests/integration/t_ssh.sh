# ssh runs a command, scp copies 50 MB both ways and sftp puts and gets a
# file (checksums) against a real sshd through PortMux, next to an HTTP
# route on the same port.
. "$(dirname "$0")/lib.sh"

P=$(free_port) S=$(free_port) H=$(free_port)
start_sshd "$S"
http_backend web "$H"
cat >"$T/c.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
HTTP:
  "default": $H
SSH:
  "default": $S
CFG
start_portmux "$T/c.yaml"

# shellcheck disable=SC2086
out=$(ssh $SSH_OPTS -p "$P" "$SSH_USER@127.0.0.1" 'echo hello from $(hostname) via ssh')
assert_contains "$out" "hello from" "ssh command"

head -c 3000000 /dev/urandom >"$T/up.bin"
cat >"$T/batch" <<B
put $T/up.bin $T/remote.bin
get $T/remote.bin $T/down.bin
B
# shellcheck disable=SC2086
sftp $SSH_OPTS -P "$P" -b "$T/batch" "$SSH_USER@127.0.0.1" >/dev/null
up=$(sha256sum <"$T/up.bin" | cut -d' ' -f1)
assert_eq "$(sha256sum <"$T/remote.bin" | cut -d' ' -f1)" "$up" "sftp put"
assert_eq "$(sha256sum <"$T/down.bin" | cut -d' ' -f1)" "$up" "sftp get"

head -c 52428800 /dev/urandom >"$T/big.bin"
big=$(sha256sum <"$T/big.bin" | cut -d' ' -f1)
# shellcheck disable=SC2086
scp -q $SSH_OPTS -P "$P" "$T/big.bin" "$SSH_USER@127.0.0.1:$T/big-remote.bin"
assert_eq "$(sha256sum <"$T/big-remote.bin" | cut -d' ' -f1)" "$big" "scp 50 MB up"
# shellcheck disable=SC2086
scp -q $SSH_OPTS -P "$P" "$SSH_USER@127.0.0.1:$T/big-remote.bin" "$T/big-back.bin"
assert_eq "$(sha256sum <"$T/big-back.bin" | cut -d' ' -f1)" "$big" "scp 50 MB down"

assert_eq "$(curl -sS --max-time 5 "http://127.0.0.1:$P/")" \
	"backend=web host=127.0.0.1:$P path=/" "http next to ssh"
sleep 0.2
assert_contains "$(pmx_log)" "via=detector detector=ssh key=- backend=127.0.0.1:$S"
