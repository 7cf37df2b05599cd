/* check_plugin.c — the loader refuses broken plugins with one message
 * naming the file and the reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "testutil.h"

static const struct {
	const char *name;
	const char *reason;
} broken[] = {
	{"bad_abi", "bad_abi.so: ABI version 99, expected 1"},
	{"no_entry", "no_entry.so: missing entry symbol pmx_detector_entry"},
	{"wrong_name", "wrong_name.so: it is named 'other_name' but its file "
		       "is 'wrong_name.so'"},
	{"create_fails", "create_fails.so: create failed: cannot open "
			 "/nonexistent/key"},
	{"no_probe", "no_probe.so: descriptor has no probe()"},
	{"small_desc", "small_desc.so: descriptor is 8 bytes"},
};

START_TEST(test_plugin__refusals)
{
	const char *dir = getenv("PORTMUX_TEST_PLUGINS");
	char yaml[1024], err[1024], expect[512];
	struct generation *g;

	ck_assert_msg(dir != NULL, "PORTMUX_TEST_PLUGINS is not set");
	snprintf(yaml, sizeof(yaml),
		 "PORTMUX:\n  port: 1\n  plugin_dir: %s\n"
		 "  detectors: [%s]\n",
		 dir, broken[_i].name);
	g = tu_generation(yaml, err, sizeof(err));
	ck_assert_msg(g == NULL, "%s was accepted", broken[_i].name);
	snprintf(expect, sizeof(expect), "plugin %s/%s", dir,
		 broken[_i].reason);
	ck_assert_msg(strstr(err, expect) != NULL, "got '%s', expected '%s'",
		      err, expect);
	/* One message: one line. */
	ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

START_TEST(test_plugin__labels_and_sections)
{
	const char *dir = getenv("PORTMUX_TEST_PLUGINS");
	char yaml[1024], err[1024];
	struct generation *g;

	snprintf(yaml, sizeof(yaml),
		 "PORTMUX:\n  port: 1\n  plugin_dir: %s\n"
		 "  detectors: [\"t_prefix:one\", t_prefix]\n"
		 "T_PREFIX:one:\n  match: AB\n"
		 "T_PREFIX:\n  match: CD\n",
		 dir);
	g = tu_generation(yaml, err, sizeof(err));
	ck_assert_msg(g != NULL, "%s", err);
	ck_assert_int_eq(g->ndets, 2);
	ck_assert_str_eq(g->dets[0].name, "t_prefix:one");
	ck_assert_str_eq(g->dets[0].section, "T_PREFIX:one");
	ck_assert_str_eq(g->dets[1].section, "T_PREFIX");
	ck_assert_ptr_eq(g->dets[0].plugin, g->dets[1].plugin);
	generation_unref(g);

	/* A plugin's own config error carries the config's position. */
	snprintf(yaml, sizeof(yaml),
		 "PORTMUX:\n  port: 1\n  plugin_dir: %s\n"
		 "  detectors: [t_prefix]\n"
		 "T_PREFIX:\n  match: AB\n  nope: 1\n",
		 dir);
	g = tu_generation(yaml, err, sizeof(err));
	ck_assert_ptr_null(g);
	ck_assert_msg(strstr(err, "test.yaml:7:3: unknown key 'nope' "
				  "(detector t_prefix, ") == err,
		      "got '%s'", err);
}
END_TEST

START_TEST(test_plugin__missing)
{
	char err[1024];
	const char *dirs[2] = {"/nonexistent-a", "/nonexistent-b"};

	ck_assert_ptr_null(plugin_load(dirs, 2, "zzz", err, sizeof(err)));
	ck_assert_str_eq(err, "detector 'zzz': no zzz.so in /nonexistent-a, "
			      "/nonexistent-b");
	ck_assert_ptr_null(plugin_load(dirs, 2, "../etc", err, sizeof(err)));
	ck_assert_str_eq(err, "bad detector name '../etc'");
}
END_TEST

START_TEST(test_plugin__older_descriptor)
{
	const char *dir = getenv("PORTMUX_TEST_PLUGINS");
	char yaml[1024], err[1024];
	struct generation *g;

	snprintf(yaml, sizeof(yaml),
		 "PORTMUX:\n  port: 1\n  plugin_dir: %s\n"
		 "  detectors: [t_old]\nT_OLD:\n  default: 9\n",
		 dir);
	g = tu_generation(yaml, err, sizeof(err));
	ck_assert_msg(g != NULL, "%s", err);
	ck_assert_uint_lt(g->dets[0].plugin->desc->struct_size,
			  sizeof(struct pmx_detector));
	generation_unref(g);
}
END_TEST

Suite *make_suite_plugin(void);
Suite *
make_suite_plugin(void)
{
	Suite *s = suite_create("plugin");
	TCase *tc = tcase_create("loader");

	tcase_add_loop_test(tc, test_plugin__refusals, 0,
			    (int)(sizeof(broken) / sizeof(broken[0])));
	tcase_add_test(tc, test_plugin__labels_and_sections);
	tcase_add_test(tc, test_plugin__missing);
	tcase_add_test(tc, test_plugin__older_descriptor);
	suite_add_tcase(s, tc);
	return s;
}
