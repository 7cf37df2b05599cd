#!/usr/bin/env python3
"""bench/conns.py PORT N: N HTTP requests to 127.0.0.1:PORT one after the
other, each on a new connection (Connection: close), each read to the end.
Prints the number of complete answers. For counting a relay's system calls
and instructions per connection (bench/syscalls.sh), not for timing."""
import socket
import sys

port, n = int(sys.argv[1]), int(sys.argv[2])
req = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
ok = 0
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(req)
    got = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        got += b
    s.close()
    if got.startswith(b"HTTP/1.1 200"):
        ok += 1
print(ok)
