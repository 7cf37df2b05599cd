/* check_decide.c — from a verdict to a backend (decide.c), pinned for TCP
 * and UDP alike: an explicit answer, a bad one (the detector's routes
 * then, for both transports), route keys, a detector without routes, an
 * answer resolved on the probe pool, and what a blocking detector that
 * cannot run means (it declines). */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide.h"
#include "testutil.h"

/* t_block (blocking, routes) then t_prefix (no routes). */
static struct generation *
gen(void)
{
	const char *dir = getenv("PORTMUX_TEST_PLUGINS");
	char yaml[1024], err[1024];
	struct generation *g;

	ck_assert_msg(dir != NULL, "PORTMUX_TEST_PLUGINS is not set");
	snprintf(yaml, sizeof(yaml),
		 "PORTMUX:\n  port: 1\n  plugin_dir: %s\n"
		 "  detectors: [t_block, t_prefix]\n"
		 "T_BLOCK:\n  default: 9001\n  udp: 9002\n  foo: 9003\n"
		 "T_PREFIX:\n  match: ABC\n",
		 dir);
	g = tu_generation(yaml, err, sizeof(err));
	ck_assert_msg(g != NULL, "%s", err);
	return g;
}

static const enum pmx_transport transports[] = {PMX_TRANSPORT_TCP,
						PMX_TRANSPORT_UDP};

static int
port_of(const struct backend *b)
{
	const struct sockaddr_in *sin =
		(const struct sockaddr_in *)&backend_addrs(b)->a[0].ss;

	return ntohs(sin->sin_port);
}

static const struct backend *
decide(struct generation *g, int det, const char *key, const char *backend,
       enum pmx_transport t, struct backend **own)
{
	struct pmx_probe_result res;

	memset(&res, 0, sizeof(res));
	pmx_result_set(res.key, key, strlen(key));
	pmx_result_set(res.backend, backend, strlen(backend));
	return decide_backend(g, det, &res, t, NULL, own, "test", 1);
}

START_TEST(test_decide__explicit_backend)
{
	struct generation *g = gen();
	struct backend *own = NULL;
	const struct backend *b =
		decide(g, 0, "foo", "127.0.0.1:7000", transports[_i], &own);

	/* The explicit answer wins over the key's route. */
	ck_assert_ptr_nonnull(own);
	ck_assert_ptr_eq(b, own);
	ck_assert_int_eq(port_of(b), 7000);
	ck_assert_uint_eq(g->dets[0].matches, 1);
	backend_destroy(own);
	generation_unref(g);
}
END_TEST

START_TEST(test_decide__bad_explicit_uses_routes)
{
	/* Not "host:port"; a name, which only the probe pool may resolve;
	 * no port. One rule for both transports: the detector's routes. */
	static const char *const bad[] = {"not a backend", "example.com:80",
					  "127.0.0.1"};
	struct generation *g = gen();
	enum pmx_transport t = transports[_i];

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		struct backend *own = (struct backend *)&own;
		const struct backend *b = decide(g, 0, "", bad[k], t, &own);

		ck_assert_ptr_null(own);
		ck_assert_ptr_nonnull(b);
		/* An empty key: the default route, "udp" for datagrams. */
		ck_assert_int_eq(port_of(b),
				 t == PMX_TRANSPORT_UDP ? 9002 : 9001);
		b = decide(g, 0, "foo", bad[k], t, &own);
		ck_assert_int_eq(port_of(b), 9003);
	}
	generation_unref(g);
}
END_TEST

START_TEST(test_decide__no_routes_no_backend)
{
	struct generation *g = gen();
	struct backend *own = NULL;

	/* t_prefix has no route table: a bad answer leaves nowhere to go,
	 * and the caller falls back (TCP) or drops (UDP). */
	ck_assert_ptr_null(decide(g, 1, "", "bad", transports[_i], &own));
	ck_assert_ptr_null(own);
	ck_assert_ptr_null(decide(g, 1, "x", "", transports[_i], &own));
	generation_unref(g);
}
END_TEST

START_TEST(test_decide__answer_resolved_on_the_pool)
{
	struct generation *g = gen();
	struct pmx_probe_input in = {.data = (const uint8_t *)"B", .len = 1,
				     .transport = transports[_i]};
	struct pmx_probe_result res;
	struct probe_job *job = probe_job_new(g, 0, &in, NULL, NULL);
	struct backend *own = NULL;
	const struct backend *b;
	char err[200];

	ck_assert_ptr_nonnull(job);
	memset(&res, 0, sizeof(res));
	pmx_result_set(res.backend, "db.lan:7001", 11);
	/* The pool thread made the backend: the caller takes it over. */
	job->backend = backend_new("127.0.0.1:7001", 0, err, sizeof(err));
	ck_assert_ptr_nonnull(job->backend);
	b = decide_backend(g, 0, &res, transports[_i], job, &own, "test", 2);
	ck_assert_ptr_eq(b, own);
	ck_assert_ptr_null(job->backend);
	ck_assert_int_eq(port_of(b), 7001);
	backend_destroy(own);
	/* It could not resolve the name: the routes, as inline. */
	snprintf(job->backend_err, sizeof(job->backend_err), "no such host");
	b = decide_backend(g, 0, &res, transports[_i], job, &own, "test", 3);
	ck_assert_ptr_null(own);
	ck_assert_int_eq(port_of(b), transports[_i] == PMX_TRANSPORT_UDP
					     ? 9002
					     : 9001);
	probe_job_free(job);
	generation_unref(g);
}
END_TEST

static void
never_called(struct probe_job *job)
{
	(void)job;
	ck_abort_msg("a job that never ran answered");
}

START_TEST(test_decide__blocking_without_pool_declines)
{
	struct generation *g = gen();
	struct probe_state st = {0};
	struct pmx_probe_input in = {.data = (const uint8_t *)"Bfoo",
				     .len = 4,
				     .capacity = 64,
				     .transport = transports[_i]};

	/* No probe thread could start: the blocking detector counts as a
	 * NO_MATCH, so the chain goes on with the next detectors. */
	ck_assert_ptr_null(decide_offload(NULL, g, &st, 0, &in, &st,
					  never_called));
	ck_assert_uint_eq(st.declined & 1, 1);
	generation_unref(g);
}
END_TEST

struct answer {
	int calls;
	int verdict;
	char key[PMX_KEY_MAX];
};

static void
record(struct probe_job *job)
{
	struct answer *a = job->owner;

	a->calls++;
	a->verdict = job->verdict;
	snprintf(a->key, sizeof(a->key), "%s", job->res.key);
	probe_job_free(job);
}

START_TEST(test_decide__blocking_runs_on_the_pool)
{
	struct generation *g = gen();
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct loop_ctx lc;
	struct probe_state st = {0};
	struct pmx_probe_input in = {.data = (const uint8_t *)"Bfoo",
				     .len = 4,
				     .capacity = 64,
				     .transport = transports[_i]};
	struct pmx_probe_result res;
	struct probe_job *job;
	struct answer a = {0};
	int det = -1;

	ck_assert_int_eq(loop_ctx_init(&lc, loop, g), 0);
	ck_assert_int_eq(decide_run(&lc, g, &st, &in, &res, &det, &a, record,
				    &job),
			 PROBE_ASYNC);
	ck_assert_ptr_nonnull(job);
	ck_assert_int_eq(det, 0);
	for (int i = 0; i < 500 && a.calls == 0; i++)
		ev_run(loop, EVRUN_ONCE);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.verdict, PMX_MATCH);
	ck_assert_str_eq(a.key, "foo");
	/* Bytes no blocking detector is asked about: decided inline. */
	memset(&st, 0, sizeof(st));
	st.declined = 1;
	in.data = (const uint8_t *)"ABC";
	in.len = 3;
	ck_assert_int_eq(decide_run(&lc, g, &st, &in, &res, &det, &a, record,
				    &job),
			 PROBE_MATCH);
	ck_assert_ptr_null(job);
	ck_assert_int_eq(det, 1);
	loop_ctx_fini(&lc);
	ev_loop_destroy(loop);
	generation_unref(g);
}
END_TEST

Suite *make_suite_decide(void);
Suite *
make_suite_decide(void)
{
	Suite *s = suite_create("decide");
	TCase *tc = tcase_create("decide");

	tcase_add_loop_test(tc, test_decide__explicit_backend, 0, 2);
	tcase_add_loop_test(tc, test_decide__bad_explicit_uses_routes, 0, 2);
	tcase_add_loop_test(tc, test_decide__no_routes_no_backend, 0, 2);
	tcase_add_loop_test(tc, test_decide__answer_resolved_on_the_pool, 0,
			    2);
	tcase_add_loop_test(tc, test_decide__blocking_without_pool_declines,
			    0, 2);
	tcase_add_loop_test(tc, test_decide__blocking_runs_on_the_pool, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
