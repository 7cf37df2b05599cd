/* check_h2.c — http.so on HTTP/2 with prior knowledge (h2c): preface,
 * frames, HPACK (RFC 7541, with its Appendix C vectors), malformed input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"
#include "testutil.h"

static struct tu_det det;

static void
setup(void)
{
	tu_det_open(&det, "http", NULL);
}

static void
teardown(void)
{
	tu_det_close(&det);
}

#define M PMX_MATCH
#define N PMX_NO_MATCH
#define W PMX_NEED_MORE

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PREFACE_LEN 24

/*
 * Flights are written as frames after the preface. A payload is hex (spaces
 * ignored) with 'quoted' text copied as is; its length goes in the frame
 * header unless `len` says otherwise.
 */
struct fr {
	uint8_t type, flags;
	uint32_t stream;
	uint32_t len;
	const char *payload;
};

#define AUTO UINT32_MAX
#define F(t, fl, s, p) {(t), (fl), (s), AUTO, (p)}
#define FL(t, fl, s, l, p) {(t), (fl), (s), (l), (p)}

enum { DATA, HEADERS, PRIORITY, RST, SETTINGS, PUSH, PING, GOAWAY, WU, CONT };
#define END_STREAM 0x1
#define END_HEADERS 0x4
#define PADDED 0x8
#define PRIO 0x20
#define EH (END_STREAM | END_HEADERS)

/* curl's SETTINGS (MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, ENABLE_PUSH)
 * and WINDOW_UPDATE. */
#define SET F(SETTINGS, 0, 0, "0003 00000064 0004 00a00000 0002 00000000")
#define SET0 F(SETTINGS, 0, 0, "")
#define WIN F(WU, 0, 0, "3fff0001")
#define H(fl, p) F(HEADERS, (fl), 1, p)
/* :method GET, :scheme http, :path / (static 2, 6, 4) */
#define REQ "82 86 84 "
/* RFC 7541 C.4.1: :authority www.example.com, Huffman */
#define C41 "418cf1e3c2e5f23a6ba0ab90f4ff"
#define WWW "www.example.com"

static size_t
unhex(uint8_t *out, size_t cap, const char *s)
{
	size_t n = 0;
	int hi = -1;

	for (; *s; s++) {
		if (*s == '\'') {
			while (*++s && *s != '\'') {
				ck_assert_uint_lt(n, cap);
				out[n++] = (uint8_t)*s;
			}
			ck_assert_msg(*s == '\'', "unterminated quote");
			continue;
		}
		if (*s == ' ')
			continue;
		int d = *s <= '9' ? *s - '0' : (*s | 0x20) - 'a' + 10;
		ck_assert_msg(d >= 0 && d < 16, "bad hex '%c'", *s);
		if (hi < 0) {
			hi = d;
		} else {
			ck_assert_uint_lt(n, cap);
			out[n++] = (uint8_t)(hi << 4 | d);
			hi = -1;
		}
	}
	ck_assert_msg(hi < 0, "odd number of hex digits");
	return n;
}

struct flight {
	uint8_t b[4096];
	size_t n;
};

static void
put_frame(struct flight *fl, uint8_t type, uint8_t flags, uint32_t stream,
	  uint32_t len, const uint8_t *payload, size_t plen)
{
	uint8_t *h = fl->b + fl->n;

	ck_assert_uint_le(fl->n + 9 + plen, sizeof(fl->b));
	if (len == AUTO)
		len = (uint32_t)plen;
	h[0] = (uint8_t)(len >> 16);
	h[1] = (uint8_t)(len >> 8);
	h[2] = (uint8_t)len;
	h[3] = type;
	h[4] = flags;
	h[5] = (uint8_t)(stream >> 24);
	h[6] = (uint8_t)(stream >> 16);
	h[7] = (uint8_t)(stream >> 8);
	h[8] = (uint8_t)stream;
	if (plen > 0) /* (a frame without payload passes NULL) */
		memcpy(h + 9, payload, plen);
	fl->n += 9 + plen;
}

static void
build(struct flight *fl, const struct fr *frames)
{
	uint8_t payload[2048];

	memcpy(fl->b, PREFACE, PREFACE_LEN);
	fl->n = PREFACE_LEN;
	for (const struct fr *f = frames; f->payload != NULL; f++) {
		size_t plen = unhex(payload, sizeof(payload), f->payload);
		put_frame(fl, f->type, f->flags, f->stream, f->len, payload,
			  plen);
	}
}

static const struct {
	const char *name;
	struct fr fr[8];
	int final;
	int verdict;
	const char *key;
} cases[] = {
	/* RFC 7541 Appendix C requests, each as a first block. */
	{"C.3.1 plain", {SET, H(EH, REQ "41 0f '" WWW "'")}, 0, M, WWW},
	{"C.4.1 huffman", {SET, H(EH, REQ C41)}, 0, M, WWW},
	/* C.4.2 and C.4.3 index entries of earlier blocks (62, 63): in a
	 * first block the table is empty, an HPACK error: default route */
	{"C.4.2 alone", {SET, H(EH, "828684be5886a8eb10649cbf")}, 0, M, ""},
	{"C.4.3 alone",
	 {SET, H(EH, "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf")},
	 0, M, ""},
	/* curl and nghttp: indexed name 1, Huffman value */
	{"huffman h2c", {SET, H(EH, REQ "41 8f9c445cbe474d7415721e9b817c0067")},
	 0, M, "h2c.example.com:19003"},
	/* the three literal forms, indexed name 1 or a literal name (plain
	 * or Huffman) */
	{"incremental, name 1", {SET, H(EH, REQ "41 06 'a.test'")}, 0, M,
	 "a.test"},
	{"without indexing, name 1", {SET, H(EH, REQ "01 06 'a.test'")}, 0, M,
	 "a.test"},
	{"never indexed, name 1", {SET, H(EH, REQ "11 06 'a.test'")}, 0, M,
	 "a.test"},
	{"incremental, literal name",
	 {SET, H(EH, REQ "40 0a ':authority' 06 'a.test'")}, 0, M, "a.test"},
	{"without indexing, literal name",
	 {SET, H(EH, REQ "00 0a ':authority' 06 'a.test'")}, 0, M, "a.test"},
	{"never indexed, huffman name",
	 {SET, H(EH, REQ "10 88b83b5339ec327d7f 85f2ba4a84ff")}, 0, M,
	 "x.test"},
	{"authority first", {SET, H(EH, "41 06 'a.test' " REQ)}, 0, M,
	 "a.test"},
	/* :authority wins over an earlier host */
	{"host then authority", {SET, H(EH, REQ "66 06 'h.test' 41 06 'a.test'")},
	 0, M, "a.test"},
	/* dynamic table size updates, before the first field only */
	{"size update 4096", {SET, H(EH, "3fe11f " REQ C41)}, 0, M, WWW},
	{"size update 0", {SET, H(EH, "20 " REQ C41)}, 0, M, WWW},
	{"two size updates", {SET, H(EH, "20 3fe11f " REQ C41)}, 0, M, WWW},
	{"size update after a field", {SET, H(EH, REQ "20 " C41)}, 0, M, ""},
	{"size update over 4096", {SET, H(EH, "3fe21f " REQ C41)}, 0, M, ""},
	/* names from the dynamic table of this block */
	{"dynamic name", {SET, H(EH, "40 0a ':authority' 00 7e 0b 'dyn.example'")},
	 0, M, "dyn.example"},
	{"dynamic index shifted",
	 {SET, H(EH, "40 03 'x-a' 01 '1' 40 0a ':authority' 00 "
		     "40 03 'x-b' 01 '2' 7f 00 0a 'shift.test'")},
	 0, M, "shift.test"},
	{"dynamic index of another name",
	 {SET, H(EH, "40 03 'x-a' 01 '1' 40 0a ':authority' 00 "
		     "40 03 'x-b' 01 '2' 7f 01 0a 'shift.test'")},
	 0, M, ""},
	{"entry not evicted",
	 {SET, H(EH, "40 0a ':authority' 00 40 06 'x-long' 16 "
		     "'0123456789012345678901' 7f 00 0a 'evict.test'")},
	 0, M, "evict.test"},
	{"entry evicted (table 100)",
	 {SET, H(EH, "3f45 40 0a ':authority' 00 40 06 'x-long' 16 "
		     "'0123456789012345678901' 7f 00 0a 'evict.test'")},
	 0, M, ""},
	{"entry larger than the table",
	 {SET, H(EH, "3f09 40 0a ':authority' 00 7e 08 'big.test'")}, 0, M,
	 ""},
	{"indexed dynamic entry", {SET, H(EH, "40 03 'x-a' 01 '1' be 41 06 'a.test'")},
	 0, M, "a.test"},
	/* host fallback; empty values count as absent */
	{"host", {SET, H(EH, REQ "66 09 'host.test'")}, 0, M, "host.test"},
	{"host literal name", {SET, H(EH, REQ "40 04 'host' 09 'host.test'")}, 0,
	 M, "host.test"},
	{"host huffman", {SET, H(EH, REQ "66 899ce84ae5f23a6ba0bf")}, 0, M,
	 "host.example"},
	{"host huffman name", {SET, H(EH, REQ "00 839ce84f 06 'h.test'")}, 0, M,
	 "h.test"},
	{"first host wins",
	 {SET, H(EH, REQ "40 04 'host' 09 'host.test' 7e 05 'other'")}, 0, M,
	 "host.test"},
	{"empty authority, then host", {SET, H(EH, "81 41 00 " REQ "66 01 'h'")},
	 0, M, "h"},
	{"empty host, then host", {SET, H(EH, "a6 66 00 66 01 'h'")}, 0, M, "h"},
	{"Host in capitals is not host",
	 {SET, H(EH, REQ "40 04 'Host' 09 'host.test'")}, 0, M, ""},
	{"neither", {SET, H(EH, REQ "53 03 '*/*'")}, 0, M, ""},
	{"empty block", {SET, H(EH, "")}, 0, M, ""},
	/* Huffman: valid padding, and the three errors */
	{"huffman a", {SET, H(EH, REQ "41 81 1f")}, 0, M, "a"},
	{"huffman zero padding", {SET, H(EH, REQ "41 81 18")}, 0, M, ""},
	{"huffman padding of 11 bits", {SET, H(EH, REQ "41 82 1fff")}, 0, M, ""},
	{"huffman EOS", {SET, H(EH, REQ "41 84 ffffffff")}, 0, M, ""},
	/* other HPACK errors */
	{"index 0", {SET, H(EH, "80 " C41)}, 0, M, ""},
	{"literal index past the tables", {SET, H(EH, "7e 06 'a.test'")}, 0, M,
	 ""},
	{"integer over 2^24", {SET, H(EH, "41 ff ffffff0f 'a'")}, 0, M, ""},
	{"integer with 5 continuation octets", {SET, H(EH, "41 7f 8080808000")},
	 0, M, ""},
	{"block ends inside a field", {SET, H(EH, REQ "41 06 'a.t'")}, 0, M, ""},
	{"block ends inside an integer", {SET, H(EH, REQ "41 7f")}, 0, M, ""},
	/* HEADERS flags */
	{"padded", {SET, H(EH | PADDED, "03 " REQ C41 "000000")}, 0, M, WWW},
	{"priority", {SET, H(EH | PRIO, "80000003 0f " REQ C41)}, 0, M, WWW},
	{"padded and priority",
	 {SET, H(EH | PADDED | PRIO, "02 00000000 10 " REQ C41 "0000")}, 0, M,
	 WWW},
	{"padding too long", {SET, H(EH | PADDED, "08 41 06 'a.test'")}, 0, M,
	 ""},
	{"padded, empty", {SET, H(EH | PADDED, "")}, 0, M, ""},
	{"priority, too short", {SET, H(EH | PRIO, "000000")}, 0, M, ""},
	/* CONTINUATION */
	{"continuation splits the value",
	 {SET, H(END_STREAM, REQ "41 0f 'www.exa'"),
	  F(CONT, END_HEADERS, 1, "'mple.com'")},
	 0, M, WWW},
	{"continuation splits huffman, empty middle",
	 {SET, H(END_STREAM, REQ "41 8c f1e3c2"), F(CONT, 0, 1, ""),
	  F(CONT, END_HEADERS, 1, "e5f23a6ba0ab90f4ff")},
	 0, M, WWW},
	{"continuation splits a name",
	 {SET, H(0, REQ "40 0a ':auth'"), F(CONT, 0, 1, "'ority' 06"),
	  F(CONT, END_HEADERS, 1, "'a.test'")},
	 0, M, "a.test"},
	{"padded headers, then continuation",
	 {SET, H(PADDED, "02 " REQ "41 06 'a.' 0000"),
	  F(CONT, END_HEADERS, 1, "'test'")},
	 0, M, "a.test"},
	{"continuation, host only",
	 {SET, H(0, REQ "66 06 'h.te'"), F(CONT, END_HEADERS, 1, "'st' 53 00")},
	 0, M, "h.test"},
	{"continuation of another stream",
	 {SET, H(0, REQ "41 06 'a.'"), F(CONT, END_HEADERS, 3, "'test'")}, 0,
	 M, ""},
	{"another frame inside the block",
	 {SET, H(0, REQ "41 06 'a.'"), WIN, F(CONT, END_HEADERS, 1, "'test'")},
	 0, M, ""},
	/* frames a client may send before HEADERS */
	{"window update", {SET, WIN, H(EH, REQ C41)}, 0, M, WWW},
	{"empty settings, two settings, ping",
	 {SET0, SET, F(PING, 0, 0, "0102030405060708"), H(EH, REQ C41)}, 0, M,
	 WWW},
	{"priority frames (nghttp)",
	 {SET, WIN, F(PRIORITY, 0, 3, "00000000c8"),
	  F(PRIORITY, 0, 5, "0000000064"), FL(HEADERS, EH, 7, AUTO, REQ C41)},
	 0, M, WWW},
	{"extension frame", {SET, F(0x10, 0, 0, "00000000 'u=1'"), H(EH, REQ C41)},
	 0, M, WWW},
	/* malformed frames after the preface: default route */
	{"headers first", {H(EH, REQ C41)}, 0, M, ""},
	{"window update first", {WIN, SET, H(EH, REQ C41)}, 0, M, ""},
	{"settings ack first", {F(SETTINGS, 1, 0, "")}, 0, M, ""},
	{"settings of 5 octets", {F(SETTINGS, 0, 0, "0003000000")}, 0, M, ""},
	{"settings on stream 1", {F(SETTINGS, 0, 1, "")}, 0, M, ""},
	{"window update of 3 octets", {SET, F(WU, 0, 0, "000001")}, 0, M, ""},
	{"ping of 7 octets", {SET, F(PING, 0, 0, "01020304050607")}, 0, M, ""},
	{"priority on stream 0", {SET, F(PRIORITY, 0, 0, "0000000010")}, 0, M,
	 ""},
	{"data before headers", {SET, F(DATA, 0, 1, "'x'"), H(EH, REQ C41)}, 0,
	 M, ""},
	{"rst_stream before headers", {SET, F(RST, 0, 1, "00000000")}, 0, M, ""},
	{"goaway before headers", {SET, F(GOAWAY, 0, 0, "0000000000000000")},
	 0, M, ""},
	{"continuation before headers", {SET, F(CONT, 4, 1, C41)}, 0, M, ""},
	{"headers on stream 0", {SET, F(HEADERS, EH, 0, REQ C41)}, 0, M, ""},
	{"headers on stream 2", {SET, F(HEADERS, EH, 2, REQ C41)}, 0, M, ""},
	{"headers over 16384", {SET, FL(HEADERS, EH, 1, 16385, REQ C41)}, 0, M,
	 ""},
	{"settings over 16384", {FL(SETTINGS, 0, 0, 16386, "0003 00000064")}, 0,
	 M, ""},
	/* a frame longer than what has arrived */
	{"authority before the frame ends", {SET, FL(HEADERS, EH, 1, 100, REQ C41)},
	 0, M, WWW},
	{"frame not complete", {SET, FL(HEADERS, EH, 1, 100, REQ)}, 0, W, NULL},
	{"frame not complete, final", {SET, FL(HEADERS, EH, 1, 100, REQ)}, 1, M,
	 ""},
	{"host, block not complete", {SET, H(0, REQ "66 01 'h'")}, 0, W, NULL},
	{"host, block not complete, final", {SET, H(0, REQ "66 01 'h'")}, 1, M,
	 "h"},
	{"settings not complete", {FL(SETTINGS, 0, 0, 12, "0003")}, 0, W, NULL},
	{"settings only", {SET}, 0, W, NULL},
	{"settings only, final", {SET}, 1, M, ""},
	{"preface only", {{0}}, 0, W, NULL},
	{"preface only, final", {{0}}, 1, M, ""},
};

START_TEST(test_h2__frames)
{
	struct flight fl;
	struct pmx_probe_result res;
	int v;

	build(&fl, cases[_i].fr);
	v = tu_probe(&det, fl.b, fl.n, cases[_i].final, &res);
	ck_assert_msg(v == cases[_i].verdict, "%s: verdict %d, expected %d",
		      cases[_i].name, v, cases[_i].verdict);
	if (v != PMX_MATCH)
		return;
	ck_assert_msg(strcmp(res.key, cases[_i].key) == 0,
		      "%s: key '%s', expected '%s'", cases[_i].name, res.key,
		      cases[_i].key);
	ck_assert_str_eq(res.alpn, "h2c");
	/* Every shorter prefix waits, then matches with the same key. */
	if (!cases[_i].final)
		tu_assert_prefixes(&det, fl.b, fl.n, cases[_i].key);
}
END_TEST

/* The preface against HTTP/1: "P" and "PR" may still be POST or
 * PROPFIND; a proper prefix of the preface waits. */
static const struct {
	const char *bytes;
	size_t len; /* 0: strlen(bytes) */
	int final;
	int verdict;
	const char *key;
} raw[] = {
	{"P", 0, 0, W, NULL},
	{"PR", 0, 0, W, NULL},
	{"PRI", 0, 0, W, NULL},
	{"PRI * HTTP/2.0\r\n", 0, 0, W, NULL},
	{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r", 0, 0, W, NULL},
	{PREFACE, 0, 0, W, NULL},
	{PREFACE "\0\0", PREFACE_LEN + 2, 0, W, NULL},
	/* final: an incomplete preface is nothing; a complete one is h2 */
	{"P", 0, 1, N, NULL},
	{"PRI * HTTP/2.0\r\n", 0, 1, N, NULL},
	{PREFACE, 0, 1, M, ""},
	/* not the preface, and no HTTP/1 method */
	{"PRI * HTTP/1.1\r\n\r\n", 0, 0, N, NULL},
	{"PRI * HTTP/2.0\r\n\r\nSM\r\n\n", 0, 0, N, NULL},
	{"PRI / HTTP/2.0\r\n", 0, 0, N, NULL},
	{"PRIX", 0, 0, N, NULL},
	{"pri * HTTP/2.0\r\n", 0, 0, N, NULL},
	/* P... methods are still HTTP/1 */
	{"POST /x HTTP/1.1\r\nHost: post.test\r\n\r\n", 0, 0, M, "post.test"},
	{"PUT /x HTTP/1.1\r\nHost: put.test\r\n\r\n", 0, 0, M, "put.test"},
	{"PATCH /x HTTP/1.1\r\nHost: patch.test\r\n\r\n", 0, 0, M,
	 "patch.test"},
	{"PROPFIND /x HTTP/1.1\r\nHost: dav.test\r\n\r\n", 0, 0, M,
	 "dav.test"},
	{"PURGE /x HTTP/1.1\r\nHost: purge.test\r\n\r\n", 0, 0, M,
	 "purge.test"},
	{"PO", 0, 0, W, NULL},
	{"PRO", 0, 0, W, NULL},
	/* upgrading to h2c from HTTP/1.1 is HTTP/1.1 routed by Host */
	{"GET / HTTP/1.1\r\nHost: up.test\r\nConnection: Upgrade, "
	 "HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAA"
	 "\r\n\r\n",
	 0, 0, M, "up.test"},
};

START_TEST(test_h2__preface_and_http1)
{
	struct pmx_probe_result res;
	size_t len = raw[_i].len ? raw[_i].len : strlen(raw[_i].bytes);
	int v = tu_probe(&det, raw[_i].bytes, len, raw[_i].final, &res);

	ck_assert_msg(v == raw[_i].verdict, "raw %d (%s): verdict %d, "
					    "expected %d",
		      _i, raw[_i].bytes, v, raw[_i].verdict);
	if (v != PMX_MATCH)
		return;
	ck_assert_str_eq(res.key, raw[_i].key);
	/* "h2c" as the ALPN for HTTP/2 only */
	ck_assert_str_eq(res.alpn,
			 strncmp(raw[_i].bytes, "PRI", 3) == 0 ? "h2c" : "");
}
END_TEST

/* Every Huffman symbol but NUL (RFC 7541 Appendix B), 1..255 in order,
 * as one Huffman-coded :authority of 255 octets (encoded by python3-hpack):
 * decodes every code length of the canonical tables. */
static const char all_symbols[] =
	"ffc603ffffb1fffffc5fffffc7fffffc9fffffcbfffffcdfffffcffffffd1fff"
	"fd5ffffffe7fffff4ffffff57ffffffbfffffd7fffffd9fffffdbfffffddffff"
	"fdffffffe1fffffe3fffffe5fffffff7fffff9ffffffa7fffffaffffffb7ffff"
	"fbffffffc7fffffcffffffd7fffffda9fc7f3ff5ff957e3fd7f5fdfcffbfa597"
	"6001132d36e3af3f73efffe41ff7fe7fea1bb7afe0c38b1e4cb9b3e8d3ab5ecd"
	"bbb7f0e3cbf39feffeffff87ff3ffc8bffe8e324859669cdd3ad14d47afb5884"
	"dbdfc79f5effff7fcfff7ffbffffff9fffcdfffe97fff3ffff47fffa7fffea7f"
	"ffabffff67fffd6ffffb5ffff6ffffee7fffddffffbdffffd7ffff7fffffb3ff"
	"ffb7fffd7ffffc1ffffddffff87ffff17fffe3ffffc9fffdcffff63ffff2ffff"
	"b3ffff9bffff3fffff7ffffb5fffddfffe9ffff6ffffdcffffd1ffffa7fffbdf"
	"fffabfffddffff7bffffc3fffbffffefffffebffffd9fffe0ffff0ffffc1fffe"
	"2ffffdbffff0ffffeeffffdffffd5ffff17fffc7ffff27ffff0ffff97fffe6ff"
	"ffe3fffff07ffffc3fffd7fffc7fffe7ffffe5ffff47ffffb3ffffe2fffff8ff"
	"fffe4fffffbdfffff7fffffe5fffff1fffff6ffff2ffff1fffffcdfffff83fff"
	"ff0fffffcffffff8bffffcbfffc9fffe5fffffa3ffffe9ffffffdfffffc7ffff"
	"f93fffff2ffff67ffff9ffff6ffff9bfffe9ffff3ffffa3ffff9ffffd5ffff5f"
	"ffffbbffffdfffffe9ffffebfffff57ffff4fffffaffffff37ffffd9fffff6ff"
	"fffe7fffffd1fffffa7fffff57ffffebffffffefffffd9fffffb7fffff77ffff"
	"effffffe1fffff77"
	;

START_TEST(test_h2__huffman_every_symbol)
{
	char payload[2 * sizeof(all_symbols) + 16];
	char expect[256];
	struct fr frames[] = {SET, H(EH, payload), {0}};
	struct flight fl;
	struct pmx_probe_result res;

	snprintf(payload, sizeof(payload), "41 %s", all_symbols);
	build(&fl, frames);
	for (int i = 1; i < 256; i++)
		expect[i - 1] = (char)i;
	expect[255] = '\0';
	ck_assert_int_eq(tu_probe(&det, fl.b, fl.n, 0, &res), M);
	ck_assert_uint_eq(strlen(res.key), 255);
	ck_assert_mem_eq(res.key, expect, 256);
	tu_assert_prefixes(&det, fl.b, fl.n, expect);

	/* NUL, the 13-bit code: kept in the key as sent */
	struct fr nul[] = {SET, H(EH, "41 83 1ffe23"), {0}};
	build(&fl, nul);
	ck_assert_int_eq(tu_probe(&det, fl.b, fl.n, 0, &res), M);
	ck_assert_mem_eq(res.key, "a\0b", 4);
}
END_TEST

START_TEST(test_h2__long_authority)
{
	/* Longer than a key: cut to 255 octets, as HTTP/1 cuts Host; the
	 * rest of the value is still read (plain and Huffman). */
	char payload[1024], name[301];
	struct fr frames[] = {SET, H(EH, payload), {0}};
	struct flight fl;
	struct pmx_probe_result res;

	memset(name, 'a', 300);
	name[300] = '\0';
	snprintf(payload, sizeof(payload), "41 7f ad01 '%s' 82", name);
	build(&fl, frames);
	ck_assert_int_eq(tu_probe(&det, fl.b, fl.n, 0, &res), M);
	ck_assert_uint_eq(strlen(res.key), 255);
	ck_assert_int_eq(memcmp(res.key, name, 255), 0);

	/* 'a' is 00011: 8 of them in 5 octets, 18c6318c63; 300 in 188
	 * octets (1500 bits and 4 bits of padding): 127 + 61 (0x3d) */
	char *q = payload + snprintf(payload, sizeof(payload), "41 ff 3d ");
	static const char oct[] = "18c6318c63";
	for (int i = 0; i < 37; i++)
		q += snprintf(q, 11, "%s", oct);
	snprintf(q, 32, "18c63f");
	build(&fl, frames);
	ck_assert_int_eq(tu_probe(&det, fl.b, fl.n, 0, &res), M);
	ck_assert_int_eq(memcmp(res.key, name, 255), 0);
	ck_assert_uint_eq(strlen(res.key), 255);
}
END_TEST

static const struct {
	const char *file;
	const char *key;
} flights[] = {
	/* curl --http2-prior-knowledge: SETTINGS, WINDOW_UPDATE, HEADERS */
	{"tests/corpus/http/curl-h2c.bin", "h2c.example.com:19003"},
	/* nghttp: SETTINGS, five PRIORITY frames, HEADERS with PRIORITY */
	{"tests/corpus/http/nghttp-h2c.bin", "h2c.example.com:19003"},
};

START_TEST(test_h2__captured_prefixes)
{
	size_t len, first;
	uint8_t *data = tu_read(flights[_i].file, &len);

	first = tu_assert_prefixes(&det, data, len, flights[_i].key);
	/* Both send :authority before the header block ends. */
	ck_assert_uint_lt(first, len);
	free(data);
}
END_TEST

/*
 * Through the core's route table: the key of an h2c connection is looked
 * up like a Host (case, port, wildcards), and its "h2c" ALPN can pick a
 * backend apart from HTTP/1 requests for the same name.
 */
START_TEST(test_h2__routing)
{
	static const char yaml[] =
		"\"h2c.example.com\":\n"
		"  - {port: 1, alpn: h2c}\n"
		"  - 2\n"
		"\"*.wild.example\": 3\n"
		"default: 4\n";
	static const char http1[] =
		"GET / HTTP/1.1\r\nHost: h2c.example.com:19003\r\n\r\n";
	struct fr wild[] = {SET, H(EH, REQ "41 15 'API.Wild.Example:8443'"),
			    {0}};
	struct fr none[] = {SET, H(EH, REQ), {0}};
	struct pmx_probe_result res;
	struct route_table *rt;
	struct yaml_tree *t;
	struct flight fl;
	char err[512];
	size_t len;
	uint8_t *data;

	t = yaml_tree_parse("r.yaml", yaml, strlen(yaml), err, sizeof(err));
	ck_assert_msg(t != NULL, "%s", err);
	rt = route_table_parse("HTTP", t->root, err, sizeof(err));
	ck_assert_msg(rt != NULL, "%s", err);
	yaml_tree_free(t);

	data = tu_read("tests/corpus/http/curl-h2c.bin", &len);
	ck_assert_int_eq(tu_probe(&det, data, len, 0, &res), M);
	free(data);
	ck_assert_int_eq(route_lookup(rt, res.key, res.alpn)->port, 1);

	ck_assert_int_eq(tu_probe(&det, http1, strlen(http1), 0, &res), M);
	ck_assert_int_eq(route_lookup(rt, res.key, res.alpn)->port, 2);

	build(&fl, wild);
	ck_assert_int_eq(tu_probe(&det, fl.b, fl.n, 0, &res), M);
	ck_assert_int_eq(route_lookup(rt, res.key, res.alpn)->port, 3);

	build(&fl, none);
	ck_assert_int_eq(tu_probe(&det, fl.b, fl.n, 0, &res), M);
	ck_assert_int_eq(route_lookup(rt, res.key, res.alpn)->port, 4);
	route_table_free(rt);
}
END_TEST

/* The verdicts of every prefix of buf: NEED_MORE until a MATCH whose key
 * then stays; never NO_MATCH. With final, always MATCH. */
static void
assert_monotone(const uint8_t *buf, size_t len, size_t from)
{
	struct pmx_probe_result res;
	char key[PMX_KEY_MAX] = "";
	int matched = 0;

	for (size_t n = from; n <= len; n++) {
		int v = tu_probe(&det, buf, n, 0, &res);

		ck_assert(v == M || v == W);
		ck_assert(!matched || v == M);
		if (v == M && !matched)
			memcpy(key, res.key, sizeof(key));
		else if (v == M)
			ck_assert_mem_eq(res.key, key, sizeof(key));
		matched = v == M;
		ck_assert_int_eq(tu_probe(&det, buf, n, 1, &res), M);
	}
}

START_TEST(test_h2__garbage)
{
	uint8_t buf[600];
	struct pmx_probe_result res;
	unsigned seed = 7;

	memcpy(buf, PREFACE, PREFACE_LEN);
	for (int n = 0; n < 3000; n++) {
		size_t len = PREFACE_LEN + (size_t)(rand_r(&seed) % 560);
		size_t at = PREFACE_LEN;

		for (size_t i = at; i < len; i++)
			buf[i] = (uint8_t)rand_r(&seed);
		if (n % 3 != 0 && len >= at + 9) {
			/* an empty SETTINGS, so that frames get parsed */
			memcpy(buf + at, "\0\0\0\4\0\0\0\0\0", 9);
			at += 9;
		}
		if (n % 3 == 2 && len >= at + 9) {
			/* a HEADERS frame of random flags and size, so that
			 * random HPACK gets decoded */
			buf[at] = 0;
			buf[at + 1] = (uint8_t)(rand_r(&seed) % 3);
			buf[at + 3] = HEADERS;
			buf[at + 4] &= PADDED | PRIO | END_HEADERS;
			memcpy(buf + at + 5, "\0\0\0\1", 4);
		}
		if (n % 10 == 0) {
			assert_monotone(buf, len, PREFACE_LEN);
			continue;
		}
		int v = tu_probe(&det, buf, len, 0, &res);
		ck_assert(v == M || v == W);
		ck_assert_uint_lt(strlen(res.key), sizeof(res.key));
		ck_assert_int_eq(tu_probe(&det, buf, len, 1, &res), M);
	}
}
END_TEST

START_TEST(test_h2__garbage_hpack)
{
	/* Random header blocks made of plausible representations. */
	static const uint8_t firsts[] = {0x80, 0x81, 0xa6, 0xbe, 0xbf, 0xff,
					 0x40, 0x41, 0x66, 0x7e, 0x7f, 0x00,
					 0x01, 0x10, 0x11, 0x20, 0x3f, 0x82};
	unsigned seed = 11;

	for (int n = 0; n < 1500; n++) {
		struct flight fl;
		size_t blen = 0, cap = (size_t)(rand_r(&seed) % 200);
		uint8_t block[300];

		while (blen < cap) {
			unsigned r = (unsigned)rand_r(&seed);
			if (r % 4 == 0)
				block[blen++] = firsts[(r >> 2) % sizeof(firsts)];
			else if (r % 4 == 1)
				block[blen++] = (uint8_t)((r >> 2) % 12);
			else
				block[blen++] = (uint8_t)(r >> 3);
		}
		memcpy(fl.b, PREFACE, PREFACE_LEN);
		fl.n = PREFACE_LEN;
		put_frame(&fl, SETTINGS, 0, 0, AUTO, NULL, 0);
		put_frame(&fl, HEADERS, END_HEADERS, 1, AUTO, block, blen);
		/* Complete, so always decided; every prefix is checked
		 * for one run in five. */
		if (n % 5 == 0) {
			assert_monotone(fl.b, fl.n, PREFACE_LEN);
		} else {
			struct pmx_probe_result res;
			ck_assert_int_eq(tu_probe(&det, fl.b, fl.n, 0, &res), M);
		}
	}
}
END_TEST

Suite *make_suite_h2(void);
Suite *
make_suite_h2(void)
{
	Suite *s = suite_create("h2");
	TCase *tc = tcase_create("detector");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_h2__frames, 0,
			    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_loop_test(tc, test_h2__preface_and_http1, 0,
			    (int)(sizeof(raw) / sizeof(raw[0])));
	tcase_add_test(tc, test_h2__huffman_every_symbol);
	tcase_add_test(tc, test_h2__long_authority);
	tcase_add_loop_test(tc, test_h2__captured_prefixes, 0,
			    (int)(sizeof(flights) / sizeof(flights[0])));
	tcase_add_test(tc, test_h2__routing);
	tcase_add_test(tc, test_h2__garbage);
	tcase_add_test(tc, test_h2__garbage_hpack);
	suite_add_tcase(s, tc);
	return s;
}
