/*
 * flight.h — a QUIC client's first flight, datagram by datagram: the
 * Initial packets of its connection opened (protect.h) and the CRYPTO
 * stream they carry put back together by offset, whatever the order and
 * however the client cut it into frames, packets and datagrams.
 */
#ifndef PMX_QUIC_FLIGHT_H
#define PMX_QUIC_FLIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "packet.h"
#include "protect.h"

struct flight {
	const struct quic_crypto *crypto;
	/* The connection, from the first datagram's first packet. */
	const struct quic_version *version;
	uint8_t dcid[QUIC_CID_MAX];
	size_t dcid_len;
	struct quic_keys keys;
	int64_t largest; /* packet number, -1 before the first */
	/* Caller's memory, `cap` bytes each (at least the flight's length:
	 * a stream prefix can be no longer than the bytes that carried it):
	 * a packet's plaintext, the stream by offset, a bit per stream byte
	 * that came (cap / 8 + 1 bytes, zeroed). */
	uint8_t *scratch;
	uint8_t *stream;
	uint8_t *have;
	size_t cap;
};

/*
 * Is the datagram d[0..n) the start of a client's first flight: a
 * datagram of at least 1200 bytes that begins with a long header Initial
 * packet of a version we read, with a Destination Connection ID of at
 * least 8 bytes? Cheap (no crypto): for turning others away early.
 */
int flight_starts(const uint8_t *d, size_t n);

/*
 * Read one datagram of the flight into f (`first`: the flow's first,
 * which sets the connection). Its Initial packets of the connection that
 * authenticate add their CRYPTO data; other packets and what follows a
 * packet that cannot be parsed are ignored, as a server would. -1 when
 * the first datagram is not a client's Initial (flight_starts, and its
 * first packet authenticates), else 0.
 */
int flight_datagram(struct flight *f, const uint8_t *d, size_t n,
		    int first);

/* How many bytes of the CRYPTO stream have come from offset 0 on. */
size_t flight_prefix(const struct flight *f);

#endif
