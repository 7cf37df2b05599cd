#!/bin/sh
# make-openvpn-corpus.sh — regenerate tests/corpus/openvpn/*.bin: the first
# packet a real OpenVPN client sends, over TCP and UDP, in each wrapping
# (none, tls-auth with several HMAC sizes, tls-crypt, tls-crypt-v2).
#
# A throwaway PKI (CA, server and client certificates) and the static keys
# are made in a temporary directory; no server is run: capture.py /
# capture_udp.py listen on 127.0.0.1 and record what the client sends, and
# the client is killed by timeout(1) while it waits for the server's reset.
# Needs openvpn (2.5+ for tls-crypt-v2), openssl and python3. Session ids,
# HMACs and timestamps are random or time-based, so every run gives new
# bytes with the same structure.
#
#   tests/tools/make-openvpn-corpus.sh [OUTDIR]
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/tests/corpus/openvpn}
tools=$top/tests/tools
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$out"
cd "$tmp"

# ---- PKI: EC keys are quick to make and the certificates are small ----
cert() { # NAME CN [EXT]
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -keyout "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null
	printf '%s\n' "$3" > "$1.ext"
	openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key \
		-CAcreateserial -days 30 -extfile "$1.ext" -out "$1.crt" \
		2>/dev/null
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout ca.key -subj "/CN=portmux-test-ca" -days 30 -out ca.crt \
	2>/dev/null
cert server server "extendedKeyUsage=serverAuth"
cert client client "extendedKeyUsage=clientAuth"
openvpn --genkey secret ta.key
openvpn --genkey tls-crypt-v2-server v2-server.key
openvpn --genkey tls-crypt-v2-client v2-client.key \
	--tls-crypt-v2 v2-server.key

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# capture PROTO NAME [openvpn options...]
capture() {
	proto=$1 name=$2
	shift 2
	port=$(free_port)
	if [ "$proto" = tcp ]; then
		/usr/bin/python3 "$tools/capture.py" "$port" "$out/$name.bin" &
		popt=tcp-client
	else
		/usr/bin/python3 "$tools/capture_udp.py" "$port" "$out/$name.bin" 10 &
		popt=udp
	fi
	cap=$!
	sleep 0.5
	timeout 3 openvpn --client --dev null --nobind --verb 0 \
		--remote 127.0.0.1 "$port" --proto "$popt" \
		--connect-retry-max 1 --ca ca.crt --cert client.crt \
		--key client.key "$@" >/dev/null 2>&1 || true
	wait "$cap"
}

for p in tcp udp; do
	capture $p $p-plain
	capture $p $p-tls-auth --tls-auth ta.key 1
	capture $p $p-tls-auth-sha256 --tls-auth ta.key 1 --auth SHA256
	capture $p $p-tls-auth-sha512 --tls-auth ta.key 1 --auth SHA512
	capture $p $p-tls-crypt --tls-crypt ta.key
	capture $p $p-tls-crypt-v2 --tls-crypt-v2 v2-client.key
done
# the other HMAC sizes: 16 (MD5) and 48 (SHA384) bytes
capture udp udp-tls-auth-md5 --tls-auth ta.key 1 --auth MD5
capture udp udp-tls-auth-sha384 --tls-auth ta.key 1 --auth SHA384
