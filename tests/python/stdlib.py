# The standard library, extension modules included.
import hashlib
import json
import re
import struct
import zlib

# C extension modules of lib-dynload (on Debian json, hashlib and decimal
# would quietly fall back to pure Python without them): they load only
# when libpython's symbols are global.
import _decimal
import _hashlib
import _json

import portmux

assert json.scanner.c_make_scanner is _json.make_scanner

HEADER = re.compile(rb"^HELLO (\d+)$")


def analyse(buffer):
    m = HEADER.match(buffer)
    if m:
        return int(m.group(1))
    if buffer.startswith(b"{"):
        return json.loads(buffer)["port"]
    if len(buffer) >= 4 and struct.unpack(">I", buffer[:4])[0] == 0xCAFEBABE:
        return 5001
    if buffer == zlib.compress(b"portmux"):
        return 5002
    if hashlib.sha256(buffer).hexdigest().startswith(
            hashlib.sha256(b"sha").hexdigest()):
        portmux.log("sha256 match")
        return 5003
    return None
