#!/usr/bin/python3
"""Record the first datagram of one client: bind 127.0.0.1:PORT (UDP), wait
for one datagram, write it to OUTFILE. Used to build tests/corpus/ (the UDP
twin of capture.py). With COUNT, the first COUNT datagrams of that client,
each after its 2-byte big-endian length (tests/corpus/quic/'s format).

    capture_udp.py PORT OUTFILE [TIMEOUT [COUNT]]
"""
import socket
import sys

port, out = int(sys.argv[1]), sys.argv[2]
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 30
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.settimeout(timeout)
count = int(sys.argv[4]) if len(sys.argv) > 4 else 0
data, client = srv.recvfrom(65535)
if count:
    dgrams = [data]
    while len(dgrams) < count:
        d, peer = srv.recvfrom(65535)
        if peer == client:
            dgrams.append(d)
    data = b"".join(len(d).to_bytes(2, "big") + d for d in dgrams)
open(out, "wb").write(data)
print(f"{out}: {len(data)} bytes")
