/* conn.c — a connection's life: accept, the event callbacks that dispatch
 * on its state, the idle sweep, and close — the one place that frees it.
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
#include "log.h"
#include "stats.h"

static void client_cb(EV_P_ ev_io *io, int revents);
static void server_cb(EV_P_ ev_io *io, int revents);
static void timer_cb(EV_P_ ev_timer *t, int revents);

#define CONN_OF(ptr, member) \
	((struct conn *)((char *)(ptr)-offsetof(struct conn, member)))

static const char *const via_names[] = {"none", "detector", "on_timeout",
					"fallback"};

/* Arm a side's watcher for `events`, touching libev only on change. */
void
side_arm(struct conn *c, struct side *s, int events)
{
	if (s->fd < 0 || s->events == events)
		return;
	if (s->events)
		ev_io_stop(c->lc->loop, &s->io);
	s->events = events;
	if (events) {
		ev_io_set(&s->io, s->fd, events);
		ev_io_start(c->lc->loop, &s->io);
	}
}

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
	ev_init(&c->client.io, client_cb);
	ev_init(&c->server.io, server_cb);
	ev_init(&c->timer, timer_cb);
	TAILQ_INSERT_HEAD(&lc->conns, c, link);
	lc->nconns++;
	side_arm(c, &c->client, EV_READ);
	timer_arm(c, c->gen->cfg->probe_timeout);
	return c;
}

void
side_close(struct conn *c, struct side *s)
{
	if (s->events)
		ev_io_stop(c->lc->loop, &s->io);
	s->events = 0;
	if (s->fd >= 0)
		close(s->fd);
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

/* Move c to the head of its loop's list: the list stays ordered by
 * activity, so the idle sweep only looks at its tail. */
void
conn_touch(struct conn *c)
{
	struct loop_ctx *lc = c->lc;

	c->active = ev_now(lc->loop);
	if (TAILQ_FIRST(&lc->conns) == c)
		return;
	TAILQ_REMOVE(&lc->conns, c, link);
	TAILQ_INSERT_HEAD(&lc->conns, c, link);
}

/* Relayed connections quiet for `idle` seconds: from the tail (the least
 * recently active) until a recent one. */
void
conn_sweep_idle(struct loop_ctx *lc, double idle)
{
	struct conn *c, *prev;
	ev_tstamp now = ev_now(lc->loop);

	for (c = TAILQ_LAST(&lc->conns, conn_list);
	     c != NULL && now - c->active >= idle; c = prev) {
		prev = TAILQ_PREV(c, conn_list, link);
		/* Probing and connecting have their own timers. */
		if (c->state == CONN_RELAY)
			conn_close(c, "idle_timeout");
	}
}

static void
client_cb(EV_P_ ev_io *io, int revents)
{
	struct conn *c = CONN_OF(io, client.io);

	(void)loop;
	if (c->state == CONN_PROBING)
		probe_read(c);
	else if (c->state == CONN_CONNECTING)
		connecting_read(c);
	else if (c->state == CONN_RELAY)
		relay_event(c, &c->client, &c->server, revents);
}

static void
server_cb(EV_P_ ev_io *io, int revents)
{
	struct conn *c = CONN_OF(io, server.io);

	(void)loop;
	if (c->state == CONN_CONNECTING)
		connect_done(c);
	else if (c->state == CONN_RELAY)
		relay_event(c, &c->server, &c->client, revents);
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
}
