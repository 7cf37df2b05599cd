/* check_openvpn.c — openvpn.so: client hard resets over TCP and UDP, in
 * every wrapping, from real captures (tests/tools/make-openvpn-corpus.sh)
 * and built by hand. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static struct tu_det det;

static void
setup(void)
{
	tu_det_open(&det, "openvpn", NULL);
}

static void
teardown(void)
{
	tu_det_close(&det);
}

#define M PMX_MATCH
#define N PMX_NO_MATCH
#define W PMX_NEED_MORE

/* A byte string literal and its length (it may hold NULs). */
#define B(s) s, sizeof(s) - 1

/* A plain V2 reset: opcode, session id, ack count 0, msg packet id 0. */
#define SID "\x11\x22\x33\x44\x55\x66\x77\x88"
#define RESET "\x38" SID "\x00\x00\x00\x00\x00"

/* ---- TCP: hand-made streams ---- */

static const struct {
	const char *bytes;
	size_t len;
	int final;
	int verdict;
} tcp_cases[] = {
	{B("\x00\x0e" RESET), 0, M},
	/* the same followed by the next packet, or anything, in one read */
	{B("\x00\x0e" RESET "\x00\x0e" RESET), 0, M},
	{B("\x00\x0e" RESET "GET / HTTP/1.1\r\n"), 0, M},
	/* a plain reset with a payload (room for future TLVs) */
	{B("\x00\x14" RESET "\x00\x01\x00\x02\x00\x01"), 0, M},
	/* valid prefixes: wait */
	{B("\x00"), 0, W},
	{B("\x04"), 0, W},
	{B("\x00\x0e"), 0, W},
	{B("\x00\xff"), 0, W},
	{B("\x01\x50"), 0, W},
	{B("\x04\xfe"), 0, W},
	/* a length too short for any wrapping: plain, wait for its header */
	{B("\x00\x0e\x38"), 0, W},
	{B("\x00\x0e\x38" SID), 0, W},
	{B("\x00\x25\x38" SID "\x00\x00\x00\x00"), 0, W},
	/* wrapped lengths decide on 3 bytes (38 = smallest tls-auth) */
	{B("\x00\x26\x38"), 0, M},
	{B("\x00\x2a\x38"), 0, M},
	{B("\x00\xff\x38"), 0, M},
	{B("\x01\x50\x50"), 0, M},
	{B("\x01\x61\x50"), 0, M},
	{B("\x04\xfe\x50"), 0, M},
	/* final: decide on what is there */
	{B("\x00"), 1, N},
	{B("\x00\x0e"), 1, N},
	{B("\x00\x0e\x38"), 1, M},
	{B("\x00\x0e" RESET), 1, M},
	{B("\x00\x2a\x38"), 1, M},
	{B("\x00\x2a\x40"), 1, N},
	/* lengths out of bounds: 0, 1, 13, 256, 335, 1279, 65535 */
	{B("\x05"), 0, N},
	{B("\xff"), 0, N},
	{B("\x00\x00"), 0, N},
	{B("\x00\x01"), 0, N},
	{B("\x00\x0d"), 0, N},
	{B("\x01\x00"), 0, N},
	{B("\x01\x4f"), 0, N},
	{B("\x04\xff"), 0, N},
	{B("\xff\xff"), 0, N},
	/* the 14-byte reset of the peers doc with a bad length */
	{B("\x00\x00" RESET), 0, N},
	{B("\x00\x0d" RESET), 0, N},
	{B("\x01\x00" RESET), 0, N},
	{B("\x00\x0e\x00" RESET), 0, N},
	/* a length for one version, the opcode of the other */
	{B("\x01\x61\x38"), 0, N},
	{B("\x00\xff\x50"), 0, N},
	{B("\x00\x36\x50"), 0, N},
	/* key_id != 0 */
	{B("\x00\x2a\x39"), 0, N},
	{B("\x00\x2a\x3f"), 0, N},
	{B("\x01\x61\x51"), 0, N},
	{B("\x00\x0e\x39" SID "\x00\x00\x00\x00\x00"), 0, N},
	/* other opcodes: V1 reset (1), server resets (2, 8), soft reset (3),
	 * control (4), ack (5), data (6, 9), control WKc (11) */
	{B("\x00\x2a\x08"), 0, N},
	{B("\x00\x2a\x10"), 0, N},
	{B("\x00\x2a\x40"), 0, N},
	{B("\x00\x2a\x18"), 0, N},
	{B("\x00\x2a\x20"), 0, N},
	{B("\x00\x2a\x28"), 0, N},
	{B("\x00\x2a\x30"), 0, N},
	{B("\x00\x2a\x48"), 0, N},
	{B("\x01\x61\x58"), 0, N},
	/* a plain reset whose header is not a first packet's */
	{B("\x00\x0e\x38\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
	 0, N},
	{B("\x00\x0e\x38" SID "\x01\x00\x00\x00\x00"), 0, N},
	{B("\x00\x0e\x38" SID "\x00\x00\x00\x00\x01"), 0, N},
	/* other protocols */
	{B("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"), 0, N},
	{B("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"), 0, N},
	{B("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), 0, N},
	{B("\x03\x00\x00\x13\x0e\xe0\x00\x00"), 0, N}, /* RDP */
	{B("\x05\x01\x00"), 0, N},                     /* SOCKS5 */
	{B("\x00\x00\x00\x08\x04\xd2\x16\x2f"), 0, N}, /* PostgreSQL SSL */
};

START_TEST(test_openvpn__tcp_table)
{
	struct pmx_probe_result res;
	int v = tu_probe(&det, tcp_cases[_i].bytes, tcp_cases[_i].len,
			 tcp_cases[_i].final, &res);

	ck_assert_msg(v == tcp_cases[_i].verdict,
		      "case %d (%zu bytes): verdict %d, expected %d", _i,
		      tcp_cases[_i].len, v, tcp_cases[_i].verdict);
	if (v == M)
		ck_assert_str_eq(res.key, "tcp");
}
END_TEST

/* ---- TCP: captures ---- */

static const struct {
	const char *file;
	size_t first; /* shortest prefix that matches */
} tcp_flights[] = {
	{"tests/corpus/openvpn/tcp-plain.bin", 16},
	{"tests/corpus/openvpn/tcp-tls-auth.bin", 3},
	{"tests/corpus/openvpn/tcp-tls-auth-sha256.bin", 3},
	{"tests/corpus/openvpn/tcp-tls-auth-sha512.bin", 3},
	{"tests/corpus/openvpn/tcp-tls-crypt.bin", 3},
	{"tests/corpus/openvpn/tcp-tls-crypt-v2.bin", 3},
};

#define NTCP (int)(sizeof(tcp_flights) / sizeof(tcp_flights[0]))

/* Every split point: NEED_MORE until MATCH, never NO_MATCH first. */
START_TEST(test_openvpn__tcp_captured_prefixes)
{
	size_t len;
	uint8_t *data = tu_read(tcp_flights[_i].file, &len);

	/* the capture is one whole packet: what OpenVPN writes at once */
	ck_assert_uint_eq(len, 2 + ((size_t)data[0] << 8 | data[1]));
	ck_assert_uint_eq(tu_assert_prefixes(&det, data, len, "tcp"),
			  tcp_flights[_i].first);
	free(data);
}
END_TEST

/* sslh's "length == bytes received" misroutes these two. */
START_TEST(test_openvpn__tcp_split_after_8)
{
	struct pmx_probe_result res;
	size_t len;
	uint8_t *data = tu_read(tcp_flights[_i].file, &len);
	int v = tu_probe(&det, data, 8, 0, &res);

	ck_assert_int_eq(v, tcp_flights[_i].first <= 8 ? M : W);
	ck_assert_int_eq(tu_probe(&det, data, len, 0, &res), M);
	ck_assert_str_eq(res.key, "tcp");
	free(data);
}
END_TEST

START_TEST(test_openvpn__tcp_trailing_bytes)
{
	static const char *const tails[] = {
		"\x00", "GET / HTTP/1.1\r\n\r\n", "\xff\xff\xff\xff",
	};
	struct pmx_probe_result res;
	size_t len;
	uint8_t *data = tu_read(tcp_flights[_i].file, &len);
	uint8_t *two = malloc(2 * len + 32);

	ck_assert_ptr_nonnull(two);
	/* the packet twice in one read (a second packet behind it) */
	memcpy(two, data, len);
	memcpy(two + len, data, len);
	ck_assert_int_eq(tu_probe(&det, two, 2 * len, 0, &res), M);
	ck_assert_str_eq(res.key, "tcp");
	ck_assert_int_eq(tu_probe(&det, two, 2 * len, 1, &res), M);
	/* ... and every cut of that: the core may read any amount */
	tu_assert_prefixes(&det, two, 2 * len, "tcp");
	/* anything at all behind it */
	for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
		size_t tl = strlen(tails[t]) ? strlen(tails[t]) : 1;

		memcpy(two + len, tails[t], tl);
		ck_assert_int_eq(tu_probe(&det, two, len + tl, 0, &res), M);
		ck_assert_str_eq(res.key, "tcp");
	}
	free(two);
	free(data);
}
END_TEST

/* ---- UDP: captures ---- */

static const char *const udp_flights[] = {
	"tests/corpus/openvpn/udp-plain.bin",
	"tests/corpus/openvpn/udp-tls-auth-md5.bin",
	"tests/corpus/openvpn/udp-tls-auth.bin",
	"tests/corpus/openvpn/udp-tls-auth-sha256.bin",
	"tests/corpus/openvpn/udp-tls-auth-sha384.bin",
	"tests/corpus/openvpn/udp-tls-auth-sha512.bin",
	"tests/corpus/openvpn/udp-tls-crypt.bin",
	"tests/corpus/openvpn/udp-tls-crypt-v2.bin",
};

#define NUDP (int)(sizeof(udp_flights) / sizeof(udp_flights[0]))

START_TEST(test_openvpn__udp_captured)
{
	struct pmx_probe_result res;
	size_t len;
	uint8_t *data = tu_read(udp_flights[_i], &len);

	ck_assert_int_eq(tu_probe_udp(&det, data, len, &res), M);
	ck_assert_str_eq(res.key, "udp");
	free(data);
}
END_TEST

/* Changes that make any capture something else. */
START_TEST(test_openvpn__udp_captured_mutations)
{
	static const uint8_t not_resets[] = {
		0x39, 0x3f, 0x51, /* key_id != 0 */
		0x08,             /* V1: obsolete, not accepted */
		0x40, 0x48, 0x20, 0x28, 0x30, 0x58, 0x00, 0xff,
	};
	struct pmx_probe_result res;
	size_t len;
	uint8_t *data = tu_read(udp_flights[_i], &len);
	uint8_t op = data[0];

	for (size_t k = 0; k < sizeof(not_resets); k++) {
		data[0] = not_resets[k];
		ck_assert_msg(tu_probe_udp(&det, data, len, &res) == N,
			      "%s with opcode byte 0x%02x matched",
			      udp_flights[_i], not_resets[k]);
	}
	data[0] = op;
	memset(data + 1, 0, 8); /* session id */
	ck_assert_int_eq(tu_probe_udp(&det, data, len, &res), N);
	free(data);
}
END_TEST

/* A datagram too short for any wrapping of its opcode. */
START_TEST(test_openvpn__udp_too_short)
{
	struct pmx_probe_result res;
	size_t len;
	uint8_t *data = tu_read(udp_flights[_i], &len);
	size_t min = data[0] == 0x50 ? 336 : 14;

	for (size_t n = 0; n < min && n < len; n++)
		ck_assert_msg(tu_probe_udp(&det, data, n, &res) == N,
			      "%s cut to %zu bytes matched", udp_flights[_i],
			      n);
	free(data);
}
END_TEST

/* The TCP and UDP packets are the same but for the length prefix. */
START_TEST(test_openvpn__cross_transport)
{
	struct pmx_probe_result res;
	size_t len;
	uint8_t *data = tu_read(udp_flights[_i], &len);
	uint8_t *framed = malloc(len + 2);

	ck_assert_ptr_nonnull(framed);
	framed[0] = (uint8_t)(len >> 8);
	framed[1] = (uint8_t)len;
	memcpy(framed + 2, data, len);
	tu_assert_prefixes(&det, framed, len + 2, "tcp");
	/* framed is not a datagram, nor a datagram a TCP stream */
	ck_assert_int_eq(tu_probe_udp(&det, framed, len + 2, &res), N);
	ck_assert_int_eq(tu_probe(&det, data, len, 0, &res), N);
	free(framed);
	free(data);
}
END_TEST

START_TEST(test_openvpn__tcp_capture_as_datagram)
{
	struct pmx_probe_result res;
	size_t len;
	uint8_t *data = tu_read(tcp_flights[_i].file, &len);

	ck_assert_int_eq(tu_probe_udp(&det, data + 2, len - 2, &res), M);
	ck_assert_str_eq(res.key, "udp");
	free(data);
}
END_TEST

/* ---- UDP: hand-made datagrams of each wrapping ---- */

#define PID1 0x00000001u
#define EARLY_NEG1 0x0f000001u
#define NOW 1795710015u      /* a 2026 timestamp, as in the captures */
#define Y2K 946684800u       /* the floor */

static size_t
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return 4;
}

/* opcode and session id */
static size_t
put_head(uint8_t *p, uint8_t op)
{
	p[0] = op;
	memcpy(p + 1, SID, 8);
	return 9;
}

/* tls-auth: HMAC (0xa5 filler), pid, time, ack count, msg packet id. */
static size_t
mk_tls_auth(uint8_t *p, size_t hmac, uint32_t pid, uint32_t t, uint8_t acks)
{
	size_t n = put_head(p, 0x38);

	memset(p + n, 0xa5, hmac);
	n += hmac;
	n += put32(p + n, pid);
	n += put32(p + n, t);
	p[n++] = acks;
	n += put32(p + n, 0);
	return n;
}

/* tls-crypt: pid, time, tag, 5 encrypted bytes (0x5a filler), then for
 * V3 a WKc of wkc bytes whose last 2 are its length `wkc_field`. */
static size_t
mk_tls_crypt(uint8_t *p, uint8_t op, uint32_t pid, uint32_t t, size_t wkc,
	     size_t wkc_field)
{
	size_t n = put_head(p, op);

	n += put32(p + n, pid);
	n += put32(p + n, t);
	memset(p + n, 0x5a, 32 + 5 + wkc);
	n += 32 + 5 + wkc;
	if (wkc >= 2) {
		p[n - 2] = (uint8_t)(wkc_field >> 8);
		p[n - 1] = (uint8_t)wkc_field;
	}
	return n;
}

static const struct {
	const char *what;
	int kind; /* 'a' tls-auth, 'c' tls-crypt, '2' tls-crypt-v2 */
	size_t size; /* HMAC bytes, or WKc bytes */
	uint32_t pid, time;
	int verdict;
	size_t wkc_field; /* 0: = size */
} udp_cases[] = {
	{"tls-auth MD5", 'a', 16, PID1, NOW, M, 0},
	{"tls-auth SHA1", 'a', 20, PID1, NOW, M, 0},
	{"tls-auth SHA224", 'a', 28, PID1, NOW, M, 0},
	{"tls-auth SHA256", 'a', 32, PID1, NOW, M, 0},
	{"tls-auth SHA384", 'a', 48, PID1, NOW, M, 0},
	{"tls-auth SHA512", 'a', 64, PID1, NOW, M, 0},
	{"tls-auth resent", 'a', 20, 6, NOW, M, 0},
	{"tls-auth pid max", 'a', 20, 0xffff, NOW, M, 0},
	{"tls-auth at the time floor", 'a', 20, PID1, Y2K, M, 0},
	{"tls-auth time past 2038", 'a', 20, PID1, 0xfffffffeu, M, 0},
	{"tls-auth pid 0", 'a', 20, 0, NOW, N, 0},
	{"tls-auth pid too big", 'a', 20, 0x10000, NOW, N, 0},
	{"tls-auth early-neg pid (tls-crypt-v2 only)", 'a', 20, EARLY_NEG1, NOW,
	 N, 0},
	{"tls-auth time 0", 'a', 20, PID1, 0, N, 0},
	{"tls-auth time before 2000", 'a', 20, PID1, Y2K - 1, N, 0},
	{"tls-auth HMAC of 12 bytes", 'a', 12, PID1, NOW, N, 0},
	{"tls-auth HMAC of 24 bytes", 'a', 24, PID1, NOW, N, 0},
	{"tls-crypt", 'c', 0, PID1, NOW, M, 0},
	{"tls-crypt resent", 'c', 0, 3, NOW, M, 0},
	{"tls-crypt pid 0", 'c', 0, 0, NOW, N, 0},
	{"tls-crypt pid too big", 'c', 0, 0x12345678, NOW, N, 0},
	{"tls-crypt time 0", 'c', 0, PID1, 0, N, 0},
	{"tls-crypt-v2", '2', 299, EARLY_NEG1, NOW, M, 0},
	{"tls-crypt-v2 2.5 client (no early-neg)", '2', 299, PID1, NOW, M, 0},
	{"tls-crypt-v2 smallest WKc", '2', 290, EARLY_NEG1, NOW, M, 0},
	{"tls-crypt-v2 largest WKc", '2', 1024, EARLY_NEG1, NOW, M, 0},
	{"tls-crypt-v2 WKc too small", '2', 289, EARLY_NEG1, NOW, N, 0},
	{"tls-crypt-v2 WKc too big", '2', 1025, EARLY_NEG1, NOW, N, 0},
	{"tls-crypt-v2 WKc length lies (short)", '2', 299, EARLY_NEG1, NOW, N,
	 200},
	{"tls-crypt-v2 WKc length lies (no room for the header)", '2', 299,
	 EARLY_NEG1, NOW, N, 320},
	{"tls-crypt-v2 pid 0x0f000000", '2', 299, 0x0f000000, NOW, N, 0},
	{"tls-crypt-v2 pid 0x01000001", '2', 299, 0x01000001, NOW, N, 0},
	{"tls-crypt-v2 time 0", '2', 299, EARLY_NEG1, 0, N, 0},
};

START_TEST(test_openvpn__udp_wrappings)
{
	uint8_t buf[1400];
	struct pmx_probe_result res;
	size_t len;
	int v;

	if (udp_cases[_i].kind == 'a')
		len = mk_tls_auth(buf, udp_cases[_i].size, udp_cases[_i].pid,
				  udp_cases[_i].time, 0);
	else
		len = mk_tls_crypt(buf, udp_cases[_i].kind == '2' ? 0x50 : 0x38,
				   udp_cases[_i].pid, udp_cases[_i].time,
				   udp_cases[_i].kind == '2' ? udp_cases[_i].size
							     : 0,
				   udp_cases[_i].wkc_field
					   ? udp_cases[_i].wkc_field
					   : udp_cases[_i].size);
	v = tu_probe_udp(&det, buf, len, &res);
	ck_assert_msg(v == udp_cases[_i].verdict,
		      "%s (%zu bytes): verdict %d, expected %d",
		      udp_cases[_i].what, len, v, udp_cases[_i].verdict);
	if (v == M)
		ck_assert_str_eq(res.key, "udp");
}
END_TEST

static const struct {
	const char *bytes;
	size_t len;
	int verdict;
} udp_bytes[] = {
	{B(RESET), M},
	{B(RESET "\x00\x01\x00\x02\x00\x01"), M}, /* with a payload */
	{B(""), N},
	{B("\x38"), N},
	{B("\x38" SID "\x00\x00\x00\x00"), N},  /* 13 bytes */
	{B("\x00\x0e" RESET), N},               /* TCP framing */
	{B("\x39" SID "\x00\x00\x00\x00\x00"), N},
	{B("\x40" SID "\x00\x00\x00\x00\x00"), N},
	{B("\x48" SID "\x00\x00\x00\x00\x00"), N},
	{B("\x08" SID "\x00\x00\x00\x00\x00"), N},
	{B("\x38\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), N},
	{B("\x38" SID "\x01\x00\x00\x00\x00"), N},
	{B("\x38" SID "\x00\x00\x00\x00\x02"), N},
	{B("\x50" SID "\x0f\x00\x00\x01\x6b\x08\x5c\x3f"), N},
	{B("GET / HTTP/1.1\r\n\r\n"), N},
	{B("\x16\xfe\xfd\x00\x00\x00\x00\x00\x00\x00\x00"), N}, /* DTLS */
	{B("\x01\x00\x00\x00"), N},                           /* WireGuard */
	/* a DNS query whose id starts with 0x38 */
	{B("\x38\x4b\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07" "example\x03"
	   "com\x00\x00\x01\x00\x01"),
	 N},
};

START_TEST(test_openvpn__udp_table)
{
	struct pmx_probe_result res;
	int v = tu_probe_udp(&det, udp_bytes[_i].bytes, udp_bytes[_i].len,
			     &res);

	ck_assert_msg(v == udp_bytes[_i].verdict,
		      "case %d (%zu bytes): verdict %d, expected %d", _i,
		      udp_bytes[_i].len, v, udp_bytes[_i].verdict);
	if (v == M)
		ck_assert_str_eq(res.key, "udp");
}
END_TEST

START_TEST(test_openvpn__udp_length_bounds)
{
	uint8_t buf[1400];
	struct pmx_probe_result res;
	size_t len = mk_tls_auth(buf, 20, PID1, NOW, 0);

	/* a V2 reset with a payload up to 255 bytes in all */
	memset(buf + len, 0, sizeof(buf) - len);
	ck_assert_int_eq(tu_probe_udp(&det, buf, 255, &res), M);
	ck_assert_int_eq(tu_probe_udp(&det, buf, 256, &res), N);
	/* a tls-auth reset whose first packet carries acks is not a first
	 * packet */
	len = mk_tls_auth(buf, 20, PID1, NOW, 1);
	ck_assert_int_eq(tu_probe_udp(&det, buf, len, &res), N);
	/* tls-crypt-v2 up to 1278 bytes in all */
	len = mk_tls_crypt(buf, 0x50, EARLY_NEG1, NOW, 1024, 1024);
	ck_assert_uint_eq(len, 1078);
	memmove(buf + 1278 - 1024, buf + len - 1024, 1024);
	ck_assert_int_eq(tu_probe_udp(&det, buf, 1278, &res), M);
	memmove(buf + 1279 - 1024, buf + 1278 - 1024, 1024);
	ck_assert_int_eq(tu_probe_udp(&det, buf, 1279, &res), N);
}
END_TEST

/* ---- everything ---- */

START_TEST(test_openvpn__descriptor)
{
	const struct pmx_detector *d = det.plugin->desc;

	ck_assert_str_eq(d->name, "openvpn");
	ck_assert_str_eq(d->section, "OPENVPN");
	ck_assert_uint_eq(d->flags, PMX_DF_TCP | PMX_DF_UDP | PMX_DF_ROUTES);
}
END_TEST

START_TEST(test_openvpn__garbage)
{
	uint8_t buf[1400];
	struct pmx_probe_result res;
	unsigned seed = 7;

	for (int n = 0; n < 20000; n++) {
		size_t len = (size_t)(rand_r(&seed) % (sizeof(buf) + 1));
		int v;

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rand_r(&seed);
		/* steer a share of it past the first checks */
		if (n % 4 == 0 && len >= 3) {
			buf[0] = (uint8_t)(rand_r(&seed) % 5);
			buf[2] = n % 8 ? 0x38 : 0x50;
		} else if (n % 4 == 1 && len >= 1) {
			buf[0] = n % 8 == 1 ? 0x38 : 0x50;
		} else if (n % 4 == 2 && len >= 23) {
			len = mk_tls_crypt(buf, 0x50, EARLY_NEG1, NOW,
					   (size_t)rand_r(&seed) % 1100,
					   (size_t)rand_r(&seed) % 1300);
		}
		v = tu_probe(&det, buf, len, n % 2, &res);
		ck_assert(v == M || v == N || (v == W && n % 2 == 0));
		ck_assert(v != M || strcmp(res.key, "tcp") == 0);
		v = tu_probe_udp(&det, buf, len, &res);
		ck_assert(v == M || v == N);
		ck_assert(v != M || strcmp(res.key, "udp") == 0);
	}
}
END_TEST

Suite *make_suite_openvpn(void);
Suite *
make_suite_openvpn(void)
{
	Suite *s = suite_create("openvpn");
	TCase *tc = tcase_create("detector");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_openvpn__descriptor);
	tcase_add_loop_test(tc, test_openvpn__tcp_table, 0,
			    (int)(sizeof(tcp_cases) / sizeof(tcp_cases[0])));
	tcase_add_loop_test(tc, test_openvpn__tcp_captured_prefixes, 0, NTCP);
	tcase_add_loop_test(tc, test_openvpn__tcp_split_after_8, 0, NTCP);
	tcase_add_loop_test(tc, test_openvpn__tcp_trailing_bytes, 0, NTCP);
	tcase_add_loop_test(tc, test_openvpn__tcp_capture_as_datagram, 0,
			    NTCP);
	tcase_add_loop_test(tc, test_openvpn__udp_captured, 0, NUDP);
	tcase_add_loop_test(tc, test_openvpn__udp_captured_mutations, 0, NUDP);
	tcase_add_loop_test(tc, test_openvpn__udp_too_short, 0, NUDP);
	tcase_add_loop_test(tc, test_openvpn__cross_transport, 0, NUDP);
	tcase_add_loop_test(tc, test_openvpn__udp_wrappings, 0,
			    (int)(sizeof(udp_cases) / sizeof(udp_cases[0])));
	tcase_add_loop_test(tc, test_openvpn__udp_table, 0,
			    (int)(sizeof(udp_bytes) / sizeof(udp_bytes[0])));
	tcase_add_test(tc, test_openvpn__udp_length_bounds);
	tcase_add_test(tc, test_openvpn__garbage);
	suite_add_tcase(s, tc);
	return s;
}
