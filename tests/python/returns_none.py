# Never this protocol.
def analyse(buffer):
    return None
