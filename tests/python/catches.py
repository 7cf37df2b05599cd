# A loop that swallows everything, portmux.Timeout included: its thread
# stays stuck, but no probe waits for it.
def analyse(buffer):
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass
