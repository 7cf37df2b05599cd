# analyse itself is C code that releases the GIL and takes ~0.3 s: an
# interrupt can only land after it has returned.
import functools
import hashlib

analyse = functools.partial(hashlib.pbkdf2_hmac, "sha256", b"portmux",
                            iterations=1000000)
