/* check_probe.c — the detection chain: configured order is priority,
 * NO_MATCH is remembered, `final` forces a decision. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "probe.h"
#include "testutil.h"

static struct generation *
chain(void)
{
	const char *dir = getenv("PORTMUX_TEST_PLUGINS");
	char yaml[1024], err[1024];
	struct generation *g;

	snprintf(yaml, sizeof(yaml),
		 "PORTMUX:\n  port: 1\n  plugin_dir: %s\n"
		 "  detectors: [\"t_prefix:long\", \"t_prefix:short\"]\n"
		 "T_PREFIX:long:\n  match: ABCD\n  key: long\n"
		 "T_PREFIX:short:\n  match: AB\n  key: short\n",
		 dir);
	g = tu_generation(yaml, err, sizeof(err));
	ck_assert_msg(g != NULL, "%s", err);
	return g;
}

static int
run(struct generation *g, struct probe_state *st, const char *bytes,
    int final, int *det, char *key)
{
	struct pmx_probe_input in = {
		.data = (const uint8_t *)bytes,
		.len = strlen(bytes),
		.capacity = 64,
		.final = final,
	};
	struct pmx_probe_result res;
	int outcome = probe_run(g, st, &in, &res, det);

	if (outcome == PROBE_MATCH)
		memcpy(key, res.key, strlen(res.key) + 1); /* both 256 */
	return outcome;
}

START_TEST(test_probe__order_is_priority)
{
	struct generation *g = chain();
	struct probe_state st = {0};
	char key[256] = "";
	int det = -1;

	/* "AB" would satisfy the second detector, but the first still
	 * needs more: wait rather than let a later detector jump ahead. */
	ck_assert_int_eq(run(g, &st, "A", 0, &det, key), PROBE_WAIT);
	ck_assert_int_eq(run(g, &st, "AB", 0, &det, key), PROBE_WAIT);
	ck_assert_int_eq(run(g, &st, "ABCD", 0, &det, key), PROBE_MATCH);
	ck_assert_int_eq(det, 0);
	ck_assert_str_eq(key, "long");

	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(run(g, &st, "ABX", 0, &det, key), PROBE_MATCH);
	ck_assert_int_eq(det, 1);
	ck_assert_str_eq(key, "short");
	generation_unref(g);
}
END_TEST

START_TEST(test_probe__final_decides)
{
	struct generation *g = chain();
	struct probe_state st = {0};
	char key[256] = "";
	int det = -1;

	ck_assert_int_eq(run(g, &st, "AB", 0, &det, key), PROBE_WAIT);
	ck_assert_int_eq(run(g, &st, "AB", 1, &det, key), PROBE_MATCH);
	ck_assert_int_eq(det, 1);
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(run(g, &st, "A", 1, &det, key), PROBE_NONE);
	generation_unref(g);
}
END_TEST

START_TEST(test_probe__no_match_is_remembered)
{
	struct generation *g = chain();
	struct probe_state st = {0};
	unsigned long (*calls)(void *);
	char key[256];
	int det;

	*(void **)&calls = dlsym(g->dets[0].plugin->handle, "t_prefix_calls");
	ck_assert_ptr_nonnull(calls);
	ck_assert_int_eq(run(g, &st, "X", 0, &det, key), PROBE_NONE);
	ck_assert_int_eq(calls(g->dets[0].instance), 1);
	ck_assert_int_eq(calls(g->dets[1].instance), 1);
	/* More bytes: neither is asked again. */
	ck_assert_int_eq(run(g, &st, "XY", 0, &det, key), PROBE_NONE);
	ck_assert_int_eq(calls(g->dets[0].instance), 1);
	ck_assert_int_eq(calls(g->dets[1].instance), 1);
	generation_unref(g);
}
END_TEST

/* A listening address with detectors of its own runs those, in its
 * order; one only it names (`other`) runs for no one else. */
START_TEST(test_probe__listen_order)
{
	const char *dir = getenv("PORTMUX_TEST_PLUGINS");
	char yaml[1024], err[1024], key[256] = "";
	struct generation *g;
	struct probe_state st;
	struct addr a;
	int det = -1;

	snprintf(yaml, sizeof(yaml),
		 "PORTMUX:\n  plugin_dir: %s\n"
		 "  detectors: [\"t_prefix:long\", \"t_prefix:short\"]\n"
		 "  listen:\n"
		 "    - \"127.0.0.1:1\"\n"
		 "    - address: \"127.0.0.1:2\"\n"
		 "      detectors: [\"t_prefix:short\", \"t_prefix:long\"]\n"
		 "    - address: \"127.0.0.1:3\"\n"
		 "      detectors: [\"t_prefix:other\"]\n"
		 "T_PREFIX:long:\n  match: ABCD\n  key: long\n"
		 "T_PREFIX:short:\n  match: AB\n  key: short\n"
		 "T_PREFIX:other:\n  match: XY\n  key: other\n",
		 dir);
	g = tu_generation(yaml, err, sizeof(err));
	ck_assert_msg(g != NULL, "%s", err);

	ck_assert_int_eq(addr_from_literal("127.0.0.1", 1, &a), 0);
	probe_state_init(&st, generation_listener(g, &a));
	ck_assert_int_eq(run(g, &st, "AB", 0, &det, key), PROBE_WAIT);
	probe_state_init(&st, generation_listener(g, &a));
	ck_assert_int_eq(run(g, &st, "XY", 0, &det, key), PROBE_NONE);

	ck_assert_int_eq(addr_from_literal("127.0.0.1", 2, &a), 0);
	probe_state_init(&st, generation_listener(g, &a));
	ck_assert_int_eq(run(g, &st, "AB", 0, &det, key), PROBE_MATCH);
	ck_assert_str_eq(key, "short");
	ck_assert_int_eq(det, 1);

	ck_assert_int_eq(addr_from_literal("127.0.0.1", 3, &a), 0);
	probe_state_init(&st, generation_listener(g, &a));
	ck_assert_int_eq(run(g, &st, "AB", 0, &det, key), PROBE_NONE);
	probe_state_init(&st, generation_listener(g, &a));
	ck_assert_int_eq(run(g, &st, "XY", 0, &det, key), PROBE_MATCH);
	ck_assert_str_eq(key, "other");
	ck_assert_int_eq(det, 2);
	generation_unref(g);
}
END_TEST

Suite *make_suite_probe(void);
Suite *
make_suite_probe(void)
{
	Suite *s = suite_create("probe");
	TCase *tc = tcase_create("chain");

	tcase_add_test(tc, test_probe__order_is_priority);
	tcase_add_test(tc, test_probe__final_decides);
	tcase_add_test(tc, test_probe__no_match_is_remembered);
	tcase_add_test(tc, test_probe__listen_order);
	suite_add_tcase(s, tc);
	return s;
}
