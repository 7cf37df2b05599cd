/*
 * clienthello.c — parse a TLS ClientHello from the raw bytes of a TCP
 * stream, across records and reads, without copying it.
 *
 * The record layer is read lazily through `struct rd`: a cursor over the
 * concatenated payloads of consecutive handshake records. A record header
 * is validated (with as many of its 5 bytes as have arrived) only when the
 * parser needs the byte after the previous record, so a ClientHello that
 * ends inside a record ignores whatever follows it (coalesced messages,
 * early data). Every read says CH_PARTIAL when the bytes run out, so a
 * truncated valid ClientHello is never reported CH_INVALID; every length
 * is checked against the enclosing vector before it is trusted, so garbage
 * is reported CH_INVALID as soon as its structure is impossible.
 *
 * Inside the parser CH_COMPLETE doubles as "this step succeeded".
 */
#include "clienthello.h"

#include <stdint.h>
#include <string.h>

#define REC_HDR 5
#define HS_HDR 4
/* A plaintext record holds at most 2^14 bytes (RFC 8446 §5.1). Allow up to
 * the ciphertext bound, 2^14 + 256 (§5.2), for lax clients; anything
 * longer cannot be a TLS record. */
#define REC_MAX (16384 + 256)
#define CT_HANDSHAKE 0x16
#define HT_CLIENT_HELLO 1
/* legacy_version 2, random 32, session_id 1+0, cipher_suites 2+2,
 * compression_methods 1+1: the smallest ClientHello body. */
#define CH_BODY_MIN 41
#define RANDOM_LEN 32
#define SESSION_ID_MAX 32
#define HOSTNAME_MAX 253
#define LABEL_MAX 63

#define EXT_SERVER_NAME 0x0000
#define EXT_ALPN 0x0010
#define EXT_ECH 0xfe0d
#define NAME_TYPE_HOST 0

struct rd {
	const uint8_t *buf;
	size_t len; /* bytes received */
	size_t p;   /* offset in buf of the next handshake byte */
	size_t end; /* offset in buf where the current record's payload ends
		       (may be past len); a record header starts here */
	size_t pos; /* handshake bytes consumed: offsets within the message */
};

/*
 * The record header at b[h..]: the bytes of it that have arrived must be
 * those of a handshake record of SSL 3.0 to TLS 1.3 with a plausible,
 * non-zero length (zero-length handshake fragments are forbidden, RFC 8446
 * §5.1). Continuation records must be handshake records too: handshake
 * messages are never interleaved with other record types.
 */
static enum ch_status
record_header(const uint8_t *b, size_t len, size_t h, size_t *rlen)
{
	size_t n = len - h;

	if (n >= 1 && b[h] != CT_HANDSHAKE)
		return CH_INVALID;
	if (n >= 2 && b[h + 1] != 3)
		return CH_INVALID;
	if (n >= 3 && b[h + 2] > 4)
		return CH_INVALID;
	if (n >= 4 && b[h + 3] > (REC_MAX >> 8))
		return CH_INVALID;
	if (n < REC_HDR)
		return CH_PARTIAL;
	*rlen = (size_t)b[h + 3] << 8 | b[h + 4];
	if (*rlen == 0 || *rlen > REC_MAX)
		return CH_INVALID;
	return CH_COMPLETE;
}

/* Make the next handshake byte readable at r->p, stepping over a record
 * boundary if needed. */
static enum ch_status
rd_ready(struct rd *r)
{
	if (r->p == r->end) {
		size_t rlen = 0;
		enum ch_status s = record_header(r->buf, r->len, r->end, &rlen);

		if (s != CH_COMPLETE)
			return s;
		r->p = r->end + REC_HDR;
		r->end = r->p + rlen;
	}
	return r->p < r->len ? CH_COMPLETE : CH_PARTIAL;
}

/* Copy the next n handshake bytes to dst, or skip them if dst is NULL. */
static enum ch_status
rd_copy(struct rd *r, uint8_t *dst, size_t n)
{
	while (n > 0) {
		enum ch_status s = rd_ready(r);
		size_t k;

		if (s != CH_COMPLETE)
			return s;
		k = (r->end < r->len ? r->end : r->len) - r->p;
		if (k > n)
			k = n;
		if (dst != NULL) {
			memcpy(dst, r->buf + r->p, k);
			dst += k;
		}
		r->p += k;
		r->pos += k;
		n -= k;
	}
	return CH_COMPLETE;
}

static enum ch_status
rd_u8(struct rd *r, uint8_t *v)
{
	return rd_copy(r, v, 1);
}

/* A big-endian integer of `width` (1..3) bytes. */
static enum ch_status
rd_uint(struct rd *r, int width, size_t *v)
{
	*v = 0;
	for (int i = 0; i < width; i++) {
		uint8_t b;
		enum ch_status s = rd_u8(r, &b);

		if (s != CH_COMPLETE)
			return s;
		*v = *v << 8 | b;
	}
	return CH_COMPLETE;
}

/* The length prefix (`width` bytes) of a vector that must end by `limit`:
 * both the prefix and the body must fit. */
static enum ch_status
rd_len(struct rd *r, int width, size_t limit, size_t *n)
{
	enum ch_status s;

	if (limit - r->pos < (size_t)width)
		return CH_INVALID;
	s = rd_uint(r, width, n);
	if (s != CH_COMPLETE)
		return s;
	return *n <= limit - r->pos ? CH_COMPLETE : CH_INVALID;
}

/* RFC 8701 GREASE: 0x0A0A, 0x1A1A, ... 0xFAFA (two equal bytes 0x?A). */
static int
is_grease(unsigned v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

/*
 * A DNS name we are willing to route on: LDH labels (plus '_', seen on
 * internal names) of 1..63 bytes, 253 bytes at most, one optional trailing
 * dot. Anything else (control bytes, '/', spaces, ':', UTF-8) is not a
 * host_name a server could hold a certificate for, and passing it on would
 * only let a client inject junk into route lookups and logs.
 */
static int
host_ok(const uint8_t *s, size_t n)
{
	size_t label = 0;

	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > HOSTNAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
		if (++label > LABEL_MAX)
			return 0;
	}
	return label > 0;
}

/*
 * server_name (RFC 6066 §3): ServerNameList<1..2^16-1> of (name_type,
 * opaque<1..2^16-1>). At most one host_name: a list with two is refused by
 * servers, and routing on either would be a guess. Unknown name types are
 * skipped. A host_name that is not a plausible DNS name counts as absent.
 */
static enum ch_status
parse_sni(struct rd *r, size_t ext_end, struct ch_info *info)
{
	uint8_t name[HOSTNAME_MAX + 1];
	size_t list, n, name_len = 0;
	int found = 0, ok = 0;
	enum ch_status s = rd_len(r, 2, ext_end, &list);

	if (s != CH_COMPLETE)
		return s;
	if (list == 0 || r->pos + list != ext_end)
		return CH_INVALID;
	while (r->pos < ext_end) {
		uint8_t type;

		if (ext_end - r->pos < 3)
			return CH_INVALID;
		if ((s = rd_u8(r, &type)) != CH_COMPLETE ||
		    (s = rd_len(r, 2, ext_end, &n)) != CH_COMPLETE)
			return s;
		if (type == NAME_TYPE_HOST) {
			if (found)
				return CH_INVALID;
			found = 1;
		}
		if (type != NAME_TYPE_HOST || n > sizeof(name)) {
			s = rd_copy(r, NULL, n); /* too long is no name */
		} else {
			s = rd_copy(r, name, n);
			name_len = n;
			ok = s == CH_COMPLETE && host_ok(name, n);
		}
		if (s != CH_COMPLETE)
			return s;
	}
	if (ok) {
		memcpy(info->sni, name, name_len);
		info->sni_len = name_len;
	}
	return CH_COMPLETE;
}

/* An ALPN name we can list: not GREASE, printable, no ',' (our
 * separator). No registered protocol id needs anything else. */
static int
alpn_listable(const uint8_t *s, size_t n)
{
	if (n == 2 && is_grease((unsigned)s[0] << 8 | s[1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == ',')
			return 0;
	return 1;
}

/*
 * application_layer_protocol_negotiation (RFC 7301 §3.1):
 * ProtocolNameList<2..2^16-1> of opaque<1..2^8-1>. Names are listed in
 * client order; once one does not fit, the rest are dropped, so the list
 * is always a sequence of whole names (a cut "h2c" must not read "h2").
 */
static enum ch_status
parse_alpn(struct rd *r, size_t ext_end, struct ch_info *info)
{
	uint8_t name[255];
	size_t list, n, len = 0;
	int full = 0;
	enum ch_status s = rd_len(r, 2, ext_end, &list);

	if (s != CH_COMPLETE)
		return s;
	if (list < 2 || r->pos + list != ext_end)
		return CH_INVALID;
	while (r->pos < ext_end) {
		if ((s = rd_len(r, 1, ext_end, &n)) != CH_COMPLETE)
			return s;
		if (n == 0)
			return CH_INVALID;
		if ((s = rd_copy(r, name, n)) != CH_COMPLETE)
			return s;
		if (full || !alpn_listable(name, n))
			continue;
		if (len + (len > 0) + n >= sizeof(info->alpn)) {
			full = 1;
			continue;
		}
		if (len > 0)
			info->alpn[len++] = ',';
		memcpy(info->alpn + len, name, n);
		len += n;
	}
	info->alpn_len = len; /* committed only once whole */
	return CH_COMPLETE;
}

/*
 * Extensions<8..2^16-1> up to the end of the message. Each type may appear
 * once (RFC 8446 §4.2); we enforce it for those we read, so that a second
 * server_name cannot disagree with the first. GREASE and unknown types are
 * skipped.
 */
static enum ch_status
parse_extensions(struct rd *r, size_t limit, struct ch_info *info)
{
	unsigned seen = 0;

	while (r->pos < limit) {
		size_t type, n, ext_end;
		unsigned bit = 0;
		enum ch_status s;

		if (limit - r->pos < 4)
			return CH_INVALID;
		if ((s = rd_uint(r, 2, &type)) != CH_COMPLETE ||
		    (s = rd_len(r, 2, limit, &n)) != CH_COMPLETE)
			return s;
		ext_end = r->pos + n;
		switch (type) {
		case EXT_SERVER_NAME:
			bit = 1;
			break;
		case EXT_ALPN:
			bit = 2;
			break;
		case EXT_ECH:
			bit = 4;
			/* Its presence is the news; the payload is opaque. */
			info->ech = 1;
			break;
		}
		if (seen & bit)
			return CH_INVALID;
		seen |= bit;
		if (type == EXT_SERVER_NAME)
			s = parse_sni(r, ext_end, info);
		else if (type == EXT_ALPN)
			s = parse_alpn(r, ext_end, info);
		else
			s = rd_copy(r, NULL, n);
		if (s != CH_COMPLETE)
			return s;
	}
	return CH_COMPLETE;
}

/* Skip a vector of `width`-byte length in [min, max] that must be a
 * multiple of `unit`. */
static enum ch_status
skip_vec(struct rd *r, int width, size_t limit, size_t min, size_t max,
	 size_t unit)
{
	size_t n;
	enum ch_status s = rd_len(r, width, limit, &n);

	if (s != CH_COMPLETE)
		return s;
	if (n < min || n > max || n % unit != 0)
		return CH_INVALID;
	return rd_copy(r, NULL, n);
}

/* Handshake header and ClientHello body (RFC 8446 §4.1.2; RFC 5246
 * §7.4.1.2 for older clients, whose extensions are optional). */
static enum ch_status
parse_hello(struct rd *r, struct ch_info *info)
{
	uint8_t type, major, minor;
	size_t mlen, limit, n;
	enum ch_status s;

	if ((s = rd_u8(r, &type)) != CH_COMPLETE)
		return s;
	if (type != HT_CLIENT_HELLO)
		return CH_INVALID;
	if ((s = rd_uint(r, 3, &mlen)) != CH_COMPLETE)
		return s;
	if (mlen < CH_BODY_MIN)
		return CH_INVALID;
	limit = HS_HDR + mlen;
	/* legacy_version: 3.0 (SSL 3.0) to 3.4; 3.3 for TLS 1.3 clients */
	if ((s = rd_u8(r, &major)) != CH_COMPLETE)
		return s;
	if (major != 3)
		return CH_INVALID;
	if ((s = rd_u8(r, &minor)) != CH_COMPLETE)
		return s;
	if (minor > 4)
		return CH_INVALID;
	if ((s = rd_copy(r, NULL, RANDOM_LEN)) != CH_COMPLETE ||
	    (s = skip_vec(r, 1, limit, 0, SESSION_ID_MAX, 1)) != CH_COMPLETE ||
	    (s = skip_vec(r, 2, limit, 2, 0xfffe, 2)) != CH_COMPLETE ||
	    (s = skip_vec(r, 1, limit, 1, 0xff, 1)) != CH_COMPLETE)
		return s;
	if (r->pos == limit)
		return CH_COMPLETE; /* no extensions at all */
	if ((s = rd_len(r, 2, limit, &n)) != CH_COMPLETE)
		return s;
	if (r->pos + n != limit)
		return CH_INVALID; /* nothing may follow the extensions */
	return parse_extensions(r, limit, info);
}

static size_t
be16(const uint8_t *p)
{
	return (size_t)p[0] << 8 | p[1];
}

/*
 * SSLv2-compatible ClientHello (RFC 5246 App. E.2, RFC 6101 App. E): a
 * 2-byte record header with the high bit set and a 15-bit length, then
 * msg_type 1, version (0.2, or 3.0 to 3.3), cipher_spec_length (a
 * non-zero multiple of 3), session_id_length (<= 32) and challenge_length
 * (16..32), whose sum with the 9 fixed bytes is the record length. Each
 * field is checked as soon as it has arrived.
 */
static enum ch_status
parse_sslv2(const uint8_t *b, size_t len, struct ch_info *info)
{
	size_t rlen;

	info->sslv2 = 1;
	if (len < 2)
		return CH_PARTIAL;
	rlen = (size_t)(b[0] & 0x7f) << 8 | b[1];
	if (rlen < 9 + 3 + 16)
		return CH_INVALID;
	if (len > 2 && b[2] != 1)
		return CH_INVALID;
	if (len > 3 && b[3] != 0 && b[3] != 3)
		return CH_INVALID;
	if (len > 4 && (b[3] == 0 ? b[4] != 2 : b[4] > 3))
		return CH_INVALID;
	if (len > 6 && (be16(b + 5) == 0 || be16(b + 5) % 3 != 0))
		return CH_INVALID;
	if (len > 8 && be16(b + 7) > SESSION_ID_MAX)
		return CH_INVALID;
	if (len > 10 && (be16(b + 9) < 16 || be16(b + 9) > 32))
		return CH_INVALID;
	if (len > 10 && 9 + be16(b + 5) + be16(b + 7) + be16(b + 9) != rlen)
		return CH_INVALID;
	return len >= 2 + rlen ? CH_COMPLETE : CH_PARTIAL;
}

/* The strings of *info terminated, and `s` passed on. */
static enum ch_status
terminated(struct ch_info *info, enum ch_status s)
{
	info->sni[info->sni_len] = '\0';
	info->alpn[info->alpn_len] = '\0';
	return s;
}

enum ch_status
ch_parse(const uint8_t *data, size_t len, struct ch_info *info)
{
	struct rd r = {.buf = data, .len = len};

	memset(info, 0, sizeof(*info));
	if (len == 0)
		return terminated(info, CH_PARTIAL);
	if (data[0] & 0x80)
		return terminated(info, parse_sslv2(data, len, info));
	return terminated(info, parse_hello(&r, info));
}

enum ch_status
ch_parse_handshake(const uint8_t *data, size_t len, struct ch_info *info)
{
	/* One record that never ends: no record header is ever read. */
	struct rd r = {.buf = data, .len = len, .end = SIZE_MAX};

	memset(info, 0, sizeof(*info));
	return terminated(info, parse_hello(&r, info));
}

enum pmx_verdict
ch_answer(enum ch_status s, const struct ch_info *info, int final,
	  struct pmx_probe_result *out)
{
	if (s == CH_INVALID)
		return PMX_NO_MATCH;
	if (s == CH_PARTIAL && !final)
		return PMX_NEED_MORE;
	pmx_result_setn(out->key, sizeof(out->key), info->sni, info->sni_len);
	pmx_result_setn(out->alpn, sizeof(out->alpn), info->alpn,
			info->alpn_len);
	if (info->ech)
		out->flags |= PMX_RF_ECH;
	return PMX_MATCH;
}
