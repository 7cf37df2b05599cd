#!/usr/bin/python3
"""bench/tcphold.py — the socket ends of the idle, concurrent and silent-client
benchmarks (bench/idle_rss.sh, bench/concurrent.sh, bench/silent.sh).

  tcphold.py server PORT [--banner TEXT]
      Accepts and holds connections. With --banner, sends TEXT on accept (an
      SSH server speaking first). Otherwise answers the first bytes of each
      connection with one byte "k" (so the client knows its bytes crossed
      the relay), then stays silent; closes when the other side closes.
      Runs until SIGTERM.

  tcphold.py client PORT N [--payload TEXT] [--deadline S] [--inflight K]
                           [--conn-timeout S] [--max-fail F] [--stall S]
                           [--hold S]
      Opens up to N connections (at most K connecting at once), sends TEXT on
      each and counts a connection as held once the backend's "k" came back
      through the relay. Stops opening at N held, after F failures (refused,
      reset, closed, or no answer within --conn-timeout), when no connection
      has been added for --stall seconds, or at the deadline.
      One second later it checks which held connections are still open and
      prints one line:
        RESULT held=H alive=A failed=F secs=T stop=REASON
      then keeps the connections open until SIGTERM (or --hold seconds).

  tcphold.py ttfb PORT [--max S]
      Connects, sends nothing, and prints how long until the first byte
      ("data 2.003"), the connection closed ("closed 2.001") or nothing
      happened within S seconds ("none 8.000").
"""
import argparse
import errno
import selectors
import signal
import socket
import sys
import time


def server(args):
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", args.port))
    lsock.listen(4096)
    lsock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ, None)
    banner = args.banner.encode().decode("unicode_escape").encode() \
        if args.banner else None
    answered = set()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    while True:
        for key, _ in sel.select():
            if key.data is None:
                for _ in range(256):
                    try:
                        c, _ = lsock.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as e:  # EMFILE: try again later
                        if e.errno in (errno.EMFILE, errno.ENFILE):
                            time.sleep(0.01)
                            break
                        raise
                    c.setblocking(False)
                    if banner:
                        try:
                            c.send(banner)
                        except OSError:
                            pass
                    sel.register(c, selectors.EVENT_READ, c)
                continue
            c = key.data
            try:
                d = c.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                d = b""
            if not d:
                sel.unregister(c)
                answered.discard(c.fileno())
                c.close()
            elif not banner and c.fileno() not in answered:
                answered.add(c.fileno())
                try:
                    c.send(b"k")
                except OSError:
                    pass


def client(args):
    payload = args.payload.encode().decode("unicode_escape").encode()
    sel = selectors.DefaultSelector()
    pending = {}  # fd -> [sock, start time]
    held = []
    failed = 0
    stop = None
    t0 = time.monotonic()
    deadline = t0 + args.deadline
    progress = t0  # when a connection was last held

    def fail(fd):
        nonlocal failed
        s, _ = pending.pop(fd)
        sel.unregister(s)
        s.close()
        failed += 1

    while True:
        now = time.monotonic()
        if stop is None:
            if len(held) >= args.n:
                stop = "target"
            elif failed >= args.max_fail:
                stop = "failures"
            elif now >= deadline:
                stop = "deadline"
            elif now - progress > args.stall:
                stop = "stalled"
        while stop is None and len(pending) < args.inflight and \
                len(held) + len(pending) < args.n:
            s = socket.socket()
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", args.port))
            if err not in (0, errno.EINPROGRESS):
                s.close()
                failed += 1
                break
            pending[s.fileno()] = [s, time.monotonic()]
            sel.register(s, selectors.EVENT_WRITE, "connect")
        if not pending:
            if stop is not None:
                break
            if failed >= args.max_fail:
                continue
        for key, ev in sel.select(timeout=0.2):
            s = key.fileobj
            fd = s.fileno()
            if key.data == "connect":
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    fail(fd)
                    continue
                try:
                    s.send(payload)
                except OSError:
                    fail(fd)
                    continue
                sel.modify(s, selectors.EVENT_READ, "answer")
            else:
                try:
                    d = s.recv(16)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    d = b""
                if not d:
                    fail(fd)
                    continue
                sel.unregister(s)
                del pending[fd]
                held.append(s)
                progress = time.monotonic()
        now = time.monotonic()
        for fd in [fd for fd, (s, t) in pending.items()
                   if now - t > args.conn_timeout]:
            fail(fd)
        if stop is not None and now > min(deadline, progress + args.stall) \
                + args.conn_timeout:
            for fd in list(pending):
                fail(fd)
            break
    secs = time.monotonic() - t0
    time.sleep(1)
    alive = 0
    for s in held:
        try:
            d = s.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK)
            alive += 1 if d else 0  # stray bytes: still open
        except (BlockingIOError, InterruptedError):
            alive += 1
        except OSError:
            pass
    print("RESULT held=%d alive=%d failed=%d secs=%.1f stop=%s"
          % (len(held), alive, failed, secs, stop), flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    time.sleep(args.hold)


def ttfb(args):
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", args.port), 2)
    except OSError as e:
        print("refused %.3f" % (time.monotonic() - t0))
        return
    t0 = time.monotonic()
    s.settimeout(args.max)
    try:
        d = s.recv(256)
        what = "data" if d else "closed"
    except socket.timeout:
        what = "none"
    except OSError:
        what = "closed"
    print("%s %.3f" % (what, time.monotonic() - t0))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("server")
    a.add_argument("port", type=int)
    a.add_argument("--banner")
    a = sub.add_parser("client")
    a.add_argument("port", type=int)
    a.add_argument("n", type=int)
    a.add_argument("--payload", default="GET / HTTP/1.1\\r\\nHost: bench\\r\\n\\r\\n")
    a.add_argument("--deadline", type=float, default=60)
    a.add_argument("--inflight", type=int, default=32)
    a.add_argument("--conn-timeout", type=float, default=5)
    a.add_argument("--max-fail", type=int, default=100)
    a.add_argument("--stall", type=float, default=10)
    a.add_argument("--hold", type=float, default=600)
    a = sub.add_parser("ttfb")
    a.add_argument("port", type=int)
    a.add_argument("--max", type=float, default=8)
    args = p.parse_args()
    {"server": server, "client": client, "ttfb": ttfb}[args.cmd](args)


if __name__ == "__main__":
    main()
