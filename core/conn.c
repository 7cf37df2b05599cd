/* conn.c — a connection's life: accept, the event callbacks that dispatch
 * on its state, the idle timeouts of relayed connections (idle lists and
 * the loop's idle timer), and close — the one place that frees it.
 * The probing phase is in conn_probe.c, connecting and relaying in
 * conn_relay.c. */
#include "conn.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admit.h"
#include "conn_internal.h"
#include "conn_kernel.h"
#include "log.h"
#include "metrics.h"
#include "stats.h"

static void client_cb(EV_P_ ev_io *io, int revents);
static void server_cb(EV_P_ ev_io *io, int revents);
static void client_ring_cb(struct ring_watch *w, int revents);
static void server_ring_cb(struct ring_watch *w, int revents);
static void timer_cb(EV_P_ ev_timer *t, int revents);

#define CONN_OF(ptr, member) \
	((struct conn *)((char *)(ptr)-offsetof(struct conn, member)))

static const char *const via_names[] = {"none", "detector", "on_timeout",
					"fallback"};

/* Arm a side's watcher for `events`, touching libev or the ring only on
 * change. */
void
side_arm(struct conn *c, struct side *s, int events)
{
	if (s->fd < 0 || s->events == events)
		return;
	s->events = events;
	if (side_on_ring(c->lc, s)) {
		ring_watch_set(&s->w.rw, s->fd, events);
		return;
	}
	if (ev_is_active(&s->w.io))
		ev_io_stop(c->lc->loop, &s->w.io);
	events &= EV_READ | EV_WRITE; /* (RING_WANT_*: the ring's only) */
	if (events) {
		ev_io_set(&s->w.io, s->fd, events);
		ev_io_start(c->lc->loop, &s->w.io);
	}
}

/* An event for s waits for its callback in this turn of the loop. */
int
side_event_pending(const struct conn *c, struct side *s)
{
	return side_on_ring(c->lc, s) ? ring_watch_pending(&s->w.rw)
				      : ev_is_pending(&s->w.io);
}

/*
 * Why a side leaves the ring. The ring pays for every wait: a one-shot
 * poll or read is armed again after each event. libev's epoll keeps a
 * socket's registration, and pays a recv() per read instead. A short
 * connection (a request, an answer, the FINs) is cheaper on the ring:
 * its accept, reads and close need no system call each. A connection
 * that keeps talking (HTTP keep-alive) is cheaper on epoll: bench/ab.sh
 * BENCH_MODE=ka measured 9.4-9.6 µs of CPU per request with io_uring off
 * against 10.4-10.75 on the ring (2026-12-07). So a side moves once it had
 * SIDE_RING_TURNS events, at a moment the ring holds nothing for it: no
 * operation in flight (its slot is free only between its event and its
 * re-arming) and no bytes read. It never moves back; its socket is still
 * closed through the ring.
 */
void
side_maybe_to_loop(struct conn *c, struct side *s)
{
	if (!side_on_ring(c->lc, s) || s->turns < SIDE_RING_TURNS ||
	    s->fd < 0 || !ring_watch_idle(&s->w.rw))
		return;
	ring_watch_set(&s->w.rw, -1, 0); /* the ring forgets it */
	ev_init(&s->w.io, s == &c->client ? client_cb : server_cb);
	s->on_loop = 1;
	s->events = 0; /* side_arm starts the watcher */
	log_debug("conn=%llu the %s's socket is watched by epoll from now on "
		  "(%u events on the ring)",
		  (unsigned long long)c->id,
		  s == &c->client ? "client" : "backend", s->turns);
}

/* (Re)start the connection's one timer. */
void
timer_arm(struct conn *c, double seconds)
{
	ev_timer_stop(c->lc->loop, &c->timer);
	ev_timer_set(&c->timer, seconds > 0 ? seconds : 0.001, 0);
	ev_timer_start(c->lc->loop, &c->timer);
}

struct conn *
conn_accept(struct loop_ctx *lc, const struct addr *bound, int fd,
	    const struct sockaddr *peer, socklen_t peer_len)
{
	struct source *src = NULL;
	int proxied = lc->gen->cfg->accept_proxy.n > 0 &&
		      config_proxy_trusted(lc->gen->cfg, peer);
	struct conn *c;

	/* A balancer's client is judged once its PROXY header is read. */
	if (!proxied && admit_client(lc, peer, &src) < 0) {
		close(fd);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		log_error("accept: out of memory, closing new connection");
		source_release(lc->sources, src);
		close(fd);
		return NULL;
	}
	c->src = src;
	c->lc = lc;
	c->gen = lc->gen;
	generation_ref(c->gen);
	c->id = stats_conn_opened();
	c->bound = bound;
	c->lsn = generation_listener(c->gen, bound);
	probe_state_init(&c->pstate, c->lsn);
	c->det = -1;
	c->state = CONN_PROBING;
	c->started = c->active = ev_now(lc->loop);
	if (peer_len <= sizeof(c->peer))
		memcpy(&c->peer, peer, peer_len);
	c->proxy_in = (uint8_t)proxied;
	c->client.fd = fd;
	c->server.fd = -1;
	c->client.pipe[0] = c->client.pipe[1] = -1;
	c->server.pipe[0] = c->server.pipe[1] = -1;
	if (lc->ring != NULL) {
		ring_watch_init(&c->client.w.rw, lc->ring, client_ring_cb);
		ring_watch_init(&c->server.w.rw, lc->ring, server_ring_cb);
	} else {
		ev_init(&c->client.w.io, client_cb);
		ev_init(&c->server.w.io, server_cb);
	}
	ev_init(&c->timer, timer_cb);
	TAILQ_INSERT_HEAD(&lc->conns, c, link);
	lc->nconns++;
	side_arm(c, &c->client, EV_READ | RING_WANT_DATA);
	timer_arm(c, c->gen->cfg->probe_timeout);
	return c;
}

void
side_close(struct conn *c, struct side *s)
{
	if (s->fd >= 0 && side_on_ring(c->lc, s)) {
		/* Its end: an operation in flight is cancelled, what the ring
		 * read for it goes. */
		ring_watch_set(&s->w.rw, -1, 0);
		s->events = 0;
	} else {
		side_arm(c, s, 0);
	}
	if (s->fd >= 0 && c->lc->ring != NULL)
		ring_close(c->lc->ring, s->fd);
	else if (s->fd >= 0)
		close_batch_add(&c->lc->closing, s->fd);
	s->fd = -1;
	pbuf_put(&c->lc->pbufs, s->out);
	s->out = NULL;
	if (s->pipe[0] >= 0) {
		/* Bytes still in the pipe are lost with the connection. */
		close(s->pipe[0]);
		close(s->pipe[1]);
		s->pipe[0] = s->pipe[1] = -1;
		s->pipe_bytes = 0;
	}
}

void
conn_close(struct conn *c, const char *reason)
{
	struct loop_ctx *lc = c->lc;
	char client[ADDR_TEXT_MAX];

	if (c->kernel != NULL)
		conn_kernel_end(c); /* its byte counts, before the line */
	else if (c->kernel_try)
		metrics_kernel_relay(KERNEL_RELAY_USER); /* ended first */
	if (log_get_level() >= LOG_INFO) {
		const char *det = c->det >= 0 ? c->gen->dets[c->det].name
					      : "-";
		log_info("close conn=%llu client=%s via=%s detector=%s key=%s "
			 "backend=%s up=%llu down=%llu duration=%.3f "
			 "reason=%s",
			 (unsigned long long)c->id,
			 addr_format(&c->peer.sa, client, sizeof(client)),
			 via_names[c->via], det,
			 c->key && *c->key ? c->key : "-",
			 c->backend ? c->backend->text : "-",
			 (unsigned long long)c->client.bytes,
			 (unsigned long long)c->server.bytes,
			 ev_now(lc->loop) - c->started, reason);
	}
	metrics_series_closed(c->series);
	metrics_bytes(c->client.bytes, c->server.bytes);
	ev_timer_stop(lc->loop, &c->timer);
	if (c->job != NULL)
		probe_job_abandon(c->job); /* the pool frees it */
	side_close(c, &c->client);
	side_close(c, &c->server);
	pbuf_put(&lc->pbufs, c->probe);
	backend_destroy(c->own_backend);
	source_release(lc->sources, c->src);
	free(c->key);
	TAILQ_REMOVE(&lc->conns, c, link);
	/* An emptied idle list stays until the idle timer's next sweep. */
	if (c->idle != NULL)
		TAILQ_REMOVE(&c->idle->conns, c, idle_link);
	conn_keepalive_forget(c);
	generation_unref(c->gen);
	free(c);
	lc->nconns--;
	stats_conn_closed();
	if (lc->on_conn_closed != NULL)
		lc->on_conn_closed(lc);
}

void
conn_close_all(struct loop_ctx *lc, const char *reason)
{
	while (!TAILQ_EMPTY(&lc->conns))
		conn_close(TAILQ_FIRST(&lc->conns), reason);
}

/*
 * The detector that matched c may have words for a client it cannot serve
 * (an HTTP error, a TLS alert): send them, best effort, before closing.
 */
void
conn_reject(struct conn *c, int why, const struct pmx_probe_result *res)
{
	const struct pmx_detector *d;
	uint8_t buf[512];
	size_t n;

	if (c->det < 0)
		return;
	d = c->gen->dets[c->det].plugin->desc;
	if (d->struct_size < offsetof(struct pmx_detector, reject) +
				     sizeof(d->reject) ||
	    d->reject == NULL)
		return;
	n = d->reject(c->gen->dets[c->det].instance, why, res, buf,
		      sizeof(buf));
	if (n > 0 && n <= sizeof(buf))
		(void)send(c->client.fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Close with "reason: strerror(err)". */
void
conn_fail(struct conn *c, const char *what, int err)
{
	char reason[128];

	snprintf(reason, sizeof(reason), "%s:%s", what, strerror(err));
	for (char *p = reason; *p; p++)
		if (*p == ' ')
			*p = '_';
	conn_close(c, reason);
}

/* ---- idle timeouts ---- */

/* Move c to the head of its idle list: each list stays ordered by
 * activity, so only its tail can have expired. */
void
conn_touch(struct conn *c)
{
	struct idle_list *l = c->idle;

	c->active = ev_now(c->lc->loop);
	if (l == NULL || TAILQ_FIRST(&l->conns) == c)
		return;
	TAILQ_REMOVE(&l->conns, c, idle_link);
	TAILQ_INSERT_HEAD(&l->conns, c, idle_link);
}

/* The timeout c has now (0: none): its route's idle_timeout, else
 * PORTMUX's; once a direction ended, halfclose_timeout if it is shorter
 * (or equal: *half says so, and names the reason). */
static double
idle_timeout_of(const struct conn *c, int *half)
{
	const struct config *cfg = c->gen->cfg;
	double t = c->backend->idle_set ? c->backend->idle_timeout
					: cfg->idle_timeout;

	*half = 0;
	if ((c->client.eof || c->server.eof) && cfg->halfclose_timeout > 0 &&
	    (t <= 0 || cfg->halfclose_timeout <= t)) {
		t = cfg->halfclose_timeout;
		*half = 1;
	}
	return t;
}

/* The loop's idle timer, to fire `after` seconds from now. */
static void
idle_timer_arm(struct loop_ctx *lc, double after)
{
	ev_timer_stop(lc->loop, &lc->idle_timer);
	ev_timer_set(&lc->idle_timer, after > 0.001 ? after : 0.001, 0);
	ev_timer_start(lc->loop, &lc->idle_timer);
}

/* The loop's idle list for (t, half): found, or made and the timer
 * brought forward if t is sooner than it. NULL out of memory. */
static struct idle_list *
idle_list_get(struct loop_ctx *lc, double t, int half)
{
	struct idle_list *l;

	LIST_FOREACH(l, &lc->idle, link)
		if (l->timeout == t && l->half == half)
			goto found;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->timeout = t;
	l->half = (uint8_t)half;
	TAILQ_INIT(&l->conns);
	LIST_INSERT_HEAD(&lc->idle, l, link);
found:
	/* A connection joining now expires at now + t: the timer must not
	 * fire later than that (touches only ever move deadlines later). */
	if (!ev_is_active(&lc->idle_timer) ||
	    ev_timer_remaining(lc->loop, &lc->idle_timer) > t)
		idle_timer_arm(lc, t);
	return l;
}

int
conn_idle_update(struct conn *c)
{
	struct idle_list *l = NULL;
	int half;
	double t = idle_timeout_of(c, &half);

	c->ended = c->client.eof || c->server.eof;
	if (c->idle != NULL && t > 0 && c->idle->timeout == t &&
	    c->idle->half == half) {
		conn_touch(c);
		return 0;
	}
	if (t > 0 && (l = idle_list_get(c->lc, t, half)) == NULL)
		return -1;
	if (c->idle != NULL)
		TAILQ_REMOVE(&c->idle->conns, c, idle_link);
	c->idle = l;
	c->active = ev_now(c->lc->loop);
	if (l != NULL)
		TAILQ_INSERT_HEAD(&l->conns, c, idle_link);
	return 0;
}

/*
 * The idle timer fired: in each list, close from the tail (the least
 * recently active) while the timeout has passed; free the lists left
 * empty; re-arm for the earliest deadline left, if any. The cost is one
 * look per list plus one per connection closed.
 */
void
conn_idle_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct loop_ctx *lc = (struct loop_ctx *)(void *)((char *)t -
				offsetof(struct loop_ctx, idle_timer));
	struct idle_list *l, *next;
	ev_tstamp now = ev_now(loop), soonest = 0;
	int any = 0;

	(void)revents;
	for (l = LIST_FIRST(&lc->idle); l != NULL; l = next) {
		struct conn *c;

		next = LIST_NEXT(l, link);
		while ((c = TAILQ_LAST(&l->conns, conn_list)) != NULL &&
		       now - c->active >= l->timeout) {
			/* The kernel relay moves bytes without events. */
			if (c->kernel != NULL && conn_kernel_moved(c)) {
				conn_touch(c);
				continue;
			}
			conn_close(c, l->half ? "halfclose_timeout"
					      : "idle_timeout");
		}
		if (c == NULL) {
			LIST_REMOVE(l, link);
			free(l);
			continue;
		}
		if (!any || c->active + l->timeout < soonest)
			soonest = c->active + l->timeout;
		any = 1;
	}
	if (any)
		idle_timer_arm(lc, soonest - now);
}

static void
client_event(struct conn *c, int revents)
{
	if (c->state == CONN_PROBING)
		probe_read(c);
	else if (c->state == CONN_CONNECTING)
		connecting_read(c);
	else if (c->state == CONN_RELAY)
		relay_event(c, &c->client, &c->server, revents);
}

static void
server_event(struct conn *c, int revents)
{
	if (c->state == CONN_CONNECTING)
		connect_done(c, revents);
	else if (c->state == CONN_RELAY)
		relay_event(c, &c->server, &c->client, revents);
}

static void
client_cb(EV_P_ ev_io *io, int revents)
{
	(void)loop;
	client_event(CONN_OF(io, client.w.io), revents);
}

static void
server_cb(EV_P_ ev_io *io, int revents)
{
	(void)loop;
	server_event(CONN_OF(io, server.w.io), revents);
}

static void
client_ring_cb(struct ring_watch *w, int revents)
{
	client_event(CONN_OF(w, client.w.rw), revents);
}

static void
server_ring_cb(struct ring_watch *w, int revents)
{
	server_event(CONN_OF(w, server.w.rw), revents);
}

static void
timer_cb(EV_P_ ev_timer *t, int revents)
{
	struct conn *c = CONN_OF(t, timer);

	(void)loop;
	(void)revents;
	if (c->state == CONN_PROBING)
		probe_timer(c);
	else if (c->state == CONN_CONNECTING)
		connect_timed_out(c);
	else if (c->kernel != NULL)
		conn_kernel_timer(c);
}
