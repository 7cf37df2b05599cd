# A port number: MATCH, backend 127.0.0.1:PORT.
def analyse(buffer):
    return 8000 + len(buffer)
