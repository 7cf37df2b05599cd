# For check_udp.c: "FAST host:port ..." matches with that backend at once,
# "SLOW host:port ..." after a second (its flow is being decided
# meanwhile); anything else matches nothing.
import time


def analyse(buffer):
    words = buffer.split()
    if len(words) < 2 or words[0] not in (b"FAST", b"SLOW"):
        return None
    if words[0] == b"SLOW":
        time.sleep(1.0)
    return words[1].decode()
