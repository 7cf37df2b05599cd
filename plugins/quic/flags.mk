# quic.so decrypts Initial packets with libcrypto (OpenSSL 3: Debian's
# libssl-dev) — the only part of PortMux that links it, the daemon never
# does — and parses the ClientHello with tls.so's parser, built from its
# one copy in plugins/tls (quic_SRC: sources a plugin shares).
quic_SRC := plugins/tls/clienthello.c
quic_CFLAGS := $(shell pkg-config --cflags libcrypto 2>/dev/null)
quic_LIBS := $(shell pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto)
# check_quic protects Initial packets of its own (captures re-cut at every
# boundary) with libcrypto too.
UNIT_LIBS += $(quic_LIBS)
