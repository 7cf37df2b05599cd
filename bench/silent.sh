#!/bin/bash
# bench/silent.sh — a silent client (e.g. an SSH client waiting for the
# server's banner) through relays that detect the protocol.
#   The SSH backend (tcphold.py server --banner) sends "SSH-2.0-test\r\n" on
#   connect; a TLS route goes elsewhere. The client connects and sends
#   nothing; we time the first byte (or the close) with tcphold.py ttfb,
#   SAMPLES (default 5) times in a row, at most 8 s each. Each relay is set
#   to give up detecting after 2 s and send silent clients to SSH:
#     portmux      probe_timeout: 2, on_timeout: SSH
#     haproxy      tcp-request inspect-delay 2s, content accept if a TLS
#                  hello, default_backend ssh
#     sslh-*       -t 2 (on-timeout defaults to the ssh target)
#     nginx        ssl_preread on, preread_timeout 2s, map of
#                  $ssl_preread_protocol ("" → ssh): it closes instead
#   Reported: the median time to the banner and the worst excess over the
#   2 s timeout (max - 2 s), or how the connection ended.
#   CONTENDERS and BENCH_SILENT_SAMPLES override the defaults.
. "$(dirname "$0")/lib.sh"
. "$TOP/bench/peers.sh"
SAMPLES=${BENCH_SILENT_SAMPLES:-5}
LIST="portmux haproxy sslh-select sslh-fork nginx"
if [ -n "${CONTENDERS:-}" ]; then # keep those that detect (portmux-* → portmux)
	LIST=$(for c in $LIST; do case " $CONTENDERS " in *" $c"[\ -]*) echo "$c" ;; esac; done)
fi
TIMEOUT=2

S=$(free_port) X=$(free_port)
bg sshsrv "$PY" "$TOP/bench/tcphold.py" server "$S" --banner 'SSH-2.0-test\r\n'
bg tlssrv "$PY" "$TOP/bench/tcphold.py" server "$X"
wait_port "$S"
wait_port "$X"

printf '%-15s %10s %22s  %s\n' contender "median s" "max-timeout" "samples (outcome seconds)"
for c in $LIST; do
	silent_start "$c" "$S" "$X"
	samples="" times="" outcomes=""
	for _ in $(seq 1 "$SAMPLES"); do
		read -r what secs < <("$PY" "$TOP/bench/tcphold.py" ttfb "$RPORT" --max 8)
		samples="$samples $what:$secs"
		times="$times $secs"
		outcomes="$outcomes $what"
	done
	relay_stop
	med=$(median_f $times)
	kinds=$(echo $outcomes | tr ' ' '\n' | sort -u | tr '\n' ' ')
	worst=-
	if [ "$kinds" = "data " ]; then
		worst=$(calc "(max(float(x) for x in '$times'.split()) - $TIMEOUT) * 1000" 0)
		excess="+$worst ms"
		value=$med
	elif [ "$kinds" = "closed " ]; then
		excess="closed after $med s"
		value="closed"
	elif [ "$kinds" = "none " ]; then
		excess="never (8 s)"
		value="never"
	else
		excess="mixed: $kinds"
		value="mixed"
	fi
	printf '%-15s %10s %22s  %s\n' "$c" "$med" "$excess" "${samples# }"
	record silent "$c" "$value" "median $med s, worst $excess; ${samples# }"
	record silent_worst "$c" "$worst" "ms after the timeout, worst of $SAMPLES"
done
echo "(time from connect to the SSH backend's banner for a client that sends nothing; detection timeout $TIMEOUT s)"
