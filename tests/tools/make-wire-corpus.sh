#!/bin/sh
# make-wire-corpus.sh — regenerate the captures of tests/corpus/rdp,
# postgres, socks and wireguard: the first bytes real Debian clients send.
#
#   rdp/       xfreerdp (freerdp2-x11, under xvfb-run): user names, no
#              negotiation request (/sec:rdp), a routing token
#   postgres/  psql: StartupMessage (sslmode=disable), SSLRequest (the
#              default sslmode=prefer)
#   socks/     curl -x socks4:// socks4a:// socks5:// socks5h://
#   wireguard/ wireguard-go + wg: the client's initiation, the server's
#              response, the client's first data packet, and the server's
#              public key in hex (needs root: TUN devices and network
#              namespaces)
#
# TCP clients talk to capture.py, which records what they send and never
# answers; the WireGuard pair talks through udp_spy.py, which records each
# datagram it relays. Keys, session ids and timestamps are random, so every
# run gives new bytes with the same structure.
#
#   tests/tools/make-wire-corpus.sh [rdp|postgres|socks|wireguard]...
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
tools=$top/tests/tools
corpus=$top/tests/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
cd "$tmp"

free_port() { # [udp]
	python3 -c 'import socket,sys
t = socket.SOCK_DGRAM if sys.argv[1:] == ["udp"] else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, t); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' "$@"
}

wait_port() {
	for _ in $(seq 1 100); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2).close()" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "nothing listens on $1" >&2
	return 1
}

# capture OUTFILE 'CLIENT COMMAND' — %P% in the command is the port.
capture() {
	out=$1
	port=$(free_port)
	python3 "$tools/capture.py" "$port" "$out" 1 &
	cap=$!
	# capture.py takes the one connection wait_port would use up: wait
	# for its socket with ss instead.
	for _ in $(seq 1 100); do
		ss -Htln "sport = :$port" | grep -q . && break
		sleep 0.05
	done
	timeout 15 sh -c "$(printf %s "$2" | sed "s/%P%/$port/g")" \
		>/dev/null 2>&1 || true
	wait "$cap"
}

rdp() {
	d=$corpus/rdp
	mkdir -p "$d"
	x="xvfb-run -a xfreerdp /v:127.0.0.1:%P% /cert:ignore +auth-only /p:x"
	capture "$d/freerdp-alice.bin" "$x /u:alice"
	capture "$d/freerdp-domain.bin" "$x '/u:CORP\\carol'"
	capture "$d/freerdp-long-user.bin" "$x /u:Administrator.of.the.realm"
	capture "$d/freerdp-sec-rdp.bin" "$x /u:bob /sec:rdp"
	capture "$d/freerdp-routing-token.bin" \
		"$x /u:dave '/load-balance-info:tsv://MS Terminal Services Plugin.1.Sessions'"
}

postgres() {
	d=$corpus/postgres
	mkdir -p "$d"
	q="env PGCONNECT_TIMEOUT=3 psql -w -c 'select 1'"
	capture "$d/psql-startup.bin" \
		"$q 'host=127.0.0.1 port=%P% user=alice dbname=sales sslmode=disable'"
	capture "$d/psql-startup-options.bin" \
		"$q 'host=127.0.0.1 port=%P% user=alice dbname=sales sslmode=disable application_name=report options=-cgeqo=off'"
	capture "$d/psql-user-only.bin" \
		"$q 'host=127.0.0.1 port=%P% user=bob sslmode=disable'"
	capture "$d/psql-sslrequest.bin" \
		"$q 'host=127.0.0.1 port=%P% user=alice dbname=sales'"
}

socks() {
	d=$corpus/socks
	mkdir -p "$d"
	c="curl -sS --max-time 3"
	capture "$d/curl-socks4.bin" "$c -x socks4://127.0.0.1:%P% http://127.0.0.1:8080/"
	capture "$d/curl-socks4-user.bin" "$c -x socks4://alice@127.0.0.1:%P% http://127.0.0.1:8080/"
	capture "$d/curl-socks4a.bin" "$c -x socks4a://127.0.0.1:%P% http://www.example.test:8080/"
	capture "$d/curl-socks5.bin" "$c -x socks5://127.0.0.1:%P% http://127.0.0.1:8080/"
	capture "$d/curl-socks5-auth.bin" "$c -x socks5h://alice:pw@127.0.0.1:%P% http://www.example.test/"
}

wireguard() {
	d=$corpus/wireguard
	mkdir -p "$d"
	export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1
	umask 077
	wg genkey >c.key
	wg genkey >s.key
	wg pubkey <c.key >c.pub
	wg pubkey <s.key >s.pub
	nc=pmxc$$ ns=pmxs$$
	ip netns add "$nc"
	ip netns add "$ns"
	wireguard-go -f "$nc" >wgc.log 2>&1 &
	wc=$!
	wireguard-go -f "$ns" >wgs.log 2>&1 &
	ws=$!
	for _ in $(seq 1 100); do
		[ -S "/var/run/wireguard/$nc.sock" ] &&
			[ -S "/var/run/wireguard/$ns.sock" ] && break
		sleep 0.05
	done
	sp=$(free_port udp)
	lp=$(free_port udp)
	python3 "$tools/udp_spy.py" "$lp" "$sp" "$tmp/wg" 8 &
	spy=$!
	wg set "$ns" private-key s.key listen-port "$sp" \
		peer "$(cat c.pub)" allowed-ips 10.99.0.1/32
	wg set "$nc" private-key c.key \
		peer "$(cat s.pub)" allowed-ips 10.99.0.2/32 endpoint "127.0.0.1:$lp"
	# The TUN devices move into namespaces, the UDP sockets stay here.
	ip link set "$nc" netns "$nc"
	ip link set "$ns" netns "$ns"
	ip -n "$nc" addr add 10.99.0.1 peer 10.99.0.2 dev "$nc"
	ip -n "$ns" addr add 10.99.0.2 peer 10.99.0.1 dev "$ns"
	ip -n "$nc" link set "$nc" up
	ip -n "$ns" link set "$ns" up
	ip netns exec "$nc" python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(b"x", ("10.99.0.2", 9))' || true
	sleep 1
	kill "$wc" "$ws" "$spy" 2>/dev/null || true
	wait "$wc" "$ws" "$spy" 2>/dev/null || true
	ip netns del "$nc"
	ip netns del "$ns"
	cp "$tmp/wg-01-c2s.bin" "$d/initiation.bin"
	cp "$tmp/wg-02-s2c.bin" "$d/response.bin"
	cp "$tmp/wg-03-c2s.bin" "$d/transport.bin"
	# the server's public key, in hex: the route name that takes them
	base64 -d <s.pub | od -An -tx1 | tr -d ' \n' >"$d/server-key.hex"
	chmod 644 "$d"/*
	ls -l "$d"
}

for what in ${*:-rdp postgres socks wireguard}; do
	$what
done
