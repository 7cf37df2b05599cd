#!/bin/bash
# bench/peers.sh — the contenders of the benchmarks and how each is started.
# Sourced by bench/throughput.sh, connrate.sh, idle_rss.sh, silent.sh,
# concurrent.sh (after lib.sh). Run on its own, it is a smoke test: it starts
# every contender in turn, sends one HTTP request through it to an nginx
# backend, and prints ok/FAILED for each.
#
# Contenders (every one relays a front port to a backend on 127.0.0.1):
#   direct          no relay: the client talks to the backend (the limit)
#   portmux-tp      PortMux (workers: 1), fallback backend with priority: throughput
#                   (splice through pooled pipes, Nagle on)
#   portmux-lat     PortMux, priority: latency (copy, TCP_NODELAY)
#   portmux-kernel  PortMux, relay: kernel (the eBPF sockmap relay; needs
#                   root or CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN, else it logs a warning
#                   and splices: its log says which)
#   haproxy         mode tcp, nbthread 1, default buffers (no splice)
#   haproxy-splice  the same with option splice-auto (its zero-copy relay)
#   nginx           stream module, worker_processes 1, proxy_pass
#   sslh-select     sslh 1.20 (Debian), --anyprot to the backend
#   sslh-fork       the same, one process per connection
#   socat           TCP-LISTEN:P,fork,reuseaddr,backlog=4096 TCP:127.0.0.1:B
#                   (backlog raised from socat's 5 so bursts of connects are
#                   not dropped)
# In the silent-client test they detect the protocol instead (see
# silent_start). RELAY_WRAP, when set, is a command the relay runs under
# (bench/syscalls.sh: valgrind; nginx then runs without a master process). Every contender logs at warning level or less.
#
#   relay_start NAME BACKEND_PORT     sets RPORT (front port) and RPID ("" for
#                                     direct), returns once RPORT listens
#   silent_start NAME SSH_PORT TLS_PORT   the same, in detecting mode:
#                                     silent clients → SSH_PORT after 2 s
#   relay_stop                        stops RPID and all its children
[ -n "${TOP:-}" ] || . "$(dirname "$0")/lib.sh"

CONTENDERS_ALL="direct portmux-tp portmux-lat portmux-kernel haproxy haproxy-splice nginx sslh-select sslh-fork socat"
NGINX_STREAM_MODULE=/usr/lib/nginx/modules/ngx_stream_module.so
raise_nofile

# CPU accounting: relays run in their own cpuacct cgroup (v1; a child of
# lib.sh's) when one can be made, so the CPU of every process they fork is counted exactly, even of
# children nobody reaps (sslh-fork ignores SIGCHLD, so their time never
# reaches its cutime). Else: the live process tree from /proc (proctree.py).
CG_CPU=""
if [ -n "$CG_RUN" ] && mkdir "$CG_RUN/relay" 2>/dev/null; then CG_CPU=$CG_RUN/relay; fi
cg_remove() { if [ -n "$CG_CPU" ]; then rmdir "$CG_CPU" 2>/dev/null; fi; }
CLEANUP_HOOKS="cg_remove $CLEANUP_HOOKS" # before lib.sh's cg_leave
in_cg() { # CMD... : exec CMD inside the relays' cgroup
	if [ -n "$CG_CPU" ]; then echo "$BASHPID" >"$CG_CPU/cgroup.procs"; fi
	exec "$@"
}
# CPU seconds used so far by the running relay (and everything it forked).
# The kernel relay (portmux-kernel) also has the kernel work for it: the
# sockmap's redirects run partly in kernel worker threads (sk_psock's
# backlog), which belong to no cgroup — the CPU of all kernel threads
# (lib.sh kthread_ticks) is added for it, and lib.sh's check for other
# processes leaves them out then (RELAY_KTHREADS=1).
RELAY_KTHREADS=0
relay_cpu() {
	local own
	if [ -n "$CG_CPU" ]; then
		own=$(calc "$(cat "$CG_CPU/cpuacct.usage") / 1e9" 3)
	else
		own=$(res_field "$(relay_res)" cpu)
	fi
	if [ "$RELAY_KTHREADS" = 1 ]; then
		calc "$own + $(kthread_ticks) / $(getconf CLK_TCK)" 3
	else
		echo "$own"
	fi
}

# PortMux runs one event loop like the peers (workers: 1), when the build
# knows that key (it defaults to one loop per CPU).
pm_workers() {
	if [ -z "${PM_WORKERS+set}" ]; then
		printf 'PORTMUX: {ip: 127.0.0.1, port: 1, workers: 1}\n' >"$B/workers-check.yaml"
		PM_WORKERS=""
		if "$BIN" -t -c "$B/workers-check.yaml" >/dev/null 2>&1; then PM_WORKERS="  workers: 1"; fi
	fi
	echo "$PM_WORKERS"
}

# All the load of a benchmark comes from one source (127.0.0.1), which
# PortMux's per-source limits would rightly cut; the peers have none
# configured: turn them off, when the build knows those keys.
pm_unlimited() {
	if [ -z "${PM_UNLIMITED+set}" ]; then
		printf 'PORTMUX: {ip: 127.0.0.1, port: 1, rate_per_source: 0}\n' >"$B/limits-check.yaml"
		PM_UNLIMITED=""
		if "$BIN" -t -c "$B/limits-check.yaml" >/dev/null 2>&1; then
			PM_UNLIMITED="  max_connections_per_source: 0
  rate_per_source: 0"
		fi
	fi
	echo "$PM_UNLIMITED"
}

# haproxy: one thread, TCP mode, no traffic logs (alerts and warnings go to
# stderr). $1 front port, $2 extra defaults lines,
# $3 frontend lines (routing), $4 backends.
haproxy_conf() {
	cat <<CFG
global
	nbthread 1
	log stderr format short local0 warning
defaults
	mode tcp
	timeout connect 5s
	timeout client 1h
	timeout server 1h
$2
frontend f
	bind 127.0.0.1:$1
$3
$4
CFG
}

# nginx stream: $1 name, $2 stream{} body.
nginx_conf() {
	mkdir -p "$B/$1"
	cat <<CFG
load_module $NGINX_STREAM_MODULE;
worker_processes 1; daemon off; pid $B/$1/nginx.pid; error_log stderr warn;
$( [ -z "${RELAY_WRAP:-}" ] || echo "master_process off;" )
worker_rlimit_nofile $(ulimit -n);
$( [ "$(id -u)" -ne 0 ] || echo "user root;" )
events { worker_connections $(ulimit -n); }
stream { $2 }
CFG
}

relay_start() { # NAME BACKEND_PORT
	local name=$1 be=$2
	RPORT=$(free_port)
	RPID=""
	RELAY_KTHREADS=0
	[ "$name" = portmux-kernel ] && RELAY_KTHREADS=1
	case $name in
	direct)
		RPORT=$be
		return 0
		;;
	portmux-tp | portmux-lat | portmux-kernel)
		local fb="priority: throughput"
		[ "$name" = portmux-lat ] && fb="priority: latency"
		[ "$name" = portmux-kernel ] && fb="relay: kernel"
		cat >"$B/$name.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $RPORT
  log_level: warn
$(pm_workers)
$(pm_unlimited)
  fallback: {port: $be, $fb$(! tfo_on || echo ", fastopen: true")}
CFG
		bg "$name" in_cg ${RELAY_WRAP:-} "$BIN" -c "$B/$name.yaml"
		;;
	haproxy | haproxy-splice)
		local extra=""
		[ "$name" = haproxy-splice ] && extra="	option splice-auto"
		haproxy_conf "$RPORT" "$extra" "	default_backend b" \
			"backend b
	server s 127.0.0.1:$be$(! tfo_on || echo " tfo")" >"$B/$name.cfg"
		bg "$name" in_cg ${RELAY_WRAP:-} haproxy -db -f "$B/$name.cfg"
		;;
	nginx)
		nginx_conf nginx "server { listen 127.0.0.1:$RPORT backlog=4096; proxy_pass 127.0.0.1:$be; }" \
			>"$B/nginx-relay.conf"
		bg "$name" in_cg ${RELAY_WRAP:-} nginx -c "$B/nginx-relay.conf" -p "$B/nginx"
		;;
	sslh-select | sslh-fork)
		local exe=/usr/sbin/sslh-select
		[ "$name" = sslh-fork ] && exe=/usr/sbin/sslh
		bg "$name" in_cg ${RELAY_WRAP:-} "$exe" -f -n -p "127.0.0.1:$RPORT" --anyprot "127.0.0.1:$be"
		;;
	socat)
		bg "$name" in_cg socat "TCP-LISTEN:$RPORT,bind=127.0.0.1,fork,reuseaddr,backlog=4096" \
			"TCP:127.0.0.1:$be"
		;;
	*)
		echo "unknown contender $name" >&2
		exit 2
		;;
	esac
	RPID=$LAST
	relay_wait "$name"
}

# Detecting mode for the silent-client test: TLS → TLS_PORT, a client that
# says nothing for 2 s → SSH_PORT (what each peer offers for that).
silent_start() { # NAME SSH_PORT TLS_PORT
	local name=$1 ssh=$2 tls=$3
	RPORT=$(free_port)
	RPID=""
	case $name in
	portmux)
		cat >"$B/$name-silent.yaml" <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $RPORT
  log_level: warn
$(pm_workers)
$(pm_unlimited)
  probe_timeout: 2
  on_timeout: SSH
SSH: {default: $ssh}
HTTPS: {default: $tls}
CFG
		bg "$name" in_cg "$BIN" -c "$B/$name-silent.yaml"
		;;
	haproxy)
		haproxy_conf "$RPORT" "" "	tcp-request inspect-delay 2s
	tcp-request content accept if { req.ssl_hello_type 1 }
	use_backend tls if { req.ssl_hello_type 1 }
	default_backend ssh" "backend tls
	server s 127.0.0.1:$tls
backend ssh
	server s 127.0.0.1:$ssh" >"$B/$name-silent.cfg"
		bg "$name" in_cg haproxy -db -f "$B/$name-silent.cfg"
		;;
	nginx)
		nginx_conf nginx "map \$ssl_preread_protocol \$up { \"\" 127.0.0.1:$ssh; default 127.0.0.1:$tls; }
  server { listen 127.0.0.1:$RPORT; ssl_preread on; preread_timeout 2s; proxy_pass \$up; }" \
			>"$B/nginx-silent.conf"
		bg "$name" in_cg nginx -c "$B/nginx-silent.conf" -p "$B/nginx"
		;;
	sslh-select | sslh-fork)
		local exe=/usr/sbin/sslh-select
		[ "$name" = sslh-fork ] && exe=/usr/sbin/sslh
		bg "$name" in_cg "$exe" -f -n -t 2 -p "127.0.0.1:$RPORT" \
			--tls "127.0.0.1:$tls" --ssh "127.0.0.1:$ssh"
		;;
	*)
		echo "unknown contender $name" >&2
		exit 2
		;;
	esac
	RPID=$LAST
	relay_wait "$name"
}

# Wait until the relay listens; if it died, show why and stop the run.
relay_wait() { # NAME
	for _ in $(seq 1 200); do
		$PY -c "import socket; socket.create_connection(('127.0.0.1',$RPORT),0.2).close()" \
			2>/dev/null && return 0
		if ! kill -0 "$RPID" 2>/dev/null; then
			echo "$1 did not start:" >&2
			tail -20 "$B/$1.log" >&2
			exit 1
		fi
		sleep 0.05
	done
	echo "$1 does not listen on $RPORT" >&2
	exit 1
}

relay_stop() {
	if [ -n "${RPID:-}" ]; then stop "$RPID"; fi
	RPID=""
}

# Resources of the running relay's process tree (see proctree.py):
# prints "procs=N cpu=S rss_kib=K pss_kib=K fds=F".
relay_res() { $PY "$TOP/bench/proctree.py" "$RPID"; }
# One field of relay_res's output: res_field "$(relay_res)" rss_kib
res_field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# Run as a script: smoke-test every contender.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	N=$(free_port)
	nginx_backend "$N"
	for c in ${CONTENDERS:-$CONTENDERS_ALL}; do
		relay_start "$c" "$N"
		if out=$(curl -sS -m 5 "http://127.0.0.1:$RPORT/" 2>&1) && [ "$out" = hello ]; then
			printf '%-16s ok (port %s)\n' "$c" "$RPORT"
		else
			printf '%-16s FAILED: %s\n' "$c" "$out"
			[ -n "$RPID" ] && tail -5 "$B/$c.log"
		fi
		relay_stop
	done
fi
