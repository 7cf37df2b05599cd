#!/bin/bash
# bench/syscalls.sh — what one new relayed connection costs each relay, in
# system calls and in user-space instructions (not timed: counts).
#   System calls: strace -c -f on the relay's processes while wrk -t1 -c10
#   makes new connections for SECS seconds (HTTP, "Connection: close", to
#   the nginx backend); calls per connection = calls / requests answered.
#   Instructions: the relay runs under valgrind --tool=callgrind twice,
#   once for N1 and once for N2 sequential connections (bench/conns.py);
#   instructions per connection = (I2 - I1) / (N2 - N1), start-up and exit
#   cancelling out. Only the relay's own user-space work: the kernel's is
#   what the system calls cost.
#   BENCH_SECS (3), BENCH_CG_N1 (50), BENCH_CG_N2 (550), CONTENDERS.
. "$(dirname "$0")/lib.sh"
. "$TOP/bench/peers.sh"
SECS=${BENCH_SECS:-3}
N1=${BENCH_CG_N1:-50}
N2=${BENCH_CG_N2:-550}
LIST=${CONTENDERS:-portmux-tp haproxy nginx sslh-select}
command -v strace >/dev/null || { echo "missing strace" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "missing valgrind" >&2; exit 1; }
BE=$(free_port)
nginx_backend "$BE"

declare -A CALLS TOTAL INSN
SYSCALLS=""
for c in $LIST; do
	relay_start "$c" "$BE"
	pids="$RPID $($PY "$TOP/bench/proctree.py" "$RPID" --children)"
	args=""
	for p in $pids; do args="$args -p $p"; done
	# shellcheck disable=SC2086
	strace -c -f -o "$B/strace-$c.txt" $args 2>/dev/null &
	st=$!
	sleep 1
	read -r _ _ _ n < <(wrk_run "http://127.0.0.1:$RPORT/" "$SECS" -H "Connection: close")
	kill -INT "$st"
	wait "$st" 2>/dev/null || true
	relay_stop
	# "name calls" per syscall, and the total
	while read -r name calls; do
		CALLS[$c,$name]=$(calc "$calls / $n" 2)
		case " $SYSCALLS " in *" $name "*) ;; *) SYSCALLS="$SYSCALLS $name" ;; esac
	done < <(awk '$NF !~ /^(syscall|total)$/ && $1 ~ /^[0-9.]+$/ {print $NF, $4}' "$B/strace-$c.txt")
	TOTAL[$c]=$(calc "$(awk '$NF == "total" {print $4}' "$B/strace-$c.txt") / $n" 1)
	echo "$c: $n connections under strace, ${TOTAL[$c]} system calls each" >&2

	insn=()
	for count in "$N1" "$N2"; do
		RELAY_WRAP="valgrind --tool=callgrind --callgrind-out-file=$B/cg-$c-$count.%p" \
			relay_start "$c" "$BE"
		got=$($PY "$TOP/bench/conns.py" "$RPORT" "$count")
		[ "$got" = "$count" ] || echo "$c under callgrind: $got of $count answered" >&2
		relay_stop
		insn+=("$(cat "$B"/cg-"$c"-"$count".* 2>/dev/null | awk '/^(summary|totals):/ {s += $2} END {print s + 0}')")
		rm -f "$B"/cg-"$c"-"$count".*
	done
	if [ "${insn[0]}" -gt 0 ] && [ "${insn[1]}" -gt "${insn[0]}" ]; then
		INSN[$c]=$(calc "(${insn[1]} - ${insn[0]}) / ($N2 - $N1)" 0)
	else
		INSN[$c]=-
	fi
	echo "$c: ${INSN[$c]} instructions per connection (callgrind: ${insn[*]})" >&2
done

printf '\nper new connection       '
for c in $LIST; do printf '%14s' "$c"; done
printf '\n%-25s' "system calls"
for c in $LIST; do printf '%14s' "${TOTAL[$c]}"; done
for s in $SYSCALLS; do
	printf '\n  %-23s' "$s"
	for c in $LIST; do printf '%14s' "${CALLS[$c,$s]:-0}"; done
done
printf '\n%-25s' "user instructions"
for c in $LIST; do printf '%14s' "${INSN[$c]}"; done
printf '\n'
for c in $LIST; do
	record syscalls "$c" "${TOTAL[$c]}"
	if [ "${INSN[$c]}" != - ]; then record instructions "$c" "${INSN[$c]}"; fi
done
echo "(strace -c -f during wrk -t1 -c10 -d${SECS}s with Connection: close; callgrind: ($N2 - $N1) sequential connections)"
