/* check_socks.c — socks.so: SOCKS4, SOCKS4a and SOCKS5 greetings, from
 * real captures (curl 7.88, tests/tools/make-wire-corpus.sh) and messages
 * built by hand after the protocol texts (SOCKS 4, SOCKS 4A, RFC 1928). */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static struct tu_det det;

static void
setup(void)
{
	tu_det_open(&det, "socks", NULL);
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

static const struct {
	const char *bytes;
	size_t len;
	int final;
	int verdict;
	const char *key;
} cases[] = {
	/* SOCKS5 */
	{B("\x05\x01\x00"), 0, M, "socks5"},
	{B("\x05\x02\x00\x02"), 0, M, "socks5"},
	{B("\x05\x03\x00\x01\x02"), 0, M, "socks5"},
	{B("\x05\x01\x80"), 0, M, "socks5"},       /* private method */
	{B("\x05\x01\x09"), 0, M, "socks5"},
	/* a client that sends its request at once (optimistic) */
	{B("\x05\x01\x00\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50"), 0, M,
	 "socks5"},
	{B("\x05"), 0, W, NULL},
	{B("\x05\x02"), 0, W, NULL},
	{B("\x05\x02\x00"), 0, W, NULL},
	{B("\x05\x02\x00"), 1, N, NULL},
	{B("\x05"), 1, N, NULL},
	{B("\x05\x00"), 0, N, NULL},                 /* no method */
	{B("\x05\x01\xff"), 0, N, NULL},             /* "no acceptable" */
	{B("\x05\x01\x0a"), 0, N, NULL},             /* unassigned */
	{B("\x05\x02\x00\x7f"), 0, N, NULL},
	{B("\x05\x03\x00\x41"), 0, N, NULL},         /* cut, already bad */
	/* SOCKS4 */
	{B("\x04\x01\x00\x50\x7f\x00\x00\x01\x00"), 0, M, "socks4"},
	{B("\x04\x02\x00\x50\x7f\x00\x00\x01\x00"), 0, M, "socks4"},
	{B("\x04\x01\x00\x50\x7f\x00\x00\x01" "alice\x00"), 0, M, "socks4"},
	{B("\x04"), 0, W, NULL},
	{B("\x04\x01"), 0, W, NULL},
	{B("\x04\x01\x00\x50\x7f\x00\x00\x01"), 0, W, NULL},
	{B("\x04\x01\x00\x50\x7f\x00\x00\x01" "ali"), 0, W, NULL},
	{B("\x04\x01\x00\x50\x7f\x00\x00\x01" "ali"), 1, N, NULL},
	{B("\x04\x00"), 0, N, NULL},
	{B("\x04\x03"), 0, N, NULL},
	{B("\x04\x01\x00\x00"), 0, N, NULL},         /* CONNECT to port 0 */
	{B("\x04\x02\x00\x00\x7f\x00\x00\x01\x00"), 0, M, "socks4"},
	{B("\x04\x01\x00\x50\x00\x00\x00\x00"), 0, N, NULL}, /* 0.0.0.0 */
	{B("\x04\x01\x00\x50\x7f\x00\x00\x01" "al\nce\x00"), 0, N, NULL},
	{B("\x04\x01\x00\x50\x7f\x00\x00\x01" "al\xc3\xa9\x00"), 0, N, NULL},
	{B("\x04\x01\x00\x50\x7f\x00\x00\x01" "al\x7f\x00"), 0, N, NULL},
	/* SOCKS4a */
	{B("\x04\x01\x00\x50\x00\x00\x00\x01\x00" "example.test\x00"), 0, M,
	 "socks4"},
	{B("\x04\x01\x00\x50\x00\x00\x00\x01" "bob\x00" "example.test\x00"), 0,
	 M, "socks4"},
	{B("\x04\x01\x00\x50\x00\x00\x00\x01\x00"), 0, W, NULL},
	{B("\x04\x01\x00\x50\x00\x00\x00\x01\x00" "exa"), 0, W, NULL},
	{B("\x04\x01\x00\x50\x00\x00\x00\x01\x00\x00"), 0, N, NULL}, /* "" */
	{B("\x04\x01\x00\x50\x00\x00\x00\x01\x00" "ex\x01"), 0, N, NULL},
	/* other protocols */
	{B(""), 0, W, NULL},
	{B(""), 1, N, NULL},
	{B("GET / HTTP/1.1\r\n"), 0, N, NULL},
	{B("SSH-2.0-OpenSSH_9.2p1\r\n"), 0, N, NULL},
	{B("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), 0, N, NULL},
	{B("\x03\x00\x00\x2b\x26\xe0\x00\x00\x00\x00\x00"), 0, N, NULL},
	{B("\x00\x00\x00\x08\x04\xd2\x16\x2f"), 0, N, NULL},
	{B("\x00\x2a\x38"), 0, N, NULL},            /* OpenVPN TCP */
	/* an OpenVPN tls-crypt-v2 reset of 1100 bytes: 0x04 0x4c */
	{B("\x04\x4c\x50"), 0, N, NULL},
};

START_TEST(test_socks__table)
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
	{"tests/corpus/socks/curl-socks4.bin", "socks4"},
	{"tests/corpus/socks/curl-socks4-user.bin", "socks4"},
	{"tests/corpus/socks/curl-socks4a.bin", "socks4"},
	{"tests/corpus/socks/curl-socks5.bin", "socks5"},
	{"tests/corpus/socks/curl-socks5-auth.bin", "socks5"},
};

#define NFLIGHTS (int)(sizeof(flights) / sizeof(flights[0]))

/* Every truncation: NEED_MORE until the whole greeting, then MATCH. */
START_TEST(test_socks__captured_prefixes)
{
	size_t len;
	uint8_t *data = tu_read(flights[_i].file, &len);

	ck_assert_uint_eq(tu_assert_prefixes(&det, data, len, flights[_i].key),
			  len);
	free(data);
}
END_TEST

/* What follows in the same read (a client that does not wait) changes
 * nothing, and the whole greeting decides with `final` too. */
START_TEST(test_socks__captured_then_more)
{
	struct pmx_probe_result res;
	size_t len;
	uint8_t *data = tu_read(flights[_i].file, &len);
	uint8_t *more = malloc(len + 16);

	ck_assert_ptr_nonnull(more);
	memcpy(more, data, len);
	memset(more + len, 0xff, 16);
	tu_assert_prefixes(&det, more, len + 16, flights[_i].key);
	ck_assert_int_eq(tu_probe(&det, data, len, 1, &res), M);
	ck_assert_str_eq(res.key, flights[_i].key);
	free(more);
	free(data);
}
END_TEST

/* The longest names (255 bytes) match; one more byte does not. */
START_TEST(test_socks__name_bounds)
{
	uint8_t m[8 + 256 + 257];
	struct pmx_probe_result res;

	memcpy(m, "\x04\x01\x00\x50\x00\x00\x00\x01", 8);
	memset(m + 8, 'u', 255);
	m[8 + 255] = 0;
	memset(m + 8 + 256, 'h', 255);
	m[8 + 256 + 255] = 0;
	ck_assert_uint_eq(tu_assert_prefixes(&det, m, 8 + 256 + 256, "socks4"),
			  8 + 256 + 256);
	m[8 + 256 + 255] = 'h';
	m[8 + 256 + 256] = 0;
	ck_assert_int_eq(tu_probe(&det, m, sizeof(m), 0, &res), N);
	m[8 + 255] = 'u';
	ck_assert_int_eq(tu_probe(&det, m, sizeof(m), 0, &res), N);
}
END_TEST

/* Every SOCKS5 greeting of 1..255 methods that are all "no auth". */
START_TEST(test_socks__every_method_count)
{
	uint8_t g[2 + 255];

	memset(g, 0, sizeof(g));
	g[0] = 5;
	for (int n = 1; n <= 255; n++) {
		g[1] = (uint8_t)n;
		ck_assert_uint_eq(tu_assert_prefixes(&det, g, 2 + (size_t)n,
						     "socks5"),
				  2 + (size_t)n);
	}
}
END_TEST

/* No route: each version's refusal; backend down: a plain close. */
START_TEST(test_socks__reject)
{
	const struct pmx_detector *d = det.plugin->desc;
	struct pmx_probe_result res;
	uint8_t buf[64];
	size_t n;

	ck_assert_ptr_nonnull(d->reject);
	ck_assert_int_eq(tu_probe(&det, "\x05\x01\x00", 3, 0, &res),
			 PMX_MATCH);
	n = d->reject(det.instance, PMX_REJECT_NO_ROUTE, &res, buf,
		      sizeof(buf));
	ck_assert_uint_eq(n, 2);
	ck_assert_mem_eq(buf, "\x05\xff", 2);
	ck_assert_int_eq(tu_probe(&det, "\x04\x01\x00\x50\x7f\x00\x00\x01",
				  9, 0, &res),
			 PMX_MATCH);
	n = d->reject(det.instance, PMX_REJECT_NO_ROUTE, &res, buf,
		      sizeof(buf));
	ck_assert_uint_eq(n, 8);
	ck_assert_mem_eq(buf, "\x00\x5b\x00\x00\x00\x00\x00\x00", 8);
	ck_assert_uint_eq(d->reject(det.instance, PMX_REJECT_BACKEND_DOWN,
				    NULL, buf, sizeof(buf)),
			  0);
}
END_TEST

/* Route names no client can reach are refused at start-up, located. */
START_TEST(test_socks__config)
{
	struct tu_det d;
	char err[512];

	ck_assert_int_eq(tu_det_try(&d, "socks",
				    "socks4: 1080\nSOCKS5: 1081\n"
				    "default: 1082\n",
				    err, sizeof(err)),
			 0);
	tu_det_close(&d);
	ck_assert_int_eq(tu_det_try(&d, "socks", "socks4: 1\nsock5: 2\n", err,
				    sizeof(err)),
			 -1);
	ck_assert_msg(strstr(err, "test.yaml:2:1:") != NULL &&
			      strstr(err, "'sock5'") != NULL &&
			      strstr(err, "socks4, socks5 and default") != NULL,
		      "%s", err);
}
END_TEST

Suite *make_suite_socks(void);
Suite *
make_suite_socks(void)
{
	Suite *s = suite_create("socks");
	TCase *tc = tcase_create("detector");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_socks__table, 0,
			    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_loop_test(tc, test_socks__captured_prefixes, 0, NFLIGHTS);
	tcase_add_loop_test(tc, test_socks__captured_then_more, 0, NFLIGHTS);
	tcase_add_test(tc, test_socks__name_bounds);
	tcase_add_test(tc, test_socks__every_method_count);
	tcase_add_test(tc, test_socks__reject);
	tcase_add_test(tc, test_socks__config);
	suite_add_tcase(s, tc);
	return s;
}
