# bench/lib.sh — helpers shared by the benchmarks. Benchmarks are not
# tests: they print tables of figures and ratios measured side by side in
# one run (absolute numbers vary a lot between machines; ratios count).
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PORTMUX_BIN:-$TOP/build/portmux}
export PORTMUX_PLUGIN_DIR=${PORTMUX_PLUGIN_DIR:-$TOP/build/plugins}
PY=/usr/bin/python3
B=$(mktemp -d "${TMPDIR:-/tmp}/portmux-bench.XXXXXX")
PIDS=""
CLEANUP_HOOKS="" # commands run at exit after the processes are stopped
cleanup() {
	for p in $PIDS; do stop "$p"; done
	for h in $CLEANUP_HOOKS; do "$h" || true; done
	rm -rf "$B"
}
trap cleanup EXIT INT TERM

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# N distinct free ports on one line.
free_ports() { # N
	$PY -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}
# The words of LIST rotated left by N: each round starts with another
# contender, so none always runs right after the same one.
rotate() { # N LIST...
	local n=$1
	shift
	n=$((n % $#))
	echo "${@:n+1}" "${@:1:n}"
}
wait_port() {
	for _ in $(seq 1 200); do
		$PY -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2).close()" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "nothing listens on $1" >&2
	exit 1
}
bg() { # NAME CMD...
	n=$1
	shift
	"$@" >"$B/$n.log" 2>&1 &
	PIDS="$PIDS $!"
	LAST=$!
}
# Stop a process started with bg and every process it forked (sslh-fork's
# and socat's per-connection children, nginx's worker): the children first,
# while their parent is still there to reap them.
stop() { # PID
	kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null || true; return 0; }
	kids=$($PY "$TOP/bench/proctree.py" "$1" --children)
	if [ -n "$kids" ]; then
		kill $kids 2>/dev/null || true
		for _ in $(seq 1 100); do # ≤ 5 s
			alive=$(ps -o pid= -o stat= -p "$(echo $kids | tr ' ' ,)" 2>/dev/null |
				awk '$2 !~ /^Z/' | wc -l)
			[ "$alive" -eq 0 ] && break
			sleep 0.05
		done
		kill -9 $kids 2>/dev/null || true
	fi
	kill "$1" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	PIDS=$(echo " $PIDS " | sed "s/ $1 / /")
}

# TCP Fast Open towards the backend, for the contenders that offer it
# (PortMux's `fastopen: true`, HAProxy's `tfo`; nginx's stream module,
# sslh and socat have none): nginx_backend's nginx takes it, with
# net.ipv4.tcp_fastopen at 3 (client and server) for the run, restored at
# exit. BENCH_TFO=0 measures without; needs root. tfo_on: a contender
# started now uses it (NO_TFO=1 in its environment: not that one, e.g.
# bench/ab.sh old=BIN:NO_TFO=1 for a build without `fastopen`).
TFO=0
TFO_WAS=""
tfo_restore() { [ -z "$TFO_WAS" ] || sysctl -qw "net.ipv4.tcp_fastopen=$TFO_WAS"; }
tfo_setup() {
	[ "${BENCH_TFO:-1}" = 1 ] && [ "$(id -u)" -eq 0 ] && [ "$TFO" = 0 ] ||
		return 0
	TFO_WAS=$(sysctl -n net.ipv4.tcp_fastopen 2>/dev/null) || return 0
	CLEANUP_HOOKS="$CLEANUP_HOOKS tfo_restore"
	sysctl -qw net.ipv4.tcp_fastopen=3 && TFO=1
}
tfo_on() { [ "$TFO" = 1 ] && [ -z "${NO_TFO:-}" ]; }

# nginx answering a small body on 127.0.0.1:$1 (the backend every
# contender relays to), and on every further port given; with TCP Fast
# Open (tfo_setup).
nginx_backend() { # PORT...
	tfo_setup
	mkdir -p "$B/ngx"
	cat >"$B/ngx/nginx.conf" <<NGX
worker_processes 1; daemon off; pid $B/ngx/nginx.pid; error_log $B/ngx/error.log;
$( [ "$(id -u)" -ne 0 ] || echo "user root;" )
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  client_body_temp_path $B/ngx/b; proxy_temp_path $B/ngx/p; fastcgi_temp_path $B/ngx/f;
  uwsgi_temp_path $B/ngx/u; scgi_temp_path $B/ngx/s;
  server { $(for p in "$@"; do echo "listen 127.0.0.1:$p backlog=4096$([ "$TFO" = 0 ] || echo " fastopen=4096");"; done)
    location / { return 200 "hello\n"; } } }
NGX
	bg nginx nginx -c "$B/ngx/nginx.conf" -p "$B/ngx"
	wait_port "$1"
}

# wrk requests/s (and p99 latency in ms) for URL with extra args.
wrk_rate() { # URL SECONDS [wrk args...]
	url=$1 secs=$2
	shift 2
	wrk -t2 -c50 -d"${secs}s" --latency "$@" "$url" 2>&1 |
		awk '/Requests\/sec/ {r=$2} /^ +99%/ {l=$2} END {print r, l}'
}

# Medians of per-run figures (a trailing "*" marks a disturbed run).
median() { $PY -c 'import statistics,sys; print("%.0f" % statistics.median(float(x.rstrip("*")) for x in sys.argv[1:]))' "$@"; }

# Like wrk_rate, but p99 in milliseconds whatever unit wrk chose, the count
# of socket errors and non-2xx answers, and of requests answered:
# "req/s p99_ms errors requests".
wrk_run() { # URL SECONDS [wrk args...]
	url=$1 secs=$2
	shift 2
	timeout $((secs + 20)) wrk -t2 -c50 -d"${secs}s" --latency "$@" "$url" 2>&1 |
		awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
			if (v ~ /m$/) return v * 60000; if (v ~ /s$/) return v * 1000; return v }
		/Requests\/sec/ {r = $2} /^ +99%/ {l = ms($2)}
		/Socket errors/ {gsub(/,/, ""); e += $4 + $6 + $8 + $10}
		/Non-2xx/ {e += $NF}
		/ requests in / {n = $1}
		END {printf "%s %.3f %d %d\n", (r == "" ? 0 : r), l, e, n}'
}

# Floating-point arithmetic: calc "EXPR" (Python syntax), printed with %.Nf.
calc() { $PY -c "import sys; print(('%.' + sys.argv[2] + 'f') % (eval(sys.argv[1])))" "$1" "${2:-2}"; }

# Median keeping decimals (median rounds to an integer).
median_f() { $PY -c 'import statistics,sys; print(("%.3f" % statistics.median(float(x.rstrip("*")) for x in sys.argv[1:])).rstrip("0").rstrip("."))' "$@"; }

# Relays must hold two descriptors per connection: raise the soft limit on
# open files as far as the hard limit allows (at most 65536).
raise_nofile() {
	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] && hard=65536
	want=65536
	[ "$hard" -lt "$want" ] && want=$hard
	ulimit -n "$want"
}

# One result for bench/run.sh's summary: "test|contender|value|detail".
record() { # TEST CONTENDER VALUE [DETAIL]
	[ -n "${BENCH_RECORD:-}" ] && echo "$1|$2|$3|${4:-}" >>"$BENCH_RECORD"
	return 0
}

# ---- other work on the machine ----
# Everything a benchmark script starts runs in its own cpuacct cgroup (v1),
# when one can be made: the CPU the machine spent meanwhile (/proc/stat)
# minus what the cgroup spent is what other processes took, and a
# measurement they disturbed is repeated or marked.
CG_RUN=""
cg_join() {
	local root=/sys/fs/cgroup/cpuacct path
	path=$(awk -F: '$2 ~ /(^|,)cpuacct(,|$)/ {print $3}' /proc/self/cgroup)
	[ -w "$root$path" ] || return 0
	CG_PARENT=$root$path
	if mkdir "$CG_PARENT/portmux-bench-$$" 2>/dev/null; then
		CG_RUN=$CG_PARENT/portmux-bench-$$
		echo $$ >"$CG_RUN/cgroup.procs"
	fi
	CG_PARENT=${CG_PARENT%/}
}
cg_leave() {
	if [ -n "$CG_RUN" ]; then
		echo $$ >"$CG_PARENT/cgroup.procs" 2>/dev/null || echo $$ >/sys/fs/cgroup/cpuacct/cgroup.procs
		rmdir "$CG_RUN" 2>/dev/null || true
	fi
}
cg_join
CLEANUP_HOOKS="$CLEANUP_HOOKS cg_leave"

machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
# CPU ticks of every kernel thread so far (children of kthreadd, pid 2:
# kworkers, ksoftirqd): utime + stime of /proc/PID/stat.
kthread_ticks() {
	cat /proc/[0-9]*/stat 2>/dev/null |
		awk '{sub(/^.*\) /, ""); if ($2 == 2) s += $12 + $13} END {print s + 0}'
}
ours_ticks() { awk '{s += $2} END {print s}' "$CG_RUN/cpuacct.stat"; }
busy_mark() {
	[ -n "$CG_RUN" ] || return 0
	BUSY_M=$(machine_ticks) BUSY_O=$(ours_ticks) BUSY_T=$(date +%s.%N)
	BUSY_K=0
	if [ "${RELAY_KTHREADS:-0}" = 1 ]; then BUSY_K=$(kthread_ticks); fi
}
# % of one CPU used outside this benchmark since busy_mark ("?" if unknown).
busy_foreign() {
	if [ -z "$CG_RUN" ]; then echo "?"; return 0; fi
	local m o t
	local k=0
	m=$(machine_ticks) o=$(ours_ticks) t=$(date +%s.%N)
	# The kernel relay's own kernel threads are its work, not others'.
	if [ "${RELAY_KTHREADS:-0}" = 1 ]; then k=$(($(kthread_ticks) - BUSY_K)); fi
	calc "max(0, 100 * (($m - $BUSY_M) - ($o - $BUSY_O) - $k) / (($t - $BUSY_T) * $(getconf CLK_TCK)))" 0
}

# Run a measurement and keep its output in VAR. If other processes used more
# than BENCH_FOREIGN_MAX (default 10) % of a CPU meanwhile, measure again
# after 5 s, at most BENCH_RETRIES (default 2) more times. DISTURBED is then
# the last try's foreign CPU %, or empty when that try was undisturbed.
clean_run() { # VAR CMD...
	local _cr_var=$1 _cr_try _cr_out _cr_f
	shift
	for _cr_try in $(seq 0 "${BENCH_RETRIES:-2}"); do
		busy_mark
		_cr_out=$("$@")
		_cr_f=$(busy_foreign)
		DISTURBED=""
		if [ "$_cr_f" = "?" ] || [ "$_cr_f" -le "${BENCH_FOREIGN_MAX:-10}" ]; then break; fi
		DISTURBED=$_cr_f
		if [ "$_cr_try" -lt "${BENCH_RETRIES:-2}" ]; then
			echo "  (other processes used $_cr_f% of a CPU meanwhile: measuring again in 5 s)" >&2
			sleep 5
		fi
	done
	printf -v "$_cr_var" '%s' "$_cr_out"
}
# "*" after a disturbed figure.
mark() { if [ -n "${DISTURBED:-}" ]; then echo "$1*"; else echo "$1"; fi; }
