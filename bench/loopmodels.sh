#!/bin/bash
# bench/loopmodels.sh — what a completion-based event loop (io_uring) would
# be worth on new connections, measured before building it: PortMux next
# to bench/loopmodels.c, a minimal relay for the same workload on seven
# loop models (epoll as PortMux used it; io_uring; io_uring with a libev
# timer per connection; the same with the listener a libev watcher and
# libev's epoll set polled by the ring; epoll waiting with an io_uring
# relay; libev waiting with every operation on a ring it watches; the same
# with only readiness and closes on the ring, as PortMux now does), and
# next to nginx and haproxy, all with bench/ab.sh: wrk with
# `Connection: close`, interleaved rounds, relay CPU per connection and new
# connections/s, and the median of each round's ratio to PortMux. Not part
# of run.sh.
#   BENCH_SECS (4) seconds per run, BENCH_ROUNDS (6). Needs Linux 6.1+.
. "$(dirname "$0")/lib.sh"
LM=$B/loopmodels
cc -std=c11 -O2 -Wall -Wextra -Werror -o "$LM" "$TOP/bench/loopmodels.c" -lev
"$TOP/bench/ab.sh" portmux="$BIN" \
	epoll="$LM:LOOP_MODEL=epoll" uring="$LM:LOOP_MODEL=uring" \
	uring+timers="$LM:LOOP_MODEL=timers" uring+libev="$LM:LOOP_MODEL=libev" \
	hybrid="$LM:LOOP_MODEL=hybrid" evring="$LM:LOOP_MODEL=evring-coop" \
	evring-poll="$LM:LOOP_MODEL=evring-coop-poll-acc" \
	nginx=@nginx haproxy=@haproxy
echo "(portmux: PortMux with workers: 1; epoll … hybrid: bench/loopmodels.c, which only relays"
echo " this workload — see its header; nginx worker_processes 1, haproxy nbthread 1)"
