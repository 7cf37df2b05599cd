# A loop that never ends (for b"loop..."), else a port.
def analyse(buffer):
    if buffer.startswith(b"loop"):
        while True:
            pass
    return 1111
