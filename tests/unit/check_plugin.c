/* check_plugin.c — the loader refuses broken plugins with one message
 * naming the file and the reason; plugins and cores of different layouts
 * of ABI 1 work together. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "probe.h"
#include "testutil.h"
#include "yaml_tree.h"

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

/* A plugin directory that cannot be entered is not called missing: the
 * message names the path and the reason (here a file in the way, as the
 * tests run as root, for whom no permission is missing). */
START_TEST(test_plugin__unreachable)
{
	char err[1024];
	const char *dirs[2] = {"/proc/self/status", "/nonexistent-b"};

	ck_assert_ptr_null(plugin_load(dirs, 2, "zzz", err, sizeof(err)));
	ck_assert_str_eq(err, "detector 'zzz': cannot reach "
			      "/proc/self/status/zzz.so: Not a directory (plugins "
			      "are loaded as the `user` PortMux runs as)");
}
END_TEST

/* The key a generation's chain answers for `bytes` (final), or "(none)". */
static const char *
probe_key(const struct generation *g, const char *bytes)
{
	static struct pmx_probe_result res;
	struct probe_state st = {0};
	struct pmx_probe_input in = {
		.data = (const uint8_t *)bytes,
		.len = strlen(bytes),
		.capacity = 16384,
		.final = 1,
	};
	int det = -1;

	if (probe_run(g, &st, &in, &res, &det) != PROBE_MATCH)
		return "(none)";
	return res.key;
}

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
	/* And it works: it is probed, and what it lacks is not read. */
	ck_assert_str_eq(probe_key(g, "OK"), "");
	ck_assert_str_eq(probe_key(g, "no"), "(none)");
	generation_unref(g);
}
END_TEST

/* A generation of t_host with `section` as its section's body. */
static struct generation *
host_generation(const char *section, char *err, size_t errlen)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml),
		 "PORTMUX:\n  port: 1\n  plugin_dir: %s\n"
		 "  detectors: [t_host]\nT_HOST:\n%s",
		 getenv("PORTMUX_TEST_PLUGINS"), section);
	return tu_generation(yaml, err, errlen);
}

START_TEST(test_plugin__host_long_string)
{
	char err[1024];
	struct generation *g;

	g = host_generation("  limit: 42\n  word: hello\n", err, sizeof(err));
	ck_assert_msg(g != NULL, "%s", err);
	ck_assert_uint_eq(g->dets[0].host.host.struct_size,
			  sizeof(struct pmx_host));
	ck_assert_str_eq(probe_key(g, "x"), "hello:42");
	generation_unref(g);

	/* Numbers are strings too; bounds are inclusive. */
	g = host_generation("  limit: 100\n  word: 7\n", err, sizeof(err));
	ck_assert_msg(g != NULL, "%s", err);
	ck_assert_str_eq(probe_key(g, "x"), "7:100");
	generation_unref(g);
}
END_TEST

START_TEST(test_plugin__host_long_string_errors)
{
	char err[1024];

	/* Out of range: create fails with the value's file:line:col. */
	ck_assert_ptr_null(host_generation("  limit: 101\n  word: hi\n", err,
					   sizeof(err)));
	ck_assert_msg(strstr(err, "test.yaml:6:10: 101 is out of range "
				  "(1 to 100) (detector t_host, ") == err,
		      "got '%s'", err);
	ck_assert_ptr_null(host_generation("  limit: 0\n", err, sizeof(err)));
	ck_assert_msg(strstr(err, "test.yaml:6:10: 0 is out of range") == err,
		      "got '%s'", err);
	ck_assert_ptr_null(host_generation("  limit: 4x\n", err, sizeof(err)));
	ck_assert_msg(strstr(err, "test.yaml:6:10: expected a whole number, "
				  "found '4x'") == err,
		      "got '%s'", err);
	/* Not a string. */
	ck_assert_ptr_null(host_generation("  word: [a, b]\n", err,
					   sizeof(err)));
	ck_assert_msg(strstr(err, "test.yaml:6:9: expected a string, found "
				  "a list") == err,
		      "got '%s'", err);
}
END_TEST

/* What a host past its struct_size holds must not be called. */
static int
poison_long(const struct pmx_node *node, long min, long max, long *out,
	    char *err, size_t errlen)
{
	(void)node;
	(void)min;
	(void)max;
	(void)out;
	(void)err;
	(void)errlen;
	ck_abort_msg("node_long called beyond the host's struct_size");
	return -1;
}

static int
poison_string(const struct pmx_node *node, const char **out, char *err,
	      size_t errlen)
{
	(void)node;
	(void)out;
	(void)err;
	(void)errlen;
	ck_abort_msg("node_string called beyond the host's struct_size");
	return -1;
}

/* t_host's create() with a host of the layout before node_long: the
 * core's own, shrunk. Returns create's answer; on success the key its
 * instance answers is in key. */
static int
old_host_create(const char *section, char *key, size_t keylen, char *err,
		size_t errlen)
{
	const char *dirs[1] = {getenv("PORTMUX_TEST_PLUGINS")};
	const struct plugin *p;
	struct yaml_tree *tree;
	struct host_ctx ctx, old;
	struct pmx_probe_result res;
	struct pmx_probe_input in = {.data = (const uint8_t *)"x", .len = 1};
	void *inst = NULL;
	int rc;

	p = plugin_load(dirs, 1, "t_host", err, errlen);
	ck_assert_msg(p != NULL, "%s", err);
	tree = yaml_tree_parse("test.yaml", section, strlen(section), err,
			       errlen);
	ck_assert_msg(tree != NULL, "%s", err);
	host_ctx_init(&ctx, "t_host", ".");
	old = ctx; /* a host_ctx, so that log() still finds its prefix */
	old.host.struct_size = offsetof(struct pmx_host, node_long);
	old.host.node_long = poison_long;
	old.host.node_string = poison_string;
	rc = p->desc->create(&old.host, tree->root, &inst, err, errlen);
	if (rc == 0) {
		memset(&res, 0, sizeof(res));
		ck_assert_int_eq(p->desc->probe(inst, &in, &res), PMX_MATCH);
		snprintf(key, keylen, "%s", res.key);
		p->desc->destroy(inst);
	}
	free(ctx.prefix);
	yaml_tree_free(tree);
	return rc;
}

START_TEST(test_plugin__older_host)
{
	char key[PMX_KEY_MAX], err[1024];

	/* It falls back to node_scalar: same values, same rules. */
	ck_assert_msg(old_host_create("limit: 42\nword: hello\n", key,
				      sizeof(key), err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_str_eq(key, "hello:42");
	ck_assert_int_eq(old_host_create("{}", key, sizeof(key), err,
					 sizeof(err)),
			 0);
	ck_assert_str_eq(key, "none:1");
	/* Its own errors are located too. */
	ck_assert_int_eq(old_host_create("limit: 101\n", key, sizeof(key),
					 err, sizeof(err)),
			 -1);
	ck_assert_str_eq(err, "test.yaml:1:8: expected a whole number from 1 "
			      "to 100");
	ck_assert_int_eq(old_host_create("word: [a]\n", key, sizeof(key),
					 err, sizeof(err)),
			 -1);
	ck_assert_str_eq(err, "test.yaml:1:7: expected a string");
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
	tcase_add_test(tc, test_plugin__unreachable);
	tcase_add_test(tc, test_plugin__older_descriptor);
	tcase_add_test(tc, test_plugin__host_long_string);
	tcase_add_test(tc, test_plugin__host_long_string_errors);
	tcase_add_test(tc, test_plugin__older_host);
	suite_add_tcase(s, tc);
	return s;
}
