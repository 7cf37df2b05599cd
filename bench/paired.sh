#!/bin/bash
# bench/paired.sh — the ratios of issue 11's points 1 and 2 measured in
# paired rounds, each ratio between two runs of the same minute:
#   bulk: direct and PortMux (portmux-tp, workers: 1, and portmux-kernel,
#         relay: kernel) in turn, iperf3 1 and 4 streams
#         (bench/throughput.sh with these contenders), and the median of
#         each round's PortMux / direct;
#   new connections: PortMux and each one-worker peer (haproxy, haproxy
#         with splice, nginx stream, sslh-select) one after the other,
#         round after round (bench/ab.sh with the peers as @contenders),
#         and for each peer the median of the rounds' own ratios: PortMux's
#         relay CPU per connection over the peer's, and its new
#         connections/s over the peer's.
# Why beside throughput.sh and connrate.sh: there, a contender's runs are
# minutes apart from another's, and the development VM changes speed within
# minutes (one build's CPU per connection moved from ~70 to ~105 µs between
# two runs); a ratio of two medians then says as much about when each was
# measured as about the relays.
#   BENCH_ROUNDS (6 for bulk, 8 for connections), BENCH_SECS (5 / 4).
. "$(dirname "$0")/lib.sh"
echo "bulk, direct, portmux-tp and portmux-kernel in turn:"
CONTENDERS="direct portmux-tp portmux-kernel" BULK_KEY=paired_ \
	BENCH_ROUNDS=${BENCH_ROUNDS:-6} \
	"$TOP/bench/throughput.sh"
echo
echo "new connections, portmux-tp and each one-worker peer in turn:"
BENCH_ROUNDS=${BENCH_ROUNDS:-8} AB_RECORD=paired "$TOP/bench/ab.sh" \
	portmux-tp="$BIN" haproxy=@haproxy haproxy-splice=@haproxy-splice \
	nginx=@nginx sslh-select=@sslh-select
