/*
 * openvpn.so — recognises the first packet of an OpenVPN client in TLS mode:
 * the client hard reset (OpenVPN src/openvpn/ssl_pkt.h), over TCP and UDP.
 *
 * The packet starts with one opcode byte, opcode << 3 | key_id, then the
 * 8-byte client session id. The first client packet is
 * P_CONTROL_HARD_RESET_CLIENT_V2 (7: 0x38), or _V3 (10: 0x50) with
 * tls-crypt-v2, always with key_id 0. The obsolete _V1 (1: 0x08, key-method
 * 1) is not accepted: OpenVPN 2.5 removed it, no current server answers it,
 * and matching it would only widen what garbage we claim. Static-key mode
 * (--secret) has no handshake at all and cannot be recognised by its first
 * packet. What follows the session id depends on the control-channel
 * wrapping (byte counts for a reset with no payload, as real clients send):
 *
 *   plain        ack_count(1)=0 msg_pid(4)=0                        14
 *   tls-auth     HMAC(16..64) pid(4) time(4) ack_count=0 msg_pid=0  38..86
 *   tls-crypt    pid(4) time(4) tag(32) encrypted(5..)              54
 *   tls-crypt-v2 as tls-crypt, then the wrapped client key WKc whose
 *                last 2 bytes are its own length (290..1024)        344..1078
 *
 * pid/time are the wrapping's replay counter: pid counts from 1 (a
 * tls-crypt-v2 client starts it at EARLY_NEG_START, 0x0f000000, to announce
 * early negotiation), time is the client's clock.
 *
 * TCP prefixes each packet with a 2-byte big-endian length. We decide on
 * the length and the opcode byte (3 bytes), using the bounds of OpenVPN's
 * own port-share test (src/openvpn/ps.c): 14..255 for V2, 336..1278 for
 * V3. Every real reset fits with room for a small payload: V2 at most 86
 * bytes (tls-auth with a 64-byte HMAC), V3 at most 54 + 1024. A V2 length
 * below 38 can only be a plain reset (the smallest wrapping is 38 bytes), so
 * there we also wait for its 14 bytes and check them: the one case where
 * more can be checked without knowing how the packet is wrapped. We never
 * compare the length with the bytes received: a packet split anywhere, or
 * followed by more bytes in the same read, is still recognised.
 *
 * UDP datagrams have no prefix and arrive whole, so we check the structure
 * of one of the four wrappings: the lengths, the fields that are zero, and
 * the replay counter where it is in clear.
 */
#include <portmux/detector.h>

#define RESET_CLIENT_V2 0x38 /* 7 << 3 | key_id 0 */
#define RESET_CLIENT_V3 0x50 /* 10 << 3 | key_id 0 */

#define SID_LEN 8
#define PLAIN_LEN 14      /* opcode, session id, ack count, msg packet id */
#define V2_MIN PLAIN_LEN
#define V2_MAX 255        /* ps.c; leaves room for reset payload TLVs */
#define V3_MIN 336        /* ps.c; the smallest real one is 54 + 290 */
#define V3_MAX 1278       /* ps.c: below WKC_MAX + 255 */
#define REPLAY_LEN 8      /* packet id, time */
#define TAG_LEN 32        /* tls-crypt HMAC-SHA256 tag */
#define TLS_AUTH_MIN (PLAIN_LEN + 16 + REPLAY_LEN)
#define TLS_CRYPT_MIN (1 + SID_LEN + REPLAY_LEN + TAG_LEN + 5)
#define WKC_MIN (2 + TAG_LEN + 256) /* length, tag, 2048-bit client key */
#define WKC_MAX 1024      /* TLS_CRYPT_V2_MAX_WKC_LEN */

/*
 * Replay counter bounds. A reset is resent with the next pid when
 * unanswered (about six times in the 60 s hand-window), so pid is small but
 * not always 1. The time floor, 2000-01-01, only rejects a clock no TLS
 * client could validate a server certificate with.
 */
#define PID_MAX 0xffffu
#define EARLY_NEG_START 0x0f000000u
#define TIME_MIN 946684800u

static const unsigned hmac_sizes[] = {
	16, /* MD5 */
	20, /* SHA1, RIPEMD160: the default */
	28, /* SHA224, SHA512-224 */
	32, /* SHA256, SHA512-256, SHA3-256, BLAKE2s256, SM3 */
	48, /* SHA384, SHA3-384 */
	64, /* SHA512, SHA3-512, BLAKE2b512, whirlpool */
};

static int
create(const struct pmx_host *host, const struct pmx_node *section,
       void **instance, char *err, size_t errlen)
{
	(void)host;
	(void)section;
	(void)err;
	(void)errlen;
	*instance = NULL; /* stateless */
	return 0;
}

static uint32_t
be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* The session id is random: all zero only in forged or blank packets. */
static int
sid_ok(const uint8_t *pkt)
{
	for (size_t i = 1; i <= SID_LEN; i++)
		if (pkt[i] != 0)
			return 1;
	return 0;
}

/* ack count 0 (nothing received yet) and msg packet id 0 (the first
 * reliable packet), at p: both are the same in every resend. */
static int
reliable_head_ok(const uint8_t *p)
{
	return p[0] == 0 && be32(p + 1) == 0;
}

/* A plain reset, at least PLAIN_LEN bytes at pkt. */
static int
plain_ok(const uint8_t *pkt)
{
	return sid_ok(pkt) && reliable_head_ok(pkt + 1 + SID_LEN);
}

/* The wrapping's pid and time at p; v3 allows the EARLY_NEG_START base. */
static int
replay_ok(const uint8_t *p, int v3)
{
	uint32_t pid = be32(p);

	if (v3 && (pid & 0xff000000u) == EARLY_NEG_START)
		pid &= ~EARLY_NEG_START;
	return pid >= 1 && pid <= PID_MAX && be32(p + 4) >= TIME_MIN;
}

/* tls-auth: the HMAC size is not on the wire, so try each one. */
static int
tls_auth_ok(const uint8_t *pkt, size_t len)
{
	for (size_t i = 0; i < sizeof(hmac_sizes) / sizeof(hmac_sizes[0]);
	     i++) {
		size_t at = 1 + SID_LEN + hmac_sizes[i];

		if (len < at + REPLAY_LEN + 5)
			break;
		if (replay_ok(pkt + at, 0) &&
		    reliable_head_ok(pkt + at + REPLAY_LEN))
			return 1;
	}
	return 0;
}

/* tls-crypt: only the header before the tag is in clear. */
static int
tls_crypt_ok(const uint8_t *pkt, size_t len, int v3)
{
	return len >= TLS_CRYPT_MIN && replay_ok(pkt + 1 + SID_LEN, v3);
}

/* tls-crypt-v2: a tls-crypt packet followed by the WKc, whose length is
 * the last 2 bytes of the datagram. */
static int
tls_crypt_v2_ok(const uint8_t *pkt, size_t len)
{
	size_t wkc;

	if (len < V3_MIN || len > V3_MAX)
		return 0;
	wkc = be16(pkt + len - 2);
	if (wkc < WKC_MIN || wkc > WKC_MAX || len - wkc < TLS_CRYPT_MIN)
		return 0;
	return tls_crypt_ok(pkt, len - wkc, 1);
}

static enum pmx_verdict
probe_udp(const uint8_t *pkt, size_t len)
{
	if (len < 1)
		return PMX_NO_MATCH;
	if (pkt[0] == RESET_CLIENT_V3)
		return tls_crypt_v2_ok(pkt, len) && sid_ok(pkt) ? PMX_MATCH
							       : PMX_NO_MATCH;
	if (pkt[0] != RESET_CLIENT_V2 || len < V2_MIN || len > V2_MAX ||
	    !sid_ok(pkt))
		return PMX_NO_MATCH;
	if (plain_ok(pkt) || tls_auth_ok(pkt, len) ||
	    tls_crypt_ok(pkt, len, 0))
		return PMX_MATCH;
	return PMX_NO_MATCH;
}

/* Is a TCP packet length possible for some reset (opcode still unknown)? */
static int
tcp_len_ok(uint32_t plen)
{
	return (plen >= V2_MIN && plen <= V2_MAX) ||
	       (plen >= V3_MIN && plen <= V3_MAX);
}

static enum pmx_verdict
probe_tcp(const uint8_t *p, size_t len, int final)
{
	uint32_t plen;

	/* A valid length is at most V3_MAX, so its high byte is small. */
	if (len >= 1 && p[0] > (V3_MAX >> 8))
		return PMX_NO_MATCH;
	if (len >= 2 && !tcp_len_ok(be16(p)))
		return PMX_NO_MATCH;
	if (len < 3)
		return final ? PMX_NO_MATCH : PMX_NEED_MORE;
	plen = be16(p);
	if (p[2] == RESET_CLIENT_V3)
		return plen >= V3_MIN ? PMX_MATCH : PMX_NO_MATCH;
	if (p[2] != RESET_CLIENT_V2 || plen > V2_MAX)
		return PMX_NO_MATCH;
	if (plen >= TLS_AUTH_MIN)
		return PMX_MATCH;
	/* Too short to be wrapped: a plain reset, whose header we can see. */
	if (len < 2 + PLAIN_LEN)
		/* With final, length and opcode are all the evidence there
		 * will be, as for a wrapped reset. */
		return final ? PMX_MATCH : PMX_NEED_MORE;
	return plain_ok(p + 2) ? PMX_MATCH : PMX_NO_MATCH;
}

static enum pmx_verdict
probe(void *instance, const struct pmx_probe_input *in,
      struct pmx_probe_result *out)
{
	enum pmx_verdict v;

	(void)instance;
	if (in->transport == PMX_TRANSPORT_UDP) {
		v = probe_udp(in->data, in->len);
		if (v == PMX_MATCH)
			pmx_result_set(out->key, "udp", 3);
	} else {
		v = probe_tcp(in->data, in->len, in->final);
		if (v == PMX_MATCH)
			pmx_result_set(out->key, "tcp", 3);
	}
	return v;
}

static const struct pmx_detector openvpn_detector = {
	.abi_version = PMX_DETECTOR_ABI_VERSION,
	.struct_size = sizeof(struct pmx_detector),
	.name = "openvpn",
	.version = "1.0",
	.description = "OpenVPN client hard reset (TCP and UDP, plain, "
		       "tls-auth, tls-crypt, tls-crypt-v2)",
	.section = "OPENVPN",
	.flags = PMX_DF_TCP | PMX_DF_UDP | PMX_DF_ROUTES,
	.create = create,
	.probe = probe,
	.destroy = NULL,
};

PMX_EXPORT const struct pmx_detector *
pmx_detector_entry(void)
{
	return &openvpn_detector;
}
