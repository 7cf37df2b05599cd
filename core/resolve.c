/* resolve.c — periodic re-resolution of backend names, off the loop. */
#include "resolve.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "thread.h"

static void rearm(void);

static struct {
	struct ev_loop *loop;
	ev_timer timer;
	ev_async done;
	struct generation *(*current)(void);
	pthread_t thread;
	struct generation *gen; /* the run's reference */
	int running;            /* loop thread only */
} rs;

static int
same_set(const struct addr_set *a, const struct addr_set *b)
{
	if (a->n != b->n)
		return 0;
	for (int i = 0; i < a->n; i++)
		if (a->a[i].len != b->a[i].len ||
		    memcmp(&a->a[i].ss, &b->a[i].ss, a->a[i].len) != 0)
			return 0;
	return 1;
}

static void
describe(const struct addr_set *s, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < s->n && off < len; i++) {
		char a[ADDR_TEXT_MAX];
		addr_format((const struct sockaddr *)&s->a[i].ss, a,
			    sizeof(a));
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
					i ? "," : "", a);
	}
}

/* One backend, on the resolver thread; `arg` is the grace (seconds) a
 * replaced set stays readable. */
static void
refresh(struct backend *b, void *arg)
{
	const struct addr_set *cur = backend_addrs(b);
	struct addr_set *fresh;
	char err[256], was[512], now[512];
	int n;

	if (!b->named)
		return;
	fresh = calloc(1, sizeof(*fresh));
	if (fresh == NULL)
		return;
	n = addr_resolve(b->host, b->port, fresh->a, BACKEND_MAX_ADDRS, err,
			 sizeof(err));
	if (n < 0) {
		/* Keep what worked: a DNS hiccup must not take a backend
		 * away. Said once, not at every run. */
		if (!b->unresolved)
			log_warn("resolve: backend=%s %s; keeping its "
				 "addresses",
				 b->text, err);
		b->unresolved = 1;
		free(fresh);
		return;
	}
	if (b->unresolved)
		log_info("resolve: backend=%s resolves again", b->text);
	b->unresolved = 0;
	fresh->n = n;
	if (same_set(cur, fresh)) {
		free(fresh);
		return;
	}
	describe(cur, was, sizeof(was));
	describe(fresh, now, sizeof(now));
	backend_set_addrs(b, fresh, clock_mono(), *(const double *)arg);
	log_info("resolve: backend=%s addresses=%s (were %s)", b->text, now,
		 was);
}

static void *
run(void *arg)
{
	/* A connection walks a set for at most its connect attempts. */
	double grace = BACKEND_MAX_ADDRS * rs.gen->cfg->connect_timeout + 1.0;

	(void)arg;
	generation_each_backend(rs.gen, refresh, &grace);
	ev_async_send(rs.loop, &rs.done);
	return NULL;
}

void
resolve_rearm(void)
{
	if (!rs.running) /* else after the run under way */
		rearm();
}

static void
rearm(void)
{
	struct generation *g = rs.current();
	double every = g ? g->cfg->resolve_interval : 0;

	ev_timer_stop(rs.loop, &rs.timer);
	if (every > 0) {
		ev_timer_set(&rs.timer, every, 0);
		ev_timer_start(rs.loop, &rs.timer);
	}
}

static void
timer_cb(EV_P_ ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	if (rs.running)
		return;
	rs.gen = rs.current();
	generation_ref(rs.gen);
	if (thread_start(&rs.thread, run, NULL) == 0) {
		rs.running = 1;
	} else {
		generation_unref(rs.gen);
		rs.gen = NULL;
		rearm();
	}
}

static void
done_cb(EV_P_ ev_async *a, int revents)
{
	(void)loop;
	(void)a;
	(void)revents;
	if (!rs.running)
		return;
	pthread_join(rs.thread, NULL);
	rs.running = 0;
	generation_unref(rs.gen);
	rs.gen = NULL;
	rearm();
}

void
resolve_init(struct ev_loop *loop, struct generation *(*current)(void))
{
	memset(&rs, 0, sizeof(rs));
	rs.loop = loop;
	rs.current = current;
	ev_init(&rs.timer, timer_cb);
	ev_async_init(&rs.done, done_cb);
	ev_async_start(loop, &rs.done);
	rearm();
}

void
resolve_fini(void)
{
	if (rs.running) {
		pthread_join(rs.thread, NULL);
		rs.running = 0;
		generation_unref(rs.gen);
		rs.gen = NULL;
	}
	ev_timer_stop(rs.loop, &rs.timer);
	ev_async_stop(rs.loop, &rs.done);
}
