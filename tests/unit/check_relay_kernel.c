/* check_relay_kernel.c — the kernel relay's queue bound (relay_kernel.c):
 * each socket's share of the process's budget, and that the loaded program
 * reads the share for the connections in (where this process may load it:
 * root, or CAP_BPF with CAP_NET_ADMIN; skipped with a line otherwise). */
#include <stdio.h>

#include "config.h"
#include "relay_kernel.h"
#include "testutil.h"

#define MIB (1ull << 20)
#define KIB (1ull << 10)

/* 64 MiB for up to 2 connections (4 sockets: 256 MiB), halved each time
 * the connections double beyond, never under 16 KiB. */
START_TEST(test_relay_kernel__share)
{
	static const struct {
		long connections;
		uint64_t share;
	} cases[] = {
		{0, 64 * MIB},    {1, 64 * MIB},     {2, 64 * MIB},
		{3, 32 * MIB},    {4, 32 * MIB},     {5, 16 * MIB},
		{8, 16 * MIB},    {9, 8 * MIB},
		{64, 2 * MIB},    {65, 1 * MIB},     {1000, 128 * KIB},
		{8192, 16 * KIB}, {65536, 16 * KIB},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t got = relay_kernel_queue_share(cases[i].connections);

		ck_assert_msg(got == cases[i].share,
			      "%ld connections: %llu, expected %llu",
			      cases[i].connections, (unsigned long long)got,
			      (unsigned long long)cases[i].share);
		/* The bound holds whenever the floor allows it. */
		if (got > 16 * KIB)
			ck_assert(2 * (uint64_t)cases[i].connections * got <=
				  256 * MIB);
	}
}
END_TEST

/* The program sees the share as pairs are taken and given back. */
START_TEST(test_relay_kernel__program_reads_the_share)
{
	char err[512];
	struct config *cfg = tu_config("PORTMUX: {port: 1, relay: kernel}\n",
				       err, sizeof(err));
	long pairs[70];

	ck_assert_msg(cfg != NULL, "%s", err);
	relay_kernel_prepare(cfg);
	config_free(cfg);
	if (!relay_kernel_ready()) {
		fprintf(stderr, "relay_kernel: the program cannot be loaded "
				"here: skipped\n");
		return;
	}
	ck_assert_uint_eq(relay_kernel_queue_max(), 64 * MIB);
	for (int i = 0; i < 70; i++) {
		pairs[i] = relay_kernel_pair_get();
		ck_assert_int_ge(pairs[i], 0);
		ck_assert_uint_eq(relay_kernel_queue_max(),
				  relay_kernel_queue_share(i + 1));
	}
	ck_assert_uint_eq(relay_kernel_queue_max(), 1 * MIB);
	for (int i = 69; i >= 0; i--) {
		relay_kernel_pair_put(pairs[i]);
		ck_assert_uint_eq(relay_kernel_queue_max(),
				  relay_kernel_queue_share(i));
	}
	ck_assert_uint_eq(relay_kernel_queue_max(), 64 * MIB);
	relay_kernel_unload();
	ck_assert_uint_eq(relay_kernel_queue_max(), 0);
}
END_TEST

Suite *make_suite_relay_kernel(void);
Suite *
make_suite_relay_kernel(void)
{
	Suite *s = suite_create("relay_kernel");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_relay_kernel__share);
	tcase_add_test(tc, test_relay_kernel__program_reads_the_share);
	suite_add_tcase(s, tc);
	return s;
}
