# NEED_MORE until 10 bytes have arrived, then a port.
import portmux


def analyse(buffer):
    if len(buffer) < 10:
        return portmux.NEED_MORE
    return 4000
