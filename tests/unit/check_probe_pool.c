/* check_probe_pool.c — the probe pool (probe_pool.c) and what a blocking
 * detector that cannot answer in time means (decide.c, conn_probe.c), on
 * a real libev loop with the t_gate test plugin, whose calls on bytes
 * starting with 'W' wait until the test lets them through: the queue
 * limit (and the chain going on past a refused detector), jobs of closed
 * connections and jobs past their deadline dropped unrun, each source's
 * share of the queue and of the threads, sources served in turn, and a
 * connection decided at its deadline without the detector still out.
 * Every wait is bounded (WAIT_MAX). */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "conn_internal.h"
#include "decide.h"
#include "log.h"
#include "testutil.h"

#define WAIT_MAX 10.0

static double
now_s(void)
{
	return clock_mono();
}

static void
nap(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* ---- the gate (t_gate.so's test functions) ---- */

static struct {
	void (*reset)(void);
	void (*release)(int n);
	int (*waiting)(void);
	int (*calls)(char *buf, size_t cap);
	void (*times)(double *queued, double *deadline);
} gate;

/* The plugin is loaded by the generation: find its functions there. */
static void
gate_find(void)
{
	char path[4096];
	void *h;

	snprintf(path, sizeof(path), "%s/t_gate.so",
		 getenv("PORTMUX_TEST_PLUGINS"));
	h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	ck_assert_msg(h != NULL, "t_gate.so is not loaded: %s", dlerror());
	*(void **)&gate.reset = dlsym(h, "t_gate_reset");
	*(void **)&gate.release = dlsym(h, "t_gate_release");
	*(void **)&gate.waiting = dlsym(h, "t_gate_waiting");
	*(void **)&gate.calls = dlsym(h, "t_gate_calls");
	*(void **)&gate.times = dlsym(h, "t_gate_times");
	ck_assert(gate.reset && gate.release && gate.waiting && gate.calls &&
		  gate.times);
	dlclose(h); /* the generation keeps it loaded */
	gate.reset();
}

static const char *
gate_log(void)
{
	static char buf[4096];

	gate.calls(buf, sizeof(buf));
	return buf;
}

/* ---- fixture ---- */

struct pt {
	struct generation *g;
	struct ev_loop *loop;
	struct loop_ctx lc;
	struct probe_pool *pool;
};

/* t_gate then t_prefix (matching 'W', with an explicit backend on
 * `port`), `threads` probe threads, `queue` jobs waiting at most. */
static void
pt_open(struct pt *t, int threads, long queue, int port)
{
	char yaml[2048], err[1024];
	const char *dir = getenv("PORTMUX_TEST_PLUGINS");

	ck_assert_msg(dir != NULL, "PORTMUX_TEST_PLUGINS is not set");
	memset(t, 0, sizeof(*t));
	log_set_level(LOG_ERROR);
	snprintf(yaml, sizeof(yaml),
		 "PORTMUX:\n  port: 1\n  plugin_dir: %s\n"
		 "  detectors: [t_gate, t_prefix]\n"
		 "  probe_threads: %d\n  probe_queue: %ld\n"
		 "  probe_timeout: 0.1\n  probe_deadline: 0.3\n"
		 "T_PREFIX:\n  match: W\n  backend: \"127.0.0.1:%d\"\n",
		 dir, threads, queue, port);
	t->g = tu_generation(yaml, err, sizeof(err));
	ck_assert_msg(t->g != NULL, "%s", err);
	gate_find();
	t->loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(t->loop);
	ck_assert_int_eq(loop_ctx_init(&t->lc, t->loop, t->g), 0);
	t->pool = loop_probe_pool(&t->lc);
	ck_assert_ptr_nonnull(t->pool);
}

/* Turn the loop until `cond`, at most WAIT_MAX seconds. */
#define DRIVE_UNTIL(t, cond) \
	do { \
		double dl_ = now_s() + WAIT_MAX; \
		while (!(cond)) { \
			ck_assert_msg(now_s() < dl_, \
				      "timed out waiting for: %s", #cond); \
			ev_run((t)->loop, EVRUN_NOWAIT); \
			nap(0.001); \
		} \
	} while (0)

static int
pool_busy(struct pt *t)
{
	int queued, running;

	probe_pool_counts(t->pool, &queued, &running);
	return queued + running;
}

static void
pt_close(struct pt *t)
{
	gate.release(-1);
	DRIVE_UNTIL(t, pool_busy(t) == 0);
	ev_run(t->loop, EVRUN_NOWAIT);
	loop_ctx_fini(&t->lc);
	ev_loop_destroy(t->loop);
	generation_unref(t->g);
}

struct answer {
	int calls;
	int verdict;
	int expired;
};

static void
record(struct probe_job *job)
{
	struct answer *a = job->owner;

	a->calls++;
	a->verdict = job->verdict;
	a->expired = job->expired;
	probe_job_free(job);
}

static void
never_called(struct probe_job *job)
{
	(void)job;
	ck_abort_msg("an abandoned job answered");
}

/* A client address, IPv4 or IPv6. */
static socklen_t
peer_of(const char *ip, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':') == NULL) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(40000);
		ck_assert_int_eq(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(40000);
	ck_assert_int_eq(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	return sizeof(*sin6);
}

/* Submit `bytes` from `ip` to t_gate on the pool, with `deadline` (0:
 * none). The pool's answer, or why not; *out is the job when taken. */
static int
submit_dl(struct pt *t, const char *bytes, const char *ip, struct answer *a,
	  double deadline, struct probe_job **out)
{
	struct sockaddr_storage ss;
	struct pmx_probe_input in = {
		.data = (const uint8_t *)bytes,
		.len = strlen(bytes),
		.capacity = 64,
		.transport = PMX_TRANSPORT_TCP,
		.peer = (struct sockaddr *)&ss,
		.deadline = deadline,
	};
	struct probe_job *job;
	int r;

	in.peer_len = peer_of(ip, &ss);
	job = probe_job_new(t->g, 0, &in, a, record);
	ck_assert_ptr_nonnull(job);
	r = probe_pool_submit(t->pool, job, t->g->cfg->probe_queue,
			      t->g->cfg->probe_source_share);
	if (r != PROBE_SUBMITTED)
		probe_job_free(job);
	else if (out != NULL)
		*out = job;
	return r;
}

static int
submit(struct pt *t, const char *bytes, const char *ip, struct answer *a)
{
	return submit_dl(t, bytes, ip, a, 0, NULL);
}

/* Block the pool's first thread with a call from 10.9.9.9. */
static void
block_one(struct pt *t, struct answer *a)
{
	ck_assert_int_eq(submit(t, "W0", "10.9.9.9", a), PROBE_SUBMITTED);
	DRIVE_UNTIL(t, gate.waiting() == 1);
}

/* ---- tests ---- */

START_TEST(test_probe_pool__queue_limit)
{
	struct pt t;
	struct answer a[6] = {{0}};
	char bytes[16], ip[32];
	int queued, running;

	pt_open(&t, 1, 4, 9);
	block_one(&t, &a[0]);
	/* Four from four sources wait; the fifth finds the queue full. */
	for (int i = 1; i <= 4; i++) {
		snprintf(bytes, sizeof(bytes), "M%d", i);
		snprintf(ip, sizeof(ip), "10.0.0.%d", i);
		ck_assert_int_eq(submit(&t, bytes, ip, &a[i]),
				 PROBE_SUBMITTED);
	}
	ck_assert_int_eq(submit(&t, "M5", "10.0.0.5", &a[5]),
			 PROBE_REFUSED_FULL);
	probe_pool_counts(t.pool, &queued, &running);
	ck_assert_int_eq(queued, 4);
	ck_assert_int_eq(running, 1);
	gate.release(-1);
	DRIVE_UNTIL(&t, a[4].calls == 1);
	for (int i = 0; i <= 4; i++)
		ck_assert_int_eq(a[i].verdict, PMX_MATCH);
	ck_assert_int_eq(a[5].calls, 0);
	ck_assert_str_eq(gate_log(), "0 1 2 3 4");
	pt_close(&t);
}
END_TEST

/* decide_offload is the one place: over the queue limit the blocking
 * detector declines for that client and the chain goes on. */
START_TEST(test_probe_pool__full_queue_declines)
{
	struct pt t;
	struct answer a[2] = {{0}};
	struct probe_state st[3] = {{0}};
	struct sockaddr_storage ss;
	struct pmx_probe_input in = {
		.data = (const uint8_t *)"Wx",
		.len = 2,
		.capacity = 64,
		.transport = PMX_TRANSPORT_TCP,
		.peer = (struct sockaddr *)&ss,
	};
	struct pmx_probe_result res;
	struct probe_job *job;
	int det = -1;

	pt_open(&t, 1, 1, 9);
	in.peer_len = peer_of("10.0.0.1", &ss);
	ck_assert_int_eq(decide_run(&t.lc, t.g, &st[0], &in, &res, &det,
				    &a[0], record, &job),
			 PROBE_ASYNC);
	DRIVE_UNTIL(&t, gate.waiting() == 1);
	in.peer_len = peer_of("10.0.0.2", &ss);
	ck_assert_int_eq(decide_run(&t.lc, t.g, &st[1], &in, &res, &det,
				    &a[1], record, &job),
			 PROBE_ASYNC);
	/* The queue (1) is full: t_gate declines, t_prefix decides. */
	in.peer_len = peer_of("10.0.0.3", &ss);
	ck_assert_int_eq(decide_run(&t.lc, t.g, &st[2], &in, &res, &det,
				    &st[2], never_called, &job),
			 PROBE_MATCH);
	ck_assert_ptr_null(job);
	ck_assert_int_eq(det, 1);
	ck_assert_uint_eq(st[2].declined & 1, 1);
	gate.release(-1);
	DRIVE_UNTIL(&t, a[0].calls == 1 && a[1].calls == 1);
	pt_close(&t);
}
END_TEST

START_TEST(test_probe_pool__abandoned_dropped_unrun)
{
	struct pt t;
	struct answer first = {0}, gone = {0}, kept = {0};
	struct probe_job *job = NULL, *running = NULL;
	int queued, nrun;

	pt_open(&t, 1, 16, 9);
	ck_assert_int_eq(submit_dl(&t, "W0", "10.9.9.9", &first, 0, &running),
			 PROBE_SUBMITTED);
	DRIVE_UNTIL(&t, gate.waiting() == 1);
	ck_assert_int_eq(submit_dl(&t, "Mgone", "10.0.0.1", &gone, 0, &job),
			 PROBE_SUBMITTED);
	ck_assert_int_eq(submit(&t, "Mkept", "10.0.0.2", &kept),
			 PROBE_SUBMITTED);
	/* Its connection closed: out of the queue (and freed) at once. */
	probe_job_abandon(job);
	probe_pool_counts(t.pool, &queued, &nrun);
	ck_assert_int_eq(queued, 1);
	/* A running one is abandoned too: its answer goes nowhere. */
	probe_job_abandon(running);
	gate.release(-1);
	DRIVE_UNTIL(&t, kept.calls == 1 && pool_busy(&t) == 0);
	ev_run(t.loop, EVRUN_NOWAIT);
	ck_assert_str_eq(gate_log(), "0 kept");
	ck_assert_int_eq(gone.calls, 0);
	ck_assert_int_eq(first.calls, 0);
	pt_close(&t);
}
END_TEST

START_TEST(test_probe_pool__expired_dropped_unrun)
{
	struct pt t;
	struct answer first = {0}, late = {0}, timely = {0}, past = {0};
	double t0, queued, deadline;

	pt_open(&t, 1, 16, 9);
	block_one(&t, &first);
	t0 = now_s();
	ck_assert_int_eq(submit_dl(&t, "Mlate", "10.0.0.1", &late, t0 + 0.05,
				   NULL),
			 PROBE_SUBMITTED);
	ck_assert_int_eq(submit_dl(&t, "Mtimely", "10.0.0.2", &timely,
				   t0 + WAIT_MAX, NULL),
			 PROBE_SUBMITTED);
	/* No time left at all: refused, the caller's detector declines. */
	ck_assert_int_eq(submit_dl(&t, "Mpast", "10.0.0.3", &past, t0 - 1,
				   NULL),
			 PROBE_REFUSED_LATE);
	nap(0.1);
	gate.release(-1);
	DRIVE_UNTIL(&t, late.calls == 1 && timely.calls == 1);
	/* Past its deadline while it waited: back unrun, as a NO_MATCH. */
	ck_assert_int_eq(late.verdict, PMX_NO_MATCH);
	ck_assert_int_eq(late.expired, 1);
	ck_assert_int_eq(timely.verdict, PMX_MATCH);
	ck_assert_int_eq(timely.expired, 0);
	ck_assert_str_eq(gate_log(), "0 timely");
	/* The detector saw when the job was queued, and its deadline. */
	gate.times(&queued, &deadline);
	ck_assert(queued >= t0 && queued <= now_s());
	ck_assert(deadline == t0 + WAIT_MAX);
	pt_close(&t);
}
END_TEST

START_TEST(test_probe_pool__source_share_of_the_queue)
{
	struct pt t;
	struct answer a[5] = {{0}};

	/* probe_queue 8: a source may have 2 waiting. */
	pt_open(&t, 1, 8, 9);
	block_one(&t, &a[0]);
	ck_assert_int_eq(submit(&t, "M1", "10.0.0.1", &a[1]), PROBE_SUBMITTED);
	ck_assert_int_eq(submit(&t, "M2", "10.0.0.1", &a[2]), PROBE_SUBMITTED);
	ck_assert_int_eq(submit(&t, "M3", "10.0.0.1", &a[3]),
			 PROBE_REFUSED_SOURCE);
	/* Another source still finds room. */
	ck_assert_int_eq(submit(&t, "M4", "10.0.0.2", &a[4]), PROBE_SUBMITTED);
	gate.release(-1);
	DRIVE_UNTIL(&t, a[1].calls && a[2].calls && a[4].calls);
	ck_assert_int_eq(a[3].calls, 0);
	pt_close(&t);
}
END_TEST

START_TEST(test_probe_pool__source_is_ipv4_or_ipv6_64)
{
	struct pt t;
	struct answer a[8] = {{0}};

	/* probe_queue 4: a source may have 1 waiting. */
	pt_open(&t, 1, 4, 9);
	block_one(&t, &a[0]);
	ck_assert_int_eq(submit(&t, "M1", "2001:db8::1", &a[1]),
			 PROBE_SUBMITTED);
	/* The same /64. */
	ck_assert_int_eq(submit(&t, "M2", "2001:db8::ffff:1", &a[2]),
			 PROBE_REFUSED_SOURCE);
	ck_assert_int_eq(submit(&t, "M3", "2001:db8:0:1::1", &a[3]),
			 PROBE_SUBMITTED);
	/* An IPv4-mapped address is its IPv4 address. */
	ck_assert_int_eq(submit(&t, "M4", "::ffff:10.0.0.7", &a[4]),
			 PROBE_SUBMITTED);
	ck_assert_int_eq(submit(&t, "M5", "10.0.0.7", &a[5]),
			 PROBE_REFUSED_SOURCE);
	ck_assert_int_eq(submit(&t, "M6", "10.0.0.8", &a[6]),
			 PROBE_SUBMITTED);
	gate.release(-1);
	DRIVE_UNTIL(&t, a[1].calls && a[3].calls && a[4].calls && a[6].calls);
	pt_close(&t);
}
END_TEST

START_TEST(test_probe_pool__source_share_of_the_threads)
{
	struct pt t;
	struct answer a[5] = {{0}};
	char bytes[16];
	int queued, running;

	/* Four threads, probe_source_share 0.25 (the default): a source
	 * runs on one at most. */
	pt_open(&t, 4, 64, 9);
	for (int i = 0; i < 4; i++) {
		snprintf(bytes, sizeof(bytes), "W%d", i);
		ck_assert_int_eq(submit(&t, bytes, "10.0.0.1", &a[i]),
				 PROBE_SUBMITTED);
	}
	DRIVE_UNTIL(&t, gate.waiting() == 1);
	nap(0.05);
	ck_assert_int_eq(gate.waiting(), 1);
	probe_pool_counts(t.pool, &queued, &running);
	ck_assert_int_eq(queued, 3);
	ck_assert_int_eq(running, 1);
	/* Another source finds a thread free at once. */
	ck_assert_int_eq(submit(&t, "Wb", "10.0.0.2", &a[4]),
			 PROBE_SUBMITTED);
	DRIVE_UNTIL(&t, gate.waiting() == 2);
	gate.release(-1);
	DRIVE_UNTIL(&t, a[0].calls && a[1].calls && a[2].calls &&
				a[3].calls && a[4].calls);
	pt_close(&t);
}
END_TEST

START_TEST(test_probe_pool__sources_in_turn)
{
	static const struct {
		const char *bytes, *ip;
	} jobs[] = {
		{"Ma1", "10.0.0.1"}, {"Ma2", "10.0.0.1"}, {"Ma3", "10.0.0.1"},
		{"Mb1", "10.0.0.2"}, {"Mc1", "10.0.0.3"}, {"Mc2", "10.0.0.3"},
	};
	struct pt t;
	struct answer first = {0}, a[6] = {{0}};

	pt_open(&t, 1, 16, 9);
	block_one(&t, &first);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(submit(&t, jobs[i].bytes, jobs[i].ip, &a[i]),
				 PROBE_SUBMITTED);
	gate.release(-1);
	DRIVE_UNTIL(&t, pool_busy(&t) == 0);
	/* One job of each source in turn, not the oldest first. */
	ck_assert_str_eq(gate_log(), "0 a1 b1 c1 a2 c2 a3");
	pt_close(&t);
}
END_TEST

static void
on_closed(struct loop_ctx *lc)
{
	(void)lc;
}

/* probe_deadline passes while the blocking detector is still out: the
 * connection is decided on the other detectors' verdicts at once, and
 * the late answer is dropped. */
START_TEST(test_probe_pool__deadline_decides_without_it)
{
	struct sockaddr_in la = {.sin_family = AF_INET};
	socklen_t llen = sizeof(la);
	struct sockaddr_storage ss;
	struct addr bound;
	struct pt t;
	struct conn *c;
	int ls, cp[2], fd = -1;
	double t0, took;

	ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(ls, 0);
	la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(ls, (struct sockaddr *)&la, sizeof(la)), 0);
	ck_assert_int_eq(listen(ls, 4), 0);
	ck_assert_int_eq(getsockname(ls, (struct sockaddr *)&la, &llen), 0);
	pt_open(&t, 1, 16, ntohs(la.sin_port));
	t.lc.on_conn_closed = on_closed;
	memset(&bound, 0, sizeof(bound));
	ck_assert_int_eq(socketpair(AF_UNIX,
				    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
				    0, cp),
			 0);
	t0 = now_s();
	c = conn_accept(&t.lc, &bound, cp[0], (struct sockaddr *)&ss,
			peer_of("10.0.0.1", &ss));
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(write(cp[1], "Wx", 2), 2);
	DRIVE_UNTIL(&t, gate.waiting() == 1);
	/* At probe_deadline (0.3 s) t_prefix decides: a connect to its
	 * backend, while t_gate is still at the gate. */
	DRIVE_UNTIL(&t, (fd = accept(ls, NULL, NULL)) >= 0);
	took = now_s() - t0;
	ck_assert_msg(took >= 0.25 && took < 2.0,
		      "decided after %.3f s (deadline 0.3 s)", took);
	ck_assert_int_eq(gate.waiting(), 1);
	ck_assert_int_eq(t.lc.nconns, 1);
	ck_assert_int_eq(c->det, 1);
	ck_assert_int_eq(c->via, VIA_DETECTOR);
	ck_assert_ptr_null(c->job);
	/* The late answer (a MATCH) changes nothing. */
	gate.release(-1);
	DRIVE_UNTIL(&t, pool_busy(&t) == 0);
	ev_run(t.loop, EVRUN_NOWAIT);
	ck_assert_int_eq(t.lc.nconns, 1);
	ck_assert_int_eq(c->det, 1);
	conn_close_all(&t.lc, "test");
	close(fd);
	close(ls);
	close(cp[1]);
	pt_close(&t);
}
END_TEST

Suite *make_suite_probe_pool(void);
Suite *
make_suite_probe_pool(void)
{
	Suite *s = suite_create("probe_pool");
	TCase *tc = tcase_create("probe_pool");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_probe_pool__queue_limit);
	tcase_add_test(tc, test_probe_pool__full_queue_declines);
	tcase_add_test(tc, test_probe_pool__abandoned_dropped_unrun);
	tcase_add_test(tc, test_probe_pool__expired_dropped_unrun);
	tcase_add_test(tc, test_probe_pool__source_share_of_the_queue);
	tcase_add_test(tc, test_probe_pool__source_is_ipv4_or_ipv6_64);
	tcase_add_test(tc, test_probe_pool__source_share_of_the_threads);
	tcase_add_test(tc, test_probe_pool__sources_in_turn);
	tcase_add_test(tc, test_probe_pool__deadline_decides_without_it);
	suite_add_tcase(s, tc);
	return s;
}
