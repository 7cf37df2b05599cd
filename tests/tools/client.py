#!/usr/bin/python3
"""Test clients for PortMux integration tests (stdlib only).

    client.py trickle PORT DELAY TEXT   send TEXT one byte every DELAY s,
                                        print the whole reply
    client.py silent PORT WAIT          send nothing; print the first line
                                        received and how long it took
    client.py halfclose PORT TEXT BYTES send TEXT, shut down writing, read
                                        to the end; check the sha256 line
                                        and the BYTES that follow
    client.py bulk PORT MB              send MB megabytes of pseudo-random
                                        data while reading the echo; check
                                        both sha256 sums match
    client.py raw PORT TEXT [WAIT]      send TEXT, print what comes back
                                        within WAIT s (default 2)
    client.py websocket PORT HOST       upgrade to WebSocket, check the
                                        accept key, send a masked frame and
                                        check it comes back byte for byte
    client.py slowreader PORT TEXT PAUSE BYTES PIDFILE
                                        send TEXT, read nothing for PAUSE s,
                                        print the RSS (KiB) of the process
                                        in PIDFILE, then read BYTES and
                                        check the pattern
    client.py twostep PORT T1 T2 GO   send T1 and read the answer; wait for
                                        the file GO to exist; send T2 on the
                                        same connection, read; print both
TEXT accepts \\r \\n escapes. Exit status 0 on success.
"""
import hashlib
import os
import socket
import sys
import threading
import time


def connect(port):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def unescape(text):
    return text.encode().decode("unicode_escape").encode("latin-1")


def read_all(s):
    out = b""
    while True:
        data = s.recv(65536)
        if not data:
            return out
        out += data


def trickle(port, delay, text):
    s = connect(port)
    for b in unescape(text):
        s.sendall(bytes([b]))
        time.sleep(float(delay))
    s.shutdown(socket.SHUT_WR)
    sys.stdout.write(read_all(s).decode(errors="replace"))


def silent(port, wait):
    s = connect(port)
    s.settimeout(float(wait))
    start = time.monotonic()
    line = b""
    try:
        while not line.endswith(b"\n"):
            data = s.recv(1)
            if not data:
                break
            line += data
    except socket.timeout:
        pass
    print("%.3f %s" % (time.monotonic() - start,
                       line.decode(errors="replace").strip()))


def halfclose(port, text, size):
    s = connect(port)
    payload = unescape(text)
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    data = read_all(s)
    head, _, body = data.partition(b"\n")
    want = "sha256=" + hashlib.sha256(payload).hexdigest()
    if head.decode() != want:
        sys.exit("bad sha256 line: %r (want %s)" % (head[:80], want))
    block = bytes(range(256)) * 256
    expect = (block * (int(size) // len(block) + 1))[:int(size)]
    if body != expect:
        sys.exit("body: got %d bytes, want %d" % (len(body), int(size)))
    print("ok %d bytes after half-close" % len(body))


def bulk(port, mb):
    total = int(mb) << 20
    s = connect(port)
    sent = hashlib.sha256()
    got = hashlib.sha256()
    received = [0]

    def reader():
        while True:
            data = s.recv(1 << 18)
            if not data:
                return
            got.update(data)
            received[0] += len(data)

    t = threading.Thread(target=reader)
    t.start()
    seed = hashlib.sha256(b"portmux").digest()
    block = b"".join(hashlib.sha256(seed + bytes([i])).digest()
                     for i in range(256)) * 32  # 256 KiB
    left = total
    i = 0
    while left > 0:
        chunk = block[i % 7:][:min(left, 1 << 18)]
        s.sendall(chunk)
        sent.update(chunk)
        left -= len(chunk)
        i += 1
    s.shutdown(socket.SHUT_WR)
    t.join()
    if received[0] != total or sent.hexdigest() != got.hexdigest():
        sys.exit("bulk mismatch: sent %d bytes sha256=%s, received %d "
                 "bytes sha256=%s" % (total, sent.hexdigest(), received[0],
                                      got.hexdigest()))
    print("ok %d MB each way sha256=%s" % (int(mb), sent.hexdigest()))


def raw(port, text, wait="2"):
    s = connect(port)
    s.sendall(unescape(text))
    sys.stdout.write(read_idle(s, float(wait)).decode(errors="replace"))


def websocket(port, host):
    import base64
    s = connect(port)
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET /chat HTTP/1.1\r\nHost: " + host.encode() +
              b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: " + key +
              b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        data = s.recv(4096)
        if not data:
            sys.exit("closed before the 101")
        head += data
    want = base64.b64encode(hashlib.sha1(
        key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    if not head.startswith(b"HTTP/1.1 101") or want not in head:
        sys.exit("bad upgrade answer: %r" % head)
    mask = os.urandom(4)
    text = b"hello through the mux"
    frame = bytes([0x81, 0x80 | len(text)]) + mask + bytes(
        b ^ mask[i % 4] for i, b in enumerate(text))
    s.sendall(frame)
    back = b""
    s.settimeout(5)
    while len(back) < len(frame):
        data = s.recv(4096)
        if not data:
            break
        back += data
    if back != frame:
        sys.exit("frame changed: %r" % back)
    print("ok websocket")


def slowreader(port, text, pause, size, pid):
    s = connect(port)
    s.sendall(unescape(text))
    time.sleep(float(pause))
    rss = 0
    pid = open(pid).read().strip()
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    block = bytes(range(256)) * 1024
    got = 0
    s.settimeout(30)
    while True:
        data = s.recv(1 << 20)
        if not data:
            break
        for off in range(0, len(data), 4096):  # spot-check the pattern
            if data[off] != (got + off) % 256:
                sys.exit("byte %d is wrong" % (got + off))
        got += len(data)
    if got != int(size):
        sys.exit("got %d bytes, want %s" % (got, size))
    print("rss_kib=%d bytes=%d" % (rss, got))


def read_idle(s, idle=1.0):
    s.settimeout(idle)
    out = b""
    try:
        while True:
            data = s.recv(65536)
            if not data:
                break
            out += data
    except socket.timeout:
        pass
    return out


def twostep(port, t1, t2, go):
    s = connect(port)
    s.sendall(unescape(t1))
    first = read_idle(s)
    for _ in range(400):
        if os.path.exists(go):
            break
        time.sleep(0.05)
    s.sendall(unescape(t2))
    second = read_idle(s)
    for part in (first, second):
        body = part.split(b"\r\n\r\n", 1)[-1]
        print(body.decode(errors="replace").strip())


if __name__ == "__main__":
    globals()[sys.argv[1]](*sys.argv[2:])
