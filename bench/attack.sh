#!/bin/bash
# bench/attack.sh — reliability under attack: while one source (127.0.0.1)
# attacks, a well-behaved client from another (127.0.0.2) keeps making
# HTTP requests through the same port; for each attack and relay, the p99
# and median of its requests and how many failed (anything lost). The
# relays detect HTTP vs SSH on one port, each with its defaults otherwise:
#   portmux      the default config (its default limits: the point), a
#                Python detector first that loops forever on "LOOP"
#   haproxy      mode tcp, inspect-delay 5s, HTTP to nginx, else SSH
#   sslh-select  --http / --ssh (sslh-fork: the same, a process each)
# Attacks (bench/attack.py): none, slowloris (3,000), silent (1,000),
# flood, garbage (500), loop (PortMux only: its Python detector), udp
# (PortMux only: forged OpenVPN resets).
#   bench/attack.sh [ATTACK...]   ATTACK_SECS (default 10), CONTENDERS
# Figures vary between machines; compare the rows of one run.
. "$(dirname "$0")/lib.sh"
. "$TOP/bench/peers.sh"
ATTACKS=${*:-none slowloris silent flood garbage loop udp}
SECS=${ATTACK_SECS:-10}
LIST=${CONTENDERS:-portmux haproxy sslh-select sslh-fork}
raise_nofile

H=$(free_port) S=$(free_port)
nginx_backend "$H"
bg sshsrv "$PY" "$TOP/bench/tcphold.py" server "$S" --banner 'SSH-2.0-test\r\n'
wait_port "$S"
cat >"$B/loop.py" <<'PY'
def analyse(buffer):
    if buffer.startswith(b"LOOP"):
        while True:
            pass
    return None
PY

start() { # NAME: sets RPORT, RPID
	local name=$1
	RPORT=$(free_port)
	case $name in
	portmux)
		cat >"$B/pm.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $RPORT
  log_level: warn
$(pm_workers)
  udp: true
PYTHON:
  script: $B/loop.py
HTTP:
  default: $H
SSH:
  default: $S
OPENVPN:
  udp: $S
CFG
		bg "$name" "$BIN" -c "$B/pm.yaml"
		;;
	haproxy)
		haproxy_conf "$RPORT" "" "	tcp-request inspect-delay 5s
	tcp-request content accept if HTTP
	use_backend http if HTTP
	default_backend ssh" "backend http
	server s 127.0.0.1:$H
backend ssh
	server s 127.0.0.1:$S" >"$B/haproxy.cfg"
		bg "$name" haproxy -db -f "$B/haproxy.cfg"
		;;
	sslh-select | sslh-fork)
		local exe=/usr/sbin/sslh-select
		[ "$name" = sslh-fork ] && exe=/usr/sbin/sslh
		bg "$name" "$exe" -f -n -p "127.0.0.1:$RPORT" \
			--http "127.0.0.1:$H" --ssh "127.0.0.1:$S"
		;;
	esac
	RPID=$LAST
	relay_wait "$name"
}

OUT=$TOP/bench/results/attack-$(date -u +%Y%m%dT%H%M%SZ).txt
mkdir -p "$TOP/bench/results"
{
	echo "PortMux under attack, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) CPUs, ${SECS} s each"
	echo "portmux $(cd "$TOP" && git describe --always --dirty 2>/dev/null || echo '?')"
	printf '%-10s %-12s %9s %9s %6s %7s  %s\n' attack relay "p99 ms" "median" ok failed alive
	for a in $ATTACKS; do
		for c in $LIST; do
			case $a in loop | udp) [ "$c" = portmux ] || continue ;; esac
			start "$c"
			res=$("$PY" "$TOP/bench/attack.py" "$RPORT" "$a" "$SECS" --udp-port "$RPORT")
			state=yes
			kill -0 "$RPID" 2>/dev/null || state="no (died)"
			relay_stop
			p99=$(echo "$res" | sed -n 's/.*p99_ms=\([^ ]*\).*/\1/p')
			med=$(echo "$res" | sed -n 's/.*median_ms=\([^ ]*\).*/\1/p')
			ok=$(echo "$res" | sed -n 's/.* ok=\([^ ]*\).*/\1/p')
			failed=$(echo "$res" | sed -n 's/.*failed=\([^ ]*\).*/\1/p')
			printf '%-10s %-12s %9s %9s %6s %7s  %s\n' "$a" "$c" "$p99" "$med" "$ok" "$failed" "$state"
		done
	done
	echo "failed: requests of the well-behaved client that got no answer within 5 s or a wrong one"
} | tee "$OUT"
echo "written to $OUT"
