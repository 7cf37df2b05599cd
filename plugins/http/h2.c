/*
 * h2.c — the HTTP/2 client preface and the frames up to the first header
 * block, whose :authority (else host) is the route key.
 *
 * After the 24-octet preface the client sends frames (RFC 9113 §4.1: a
 * 9-octet header of 24-bit length, type, flags, reserved bit and 31-bit
 * stream id). SETTINGS must come first (§3.4); before the first HEADERS a
 * client may send more SETTINGS, WINDOW_UPDATE, PING, PRIORITY (nghttp
 * sends several, on idle streams) and extension frames, which are skipped
 * (§5.5). The HEADERS frame, on an odd stream, may be PADDED and carry
 * PRIORITY fields; its block goes on in CONTINUATION frames of the same
 * stream until END_HEADERS. The block is decoded as its octets arrive, so
 * a partial HEADERS frame that already holds :authority is enough.
 *
 * The preface alone is unambiguous: no other protocol begins with it. So
 * once it is complete the answer is HTTP/2 whatever follows, and what
 * cannot be understood routes to the default (key ""), where the backend
 * answers with a connection error as any HTTP/2 server would. Malformed
 * are: a first frame that is not SETTINGS, a SETTINGS ACK (nothing to
 * acknowledge yet), frames of a wrong size for their type, frames longer
 * than 16384 octets (the client cannot have heard a larger
 * SETTINGS_MAX_FRAME_SIZE: the server has not been reached yet), DATA,
 * RST_STREAM, PUSH_PROMISE, GOAWAY or CONTINUATION before the first
 * HEADERS, HEADERS on stream 0 or an even stream, padding that does not
 * fit, a block interrupted by another frame, and any HPACK error.
 *
 * Each decision only depends on octets already read, in order, so a
 * longer prefix never changes an answer already given.
 */
#include "h2.h"
#include "hpack.h"

#include <string.h>

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PREFACE_LEN 24
#define FRAME_HEADER 9
#define MAX_FRAME 16384 /* SETTINGS_MAX_FRAME_SIZE initial value */

enum frame_type {
	DATA = 0,
	HEADERS = 1,
	PRIORITY = 2,
	RST_STREAM = 3,
	SETTINGS = 4,
	PUSH_PROMISE = 5,
	PING = 6,
	GOAWAY = 7,
	WINDOW_UPDATE = 8,
	CONTINUATION = 9,
};

#define FLAG_ACK 0x1
#define FLAG_END_HEADERS 0x4
#define FLAG_PADDED 0x8
#define FLAG_PRIORITY 0x20

struct frame {
	uint32_t len;
	uint8_t type, flags;
	uint32_t stream;
};

/* The frame header at off; 0 if it has not fully arrived. */
static int
frame_at(const uint8_t *p, size_t len, size_t off, struct frame *f)
{
	if (off > len || len - off < FRAME_HEADER)
		return 0;
	p += off;
	f->len = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
	f->type = p[3];
	f->flags = p[4];
	f->stream = ((uint32_t)p[5] << 24 | (uint32_t)p[6] << 16 |
		     (uint32_t)p[7] << 8 | p[8]) & 0x7fffffffu;
	return 1;
}

/*
 * The header block as one octet stream: the fragment of the HEADERS
 * frame, then of each CONTINUATION frame, skipping headers and padding.
 */
struct block {
	struct hpack_src src; /* first: block_next() casts back */
	const uint8_t *p;
	size_t len;
	size_t pos;       /* next octet */
	size_t frag_end;  /* end of this frame's fragment */
	size_t frame_end; /* end of this frame (after its padding) */
	uint32_t stream;
	int last;         /* this frame has END_HEADERS */
};

static int
block_next(struct hpack_src *src)
{
	struct block *b = (struct block *)src;
	struct frame f;

	while (b->pos == b->frag_end) {
		if (b->last)
			return HPACK_SRC_END;
		if (!frame_at(b->p, b->len, b->frame_end, &f))
			return HPACK_SRC_MORE;
		if (f.type != CONTINUATION || f.stream != b->stream ||
		    f.len > MAX_FRAME)
			return HPACK_SRC_BAD;
		b->pos = b->frame_end + FRAME_HEADER;
		b->frag_end = b->frame_end = b->pos + f.len;
		b->last = (f.flags & FLAG_END_HEADERS) != 0;
	}
	if (b->pos >= b->len)
		return HPACK_SRC_MORE;
	return b->p[b->pos++];
}

static enum h2_status
set_key(char *key, size_t keycap, const char *s, size_t n,
	enum h2_status st)
{
	pmx_result_setn(key, keycap, s, n);
	return st;
}

/* The HEADERS frame f at off: open its block and decode it. */
static enum h2_status
headers(const uint8_t *p, size_t len, size_t off, const struct frame *f,
	char *key, size_t keycap)
{
	struct block b = {
		.src = {.next = block_next},
		.p = p,
		.len = len,
		.pos = off + FRAME_HEADER,
		.frame_end = off + FRAME_HEADER + f->len,
		.stream = f->stream,
		.last = (f->flags & FLAG_END_HEADERS) != 0,
	};
	struct hpack_found found;
	size_t fixed = 0, pad = 0;

	if (f->stream == 0 || f->stream % 2 == 0)
		return H2_MATCH; /* malformed: default route */
	if (f->flags & FLAG_PADDED)
		fixed += 1;
	if (f->flags & FLAG_PRIORITY)
		fixed += 5; /* dependency and weight: not needed */
	if (fixed > f->len)
		return H2_MATCH;
	if (f->flags & FLAG_PADDED) {
		if (b.pos >= len)
			return H2_MORE;
		pad = p[b.pos];
	}
	if (fixed + pad > f->len)
		return H2_MATCH;
	b.pos += fixed;
	b.frag_end = b.frame_end - pad;
	switch (hpack_find_authority(&b.src, &found)) {
	case HPACK_AUTHORITY:
		return set_key(key, keycap, found.authority,
			       found.authority_len, H2_MATCH);
	case HPACK_DONE:
		return set_key(key, keycap, found.host, found.host_len,
			       H2_MATCH);
	case HPACK_MORE:
		return set_key(key, keycap, found.host, found.host_len,
			       H2_MORE);
	case HPACK_ERROR:
		break;
	}
	return H2_MATCH; /* malformed: default route */
}

/* Whether a frame up to the first HEADERS is well formed (the HEADERS
 * frame itself is checked by headers()). */
static int
frame_ok(const struct frame *f, int first)
{
	if (f->len > MAX_FRAME || (first && f->type != SETTINGS))
		return 0;
	switch (f->type) {
	case HEADERS:
		return 1;
	case SETTINGS:
		return f->stream == 0 && !(f->flags & FLAG_ACK) &&
		       f->len % 6 == 0;
	case WINDOW_UPDATE:
		return f->len == 4;
	case PING:
		return f->stream == 0 && f->len == 8;
	case PRIORITY:
		return f->stream != 0 && f->len == 5;
	case DATA:
	case RST_STREAM:
	case PUSH_PROMISE:
	case GOAWAY:
	case CONTINUATION:
		return 0;
	default:
		return 1; /* extension frame: ignored (§5.5) */
	}
}

enum h2_status
h2_probe(const uint8_t *p, size_t len, char *key, size_t keycap)
{
	size_t off = PREFACE_LEN;
	struct frame f;

	key[0] = '\0';
	if (len == 0)
		return H2_PREFACE;
	if (memcmp(p, PREFACE, len < PREFACE_LEN ? len : PREFACE_LEN) != 0)
		return H2_NOT;
	if (len < PREFACE_LEN)
		return H2_PREFACE;
	/* Every frame takes at least 9 octets: the walk ends. */
	while (frame_at(p, len, off, &f)) {
		if (!frame_ok(&f, off == PREFACE_LEN))
			return H2_MATCH; /* malformed: default route */
		if (f.type == HEADERS)
			return headers(p, len, off, &f, key, keycap);
		off += FRAME_HEADER + (size_t)f.len;
	}
	return H2_MORE;
}
