# Exceptions in analyse(): logged (type, message, line), probe says ERROR.
import json
import sys


def helper(buffer):
    return json.loads(buffer)


def analyse(buffer):
    if buffer == b"exit":
        sys.exit(3)
    if buffer == b"kbd":
        raise KeyboardInterrupt
    if buffer == b"json":
        return helper(buffer)
    raise ValueError("boom %d" % len(buffer))
