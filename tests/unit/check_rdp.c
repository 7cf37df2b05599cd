/* check_rdp.c — rdp.so: the X.224 Connection Request of RDP clients, from
 * real captures (xfreerdp 2.11, tests/tools/make-wire-corpus.sh), the
 * annotated dump of MS-RDPBCGR 4.1.1 (a spec test vector) and requests
 * built by hand. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static struct tu_det det;

static void
setup(void)
{
	tu_det_open(&det, "rdp", NULL);
}

static void
teardown(void)
{
	tu_det_close(&det);
}

#define M PMX_MATCH
#define N PMX_NO_MATCH
#define W PMX_NEED_MORE

#define B(s) s, sizeof(s) - 1

/* MS-RDPBCGR 4.1.1: "Cookie: mstshash=eltons", RDP_NEG_REQ (PROTOCOL_RDP) */
#define SPEC_4_1_1                                                          \
	"\x03\x00\x00\x2c\x27\xe0\x00\x00\x00\x00\x00"                      \
	"Cookie: mstshash=eltons\r\n"                                       \
	"\x01\x00\x08\x00\x00\x00\x00\x00"

/* TPKT + X.224 CR header for a body of n bytes */
#define HEAD(n) "\x03\x00\x00" n "\xe0\x00\x00\x12\x34\x00"
#define NEG "\x01\x00\x08\x00\x03\x00\x00\x00"
#define CORRELATION                                                         \
	"\x06\x00\x24\x00"                                                  \
	"0123456789abcdef"                                                  \
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

static const struct {
	const char *bytes;
	size_t len;
	int final;
	int verdict;
	const char *key;
} cases[] = {
	{B(SPEC_4_1_1), 0, M, "eltons"},
	/* the same and more bytes in the same read */
	{B(SPEC_4_1_1 "\x03\x00\x01\xa0"), 0, M, "eltons"},
	/* header only (11 bytes: LI 6) — an old client */
	{B("\x03\x00\x00\x0b\x06\xe0\x00\x00\x00\x00\x00"), 0, M, ""},
	/* negotiation request alone, and with correlation info */
	{B(HEAD("\x13\x0e") NEG), 0, M, ""},
	{B(HEAD("\x37\x32") NEG CORRELATION), 0, M, ""},
	/* routing token (MS: "Cookie: msts=...") */
	{B(HEAD("\x37\x32") "Cookie: msts=3640205228.15629.0000\r\n" NEG), 0,
	 M, ""},
	/* an empty name routes to default */
	{B(HEAD("\x26\x21") "Cookie: mstshash=\r\n" NEG), 0, M, ""},
	/* prefixes */
	{B("\x03"), 0, W, NULL},
	{B("\x03\x00"), 0, W, NULL},
	{B("\x03\x00\x00"), 0, W, NULL},
	{B("\x03\x00\x00\x2c\x27\xe0"), 0, W, NULL},
	{B("\x03\x00\x00\x2c\x27\xe0\x00\x00\x00\x00\x00" "Cookie: msts"), 0, W,
	 NULL},
	/* final: the header is enough, the name only once its line ended */
	{B("\x03\x00\x00\x2c\x27\xe0\x00\x00\x00\x00"), 1, N, NULL},
	{B("\x03\x00\x00\x2c\x27\xe0\x00\x00\x00\x00\x00"), 1, M, ""},
	{B("\x03\x00\x00\x2c\x27\xe0\x00\x00\x00\x00\x00" "Cookie: mstshash=elt"),
	 1, M, ""},
	{B("\x03\x00\x00\x2c\x27\xe0\x00\x00\x00\x00\x00"
	   "Cookie: mstshash=eltons\r\n\x01"),
	 1, M, "eltons"},
	/* TPKT */
	{B("\x04"), 0, N, NULL},
	{B("\x03\x01"), 0, N, NULL},
	{B("\x03\x00\x02"), 0, N, NULL},          /* longer than 259 */
	{B("\x03\x00\x01\x04"), 0, N, NULL},      /* 260 */
	{B("\x03\x00\x00\x0a"), 0, N, NULL},      /* shorter than 11 */
	/* X.224: LI, code, DST-REF, class */
	{B("\x03\x00\x00\x2c\x26"), 0, N, NULL},
	{B("\x03\x00\x00\x2c\x27\xd0"), 0, N, NULL}, /* CC, a server's */
	{B("\x03\x00\x00\x2c\x27\xf0"), 0, N, NULL}, /* DT */
	{B("\x03\x00\x00\x2c\x27\xe1"), 0, N, NULL}, /* credit */
	{B("\x03\x00\x00\x2c\x27\xe0\x00\x01"), 0, N, NULL},
	{B("\x03\x00\x00\x2c\x27\xe0\x00\x00\x00\x00\x02"), 0, N, NULL},
	/* body */
	{B(HEAD("\x13\x0e") "\x02\x00\x08\x00\x03\x00\x00\x00"), 0, N, NULL},
	{B(HEAD("\x13\x0e") "\x01\x00\x09\x00\x03\x00\x00\x00"), 0, N, NULL},
	{B(HEAD("\x12\x0d") "\x01\x00\x08\x00\x03\x00\x00"), 0, N, NULL},
	{B(HEAD("\x0f\x0a") "ab\r\n"), 0, M, ""},
	{B(HEAD("\x0f\x0a") "abcd"), 0, N, NULL},   /* no CR LF */
	{B(HEAD("\x0f\x0a") "ab\rx"), 0, N, NULL},
	{B(HEAD("\x0f\x0a") "\r\n" "ab"), 0, N, NULL}, /* empty line */
	{B(HEAD("\x0f\x0a") "a\x00\r\n"), 0, N, NULL},
	{B(HEAD("\x10\x0b") "ab\r\n" "\x01"), 0, N, NULL}, /* short NEG */
	{B(HEAD("\x10\x0b") "ab\r\n" "x"), 0, N, NULL},
	{B(HEAD("\x0e\x09") "ab\r"), 0, N, NULL}, /* CR at the very end */
	/* other protocols */
	{B("GET / HTTP/1.1\r\n"), 0, N, NULL},
	{B("SSH-2.0-OpenSSH_9.2p1\r\n"), 0, N, NULL},
	{B("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), 0, N, NULL},
	{B("\x00\x2a\x38"), 0, N, NULL},          /* OpenVPN TCP */
	{B("\x03\x00\x50"), 0, N, NULL},          /* OpenVPN, length 768 */
	{B("\x05\x01\x00"), 0, N, NULL},
	{B("\x04\x01\x00\x50\x7f\x00\x00\x01\x00"), 0, N, NULL},
	{B("\x00\x00\x00\x08\x04\xd2\x16\x2f"), 0, N, NULL},
};

START_TEST(test_rdp__table)
{
	struct pmx_probe_result res;
	int v = tu_probe(&det, cases[_i].bytes, cases[_i].len, cases[_i].final,
			 &res);

	ck_assert_msg(v == cases[_i].verdict,
		      "case %d (%zu bytes): verdict %d, expected %d", _i,
		      cases[_i].len, v, cases[_i].verdict);
	if (v == M)
		ck_assert_str_eq(res.key, cases[_i].key);
}
END_TEST

static const struct {
	const char *file;
	const char *key;
} flights[] = {
	{"tests/corpus/rdp/freerdp-alice.bin", "alice"},
	/* FreeRDP drops the domain from the cookie */
	{"tests/corpus/rdp/freerdp-domain.bin", "carol"},
	{"tests/corpus/rdp/freerdp-long-user.bin",
	 "Administrator.of.the.realm"},
	/* /sec:rdp: no negotiation request */
	{"tests/corpus/rdp/freerdp-sec-rdp.bin", "bob"},
	/* a routing token instead of a cookie */
	{"tests/corpus/rdp/freerdp-routing-token.bin", ""},
};

#define NFLIGHTS (int)(sizeof(flights) / sizeof(flights[0]))

/* Every truncation: NEED_MORE until the whole request, then MATCH. */
START_TEST(test_rdp__captured_prefixes)
{
	size_t len;
	uint8_t *data = tu_read(flights[_i].file, &len);

	ck_assert_uint_eq(len, (size_t)data[2] << 8 | data[3]);
	ck_assert_uint_eq(tu_assert_prefixes(&det, data, len, flights[_i].key),
			  len);
	free(data);
}
END_TEST

START_TEST(test_rdp__spec_prefixes)
{
	static const uint8_t spec[] = SPEC_4_1_1;

	ck_assert_uint_eq(tu_assert_prefixes(&det, spec, sizeof(spec) - 1,
					     "eltons"),
			  sizeof(spec) - 1);
}
END_TEST

/* What the client sends next (MCS Connect Initial after the server's
 * answer, or TLS) does not change the answer. */
START_TEST(test_rdp__captured_then_more)
{
	struct pmx_probe_result res;
	size_t len;
	uint8_t *data = tu_read(flights[_i].file, &len);
	uint8_t *more = malloc(len + 64);

	ck_assert_ptr_nonnull(more);
	memcpy(more, data, len);
	memset(more + len, 0x16, 64);
	tu_assert_prefixes(&det, more, len + 64, flights[_i].key);
	ck_assert_int_eq(tu_probe(&det, more, len + 64, 1, &res), M);
	free(more);
	free(data);
}
END_TEST

/* One bad byte anywhere in the header: not RDP. */
START_TEST(test_rdp__captured_header_mutations)
{
	static const size_t at[] = {0, 1, 2, 3, 4, 5, 6, 7, 10};
	struct pmx_probe_result res;
	size_t len;
	uint8_t *data = tu_read(flights[_i].file, &len);

	for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
		uint8_t was = data[at[k]];

		data[at[k]] ^= 0x40;
		ck_assert_msg(tu_probe(&det, data, len, 0, &res) == N,
			      "%s with byte %zu changed matched",
			      flights[_i].file, at[k]);
		data[at[k]] = was;
	}
	free(data);
}
END_TEST

/* The longest request (LI 254): its name, 221 bytes, fits a route key
 * whole. */
START_TEST(test_rdp__longest)
{
	uint8_t req[259];
	struct pmx_probe_result res;
	char name[222];

	memcpy(req, "\x03\x00\x01\x03\xfe\xe0\x00\x00\x00\x00\x00", 11);
	memcpy(req + 11, "Cookie: mstshash=", 17);
	memset(req + 28, 'a', 221);
	memcpy(req + 249, "\r\n" NEG, 10);
	memset(name, 'a', 221);
	name[221] = '\0';
	ck_assert_uint_eq(tu_assert_prefixes(&det, req, sizeof(req), name),
			  sizeof(req));
	/* one byte more is beyond what LI can count */
	req[3] = 0x04;
	ck_assert_int_eq(tu_probe(&det, req, 4, 0, &res), N);
}
END_TEST

Suite *make_suite_rdp(void);
Suite *
make_suite_rdp(void)
{
	Suite *s = suite_create("rdp");
	TCase *tc = tcase_create("detector");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_rdp__table, 0,
			    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_loop_test(tc, test_rdp__captured_prefixes, 0, NFLIGHTS);
	tcase_add_test(tc, test_rdp__spec_prefixes);
	tcase_add_loop_test(tc, test_rdp__captured_then_more, 0, NFLIGHTS);
	tcase_add_loop_test(tc, test_rdp__captured_header_mutations, 0,
			    NFLIGHTS);
	tcase_add_test(tc, test_rdp__longest);
	suite_add_tcase(s, tc);
	return s;
}
