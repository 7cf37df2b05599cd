/* check_route.c — key normalisation and lookup order. */
#include <stdlib.h>
#include <string.h>

#include "route.h"
#include "testutil.h"

static const struct {
	const char *in, *out;
} norms[] = {
	{"Example.COM", "example.com"},
	{"example.com:8080", "example.com"},
	{"example.com.", "example.com"},
	{"EXAMPLE.com.:443", "example.com"},
	{"[::1]:8080", "::1"},
	{"[2001:DB8::1]", "2001:db8::1"},
	{"2001:db8::1", "2001:db8::1"},
	{" spaced.example ", "spaced.example"},
	{"a\tb.example", NULL},
	{"a b", NULL},
	{"", ""},
};

START_TEST(test_route__normalize)
{
	char out[256];
	int n = route_normalize(norms[_i].in, strlen(norms[_i].in), out,
				sizeof(out));

	if (norms[_i].out == NULL) {
		ck_assert_int_eq(n, -1);
		return;
	}
	ck_assert_int_eq(n, (int)strlen(norms[_i].out));
	ck_assert_str_eq(out, norms[_i].out);
}
END_TEST

static struct route_table *
table(const char *yaml)
{
	char err[512];
	struct yaml_tree *t =
		yaml_tree_parse("r.yaml", yaml, strlen(yaml), err, sizeof(err));
	struct route_table *rt;

	ck_assert_msg(t != NULL, "%s", err);
	rt = route_table_parse("HTTP", t->root, err, sizeof(err));
	ck_assert_msg(rt != NULL, "%s", err);
	yaml_tree_free(t);
	return rt;
}

static int
port_of(const struct route_table *t, const char *key, const char *alpn)
{
	const struct backend *b = route_lookup(t, key, alpn);
	return b ? b->port : 0;
}

START_TEST(test_route__lookup_order)
{
	struct route_table *t = table("\"example.com\": 1\n"
				      "\"*.example.com\": 2\n"
				      "\"*.api.example.com\": 3\n"
				      "\"API.example.com\": 4\n"
				      "default: 5\n");

	ck_assert_int_eq(port_of(t, "example.com", NULL), 1);
	ck_assert_int_eq(port_of(t, "EXAMPLE.com.:80", NULL), 1);
	ck_assert_int_eq(port_of(t, "www.example.com", NULL), 2);
	ck_assert_int_eq(port_of(t, "a.b.example.com", NULL), 2);
	ck_assert_int_eq(port_of(t, "v1.api.example.com", NULL), 3);
	ck_assert_int_eq(port_of(t, "api.example.com", NULL), 4);
	ck_assert_int_eq(port_of(t, "xexample.com", NULL), 5);
	ck_assert_int_eq(port_of(t, "other.org", NULL), 5);
	ck_assert_int_eq(port_of(t, "", NULL), 5);
	/* Control characters, spaces, a key that may have been cut short:
	 * the default route, never a partial match. */
	ck_assert_int_eq(port_of(t, "example.com\x01", NULL), 5);
	ck_assert_int_eq(port_of(t, "exa mple.com", NULL), 5);
	{
		char longkey[300];
		memset(longkey, 'a', 255);
		longkey[255] = '\0';
		memcpy(longkey + 255 - 12, ".example.com", 12);
		ck_assert_int_eq(port_of(t, longkey, NULL), 5);
		longkey[200] = '\0'; /* shorter: a real name, wildcard */
		memcpy(longkey + 200 - 12, ".example.com", 12);
		ck_assert_int_eq(port_of(t, longkey, NULL), 2);
	}
	route_table_free(t);
}
END_TEST

START_TEST(test_route__no_default)
{
	struct route_table *t = table("\"a.test\": 1\n");

	ck_assert_int_eq(port_of(t, "a.test", NULL), 1);
	ck_assert_ptr_null(route_lookup(t, "b.test", NULL));
	ck_assert_ptr_null(route_lookup(t, "", NULL));
	route_table_free(t);
}
END_TEST

START_TEST(test_route__backend_forms)
{
	struct route_table *t = table(
		"a: 10\n"
		"b: \"127.0.0.2:11\"\n"
		"c: \"[::1]:12\"\n"
		"d: {port: 13, host: \"::1\", priority: throughput}\n"
		"e: {host: \"127.0.0.3:14\"}\n"
		"f: {port: 15, priority: latency}\n"
		"g: {port: 16, idle_timeout: 2.5}\n"
		"h: {port: 17, idle_timeout: 0}\n");
	const struct backend *b;

	b = route_lookup(t, "a", NULL);
	ck_assert_str_eq(b->text, "127.0.0.1:10");
	ck_assert_int_eq(b->priority, PRIO_BOTH);
	b = route_lookup(t, "b", NULL);
	ck_assert_str_eq(b->text, "127.0.0.2:11");
	b = route_lookup(t, "c", NULL);
	ck_assert_str_eq(b->text, "[::1]:12");
	ck_assert_int_eq(backend_addrs(b)->a[0].ss.ss_family, AF_INET6);
	b = route_lookup(t, "d", NULL);
	ck_assert_str_eq(b->text, "[::1]:13");
	ck_assert_int_eq(b->priority, PRIO_THROUGHPUT);
	b = route_lookup(t, "e", NULL);
	ck_assert_str_eq(b->text, "127.0.0.3:14");
	b = route_lookup(t, "f", NULL);
	ck_assert_int_eq(b->priority, PRIO_LATENCY);
	ck_assert_int_eq(b->idle_set, 0); /* PORTMUX's idle_timeout */
	b = route_lookup(t, "g", NULL);
	ck_assert_int_eq(b->idle_set, 1);
	ck_assert(b->idle_timeout == 2.5);
	b = route_lookup(t, "h", NULL);
	ck_assert_int_eq(b->idle_set, 1); /* never, whatever PORTMUX says */
	ck_assert(b->idle_timeout == 0);
	route_table_free(t);
}
END_TEST

START_TEST(test_route__alpn_choices)
{
	struct route_table *t = table(
		"\"a.test\":\n"
		"  - {port: 1, alpn: acme-tls/1}\n"
		"  - {port: 2, alpn: h2}\n"
		"  - 3\n"
		"\"b.test\":\n"
		"  - {port: 4, alpn: h2}\n"
		"default: 5\n");

	ck_assert_int_eq(port_of(t, "a.test", "acme-tls/1"), 1);
	ck_assert_int_eq(port_of(t, "a.test", "h2,http/1.1"), 2);
	ck_assert_int_eq(port_of(t, "a.test", "http/1.1"), 3);
	ck_assert_int_eq(port_of(t, "a.test", NULL), 3);
	ck_assert_int_eq(port_of(t, "b.test", "http/1.1,h2"), 4);
	/* No choice of b.test applies: on to the default. */
	ck_assert_int_eq(port_of(t, "b.test", "http/1.1"), 5);
	route_table_free(t);
}
END_TEST

/* A name whose answer keeps changing (round-robin DNS): replaced address
 * sets are freed once no connection can still be walking them, so a
 * backend keeps a bounded number. */
START_TEST(test_route__replaced_sets_are_freed)
{
	char err[256];
	struct backend *b = backend_new("127.0.0.1:80", 0, err, sizeof(err));
	const double grace = 5.0;

	ck_assert_ptr_nonnull(b);
	for (int i = 1; i <= 1000; i++) {
		struct addr_set *set = calloc(1, sizeof(*set));
		ck_assert_ptr_nonnull(set);
		set->n = 1;
		addr_from_literal("127.0.0.2", (uint16_t)i, &set->a[0]);
		/* one change a second */
		backend_set_addrs(b, set, 1000.0 + i, grace);
		ck_assert_ptr_eq(backend_addrs(b), set);
		ck_assert_int_le(backend_nsets(b), (int)grace + 2);
	}
	/* Within the grace period everything is kept. */
	for (int i = 0; i < 20; i++) {
		struct addr_set *set = calloc(1, sizeof(*set));
		ck_assert_ptr_nonnull(set);
		backend_set_addrs(b, set, 5000.0, grace);
	}
	ck_assert_int_ge(backend_nsets(b), 21);
	backend_destroy(b); /* frees the rest (ASan: no leak) */
}
END_TEST

Suite *make_suite_route(void);
Suite *
make_suite_route(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("lookup");

	tcase_add_loop_test(tc, test_route__normalize, 0,
			    (int)(sizeof(norms) / sizeof(norms[0])));
	tcase_add_test(tc, test_route__lookup_order);
	tcase_add_test(tc, test_route__no_default);
	tcase_add_test(tc, test_route__backend_forms);
	tcase_add_test(tc, test_route__alpn_choices);
	tcase_add_test(tc, test_route__replaced_sets_are_freed);
	suite_add_tcase(s, tc);
	return s;
}
