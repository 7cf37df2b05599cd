import struct

PORT = 1000


def analyse(buffer):
    return PORT


struct.unpack(">H", b"x")
