/* check_pattern.c — pattern.so: rules written in YAML (prefix, hex at an
 * offset, POSIX regex over the first `need` bytes).
 *
 * The flights are the real captures of tests/corpus/ (see each suite:
 * curl, OpenSSH, OpenVPN, slixmpp...; tests/corpus/pattern/ holds
 * mosquitto_pub's and redis-cli's, recorded with tests/tools/capture.py); rules written for one of them must
 * take every truncation of it as NEED_MORE until the whole rule is there,
 * then MATCH, and leave the others alone. */
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define M PMX_MATCH
#define N PMX_NO_MATCH
#define W PMX_NEED_MORE

#define ck_assert_contains(hay, needle) \
	ck_assert_msg(strstr((hay), (needle)) != NULL, \
		      "'%s' not in '%s'", (needle), (hay))

static struct tu_det det;

static void
open_rules(const char *yaml)
{
	char err[1024];

	ck_assert_msg(tu_det_try(&det, "pattern", yaml, err, sizeof(err)) == 0,
		      "%s", err);
}

static void
teardown(void)
{
	tu_det_close(&det);
}

static uint8_t *
capture(const char *file, size_t *len)
{
	return tu_read(file, len);
}

/* ---- real flights, every truncation ---- */

static const struct {
	const char *file;
	const char *rules; /* the PATTERN section */
	size_t first;      /* where it must first match */
	const char *key;
} flights[] = {
	/* a text prefix */
	{"tests/corpus/ssh/openssh-client.bin",
	 "rules:\n  - {name: ssh, prefix: \"SSH-2.0-\", backend: 22}\n", 8,
	 "ssh"},
	/* hex at offsets: record type, then handshake type client_hello */
	{"tests/corpus/tls/curl-tls13.bin",
	 "rules:\n"
	 "  - {name: x, hex: \"16 03\", offset: 0, need: 6, backend: 1}\n",
	 6, "x"},
	{"tests/corpus/tls/curl-tls13.bin",
	 "rules:\n  - {name: hello, hex: \"01\", offset: 5, backend: 443}\n", 6,
	 "hello"},
	/* a regex over binary bytes with NULs before the bytes it finds */
	{"tests/corpus/openvpn/tcp-plain.bin",
	 "rules:\n  - {name: ovpn, regex: \"\\\\x7bs[^a]\", need: 16, backend: "
	 "1194}\n",
	 16, "ovpn"},
	{"tests/corpus/openvpn/tcp-plain.bin",
	 "rules:\n  - {name: ovpn, regex: \"^[^a-z]\\\\x0e\\\\x38\", need: 3, "
	 "backend: 1194}\n",
	 3, "ovpn"},
	/* a regex over text, with a default name */
	{"tests/corpus/xmpp/slixmpp-client.bin",
	 "rules:\n  - {regex: \"^<stream:stream [^>]*to='[a-z.]+'\", need: 30, "
	 "backend: 5222}\n",
	 30, "rule1"},
	/* mosquitto_pub's CONNECT (mosquitto-clients 2.0.11): the protocol
	 * name after a one-byte remaining length */
	{"tests/corpus/pattern/mosquitto-connect.bin",
	 "rules:\n  - {name: mqtt, hex: \"00 04 4d 51 54 54\", offset: 2, "
	 "backend: 1883}\n",
	 8, "mqtt"},
	/* redis-cli's SET (redis-tools 7.0): RESP's array and bulk headers */
	{"tests/corpus/pattern/redis-cli-set.bin",
	 "rules:\n  - {name: redis, regex: \"^\\\\*[0-9]+\\r\\n\\\\$[0-9]+"
	 "\\r\\n\", need: 8, backend: 6379}\n",
	 8, "redis"},
	/* later rules decide once the earlier ones said no */
	{"tests/corpus/http/curl-get.bin",
	 "rules:\n"
	 "  - {prefix: \"POST \", backend: 1}\n"
	 "  - {regex: \"^GET /[^ ]* HTTP/1\\\\.1\\r\\n\", need: 26, "
	 "backend: 2}\n",
	 26, "rule2"},
};

START_TEST(test_pattern__flights)
{
	struct pmx_probe_result res;
	size_t len;
	uint8_t *data = capture(flights[_i].file, &len);

	open_rules(flights[_i].rules);
	ck_assert_uint_eq(tu_assert_prefixes(&det, data, len, flights[_i].key),
			  flights[_i].first);
	ck_assert_int_eq(tu_probe(&det, data, len, 0, &res), M);
	ck_assert_str_ne(res.backend, "");
	free(data);
}
END_TEST

/* ---- other protocols are left alone ---- */

static const char *const others[] = {
	"tests/corpus/http/curl-get.bin",
	"tests/corpus/http/curl-post.bin",
	"tests/corpus/tls/curl-tls13.bin",
	"tests/corpus/tls/chromium-pq.bin",
	"tests/corpus/ssh/openssh-client.bin",
	"tests/corpus/openvpn/tcp-plain.bin",
	"tests/corpus/openvpn/tcp-tls-crypt-v2.bin",
	"tests/corpus/xmpp/sendxmpp-client.bin",
	"tests/corpus/pattern/redis-cli-set.bin",
};

START_TEST(test_pattern__others)
{
	size_t len;
	uint8_t *data = capture(others[_i], &len);

	open_rules("rules:\n"
		   "  - {prefix: \"RFB \", backend: 5900}\n"
		   "  - {hex: \"ca fe\", offset: 2, backend: 1}\n"
		   "  - {regex: \"^GAME [0-9]+\", need: 8, backend: 2}\n");
	tu_assert_never(&det, data, len);
	free(data);
}
END_TEST

/* ---- semantics ---- */

static const struct {
	const char *rules;
	const char *bytes;
	size_t len; /* 0: strlen */
	int final;
	int verdict;
	const char *key;
} cases[] = {
#define ONE(r) "rules:\n  - {" r "}\n"
	/* prefix: a differing byte decides at once */
	{ONE("prefix: ABC, backend: 1"), "AB", 0, 0, W, NULL},
	{ONE("prefix: ABC, backend: 1"), "AX", 0, 0, N, NULL},
	{ONE("prefix: ABC, backend: 1"), "X", 0, 0, N, NULL},
	{ONE("prefix: ABC, backend: 1"), "AB", 0, 1, N, NULL},
	{ONE("prefix: ABC, backend: 1"), "ABCD", 0, 0, M, "rule1"},
	/* at an offset: the bytes before it are anything */
	{ONE("prefix: ABC, offset: 2, backend: 1"), "xyAB", 0, 0, W, NULL},
	{ONE("prefix: ABC, offset: 2, backend: 1"), "xyABC", 0, 0, M, NULL},
	{ONE("prefix: ABC, offset: 2, backend: 1"), "xyAX", 0, 0, N, NULL},
	/* need beyond the bytes: waits for it */
	{ONE("prefix: AB, need: 4, backend: 1"), "ABC", 0, 0, W, NULL},
	{ONE("prefix: AB, need: 4, backend: 1"), "ABC", 0, 1, N, NULL},
	{ONE("prefix: AB, need: 4, backend: 1"), "ABCD", 0, 0, M, NULL},
	/* hex with NUL and high bytes */
	{ONE("hex: \"00 ff:80\", backend: 1"), "\x00\xff\x80", 3, 0, M, NULL},
	{ONE("hex: \"00ff80\", backend: 1"), "\x00\xff\x81", 3, 0, N, NULL},
	/* regex: decided on exactly `need` bytes, however they came */
	{ONE("regex: \"^AB$\", need: 2, backend: 1"), "A", 0, 0, W, NULL},
	{ONE("regex: \"^AB$\", need: 2, backend: 1"), "ABC", 0, 0, M, NULL},
	{ONE("regex: \"^AB$\", need: 2, backend: 1"), "AXC", 0, 0, N, NULL},
	/* ... or on what there is, when final */
	{ONE("regex: \"^A\", need: 9, backend: 1"), "AB", 0, 1, M, NULL},
	{ONE("regex: \"^A\", need: 9, backend: 1"), "AB", 0, 0, W, NULL},
	/* not anchored: anywhere in the window */
	{ONE("regex: \"BC\", need: 3, backend: 1"), "ABCD", 0, 0, M, NULL},
	{ONE("regex: \"CD\", need: 3, backend: 1"), "ABCD", 0, 0, N, NULL},
	/* NULs are bytes like the others (REG_STARTEND) */
	{ONE("regex: \"^[^x]+Z\", need: 4, backend: 1"), "\x00\x00\x01Z", 4, 0,
	 M, NULL},
	{ONE("regex: \"Z\", need: 4, backend: 1"), "\x00\x00\x00Z", 4, 0, M,
	 NULL},
	/* \xHH: bytes, high ones too, one byte one character */
	{ONE("regex: \"^\\\\xff[\\\\x80-\\\\xfe].\\\\x41\", need: 4, "
	     "backend: 1"),
	 "\xff\x90\xc3" "A", 0, 0, M, NULL},
	{ONE("regex: \"^\\\\xff[\\\\x80-\\\\xfe]\", need: 2, backend: 1"),
	 "\xff\x7f", 0, 0, N, NULL},
	/* an escaped special byte is itself, not an operator */
	{ONE("regex: \"^\\\\x2e\\\\x2a\", need: 2, backend: 1"), ".*", 0, 0, M,
	 NULL},
	{ONE("regex: \"^\\\\x2e\", need: 1, backend: 1"), "a", 0, 0, N, NULL},
	/* bracket expressions: classes, a leading ], a \ inside */
	{ONE("regex: \"^[[:digit:]]+x\", need: 3, backend: 1"), "42x", 0, 0, M,
	 NULL},
	{ONE("regex: \"^[]a]\", need: 1, backend: 1"), "]", 0, 0, M, NULL},
	{ONE("regex: \"^[^]a]\", need: 1, backend: 1"), "]", 0, 0, N, NULL},
	{ONE("regex: \"^[\\\\]\", need: 1, backend: 1"), "\\", 0, 0, M, NULL},
	/* order: an earlier rule that waits holds the later ones */
	{"rules:\n  - {regex: \"^Q\", need: 10, backend: 1}\n"
	 "  - {prefix: AB, backend: 2}\n",
	 "AB", 0, 0, W, NULL},
	{"rules:\n  - {regex: \"^Q\", need: 10, backend: 1}\n"
	 "  - {prefix: AB, backend: 2}\n",
	 "AB", 0, 1, M, "rule2"},
	{"rules:\n  - {prefix: Q, backend: 1}\n"
	 "  - {name: ab.v2, prefix: AB, backend: 2}\n",
	 "AB", 0, 0, M, "ab.v2"},
	/* the first that matches wins */
	{"rules:\n  - {name: one, prefix: A, backend: 1}\n"
	 "  - {name: two, prefix: AB, backend: 2}\n",
	 "AB", 0, 0, M, "one"},
#undef ONE
};

START_TEST(test_pattern__cases)
{
	struct pmx_probe_result res;
	size_t len = cases[_i].len ? cases[_i].len : strlen(cases[_i].bytes);
	int v;

	open_rules(cases[_i].rules);
	v = tu_probe(&det, cases[_i].bytes, len, cases[_i].final, &res);
	ck_assert_msg(v == cases[_i].verdict, "case %d: verdict %d, expected %d",
		      _i, v, cases[_i].verdict);
	if (v == M && cases[_i].key != NULL)
		ck_assert_str_eq(res.key, cases[_i].key);
}
END_TEST

START_TEST(test_pattern__result)
{
	struct pmx_probe_result res;

	open_rules("rules:\n"
		   "  - {name: a, prefix: A, backend: 7777}\n"
		   "  - {name: b, prefix: B, backend: \"10.0.0.5:9000\"}\n"
		   "  - {name: c, prefix: C, backend: \"[::1]:9001\"}\n"
		   "  - {name: d, prefix: D, backend: \"localhost:9002\"}\n");
	ck_assert_int_eq(tu_probe(&det, "A", 1, 0, &res), M);
	ck_assert_str_eq(res.key, "a");
	ck_assert_str_eq(res.backend, "127.0.0.1:7777");
	ck_assert_int_eq(tu_probe(&det, "B", 1, 0, &res), M);
	ck_assert_str_eq(res.backend, "10.0.0.5:9000");
	ck_assert_int_eq(tu_probe(&det, "C", 1, 0, &res), M);
	ck_assert_str_eq(res.backend, "[::1]:9001");
	ck_assert_int_eq(tu_probe(&det, "D", 1, 0, &res), M);
	ck_assert_str_eq(res.backend, "localhost:9002");
	ck_assert_str_eq(res.alpn, "");
	/* TCP only */
	ck_assert_int_eq(tu_probe_udp(&det, "A", 1, &res), N);
}
END_TEST

/* No section: no rules, never a match (the fuzzer's case). */
START_TEST(test_pattern__no_section)
{
	struct pmx_probe_result res;

	tu_det_open(&det, "pattern", NULL);
	ck_assert_int_eq(tu_probe(&det, "A", 1, 0, &res), N);
}
END_TEST

/* Bytes are bytes whatever the process's locale: an embedded Python may
 * have set LC_CTYPE to UTF-8, where \xff alone is no character. */
START_TEST(test_pattern__locale)
{
	struct pmx_probe_result res;
	char *was = strdup(setlocale(LC_ALL, NULL));

	if (setlocale(LC_ALL, "C.UTF-8") == NULL)
		setlocale(LC_ALL, "en_US.UTF-8");
	open_rules("rules:\n  - {regex: \"^.A\", need: 2, backend: 1}\n");
	ck_assert_int_eq(tu_probe(&det, "\xff" "A", 2, 0, &res), M);
	setlocale(LC_ALL, was);
	free(was);
}
END_TEST

/* ---- bad configuration: located, clear ---- */

static const struct {
	const char *yaml;
	const char *msg;
} bad[] = {
	{"rules:\n  - {regex: \"a(b\", need: 2, backend: 1}\n",
	 "test.yaml:2:13: regex: "},
	{"rules:\n  - {regex: \"a\\\\1\", need: 2, backend: 1}\n",
	 "test.yaml:2:13: regex: back-references"},
	{"rules:\n  - {regex: \"\\\\x00\", need: 2, backend: 1}\n",
	 "test.yaml:2:13: regex: \\x00 cannot be"},
	{"rules:\n  - {regex: \"\\\\x4\", need: 2, backend: 1}\n",
	 "two hex digits"},
	{"rules:\n  - {regex: \"a\\\\\", need: 2, backend: 1}\n", "lone \\"},
	{"rules:\n  - {regex: a, backend: 1}\n",
	 "test.yaml:2:13: PATTERN: a regex rule needs `need`"},
	{"rules:\n  - {regex: a, need: 0, backend: 1}\n",
	 "test.yaml:2:22: 0 is out of range"},
	{"rules:\n  - {regex: a, offset: 1, need: 1, backend: 1}\n",
	 "test.yaml:2:24: offset: for prefix and hex"},
	{"rules:\n  - {hex: \"16 0\", backend: 1}\n",
	 "test.yaml:2:11: hex: an odd number"},
	{"rules:\n  - {hex: \"16 zz\", backend: 1}\n",
	 "hex: 'z' (character 4) is not a hex digit"},
	{"rules:\n  - {hex: \"1 6\", backend: 1}\n", "splits a byte"},
	{"rules:\n  - {hex: \"\", backend: 1}\n", "hex: no bytes"},
	{"rules:\n  - {prefix: \"\", backend: 1}\n", "prefix: empty"},
	{"rules:\n  - {prefix: ab, need: 1, backend: 1}\n",
	 "need: at least offset + the bytes' length (2)"},
	{"rules:\n  - {prefix: ab, backend: example.com:80}\n",
	 "test.yaml:2:27: backend: expected a port or \"address:port\""},
	{"rules:\n  - {prefix: ab, backend: 70000}\n", "backend: expected"},
	{"rules:\n  - {prefix: ab, backend: \"1.2.3.4:\"}\n", "backend: expected"},
	{"rules:\n  - {prefix: ab}\n", "test.yaml:2:5: PATTERN: the rule has no "
				       "backend"},
	{"rules:\n  - {prefix: ab, hex: \"00\", backend: 1}\n",
	 "exactly one of prefix, hex or regex"},
	{"rules:\n  - {backend: 1}\n", "exactly one of prefix, hex or regex"},
	{"rules:\n  - {prefix: ab, nede: 3, backend: 1}\n",
	 "test.yaml:2:18: PATTERN: unknown rule key 'nede', did you mean "
	 "'need'?"},
	{"rules:\n  - {prefix: ab, backend: 1, name: \"a b\"}\n",
	 "name: use letters"},
	{"rules:\n  - prefix\n", "test.yaml:2:5: PATTERN: each rule is a "
				"mapping"},
	{"rules: []\n", "test.yaml:1:8: PATTERN: rules: expected a list"},
	{"rule:\n  - {prefix: ab, backend: 1}\n",
	 "test.yaml:1:1: PATTERN: unknown key 'rule'"},
	{"- a\n", "PATTERN: expected a mapping with `rules`"},
};

START_TEST(test_pattern__bad_config)
{
	char err[1024];

	ck_assert_int_eq(tu_det_try(&det, "pattern", bad[_i].yaml, err,
				    sizeof(err)),
			 -1);
	ck_assert_contains(err, bad[_i].msg);
}
END_TEST

Suite *make_suite_pattern(void);
Suite *
make_suite_pattern(void)
{
	Suite *s = suite_create("pattern");
	TCase *tc = tcase_create("detector");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_loop_test(tc, test_pattern__flights, 0,
			    (int)(sizeof(flights) / sizeof(flights[0])));
	tcase_add_loop_test(tc, test_pattern__others, 0,
			    (int)(sizeof(others) / sizeof(others[0])));
	tcase_add_loop_test(tc, test_pattern__cases, 0,
			    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_pattern__result);
	tcase_add_test(tc, test_pattern__no_section);
	tcase_add_test(tc, test_pattern__locale);
	tcase_add_loop_test(tc, test_pattern__bad_config, 0,
			    (int)(sizeof(bad) / sizeof(bad[0])));
	suite_add_tcase(s, tc);
	return s;
}
