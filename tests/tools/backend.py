#!/usr/bin/python3
"""Test backends for PortMux integration tests (stdlib only).

    backend.py http NAME PORT       HTTP/1.1 server answering
                                    "backend=NAME host=<Host> path=<path>"
    backend.py echo PREFIX PORT     echoes each connection, first sending
                                    PREFIX (empty: pure echo, for bulk data)
    backend.py drain PORT [BYTES]   reads until the client half-closes, then
                                    answers "sha256=<of what it read>\\n"
                                    followed by BYTES (default 5 MB) of data
                                    and closes; proves FIN is passed on
                                    while the other direction keeps flowing
    backend.py source PORT BYTES    on connect, sends BYTES of a fixed
                                    pattern as fast as it can, then closes
    backend.py ws PORT              a WebSocket server: answers the upgrade
                                    (101 with Sec-WebSocket-Accept), then
                                    echoes every byte as it came
    backend.py udpecho PREFIX PORT  UDP: answers each datagram with PREFIX
                                    + the datagram
    backend.py proxyecho PORT       expects a PROXY protocol header (v1 or
                                    v2); answers "v1|v2 src=IP:PORT
                                    dst=IP:PORT\n", then echoes the rest
    backend.py blackhole PORT       accepts nothing and fills its backlog,
                                    so new connects hang (a dead host, on
                                    loopback)
Ready when it prints "ready" on stdout. BIND=::1 in the environment binds
an IPv6 address instead of 127.0.0.1; FASTOPEN=1 lets its TCP listener take
TCP Fast Open (data in the SYN, where net.ipv4.tcp_fastopen has bit 2).
"""
import hashlib
import http.server
import os
import socket
import socketserver
import sys
import threading


class Http(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        body = ("backend=%s host=%s path=%s\n" % (
            self.server.name, self.headers.get("Host", "-"),
            self.path)).encode()
        length = int(self.headers.get("Content-Length", "0") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = answer
    do_PROPFIND = do_OPTIONS = do_PATCH = answer

    def log_message(self, *args):
        pass


BIND = os.environ.get("BIND", "127.0.0.1")
FAMILY = socket.AF_INET6 if ":" in BIND else socket.AF_INET


def fastopen(srv):
    if os.environ.get("FASTOPEN"):
        srv.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 64)


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    address_family = FAMILY

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        fastopen(self.socket)


def serve_stream(port, handle):
    srv = socket.socket(FAMILY)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((BIND, port))
    fastopen(srv)
    srv.listen(128)
    print("ready", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def echo(prefix):
    def handle(conn):
        with conn:
            if prefix:
                conn.sendall(prefix)
            while True:
                data = conn.recv(1 << 18)
                if not data:
                    break
                conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)
    return handle


def websocket(conn):
    import base64
    with conn:
        head = b""
        while b"\r\n\r\n" not in head:
            data = conn.recv(4096)
            if not data:
                return
            head += data
        head, _, rest = head.partition(b"\r\n\r\n")
        key = b""
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"sec-websocket-key:"):
                key = line.split(b":", 1)[1].strip()
        accept = base64.b64encode(hashlib.sha1(
            key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\n"
                     b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        if rest:
            conn.sendall(rest)
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)


def source(size):
    block = bytes(range(256)) * 1024

    def handle(conn):
        with conn:
            left = size
            while left > 0:
                n = min(left, len(block))
                conn.sendall(block[:n])
                left -= n
            # Half-close, then read what the client sent: closing with
            # unread bytes would send a RST and destroy data in flight.
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):
                pass
    return handle


def proxyecho(conn):
    import ipaddress
    import struct
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    with conn:
        data = b""
        while len(data) < 16:
            more = conn.recv(4096)
            if not more:
                return
            data += more
        if data.startswith(sig):
            family, length = data[13], struct.unpack("!H", data[14:16])[0]
            while len(data) < 16 + length:
                data += conn.recv(4096)
            body = data[16:16 + length]
            if family == 0x11:
                src = "%s:%d" % (ipaddress.ip_address(body[0:4]),
                                 struct.unpack("!H", body[8:10])[0])
                dst = "%s:%d" % (ipaddress.ip_address(body[4:8]),
                                 struct.unpack("!H", body[10:12])[0])
            else:
                src = "[%s]:%d" % (ipaddress.ip_address(body[0:16]),
                                   struct.unpack("!H", body[32:34])[0])
                dst = "[%s]:%d" % (ipaddress.ip_address(body[16:32]),
                                   struct.unpack("!H", body[34:36])[0])
            head, rest = "v2", data[16 + length:]
        else:
            while b"\r\n" not in data:
                data += conn.recv(4096)
            line, rest = data.split(b"\r\n", 1)
            f = line.decode().split()
            src, dst, head = "%s:%s" % (f[2], f[4]), "%s:%s" % (f[3], f[5]), "v1"
        conn.sendall(("%s src=%s dst=%s\n" % (head, src, dst)).encode() + rest)
        while True:
            more = conn.recv(65536)
            if not more:
                break
            conn.sendall(more)


def drain(size):
    def handle(conn):
        with conn:
            h = hashlib.sha256()
            while True:
                data = conn.recv(1 << 16)
                if not data:
                    break
                h.update(data)
            conn.sendall(("sha256=%s\n" % h.hexdigest()).encode())
            block = bytes(range(256)) * 256
            left = size
            while left > 0:
                n = min(left, len(block))
                conn.sendall(block[:n])
                left -= n
    return handle


def main():
    mode = sys.argv[1]
    if mode == "http":
        srv = Server((BIND, int(sys.argv[3])), Http)
        srv.name = sys.argv[2]
        print("ready", flush=True)
        srv.serve_forever()
    elif mode == "echo":
        serve_stream(int(sys.argv[3]), echo(sys.argv[2].encode()))
    elif mode == "drain":
        size = int(sys.argv[3]) if len(sys.argv) > 3 else 5 << 20
        serve_stream(int(sys.argv[2]), drain(size))
    elif mode == "source":
        serve_stream(int(sys.argv[2]), source(int(sys.argv[3])))
    elif mode == "ws":
        serve_stream(int(sys.argv[2]), websocket)
    elif mode == "udpecho":
        u = socket.socket(FAMILY, socket.SOCK_DGRAM)
        u.bind((BIND, int(sys.argv[3])))
        print("ready", flush=True)
        while True:
            data, peer = u.recvfrom(65536)
            u.sendto(sys.argv[2].encode() + data, peer)
    elif mode == "proxyecho":
        serve_stream(int(sys.argv[2]), proxyecho)
    elif mode == "blackhole":
        srv = socket.socket()
        srv.bind(("127.0.0.1", int(sys.argv[2])))
        srv.listen(0)
        fillers = []
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", int(sys.argv[2])))
            fillers.append(c)
        print("ready", flush=True)
        threading.Event().wait()
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
