# "host:port" strings: MATCH with that backend.
def analyse(buffer):
    if buffer.startswith(b"v4"):
        return "10.1.2.3:8080"
    if buffer.startswith(b"v6"):
        return "[2001:db8::1]:443"
    if buffer.startswith(b"lh"):
        return "localhost:2222"
    if buffer.startswith(b"dns"):
        return "backend.example.lan.:7000"  # names: the core resolves them
    return None
