/* check_source.c — who gets in: address ranges (cidr.c) and per-source
 * limits (source.c): a source is an IPv4 address or an IPv6 /64, counted
 * across threads, with a token bucket for its rate. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include "cidr.h"
#include "source.h"
#include "testutil.h"

/* An address (from a small ring, so a few may be in use at once). */
static const struct sockaddr *
SA(const char *ip)
{
	static struct sockaddr_storage ring[8];
	static int next;
	struct sockaddr_storage *ss = &ring[next++ % 8];

	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	}
	return (const struct sockaddr *)ss;
}

static struct cidr_list
list(const char *yaml)
{
	char err[256];
	struct yaml_tree *t = yaml_tree_parse("t.yaml", yaml, strlen(yaml),
					      err, sizeof(err));
	struct cidr_list l = {0};

	ck_assert_msg(t != NULL, "%s", err);
	ck_assert_msg(cidr_list_parse(t->root, "allow", &l, err,
				      sizeof(err)) == 0,
		      "%s", err);
	yaml_tree_free(t);
	return l;
}

START_TEST(test_source__cidr_match)
{
	struct cidr_list l = list("[10.0.0.0/8, 192.0.2.7, \"fd00::/8\", "
				  "\"2001:db8::/33\"]");
	struct cidr_list none = {0};

	ck_assert(cidr_list_match(&l, SA("10.1.2.3")));
	ck_assert(!cidr_list_match(&l, SA("11.0.0.1")));
	ck_assert(cidr_list_match(&l, SA("192.0.2.7")));
	ck_assert(!cidr_list_match(&l, SA("192.0.2.8")));
	ck_assert(cidr_list_match(&l, SA("fd12::1")));
	ck_assert(cidr_list_match(&l, SA("2001:db8:7fff::1")));
	ck_assert(!cidr_list_match(&l, SA("2001:db8:8000::1")));
	/* An IPv4 client on an IPv6 socket counts as IPv4. */
	ck_assert(cidr_list_match(&l, SA("::ffff:10.9.9.9")));
	/* deny wins; an empty allow lets everyone in. */
	ck_assert(!cidr_allowed(&none, &l, SA("10.0.0.1")));
	ck_assert(cidr_allowed(&none, &l, SA("11.0.0.1")));
	ck_assert(cidr_allowed(&l, &none, SA("10.0.0.1")));
	ck_assert(!cidr_allowed(&l, &none, SA("11.0.0.1")));
	cidr_list_clear(&l);
}
END_TEST

START_TEST(test_source__cidr_errors)
{
	static const char *const bad[] = {"10.0.0.0/8", "[10.0.0.0/33]",
					  "[300.1.1.1]", "[\"::1/129\"]",
					  "[[1]]", "[]"};
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct yaml_tree *t = yaml_tree_parse(
			"t.yaml", bad[i], strlen(bad[i]), err, sizeof(err));
		struct cidr_list l = {0};

		ck_assert(t != NULL);
		ck_assert_int_eq(cidr_list_parse(t->root, "deny", &l, err,
						 sizeof(err)),
				 -1);
		ck_assert_msg(strncmp(err, "t.yaml:1:", 9) == 0 &&
				      strstr(err, "deny: ") != NULL,
			      "%s", err);
		cidr_list_clear(&l);
		yaml_tree_free(t);
	}
}
END_TEST

START_TEST(test_source__connection_limit)
{
	struct source_table *t = source_table_new();
	struct source *s[4], *other, *x;

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(source_admit(t, SA("192.0.2.1"), 3, 0, &s[i]),
				 SOURCE_OK);
	ck_assert_int_eq(source_admit(t, SA("192.0.2.1"), 3, 0, &x),
			 SOURCE_LIMIT);
	ck_assert_ptr_null(x);
	/* Another source is not affected. */
	ck_assert_int_eq(source_admit(t, SA("192.0.2.2"), 3, 0, &other),
			 SOURCE_OK);
	/* One ends: there is room again. */
	source_release(t, s[0]);
	ck_assert_int_eq(source_admit(t, SA("192.0.2.1"), 3, 0, &s[3]),
			 SOURCE_OK);
	for (int i = 1; i < 4; i++)
		source_release(t, s[i]);
	source_release(t, other);
	ck_assert_uint_eq(source_sweep(t), 0);
	source_table_free(t);
}
END_TEST

START_TEST(test_source__ipv6_64_is_one_source)
{
	struct source_table *t = source_table_new();
	struct source *a, *b, *c, *x;

	ck_assert_int_eq(source_admit(t, SA("2001:db8:1:2::1"), 2, 0, &a),
			 SOURCE_OK);
	ck_assert_int_eq(
		source_admit(t, SA("2001:db8:1:2:ffff::9"), 2, 0, &b),
		SOURCE_OK);
	/* The same /64: one source. */
	ck_assert_int_eq(source_admit(t, SA("2001:db8:1:2::77"), 2, 0, &x),
			 SOURCE_LIMIT);
	/* The next /64: another. */
	ck_assert_int_eq(source_admit(t, SA("2001:db8:1:3::1"), 2, 0, &c),
			 SOURCE_OK);
	/* A mapped IPv4 client is its IPv4 address. */
	source_release(t, c);
	ck_assert_int_eq(source_admit(t, SA("::ffff:192.0.2.9"), 1, 0, &c),
			 SOURCE_OK);
	ck_assert_int_eq(source_admit(t, SA("192.0.2.9"), 1, 0, &x),
			 SOURCE_LIMIT);
	source_release(t, a);
	source_release(t, b);
	source_release(t, c);
	source_table_free(t);
}
END_TEST

static void
sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};

	nanosleep(&ts, NULL);
}

START_TEST(test_source__rate_bucket)
{
	struct source_table *t = source_table_new();
	struct source *s;
	int ok = 0;

	/* 10 per second: a burst of 20, then refused. */
	for (int i = 0; i < 30; i++) {
		if (source_admit(t, SA("198.51.100.1"), 0, 10, &s) ==
		    SOURCE_OK) {
			ok++;
			source_release(t, s);
		}
	}
	ck_assert_int_ge(ok, 20);
	ck_assert_int_le(ok, 21);
	ck_assert_int_eq(source_admit(t, SA("198.51.100.1"), 0, 10, &s),
			 SOURCE_RATE);
	/* Others are not. */
	ck_assert_int_eq(source_admit(t, SA("198.51.100.2"), 0, 10, &s),
			 SOURCE_OK);
	source_release(t, s);
	/* 0.3 s later: about 3 more. */
	sleep_s(0.3);
	ok = 0;
	for (int i = 0; i < 10; i++) {
		if (source_admit(t, SA("198.51.100.1"), 0, 10, &s) ==
		    SOURCE_OK) {
			ok++;
			source_release(t, s);
		}
	}
	ck_assert_int_ge(ok, 2);
	ck_assert_int_le(ok, 5);
	/* An emptied bucket keeps the source known until it is full. */
	ck_assert_uint_ge(source_sweep(t), 1);
	source_table_free(t);
}
END_TEST

START_TEST(test_source__off)
{
	struct source_table *t = source_table_new();
	struct source *s;

	/* Neither limit: nothing is counted, nothing kept. */
	for (int i = 0; i < 1000; i++) {
		ck_assert_int_eq(source_admit(t, SA("203.0.113.5"), 0, 0, &s),
				 SOURCE_OK);
		ck_assert_ptr_null(s);
	}
	ck_assert_uint_eq(source_sweep(t), 0);
	/* No table (a loop without per-source limits): everyone in. */
	ck_assert_int_eq(source_admit(NULL, SA("203.0.113.5"), 1, 1, &s),
			 SOURCE_OK);
	source_table_free(t);
}
END_TEST

Suite *make_suite_source(void);
Suite *
make_suite_source(void)
{
	Suite *s = suite_create("source");
	TCase *tc = tcase_create("source");

	tcase_add_test(tc, test_source__cidr_match);
	tcase_add_test(tc, test_source__cidr_errors);
	tcase_add_test(tc, test_source__connection_limit);
	tcase_add_test(tc, test_source__ipv6_64_is_one_source);
	tcase_add_test(tc, test_source__rate_bucket);
	tcase_add_test(tc, test_source__off);
	suite_add_tcase(s, tc);
	return s;
}
