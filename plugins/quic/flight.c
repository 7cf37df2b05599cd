/*
 * flight.c — a client's first flight: Initial packets opened, CRYPTO
 * stream reassembled (RFC 9000 §7.5: "an endpoint MUST support buffering
 * at least 4096 bytes of data received in out-of-order CRYPTO frames").
 */
#include "flight.h"

#include <string.h>

int
flight_starts(const uint8_t *d, size_t n)
{
	struct quic_long h;

	return n >= QUIC_INITIAL_DGRAM_MIN && quic_long_parse(d, n, &h) &&
	       h.type == h.version->initial &&
	       h.dcid_len >= QUIC_FIRST_DCID_MIN;
}

/* CRYPTO data at stream offset `off` (quic_crypto_fn): kept where it
 * fits; the first copy of a byte stays (a retransmission repeats it). */
static void
stream_put(void *arg, uint64_t off, const uint8_t *data, size_t len)
{
	struct flight *f = arg;

	for (size_t i = 0; i < len && off + i < f->cap; i++) {
		size_t at = (size_t)off + i;
		uint8_t bit = (uint8_t)(1u << (at & 7));

		if (f->have[at >> 3] & bit)
			continue;
		f->have[at >> 3] |= bit;
		f->stream[at] = data[i];
	}
}

size_t
flight_prefix(const struct flight *f)
{
	size_t n = 0;

	while (n < f->cap && (f->have[n >> 3] & (1u << (n & 7))))
		n++;
	return n;
}

/* The first packet of the flow sets the connection: its version, its
 * Destination Connection ID and the keys they give. */
static int
connection_set(struct flight *f, const struct quic_long *h)
{
	f->version = h->version;
	memcpy(f->dcid, h->dcid, h->dcid_len);
	f->dcid_len = h->dcid_len;
	f->largest = -1;
	return quic_keys_derive(f->crypto, f->version, f->dcid, f->dcid_len,
				&f->keys);
}

/* One of the connection's Initial packets: the same version and
 * Destination Connection ID (RFC 9000 §7.2: until the server answers,
 * the client uses the same one on all packets), in a datagram of at least
 * 1200 bytes (§14.1: a server discards it in a smaller one). */
static int
of_connection(const struct flight *f, const struct quic_long *h, size_t n)
{
	return h->version == f->version && h->type == f->version->initial &&
	       h->dcid_len == f->dcid_len &&
	       memcmp(h->dcid, f->dcid, f->dcid_len) == 0 &&
	       n >= QUIC_INITIAL_DGRAM_MIN;
}

int
flight_datagram(struct flight *f, const uint8_t *d, size_t n, int first)
{
	size_t at = 0;

	if (first && (!flight_starts(d, n)))
		return -1;
	/* Coalesced packets (§12.2) until one cannot be read: what follows
	 * it may be padding or another protocol's bytes. */
	while (at < n) {
		struct quic_long h;
		struct quic_opened o;
		int lead = first && at == 0, opened;

		if (!quic_long_parse(d + at, n - at, &h))
			break;
		if (lead && connection_set(f, &h) < 0)
			return -1;
		opened = of_connection(f, &h, n) &&
			 quic_open(f->crypto, &f->keys, d + at, &h,
				   f->largest, f->scratch, &o);
		if (lead && !opened)
			return -1;
		if (opened) {
			if ((int64_t)o.pn > f->largest)
				f->largest = (int64_t)o.pn;
			/* Frames an Initial may not carry end the packet
			 * for us; its CRYPTO data before them counts. */
			(void)quic_initial_frames(o.payload, o.len,
						  stream_put, f);
		}
		at += h.len;
	}
	return 0;
}
