/* check_xmpp.c — xmpp.so: the RFC 6120 stream header, routed by `to`.
 *
 * Real captures (tests/corpus/xmpp/, recorded with tests/tools/capture.py
 * from Debian 12's packages logging in to a prosody 0.12 test server):
 *   slixmpp-client.bin  python3-slixmpp 1.8.3: no XML declaration, `to`
 *                       first;
 *   sendxmpp-client.bin sendxmpp 1.24 (Net::XMPP): an XML declaration, `to`
 *                       after the namespaces, a `from`, a space before '>'.
 * The server-to-server header is RFC 6120's own example (§9.1.1, step 1),
 * its attributes on lines of their own. The table's other rows are made
 * by hand from the RFC's grammar. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static struct tu_det det;

static void
setup(void)
{
	tu_det_open(&det, "xmpp", NULL);
}

static void
teardown(void)
{
	tu_det_close(&det);
}

#define M PMX_MATCH
#define N PMX_NO_MATCH
#define W PMX_NEED_MORE

#define NS "xmlns:stream='http://etherx.jabber.org/streams'"

/* RFC 6120 §9.1.1, step 1 (Server1 opens a stream to Server2). */
static const char rfc_s2s[] = "<?xml version='1.0'?>\n"
			      "<stream:stream\n"
			      "  from='im.example.com'\n"
			      "  to='example.net'\n"
			      "  version='1.0'\n"
			      "  xmlns='jabber:server'\n"
			      "  xmlns:stream='http://etherx.jabber.org/"
			      "streams'>";

static const struct {
	const char *bytes;
	int final;
	int verdict;
	const char *key;  /* for M */
	const char *alpn; /* for M */
} cases[] = {
	{"<stream:stream to='a.test' xmlns='jabber:client' " NS ">", 0, M,
	 "a.test", "xmpp-client"},
	/* double quotes, attributes in another order, tabs and CRLF */
	{"<stream:stream\txmlns=\"jabber:client\"\r\n"
	 " xmlns:stream=\"http://etherx.jabber.org/streams\" "
	 "version=\"1.0\" to=\"Chat.Example.ORG\">",
	 0, M, "Chat.Example.ORG", "xmpp-client"},
	/* any prefix bound to the streams namespace */
	{"<s:stream xmlns:s='http://etherx.jabber.org/streams' to='x.org' "
	 "xmlns='jabber:client'>",
	 0, M, "x.org", "xmpp-client"},
	/* no prefix: the default namespace is the streams one */
	{"<stream xmlns='http://etherx.jabber.org/streams' to='x.org'>", 0, M,
	 "x.org", ""},
	/* a component (XEP-0114): matched, no ALPN */
	{"<stream:stream xmlns='jabber:component:accept' " NS
	 " to='comp.x.org'>",
	 0, M, "comp.x.org", ""},
	/* no `to`, or one not worth routing by: the default route */
	{"<stream:stream xmlns='jabber:client' " NS ">", 0, M, "",
	 "xmpp-client"},
	{"<stream:stream to='' xmlns='jabber:client' " NS ">", 0, M, "",
	 "xmpp-client"},
	{"<stream:stream to='a b' xmlns='jabber:client' " NS ">", 0, M, "",
	 "xmpp-client"},
	{"<stream:stream to='u@x.org' xmlns='jabber:client' " NS ">", 0, M, "",
	 "xmpp-client"},
	{"<stream:stream to='x&amp;y' xmlns='jabber:client' " NS ">", 0, M, "",
	 "xmpp-client"},
	/* declaration, with white space after it */
	{"<?xml version='1.0' encoding='UTF-8'?>\n\n<stream:stream " NS
	 " to='x.org'>",
	 0, M, "x.org", ""},
	/* white space before the element, as XML allows without a
	 * declaration */
	{"\r\n <stream:stream " NS ">", 0, M, "", ""},
	{" ", 0, W, NULL, NULL},
	/* prefixes of a header */
	{"<", 0, W, NULL, NULL},
	{"<?", 0, W, NULL, NULL},
	{"<?xml", 0, W, NULL, NULL},
	{"<?xml version='1.0'?", 0, W, NULL, NULL},
	{"<?xml version='1.0'?>", 0, W, NULL, NULL},
	{"<stream:str", 0, W, NULL, NULL},
	{"<stream:stream", 0, W, NULL, NULL},
	{"<stream:stream to='x.o", 0, W, NULL, NULL},
	{"<stream:stream to='x.org' ", 0, W, NULL, NULL},
	{"<stream:stream to = ", 0, W, NULL, NULL},
	/* ... decided on what there is once final */
	{"<stream:stream to='x.org' ", 1, M, "x.org", ""},
	{"<stream:stream to='x.o", 1, M, "", ""},
	{"<stream:stream ", 1, M, "", ""},
	{"<stream:stream", 1, N, NULL, NULL},
	{"<s:stream to='x.org' ", 1, N, NULL, NULL}, /* prefix not bound */
	{"<?xml version='1.0'?>", 1, N, NULL, NULL},
	{"<", 1, N, NULL, NULL},
	/* not a stream header */
	{"<stream:stream to='x.org'>", 0, N, NULL, NULL}, /* no namespace */
	{"<stream:stream xmlns:stream='jabber:client'>", 0, N, NULL, NULL},
	{"<s:stream xmlns:stream='http://etherx.jabber.org/streams'>", 0, N,
	 NULL, NULL},
	{"<stream:stream " NS "/>", 0, N, NULL, NULL},
	{"<stream:stream to='a' to='b' " NS ">", 0, N, NULL, NULL},
	{"<stream:stream to='a'" NS ">", 0, N, NULL, NULL},
	{"<stream:stream to=a " NS ">", 0, N, NULL, NULL},
	{"<stream:stream to='<a>' " NS ">", 0, N, NULL, NULL},
	{"<stream:streams " NS ">", 0, N, NULL, NULL},
	{"<a:b:stream " NS ">", 0, N, NULL, NULL},
	{"<:stream " NS ">", 0, N, NULL, NULL},
	{"<html>", 0, N, NULL, NULL},
	{"<!-- hi --><stream:stream " NS ">", 0, N, NULL, NULL},
	{"<?xml-stylesheet?><stream:stream " NS ">", 0, N, NULL, NULL},
	{"<?xml version='1.0'\x01?>", 0, N, NULL, NULL},
	{"GET / HTTP/1.1\r\n", 0, N, NULL, NULL},
	{"SSH-2.0-x\r\n", 0, N, NULL, NULL},
	{"\x16\x03\x01", 0, N, NULL, NULL},
	{"G", 0, N, NULL, NULL},
};

START_TEST(test_xmpp__table)
{
	struct pmx_probe_result res;
	int v = tu_probe(&det, cases[_i].bytes, strlen(cases[_i].bytes),
			 cases[_i].final, &res);

	ck_assert_msg(v == cases[_i].verdict,
		      "case %d (%s): verdict %d, expected %d", _i,
		      cases[_i].bytes, v, cases[_i].verdict);
	if (v == M) {
		ck_assert_str_eq(res.key, cases[_i].key);
		ck_assert_str_eq(res.alpn, cases[_i].alpn);
	}
}
END_TEST

static const struct {
	const char *file;
	const char *key;
	const char *alpn;
} flights[] = {
	{"tests/corpus/xmpp/slixmpp-client.bin", "a.test", "xmpp-client"},
	{"tests/corpus/xmpp/sendxmpp-client.bin", "a.test", "xmpp-client"},
};

/* Every truncation of a real header: NEED_MORE until the closing '>',
 * which alone makes it MATCH. */
START_TEST(test_xmpp__captured_prefixes)
{
	struct pmx_probe_result res;
	size_t len;
	uint8_t *data = tu_read(flights[_i].file, &len);
	size_t first = tu_assert_prefixes(&det, data, len, flights[_i].key);

	ck_assert_uint_eq(first, len);
	ck_assert_int_eq(tu_probe(&det, data, len, 0, &res), M);
	ck_assert_str_eq(res.alpn, flights[_i].alpn);
	free(data);
}
END_TEST

START_TEST(test_xmpp__rfc_s2s)
{
	struct pmx_probe_result res;
	size_t first = tu_assert_prefixes(&det, (const uint8_t *)rfc_s2s,
					  strlen(rfc_s2s), "example.net");

	ck_assert_uint_eq(first, strlen(rfc_s2s));
	ck_assert_int_eq(tu_probe(&det, rfc_s2s, strlen(rfc_s2s), 0, &res), M);
	ck_assert_str_eq(res.alpn, "xmpp-server");
}
END_TEST

/* The header's first bytes, then what a client sends next (the stream
 * goes on): still matched on the header alone. */
START_TEST(test_xmpp__followed_by_more)
{
	static const char s[] = "<stream:stream to='x.org' " NS
				" xmlns='jabber:client'><starttls xmlns='urn:"
				"ietf:params:xml:ns:xmpp-tls'/>";
	struct pmx_probe_result res;

	ck_assert_int_eq(tu_probe(&det, s, strlen(s), 0, &res), M);
	ck_assert_str_eq(res.key, "x.org");
}
END_TEST

/* Other protocols' real first flights are refused from the first byte. */
static const char *const others[] = {
	"tests/corpus/http/curl-get.bin",
	"tests/corpus/http/curl-h2c.bin",
	"tests/corpus/tls/curl-tls13.bin",
	"tests/corpus/tls/chromium-pq.bin",
	"tests/corpus/ssh/openssh-client.bin",
	"tests/corpus/openvpn/tcp-plain.bin",
	"tests/corpus/openvpn/tcp-tls-crypt-v2.bin",
	"tests/corpus/pattern/mosquitto-connect.bin",
	"tests/corpus/pattern/redis-cli-set.bin",
};

START_TEST(test_xmpp__others)
{
	struct pmx_probe_result res;
	size_t len;
	uint8_t *data = tu_read(others[_i], &len);

	tu_assert_never(&det, data, len);
	ck_assert_int_eq(tu_probe(&det, data, 1, 0, &res), N);
	free(data);
}
END_TEST

/* Bounded: an endless attribute value is given up at the cap, and an
 * endless declaration too. */
START_TEST(test_xmpp__cap)
{
	struct pmx_probe_result res;
	size_t n = 4000;
	char *s = malloc(n);
	const char *head = "<stream:stream " NS " to='";

	memset(s, 'a', n);
	memcpy(s, head, strlen(head));
	ck_assert_int_eq(tu_probe(&det, s, 1023, 0, &res), W);
	ck_assert_int_eq(tu_probe(&det, s, 1024, 0, &res), M);
	ck_assert_str_eq(res.key, ""); /* the `to` never ended */
	ck_assert_int_eq(tu_probe(&det, s, n, 0, &res), M);
	memcpy(s, "<?xml ", 6);
	ck_assert_int_eq(tu_probe(&det, s, 1023, 0, &res), W);
	ck_assert_int_eq(tu_probe(&det, s, n, 0, &res), N);
	free(s);
}
END_TEST

START_TEST(test_xmpp__not_udp)
{
	static const char s[] = "<stream:stream " NS ">";
	struct pmx_probe_result res;

	ck_assert_int_eq(tu_probe_udp(&det, s, strlen(s), &res), N);
}
END_TEST

/* No route: host-unknown; backend down: remote-connection-failed; each in
 * a stream of the client's kind, as RFC 6120 §4.9.1.3 asks. */
START_TEST(test_xmpp__reject)
{
	const struct pmx_detector *d = det.plugin->desc;
	struct pmx_probe_result res;
	char buf[512];
	size_t n;

	memset(&res, 0, sizeof(res));
	snprintf(res.alpn, sizeof(res.alpn), "xmpp-server");
	n = d->reject(det.instance, PMX_REJECT_NO_ROUTE, &res,
		      (uint8_t *)buf, sizeof(buf) - 1);
	ck_assert_uint_gt(n, 0);
	buf[n] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, "xmlns='jabber:server'"));
	ck_assert_ptr_nonnull(strstr(buf, "<stream:error><host-unknown "));
	ck_assert_ptr_nonnull(strstr(buf, "</stream:stream>"));
	n = d->reject(det.instance, PMX_REJECT_BACKEND_DOWN, NULL,
		      (uint8_t *)buf, sizeof(buf) - 1);
	buf[n] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, "xmlns='jabber:client'"));
	ck_assert_ptr_nonnull(strstr(buf, "<remote-connection-failed "));
	/* Our own answer is a stream header the detector accepts. */
	ck_assert_int_eq(tu_probe(&det, buf, n, 0, &res), M);
	ck_assert_uint_eq(d->reject(det.instance, 1, NULL, (uint8_t *)buf, 20),
			  0);
}
END_TEST

Suite *make_suite_xmpp(void);
Suite *
make_suite_xmpp(void)
{
	Suite *s = suite_create("xmpp");
	TCase *tc = tcase_create("detector");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_xmpp__table, 0,
			    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_loop_test(tc, test_xmpp__captured_prefixes, 0,
			    (int)(sizeof(flights) / sizeof(flights[0])));
	tcase_add_test(tc, test_xmpp__rfc_s2s);
	tcase_add_test(tc, test_xmpp__followed_by_more);
	tcase_add_loop_test(tc, test_xmpp__others, 0,
			    (int)(sizeof(others) / sizeof(others[0])));
	tcase_add_test(tc, test_xmpp__cap);
	tcase_add_test(tc, test_xmpp__not_udp);
	tcase_add_test(tc, test_xmpp__reject);
	suite_add_tcase(s, tc);
	return s;
}
