# Answers that are not a verdict: each is logged and taken as None.
ANSWERS = {
    b"float": 1.5,
    b"zero": 0,
    b"big": 70000,
    b"neg": -1,
    b"huge": 10**30,
    b"bool": True,
    b"bytes": b"127.0.0.1:80",
    b"list": [1],
    b"tuple": ("127.0.0.1", 80),
    b"words": "not an address",
    b"name": "exa mple.com:80",
    b"noport": "127.0.0.1",
    b"port0": "127.0.0.1:0",
    b"portbig": "127.0.0.1:65536",
    b"portx": "127.0.0.1:8x",
    b"emptyhost": ":80",
    b"v6bare": "::1:80",
    b"v6bad": "[zz::1]:80",
    b"long": "1" * 300 + ":80",
    b"nul": "127.0.0.1\0:80",
    b"surrogate": "\udc80:80",
}


def analyse(buffer):
    return ANSWERS[bytes(buffer)]
