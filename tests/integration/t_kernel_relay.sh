# relay: kernel — the eBPF sockmap relay. Where the machine can load the
# program (root, or CAP_BPF and CAP_NET_ADMIN, a kernel with sockmap):
# bytes move inside the kernel (PortMux's CPU stays near zero), no byte is
# lost around FINs (half-close after the connection went in; many short
# connections with a FIN right after their data; a client that sends all
# and its FIN before it reads; a server that talks first and closes), a
# client that never reads cannot make the kernel hold more than 256 MiB,
# backpressure holds, idle_timeout still closes only
# what is quiet, the close line counts the bytes, and a reload can ask for
# it. Where it cannot (a process without the capabilities): one warning,
# and splice/copy serve the same traffic.
. "$(dirname "$0")/lib.sh"

P=$(free_port) E=$(free_port) D=$(free_port) S=$(free_port) B=$(free_port)
echo_backend "" "$E"
drain_backend "$D" 3000000
# push: 200 MB to each client, its progress in $T/progress; at most
# 256 KiB per ms from port B2.
cat >"$T/push.py" <<'PY'
import socket, sys, threading, time
port, progress = int(sys.argv[1]), sys.argv[2]
pace = float(sys.argv[3]) if len(sys.argv) > 3 else 0
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(8)
block = bytes(range(256)) * 1024
def push(c):
    try:
        sent = 0
        for i in range(800):
            c.sendall(block)
            sent += len(block)
            if pace:
                time.sleep(pace)
            if i % 16 == 0:
                open(progress, "w").write("%d" % sent)
        open(progress, "w").write("%d" % sent)
        c.shutdown(socket.SHUT_WR)
        while c.recv(65536):
            pass
    except OSError:
        pass  # wait_port's look
    c.close()
print("ready", flush=True)
while True:
    c, _ = srv.accept()
    threading.Thread(target=push, args=(c,), daemon=True).start()
PY
start_bg push $PY "$T/push.py" "$B" "$T/progress"
wait_port "$B"
B2=$(free_port) MP=$(free_port)
start_bg push2 $PY "$T/push.py" "$B2" "$T/progress2" 0.001
wait_port "$B2"
kcfg() { # extra PORTMUX lines on stdin
	{
		cat <<CFG
PORTMUX:
  ip: 127.0.0.1
  port: $P
  workers: 2
  relay: kernel
  probe_timeout: 0.3
  on_timeout: $D
  fallback: $E
  metrics: "127.0.0.1:$MP"
CFG
		cat
	} >"$T/c.yaml"
}
kcfg </dev/null
sed -i "s/^  fallback: .*/  fallback: $B2/" "$T/c.yaml"
start_portmux "$T/c.yaml" -v
if pmx_log | grep -q 'relay: kernel: .*instead'; then
	echo "this machine cannot load the kernel relay: $(pmx_log | grep 'relay: kernel:')"
	exit 77
fi
assert_contains "$(pmx_log)" "relay: kernel: eBPF sockmap relay loaded"

# 1. 200 MB from a backend (at most 256 KiB per ms) to a client that
# keeps up, in the kernel: most bytes never pass through PortMux — what it
# copied itself (its debug lines say how much, each time the kernel's
# queue for a socket passed 4 MiB and that side went by copy for a while)
# is under half; the close line counts the bytes. PortMux's CPU ticks, by
# kernel and by copy, are printed, not judged: a CPU figure on a shared
# machine is a benchmark's business (bench/throughput.sh), not a test's.
cat >"$T/cpu.py" <<'PY'
import socket, sys
pid, port = sys.argv[1], int(sys.argv[2])
def ticks():
    f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
s = socket.create_connection(("127.0.0.1", port))
t0 = ticks()
s.sendall(b"hello\n")
n = 0
s.settimeout(30)
while True:
    d = s.recv(1 << 20)
    if not d:
        break
    n += len(d)
t1 = ticks()
s.close()
print("bytes=%d ticks=%d" % (n, t1 - t0))
PY
out=$($PY "$T/cpu.py" "$PORTMUX_PID" "$P")
echo "200 MB through the kernel relay: $out"
assert_contains "$out" "bytes=209715200 " "200 MB"
kticks=${out##*ticks=}
assert_contains "$(pmx_log)" "relay: kernel" "went into the kernel relay"
copied=$(pmx_log | sed -n 's/.*may be redirected again after \([0-9]*\) by copy.*/\1/p' |
	awk '{s += $1} END {print s + 0}')
starts=$(pmx_log | grep -c "bytes go by copy for a while" || true)
ends=$(pmx_log | grep -c "may be redirected again after" || true)
# A copy period still open at the end counts as the whole download.
[ "$starts" -le "$ends" ] || copied=209715200
echo "copied by PortMux itself: $copied of 209715200 bytes ($starts periods by copy)"
[ "$copied" -lt 104857600 ] ||
	fail "PortMux copied $copied of the 200 MB itself: the kernel relay was not in effect"
sleep 0.2
assert_contains "$(pmx_log | grep ' close conn=' | tail -n 1)" \
	"up=6 down=209715200 " "byte counts"
# The metric says where the connection's bytes went.
m=$(curl -sS --max-time 5 "http://127.0.0.1:$MP/metrics" | grep '^portmux_kernel_relay_total')
echo "$m"
assert_contains "$m" 'portmux_kernel_relay_total{result="kernel"} 1' "kernel_relay metric"
assert_contains "$m" 'portmux_kernel_relay_total{result="unavailable"} 0' "kernel_relay metric"
stop_portmux
sed -i "s/^  relay: kernel/  relay: copy/" "$T/c.yaml"
start_portmux "$T/c.yaml"
out=$($PY "$T/cpu.py" "$PORTMUX_PID" "$P")
echo "the same by copy: $out"
cticks=${out##*ticks=}
echo "PortMux CPU ticks for 200 MB: $kticks in the kernel relay, $cticks by copy"
stop_portmux
kcfg </dev/null
start_portmux "$T/c.yaml" -v

# 2. Half-close after the connection went into the kernel: 4 MB more, the
# FIN, and the backend's whole answer comes back (the drain backend
# answers the sha256 of what it read, then 3 MB, then closes).
cat >"$T/half.py" <<PY
import hashlib, socket, sys, time
s = socket.create_connection(("127.0.0.1", $P))
time.sleep(0.4)  # on_timeout: the drain backend; in the kernel relay
h = hashlib.sha256()
data = bytes(range(256)) * 16384
for i in range(1, 4):
    part = data[i:] + data[:i]
    s.sendall(part)
    h.update(part)
    time.sleep(0.05)
s.shutdown(socket.SHUT_WR)
got = b""
s.settimeout(20)
while True:
    d = s.recv(1 << 20)
    if not d:
        break
    got += d
line, _, rest = got.partition(b"\n")
ok = line == ("sha256=" + h.hexdigest()).encode() and len(rest) == 3000000
print("ok" if ok else "bad: %r %d" % (line[:80], len(rest)))
PY
for i in 1 2 3; do
	assert_eq "$($PY "$T/half.py")" "ok" "half-close in the kernel relay ($i)"
done
sleep 0.2
line=$(pmx_log | grep ' close conn=.*via=on_timeout' | tail -n 1)
assert_contains "$line" "up=$((3 * 4194304)) down=3000072 " "half-close: counts"
assert_contains "$line" "reason=eof" "half-close: eof"

# 3. Many short connections, each with its FIN right after its data (some
# before, some while, some after they go into the kernel), both ways:
# every byte comes back, in order.
cat >"$T/many.py" <<PY
import hashlib, random, socket, threading, time
random.seed(11)
errors = []
def one(i, size, delay):
    try:
        s = socket.create_connection(("127.0.0.1", $P))
        data = hashlib.sha256(b"%d" % i).digest() * (size // 32)
        s.sendall(data[:100])
        time.sleep(delay)
        s.sendall(data[100:])
        s.shutdown(socket.SHUT_WR)
        got = b""
        s.settimeout(20)
        while True:
            d = s.recv(1 << 16)
            if not d:
                break
            got += d
        s.close()
        if got != data:
            errors.append("conn %d: %d of %d bytes, equal=%s"
                          % (i, len(got), len(data), got == data[:len(got)]))
    except Exception as e:
        errors.append("conn %d: %s" % (i, e))
jobs = [(i, random.choice((256, 4096, 65536, 300000)),
         random.choice((0, 0, 0.001, 0.005, 0.02))) for i in range(300)]
deadline = time.time() + 60
for k in range(0, len(jobs), 20):
    ts = [threading.Thread(target=one, args=j) for j in jobs[k:k + 20]]
    for t in ts:
        t.start()
    for t in ts:
        t.join(max(0.1, deadline - time.time()))
print("errors=%d %s" % (len(errors), "; ".join(errors[:5])))
PY
out=$($PY "$T/many.py")
assert_eq "$out" "errors=0 " "300 short connections"
n=$(pmx_log | grep -c 'relay: kernel' || true)
echo "short connections: $out; in the kernel relay: $n connections so far"

# 3b. A client that sends 40 MB and its FIN before it reads anything: the
# echo backend stops reading once its answers back up, so the program
# passes the client's bytes up, and they queue in the kernel behind the
# echo that waits for the client (not yet readable: FIONREAD says 0). The
# FIN must wait for them; the echo comes back whole, 3 times.
cat >"$T/late.py" <<PY
import hashlib, socket, threading, time
s = socket.create_connection(("127.0.0.1", $P))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
block = bytes(range(256)) * 4096
sent = hashlib.sha256()
def send():
    for i in range(40):
        s.sendall(block)
        sent.update(block)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send)
t.start()
time.sleep(1)
got, n = hashlib.sha256(), 0
s.settimeout(20)
while True:
    d = s.recv(1 << 16)
    if not d:
        break
    got.update(d)
    n += len(d)
t.join()
print("ok" if n == 40 << 20 and got.digest() == sent.digest() else
      "echo of %d bytes, sha256 %s" % (n, got.hexdigest()))
PY
for i in 1 2 3; do
	assert_eq "$($PY "$T/late.py" 2>&1)" "ok" "40 MB and the FIN before reading ($i)"
done
echo "40 MB and the FIN before reading, 3 times: whole; FINs that waited" \
	"for bytes passed up: $(pmx_log | grep -c 'FIN came before' || true)"

# 3c. A client that sends and never reads (to the echo, which stops
# reading when its answers back up). Whether the kernel counts what it
# holds is a race: bytes the program passes up while the echo's answers
# wait in the kernel's queue for the client's socket queue behind them,
# uncounted by any receive buffer, and the kernel would hold all the client
# sends; past 256 MiB held, PortMux closes the connection
# (reason=kernel_queue_full) — not after gigabytes. Passed up before, they
# wait in the receive buffer and TCP stops the client. Either way it stops.
cat >"$T/hog.py" <<PY
import socket, threading, time
s = socket.create_connection(("127.0.0.1", $P))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
block, sent = bytes(1 << 20), [0]
def go():
    try:
        for i in range(3000):
            s.sendall(block)
            sent[0] += 1
    except OSError:
        pass
t = threading.Thread(target=go, daemon=True)
t.start()
last, still, deadline = -1, 0, time.time() + 8
while t.is_alive() and time.time() < deadline and still < 8:
    time.sleep(0.25)  # 8 looks without progress: stalled
    still = still + 1 if sent[0] == last else 0
    last = sent[0]
print("sent=%d MB stopped=%s stalled=%s" % (sent[0], not t.is_alive(),
                                            still >= 8))
PY
out=$($PY "$T/hog.py")
echo "a client that never reads: $out"
[ "${out#sent=}" != "$out" ] && mb=${out#sent=} && mb=${mb%% *}
case "$out" in
*stopped=True*)
	[ "$mb" -lt 1000 ] || fail "the client pushed $mb MB before it was stopped"
	sleep 0.2
	assert_contains "$(pmx_log | grep ' close conn=' | tail -n 1)" \
		"reason=kernel_queue_full" "closed as kernel_queue_full" ;;
*stalled=True*)
	[ "$mb" -lt 300 ] || fail "the client pushed $mb MB before TCP stopped it" ;;
*) fail "a client that never reads is neither stopped nor stalled: $out" ;;
esac

# 3d. A backend that never reads: what the kernel queues for its socket
# is bounded by the connection's share of the 256 MiB budget (64 MiB each
# for one or two connections, 16 MiB each for five to eight), so a client
# pushes about that plus the sockets' own buffers (about 35 MiB here: the
# client's and the backend's are small), then TCP stops it: 99 and 51 MiB
# in each of 3 runs (with the 4 MiB of before, 39).
N=$(free_port)
cat >"$T/deaf.py" <<'PY'
import socket, sys, time
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(16)
print("ready", flush=True)
held = []
while True:
    held.append(srv.accept()[0])  # never read
PY
start_bg deaf $PY "$T/deaf.py" "$N"
wait_port "$N"
stop_portmux
sed -i "s/^  fallback: .*/  fallback: $N/" "$T/c.yaml"
start_portmux "$T/c.yaml" -v
cat >"$T/push_deaf.py" <<PY
import socket, sys, threading, time
conns = int(sys.argv[1])
socks = [socket.socket() for i in range(conns)]
for s in socks:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 16)
    s.connect(("127.0.0.1", $P))
    s.sendall(b"x")
time.sleep(0.5)  # all in the kernel relay before the bytes come
sent = [0] * conns
def go(i):
    block = bytes(1 << 20)
    try:
        for k in range(300):
            socks[i].sendall(block)
            sent[i] += 1
    except OSError:
        pass
for i in range(conns):
    threading.Thread(target=go, args=(i,), daemon=True).start()
last, still, deadline = None, 0, time.time() + 40
while time.time() < deadline and still < 8:  # 2 s without progress
    time.sleep(0.25)
    still = still + 1 if sent == last else 0
    last = list(sent)
print(" ".join(str(n) for n in sorted(sent)))
PY
out=$($PY "$T/push_deaf.py" 1)
echo "a backend that never reads, 1 connection: $out MiB pushed"
[ "$out" -ge 75 ] && [ "$out" -le 120 ] ||
	fail "1 connection to a deaf backend pushed $out MiB (expected 75-120: its 64 MiB share and the buffers)"
assert_contains "$(pmx_log)" "0 connection(s) in, up to 65536 KiB queued" "share of 1"
sleep 0.5
out=$($PY "$T/push_deaf.py" 6)
echo "a backend that never reads, 6 connections: $out MiB pushed"
for n in $out; do
	[ "$n" -le 65 ] || fail "one of 6 connections to a deaf backend pushed $n MiB (expected at most 65: its 16 MiB share and the buffers)"
done
assert_contains "$(pmx_log)" "connection(s) in, up to 16384 KiB queued" "share of 6"

# 4. A backend that talks first and closes: 1 MB and its FIN, to a silent
# client (on_timeout), every byte and the end.
stop_portmux
start_bg source $PY "$TOOLS/backend.py" source "$S" 1048576
wait_port "$S"
kcfg <<CFG
  idle_timeout: 1
CFG
sed -i "s/^  on_timeout: .*/  on_timeout: $S/" "$T/c.yaml"
start_portmux "$T/c.yaml" -v
cat >"$T/first.py" <<PY
import socket
bad = 0
for i in range(20):
    s = socket.create_connection(("127.0.0.1", $P))
    s.settimeout(10)
    got = b""
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        got += d
    s.close()
    if got != (bytes(range(256)) * 4096):
        bad += 1
print("bad=%d" % bad)
PY
assert_eq "$($PY "$T/first.py")" "bad=0" "server-first 1 MB and close"

# 5. idle_timeout (1 s here) in the kernel relay: a connection moving a
# little every 0.1 s for 2.5 s lives on (no event reaches PortMux: the
# idle sweep asks the kernel what moved); a quiet one is closed.
cat >"$T/idle.py" <<PY
import socket, time
busy = socket.create_connection(("127.0.0.1", $P))
quiet = socket.create_connection(("127.0.0.1", $P))
for s in (busy, quiet):
    s.sendall(b"hello\n")
    s.settimeout(3)
    assert s.recv(10) == b"hello\n"
start = time.time()
while time.time() - start < 2.5:
    busy.sendall(b"y" * 1000)
    got = b""
    while len(got) < 1000:
        got += busy.recv(1000 - len(got))
    time.sleep(0.1)
quiet.settimeout(0.1)
try:
    q = quiet.recv(10)
except socket.timeout:
    q = "open"
print("busy=alive quiet=%s" % ("closed" if q == b"" else q))
PY
sed -i "s/^  on_timeout: .*/  on_timeout: $D/" "$T/c.yaml"
kill -HUP "$PORTMUX_PID"
wait_for "$T/portmux.log" 'reload: done' 5 || fail "no reload"
assert_eq "$($PY "$T/idle.py")" "busy=alive quiet=closed" "idle_timeout"
assert_contains "$(pmx_log)" "reason=idle_timeout"

# 5b. halfclose_timeout (1 s) in the kernel relay: after the client's FIN,
# a backend that says nothing is closed for it; one that keeps sending
# for 2.5 s (no event reaches PortMux: the sweep asks what moved) is not,
# and its last byte and its FIN arrive.
stop_portmux
H=$(free_port)
cat >"$T/hold.py" <<'PY'
import socket, sys, threading, time
def handle(c, talk):
    while c.recv(4096):
        pass
    if talk:
        for i in range(25):
            c.sendall(b"d" * 4096)
            time.sleep(0.1)
        c.close()
    else:
        time.sleep(30)
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(8)
print("ready", flush=True)
while True:
    c, _ = srv.accept()
    talk = c.recv(1) == b"t"
    threading.Thread(target=handle, args=(c, talk), daemon=True).start()
PY
start_bg hold $PY "$T/hold.py" "$H"
wait_port "$H"
kcfg <<CFG
  halfclose_timeout: 1
CFG
sed -i "s/^  fallback: .*/  fallback: $H/" "$T/c.yaml"
start_portmux "$T/c.yaml" -v
cat >"$T/half2.py" <<PY
import socket, sys, time
s = socket.create_connection(("127.0.0.1", $P))
s.sendall(sys.argv[1].encode())
time.sleep(0.4)  # in the kernel relay
s.sendall(b"more")
time.sleep(0.1)
s.shutdown(socket.SHUT_WR)
t = time.time()
got = 0
s.settimeout(6)
while True:
    d = s.recv(65536)
    if not d:
        break
    got += len(d)
print("%d bytes, closed after %s" % (got, "more than 2 s" if time.time() - t > 2 else "%.1f s" % (time.time() - t)))
PY
out=$($PY "$T/half2.py" s)
echo "silent backend after the client's FIN: $out"
case "$out" in
"0 bytes, closed after 1."* | "0 bytes, closed after 2.0"*) ;;
*) fail "halfclose_timeout in the kernel relay: $out" ;;
esac
assert_eq "$($PY "$T/half2.py" t)" "102400 bytes, closed after more than 2 s" \
	"a download after the client's FIN"
sleep 0.2
assert_eq "$(grep -c 'reason=halfclose_timeout' "$T/portmux.log")" "1" \
	"one halfclose_timeout"
assert_contains "$(grep ' close conn=' "$T/portmux.log" | tail -n 1)" \
	"up=5 down=102400 " "download: counts"
assert_contains "$(grep ' close conn=' "$T/portmux.log" | tail -n 1)" \
	"reason=eof" "download: eof"
[ "$(grep -c 'debug conn=[0-9]* relay: kernel' "$T/portmux.log")" -ge 2 ] ||
	fail "the half-close connections were not in the kernel relay"

# 6. Backpressure: a backend pushes 200 MB at a client that reads nothing
# for 2 s: the kernel relay stops taking bytes once the client's socket
# is full and the kernel's queue for it holds its share (64 MiB alone: the
# backend gets about 100 MiB out, not all 200), and all arrive after.
stop_portmux
sed -i "s/^  on_timeout: .*/  on_timeout: $D/; s/^  fallback: .*/  fallback: $B/; /idle_timeout/d" "$T/c.yaml"
start_portmux "$T/c.yaml" -v
cat >"$T/slow.py" <<PY
import socket, time
s = socket.create_connection(("127.0.0.1", $P))
s.sendall(b"hello\n")
time.sleep(2)
pushed = int(open("$T/progress").read() or 0)
got = 0
s.settimeout(30)
while True:
    d = s.recv(1 << 20)
    if not d:
        break
    for off in range(0, len(d), 4096):
        if d[off] != (got + off) % 256:
            raise SystemExit("byte %d is wrong" % (got + off))
    got += len(d)
print("pushed_while_paused=%d got=%d" % (pushed, got))
PY
out=$($PY "$T/slow.py")
echo "backpressure: $out"
assert_contains "$out" "got=209715200" "backpressure: all bytes"
pushed=${out#pushed_while_paused=}
pushed=${pushed%% *}
[ "$pushed" -lt 146800640 ] ||
	fail "the backend pushed $pushed bytes while the client read nothing"
stop_portmux

# 7. A reload that newly asks for it loads it (root here, no `user:`).
kcfg </dev/null
sed -i "s/^  relay: kernel/  relay: auto/" "$T/c.yaml"
start_portmux "$T/c.yaml" -v
n0=$(grep -c 'relay: kernel: eBPF sockmap relay loaded' "$T/portmux.log")
sed -i "s/^  relay: auto/  relay: kernel/" "$T/c.yaml"
kill -HUP "$PORTMUX_PID"
for _ in $(seq 1 50); do
	[ "$(grep -c 'reload: done' "$T/portmux.log")" -ge 2 ] && break
	sleep 0.1
done
assert_eq "$(grep -c 'relay: kernel: eBPF sockmap relay loaded' "$T/portmux.log")" \
	"$((n0 + 1))" "loaded by the reload"
k0=$(grep -c 'debug conn=[0-9]* relay: kernel' "$T/portmux.log" || true)
out=$(client bulk "$P" 10)
assert_contains "$out" "ok 10 MB each way" "after the reload"
[ "$(grep -c 'debug conn=[0-9]* relay: kernel' "$T/portmux.log")" -gt "$k0" ] ||
	fail "no connection went into the kernel relay after the reload"
stop_portmux

# 8. A process that may not load it: one warning (not one per worker or
# reload), and the same traffic relayed by splice/copy.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
	id nobody >/dev/null 2>&1; then
	pub=$(mktemp -d "${TMPDIR:-/tmp}/portmux-pub.XXXXXX")
	chmod 755 "$pub"
	kcfg </dev/null
	cp "$T/c.yaml" "$pub/c.yaml"
	chmod 644 "$pub/c.yaml"
	: >"$T/nobody.log"
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$PORTMUX_BIN" -c "$pub/c.yaml" >"$T/nobody.log" 2>&1 &
	NPID=$!
	PIDS="$PIDS $NPID"
	wait_port "$P"
	sleep 0.3
	kill -HUP "$NPID"
	sleep 0.5
	out=$(client bulk "$P" 10)
	assert_contains "$out" "ok 10 MB each way" "copy/splice fallback"
	n=$(grep -c 'relay: kernel: ' "$T/nobody.log" || true)
	warn=$(grep 'relay: kernel: ' "$T/nobody.log" || true)
	echo "without the capabilities: $warn"
	assert_eq "$n" "1" "one warning"
	assert_contains "$warn" "warn relay: kernel: cannot load the program: Operation not permitted (it needs root, or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN"
	assert_contains "$warn" "relaying with splice/copy instead"
	m=$(curl -sS --max-time 5 "http://127.0.0.1:$MP/metrics" | grep '^portmux_kernel_relay_total')
	assert_contains "$m" 'portmux_kernel_relay_total{result="unavailable"} 1' "unavailable, counted"
	assert_contains "$m" 'portmux_kernel_relay_total{result="kernel"} 0' "none in the kernel"
	kill -TERM "$NPID"
	wait "$NPID" || true
	rm -rf "$pub"
else
	echo "not root (or no setpriv): the fallback part is not run"
fi
