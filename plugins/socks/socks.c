/*
 * socks.so — recognises a SOCKS client by its first message:
 *
 *   SOCKS4  (SOCKS 4 protocol, Koblas): VN 4, CD 1 (CONNECT) or 2 (BIND),
 *           DSTPORT(2), DSTIP(4), USERID, NUL
 *   SOCKS4a (SOCKS 4A extension): the same with DSTIP 0.0.0.x (x != 0),
 *           then the destination host name, NUL
 *   SOCKS5  (RFC 1928 §3): VER 5, NMETHODS (1..255), METHODS
 *
 * Verdicts: NEED_MORE while the bytes are a prefix of one of these,
 * NO_MATCH at the first byte that cannot be, MATCH once the message is
 * complete (more bytes behind it — a client that sends its request
 * without waiting — change nothing). `final` on an incomplete message is
 * NO_MATCH: two or three bytes are too little to claim a connection.
 *
 * What is checked beyond the framing: a SOCKS5 method is one IANA
 * assigned (0x00-0x09) or private (0x80-0xfe), never 0xff ("no acceptable
 * methods", a server's answer); a SOCKS4 CONNECT names a port; a user id
 * and a host name are printable ASCII, at most 255 bytes, the host name
 * not empty.
 *
 * Result: key "socks4" (4 and 4a) or "socks5", so one section can send
 * each version to a server that speaks it, with `default` for the rest.
 *
 * Other protocols: the first byte decides against TLS (0x16), SSH and
 * HTTP (letters), RDP (0x03), PostgreSQL (0x00). OpenVPN over TCP starts
 * with a 2-byte length whose high byte may be 4 (never 5): a SOCKS4
 * request to a port 0x50xx (20480..20735) reads as a tls-crypt-v2 reset
 * of 1025 or 1026 bytes to openvpn, which claims it on 3 bytes. The other
 * way round, such a reset (its length is 54 + the wrapped client key,
 * usually about 340 bytes) reads as SOCKS4 only when the random bytes of
 * its session id happen to end in a printable user id. So socks goes
 * before openvpn in the detector order.
 */
#include <portmux/detector.h>

#include <strings.h>

#define NAME_MAX_LEN 255
#define SOCKS4_HEAD 8 /* VN, CD, DSTPORT, DSTIP */

/* The route table is the core's; its names are ours to check: a route no
 * key can reach is a typo, told at start-up rather than never matched. */
static int
create(const struct pmx_host *host, const struct pmx_node *section,
       void **instance, char *err, size_t errlen)
{
	size_t n = host->node_size(section);

	for (size_t i = 0; i < n; i++) {
		const struct pmx_node *k = host->node_key(section, i);
		const char *name = host->node_scalar(k);

		if (name == NULL || (strcasecmp(name, "socks4") != 0 &&
				     strcasecmp(name, "socks5") != 0 &&
				     strcasecmp(name, "default") != 0))
			return host->node_error(k, err, errlen,
						"SOCKS: no client can match "
						"route '%s': the routes are "
						"socks4, socks5 and default",
						name ? name : "");
	}
	*instance = NULL; /* stateless */
	return 0;
}

static int
method_ok(uint8_t m)
{
	return m <= 0x09 || (m >= 0x80 && m != 0xff);
}

static enum pmx_verdict
probe5(const uint8_t *p, size_t len)
{
	size_t want;

	if (len >= 2 && p[1] == 0)
		return PMX_NO_MATCH; /* at least one method */
	want = len >= 2 ? 2 + (size_t)p[1] : 2;
	for (size_t i = 2; i < want && i < len; i++)
		if (!method_ok(p[i]))
			return PMX_NO_MATCH;
	return len >= want ? PMX_MATCH : PMX_NEED_MORE;
}

/* A NUL-terminated string of printable ASCII at p (n bytes in hand);
 * *used = its length with the NUL once complete. A host name is ASCII
 * (IDNs travel as punycode), and so are the user ids clients send. */
static enum pmx_verdict
nul_string(const uint8_t *p, size_t n, int may_be_empty, size_t *used)
{
	for (size_t i = 0; i <= NAME_MAX_LEN; i++) {
		if (i >= n)
			return PMX_NEED_MORE;
		if (p[i] == 0) {
			if (i == 0 && !may_be_empty)
				return PMX_NO_MATCH;
			*used = i + 1;
			return PMX_MATCH;
		}
		if (p[i] < 0x20 || p[i] > 0x7e)
			return PMX_NO_MATCH;
	}
	return PMX_NO_MATCH; /* longer than any name */
}

static enum pmx_verdict
probe4(const uint8_t *p, size_t len)
{
	enum pmx_verdict v;
	size_t used;
	int socks4a;

	if (len >= 2 && p[1] != 1 && p[1] != 2)
		return PMX_NO_MATCH;
	if (len >= 4 && p[1] == 1 && p[2] == 0 && p[3] == 0)
		return PMX_NO_MATCH; /* CONNECT to port 0 */
	/* DSTIP 0.0.0.0 is neither an address nor the 4a marker. */
	if (len >= SOCKS4_HEAD && (p[4] | p[5] | p[6] | p[7]) == 0)
		return PMX_NO_MATCH;
	if (len < SOCKS4_HEAD)
		return PMX_NEED_MORE;
	socks4a = p[4] == 0 && p[5] == 0 && p[6] == 0;
	v = nul_string(p + SOCKS4_HEAD, len - SOCKS4_HEAD, 1, &used);
	if (v != PMX_MATCH || !socks4a)
		return v;
	return nul_string(p + SOCKS4_HEAD + used, len - SOCKS4_HEAD - used, 0,
			  &used);
}

static enum pmx_verdict
probe(void *instance, const struct pmx_probe_input *in,
      struct pmx_probe_result *out)
{
	enum pmx_verdict v;

	(void)instance;
	if (in->transport != PMX_TRANSPORT_TCP)
		return PMX_NO_MATCH;
	if (in->len == 0)
		return in->final ? PMX_NO_MATCH : PMX_NEED_MORE;
	if (in->data[0] == 5)
		v = probe5(in->data, in->len);
	else if (in->data[0] == 4)
		v = probe4(in->data, in->len);
	else
		return PMX_NO_MATCH;
	if (v == PMX_NEED_MORE && in->final)
		return PMX_NO_MATCH;
	if (v == PMX_MATCH)
		pmx_result_set(out->key, in->data[0] == 5 ? "socks5" : "socks4",
			       6);
	return v;
}

/*
 * A client PortMux cannot serve for want of a route hears it in its
 * version: SOCKS5 "no acceptable methods" (05 FF, RFC 1928 §3), SOCKS4
 * "request rejected or failed" (00 5B and six bytes). When the backend is
 * down the version is not known here (no result): a plain close, which
 * clients report as a failed proxy connection all the same.
 */
static size_t
reject(void *instance, int why, const struct pmx_probe_result *res,
       uint8_t *buf, size_t cap)
{
	static const uint8_t v5[2] = {0x05, 0xff};
	static const uint8_t v4[8] = {0x00, 0x5b, 0, 0, 0, 0, 0, 0};
	const uint8_t *msg;
	size_t n;

	(void)instance;
	if (why != PMX_REJECT_NO_ROUTE || res == NULL)
		return 0;
	msg = res->key[5] == '5' ? v5 : v4;
	n = res->key[5] == '5' ? sizeof(v5) : sizeof(v4);
	if (n > cap)
		return 0;
	for (size_t i = 0; i < n; i++)
		buf[i] = msg[i];
	return n;
}

static const struct pmx_detector socks_detector = {
	.abi_version = PMX_DETECTOR_ABI_VERSION,
	.struct_size = sizeof(struct pmx_detector),
	.name = "socks",
	.version = "1.0",
	.description = "SOCKS4, SOCKS4a and SOCKS5 client greetings",
	.section = "SOCKS",
	.flags = PMX_DF_TCP | PMX_DF_ROUTES,
	.create = create,
	.probe = probe,
	.destroy = NULL,
	.reject = reject,
};

PMX_EXPORT const struct pmx_detector *
pmx_detector_entry(void)
{
	return &socks_detector;
}
