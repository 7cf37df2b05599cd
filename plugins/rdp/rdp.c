/*
 * rdp.so — recognises an RDP client by its first PDU, the X.224
 * Connection Request (MS-RDPBCGR 2.2.1.1), and routes it by the user name
 * of its cookie.
 *
 *   TPKT (RFC 1006 / T.123 §8):  0x03 0x00 length(2, big-endian, all of it)
 *   X.224 CR TPDU (X.224 §13.3): LI(1) = length - 5, 0xE0 (CR, credit 0),
 *                                DST-REF(2) = 0, SRC-REF(2), class(1) = 0
 *   then, counted in LI:
 *     a routing token ("Cookie: msts=…", "tsv://…") or the cookie
 *     "Cookie: mstshash=IDENTIFIER", either ended by CR LF (optional);
 *     RDP_NEG_REQ: type 0x01, flags, length 8 (LE), protocols(4) (optional,
 *     required by anything after it);
 *     RDP_NEG_CORRELATION_INFO and what later versions append (unchecked).
 *
 * LI is one byte below 0xFF, so a request is 11..259 bytes; clients send
 * it in one write. Every byte is checked as it arrives: NEED_MORE while
 * the bytes are a prefix of such a request, NO_MATCH at the first that
 * cannot be, MATCH once the whole request is in. With `final` (or a full
 * probe buffer) a valid prefix holding at least the 11-byte header
 * matches, with the cookie's name only if its CR LF had arrived.
 *
 * Result: key = the cookie's IDENTIFIER (the user name; Windows' mstsc
 * sends only its first nine characters, FreeRDP the whole name without
 * its domain); "" (the section's default route) with a routing token, no
 * cookie, or a name too long for a route key.
 *
 * Other protocols: TLS starts 0x16 0x03, SSH and HTTP with letters, SOCKS
 * with 0x04/0x05, PostgreSQL with 0x00: RDP's 0x03 0x00 meets only
 * OpenVPN's TCP length prefix (768 + …), whose third byte, the opcode
 * (0x38, 0x50), can never be TPKT's length high byte (0 or 1).
 */
#include <portmux/detector.h>

#include <string.h>

#define TPKT_HEAD 4
#define X224_CR_LEN 7           /* LI, code, DST-REF, SRC-REF, class */
#define REQ_MIN (TPKT_HEAD + X224_CR_LEN)
#define REQ_MAX (TPKT_HEAD + 1 + 254)
#define X224_CR 0xe0            /* CR TPDU, credit 0 */
#define NEG_REQ 0x01
#define NEG_REQ_LEN 8

static const char cookie_head[] = "Cookie: mstshash=";
#define COOKIE_HEAD_LEN (sizeof(cookie_head) - 1)

static int
create(const struct pmx_host *host, const struct pmx_node *section,
       void **instance, char *err, size_t errlen)
{
	(void)host;
	(void)section; /* a route table, parsed by the core */
	(void)err;
	(void)errlen;
	*instance = NULL; /* stateless */
	return 0;
}

enum parse { P_INVALID, P_PARTIAL, P_DONE };

/* The fixed header, as far as `n` bytes go; *total = the TPKT length once
 * known (0 before). */
static enum parse
parse_header(const uint8_t *p, size_t n, size_t *total)
{
	*total = 0;
	if (n >= 1 && p[0] != 0x03)
		return P_INVALID;
	if (n >= 2 && p[1] != 0x00)
		return P_INVALID;
	if (n >= 3 && p[2] > (REQ_MAX >> 8))
		return P_INVALID;
	if (n >= 4) {
		*total = (size_t)p[2] << 8 | p[3];
		if (*total < REQ_MIN || *total > REQ_MAX)
			return P_INVALID;
	}
	if (n >= 5 && (size_t)p[4] + 5 != *total)
		return P_INVALID;
	if (n >= 6 && p[5] != X224_CR)
		return P_INVALID;
	if (n >= 8 && (p[6] != 0 || p[7] != 0))
		return P_INVALID;
	if (n >= 11 && p[10] != 0)
		return P_INVALID;
	return n >= REQ_MIN ? P_DONE : P_PARTIAL;
}

/* A token or cookie line at p (n bytes in hand, the request ends at
 * `end`): printable bytes up to CR LF. *line = its length without CR LF
 * once complete. */
static enum parse
parse_line(const uint8_t *p, size_t n, size_t end, size_t *line)
{
	for (size_t i = 0; i < end; i++) {
		if (i >= n)
			return P_PARTIAL;
		if (p[i] == '\r') {
			if (i + 1 >= end)
				return P_INVALID;
			if (i + 1 >= n)
				return P_PARTIAL;
			if (p[i + 1] != '\n' || i == 0)
				return P_INVALID;
			*line = i;
			return P_DONE;
		}
		if (p[i] < 0x20 || p[i] == 0x7f)
			return P_INVALID;
	}
	return P_INVALID; /* no CR LF before the end of the request */
}

/* RDP_NEG_REQ at p: type, flags, length 8 (little-endian). What follows
 * it (correlation info, later structures) is not checked. */
static enum parse
parse_neg_req(const uint8_t *p, size_t n, size_t end)
{
	if (end < NEG_REQ_LEN)
		return P_INVALID;
	if (n >= 1 && p[0] != NEG_REQ)
		return P_INVALID;
	if (n >= 3 && p[2] != NEG_REQ_LEN)
		return P_INVALID;
	if (n >= 4 && p[3] != 0)
		return P_INVALID;
	return n >= end ? P_DONE : P_PARTIAL;
}

/*
 * The variable part at p: `n` bytes in hand of `end`. A line, if any,
 * comes first: anything not starting with the RDP_NEG_REQ type byte 0x01
 * (never printable) is one. *name, *name_len = the cookie's IDENTIFIER
 * once its line is complete.
 */
static enum parse
parse_body(const uint8_t *p, size_t n, size_t end, const uint8_t **name,
	   size_t *name_len)
{
	size_t line, at = 0;
	enum parse s;

	*name = NULL;
	*name_len = 0;
	if (end == 0)
		return P_DONE;
	if (n == 0)
		return P_PARTIAL;
	if (p[0] != NEG_REQ) {
		s = parse_line(p, n, end, &line);
		if (s != P_DONE)
			return s;
		if (line > COOKIE_HEAD_LEN &&
		    memcmp(p, cookie_head, COOKIE_HEAD_LEN) == 0) {
			*name = p + COOKIE_HEAD_LEN;
			*name_len = line - COOKIE_HEAD_LEN;
		}
		at = line + 2;
		if (at == end)
			return n >= end ? P_DONE : P_PARTIAL;
	}
	return parse_neg_req(p + at, n > at ? n - at : 0, end - at);
}

static enum pmx_verdict
probe(void *instance, const struct pmx_probe_input *in,
      struct pmx_probe_result *out)
{
	/* A full buffer will not grow: decide now. */
	int final = in->final || (in->capacity > 0 && in->len >= in->capacity);
	const uint8_t *name;
	size_t total, n, name_len;
	enum parse s;

	(void)instance;
	if (in->transport != PMX_TRANSPORT_TCP)
		return PMX_NO_MATCH;
	s = parse_header(in->data, in->len, &total);
	if (s == P_INVALID)
		return PMX_NO_MATCH;
	if (s == P_PARTIAL)
		return final ? PMX_NO_MATCH : PMX_NEED_MORE;
	n = in->len < total ? in->len : total;
	s = parse_body(in->data + REQ_MIN, n - REQ_MIN, total - REQ_MIN,
		       &name, &name_len);
	if (s == P_INVALID)
		return PMX_NO_MATCH;
	if (s == P_PARTIAL && !final)
		return PMX_NEED_MORE;
	if (name != NULL && name_len < sizeof(out->key))
		pmx_result_setn(out->key, sizeof(out->key),
				(const char *)name, name_len);
	return PMX_MATCH;
}

static const struct pmx_detector rdp_detector = {
	.abi_version = PMX_DETECTOR_ABI_VERSION,
	.struct_size = sizeof(struct pmx_detector),
	.name = "rdp",
	.version = "1.0",
	.description = "RDP X.224 Connection Request, routed by the "
		       "mstshash cookie's user name",
	.section = "RDP",
	.flags = PMX_DF_TCP | PMX_DF_ROUTES,
	.create = create,
	.probe = probe,
	.destroy = NULL,
};

PMX_EXPORT const struct pmx_detector *
pmx_detector_entry(void)
{
	return &rdp_detector;
}
