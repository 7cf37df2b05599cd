#!/usr/bin/python3
"""A TLS client that sends its ClientHello re-framed into several TLS
records, each in its own TCP segment (a pause between them), then finishes
the handshake and one HTTP/1.1 request normally. Proves a multiplexer
reassembles a ClientHello split across records and reads.

    tls_client.py PORT SNI RECORDS [ALPN]
Prints the server certificate's subject CN and the response body.
"""
import socket
import ssl
import sys
import time


def reframe(hello, parts):
    """One TLS handshake record -> `parts` records of the same payload."""
    assert hello[0] == 0x16
    version = hello[1:3]
    payload = b""
    i = 0
    while i < len(hello):
        length = int.from_bytes(hello[i + 3:i + 5], "big")
        payload += hello[i + 5:i + 5 + length]
        i += 5 + length
    cuts = [len(payload) * k // parts for k in range(parts + 1)]
    return [b"\x16" + version + (cuts[k + 1] - cuts[k]).to_bytes(2, "big") +
            payload[cuts[k]:cuts[k + 1]] for k in range(parts)]


def main():
    port, sni, parts = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if len(sys.argv) > 4:
        ctx.set_alpn_protocols([sys.argv[4]])
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname=sni)
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    for record in reframe(out.read(), parts):
        sock.sendall(record)
        time.sleep(0.05)
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            pending = out.read()
            if pending:
                sock.sendall(pending)
            data = sock.recv(65536)
            if not data:
                sys.exit("connection closed during the handshake")
            inc.write(data)
    sock.sendall(out.read())
    cert = tls.getpeercert(binary_form=True)
    tls.write(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
               % sni).encode())
    sock.sendall(out.read())
    body = b""
    while True:
        try:
            chunk = tls.read(65536)
            if not chunk:
                break
            body += chunk
        except ssl.SSLWantReadError:
            data = sock.recv(65536)
            if not data:
                break
            inc.write(data)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            break
    pem = ssl.DER_cert_to_PEM_cert(cert)
    import subprocess
    subj = subprocess.run(["openssl", "x509", "-noout", "-subject"],
                          input=pem.encode(), capture_output=True).stdout
    print(subj.decode().strip())
    print(body.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip())


if __name__ == "__main__":
    main()
