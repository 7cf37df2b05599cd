/* worker.c — a worker's thread, listening sockets, accept() and mailbox. */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "relay.h"
#include "sockopt.h"
#include "udp.h"

#define ACCEPT_BATCH 64
#define ACCEPT_RETRY 0.1 /* seconds between retries of a paused accept */
#define SCRATCH_SIZE (64 * 1024)

/* Connections of all workers, against max_connections. */
static long total_conns;
static uint64_t conn_ids;

static uint64_t n_on_timeout, n_fallback, n_unserved;

uint64_t
worker_next_conn_id(void)
{
	return __atomic_add_fetch(&conn_ids, 1, __ATOMIC_RELAXED);
}

void
worker_count_outcome(int via)
{
	uint64_t *n = via == VIA_ON_TIMEOUT ? &n_on_timeout
		      : via == VIA_FALLBACK ? &n_fallback
					    : &n_unserved;

	__atomic_add_fetch(n, 1, __ATOMIC_RELAXED);
}

void
worker_stats(struct worker_stats *out)
{
	out->open = __atomic_load_n(&total_conns, __ATOMIC_RELAXED);
	out->accepted = __atomic_load_n(&conn_ids, __ATOMIC_RELAXED);
	out->on_timeout = __atomic_load_n(&n_on_timeout, __ATOMIC_RELAXED);
	out->fallback = __atomic_load_n(&n_fallback, __ATOMIC_RELAXED);
	out->unserved = __atomic_load_n(&n_unserved, __ATOMIC_RELAXED);
}

static void
listeners_start(struct worker *w, int on)
{
	for (size_t i = 0; i < w->nlisteners; i++) {
		if (on)
			ev_io_start(w->loop, &w->listeners[i].io);
		else
			ev_io_stop(w->loop, &w->listeners[i].io);
	}
}

/* Stop accepting for a while: fds ran out (1) or max_connections (2). A
 * timer retries, since another worker's connections may be the ones that
 * end. */
static void
accept_pause(struct worker *w, int why)
{
	if (w->accept_paused)
		return;
	w->accept_paused = why;
	listeners_start(w, 0);
	ev_timer_set(&w->accept_timer, ACCEPT_RETRY, ACCEPT_RETRY);
	ev_timer_start(w->loop, &w->accept_timer);
}

static void
accept_resume(struct worker *w)
{
	if (!w->accept_paused || w->draining)
		return;
	w->accept_paused = 0;
	ev_timer_stop(w->loop, &w->accept_timer);
	listeners_start(w, 1);
}

static int
at_capacity(const struct worker *w)
{
	return __atomic_load_n(&total_conns, __ATOMIC_RELAXED) >=
	       w->gen->cfg->max_connections;
}

static void
accept_timer_cb(EV_P_ ev_timer *t, int revents)
{
	struct worker *w = t->data;

	(void)loop;
	(void)revents;
	if (w->accept_paused == 2 && at_capacity(w))
		return; /* still full: the timer repeats */
	accept_resume(w);
}

void
worker_conn_opened(struct worker *w)
{
	w->nconns++;
	__atomic_add_fetch(&total_conns, 1, __ATOMIC_RELAXED);
}

void
worker_conn_closed(struct worker *w)
{
	w->nconns--;
	__atomic_sub_fetch(&total_conns, 1, __ATOMIC_RELAXED);
	if (w->draining) {
		if (w->nconns == 0)
			ev_break(w->loop, EVBREAK_ALL);
		return;
	}
	if (w->accept_paused == 2 && !at_capacity(w))
		accept_resume(w);
}

static void
accept_cb(EV_P_ ev_io *io, int revents)
{
	struct listener *l = (struct listener *)io;
	struct worker *w = l->w;
	unsigned long dropped;

	(void)loop;
	(void)revents;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd;

		if (at_capacity(w)) {
			if (log_ratelimit_ok(&w->accept_rl, &dropped))
				log_warn("accept paused: max_connections=%ld "
					 "reached",
					 w->gen->cfg->max_connections);
			accept_pause(w, 2);
			return;
		}
		fd = accept4(l->fd, (struct sockaddr *)&peer, &plen,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED || errno == EPROTO)
				return;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				if (log_ratelimit_ok(&w->accept_rl, &dropped))
					log_warn("accept failed on %s: %s; "
						 "pausing accept (%lu similar "
						 "suppressed)",
						 l->text, strerror(errno),
						 dropped);
				accept_pause(w, 1);
				return;
			}
			log_error("accept failed on %s: %s", l->text,
				  strerror(errno));
			return;
		}
		conn_accept(w, l, fd, (struct sockaddr *)&peer, plen);
	}
}

static int
listener_open(struct listener *l, int shared, int keepalive, char *err,
	      size_t errlen)
{
	int fd = sockopt_bound_socket(&l->addr, SOCK_STREAM, shared);

	if (fd < 0 || listen(fd, SOMAXCONN) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", l->text,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	sockopt_listener(fd, keepalive);
	l->fd = fd;
	return 0;
}

/* One timer per worker for idle_timeout, whatever the number of
 * connections: it looks at the least recently active ones only. */
static void
idle_timer_cb(EV_P_ ev_timer *t, int revents)
{
	struct worker *w = t->data;

	(void)loop;
	(void)revents;
	if (w->gen->cfg->idle_timeout > 0)
		conn_sweep_idle(w, w->gen->cfg->idle_timeout);
}

static void
idle_timer_setup(struct worker *w)
{
	double idle = w->gen->cfg->idle_timeout;
	double every = idle / 4 < 1.0 ? idle / 4 : 1.0;

	ev_timer_stop(w->loop, &w->idle_timer);
	if (idle <= 0)
		return;
	ev_timer_set(&w->idle_timer, every, every);
	ev_timer_start(w->loop, &w->idle_timer);
}

static void listeners_close(struct worker *w);
static void wake_cb(EV_P_ ev_async *a, int revents);
static void drain_timer_cb(EV_P_ ev_timer *t, int revents);

/* A socket systemd passed, shared by every worker (each has its own
 * descriptor for it): the kernel hands each connection to one of them. */
static int
listener_adopt(struct listener *l, const struct activated_socket *s,
	       int keepalive, char *err, size_t errlen)
{
	l->fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 0);
	if (l->fd < 0) {
		snprintf(err, errlen, "socket from systemd (%s): %s", s->text,
			 strerror(errno));
		return -1;
	}
	l->addr = s->addr;
	memcpy(l->text, s->text, sizeof(l->text));
	sockopt_listener(l->fd, keepalive);
	return 0;
}

int
worker_init(struct worker *w, int index, struct generation *g, int shared,
	    const struct activation *act, char *err, size_t errlen)
{
	const struct config *cfg = g->cfg;
	int adopted = act != NULL && act->n > 0;
	size_t nlisten = adopted ? act->ntcp : cfg->nlisten;

	memset(w, 0, sizeof(*w));
	w->index = index;
	w->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV);
	w->scratch_size = SCRATCH_SIZE;
	w->scratch = malloc(w->scratch_size);
	w->listeners = calloc(nlisten + 1, sizeof(*w->listeners));
	if (w->loop == NULL || w->scratch == NULL || w->listeners == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	pthread_mutex_init(&w->lock, NULL);
	for (size_t i = 0, k = 0; i < nlisten; i++) {
		struct listener *l = &w->listeners[i];

		l->w = w;
		if (adopted) {
			while (act->sockets[k].udp)
				k++;
			if (listener_adopt(l, &act->sockets[k++],
					   cfg->tcp_keepalive, err,
					   errlen) < 0)
				goto fail;
		} else {
			l->addr = cfg->listen[i].addr;
			memcpy(l->text, cfg->listen[i].text, sizeof(l->text));
			if (listener_open(l, shared, cfg->tcp_keepalive, err,
					  errlen) < 0)
				goto fail;
		}
		w->nlisteners++;
		ev_io_init(&l->io, accept_cb, l->fd, EV_READ);
	}
	ev_init(&w->accept_timer, accept_timer_cb);
	w->accept_timer.data = w;
	ev_init(&w->drain_timer, drain_timer_cb);
	w->drain_timer.data = w;
	ev_init(&w->idle_timer, idle_timer_cb);
	w->idle_timer.data = w;
	ev_async_init(&w->wake, wake_cb);
	w->wake.data = w;
	ev_async_start(w->loop, &w->wake);
	generation_ref(g);
	w->gen = g;
	idle_timer_setup(w);
	if (udp_start(w, shared, act, err, errlen) < 0)
		goto fail;
	listeners_start(w, 1);
	return 0;
fail:
	listeners_close(w);
	free(w->listeners);
	free(w->scratch);
	if (w->gen)
		generation_unref(w->gen);
	if (w->loop)
		ev_loop_destroy(w->loop);
	memset(w, 0, sizeof(*w));
	return -1;
}

struct pbuf *
worker_pbuf_get(struct worker *w, uint32_t cap)
{
	struct pbuf *b;

	if (w->npbufs > 0 && w->pbufs[w->npbufs - 1]->cap == cap)
		b = w->pbufs[--w->npbufs];
	else if ((b = malloc(sizeof(*b) + cap)) == NULL)
		return NULL;
	b->off = b->len = 0;
	b->cap = cap;
	return b;
}

void
worker_pbuf_put(struct worker *w, struct pbuf *b)
{
	if (b == NULL)
		return;
	if (b->cap == (uint32_t)w->gen->cfg->probe_buffer &&
	    w->npbufs < sizeof(w->pbufs) / sizeof(w->pbufs[0]))
		w->pbufs[w->npbufs++] = b;
	else
		free(b);
}

static void
pbufs_free(struct worker *w)
{
	while (w->npbufs > 0)
		free(w->pbufs[--w->npbufs]);
}

struct probe_pool *
worker_pool(struct worker *w)
{
	if (w->pool == NULL)
		w->pool = probe_pool_new(w->loop,
					 (int)w->gen->cfg->probe_threads);
	return w->pool;
}

/* ---- mailbox ---- */

void
worker_post_generation(struct worker *w, struct generation *g)
{
	generation_ref(g);
	pthread_mutex_lock(&w->lock);
	if (w->next_gen != NULL)
		generation_unref(w->next_gen); /* superseded, never used */
	w->next_gen = g;
	pthread_mutex_unlock(&w->lock);
	ev_async_send(w->loop, &w->wake);
}

void
worker_post_stop(struct worker *w, double drain_seconds)
{
	pthread_mutex_lock(&w->lock);
	/* A second request (a second SIGTERM) may only shorten the drain. */
	if (!w->stop_asked || drain_seconds < w->drain_seconds)
		w->drain_seconds = drain_seconds;
	w->stop_asked = 1;
	pthread_mutex_unlock(&w->lock);
	ev_async_send(w->loop, &w->wake);
}

static void
listeners_close(struct worker *w)
{
	for (size_t i = 0; i < w->nlisteners; i++) {
		ev_io_stop(w->loop, &w->listeners[i].io);
		close(w->listeners[i].fd);
	}
	w->nlisteners = 0;
}

static void
close_all(struct worker *w, const char *reason)
{
	while (w->conns != NULL)
		conn_close(w->conns, reason);
}

static void
drain_timer_cb(EV_P_ ev_timer *t, int revents)
{
	struct worker *w = t->data;

	(void)revents;
	if (w->nconns > 0)
		log_info("worker=%d drain time over: closing %ld "
			 "connections",
			 w->index, w->nconns);
	close_all(w, "shutdown");
	ev_break(EV_A_ EVBREAK_ALL);
}

static void
wake_cb(EV_P_ ev_async *a, int revents)
{
	struct worker *w = a->data;
	struct generation *g;
	int stop;
	double drain;

	(void)revents;
	pthread_mutex_lock(&w->lock);
	g = w->next_gen;
	w->next_gen = NULL;
	stop = w->stop_asked;
	drain = w->drain_seconds;
	pthread_mutex_unlock(&w->lock);
	if (g != NULL) {
		generation_unref(w->gen);
		w->gen = g; /* the mailbox's reference becomes ours */
		idle_timer_setup(w);
	}
	if (!stop)
		return;
	if (!w->draining) {
		/* No new connections or datagrams; live ones may finish. */
		w->draining = 1;
		listeners_close(w);
		ev_timer_stop(EV_A_ & w->accept_timer);
		udp_stop(w);
	}
	ev_timer_stop(EV_A_ & w->drain_timer);
	if (w->nconns == 0 || drain <= 0) {
		close_all(w, "shutdown");
		ev_break(EV_A_ EVBREAK_ALL);
		return;
	}
	ev_timer_set(&w->drain_timer, drain, 0);
	ev_timer_start(EV_A_ & w->drain_timer);
}

/* ---- the thread ---- */

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	ev_run(w->loop, 0);
	/* Everything the loop owned is freed here, on its own thread. */
	close_all(w, "shutdown");
	listeners_close(w);
	udp_stop(w);
	ev_timer_stop(w->loop, &w->accept_timer);
	ev_timer_stop(w->loop, &w->drain_timer);
	ev_timer_stop(w->loop, &w->idle_timer);
	ev_async_stop(w->loop, &w->wake);
	probe_pool_free(w->pool); /* after the connections abandoned jobs */
	w->pool = NULL;
	relay_pipes_free(w);
	pbufs_free(w);
	if (w->on_exit)
		w->on_exit(w);
	return NULL;
}

int
worker_start(struct worker *w)
{
	sigset_t all, old;
	int rc;

	/* Signals are the main thread's: block them before the thread is
	 * born so it inherits the mask. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -1;
	w->started = 1;
	return 0;
}

void
worker_join(struct worker *w)
{
	if (w->started)
		pthread_join(w->thread, NULL);
	w->started = 0;
	pthread_mutex_lock(&w->lock);
	if (w->next_gen != NULL)
		generation_unref(w->next_gen);
	w->next_gen = NULL;
	pthread_mutex_unlock(&w->lock);
	generation_unref(w->gen);
	w->gen = NULL;
	ev_loop_destroy(w->loop);
	w->loop = NULL;
	pthread_mutex_destroy(&w->lock);
	free(w->listeners);
	free(w->scratch);
	w->listeners = NULL;
	w->scratch = NULL;
}
