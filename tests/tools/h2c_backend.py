#!/usr/bin/python3
"""A minimal HTTP/2 prior-knowledge (h2c) server for PortMux integration
tests (stdlib only; no HPACK decoding).

    h2c_backend.py NAME PORT

Reads the client preface, sends an empty SETTINGS, acknowledges the
client's SETTINGS and PINGs, and answers each request (each header block
that ends) with ":status 200" and the body "backend=NAME proto=h2c\\n".
Anything that is not the preface is answered "backend=NAME proto=other\\n"
and closed, so a test can see a connection that was misrouted. Ready when
it prints "ready" on stdout.
"""
import socket
import sys
import threading

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS, PING, GOAWAY, HEADERS, CONTINUATION, DATA = 4, 6, 7, 1, 9, 0
ACK = END_STREAM = 0x1
END_HEADERS = 0x4


def frame(ftype, flags, stream, payload=b""):
    return (len(payload).to_bytes(3, "big") + bytes([ftype, flags]) +
            stream.to_bytes(4, "big") + payload)


class Conn:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def serve(sock, name):
    c = Conn(sock)
    with sock:
        try:
            if c.read(len(PREFACE)) != PREFACE:
                sock.sendall(b"backend=%s proto=other\n" % name)
                return
            sock.sendall(frame(SETTINGS, 0, 0))
            while True:
                h = c.read(9)
                ftype, flags = h[3], h[4]
                stream = int.from_bytes(h[5:9], "big") & 0x7FFFFFFF
                payload = c.read(int.from_bytes(h[:3], "big"))
                if ftype == SETTINGS and not flags & ACK:
                    sock.sendall(frame(SETTINGS, ACK, 0))
                elif ftype == PING and not flags & ACK:
                    sock.sendall(frame(PING, ACK, 0, payload))
                elif ftype in (HEADERS, CONTINUATION) and flags & END_HEADERS:
                    body = b"backend=%s proto=h2c\n" % name
                    # 0x88: indexed field 8 of the static table, ":status 200"
                    sock.sendall(frame(HEADERS, END_HEADERS, stream, b"\x88") +
                                 frame(DATA, END_STREAM, stream, body))
                elif ftype == GOAWAY:
                    return
        except (EOFError, OSError):
            pass


def main():
    name, port = sys.argv[1].encode(), int(sys.argv[2])
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(128)
    print("ready", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, name), daemon=True).start()


if __name__ == "__main__":
    main()
