/* check_postgres.c — postgres.so: the first message of a PostgreSQL
 * client, from real captures (psql 15, tests/tools/make-wire-corpus.sh)
 * and messages built by hand after the protocol's "Message Formats"
 * (GSSENCRequest and CancelRequest: no capture, libpq sends the first only
 * with Kerberos credentials, the second on a query's cancel). */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static struct tu_det det;

static void
setup(void)
{
	tu_det_open(&det, "postgres", NULL);
}

static void
teardown(void)
{
	tu_det_close(&det);
}

#define M PMX_MATCH
#define N PMX_NO_MATCH
#define W PMX_NEED_MORE

#define B(s) s, sizeof(s) - 1

#define SSL "\x00\x00\x00\x08\x04\xd2\x16\x2f"
#define GSSENC "\x00\x00\x00\x08\x04\xd2\x16\x30"
#define CANCEL "\x00\x00\x00\x10\x04\xd2\x16\x2e\x00\x00\x30\x39\xde\xad\xbe\xef"
#define V3 "\x00\x03\x00\x00"

static const struct {
	const char *bytes;
	size_t len;
	int final;
	int verdict;
	const char *key;
} cases[] = {
	{B(SSL), 0, M, ""},
	{B(GSSENC), 0, M, ""},
	{B(CANCEL), 0, M, ""},
	{B(SSL "\x16\x03\x01"), 0, M, ""}, /* TLS right behind (it waits) */
	/* protocol 3.2 cancel keys: up to 256 bytes (length 268) */
	{B("\x00\x00\x01\x0c\x04\xd2\x16\x2e"), 0, M, ""},
	{B("\x00\x00\x01\x0d\x04\xd2\x16\x2e"), 0, N, NULL},
	{B("\x00\x00\x00\x0f\x04\xd2\x16\x2e"), 0, N, NULL},
	/* the codes need their lengths */
	{B("\x00\x00\x00\x10\x04\xd2\x16\x2f"), 0, N, NULL},
	{B("\x00\x00\x00\x09\x04\xd2\x16\x30"), 0, N, NULL},
	{B("\x00\x00\x00\x08\x04\xd2\x16\x2e"), 0, N, NULL},
	{B("\x00\x00\x00\x08\x04\xd2\x16\x31"), 0, N, NULL},
	{B("\x00\x00\x00\x08\x04\xd2\x17"), 0, N, NULL},
	{B("\x00\x00\x00\x08\x04\xd3"), 0, N, NULL},
	{B("\x00\x00\x00\x08\x05"), 0, N, NULL},
	{B("\x00\x00\x00\x09\x04"), 0, N, NULL},   /* no request is 9 */
	{B("\x00\x00\x00\x08\x00"), 0, N, NULL},   /* startup needs 9 */
	/* startup messages */
	{B("\x00\x00\x00\x09" V3 "\x00"), 0, M, ""},
	{B("\x00\x00\x00\x12" V3 "user\x00" "bob\x00\x00"), 0, M, "bob"},
	{B("\x00\x00\x00\x1f" V3 "user\x00" "bob\x00" "database\x00" "db1\x00"
	   "\x00"),
	 0, M, "db1"},
	{B("\x00\x00\x00\x1f" V3 "database\x00" "db1\x00" "user\x00" "bob\x00"
	   "\x00"),
	 0, M, "db1"},
	/* an empty database is the user's */
	{B("\x00\x00\x00\x1c" V3 "user\x00" "bob\x00" "database\x00\x00\x00"),
	 0, M, "bob"},
	/* protocol 3.2 (PostgreSQL 18) */
	{B("\x00\x00\x00\x12\x00\x03\x00\x02" "user\x00" "bob\x00\x00"), 0, M,
	 "bob"},
	{B("\x00\x00\x00\x12\x00\x02\x00\x00" "user\x00" "bob\x00\x00"), 0, N,
	 NULL},                                   /* protocol 2 */
	{B("\x00\x00\x00\x12\x00\x03\x01"), 0, N, NULL},
	/* layout */
	{B("\x00\x00\x00\x12" V3 "user\x00" "bob\x00" "x"), 0, N, NULL},
	{B("\x00\x00\x00\x12" V3 "user\x00" "bobby\x00"), 0, N, NULL},
	{B("\x00\x00\x00\x12" V3 "user\x00" "bo\x00\x00\x00"), 0, N, NULL},
	{B("\x00\x00\x00\x12" V3 "us\x01r\x00" "bob\x00\x00"), 0, N, NULL},
	{B("\x00\x00\x00\x12" V3 "us r\x00" "bob\x00\x00"), 0, N, NULL},
	{B("\x00\x00\x00\x0a" V3 "\x00\x00"), 0, N, NULL},
	{B("\x00\x00\x00\x0b" V3 "a\x00\x00"), 0, N, NULL},
	/* prefixes */
	{B("\x00"), 0, W, NULL},
	{B("\x00\x00\x00\x12"), 0, W, NULL},
	{B("\x00\x00\x00\x12" V3), 0, W, NULL},
	{B("\x00\x00\x00\x12" V3 "user\x00" "bo"), 0, W, NULL},
	{B("\x00\x00\x00\x08\x04\xd2\x16"), 0, W, NULL},
	/* final: a request needs its 8 bytes; a startup message routes by
	 * its database once that pair is complete */
	{B("\x00\x00\x00\x08\x04\xd2\x16"), 1, N, NULL},
	{B("\x00\x00\x00\x22" V3), 1, M, ""},
	{B("\x00\x00\x00\x22" V3 "user\x00" "bob\x00"), 1, M, ""},
	{B("\x00\x00\x00\x22" V3 "user\x00" "bob\x00" "database\x00" "db1\x00"),
	 1, M, "db1"},
	{B("\x00\x00\x00\x22" V3 "user\x00" "bob\x00" "database\x00" "db"), 1,
	 M, ""},
	/* lengths */
	{B("\x01"), 0, N, NULL},
	{B("\x00\x01"), 0, N, NULL},
	{B("\x00\x00\x28"), 0, N, NULL},       /* >= 10240 */
	{B("\x00\x00\x27\x11"), 0, N, NULL},   /* 10001 */
	{B("\x00\x00\x00\x07"), 0, N, NULL},
	{B("\x00\x00\x00\x00"), 0, N, NULL},
	/* other protocols */
	{B("GET / HTTP/1.1\r\n"), 0, N, NULL},
	{B("SSH-2.0-OpenSSH_9.2p1\r\n"), 0, N, NULL},
	{B("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), 0, N, NULL},
	{B("\x03\x00\x00\x2b\x26\xe0\x00\x00\x00\x00\x00"), 0, N, NULL},
	{B("\x05\x01\x00"), 0, N, NULL},
	{B("\x04\x01\x00\x50\x7f\x00\x00\x01\x00"), 0, N, NULL},
	{B("\x00\x0e\x38"), 0, N, NULL},        /* OpenVPN TCP, plain */
	{B("\x00\xff\x38"), 0, N, NULL},
};

START_TEST(test_postgres__table)
{
	struct pmx_probe_result res;
	int v = tu_probe(&det, cases[_i].bytes, cases[_i].len, cases[_i].final,
			 &res);

	ck_assert_msg(v == cases[_i].verdict,
		      "case %d (%zu bytes): verdict %d, expected %d", _i,
		      cases[_i].len, v, cases[_i].verdict);
	if (v == M)
		ck_assert_str_eq(res.key, cases[_i].key);
}
END_TEST

static const struct {
	const char *file;
	const char *key;
	size_t first; /* the shortest prefix that matches; 0: all of it */
} flights[] = {
	{"tests/corpus/postgres/psql-startup.bin", "sales", 0},
	{"tests/corpus/postgres/psql-startup-options.bin", "sales", 0},
	/* libpq names the database after the user when none is given */
	{"tests/corpus/postgres/psql-user-only.bin", "bob", 0},
	{"tests/corpus/postgres/psql-sslrequest.bin", "", 0},
};

#define NFLIGHTS (int)(sizeof(flights) / sizeof(flights[0]))

START_TEST(test_postgres__captured_prefixes)
{
	size_t len;
	uint8_t *data = tu_read(flights[_i].file, &len);

	ck_assert_uint_eq(len, (size_t)data[2] << 8 | data[3]);
	ck_assert_uint_eq(tu_assert_prefixes(&det, data, len, flights[_i].key),
			  flights[_i].first ? flights[_i].first : len);
	free(data);
}
END_TEST

/* A client may pipeline nothing after a StartupMessage (it waits for the
 * server), but a probe may see any bytes after it: same answer. */
START_TEST(test_postgres__captured_then_more)
{
	struct pmx_probe_result res;
	size_t len;
	uint8_t *data = tu_read(flights[_i].file, &len);
	uint8_t *more = malloc(len + 32);

	ck_assert_ptr_nonnull(more);
	memcpy(more, data, len);
	memset(more + len, 'Q', 32);
	tu_assert_prefixes(&det, more, len + 32, flights[_i].key);
	ck_assert_int_eq(tu_probe(&det, more, len + 32, 1, &res), M);
	ck_assert_str_eq(res.key, flights[_i].key);
	free(more);
	free(data);
}
END_TEST

/* The longest startup message the server takes; one byte more is not. */
START_TEST(test_postgres__length_bounds)
{
	static uint8_t m[10001];
	struct pmx_probe_result res;

	memset(m, 'x', sizeof(m));
	memcpy(m, "\x00\x00\x27\x10" V3 "user\x00" "bob\x00" "options\x00", 25);
	m[9998] = 0;
	m[9999] = 0;
	ck_assert_int_eq(tu_probe(&det, m, 10000, 0, &res), M);
	ck_assert_str_eq(res.key, "bob");
	ck_assert_int_eq(tu_probe(&det, m, 9999, 0, &res), W);
	m[3] = 0x11;
	ck_assert_int_eq(tu_probe(&det, m, 4, 0, &res), N);
}
END_TEST

/* A name longer than a route key routes to default, never cut short. */
START_TEST(test_postgres__long_name)
{
	uint8_t m[8 + 9 + 300 + 1 + 1];
	struct pmx_probe_result res;

	memcpy(m, "\x00\x00\x01\x3f" V3 "database\x00", 17);
	memset(m + 17, 'd', 300);
	m[317] = 0;
	m[318] = 0;
	ck_assert_int_eq(tu_probe(&det, m, sizeof(m), 0, &res), M);
	ck_assert_str_eq(res.key, "");
}
END_TEST

/* The words for a client PortMux cannot serve: one well-formed
 * ErrorResponse, severity FATAL, the SQLSTATE of the reason. */
START_TEST(test_postgres__reject)
{
	static const struct {
		int why;
		const char *code, *text;
	} r[] = {
		{PMX_REJECT_NO_ROUTE, "C08004", "no route"},
		{PMX_REJECT_BACKEND_DOWN, "C08006", "unreachable"},
	};
	const struct pmx_detector *d = det.plugin->desc;
	struct pmx_probe_result res;
	uint8_t buf[512];

	ck_assert_ptr_nonnull(d->reject);
	memset(&res, 0, sizeof(res));
	for (size_t i = 0; i < 2; i++) {
		size_t n = d->reject(det.instance, r[i].why,
				     r[i].why == PMX_REJECT_NO_ROUTE ? &res
								     : NULL,
				     buf, sizeof(buf));
		uint32_t len;

		ck_assert_uint_gt(n, 5);
		ck_assert_int_eq(buf[0], 'E');
		len = (uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 |
		      (uint32_t)buf[3] << 8 | buf[4];
		ck_assert_uint_eq(len, n - 1);
		ck_assert_int_eq(buf[n - 1], 0);
		ck_assert_int_eq(buf[n - 2], 0);
		ck_assert_str_eq((const char *)buf + 5, "SFATAL");
		ck_assert_ptr_nonnull(memmem(buf, n, r[i].code, 7));
		ck_assert_ptr_nonnull(memmem(buf, n, r[i].text,
					     strlen(r[i].text)));
		/* too little room: nothing rather than a cut message */
		ck_assert_uint_eq(d->reject(det.instance, r[i].why, NULL, buf,
					    n - 1),
				  0);
	}
}
END_TEST

Suite *make_suite_postgres(void);
Suite *
make_suite_postgres(void)
{
	Suite *s = suite_create("postgres");
	TCase *tc = tcase_create("detector");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_postgres__table, 0,
			    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_loop_test(tc, test_postgres__captured_prefixes, 0, NFLIGHTS);
	tcase_add_loop_test(tc, test_postgres__captured_then_more, 0,
			    NFLIGHTS);
	tcase_add_test(tc, test_postgres__length_bounds);
	tcase_add_test(tc, test_postgres__long_name);
	tcase_add_test(tc, test_postgres__reject);
	suite_add_tcase(s, tc);
	return s;
}
