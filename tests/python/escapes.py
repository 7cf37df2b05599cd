# Everything a careless or hostile script may do to get out of its box,
# one per first word of the buffer; "good" is the good case, routed to
# port GOOD, and anything else is not this script's (None). Each bad case must cost only its own call (NO_MATCH at the
# deadline) and its worker, never the daemon or the next good call.
import ctypes
import os
import re
import signal
import socket
import sys
import threading
import time

GOOD = 4242  # the good cases' port (the integration test puts its own)

def spin():
    while True:
        pass


def analyse(buffer):
    word = buffer.split(b" ", 1)[0]
    if word == b"catchall":            # swallows every interrupt
        while True:
            try:
                while True:
                    pass
            except BaseException:
                pass
    if word == b"regex":               # catastrophic backtracking, in C
        re.match(rb"(a+)+$", b"a" * 34 + b"!")
        return 1
    if word == b"sleep":
        time.sleep(30)
        return 1
    if word == b"recv":                # blocking I/O on a silent peer
        a, b = socket.socketpair()
        a.recv(1)
        return 1
    if word == b"thread":              # a thread that spins on
        threading.Thread(target=spin, daemon=True).start()
        return GOOD
    if word == b"switch":              # no GIL hand-over for 11 days
        sys.setswitchinterval(1e6)
        threading.Thread(target=spin, daemon=True).start()
        time.sleep(0.001)
        return GOOD
    if word == b"exit":
        os._exit(1)
    if word == b"killparent":          # the zygote, and the daemon
        zygote = os.getppid()
        with open("/proc/%d/stat" % zygote) as f:
            daemon = int(f.read().rsplit(")", 1)[1].split()[1])
        refused = []
        for pid in (zygote, daemon):
            try:
                os.kill(pid, signal.SIGKILL)
            except PermissionError as e:
                refused.append(e)
        if len(refused) == 2:
            raise refused[0]
        return 1
    if word == b"segv":
        ctypes.string_at(0)
    if word == b"fork":
        if os.fork() == 0:
            spin()
        return 1
    if word == b"exec":
        os.execv("/bin/sh", ["sh", "-c", "sleep 30"])
    if word == b"memory":              # more than PYTHON.memory
        hog = bytearray(8 << 30)
        return len(hog)
    if word == b"good":
        return GOOD
    return None
