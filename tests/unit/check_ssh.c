/* check_ssh.c — ssh.so: the RFC 4253 identification string. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static struct tu_det det;

static void
setup(void)
{
	tu_det_open(&det, "ssh", NULL);
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
} cases[] = {
	{"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", 0, M},
	{"SSH-2.0-x", 0, M},
	{"SSH-1.99-PuTTY_Release_0.78\r\n", 0, M},
	{"SSH-2.0-libssh_0.10.4\r\n", 0, M},
	{"S", 0, W},
	{"SS", 0, W},
	{"SSH", 0, W},
	{"SSH-", 0, W},
	{"SSH-2", 0, W},
	{"SSH-2.", 0, W},
	{"SSH-2.0", 0, W},
	{"SSH-2.0-", 0, W},
	{"SSH-1.99", 0, W},
	{"SSH-2.0-", 1, N},
	{"SSH-2.0-x", 1, M},
	{"SSH-3.0-x", 0, N},
	{"SSH-2-x", 0, N},
	{"SSH-2..0-x", 0, N},
	{"SSH-.2-x", 0, N},
	{"SSH-2.0- x", 0, N},
	{"SSH-2.0-\r\n", 0, N},
	{"SSH-2.x-y", 0, N},
	{"SSX-2.0-x", 0, N},
	{"ssh-2.0-x", 0, N},
	{"GET / HTTP/1.1\r\n", 0, N},
	{"\x16\x03\x01", 0, N},
	{"SSH-2.000000000-x", 0, N},
};

START_TEST(test_ssh__table)
{
	struct pmx_probe_result res;
	int v = tu_probe(&det, cases[_i].bytes, strlen(cases[_i].bytes),
			 cases[_i].final, &res);

	ck_assert_msg(v == cases[_i].verdict,
		      "case %d (%s): verdict %d, expected %d", _i,
		      cases[_i].bytes, v, cases[_i].verdict);
	if (v == M)
		ck_assert_str_eq(res.key, "");
}
END_TEST

START_TEST(test_ssh__captured_prefixes)
{
	size_t len;
	uint8_t *data = tu_read("tests/corpus/ssh/openssh-client.bin", &len);
	size_t first = tu_assert_prefixes(&det, data, len, "");

	ck_assert_int_eq(first, 9); /* "SSH-2.0-O" */
	free(data);
}
END_TEST

Suite *make_suite_ssh(void);
Suite *
make_suite_ssh(void)
{
	Suite *s = suite_create("ssh");
	TCase *tc = tcase_create("detector");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_ssh__table, 0,
			    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_ssh__captured_prefixes);
	suite_add_tcase(s, tc);
	return s;
}
