/*
 * check_tls.c — tls.so: ClientHello recognition, SNI/ALPN/ECH, the prefix
 * property on real captures and on the same ClientHellos re-framed into 2
 * and 3 TLS records, malformed input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static struct tu_det det;

static void
setup(void)
{
	tu_det_open(&det, "tls", NULL);
}

static void
teardown(void)
{
	tu_det_close(&det);
}

#define M PMX_MATCH
#define N PMX_NO_MATCH
#define W PMX_NEED_MORE
#define ECH PMX_RF_ECH

/* A byte string literal and its length (it may hold NULs). */
#define B(s) s, sizeof(s) - 1

static size_t
be16(const uint8_t *p)
{
	return (size_t)p[0] << 8 | p[1];
}

/* ---- building ClientHellos ---- */

struct buf {
	uint8_t b[4096];
	size_t n;
};

static void
put(struct buf *o, const void *p, size_t n)
{
	ck_assert_uint_le(o->n + n, sizeof(o->b));
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void
put8(struct buf *o, size_t v)
{
	uint8_t b = (uint8_t)v;

	put(o, &b, 1);
}

static void
put16(struct buf *o, size_t v)
{
	put8(o, v >> 8);
	put8(o, v);
}

static void
put24(struct buf *o, size_t v)
{
	put8(o, v >> 16);
	put16(o, v);
}

static void
fill(struct buf *o, uint8_t byte, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put8(o, byte);
}

enum ext_kind {
	X_END = 0,
	X_RAW,   /* type, computed length, body */
	X_SNI,   /* server_name with one host_name = body */
	X_ALPN,  /* ALPN; body = names separated by '|' */
	X_BYTES, /* body verbatim: a hand-made (broken) extension */
};

struct ext {
	enum ext_kind kind;
	unsigned type;
	const char *body;
	size_t len;
};

#define RAW(t, s) {X_RAW, (t), B(s)}
#define SNI(s) {X_SNI, 0, B(s)}
#define ALPN(s) {X_ALPN, 16, B(s)}
#define BYTES(s) {X_BYTES, 0, B(s)}

struct hello {
	unsigned rec_ver; /* record version; 0: 0x0301 */
	unsigned version; /* legacy_version; 0: 0x0303 */
	unsigned type;    /* handshake type; 0: client_hello */
	int sid;          /* session id length */
	int cs;           /* cipher suites length; 0: 4, -1: none */
	int comp;         /* compression methods length; 0: 1, -1: none */
	int bare;         /* no extension block at all */
	int hs_delta;     /* added to the handshake length */
	int ext_delta;    /* added to the extension block length */
	struct ext ext[6];
};

static int
or_default(int v, int dflt)
{
	return v == 0 ? dflt : v < 0 ? 0 : v;
}

static void
put_ext(struct buf *o, const struct ext *e)
{
	struct buf list = {.n = 0};
	const char *p = e->body, *end = e->body + e->len;

	switch (e->kind) {
	case X_RAW:
		put16(o, e->type);
		put16(o, e->len);
		put(o, e->body, e->len);
		break;
	case X_SNI:
		put16(o, 0);
		put16(o, e->len + 5);
		put16(o, e->len + 3);
		put8(o, 0);
		put16(o, e->len);
		put(o, e->body, e->len);
		break;
	case X_ALPN:
		while (p <= end) {
			const char *bar = memchr(p, '|', (size_t)(end - p));
			size_t n = bar ? (size_t)(bar - p) : (size_t)(end - p);

			put8(&list, n);
			put(&list, p, n);
			p += n + 1;
		}
		put16(o, e->type);
		put16(o, list.n + 2);
		put16(o, list.n);
		put(o, list.b, list.n);
		break;
	case X_BYTES:
		put(o, e->body, e->len);
		break;
	case X_END:
		break;
	}
}

/* One TLS record holding one handshake message built from *h. */
static void
build(const struct hello *h, struct buf *o)
{
	struct buf body = {.n = 0}, exts = {.n = 0};

	put16(&body, h->version ? h->version : 0x0303);
	fill(&body, 0x5a, 32); /* random */
	put8(&body, (size_t)h->sid);
	fill(&body, 0x11, (size_t)h->sid);
	put16(&body, (size_t)or_default(h->cs, 4));
	fill(&body, 0x13, (size_t)or_default(h->cs, 4));
	put8(&body, (size_t)or_default(h->comp, 1));
	fill(&body, 0x00, (size_t)or_default(h->comp, 1));
	for (size_t i = 0; h->ext[i].kind != X_END; i++)
		put_ext(&exts, &h->ext[i]);
	if (!h->bare) {
		put16(&body, (size_t)((int)exts.n + h->ext_delta));
		put(&body, exts.b, exts.n);
	}
	o->n = 0;
	put8(o, 0x16);
	put16(o, h->rec_ver ? h->rec_ver : 0x0301);
	put16(o, body.n + 4);
	put8(o, h->type ? h->type : 1);
	put24(o, (size_t)((int)body.n + h->hs_delta));
	put(o, body.b, body.n);
}

/* ---- probing helpers ---- */

/*
 * Rewrite a single-record ClientHello as ncuts + 1 records, cutting its
 * payload at the increasing offsets cuts[] (each in 1..L-1). The records
 * keep the original record version. Returns malloc'd bytes.
 */
static uint8_t *
reframe(const uint8_t *ch, size_t len, const size_t *cuts, size_t ncuts,
	size_t *outlen)
{
	size_t L = be16(ch + 3), prev = 0, o = 0;
	uint8_t *out = malloc(len + 5 * ncuts);

	ck_assert_ptr_nonnull(out);
	ck_assert_msg(ch[0] == 0x16 && len == 5 + L, "not one record");
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : L;

		ck_assert(end > prev && end <= L);
		out[o++] = 0x16;
		out[o++] = ch[1];
		out[o++] = ch[2];
		out[o++] = (uint8_t)((end - prev) >> 8);
		out[o++] = (uint8_t)(end - prev);
		memcpy(out + o, ch + 5 + prev, end - prev);
		o += end - prev;
		prev = end;
	}
	*outlen = o;
	return out;
}

/* The whole flight matches with this key, ALPN and flags, and every
 * truncation waits until then (never NO_MATCH). `what` names the flight
 * in failure messages. */
static void
assert_flight(const char *what, const uint8_t *data, size_t len,
	      const char *key, const char *alpn, uint32_t flags)
{
	struct pmx_probe_result res;
	int v = tu_probe(&det, data, len, 0, &res);

	ck_assert_msg(v == M, "%s: verdict %d", what, v);
	ck_assert_msg(strcmp(res.key, key) == 0, "%s: key '%s'", what,
		      res.key);
	ck_assert_msg(strcmp(res.alpn, alpn) == 0, "%s: alpn '%s'", what,
		      res.alpn);
	ck_assert_msg(res.flags == flags, "%s: flags %u", what, res.flags);
	ck_assert_msg(tu_assert_prefixes(&det, data, len, key) == len,
		      "%s: matched before its end", what);
}

/* Probe with an exact probe-buffer capacity (tu_probe uses 16 KiB). */
static int
probe_cap(const uint8_t *data, size_t len, size_t cap,
	  struct pmx_probe_result *res)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct pmx_probe_input in = {
		.data = copy,
		.len = len,
		.capacity = cap,
		.transport = PMX_TRANSPORT_TCP,
	};
	int v;

	memcpy(copy, data, len);
	memset(res, 0, sizeof(*res));
	v = det.plugin->desc->probe(det.instance, &in, res);
	free(copy);
	return v;
}

/* ---- raw byte strings ---- */

static const struct {
	const char *bytes;
	size_t len;
	int final;
	int verdict;
} raws[] = {
	/* a record header arriving byte by byte */
	{B("\x16"), 0, W},
	{B("\x16\x03"), 0, W},
	{B("\x16\x03\x01"), 0, W},
	{B("\x16\x03\x01\x02"), 0, W},
	{B("\x16\x03\x01\x02\x00"), 0, W},
	{B("\x16\x03\x01\x02\x00\x01"), 0, W},
	{B("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), 0, W},
	{B("\x16\x03\x00\x00\x30"), 0, W},
	{B("\x16\x03\x04\x00\x30"), 0, W},
	{B("\x16\x03\x01\x41\x00"), 0, W}, /* 2^14 + 256 */
	/* final: a valid prefix is TLS enough (default route) */
	{B("\x16"), 1, M},
	{B("\x16\x03\x01\x02\x00\x01"), 1, M},
	/* nothing yet */
	{B(""), 0, W},
	{B(""), 1, N},
	/* record layer */
	{B("\x16\x02"), 0, N},
	{B("\x16\x04"), 0, N},
	{B("\x16\x03\x05"), 0, N},
	{B("\x16\x02\x00\x00\x30"), 0, N},
	{B("\x16\x03\x01\x42"), 0, N},          /* > 2^14 + 256 */
	{B("\x16\x03\x01\x41\x01"), 0, N},
	{B("\x16\x03\x01\x00\x00"), 0, N},      /* empty fragment */
	{B("\x17\x03\x03\x00\x10"), 0, N},      /* application data */
	{B("\x17"), 0, N},
	{B("\x15\x03\x01\x00\x02\x02\x28"), 0, N}, /* alert */
	{B("\x14\x03\x01\x00\x01\x01"), 0, N},  /* change_cipher_spec */
	/* handshake layer */
	{B("\x16\x03\x01\x00\x30\x02"), 0, N}, /* server_hello */
	{B("\x16\x03\x01\x00\x30\x00"), 0, N}, /* hello_request */
	{B("\x16\x03\x01\x00\x30\x0b"), 0, N}, /* certificate */
	{B("\x16\x03\x01\x00\x30\x01\x00\x00\x28"), 0, N}, /* 40 < 41 bytes */
	{B("\x16\x03\x01\x00\x30\x01\x00\x00\x29\x04"), 0, N}, /* version 4.x */
	{B("\x16\x03\x01\x00\x30\x01\x00\x00\x29\x03\x05"), 0, N},
	{B("\x16\x03\x01\x00\x30\x01\x00\x00\x29\x02\x00"), 0, N},
	/* other protocols */
	{B("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"), 0, N},
	{B("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 0, N},
	{B("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"), 0, N},
	{B("\x00\x0e\x38\x01\x02\x03\x04\x05\x06\x07\x08\x00\x00\x00\x00\x00"),
	 0, N}, /* OpenVPN hard reset */
	{B("\x05\x01\x00"), 0, N},             /* SOCKS5 */
	{B("\x03\x00\x00\x13\x0e\xe0"), 0, N}, /* RDP */
	{B("\xc3\x00\x00\x00\x01"), 0, N},     /* QUIC long header */
	{B("\x3b\x91\x0f\x66\x2a\xe0\x4d\x07"), 0, N}, /* random */
	{B("\x16\x16\x16\x16\x16\x16"), 0, N},
	/* SSLv2-compatible hello: prefixes and broken ones */
	{B("\x80"), 0, W},
	{B("\x80\x22"), 0, W},
	{B("\x80\x22\x01\x03\x01"), 0, W},
	{B("\x80\x22\x01\x03\x01\x00\x09\x00\x00\x00\x10"), 0, W},
	{B("\x80\x22\x01\x03\x01\x00\x09\x00\x00\x00\x10"), 1, M},
	{B("\x80\x1b"), 0, N},                 /* shorter than any hello */
	{B("\x80\x22\x02"), 0, N},             /* not CLIENT-HELLO */
	{B("\x80\x22\x01\x02"), 0, N},         /* version 2.x */
	{B("\x80\x22\x01\x03\x04"), 0, N},     /* TLS 1.3 has no v2 hello */
	{B("\x80\x22\x01\x00\x03"), 0, N},
	{B("\x80\x22\x01\x03\x01\x00\x08"), 0, N}, /* cipher specs 3 bytes */
	{B("\x80\x22\x01\x03\x01\x00\x00"), 0, N},
	{B("\x80\x22\x01\x03\x01\x00\x09\x00\x21"), 0, N}, /* session id */
	{B("\x80\x22\x01\x03\x01\x00\x09\x00\x00\x00\x0f"), 0, N},
	{B("\x80\x22\x01\x03\x01\x00\x09\x00\x00\x00\x21"), 0, N},
	{B("\x80\x22\x01\x03\x01\x00\x09\x00\x00\x00\x11"), 0, N}, /* sum */
};

START_TEST(test_tls__raw)
{
	struct pmx_probe_result res;
	int v = tu_probe(&det, raws[_i].bytes, raws[_i].len, raws[_i].final,
			 &res);

	ck_assert_msg(v == raws[_i].verdict,
		      "raw case %d: verdict %d, expected %d", _i, v,
		      raws[_i].verdict);
	if (v == M)
		ck_assert_str_eq(res.key, "");
}
END_TEST

/* ---- synthetic ClientHellos ---- */

#define A10 "aaaaaaaaaa"
#define A60 A10 A10 A10 A10 A10 A10
#define A63 A60 "aaa"
#define A61 A60 "a"
#define X60 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define ECH_BODY "\x00\x00\x01\x00\x01\x7f\x00\x00\x00\x00"

static const struct {
	const char *what;
	struct hello h;
	int final;
	int verdict;
	const char *key;
	const char *alpn;
	uint32_t flags;
} hellos[] = {
	{"SSL 3.0 style, no extensions", {.bare = 1}, 0, M, "", "", 0},
	{"empty extension block", {.ext = {{X_END, 0, NULL, 0}}}, 0, M, "", "",
	 0},
	{"SNI", {.ext = {SNI("a.test")}}, 0, M, "a.test", "", 0},
	{"SNI and ALPN",
	 {.ext = {RAW(0x000b, "\x01\x00"), SNI("a.test"),
		  ALPN("h2|http/1.1")}},
	 0, M, "a.test", "h2,http/1.1", 0},
	{"ALPN before SNI", {.ext = {ALPN("http/1.1"), SNI("b.test")}}, 0, M,
	 "b.test", "http/1.1", 0},
	/* record and hello versions */
	{"record 3.0", {.rec_ver = 0x0300, .version = 0x0300, .bare = 1}, 0, M,
	 "", "", 0},
	{"record 3.2", {.rec_ver = 0x0302, .ext = {SNI("v.test")}}, 0, M,
	 "v.test", "", 0},
	{"record 3.3", {.rec_ver = 0x0303, .ext = {SNI("v.test")}}, 0, M,
	 "v.test", "", 0},
	{"record 3.4", {.rec_ver = 0x0304, .ext = {SNI("v.test")}}, 0, M,
	 "v.test", "", 0},
	{"record 3.5", {.rec_ver = 0x0305, .ext = {SNI("v.test")}}, 0, N, NULL,
	 NULL, 0},
	{"record 2.0", {.rec_ver = 0x0200, .ext = {SNI("v.test")}}, 0, N, NULL,
	 NULL, 0},
	{"hello 3.4", {.version = 0x0304, .ext = {SNI("v.test")}}, 0, M,
	 "v.test", "", 0},
	{"hello 3.5", {.version = 0x0305}, 0, N, NULL, NULL, 0},
	{"hello 2.0", {.version = 0x0200}, 0, N, NULL, NULL, 0},
	{"hello 0xfeff (DTLS)", {.version = 0xfeff}, 0, N, NULL, NULL, 0},
	/* fixed fields */
	{"server_hello", {.type = 2}, 0, N, NULL, NULL, 0},
	{"session id 32", {.sid = 32, .ext = {SNI("s.test")}}, 0, M, "s.test",
	 "", 0},
	{"session id 33", {.sid = 33}, 0, N, NULL, NULL, 0},
	{"odd cipher suites", {.cs = 3}, 0, N, NULL, NULL, 0},
	{"no cipher suites", {.cs = -1}, 0, N, NULL, NULL, 0},
	{"one cipher suite", {.cs = 2, .bare = 1}, 0, M, "", "", 0},
	{"no compression methods", {.comp = -1}, 0, N, NULL, NULL, 0},
	/* lengths that do not add up */
	{"message shorter than its fields", {.hs_delta = -1}, 0, N, NULL, NULL,
	 0},
	{"message shorter than any hello", {.bare = 1, .hs_delta = -3}, 0, N,
	 NULL, NULL, 0},
	{"message longer than sent (waits)",
	 {.hs_delta = 9, .ext_delta = 9, .ext = {SNI("w.test")}}, 0, W, NULL,
	 NULL, 0},
	{"message longer than sent, final",
	 {.hs_delta = 9, .ext_delta = 9, .ext = {SNI("w.test"), ALPN("h2")}},
	 1, M, "w.test", "h2", 0},
	{"final inside the ALPN extension: SNI only",
	 {.hs_delta = 9, .ext_delta = 9,
	  .ext = {SNI("w.test"), BYTES("\x00\x10\x00\x05\x00\x03\x02h")}},
	 1, M, "w.test", "", 0},
	{"extension block overruns the message",
	 {.ext_delta = 1, .ext = {SNI("o.test")}}, 0, N, NULL, NULL, 0},
	{"extension block short of the message",
	 {.ext_delta = -1, .ext = {SNI("o.test")}}, 0, N, NULL, NULL, 0},
	{"one stray byte after compression", {.bare = 1, .hs_delta = 1}, 0, N,
	 NULL, NULL, 0},
	{"extension overruns the block",
	 {.ext = {SNI("o.test"), BYTES("\x00\x05\x00\x10\x00")}}, 0, N, NULL,
	 NULL, 0},
	{"truncated extension header",
	 {.ext = {SNI("o.test"), BYTES("\x00\x05\x00")}}, 0, N, NULL, NULL, 0},
	/* GREASE (RFC 8701) is skipped */
	{"GREASE",
	 {.ext = {RAW(0x0a0a, ""), SNI("g.test"), ALPN("\x1a\x1a|h2|\xfa\xfa"),
		  RAW(0xfafa, "\x00")}},
	 0, M, "g.test", "h2", 0},
	{"GREASE-looking ALPN of another length kept",
	 {.ext = {ALPN("\x3a\x3a\x3a|h2")}}, 0, M, "", ":::,h2", 0},
	/* ECH: outer SNI is the public name; the flag says ECH is there */
	{"ECH", {.ext = {SNI("public.test"), RAW(0xfe0d, ECH_BODY)}}, 0, M,
	 "public.test", "", ECH},
	{"ECH without SNI", {.ext = {RAW(0xfe0d, ECH_BODY)}}, 0, M, "", "",
	 ECH},
	{"ECH twice",
	 {.ext = {RAW(0xfe0d, ECH_BODY), SNI("p.test"), RAW(0xfe0d, ECH_BODY)}},
	 0, N, NULL, NULL, 0},
	{"draft ECH type is not ECH",
	 {.ext = {SNI("d.test"), RAW(0xfe0a, ECH_BODY)}}, 0, M, "d.test", "",
	 0},
	/* server_name details */
	{"SNI twice", {.ext = {SNI("a.test"), SNI("b.test")}}, 0, N, NULL, NULL,
	 0},
	{"two host_names in one list",
	 {.ext = {RAW(0, "\x00\x12\x00\x00\x06"
			 "a.test"
			 "\x00\x00\x06"
			 "b.test")}},
	 0, N, NULL, NULL, 0},
	{"unknown name_type skipped",
	 {.ext = {RAW(0, "\x00\x0e\x05\x00\x02xx\x00\x00\x06"
			 "c.test")}},
	 0, M, "c.test", "", 0},
	{"only an unknown name_type",
	 {.ext = {RAW(0, "\x00\x05\x05\x00\x02xx")}}, 0, M, "", "", 0},
	{"empty server_name list", {.ext = {RAW(0, "\x00\x00")}}, 0, N, NULL,
	 NULL, 0},
	{"empty server_name extension", {.ext = {RAW(0, "")}}, 0, N, NULL, NULL,
	 0},
	{"server_name list longer than extension",
	 {.ext = {RAW(0, "\x00\x0a\x00\x00\x06"
			 "a.test")}},
	 0, N, NULL, NULL, 0},
	{"host_name longer than list",
	 {.ext = {RAW(0, "\x00\x09\x00\x00\x07"
			 "a.test")}},
	 0, N, NULL, NULL, 0},
	{"empty host_name", {.ext = {SNI("")}}, 0, M, "", "", 0},
	{"host_name with '/'", {.ext = {SNI("a/b.test")}}, 0, M, "", "", 0},
	{"host_name with space", {.ext = {SNI("a b.test")}}, 0, M, "", "", 0},
	{"host_name with control", {.ext = {SNI("a\r\n.test")}}, 0, M, "", "",
	 0},
	{"host_name with NUL", {.ext = {SNI("a\0.test")}}, 0, M, "", "", 0},
	{"host_name with port", {.ext = {SNI("a.test:443")}}, 0, M, "", "", 0},
	{"host_name IPv6", {.ext = {SNI("::1")}}, 0, M, "", "", 0},
	{"host_name UTF-8", {.ext = {SNI("\xc3\xa9t\xc3\xa9.test")}}, 0, M, "",
	 "", 0},
	{"host_name empty label", {.ext = {SNI("a..test")}}, 0, M, "", "", 0},
	{"host_name leading dot", {.ext = {SNI(".a.test")}}, 0, M, "", "", 0},
	{"host_name just a dot", {.ext = {SNI(".")}}, 0, M, "", "", 0},
	{"host_name trailing dot (core strips it)", {.ext = {SNI("a.test.")}},
	 0, M, "a.test.", "", 0},
	{"host_name case and '_' kept (core folds case)",
	 {.ext = {SNI("Svc_1.A-B.Test")}}, 0, M, "Svc_1.A-B.Test", "", 0},
	{"host_name A-label", {.ext = {SNI("xn--bcher-kva.example")}}, 0, M,
	 "xn--bcher-kva.example", "", 0},
	{"host_name label of 63", {.ext = {SNI(A63 ".test")}}, 0, M,
	 A63 ".test", "", 0},
	{"host_name label of 64", {.ext = {SNI(A63 "a.test")}}, 0, M, "", "",
	 0},
	{"host_name of 253", {.ext = {SNI(A63 "." A63 "." A63 "." A61)}}, 0, M,
	 A63 "." A63 "." A63 "." A61, "", 0},
	{"host_name of 253 and a dot",
	 {.ext = {SNI(A63 "." A63 "." A63 "." A61 ".")}}, 0, M,
	 A63 "." A63 "." A63 "." A61 ".", "", 0},
	{"host_name of 254", {.ext = {SNI(A63 "." A63 "." A63 "." A61 "a")}}, 0,
	 M, "", "", 0},
	{"host_name of 300",
	 {.ext = {SNI(A60 "." A60 "." A60 "." A60 "." A60 "." A10 "aaa")}}, 0,
	 M, "", "", 0},
	/* ALPN details */
	{"ALPN twice", {.ext = {ALPN("h2"), ALPN("h2")}}, 0, N, NULL, NULL, 0},
	{"ALPN empty name", {.ext = {ALPN("h2|")}}, 0, N, NULL, NULL, 0},
	{"ALPN empty list", {.ext = {RAW(16, "\x00\x00")}}, 0, N, NULL, NULL,
	 0},
	{"ALPN name overruns list", {.ext = {RAW(16, "\x00\x03\x03h2")}}, 0, N,
	 NULL, NULL, 0},
	{"ALPN names not listable are dropped",
	 {.ext = {ALPN("a,b|h2|sp ace|\x01\x02|http/1.1")}}, 0, M, "",
	 "h2,http/1.1", 0},
	{"ALPN cut at a whole name",
	 {.ext = {ALPN(X60 "1|" X60 "2|" X60 "3|" X60 "4|" X60 "5|h2")}}, 0, M,
	 "", X60 "1," X60 "2," X60 "3," X60 "4", 0},
	{"ALPN of 255 characters exactly",
	 {.ext = {ALPN(X60 "1|" X60 "2|" X60 "3|" X60 "4|aaaaaaa")}}, 0, M, "",
	 X60 "1," X60 "2," X60 "3," X60 "4,aaaaaaa", 0},
	{"ALPN one character too many",
	 {.ext = {ALPN(X60 "1|" X60 "2|" X60 "3|" X60 "4|aaaaaaaa|h2")}}, 0, M,
	 "", X60 "1," X60 "2," X60 "3," X60 "4", 0},
};

START_TEST(test_tls__hellos)
{
	struct buf o;
	struct pmx_probe_result res;
	int v;

	build(&hellos[_i].h, &o);
	v = tu_probe(&det, o.b, o.n, hellos[_i].final, &res);
	ck_assert_msg(v == hellos[_i].verdict, "%s: verdict %d, expected %d",
		      hellos[_i].what, v, hellos[_i].verdict);
	if (v != M)
		return;
	ck_assert_str_eq(res.key, hellos[_i].key);
	ck_assert_str_eq(res.alpn, hellos[_i].alpn);
	ck_assert_uint_eq(res.flags, hellos[_i].flags);
	if (!hellos[_i].final) {
		/* every valid hello: every truncation waits, and the same
		 * with the handshake cut over two records anywhere */
		size_t L = o.n - 5;

		assert_flight(hellos[_i].what, o.b, o.n, hellos[_i].key,
			      hellos[_i].alpn, hellos[_i].flags);
		for (size_t cut = 1; cut < L; cut++) {
			char what[128];
			size_t n;
			uint8_t *two = reframe(o.b, o.n, &cut, 1, &n);

			snprintf(what, sizeof(what), "%s, cut at %zu",
				 hellos[_i].what, cut);
			assert_flight(what, two, n, hellos[_i].key,
				      hellos[_i].alpn, hellos[_i].flags);
			free(two);
		}
	}
}
END_TEST

/* ---- SSLv2-compatible hellos ---- */

static void
build_v2(struct buf *o, unsigned version, size_t cs, size_t sid,
	 size_t chal)
{
	size_t rlen = 9 + cs + sid + chal;

	o->n = 0;
	put16(o, 0x8000 | rlen);
	put8(o, 1);
	put16(o, version);
	put16(o, cs);
	put16(o, sid);
	put16(o, chal);
	for (size_t i = 0; i < cs; i += 3) {
		put8(o, 0); /* v3 cipher suites as v2 specs */
		put16(o, 0x0004 + i);
	}
	fill(o, 0x22, sid);
	fill(o, 0x33, chal);
}

static const struct {
	unsigned version;
	size_t cs, sid, chal;
	int verdict;
} v2s[] = {
	{0x0301, 9, 0, 16, M},  {0x0300, 3, 0, 32, M},  {0x0303, 30, 16, 32, M},
	{0x0002, 3, 16, 16, M}, {0x0304, 9, 0, 16, N},  {0x0301, 10, 0, 16, N},
	{0x0301, 9, 33, 16, N}, {0x0301, 9, 0, 15, N},  {0x0301, 9, 0, 33, N},
	{0x0200, 9, 0, 16, N},
};

START_TEST(test_tls__sslv2)
{
	struct buf o;
	struct pmx_probe_result res;

	build_v2(&o, v2s[_i].version, v2s[_i].cs, v2s[_i].sid, v2s[_i].chal);
	ck_assert_int_eq(tu_probe(&det, o.b, o.n, 0, &res), v2s[_i].verdict);
	if (v2s[_i].verdict == M) {
		ck_assert_str_eq(res.key, "");
		ck_assert_str_eq(res.alpn, "");
		ck_assert_uint_eq(tu_assert_prefixes(&det, o.b, o.n, ""), o.n);
		/* what follows the hello is not ours to judge */
		put(&o, B("\x16\x03\x01"));
		ck_assert_int_eq(tu_probe(&det, o.b, o.n, 0, &res), M);
	}
}
END_TEST

/* ---- real captures ---- */

static const struct {
	const char *file;
	const char *key;
	const char *alpn;
	uint32_t flags;
} flights[] = {
	{"tests/corpus/tls/curl-tls13.bin", "secure.example.com",
	 "h2,http/1.1", 0},
	{"tests/corpus/tls/curl-h2-alpn.bin", "h2.example.com", "h2,http/1.1",
	 0},
	{"tests/corpus/tls/openssl-tls12.bin", "tls12.example.com", "", 0},
	{"tests/corpus/tls/openssl-tls13.bin", "tls13.example.com",
	 "acme-tls/1", 0},
	{"tests/corpus/tls/openssl-nosni.bin", "", "", 0},
	/* Chromium 156.0.8078.108 (Debian 12 package), captured with
	 *   tests/tools/capture.py 19002 tests/corpus/tls/chromium-pq.bin &
	 *   chromium --headless --no-sandbox --disable-gpu --disable-quic
	 *     --host-resolver-rules="MAP pq.example.com 127.0.0.1"
	 *     --user-data-dir=$(mktemp -d) https://pq.example.com:19002/
	 * 1954 bytes in one record: an X25519MLKEM768 key share, GREASE
	 * everywhere, and the GREASE ECH extension Chrome sends when it has
	 * no ECH config (hence the flag). */
	{"tests/corpus/tls/chromium-pq.bin", "pq.example.com", "h2,http/1.1",
	 ECH},
};

#define NFLIGHTS ((int)(sizeof(flights) / sizeof(flights[0])))

START_TEST(test_tls__captured)
{
	size_t len;
	uint8_t *data = tu_read(flights[_i].file, &len);
	struct pmx_probe_result res;

	assert_flight(flights[_i].file, data, len, flights[_i].key,
		      flights[_i].alpn, flights[_i].flags);
	/* final on any truncation: MATCH, with the SNI once it is in */
	for (size_t n = 1; n < len; n++) {
		ck_assert_int_eq(tu_probe(&det, data, n, 1, &res), M);
		ck_assert(res.key[0] == '\0' ||
			  strcmp(res.key, flights[_i].key) == 0);
		ck_assert(res.alpn[0] == '\0' ||
			  strcmp(res.alpn, flights[_i].alpn) == 0);
	}
	/* a full probe buffer is final too */
	ck_assert_int_eq(probe_cap(data, len / 2, len / 2, &res), M);
	ck_assert_int_eq(probe_cap(data, len / 2, len, &res), W);
	free(data);
}
END_TEST

START_TEST(test_tls__pq_capture_is_large)
{
	/* The point of this capture: a ClientHello past one MSS, with an
	 * X25519MLKEM768 (0x11ec) key share of 1216 bytes. */
	size_t len;
	uint8_t *data = tu_read("tests/corpus/tls/chromium-pq.bin", &len);
	int found = 0;

	ck_assert_uint_gt(len, 1500);
	ck_assert_uint_eq(be16(data + 3) + 5, len);
	for (size_t i = 0; i + 4 <= len; i++)
		if (memcmp(data + i, "\x11\xec\x04\xc0", 4) == 0)
			found = 1;
	ck_assert(found);
	free(data);
}
END_TEST

/* Where the host_name sits in the record payload (0 if none). */
static size_t
sni_offset(const uint8_t *data, size_t len, const char *key)
{
	const uint8_t *at;

	if (key[0] == '\0')
		return 0;
	at = memmem(data + 5, len - 5, key, strlen(key));
	ck_assert_ptr_nonnull(at);
	return (size_t)(at - (data + 5));
}

START_TEST(test_tls__captured_two_records)
{
	size_t len;
	uint8_t *data = tu_read(flights[_i].file, &len);
	size_t L = len - 5;

	/* Every cut, so also inside the handshake header, the SNI and ALPN
	 * extensions and the big key share. */
	for (size_t cut = 1; cut < L; cut++) {
		char what[256];
		size_t n;
		uint8_t *two = reframe(data, len, &cut, 1, &n);

		snprintf(what, sizeof(what), "%s, cut at %zu",
			 flights[_i].file, cut);
		assert_flight(what, two, n, flights[_i].key, flights[_i].alpn,
			      flights[_i].flags);
		free(two);
	}
	free(data);
}
END_TEST

START_TEST(test_tls__captured_three_records)
{
	size_t len;
	uint8_t *data = tu_read(flights[_i].file, &len);
	size_t L = len - 5, sni = sni_offset(data, len, flights[_i].key);
	size_t pts[128], npts = 0;

	/* cuts: the handshake header bytes, a coarse grid, and every byte
	 * of the server_name extension (9 header bytes + the name) */
	for (size_t c = 1; c <= 6; c++)
		pts[npts++] = c;
	for (size_t c = 7; c < L; c += L / 24 + 1)
		pts[npts++] = c;
	if (sni > 0)
		for (size_t c = sni - 9; c <= sni + strlen(flights[_i].key);
		     c++)
			pts[npts++] = c;
	for (size_t a = 0; a < npts; a++) {
		for (size_t b = 0; b < npts; b++) {
			size_t cuts[2] = {pts[a], pts[b]}, n;
			char what[256];
			uint8_t *three;

			if (cuts[0] >= cuts[1] || cuts[1] >= L)
				continue;
			three = reframe(data, len, cuts, 2, &n);
			snprintf(what, sizeof(what), "%s, cuts at %zu, %zu",
				 flights[_i].file, cuts[0], cuts[1]);
			assert_flight(what, three, n, flights[_i].key,
				      flights[_i].alpn, flights[_i].flags);
			free(three);
		}
	}
	free(data);
}
END_TEST

START_TEST(test_tls__record_per_byte)
{
	/* The extreme of fragmentation: one handshake byte per record. */
	size_t len;
	uint8_t *data = tu_read("tests/corpus/tls/curl-h2-alpn.bin", &len);
	size_t L = len - 5, cuts[1024], n;
	uint8_t *many;

	ck_assert_uint_le(L - 1, 1024);
	for (size_t i = 0; i < L - 1; i++)
		cuts[i] = i + 1;
	many = reframe(data, len, cuts, L - 1, &n);
	ck_assert_uint_eq(n, 6 * L);
	assert_flight("a record per byte", many, n, "h2.example.com",
		      "h2,http/1.1", 0);
	free(many);
	free(data);
}
END_TEST

START_TEST(test_tls__continuation_records)
{
	size_t len, n;
	uint8_t *data = tu_read("tests/corpus/tls/openssl-tls13.bin", &len);
	size_t cut = 100;
	uint8_t *two = reframe(data, len, &cut, 1, &n);
	uint8_t *buf = malloc(n + 64);
	struct pmx_probe_result res;
	const size_t h = 5 + cut; /* second record header */

	/* what a continuation header may not be: another record type
	 * (handshake messages are not interleaved), another protocol
	 * version, an impossible length */
	static const struct {
		size_t at;
		uint8_t byte;
	} bad[] = {
		{0, 0x17}, {0, 0x15}, {0, 0x14},
		{1, 0x02}, {2, 0x05}, {3, 0x42},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(buf, two, n);
		buf[h + bad[i].at] = bad[i].byte;
		/* refused as soon as the bad byte is in */
		ck_assert_int_eq(tu_probe(&det, buf, h + bad[i].at, 0, &res),
				 W);
		ck_assert_int_eq(
			tu_probe(&det, buf, h + bad[i].at + 1, 0, &res), N);
		ck_assert_int_eq(tu_probe(&det, buf, n, 0, &res), N);
	}

	/* nor an empty one */
	memcpy(buf, two, n);
	buf[h + 3] = buf[h + 4] = 0;
	ck_assert_int_eq(tu_probe(&det, buf, h + 4, 0, &res), W);
	ck_assert_int_eq(tu_probe(&det, buf, h + 5, 0, &res), N);

	/* records after the hello (CCS, early data) are not ours to judge */
	memcpy(buf, data, len);
	memcpy(buf + len, "\x14\x03\x03\x00\x01\x01\x17\x03\x03\x00\x05xxxxx",
	       16);
	ck_assert_uint_eq(tu_assert_prefixes(&det, buf, len + 16,
					     "tls13.example.com"),
			  len);

	/* nor another handshake message coalesced in the hello's record */
	memcpy(buf, data, len);
	memcpy(buf + len, "\x0b\x00\x00\x00", 4);
	buf[3] = (uint8_t)((len - 5 + 4) >> 8);
	buf[4] = (uint8_t)(len - 5 + 4);
	ck_assert_int_eq(tu_probe(&det, buf, len + 4, 0, &res), M);
	ck_assert_str_eq(res.key, "tls13.example.com");

	free(buf);
	free(two);
	free(data);
}
END_TEST

START_TEST(test_tls__not_udp)
{
	size_t len;
	uint8_t *data = tu_read("tests/corpus/tls/curl-tls13.bin", &len);
	struct pmx_probe_result res;

	ck_assert_int_eq(tu_probe_udp(&det, data, len, &res), N);
	free(data);
}
END_TEST

/* A MATCHed key is a plausible DNS name or empty, never junk. */
static void
assert_clean_key(const char *key)
{
	ck_assert_uint_lt(strlen(key), PMX_KEY_MAX);
	for (const char *p = key; *p; p++)
		ck_assert_msg(strchr("abcdefghijklmnopqrstuvwxyz"
				     "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				     "0123456789-_.",
				     *p) != NULL,
			      "junk in key '%s'", key);
}

START_TEST(test_tls__garbage)
{
	uint8_t buf[2048];
	struct pmx_probe_result res;
	unsigned seed = 1;

	for (int n = 0; n < 20000; n++) {
		size_t len = (size_t)(rand_r(&seed) % sizeof(buf)) + 1;
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rand_r(&seed);
		/* steer some of it past the record and handshake headers */
		if (n % 3 == 0 && len >= 6) {
			memcpy(buf, "\x16\x03\x01", 3);
			buf[3] &= 0x3f;
			buf[5] = 1;
		} else if (n % 3 == 1) {
			buf[0] |= 0x80;
		}
		int v = tu_probe(&det, buf, len, n % 2, &res);
		ck_assert(v == M || v == N || v == W);
		assert_clean_key(res.key);
		ck_assert_uint_lt(strlen(res.alpn), PMX_ALPN_MAX);
	}
}
END_TEST

/*
 * Mutated captures, every prefix: verdicts only move forward (NEED_MORE,
 * then MATCH or NO_MATCH for good), a MATCH keeps its key, and nothing
 * reads out of bounds (the probe gets an exact-size copy).
 */
START_TEST(test_tls__mutations)
{
	size_t len;
	uint8_t *orig = tu_read(flights[_i].file, &len);
	uint8_t *data = malloc(len);
	unsigned seed = (unsigned)_i + 7;

	for (int round = 0; round < 60; round++) {
		int nflips = 1 + rand_r(&seed) % 4, last = W;
		char key[PMX_KEY_MAX] = "";

		memcpy(data, orig, len);
		for (int f = 0; f < nflips; f++)
			data[(size_t)rand_r(&seed) % len] =
				(uint8_t)rand_r(&seed);
		for (size_t n = 1; n <= len; n++) {
			struct pmx_probe_result res;
			int v = tu_probe(&det, data, n, 0, &res);

			assert_clean_key(res.key);
			if (last == N)
				ck_assert_int_eq(v, N);
			if (last == M) {
				ck_assert_int_eq(v, M);
				ck_assert_str_eq(res.key, key);
			}
			if (v == M && last != M)
				snprintf(key, sizeof(key), "%s", res.key);
			last = v;
			v = tu_probe(&det, data, n, 1, &res);
			ck_assert(v == M || v == N);
			assert_clean_key(res.key);
		}
	}
	free(data);
	free(orig);
}
END_TEST

/* No route: unrecognized_name; backend down: internal_error; both fatal
 * alerts in a record every TLS version accepts. */
START_TEST(test_tls__reject)
{
	const struct pmx_detector *d = det.plugin->desc;
	uint8_t buf[16];
	static const uint8_t no_route[] = {0x15, 0x03, 0x01, 0x00, 0x02, 0x02,
					   112};
	static const uint8_t down[] = {0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 80};

	ck_assert_uint_eq(d->reject(det.instance, PMX_REJECT_NO_ROUTE, NULL,
				    buf, sizeof(buf)),
			  7);
	ck_assert_mem_eq(buf, no_route, 7);
	ck_assert_uint_eq(d->reject(det.instance, PMX_REJECT_BACKEND_DOWN, NULL,
				    buf, sizeof(buf)),
			  7);
	ck_assert_mem_eq(buf, down, 7);
	ck_assert_uint_eq(d->reject(det.instance, 1, NULL, buf, 3), 0);
}
END_TEST

Suite *make_suite_tls(void);
Suite *
make_suite_tls(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("detector");
	TCase *rf = tcase_create("reframed");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30); /* the mutation loops, under ASan */
	tcase_add_loop_test(tc, test_tls__raw, 0,
			    (int)(sizeof(raws) / sizeof(raws[0])));
	tcase_add_loop_test(tc, test_tls__hellos, 0,
			    (int)(sizeof(hellos) / sizeof(hellos[0])));
	tcase_add_loop_test(tc, test_tls__sslv2, 0,
			    (int)(sizeof(v2s) / sizeof(v2s[0])));
	tcase_add_loop_test(tc, test_tls__captured, 0, NFLIGHTS);
	tcase_add_test(tc, test_tls__pq_capture_is_large);
	tcase_add_test(tc, test_tls__continuation_records);
	tcase_add_test(tc, test_tls__not_udp);
	tcase_add_test(tc, test_tls__reject);
	tcase_add_test(tc, test_tls__garbage);
	tcase_add_loop_test(tc, test_tls__mutations, 0, NFLIGHTS);
	suite_add_tcase(s, tc);

	/* Thousands of re-framed flights, each probed at every length. */
	tcase_add_checked_fixture(rf, setup, teardown);
	tcase_set_timeout(rf, 120);
	tcase_add_loop_test(rf, test_tls__captured_two_records, 0, NFLIGHTS);
	tcase_add_loop_test(rf, test_tls__captured_three_records, 0, NFLIGHTS);
	tcase_add_test(rf, test_tls__record_per_byte);
	suite_add_tcase(s, rf);
	return s;
}
