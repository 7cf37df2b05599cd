/* check_proxyproto.c — PROXY protocol v1/v2: build, parse, round trips,
 * truncations, bad headers; trusted source ranges. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "proxyproto.h"
#include "testutil.h"

static struct sockaddr_storage
ss4(const char *ip, int port)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *s = (struct sockaddr_in *)&ss;

	s->sin_family = AF_INET;
	s->sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, ip, &s->sin_addr);
	return ss;
}

static struct sockaddr_storage
ss6(const char *ip, int port)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

	s->sin6_family = AF_INET6;
	s->sin6_port = htons((uint16_t)port);
	inet_pton(AF_INET6, ip, &s->sin6_addr);
	return ss;
}

START_TEST(test_proxyproto__v1_text)
{
	struct sockaddr_storage c = ss4("203.0.113.7", 51234),
				l = ss4("192.0.2.1", 443);
	uint8_t buf[PROXY_HEADER_MAX];
	int n = proxy_header_build(1, (struct sockaddr *)&c,
				   (struct sockaddr *)&l, buf, sizeof(buf));

	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq((char *)buf,
			 "PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\n");
	c = ss6("2001:db8::7", 1);
	l = ss6("::1", 2);
	n = proxy_header_build(1, (struct sockaddr *)&c,
			       (struct sockaddr *)&l, buf, sizeof(buf));
	buf[n] = '\0';
	ck_assert_str_eq((char *)buf, "PROXY TCP6 2001:db8::7 ::1 1 2\r\n");
}
END_TEST

/* Build each version and family, parse it back, at every truncation. */
START_TEST(test_proxyproto__round_trip)
{
	struct sockaddr_storage c, l, pc, pl;
	uint8_t buf[PROXY_HEADER_MAX + 8];
	size_t used = 0;
	int version = 1 + _i % 2;
	int n;

	if (_i < 2) {
		c = ss4("198.51.100.9", 40000);
		l = ss4("127.0.0.1", 8080);
	} else {
		c = ss6("2001:db8:1::9", 40001);
		l = ss6("fe80::1", 443);
	}
	n = proxy_header_build(version, (struct sockaddr *)&c,
			       (struct sockaddr *)&l, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	memcpy(buf + n, "GET ", 4); /* data follows the header */
	for (int k = 1; k < n; k++)
		ck_assert_int_eq(proxy_header_parse(buf, (size_t)k, &used, &pc,
						    &pl),
				 PROXY_NEED_MORE);
	ck_assert_int_eq(proxy_header_parse(buf, (size_t)n + 4, &used, &pc,
					    &pl),
			 PROXY_DONE);
	ck_assert_int_eq(used, n);
	ck_assert_int_eq(pc.ss_family, c.ss_family);
	ck_assert_mem_eq(&pc, &c, c.ss_family == AF_INET
					  ? sizeof(struct sockaddr_in)
					  : sizeof(struct sockaddr_in6));
	ck_assert_mem_eq(&pl, &l, l.ss_family == AF_INET
					  ? sizeof(struct sockaddr_in)
					  : sizeof(struct sockaddr_in6));
}
END_TEST

static const struct {
	const char *bytes;
	size_t len;
	int result;
} cases[] = {
	{"PROXY UNKNOWN\r\nGET", 18, PROXY_DONE},
	{"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", 35, PROXY_DONE},
	{"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", 31, PROXY_INVALID},
	{"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", 30, PROXY_INVALID},
	{"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", 34, PROXY_INVALID},
	{"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", 30, PROXY_INVALID},
	{"PROXY TCP4 ::1 5.6.7.8 1 2\r\n", 28, PROXY_INVALID},
	{"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", 36, PROXY_INVALID},
	{"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", 33, PROXY_INVALID},
	{"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", 32, PROXY_INVALID},
	{"PROXY TCP4 1.2.3.4 5.6.7.8 1 2", 30, PROXY_NEED_MORE},
	{"PROXY", 5, PROXY_NEED_MORE},
	{"PROX", 4, PROXY_NEED_MORE},
	{"GET / HTTP/1.1\r\n", 16, PROXY_INVALID},
	{"SSH-2.0-x\r\n", 11, PROXY_INVALID},
	/* v2 LOCAL (a health check) with no addresses */
	{"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16, PROXY_DONE},
	/* v2, version 3 */
	{"\r\n\r\n\0\r\nQUIT\n\x31\x11\x00\x0c", 16, PROXY_INVALID},
	/* v2 TCP4 with a short address block */
	{"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x04\x01\x02\x03\x04", 20,
	 PROXY_INVALID},
	/* v2 TCP4, addresses not all there yet */
	{"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c\x01\x02", 18, PROXY_NEED_MORE},
	{"\r\n\r\n\0\r\nQU", 9, PROXY_NEED_MORE},
	{"\r\n\r\n\0\r\nQX", 9, PROXY_INVALID},
};

START_TEST(test_proxyproto__table)
{
	struct sockaddr_storage c, l;
	size_t used = 0;

	ck_assert_msg(proxy_header_parse((const uint8_t *)cases[_i].bytes,
					 cases[_i].len, &used, &c, &l) ==
			      cases[_i].result,
		      "case %d", _i);
}
END_TEST

START_TEST(test_proxyproto__v1_too_long)
{
	char line[200];
	struct sockaddr_storage c, l;
	size_t used;

	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY TCP4 ", 11);
	ck_assert_int_eq(proxy_header_parse((uint8_t *)line, sizeof(line),
					    &used, &c, &l),
			 PROXY_INVALID);
}
END_TEST

START_TEST(test_proxyproto__trusted_ranges)
{
	char err[512];
	struct config *cfg = tu_config(
		"PORTMUX:\n  port: 1\n"
		"  accept_proxy: [\"10.0.0.0/8\", \"192.0.2.7\", \"fd00::/8\","
		" \"127.0.0.0/31\"]\n",
		err, sizeof(err));
	struct sockaddr_storage a;

	ck_assert_msg(cfg != NULL, "%s", err);
#define TRUST(ss) config_proxy_trusted(cfg, (struct sockaddr *)&(ss))
	a = ss4("10.200.3.4", 1);
	ck_assert(TRUST(a));
	a = ss4("11.0.0.1", 1);
	ck_assert(!TRUST(a));
	a = ss4("192.0.2.7", 1);
	ck_assert(TRUST(a));
	a = ss4("192.0.2.8", 1);
	ck_assert(!TRUST(a));
	a = ss4("127.0.0.1", 1);
	ck_assert(TRUST(a));
	a = ss4("127.0.0.2", 1);
	ck_assert(!TRUST(a));
	a = ss6("fd12::1", 1);
	ck_assert(TRUST(a));
	a = ss6("fe80::1", 1);
	ck_assert(!TRUST(a));
	a = ss6("::ffff:10.1.2.3", 1); /* IPv4 on an IPv6 socket */
	ck_assert(TRUST(a));
#undef TRUST
	config_free(cfg);
	ck_assert_ptr_null(tu_config("PORTMUX:\n  port: 1\n"
				     "  accept_proxy: [\"10.0.0.0/33\"]\n",
				     err, sizeof(err)));
	ck_assert_str_eq(err, "test.yaml:3:18: accept_proxy: '10.0.0.0/33' is "
			      "not an address or a range like 10.0.0.0/8 or "
			      "fd00::/8");
}
END_TEST

Suite *make_suite_proxyproto(void);
Suite *
make_suite_proxyproto(void)
{
	Suite *s = suite_create("proxyproto");
	TCase *tc = tcase_create("codec");

	tcase_add_test(tc, test_proxyproto__v1_text);
	tcase_add_loop_test(tc, test_proxyproto__round_trip, 0, 4);
	tcase_add_loop_test(tc, test_proxyproto__table, 0,
			    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_proxyproto__v1_too_long);
	tcase_add_test(tc, test_proxyproto__trusted_ranges);
	suite_add_tcase(s, tc);
	return s;
}
