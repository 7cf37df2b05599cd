/* check_http.c — http.so: request line, Host routing, truncations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const struct {
	const char *bytes;
	int final;
	int verdict;
	const char *key;
} cases[] = {
	{"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", 0, M, "a.test"},
	/* any header order and case, whitespace trimmed, port kept for the
	 * core to strip */
	{"GET / HTTP/1.1\r\nUser-Agent: x\r\nhOsT: \t b.test:8080  \r\n"
	 "Accept: */*\r\n\r\n",
	 0, M, "b.test:8080"},
	{"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 0, M, "[::1]:8080"},
	/* HTTP/1.0 without Host: default route */
	{"GET / HTTP/1.0\r\n\r\n", 0, M, ""},
	{"GET / HTTP/1.0\r\nAccept: */*\r\n\r\n", 0, M, ""},
	/* bare LF */
	{"GET / HTTP/1.1\nHost: c.test\n\n", 0, M, "c.test"},
	/* the Host line complete is enough: no need to wait for the rest */
	{"GET / HTTP/1.1\r\nHost: early.test\r\nAcc", 0, M, "early.test"},
	/* absolute-form and CONNECT targets carry the authority */
	{"GET http://d.test:81/x?y HTTP/1.1\r\nHost: other\r\n\r\n", 0, M,
	 "d.test:81"},
	{"GET https://user@d2.test/ HTTP/1.1\r\n\r\n", 0, M, "d2.test"},
	{"CONNECT e.test:443 HTTP/1.1\r\nHost: e.test:443\r\n\r\n", 0, M,
	 "e.test:443"},
	{"PROPFIND /dav HTTP/1.1\r\nHost: f.test\r\n\r\n", 0, M, "f.test"},
	{"VERSION-CONTROL /v HTTP/1.1\r\nHost: g.test\r\n\r\n", 0, M, "g.test"},
	/* WebSocket upgrade: just an HTTP request with more headers */
	{"GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	 "Host: ws.test\r\nSec-WebSocket-Version: 13\r\n\r\n",
	 0, M, "ws.test"},
	/* first Host wins */
	{"GET / HTTP/1.1\r\nHost: one.test\r\nHost: two.test\r\n\r\n", 0, M,
	 "one.test"},
	/* a malformed header line after a valid request line: default */
	{"GET / HTTP/1.1\r\nbogus line\r\nHost: x\r\n\r\n", 0, M, ""},
	/* not enough yet */
	{"G", 0, W, NULL},
	{"GE", 0, W, NULL},
	{"GET", 0, W, NULL},
	{"GET ", 0, W, NULL},
	{"GET /index.html", 0, W, NULL},
	{"GET / HTTP/1.", 0, W, NULL},
	{"GET / HTTP/1.1\r", 0, W, NULL},
	{"GET / HTTP/1.1\r\n", 0, W, NULL},
	{"GET / HTTP/1.1\r\nUser-Agent: x\r\n", 0, W, NULL},
	{"GET / HTTP/1.1\r\nHost: a.te", 0, W, NULL},
	{"M", 0, W, NULL}, /* MOVE, MKCOL, MERGE... */
	/* final: decide on what is there */
	{"GET / HTTP/1.1\r\nUser-Agent: x\r\n", 1, M, ""},
	{"GET / HTTP/1.1\r\nHost: a.te", 1, M, ""},
	{"GET /inde", 1, M, ""},
	{"GE", 1, N, NULL},
	{"GET ", 1, N, NULL},
	/* not HTTP */
	{"SSH-2.0-OpenSSH_9.2p1\r\n", 0, N, NULL},
	{"\x16\x03\x01\x02\x00\x01", 0, N, NULL},
	{"get / HTTP/1.1\r\n\r\n", 0, N, NULL},
	{"GET / HTTP/2.0\r\n\r\n", 0, N, NULL},
	{"GET / FTP/1.1\r\n\r\n", 0, N, NULL},
	{"GET  / HTTP/1.1\r\n\r\n", 0, N, NULL},
	{"FOO / HTTP/1.1\r\n\r\n", 0, N, NULL},
	{"GET / HTTP/1.1 \r\n\r\n", 0, N, NULL},
	{"GET /\x01 HTTP/1.1\r\n\r\n", 0, N, NULL},
	{"GET / HTTP/1.1\r\r\n", 0, N, NULL},
	{"CUSTOM_PROTOCOL hello", 0, N, NULL},
	{"\x01\x0e\x38", 0, N, NULL},
};

START_TEST(test_http__table)
{
	struct pmx_probe_result res;
	int v = tu_probe(&det, cases[_i].bytes, strlen(cases[_i].bytes),
			 cases[_i].final, &res);

	ck_assert_msg(v == cases[_i].verdict, "case %d (%s): verdict %d, "
					      "expected %d",
		      _i, cases[_i].bytes, v, cases[_i].verdict);
	if (v == PMX_MATCH)
		ck_assert_str_eq(res.key, cases[_i].key);
}
END_TEST

static const char *const all_methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
	"PATCH", "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK",
	"UNLOCK", "SEARCH", "REPORT", "MKACTIVITY", "CHECKOUT", "MERGE",
	"MKCALENDAR", "ACL", "BIND", "UNBIND", "REBIND", "ORDERPATCH",
};

START_TEST(test_http__methods)
{
	char req[256];
	struct pmx_probe_result res;

	snprintf(req, sizeof(req), "%s /x HTTP/1.1\r\nHost: m.test\r\n\r\n",
		 all_methods[_i]);
	ck_assert_int_eq(tu_probe(&det, req, strlen(req), 0, &res), M);
	/* (CONNECT's "/x" carries no authority: Host is used.) */
	ck_assert_str_eq(res.key, "m.test");
}
END_TEST

static const struct {
	const char *file;
	const char *key;
} flights[] = {
	{"tests/corpus/http/curl-get.bin", "Example.COM:8080"},
	{"tests/corpus/http/curl-post.bin", "api.example.com:19001"},
};

START_TEST(test_http__captured_prefixes)
{
	size_t len;
	uint8_t *data = tu_read(flights[_i].file, &len);

	tu_assert_prefixes(&det, data, len, flights[_i].key);
	free(data);
}
END_TEST

START_TEST(test_http__request_split_every_way)
{
	/* Headers split over reads: every prefix of a request whose Host
	 * comes last still waits, then routes by that Host. */
	const char *req = "PUT /upload HTTP/1.1\r\nUser-Agent: slow\r\n"
			  "Content-Length: 0\r\nHost: late.test\r\n\r\n";
	size_t first = tu_assert_prefixes(&det, (const uint8_t *)req,
					  strlen(req), NULL);
	struct pmx_probe_result res;

	ck_assert_int_eq(first, strlen(req) - 2); /* at the Host line end */
	tu_probe(&det, req, strlen(req), 0, &res);
	ck_assert_str_eq(res.key, "late.test");
}
END_TEST

START_TEST(test_http__garbage)
{
	uint8_t buf[512];
	struct pmx_probe_result res;
	unsigned seed = 1;

	for (int n = 0; n < 2000; n++) {
		size_t len = (size_t)(rand_r(&seed) % sizeof(buf)) + 1;
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rand_r(&seed);
		if (n % 3 == 0)
			memcpy(buf, "GET ", len < 4 ? len : 4);
		int v = tu_probe(&det, buf, len, n % 2, &res);
		ck_assert(v == M || v == N || v == W);
		ck_assert_uint_lt(strlen(res.key), sizeof(res.key));
	}
}
END_TEST

START_TEST(test_http__reject)
{
	const struct pmx_detector *d = det.plugin->desc;
	struct pmx_probe_result res = {0};
	uint8_t buf[512];
	size_t n;

	ck_assert_ptr_nonnull(d->reject);
	n = d->reject(det.instance, PMX_REJECT_NO_ROUTE, &res, buf, sizeof(buf));
	buf[n] = 0;
	ck_assert(strncmp((char *)buf, "HTTP/1.1 421 ", 13) == 0);
	ck_assert_ptr_nonnull(strstr((char *)buf, "\r\n\r\nportmux: no route"));
	n = d->reject(det.instance, PMX_REJECT_BACKEND_DOWN, NULL, buf,
		      sizeof(buf));
	buf[n] = 0;
	ck_assert(strncmp((char *)buf, "HTTP/1.1 502 ", 13) == 0);
	/* Content-Length tells the body's exact size. */
	for (int w = 1; w <= 2; w++) {
		n = d->reject(det.instance, w, &res, buf, sizeof(buf));
		buf[n] = 0;
		const char *body = strstr((char *)buf, "\r\n\r\n") + 4;
		long len = strtol(strstr((char *)buf, "Content-Length: ") + 16,
				  NULL, 10);
		ck_assert_int_eq(len, (long)strlen(body));
	}
	/* h2c: an HTTP/1 answer would be noise; too small a buffer: none. */
	snprintf(res.alpn, sizeof(res.alpn), "%s", "h2c");
	ck_assert_uint_eq(d->reject(det.instance, PMX_REJECT_NO_ROUTE, &res, buf,
				    sizeof(buf)),
			  0);
	res.alpn[0] = 0;
	ck_assert_uint_eq(d->reject(det.instance, PMX_REJECT_NO_ROUTE, &res, buf,
				    10),
			  0);
}
END_TEST

Suite *make_suite_http(void);
Suite *
make_suite_http(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("detector");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_http__table, 0,
			    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_loop_test(tc, test_http__methods, 0,
			    (int)(sizeof(all_methods) / sizeof(all_methods[0])));
	tcase_add_loop_test(tc, test_http__captured_prefixes, 0,
			    (int)(sizeof(flights) / sizeof(flights[0])));
	tcase_add_test(tc, test_http__request_split_every_way);
	tcase_add_test(tc, test_http__garbage);
	tcase_add_test(tc, test_http__reject);
	suite_add_tcase(s, tc);
	return s;
}
