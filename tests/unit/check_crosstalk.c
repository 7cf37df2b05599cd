/* check_crosstalk.c — no built-in detector claims another protocol's real
 * first flight (the captures of tests/corpus/), on any truncation of it:
 * the property that lets them share a port in any order. Each detector is
 * shown every capture of the others: no prefix may MATCH, and the whole
 * flight is NO_MATCH (never NEED_MORE: the flight is all a client sends
 * before it waits for the server). UDP: each datagram detector and every
 * other protocol's first datagram. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static const char *const tcp_detectors[] = {
	"ssh", "tls", "http", "openvpn", "rdp", "socks", "postgres", "xmpp",
};

#define NTCP_DET (int)(sizeof(tcp_detectors) / sizeof(tcp_detectors[0]))

/* Each capture and the detector it belongs to. */
static const struct {
	const char *owner;
	const char *file;
} tcp_flights[] = {
	{"ssh", "tests/corpus/ssh/openssh-client.bin"},
	{"tls", "tests/corpus/tls/curl-tls13.bin"},
	{"tls", "tests/corpus/tls/chromium-pq.bin"},
	{"tls", "tests/corpus/tls/openssl-tls12.bin"},
	{"http", "tests/corpus/http/curl-get.bin"},
	{"http", "tests/corpus/http/curl-post.bin"},
	{"http", "tests/corpus/http/nghttp-h2c.bin"},
	{"openvpn", "tests/corpus/openvpn/tcp-plain.bin"},
	{"openvpn", "tests/corpus/openvpn/tcp-tls-auth.bin"},
	{"openvpn", "tests/corpus/openvpn/tcp-tls-crypt.bin"},
	{"openvpn", "tests/corpus/openvpn/tcp-tls-crypt-v2.bin"},
	{"rdp", "tests/corpus/rdp/freerdp-alice.bin"},
	{"rdp", "tests/corpus/rdp/freerdp-sec-rdp.bin"},
	{"rdp", "tests/corpus/rdp/freerdp-routing-token.bin"},
	{"socks", "tests/corpus/socks/curl-socks4.bin"},
	{"socks", "tests/corpus/socks/curl-socks4a.bin"},
	{"socks", "tests/corpus/socks/curl-socks5.bin"},
	{"socks", "tests/corpus/socks/curl-socks5-auth.bin"},
	{"postgres", "tests/corpus/postgres/psql-startup.bin"},
	{"postgres", "tests/corpus/postgres/psql-sslrequest.bin"},
	{"xmpp", "tests/corpus/xmpp/slixmpp-client.bin"},
	{"xmpp", "tests/corpus/xmpp/sendxmpp-client.bin"},
};

#define NTCP_FLIGHTS (int)(sizeof(tcp_flights) / sizeof(tcp_flights[0]))

START_TEST(test_crosstalk__tcp)
{
	const char *name = tcp_detectors[_i];
	struct pmx_probe_result res;
	struct tu_det det;

	tu_det_open(&det, name, NULL);
	for (int f = 0; f < NTCP_FLIGHTS; f++) {
		size_t len;
		uint8_t *data;

		if (strcmp(tcp_flights[f].owner, name) == 0)
			continue;
		data = tu_read(tcp_flights[f].file, &len);
		for (size_t n = 1; n <= len; n++) {
			int v = tu_probe(&det, data, n, 0, &res);

			ck_assert_msg(v != PMX_MATCH,
				      "%s claims %zu/%zu bytes of %s", name, n,
				      len, tcp_flights[f].file);
		}
		ck_assert_msg(tu_probe(&det, data, len, 0, &res) ==
				      PMX_NO_MATCH,
			      "%s still waits after all of %s", name,
			      tcp_flights[f].file);
		ck_assert_msg(tu_probe(&det, data, len, 1, &res) ==
				      PMX_NO_MATCH,
			      "%s claims all of %s with final", name,
			      tcp_flights[f].file);
		free(data);
	}
	tu_det_close(&det);
}
END_TEST

static const char *const udp_detectors[] = {"openvpn", "wireguard"};

static const struct {
	const char *owner;
	const char *file;
} udp_flights[] = {
	{"openvpn", "tests/corpus/openvpn/udp-plain.bin"},
	{"openvpn", "tests/corpus/openvpn/udp-tls-auth.bin"},
	{"openvpn", "tests/corpus/openvpn/udp-tls-crypt.bin"},
	{"openvpn", "tests/corpus/openvpn/udp-tls-crypt-v2.bin"},
	{"wireguard", "tests/corpus/wireguard/initiation.bin"},
};

#define NUDP_FLIGHTS (int)(sizeof(udp_flights) / sizeof(udp_flights[0]))

START_TEST(test_crosstalk__udp)
{
	const char *name = udp_detectors[_i];
	struct pmx_probe_result res;
	struct tu_det det;

	tu_det_open(&det, name, NULL);
	for (int f = 0; f < NUDP_FLIGHTS; f++) {
		size_t len;
		uint8_t *data;

		if (strcmp(udp_flights[f].owner, name) == 0)
			continue;
		data = tu_read(udp_flights[f].file, &len);
		ck_assert_msg(tu_probe_udp(&det, data, len, &res) ==
				      PMX_NO_MATCH,
			      "%s claims %s", name, udp_flights[f].file);
		free(data);
	}
	tu_det_close(&det);
}
END_TEST

/*
 * The one overlap between TCP detectors: OpenVPN's 2-byte length may start
 * with 0x04, and a SOCKS4 request to a port 0x50xx reads as a tls-crypt-v2
 * reset of 1025 bytes, which openvpn claims on 3 bytes. socks claims the
 * request too (it is one): so socks goes before openvpn in the default
 * order. A real tls-crypt-v2 reset shown to socks: not SOCKS.
 */
START_TEST(test_crosstalk__socks4_before_openvpn)
{
	static const uint8_t req[] = "\x04\x01\x50\x00\x7f\x00\x00\x01"
				     "alice";
	struct pmx_probe_result res;
	struct tu_det ovpn, socks;
	size_t len;
	uint8_t *data;

	tu_det_open(&ovpn, "openvpn", NULL);
	tu_det_open(&socks, "socks", NULL);
	ck_assert_int_eq(tu_probe(&ovpn, req, sizeof(req), 0, &res),
			 PMX_MATCH);
	ck_assert_uint_eq(tu_assert_prefixes(&socks, req, sizeof(req),
					     "socks4"),
			  sizeof(req));
	data = tu_read("tests/corpus/openvpn/tcp-tls-crypt-v2.bin", &len);
	ck_assert_int_eq(tu_probe(&socks, data, len, 1, &res), PMX_NO_MATCH);
	free(data);
	tu_det_close(&socks);
	tu_det_close(&ovpn);
}
END_TEST

Suite *make_suite_crosstalk(void);
Suite *
make_suite_crosstalk(void)
{
	Suite *s = suite_create("crosstalk");
	TCase *tc = tcase_create("detectors");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_crosstalk__tcp, 0, NTCP_DET);
	tcase_add_loop_test(tc, test_crosstalk__udp, 0,
			    (int)(sizeof(udp_detectors) /
				  sizeof(udp_detectors[0])));
	tcase_add_test(tc, test_crosstalk__socks4_before_openvpn);
	suite_add_tcase(s, tc);
	return s;
}
