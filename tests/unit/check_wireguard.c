/* check_wireguard.c — wireguard.so: the handshake initiation, from real
 * captures (wireguard-go 0.0.20220316 configured with wg, through
 * tests/tools/udp_spy.py: tests/tools/make-wire-corpus.sh), routed by the
 * server key its mac1 proves, and the other datagrams of the same
 * handshake, which must not match. A datagram is whole (always final), so
 * the prefix property is: every cut of an initiation is NO_MATCH. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static struct tu_det det;

static void
setup(void)
{
	tu_det_open(&det, "wireguard", NULL);
}

static void
teardown(void)
{
	tu_det_close(&det);
}

#define M PMX_MATCH
#define N PMX_NO_MATCH

#define INIT "tests/corpus/wireguard/initiation.bin"

START_TEST(test_wireguard__captured_initiation)
{
	struct pmx_probe_result res;
	size_t len;
	uint8_t *data = tu_read(INIT, &len);

	ck_assert_uint_eq(len, 148);
	ck_assert_int_eq(tu_probe_udp(&det, data, len, &res), M);
	ck_assert_str_eq(res.key, "");
	free(data);
}
END_TEST

/* A datagram is whole: every shorter or longer one is something else. */
START_TEST(test_wireguard__captured_lengths)
{
	struct pmx_probe_result res;
	size_t len;
	uint8_t *data = tu_read(INIT, &len);
	uint8_t *big = calloc(1, 2048);

	ck_assert_ptr_nonnull(big);
	memcpy(big, data, len);
	for (size_t n = 0; n < 2048; n++)
		ck_assert_msg(tu_probe_udp(&det, big, n, &res) ==
				      (n == 148 ? M : N),
			      "initiation as %zu bytes", n);
	free(big);
	free(data);
}
END_TEST

/* One header byte changed (type, reserved), or mac1 blank: not one. */
START_TEST(test_wireguard__captured_mutations)
{
	struct pmx_probe_result res;
	size_t len;
	uint8_t *data = tu_read(INIT, &len);
	uint8_t copy[148];

	for (int type = 0; type < 256; type++) {
		memcpy(copy, data, sizeof(copy));
		copy[0] = (uint8_t)type;
		ck_assert_int_eq(tu_probe_udp(&det, copy, 148, &res),
				 type == 1 ? M : N);
	}
	for (size_t i = 1; i < 4; i++) {
		memcpy(copy, data, sizeof(copy));
		copy[i] = 0x01;
		ck_assert_int_eq(tu_probe_udp(&det, copy, 148, &res), N);
	}
	memcpy(copy, data, sizeof(copy));
	memset(copy + 116, 0, 16);
	ck_assert_int_eq(tu_probe_udp(&det, copy, 148, &res), N);
	/* mac2 is zero unless the server asked for a cookie: either is fine */
	memset(copy + 116, 0x5a, 32);
	ck_assert_int_eq(tu_probe_udp(&det, copy, 148, &res), M);
	free(data);
}
END_TEST

/* The rest of a real handshake: response (server to client, 92 bytes)
 * and transport data (64 bytes), and the initiation over TCP. */
START_TEST(test_wireguard__not_initiations)
{
	static const char *const files[] = {
		"tests/corpus/wireguard/response.bin",
		"tests/corpus/wireguard/transport.bin",
	};
	struct pmx_probe_result res;
	size_t len;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		uint8_t *data = tu_read(files[i], &len);

		ck_assert_int_eq(tu_probe_udp(&det, data, len, &res), N);
		free(data);
	}
	{
		uint8_t *data = tu_read(INIT, &len);

		ck_assert_int_eq(tu_probe(&det, data, len, 0, &res), N);
		ck_assert_int_eq(tu_probe(&det, data, len, 1, &res), N);
		free(data);
	}
}
END_TEST

/* Other protocols' first datagrams, padded or cut to 148 bytes. */
START_TEST(test_wireguard__other_datagrams)
{
	static const char *const files[] = {
		"tests/corpus/openvpn/udp-plain.bin",
		"tests/corpus/openvpn/udp-tls-auth.bin",
		"tests/corpus/openvpn/udp-tls-crypt.bin",
		"tests/corpus/openvpn/udp-tls-crypt-v2.bin",
	};
	static const uint8_t dns[] = "\x01\x00\x01\x00\x00\x01\x00\x00\x00\x00"
				     "\x00\x00\x07" "example\x03" "com\x00\x00"
				     "\x01\x00\x01";
	struct pmx_probe_result res;
	uint8_t buf[148];
	size_t len;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		uint8_t *data = tu_read(files[i], &len);

		memset(buf, 0xa5, sizeof(buf));
		memcpy(buf, data, len < sizeof(buf) ? len : sizeof(buf));
		ck_assert_int_eq(tu_probe_udp(&det, data, len, &res), N);
		ck_assert_int_eq(tu_probe_udp(&det, buf, sizeof(buf), &res), N);
		free(data);
	}
	/* a DNS query with id 0x0100 and RD set */
	memset(buf, 0xa5, sizeof(buf));
	memcpy(buf, dns, sizeof(dns) - 1);
	ck_assert_int_eq(tu_probe_udp(&det, buf, sizeof(buf), &res), N);
	/* DTLS ClientHello, QUIC long header */
	buf[0] = 0x16;
	ck_assert_int_eq(tu_probe_udp(&det, buf, sizeof(buf), &res), N);
	buf[0] = 0xc3;
	ck_assert_int_eq(tu_probe_udp(&det, buf, sizeof(buf), &res), N);
}
END_TEST

/* A WIREGUARD section opens the UDP listener by itself (wireguard reads
 * only datagrams); OPENVPN needs its "udp" route; PORTMUX.udp wins. */
START_TEST(test_wireguard__section_wants_udp)
{
	static const struct {
		const char *yaml;
		int udp;
	} cases[] = {
		{"PORTMUX:\n  port: 1\n  detectors: [wireguard]\n"
		 "WIREGUARD:\n  default: 51820\n",
		 1},
		{"PORTMUX:\n  port: 1\n  detectors: [ssh, wireguard]\n"
		 "SSH:\n  default: 22\nWIREGUARD:\n  default: 51820\n",
		 1},
		{"PORTMUX:\n  port: 1\n  udp: false\n  detectors: [wireguard]\n"
		 "WIREGUARD:\n  default: 51820\n",
		 0},
		{"PORTMUX:\n  port: 1\nOPENVPN:\n  tcp: 1194\n"
		 "  default: 1194\n",
		 0},
		{"PORTMUX:\n  port: 1\nOPENVPN:\n  udp: 1194\n", 1},
		{"PORTMUX:\n  port: 1\nSSH:\n  default: 22\n", 0},
	};
	char err[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct generation *g =
			tu_generation(cases[i].yaml, err, sizeof(err));

		ck_assert_msg(g != NULL, "case %zu: %s", i, err);
		ck_assert_msg(g->udp == cases[i].udp, "case %zu: udp %d", i,
			      g->udp);
		generation_unref(g);
	}
}
END_TEST

/* Every client goes to `default`: any other route is refused. */
START_TEST(test_wireguard__config)
{
	struct tu_det d;
	char err[512];

	ck_assert_int_eq(tu_det_try(&d, "wireguard", "default: 51820\n", err,
				    sizeof(err)),
			 0);
	tu_det_close(&d);
	ck_assert_int_eq(tu_det_try(&d, "wireguard",
				    "default: 1\nudp: 51820\n", err,
				    sizeof(err)),
			 -1);
	ck_assert_msg(strstr(err, "test.yaml:2:1:") != NULL &&
			      strstr(err, "'udp'") != NULL,
		      "%s", err);
}
END_TEST

/* Routing by server: the captured initiation's mac1 is verified by its
 * server's public key (tests/corpus/wireguard/server-key.hex, written by
 * the capture), and by no other. */
START_TEST(test_wireguard__route_by_server_key)
{
	static const char other[] = "0123456789abcdef0123456789abcdef"
				    "0123456789abcdef0123456789abcdef";
	struct pmx_probe_result res;
	struct tu_det d;
	char yaml[512], upper[65], err[512];
	size_t len, klen;
	uint8_t *data = tu_read(INIT, &len);
	char *key = (char *)tu_read("tests/corpus/wireguard/server-key.hex",
				    &klen);

	ck_assert_uint_eq(klen, 64);
	key = realloc(key, 65);
	ck_assert_ptr_nonnull(key);
	key[64] = '\0';
	/* its key among others: that route */
	snprintf(yaml, sizeof(yaml), "\"%s\": 1\n\"%s\": 2\ndefault: 3\n",
		 other, key);
	tu_det_open(&d, "wireguard", yaml);
	ck_assert_int_eq(tu_probe_udp(&d, data, len, &res), M);
	ck_assert_str_eq(res.key, key);
	/* a changed byte anywhere before mac1: its server does not verify
	 * it, but it is still an initiation, for default */
	for (size_t i = 4; i < 116; i += 7) {
		data[i] ^= 1;
		ck_assert_int_eq(tu_probe_udp(&d, data, len, &res), M);
		ck_assert_str_eq(res.key, "");
		data[i] ^= 1;
	}
	data[120] ^= 1; /* mac1 itself */
	ck_assert_int_eq(tu_probe_udp(&d, data, len, &res), M);
	ck_assert_str_eq(res.key, "");
	data[120] ^= 1;
	tu_det_close(&d);
	/* written in upper case: the same route (names are normalised) */
	for (size_t i = 0; i <= 64; i++)
		upper[i] = (char)(key[i] >= 'a' && key[i] <= 'f' ? key[i] - 32
								  : key[i]);
	snprintf(yaml, sizeof(yaml), "\"%s\": 1\n", upper);
	tu_det_open(&d, "wireguard", yaml);
	ck_assert_int_eq(tu_probe_udp(&d, data, len, &res), M);
	ck_assert_str_eq(res.key, key);
	tu_det_close(&d);
	/* only other servers: default */
	snprintf(yaml, sizeof(yaml), "\"%s\": 1\ndefault: 3\n", other);
	tu_det_open(&d, "wireguard", yaml);
	ck_assert_int_eq(tu_probe_udp(&d, data, len, &res), M);
	ck_assert_str_eq(res.key, "");
	tu_det_close(&d);
	/* not a key: 63 digits, a non-digit */
	ck_assert_int_eq(tu_det_try(&d, "wireguard",
				    "\"0123456789abcdef0123456789abcdef"
				    "0123456789abcdef0123456789abcde\": 1\n",
				    err, sizeof(err)),
			 -1);
	ck_assert_int_eq(tu_det_try(&d, "wireguard",
				    "\"0123456789abcdef0123456789abcdef"
				    "0123456789abcdef0123456789abcdeg\": 1\n",
				    err, sizeof(err)),
			 -1);
	free(key);
	free(data);
}
END_TEST

Suite *make_suite_wireguard(void);
Suite *
make_suite_wireguard(void)
{
	Suite *s = suite_create("wireguard");
	TCase *tc = tcase_create("detector");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_wireguard__captured_initiation);
	tcase_add_test(tc, test_wireguard__captured_lengths);
	tcase_add_test(tc, test_wireguard__captured_mutations);
	tcase_add_test(tc, test_wireguard__not_initiations);
	tcase_add_test(tc, test_wireguard__other_datagrams);
	tcase_add_test(tc, test_wireguard__section_wants_udp);
	tcase_add_test(tc, test_wireguard__config);
	tcase_add_test(tc, test_wireguard__route_by_server_key);
	suite_add_tcase(s, tc);
	return s;
}
