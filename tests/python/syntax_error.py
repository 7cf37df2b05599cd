def analyse(buffer):
    if buffer.startswith(b"x")
        return 1
