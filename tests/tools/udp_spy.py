#!/usr/bin/python3
"""Relay UDP between one client and a server and record every datagram:
listen on 127.0.0.1:LPORT, forward to 127.0.0.1:SPORT, write each datagram
to PREFIX-NN-c2s.bin or PREFIX-NN-s2c.bin (NN counts from 01), for SECONDS.
Used to build tests/corpus/ (make-wire-corpus.sh).

    udp_spy.py LPORT SPORT PREFIX [SECONDS]
"""
import select
import socket
import sys
import time

lport, sport, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
end = time.monotonic() + (float(sys.argv[4]) if len(sys.argv) > 4 else 10)
front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
front.bind(("127.0.0.1", lport))
back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
back.connect(("127.0.0.1", sport))
client, n = None, 0
while time.monotonic() < end:
    ready, _, _ = select.select([front, back], [], [], 0.2)
    for s in ready:
        data, addr = s.recvfrom(65535)
        n += 1
        way = "c2s" if s is front else "s2c"
        with open("%s-%02d-%s.bin" % (prefix, n, way), "wb") as f:
            f.write(data)
        if s is front:
            client = addr
            back.send(data)
        elif client is not None:
            front.sendto(data, client)
