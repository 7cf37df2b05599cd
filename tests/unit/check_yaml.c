/* check_yaml.c — the YAML tree: positions, duplicates, typed reads. */
#include <string.h>

#include "testutil.h"
#include "yaml_tree.h"

START_TEST(test_yaml__positions)
{
	char err[256];
	const char *text = "a: 1\nb:\n  c: [x, y]\n  d: \"q\"\n";
	struct yaml_tree *t = yaml_tree_parse("t.yaml", text, strlen(text),
					      err, sizeof(err));
	const struct pmx_node *b, *c;

	ck_assert_ptr_nonnull(t);
	b = node_get(t->root, "b");
	ck_assert_int_eq(node_kind(b), PMX_NODE_MAP);
	c = node_get(b, "c");
	ck_assert_int_eq(node_kind(c), PMX_NODE_SEQ);
	ck_assert_int_eq(node_size(c), 2);
	ck_assert_str_eq(node_scalar(node_at(c, 1)), "y");
	ck_assert_int_eq(c->line, 3);
	ck_assert_int_eq(c->col, 6);
	ck_assert_int_eq(node_error(node_at(c, 1), err, sizeof(err), "bad %s",
				    "y"),
			 -1);
	ck_assert_str_eq(err, "t.yaml:3:10: bad y");
	yaml_tree_free(t);
}
END_TEST

static const struct {
	const char *text;
	const char *error;
} bad_yaml[] = {
	{"a: 1\na: 2\n", "t.yaml:2:1: duplicate key 'a' (first at line 1)"},
	{"a:\n  b: [1, 2\n", "t.yaml:3:1: YAML syntax error"},
	{"a: &x 1\nb: *x\n", "t.yaml:2:4: YAML aliases (*name) are not "
			     "supported"},
	{"a: 1\n---\nb: 2\n", "t.yaml:2:1: only one YAML document"},
	{"? [1, 2]\n: 3\n", "t.yaml:1:3: a mapping key must be a plain value"},
	{"a: \"x\n", "t.yaml:"},
	{"\t- a\n", "t.yaml:1:1: YAML syntax error"},
};

START_TEST(test_yaml__errors)
{
	char err[256];
	struct yaml_tree *t = yaml_tree_parse("t.yaml", bad_yaml[_i].text,
					      strlen(bad_yaml[_i].text), err,
					      sizeof(err));

	ck_assert_ptr_null(t);
	ck_assert_msg(strncmp(err, bad_yaml[_i].error,
			      strlen(bad_yaml[_i].error)) == 0,
		      "case %d: got '%s', expected '%s...'", _i, err,
		      bad_yaml[_i].error);
}
END_TEST

START_TEST(test_yaml__typed)
{
	char err[256];
	const char *text = "n: 42\nf: 0.05\nb: yes\nz: null\ns: 'null'\n";
	struct yaml_tree *t = yaml_tree_parse("t.yaml", text, strlen(text),
					      err, sizeof(err));
	long n;
	double f;
	int b;

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(node_long(node_get(t->root, "n"), 0, 100, &n, err,
				   sizeof(err)),
			 0);
	ck_assert_int_eq(n, 42);
	ck_assert_int_eq(node_long(node_get(t->root, "n"), 0, 10, &n, err,
				   sizeof(err)),
			 -1);
	ck_assert_str_eq(err, "t.yaml:1:4: 42 is out of range (0 to 10)");
	ck_assert_int_eq(node_double(node_get(t->root, "f"), 0, 1, &f, err,
				     sizeof(err)),
			 0);
	ck_assert(f > 0.049 && f < 0.051);
	ck_assert_int_eq(node_bool(node_get(t->root, "b"), &b, err,
				   sizeof(err)),
			 0);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(node_kind(node_get(t->root, "z")), PMX_NODE_NONE);
	ck_assert_str_eq(node_scalar(node_get(t->root, "s")), "null");
	ck_assert_int_eq(node_long(node_get(t->root, "f"), 0, 10, &n, err,
				   sizeof(err)),
			 -1);
	ck_assert_str_eq(err,
			 "t.yaml:2:4: expected a whole number, found '0.05'");
	yaml_tree_free(t);
}
END_TEST

Suite *make_suite_yaml(void);
Suite *
make_suite_yaml(void)
{
	Suite *s = suite_create("yaml");
	TCase *tc = tcase_create("tree");

	tcase_add_test(tc, test_yaml__positions);
	tcase_add_loop_test(tc, test_yaml__errors, 0,
			    (int)(sizeof(bad_yaml) / sizeof(bad_yaml[0])));
	tcase_add_test(tc, test_yaml__typed);
	suite_add_tcase(s, tc);
	return s;
}
