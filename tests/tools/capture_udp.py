#!/usr/bin/python3
"""Record the first datagram of one client: bind 127.0.0.1:PORT (UDP), wait
for one datagram, write it to OUTFILE. Used to build tests/corpus/ (the UDP
twin of capture.py).

    capture_udp.py PORT OUTFILE [TIMEOUT]
"""
import socket
import sys

port, out = int(sys.argv[1]), sys.argv[2]
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 30
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.settimeout(timeout)
data, _ = srv.recvfrom(65535)
open(out, "wb").write(data)
print(f"{out}: {len(data)} bytes")
