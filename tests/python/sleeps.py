# Blocked in C code an asynchronous exception cannot interrupt.
import time


def analyse(buffer):
    if buffer == b"sleep":
        time.sleep(5)
    return 2222
