/*
 * packet.c — QUIC wire format of a client's first flight (RFC 9000,
 * RFC 9369): the versions we read, varints, long headers, packet numbers
 * and the frames of Initial packets.
 */
#include "packet.h"

#define LONG_FORM 0x80
#define PN_SPACE_MAX ((uint64_t)1 << 62)

/* Frames an Initial packet may carry (RFC 9000 §12.4, Table 3). */
#define FRAME_PADDING 0x00
#define FRAME_PING 0x01
#define FRAME_ACK 0x02
#define FRAME_ACK_ECN 0x03
#define FRAME_CRYPTO 0x06
#define FRAME_CLOSE 0x1c

static const struct quic_version versions[] = {
	/* QUIC v1, RFC 9001 §5.2 */
	{0x00000001, 0, 3,
	 {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
	  0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a},
	 "quic "},
	/* QUIC v2, RFC 9369 §3 */
	{0x6b3343cf, 1, 0,
	 {0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
	  0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9},
	 "quicv2 "},
	/* QUIC v2's draft codepoint (RFC 9369 §9, provisional), as its
	 * drafts -00 to -08 and their implementations (Debian 12's ngtcp2:
	 * "v2draft") have it: v2 but for the salt. */
	{0x709a50c4, 1, 0,
	 {0xa7, 0x07, 0xc2, 0x03, 0xa5, 0x9b, 0x47, 0x18, 0x4a, 0x1d,
	  0x62, 0xca, 0x57, 0x04, 0x06, 0xea, 0x7a, 0xe3, 0xe5, 0xd3},
	 "quicv2 "},
};

const struct quic_version *
quic_version_find(uint32_t number)
{
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (versions[i].number == number)
			return &versions[i];
	return NULL;
}

int
quic_varint(const uint8_t *p, size_t n, size_t *at, uint64_t *v)
{
	size_t len;

	if (*at >= n)
		return 0;
	len = (size_t)1 << (p[*at] >> 6);
	if (n - *at < len)
		return 0;
	*v = p[*at] & 0x3f;
	for (size_t i = 1; i < len; i++)
		*v = *v << 8 | p[*at + i];
	*at += len;
	return 1;
}

/* A connection ID's length byte and bytes at p[*at..n). */
static int
cid(const uint8_t *p, size_t n, size_t *at, const uint8_t **id,
    size_t *len)
{
	if (*at >= n || p[*at] > QUIC_CID_MAX)
		return 0;
	*len = p[(*at)++];
	if (n - *at < *len)
		return 0;
	*id = p + *at;
	*at += *len;
	return 1;
}

int
quic_long_parse(const uint8_t *p, size_t n, struct quic_long *h)
{
	const uint8_t *scid;
	size_t at = 5, scid_len;
	uint64_t token, length;

	if (n < 7 || !(p[0] & LONG_FORM))
		return 0;
	h->first = p[0];
	h->version = quic_version_find((uint32_t)p[1] << 24 |
				       (uint32_t)p[2] << 16 |
				       (uint32_t)p[3] << 8 | p[4]);
	h->type = (p[0] >> 4) & 3;
	if (h->version == NULL || h->type == h->version->retry ||
	    !cid(p, n, &at, &h->dcid, &h->dcid_len) ||
	    !cid(p, n, &at, &scid, &scid_len))
		return 0;
	if (h->type == h->version->initial &&
	    (!quic_varint(p, n, &at, &token) || token > n - at))
		return 0;
	if (h->type == h->version->initial)
		at += (size_t)token;
	if (!quic_varint(p, n, &at, &length) || length > n - at ||
	    length < QUIC_PN_MAX + QUIC_SAMPLE_LEN)
		return 0;
	h->pn_offset = at;
	h->len = at + (size_t)length;
	return 1;
}

uint64_t
quic_pn_decode(int64_t largest, uint64_t truncated, size_t nbytes)
{
	uint64_t expected = (uint64_t)(largest + 1);
	uint64_t win = (uint64_t)1 << (8 * nbytes);
	uint64_t hwin = win / 2;
	uint64_t candidate = (expected & ~(win - 1)) | truncated;

	/* RFC 9000 App. A.3, without going below zero. */
	if (expected >= hwin && candidate <= expected - hwin &&
	    candidate < PN_SPACE_MAX - win)
		return candidate + win;
	if (candidate > expected + hwin && candidate >= win)
		return candidate - win;
	return candidate;
}

/* Step over `count` varints at p[*at..n). */
static int
skip_varints(const uint8_t *p, size_t n, size_t *at, uint64_t count)
{
	uint64_t v;

	for (uint64_t i = 0; i < count; i++)
		if (!quic_varint(p, n, at, &v))
			return 0;
	return 1;
}

/* An ACK frame's fields after its type (§19.3). */
static int
skip_ack(const uint8_t *p, size_t n, size_t *at, int ecn)
{
	uint64_t ranges;

	if (!skip_varints(p, n, at, 2) || !quic_varint(p, n, at, &ranges) ||
	    ranges > n || !skip_varints(p, n, at, 1 + 2 * ranges))
		return 0;
	return !ecn || skip_varints(p, n, at, 3);
}

/* A CONNECTION_CLOSE frame's fields after its type (§19.19). */
static int
skip_close(const uint8_t *p, size_t n, size_t *at)
{
	uint64_t reason;

	if (!skip_varints(p, n, at, 2) || !quic_varint(p, n, at, &reason) ||
	    reason > n - *at)
		return 0;
	*at += (size_t)reason;
	return 1;
}

int
quic_initial_frames(const uint8_t *p, size_t n, quic_crypto_fn fn,
		    void *arg)
{
	size_t at = 0;

	while (at < n) {
		uint64_t type, off, len;

		if (!quic_varint(p, n, &at, &type))
			return 0;
		switch (type) {
		case FRAME_PADDING:
		case FRAME_PING:
			break;
		case FRAME_ACK:
		case FRAME_ACK_ECN:
			if (!skip_ack(p, n, &at, type == FRAME_ACK_ECN))
				return 0;
			break;
		case FRAME_CLOSE:
			if (!skip_close(p, n, &at))
				return 0;
			break;
		case FRAME_CRYPTO:
			if (!quic_varint(p, n, &at, &off) ||
			    !quic_varint(p, n, &at, &len) || len > n - at ||
			    off > PN_SPACE_MAX - len)
				return 0;
			fn(arg, off, p + at, (size_t)len);
			at += (size_t)len;
			break;
		default:
			return 0;
		}
	}
	return 1;
}
