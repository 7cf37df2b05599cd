/*
 * packet.h — the parts of QUIC packets a client's first flight is read
 * with, before and after decryption (RFC 9000): variable-length integers,
 * long headers (§17.2), packet numbers (§17.1, App. A.3) and the frames an
 * Initial packet may carry (§12.4). Byte parsing only: no crypto, no
 * allocation, never a read past the bytes given.
 */
#ifndef PMX_QUIC_PACKET_H
#define PMX_QUIC_PACKET_H

#include <stddef.h>
#include <stdint.h>

#define QUIC_CID_MAX 20        /* connection IDs of versions 1 and 2 */
#define QUIC_FIRST_DCID_MIN 8  /* a client's first Destination CID (§7.2) */
#define QUIC_INITIAL_DGRAM_MIN 1200 /* a datagram with an Initial (§14.1) */
#define QUIC_PN_MAX 4          /* packet number bytes */
#define QUIC_SAMPLE_LEN 16     /* header protection sample (RFC 9001 §5.4) */
#define QUIC_TAG_LEN 16        /* AEAD tag of Initial packets */

/* A QUIC version whose Initial packets can be read. */
struct quic_version {
	uint32_t number;
	uint8_t initial;     /* long packet type of Initial */
	uint8_t retry;       /* ... of Retry, which has no Length field */
	uint8_t salt[20];    /* initial_salt (RFC 9001 §5.2) */
	const char *labels;  /* prefix of the key labels: "quic " (v1) or
				"quicv2 " (RFC 9369 §3.3.2) */
};

/* Version `number`, or NULL when it is not one we read. */
const struct quic_version *quic_version_find(uint32_t number);

/* A varint at p[*at..n) (§16): 1 on success with *at past it, 0 when the
 * bytes end first. */
int quic_varint(const uint8_t *p, size_t n, size_t *at, uint64_t *v);

/* A long header packet, as far as it is readable before header protection
 * is removed. */
struct quic_long {
	uint8_t first;        /* the first byte, still protected */
	const struct quic_version *version;
	uint8_t type;         /* the 2 type bits (0..3) */
	const uint8_t *dcid;  /* into the packet */
	size_t dcid_len;
	size_t pn_offset;     /* where the packet number starts */
	size_t len;           /* the whole packet: header and payload */
};

/*
 * The long header packet at p[0..n), n being what is left of its
 * datagram: 1 when it is one of a version we read (long form bit,
 * connection IDs of at most 20 bytes, an Initial's token) that fits in
 * the datagram with room for a header protection sample; 0 otherwise
 * (a Retry too: a client never sends one).
 */
int quic_long_parse(const uint8_t *p, size_t n, struct quic_long *h);

/* The full packet number of a truncated one of `nbytes` bytes, with
 * `largest` the largest processed so far in its space (-1: none). */
uint64_t quic_pn_decode(int64_t largest, uint64_t truncated, size_t nbytes);

/* Called for each CRYPTO frame's data at stream offset `off`. */
typedef void (*quic_crypto_fn)(void *arg, uint64_t off, const uint8_t *data,
			       size_t len);

/*
 * The frames of a decrypted Initial payload: CRYPTO data goes to `fn`;
 * PADDING, PING, ACK and CONNECTION_CLOSE are stepped over. 1 when every
 * frame was one of those and whole; 0 at the first that is not (a frame
 * type an Initial may not carry, or one cut short) — CRYPTO data before
 * it was given already.
 */
int quic_initial_frames(const uint8_t *p, size_t n, quic_crypto_fn fn,
			void *arg);

#endif
