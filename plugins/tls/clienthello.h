/*
 * clienthello.h — a bounded, copy-free parser for the first flight of a TLS
 * client: the ClientHello, possibly fragmented over several TLS records
 * (RFC 8446 §5.1) and over several TCP reads, or an SSLv2-compatible
 * ClientHello (RFC 5246 App. E.2); or the bare handshake message, as QUIC
 * carries it. Shared: tls.so and quic.so (plugins/quic/flags.mk) are
 * built from this one copy.
 *
 * It is stateless: each call re-reads the bytes received so far from the
 * start and says whether they are a complete ClientHello, a valid prefix of
 * one, or cannot be one. It reads the record payloads in place (no copy, no
 * allocation, a few hundred bytes of stack) and never past `len`.
 */
#ifndef PMX_TLS_CLIENTHELLO_H
#define PMX_TLS_CLIENTHELLO_H

#include <portmux/detector.h>
#include <stddef.h>
#include <stdint.h>

enum ch_status {
	CH_INVALID = 0,  /* cannot be (the start of) a ClientHello */
	CH_PARTIAL = 1,  /* a valid prefix of one; more bytes needed */
	CH_COMPLETE = 2, /* a whole, well-formed ClientHello */
};

/* What the parser learnt. With CH_PARTIAL, only what came from extensions
 * that were complete. */
struct ch_info {
	char sni[PMX_KEY_MAX]; /* host_name of server_name, validated; "" if
				  absent or not a plausible DNS name */
	size_t sni_len;
	char alpn[PMX_ALPN_MAX]; /* ALPN protocol names, comma-separated, in
				    client order, GREASE dropped, only whole
				    names (truncated at a name boundary) */
	size_t alpn_len;
	int ech;   /* encrypted_client_hello (0xfe0d) present */
	int sslv2; /* SSLv2-compatible ClientHello (never has SNI) */
};

/* Parse data[0..len). Fills *info (always NUL-terminated strings). */
enum ch_status ch_parse(const uint8_t *data, size_t len,
			struct ch_info *info);

/*
 * The answer of a detector that routes by this ClientHello: NO_MATCH when
 * `s` says it cannot be one, NEED_MORE for a prefix unless `final`, else
 * MATCH with the SNI as route key, the ALPN names and PMX_RF_ECH in out.
 */
enum pmx_verdict ch_answer(enum ch_status s, const struct ch_info *info,
			   int final, struct pmx_probe_result *out);

/* The same for the handshake bytes alone, without TLS records: QUIC
 * carries the ClientHello in CRYPTO frames (RFC 9001 §4). Never SSLv2. */
enum ch_status ch_parse_handshake(const uint8_t *data, size_t len,
				  struct ch_info *info);

#endif
