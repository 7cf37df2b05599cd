#!/usr/bin/python3
"""Record the first flight of one client: listen on 127.0.0.1:PORT, accept one
connection, keep what it sends until it has been quiet for IDLE seconds (or
sent MAX bytes), write it to OUTFILE. Used to build tests/corpus/.

    capture.py PORT OUTFILE [IDLE] [MAX]
"""
import socket
import sys

port, out = int(sys.argv[1]), sys.argv[2]
idle = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5
limit = int(sys.argv[4]) if len(sys.argv) > 4 else 65536
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(1)
srv.settimeout(30)
conn, _ = srv.accept()
conn.settimeout(idle)
data = b""
try:
    while len(data) < limit:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
except socket.timeout:
    pass
open(out, "wb").write(data[:limit])
print(f"{out}: {len(data)} bytes")
