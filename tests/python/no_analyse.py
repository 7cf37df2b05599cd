# Defines everything but analyse.
def analyze(buffer):
    return 1
