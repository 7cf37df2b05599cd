#!/bin/sh
# Install the Debian packages PortMux needs, if any are missing.
#   scripts/deps.sh build   — to build and run the daemon
#   scripts/deps.sh test    — also the real clients and servers the tests use
#   scripts/deps.sh bench   — also the peers the benchmarks compare against
#   scripts/deps.sh check   — only say which build packages are missing
# Uses sudo when not root. Does nothing (and needs no network) when all
# packages are already installed.
set -eu

build="gcc make libc6-dev pkg-config libev-dev libyaml-dev libssl-dev check libpython3-dev python3 clang libbpf-dev"
test="$build clang libclang-rt-14-dev curl nghttp2-client openssl openssh-server openssh-client nginx-light openvpn procps iproute2 nftables fail2ban systemd haproxy mandoc man-db prometheus prosody python3-slixmpp tigervnc-standalone-server tigervnc-viewer mosquitto mosquitto-clients redis-server redis-tools ngtcp2-client ngtcp2-server wireguard-go wireguard-tools freerdp2-x11 xvfb xauth microsocks postgresql postgresql-client"
bench="$test sslh libnginx-mod-stream socat iperf3 wrk strace valgrind linux-perf"

case "${1:-build}" in
build | check) want=$build ;;
test) want=$test ;;
bench) want=$bench ;;
*) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps: not a Debian system; install the equivalents of: $want" >&2
	exit 0
fi

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
if [ "${1:-}" = check ]; then
	echo "missing Debian packages:$missing" >&2
	echo "install them with: make deps   (or: apt-get install$missing)" >&2
	exit 1
fi

echo "deps: installing:$missing"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo="sudo"
	else
		echo "deps: need root (or sudo) to install:$missing" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
# Servers installed for tests must not start (and hold ports) on their own.
policy=/usr/sbin/policy-rc.d
added_policy=""
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
	$sudo chmod 755 "$policy"
	added_policy=1
fi
status=0
$sudo apt-get update -qq || status=$?
if [ "$status" -eq 0 ]; then
	# shellcheck disable=SC2086
	$sudo apt-get install -y -qq --no-install-recommends $missing || status=$?
fi
[ -n "$added_policy" ] && $sudo rm -f "$policy"
exit "$status"
