/* worker.c — a worker's thread, listening sockets, accept() and mailbox. */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "sockopt.h"
#include "stats.h"
#include "thread.h"
#include "watchdog.h"

#define ACCEPT_BATCH 64
#define ACCEPT_RETRY 0.1 /* seconds between retries of a paused accept */

#define WORKER_OF(lcp) \
	((struct worker *)((char *)(lcp)-offsetof(struct worker, lc)))

static const struct config *
cfg_of(const struct worker *w)
{
	return w->lc.gen->cfg;
}

/* ---- accepting ---- */

static void
listeners_start(struct worker *w, int on)
{
	for (size_t i = 0; i < w->nlisteners; i++) {
		struct tcp_listener *l = &w->listeners[i];

		for (int k = 0; l->on_ring && k < LISTENER_ACCEPTS; k++)
			ring_watch_set(&l->acc[k].rw, l->fd,
				       on ? EV_READ | RING_WANT_ACCEPT : 0);
		if (l->on_ring)
			continue;
		if (on)
			ev_io_start(w->loop, &l->io);
		else
			ev_io_stop(w->loop, &l->io);
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
	return stats_open() >= cfg_of(w)->max_connections;
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

/* The loop context's hook: a connection ended. */
static void
conn_closed(struct loop_ctx *lc)
{
	struct worker *w = WORKER_OF(lc);

	if (w->draining) {
		if (lc->nconns == 0)
			ev_break(w->loop, EVBREAK_ALL);
		return;
	}
	if (w->accept_paused == 2 && !at_capacity(w))
		accept_resume(w);
}

/* The loop context's hook: a backend socket could not be made, out of
 * descriptors. Clients accepted now would be closed unserved, so accepting
 * pauses as when accept4 itself runs out (said once a second at most). */
static void
fds_exhausted(struct loop_ctx *lc, int err)
{
	struct worker *w = WORKER_OF(lc);
	unsigned long dropped;

	if (w->accept_paused || w->draining)
		return;
	if (log_ratelimit_ok(&w->accept_rl, &dropped))
		log_warn("backend socket: %s; pausing accept (%lu similar "
			 "suppressed)",
			 strerror(err), dropped);
	accept_pause(w, 1);
}

/* accept4 failed: nothing to take now, or pause when fds or memory ran
 * out (said once a second at most). */
static void
accept_failed(struct worker *w, const struct tcp_listener *l)
{
	unsigned long dropped;

	if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED ||
	    errno == EPROTO)
		return;
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
	    errno == ENOMEM) {
		if (log_ratelimit_ok(&w->accept_rl, &dropped))
			log_warn("accept failed on %s: %s; pausing accept "
				 "(%lu similar suppressed)",
				 l->text, strerror(errno), dropped);
		accept_pause(w, 1);
		return;
	}
	log_error("accept failed on %s: %s", l->text, strerror(errno));
}

/* Take the new connections l has: up to ACCEPT_BATCH from its socket,
 * or, for one of its ring watches (rw), the one the ring accepted. */
static void
accept_some(struct tcp_listener *l, struct ring_watch *rw)
{
	struct worker *w = l->w;
	unsigned long dropped;

	for (int i = 0; i < (rw != NULL ? 1 : ACCEPT_BATCH); i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd;

		if (at_capacity(w)) {
			if (log_ratelimit_ok(&w->accept_rl, &dropped))
				log_warn("accept paused: max_connections=%ld "
					 "reached",
					 cfg_of(w)->max_connections);
			accept_pause(w, 2);
			return;
		}
		if (rw != NULL)
			fd = ring_watch_accept(rw, l->fd,
					       (struct sockaddr *)&peer, &plen);
		else
			fd = accept4(l->fd, (struct sockaddr *)&peer, &plen,
				     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			accept_failed(w, l);
			return;
		}
		conn_accept(&w->lc, &l->addr, fd, (struct sockaddr *)&peer,
			    plen);
	}
}

static void
accept_cb(EV_P_ ev_io *io, int revents)
{
	(void)loop;
	(void)revents;
	accept_some((struct tcp_listener *)io, NULL);
}

static void
accept_ring_cb(struct ring_watch *rw, int revents)
{
	(void)revents;
	accept_some(((struct accept_watch *)rw)->l, rw);
}

/* ---- listening sockets ---- */

static int
listener_open(struct tcp_listener *l, int shared, int keepalive, char *err,
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

/* A socket systemd passed, shared by every worker (each has its own
 * descriptor for it): the kernel hands each connection to one of them. */
static int
listener_adopt(struct tcp_listener *l, const struct activated_socket *s,
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

/* The TCP listeners: systemd's sockets, or the configured addresses. */
static int
listeners_open(struct worker *w, const struct config *cfg, int shared,
	       const struct activation *act, char *err, size_t errlen)
{
	int adopted = act != NULL && act->n > 0;
	size_t n = adopted ? act->ntcp : cfg->nlisten;

	w->listeners = calloc(n + 1, sizeof(*w->listeners));
	if (w->listeners == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0, k = 0; i < n; i++) {
		struct tcp_listener *l = &w->listeners[i];

		l->w = w;
		if (adopted) {
			while (act->sockets[k].udp)
				k++;
			if (listener_adopt(l, &act->sockets[k++],
					   cfg->tcp_keepalive, err,
					   errlen) < 0)
				return -1;
		} else {
			l->addr = cfg->listen[i].addr;
			memcpy(l->text, cfg->listen[i].text, sizeof(l->text));
			if (listener_open(l, shared, cfg->tcp_keepalive, err,
					  errlen) < 0)
				return -1;
		}
		w->nlisteners++;
	}
	return 0;
}

static void
listeners_close(struct worker *w)
{
	for (size_t i = 0; i < w->nlisteners; i++) {
		struct tcp_listener *l = &w->listeners[i];

		/* (A connection a ring watch still held is closed.) */
		for (int k = 0; l->on_ring && k < LISTENER_ACCEPTS; k++)
			ring_watch_set(&l->acc[k].rw, -1, 0);
		if (w->loop != NULL && !l->on_ring)
			ev_io_stop(w->loop, &l->io);
		close(l->fd);
	}
	w->nlisteners = 0;
}

/* One UDP socket: systemd's (dup'ed), or bound to a configured address. */
static int
udp_socket(const struct activated_socket *s, const struct listen_addr *a,
	   int shared, char *err, size_t errlen)
{
	int fd = s ? fcntl(s->fd, F_DUPFD_CLOEXEC, 0)
		   : sockopt_bound_socket(&a->addr, SOCK_DGRAM, shared);

	if (fd < 0 && s)
		snprintf(err, errlen, "socket from systemd (udp %s): %s",
			 s->text, strerror(errno));
	else if (fd < 0)
		snprintf(err, errlen, "cannot listen on udp %s: %s", a->text,
			 strerror(errno));
	return fd;
}

/* UDP sockets on every listen address unless `udp: false` (with `auto`,
 * whether any is wanted is known once the detectors are loaded, after the
 * privilege drop: udp_start closes them then). With sockets from systemd,
 * worker 0 alone reads its UDP ones, so all of a client's datagrams meet
 * one flow table. */
static int
udp_bind(struct worker *w, const struct config *cfg, int shared,
	 const struct activation *act, char *err, size_t errlen)
{
	int adopted = act != NULL && act->n > 0;
	size_t n = adopted ? (w->index == 0 ? act->nudp : 0)
			   : (cfg->udp != 0 ? cfg->nlisten : 0);

	w->udp_adopted = adopted;
	if (n == 0)
		return 0;
	w->udp = calloc(n, sizeof(*w->udp));
	if (w->udp == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0, k = 0; i < n; i++) {
		const struct activated_socket *s = NULL;
		struct udp_listener *l = &w->udp[i];

		if (adopted) {
			while (!act->sockets[k].udp)
				k++;
			s = &act->sockets[k++];
		}
		l->fd = udp_socket(s, adopted ? NULL : &cfg->listen[i], shared,
				   err, errlen);
		/* With auto, a port taken by someone else matters only if a
		 * detector wants UDP: udp_start says so then. */
		if (l->fd < 0 && (adopted || cfg->udp > 0))
			return -1;
		if (l->fd < 0)
			l->bind_errno = errno;
		l->addr = s ? s->addr : cfg->listen[i].addr;
		memcpy(l->text, s ? s->text : cfg->listen[i].text,
		       sizeof(l->text));
		w->nudp++;
	}
	return 0;
}

/* Serve the bound UDP sockets when the generation wants them (systemd's
 * always), else close them. */
static int
udp_start(struct worker *w, char *err, size_t errlen)
{
	int wanted = w->udp_adopted || w->lc.gen->udp;

	for (size_t i = 0; i < w->nudp; i++) {
		struct udp_listener *l = &w->udp[i];
		struct addr a = l->addr;
		char text[ADDR_TEXT_MAX];
		int fd = l->fd;

		if (!wanted) {
			if (fd >= 0)
				close(fd);
			l->fd = -1;
			continue;
		}
		if (fd < 0) {
			snprintf(err, errlen, "cannot listen on udp %s: %s",
				 l->text, strerror(l->bind_errno));
			return -1;
		}
		memcpy(text, l->text, sizeof(text));
		if (udp_listener_start(l, &w->lc, fd, &a, text) < 0) {
			snprintf(err, errlen, "cannot serve udp %s: %s", text,
				 strerror(errno));
			return -1;
		}
		w->nudp_started++;
		if (w->index == 0)
			log_info("listening on udp %s%s", text,
				 w->udp_adopted ? " (from systemd)" : "");
	}
	if (!wanted)
		w->nudp = 0;
	return 0;
}

static void
udp_close(struct worker *w)
{
	for (size_t i = 0; i < w->nudp; i++) {
		if (i < w->nudp_started)
			udp_listener_stop(&w->udp[i]);
		else if (w->udp[i].fd >= 0)
			close(w->udp[i].fd);
	}
	w->nudp = w->nudp_started = 0;
}

/* ---- mailbox ---- */

static void wake_cb(EV_P_ ev_async *a, int revents);
static void drain_timer_cb(EV_P_ ev_timer *t, int revents);

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
drain_timer_cb(EV_P_ ev_timer *t, int revents)
{
	struct worker *w = t->data;

	(void)revents;
	if (w->lc.nconns > 0)
		log_info("worker=%d drain time over: closing %ld "
			 "connections",
			 w->index, w->lc.nconns);
	conn_close_all(&w->lc, "shutdown");
	ev_break(EV_A_ EVBREAK_ALL);
}

/* A stop was asked: no new connections or datagrams; live connections
 * may finish for up to `drain` seconds. */
static void
worker_drain(struct worker *w, double drain)
{
	if (!w->draining) {
		w->draining = 1;
		listeners_close(w);
		ev_timer_stop(w->loop, &w->accept_timer);
		udp_close(w);
	}
	ev_timer_stop(w->loop, &w->drain_timer);
	if (w->lc.nconns == 0 || drain <= 0) {
		conn_close_all(&w->lc, "shutdown");
		ev_break(w->loop, EVBREAK_ALL);
		return;
	}
	ev_timer_set(&w->drain_timer, drain, 0);
	ev_timer_start(w->loop, &w->drain_timer);
}

static void
wake_cb(EV_P_ ev_async *a, int revents)
{
	struct worker *w = a->data;
	struct generation *g;
	int stop;
	double drain;

	(void)loop;
	(void)revents;
	pthread_mutex_lock(&w->lock);
	g = w->next_gen;
	w->next_gen = NULL;
	stop = w->stop_asked;
	drain = w->drain_seconds;
	pthread_mutex_unlock(&w->lock);
	if (g != NULL) {
		/* The mailbox's reference becomes the loop's. */
		loop_ctx_set_generation(&w->lc, g);
	}
	if (stop)
		worker_drain(w, drain);
}

/* ---- watchdog ---- */

/* The loop turns: say so (for the main thread's watchdog check). */
static void
beat_cb(EV_P_ ev_timer *t, int revents)
{
	struct worker *w = t->data;

	(void)loop;
	(void)revents;
	__atomic_store_n(&w->beat_usec, clock_mono_usec(),
			 __ATOMIC_RELAXED);
}

/* Under systemd's watchdog: beat four times per interval. */
static void
beat_start(struct worker *w)
{
	double every = watchdog_interval() / 4;

	__atomic_store_n(&w->beat_usec, clock_mono_usec(),
			 __ATOMIC_RELAXED);
	ev_init(&w->beat_timer, beat_cb);
	w->beat_timer.data = w;
	if (every <= 0)
		return;
	ev_timer_set(&w->beat_timer, every, every);
	ev_timer_start(w->loop, &w->beat_timer);
}

double
worker_beat_age(struct worker *w, long long now_usec)
{
	if (__atomic_load_n(&w->loop_ended, __ATOMIC_RELAXED))
		return 0;
	return (double)(now_usec -
			__atomic_load_n(&w->beat_usec, __ATOMIC_RELAXED)) /
	       1e6;
}

/* ---- life ---- */

/* Everything the loop owns, freed on the loop's thread once it stopped
 * (or by worker_join when the thread never ran). */
static void
worker_release(struct worker *w)
{
	conn_close_all(&w->lc, "shutdown");
	listeners_close(w);
	udp_close(w);
	ev_timer_stop(w->loop, &w->accept_timer);
	ev_timer_stop(w->loop, &w->drain_timer);
	ev_timer_stop(w->loop, &w->beat_timer);
	ev_async_stop(w->loop, &w->wake);
	/* After the connections and flows abandoned their probe jobs. */
	loop_ctx_fini(&w->lc);
}

int
worker_bind(struct worker *w, int index, const struct config *cfg,
	    int shared, const struct activation *act, char *err,
	    size_t errlen)
{
	memset(w, 0, sizeof(*w));
	w->index = index;
	pthread_mutex_init(&w->lock, NULL);
	w->mutex_made = 1;
	if (listeners_open(w, cfg, shared, act, err, errlen) < 0 ||
	    udp_bind(w, cfg, shared, act, err, errlen) < 0) {
		worker_join(w); /* closes what was bound */
		return -1;
	}
	return 0;
}

int
worker_init(struct worker *w, struct generation *g,
	    struct source_table *sources, char *err, size_t errlen)
{
	w->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV);
	if (w->loop == NULL || loop_ctx_init(&w->lc, w->loop, g) < 0) {
		snprintf(err, errlen, "out of memory");
		if (w->loop)
			ev_loop_destroy(w->loop);
		w->loop = NULL;
		return -1;
	}
	w->lc.on_conn_closed = conn_closed;
	w->lc.on_fds_exhausted = fds_exhausted;
	w->lc.sources = sources;
	ev_init(&w->accept_timer, accept_timer_cb);
	w->accept_timer.data = w;
	ev_init(&w->drain_timer, drain_timer_cb);
	w->drain_timer.data = w;
	ev_async_init(&w->wake, wake_cb);
	w->wake.data = w;
	ev_async_start(w->loop, &w->wake);
	beat_start(w);
	for (size_t i = 0; i < w->nlisteners; i++) {
		struct tcp_listener *l = &w->listeners[i];

		ev_io_init(&l->io, accept_cb, l->fd, EV_READ);
		l->on_ring = w->lc.ring != NULL;
		for (int k = 0; l->on_ring && k < LISTENER_ACCEPTS; k++) {
			ring_watch_init(&l->acc[k].rw, w->lc.ring,
					accept_ring_cb);
			l->acc[k].l = l;
		}
	}
	if (udp_start(w, err, errlen) < 0)
		return -1; /* worker_join frees the rest */
	listeners_start(w, 1);
	return 0;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	ev_run(w->loop, 0);
	__atomic_store_n(&w->loop_ended, 1, __ATOMIC_RELAXED);
	worker_release(w);
	if (w->on_exit)
		w->on_exit(w);
	return NULL;
}

int
worker_start(struct worker *w)
{
	if (thread_start(&w->thread, worker_main, w) != 0)
		return -1;
	w->started = 1;
	return 0;
}

void
worker_join(struct worker *w)
{
	if (w->started)
		pthread_join(w->thread, NULL);
	else if (w->loop != NULL)
		worker_release(w); /* its loop never ran */
	else {
		listeners_close(w); /* bound, never set up */
		udp_close(w);
	}
	w->started = 0;
	if (w->mutex_made) {
		pthread_mutex_lock(&w->lock);
		if (w->next_gen != NULL)
			generation_unref(w->next_gen);
		w->next_gen = NULL;
		pthread_mutex_unlock(&w->lock);
		pthread_mutex_destroy(&w->lock);
		w->mutex_made = 0;
	}
	if (w->loop != NULL)
		ev_loop_destroy(w->loop);
	w->loop = NULL;
	free(w->listeners);
	free(w->udp);
	w->listeners = NULL;
	w->udp = NULL;
}
