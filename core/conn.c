/* conn.c — the connection state machine. */
#include "conn.h"

#include <errno.h>
#include <stddef.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "proxyproto.h"
#include "relay.h"
#include "sockopt.h"

static void client_cb(EV_P_ ev_io *io, int revents);
static void server_cb(EV_P_ ev_io *io, int revents);
static void timer_cb(EV_P_ ev_timer *t, int revents);

#define CONN_OF(ptr, member) \
	((struct conn *)((char *)(ptr)-offsetof(struct conn, member)))

static const char *const via_names[] = {"none", "detector", "on_timeout",
					"fallback"};

/* Arm a side's watcher for `events`, touching libev only on change. */
static void
side_arm(struct conn *c, struct side *s, int events)
{
	if (s->fd < 0 || s->events == events)
		return;
	if (s->events)
		ev_io_stop(c->w->loop, &s->io);
	s->events = events;
	if (events) {
		ev_io_set(&s->io, s->fd, events);
		ev_io_start(c->w->loop, &s->io);
	}
}

static void
timer_arm(struct conn *c, double seconds)
{
	ev_timer_stop(c->w->loop, &c->timer);
	ev_timer_set(&c->timer, seconds > 0 ? seconds : 0.001, 0);
	ev_timer_start(c->w->loop, &c->timer);
}

void
conn_accept(struct worker *w, const struct listener *l, int fd,
	    const struct sockaddr *peer, socklen_t peer_len)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		log_error("accept: out of memory, closing new connection");
		close(fd);
		return;
	}
	c->w = w;
	c->gen = w->gen;
	generation_ref(c->gen);
	c->id = worker_next_conn_id();
	c->listener = l;
	c->det = -1;
	c->state = CONN_PROBING;
	c->started = c->active = ev_now(w->loop);
	if (peer_len <= sizeof(c->peer))
		memcpy(&c->peer, peer, peer_len);
	c->proxy_in = c->gen->cfg->naccept_proxy > 0 &&
		      config_proxy_trusted(c->gen->cfg, peer);
	c->client.fd = fd;
	c->server.fd = -1;
	c->client.pipe[0] = c->client.pipe[1] = -1;
	c->server.pipe[0] = c->server.pipe[1] = -1;
	ev_init(&c->client.io, client_cb);
	ev_init(&c->server.io, server_cb);
	ev_init(&c->timer, timer_cb);
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	else
		w->conns_tail = c;
	w->conns = c;
	worker_conn_opened(w);
	side_arm(c, &c->client, EV_READ);
	timer_arm(c, c->gen->cfg->probe_timeout);
}

static void
side_close(struct conn *c, struct side *s)
{
	if (s->events)
		ev_io_stop(c->w->loop, &s->io);
	s->events = 0;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	worker_pbuf_put(c->w, s->out);
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
	struct worker *w = c->w;
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
			 ev_now(w->loop) - c->started, reason);
	}
	ev_timer_stop(w->loop, &c->timer);
	if (c->job != NULL)
		probe_job_abandon(c->job); /* the pool frees it */
	side_close(c, &c->client);
	side_close(c, &c->server);
	worker_pbuf_put(w, c->probe);
	if (c->own_backend) {
		backend_free(c->own_backend);
		free(c->own_backend);
	}
	free(c->key);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		w->conns_tail = c->prev;
	generation_unref(c->gen);
	free(c);
	worker_conn_closed(w);
}

/* A route key for the log: normalised, and never able to break the
 * key=value line (client-supplied bytes). */
static char *
log_key_dup(const char *key)
{
	char norm[PMX_KEY_MAX];
	int n = route_normalize(key, strlen(key), norm, sizeof(norm));

	if (n <= 0)
		return NULL;
	for (char *p = norm; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '=' || *p == '"')
			*p = '?';
	return strdup(norm);
}

/*
 * The detector that matched c may have words for a client it cannot serve
 * (an HTTP error, a TLS alert): send them, best effort, before closing.
 */
static void
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
static void
conn_fail(struct conn *c, const char *what, int err)
{
	char reason[128];

	snprintf(reason, sizeof(reason), "%s:%s", what, strerror(err));
	for (char *p = reason; *p; p++)
		if (*p == ' ')
			*p = '_';
	conn_close(c, reason);
}

/* ---- connecting ---- */

static void relay_start(struct conn *c);
static void conn_touch(struct conn *c);

/* Start connecting to backend address c->addr_index or a later one.
 * 0 when a connect is under way, -1 when every address failed. */
static int
connect_next(struct conn *c)
{
	const struct backend *b = c->backend;

	for (; c->addr_index < b->naddrs; c->addr_index++) {
		const struct addr *a = &b->addrs[c->addr_index];
		const struct sockaddr *sa = (const struct sockaddr *)&a->ss;
		int fd = socket(sa->sa_family,
				SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			c->last_error = errno;
			continue;
		}
		sockopt_backend(fd, b->priority);
		if (connect(fd, sa, a->len) == 0 || errno == EINPROGRESS) {
			c->server.fd = fd;
			side_arm(c, &c->server, EV_WRITE);
			timer_arm(c, c->gen->cfg->connect_timeout);
			return 0;
		}
		c->last_error = errno;
		close(fd);
	}
	return -1;
}

/* The current address failed: drop its socket and try the next. */
static void
connect_retry(struct conn *c, int err)
{
	char addr[ADDR_TEXT_MAX];

	c->last_error = err;
	log_debug("conn=%llu backend=%s address %s failed: %s",
		  (unsigned long long)c->id, c->backend->text,
		  addr_format((const struct sockaddr *)&c->backend
				      ->addrs[c->addr_index]
				      .ss,
			      addr, sizeof(addr)),
		  strerror(err));
	side_close(c, &c->server);
	c->addr_index++;
	if (connect_next(c) < 0) {
		if (c->via == VIA_DETECTOR)
			conn_reject(c, PMX_REJECT_BACKEND_DOWN, NULL);
		conn_fail(c, err == ETIMEDOUT ? "connect_timeout"
					      : "connect_failed",
			  c->last_error);
	}
}

static void
conn_connect(struct conn *c, const struct backend *b, enum conn_via via)
{
	c->backend = b;
	c->via = (uint8_t)via;
	c->state = CONN_CONNECTING;
	/* The client watcher stays armed (a stop and restart would cost two
	 * epoll_ctl calls): what arrives meanwhile joins the probe bytes. */
	c->addr_index = 0;
	c->last_error = ECONNREFUSED;
	if (connect_next(c) < 0) {
		if (via == VIA_DETECTOR)
			conn_reject(c, PMX_REJECT_BACKEND_DOWN, NULL);
		conn_fail(c, "connect_failed", c->last_error);
	}
}

/* ---- probing ---- */

/* Route a detector's answer to a backend, or fall back. */
static void
conn_route(struct conn *c, int outcome, int det,
	   const struct pmx_probe_result *res, struct probe_job *job)
{
	const struct backend *b = NULL;

	if (outcome == PROBE_MATCH) {
		const struct detector_inst *d = &c->gen->dets[det];

		c->det = (int16_t)det;
		if (res->key[0])
			c->key = log_key_dup(res->key);
		if (res->backend[0]) {
			char err[256] = "out of memory";
			if (job != NULL) {
				/* Resolved on the pool thread. */
				c->own_backend = job->backend;
				job->backend = NULL;
				snprintf(err, sizeof(err), "%s",
					 job->backend_err);
			} else if ((c->own_backend = calloc(
					    1, sizeof(*c->own_backend))) !=
					   NULL &&
				   backend_from_text(res->backend, 0,
						     c->own_backend, err,
						     sizeof(err)) < 0) {
				free(c->own_backend);
				c->own_backend = NULL;
			}
			if (c->own_backend == NULL)
				log_warn("conn=%llu detector=%s returned a bad "
					 "backend '%s': %s",
					 (unsigned long long)c->id, d->name,
					 res->backend, err);
			b = c->own_backend;
		}
		if (b == NULL && d->routes != NULL)
			b = route_lookup(d->routes, res->key, res->alpn);
		if (b != NULL) {
			conn_connect(c, b, VIA_DETECTOR);
			return;
		}
	}
	if (c->gen->fallback == NULL) {
		if (outcome == PROBE_MATCH)
			conn_reject(c, PMX_REJECT_NO_ROUTE, res);
		conn_close(c, outcome == PROBE_MATCH ? "no_route"
						     : "unrecognised");
		return;
	}
	conn_connect(c, c->gen->fallback, VIA_FALLBACK);
}

static void
probe_decide(struct conn *c, int final)
{
	struct pmx_probe_input in = {
		.data = c->probe->data,
		.len = c->probe->len,
		.capacity = c->probe->cap,
		.transport = PMX_TRANSPORT_TCP,
		.peer = &c->peer.sa,
		.peer_len = c->peer.sa.sa_family == AF_INET6
				    ? sizeof(struct sockaddr_in6)
				    : sizeof(struct sockaddr_in),
		.local = (const struct sockaddr *)&c->listener->addr.ss,
		.local_len = c->listener->addr.len,
	};
	struct pmx_probe_result res;
	struct probe_pool *pool;
	int det = -1, outcome;

	if (c->job != NULL) {
		/* A blocking detector is still deciding: its answer comes
		 * first; remember that we must decide then. */
		c->want_final |= (uint8_t)final;
		return;
	}
	in.final = final | c->want_final;
	outcome = probe_run(c->gen, &c->pstate, &in, &res, &det);
	if (outcome == PROBE_WAIT)
		return;
	if (outcome == PROBE_ASYNC) {
		pool = worker_pool(c->w);
		c->job = pool ? probe_job_new(c->gen, det, &in, c) : NULL;
		if (c->job == NULL) {
			/* No thread to run it on: it declines. */
			log_error("conn=%llu detector=%s: cannot run it off "
				  "the loop; skipping it",
				  (unsigned long long)c->id,
				  c->gen->dets[det].name);
			c->pstate.declined |= 1ull << det;
			probe_decide(c, final);
			return;
		}
		probe_pool_submit(pool, c->job);
		return;
	}
	conn_route(c, outcome, det, &res, NULL);
}

void
conn_probe_done(struct probe_job *job)
{
	struct conn *c = job->owner;
	size_t seen = job->in.len;
	int r;

	c->job = NULL;
	log_debug("probe detector=%s len=%zu final=%d verdict=%s",
		  c->gen->dets[job->index].name, job->in.len, job->in.final,
		  probe_verdict_name(job->verdict));
	r = probe_apply(&c->pstate, job->index, job->verdict,
			job->in.final);
	if (r == PROBE_MATCH) {
		conn_route(c, PROBE_MATCH, job->index, &job->res, job);
		probe_job_free(job);
		return;
	}
	probe_job_free(job);
	/* It declined (go on with the next detectors), or it wants more
	 * bytes and they, or the deadline, came while it was running. */
	if (r < 0 || c->probe->len > seen || c->want_final || c->client.eof)
		probe_decide(c, c->probe->len == c->probe->cap ||
					c->client.eof);
}

/*
 * A trusted balancer's PROXY header at the start of the probe buffer: take
 * the real client address from it and drop it from the bytes. 1 when done
 * (bytes may remain), 0 when more are needed, -1 when c was closed.
 */
static int
proxy_in_consume(struct conn *c)
{
	struct pbuf *p = c->probe;
	struct sockaddr_storage client, local;
	size_t used = 0;
	enum proxy_parse r = proxy_header_parse(p->data, p->len, &used,
						&client, &local);

	if (r == PROXY_NEED_MORE)
		return p->len == p->cap ? (conn_close(c, "bad_proxy_header"),
					   -1)
					: 0;
	if (r == PROXY_INVALID) {
		conn_close(c, "bad_proxy_header");
		return -1;
	}
	if (client.ss_family == AF_INET || client.ss_family == AF_INET6) {
		memcpy(&c->peer, &client, sizeof(c->peer));
		memcpy(&c->local, &local, sizeof(c->local));
		c->has_local = 1;
	}
	memmove(p->data, p->data + used, p->len - used);
	p->len -= (uint32_t)used;
	c->client.bytes -= used;
	c->proxy_in = 0;
	return 1;
}

static void
probe_read(struct conn *c)
{
	struct pbuf *p = c->probe;
	ssize_t n;

	if (p != NULL && p->len == p->cap) {
		/* Full, and a blocking detector is still deciding: read no
		 * more until it has. */
		side_arm(c, &c->client, 0);
		return;
	}
	if (p == NULL) {
		uint32_t cap = (uint32_t)c->gen->cfg->probe_buffer;
		p = c->probe = worker_pbuf_get(c->w, cap);
		if (p == NULL) {
			conn_close(c, "out_of_memory");
			return;
		}
	}
	n = recv(c->client.fd, p->data + p->len, p->cap - p->len, 0);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_fail(c, "client_error", errno);
		return;
	}
	if (n == 0) {
		c->client.eof = 1;
		side_arm(c, &c->client, 0); /* EOF stays readable */
		if (p->len == 0) {
			conn_close(c, "client_closed_silent");
			return;
		}
		probe_decide(c, 1);
		return;
	}
	p->len += (uint32_t)n;
	c->client.bytes += (uint64_t)n;
	if (c->proxy_in) {
		int r = proxy_in_consume(c);
		if (r <= 0 || p->len == 0)
			return; /* closed, more header to come, or silent */
	}
	if (p->len == (uint32_t)n) {
		/* First bytes: from now on the client has until the probe
		 * deadline (counted from accept) to say enough. */
		const struct config *cfg = c->gen->cfg;
		timer_arm(c, cfg->probe_deadline -
				     (ev_now(c->w->loop) - c->started));
	}
	probe_decide(c, p->len == p->cap);
}

/* ---- relaying ---- */

/* After any relay event: pass half-closes on, finish, or re-arm. */
static void
relay_update(struct conn *c)
{
	struct side *s[2] = {&c->client, &c->server};

	if (c->client.eof && c->server.eof && !side_pending(&c->client) &&
	    !side_pending(&c->server)) {
		/* Both directions are over: close() sends the last FIN. */
		conn_close(c, "eof");
		return;
	}
	for (int i = 0; i < 2; i++) {
		struct side *src = s[i], *dst = s[1 - i];
		if (src->eof && !side_pending(dst) && !dst->shut) {
			/* Everything from src is delivered: pass its FIN on
			 * and keep the other direction flowing. */
			shutdown(dst->fd, SHUT_WR);
			dst->shut = 1;
		}
	}
	for (int i = 0; i < 2; i++) {
		struct side *self = s[i], *other = s[1 - i];
		int ev = 0;
		if (!self->eof && !side_pending(other))
			ev |= EV_READ;
		if (side_pending(self))
			ev |= EV_WRITE;
		side_arm(c, self, ev);
	}
}

/* Put a PROXY protocol header for the backend before the probe bytes. */
static int
proxy_out_prepend(struct conn *c)
{
	uint8_t head[PROXY_HEADER_MAX];
	struct sockaddr_storage local;
	socklen_t llen = sizeof(local);
	uint32_t have = c->probe ? c->probe->len : 0;
	struct pbuf *b;
	int n;

	if (c->has_local) {
		memset(&local, 0, sizeof(local));
		memcpy(&local, &c->local, sizeof(c->local));
	} else if (getsockname(c->client.fd, (struct sockaddr *)&local,
			       &llen) < 0) {
		return -1;
	}
	n = proxy_header_build(c->backend->proxy_protocol, &c->peer.sa,
			       (struct sockaddr *)&local, head, sizeof(head));
	if (n < 0) {
		errno = EINVAL;
		return -1;
	}
	b = malloc(sizeof(*b) + (size_t)n + have);
	if (b == NULL)
		return -1;
	b->off = 0;
	b->len = b->cap = (uint32_t)n + have;
	memcpy(b->data, head, (size_t)n);
	if (have)
		memcpy(b->data + n, c->probe->data, have);
	worker_pbuf_put(c->w, c->probe);
	c->probe = b;
	return 0;
}

static void
relay_start(struct conn *c)
{
	c->state = CONN_RELAY;
	ev_timer_stop(c->w->loop, &c->timer);
	conn_touch(c);
	sockopt_client(c->client.fd, c->backend->priority);
	c->zerocopy = c->backend->priority != PRIO_LATENCY;
	if (c->backend->proxy_protocol && proxy_out_prepend(c) < 0) {
		conn_fail(c, "proxy_header", errno);
		return;
	}
	/* The probe bytes go first, unchanged (after a PROXY header). */
	c->server.out = c->probe;
	c->probe = NULL;
	if (c->server.out != NULL && relay_flush(c->w, &c->server) < 0) {
		conn_fail(c, "server_error", errno);
		return;
	}
	relay_update(c);
}

/* Move c to the head of its worker's list: the list stays ordered by
 * activity, so the idle sweep only looks at its tail. */
static void
conn_touch(struct conn *c)
{
	struct worker *w = c->w;

	c->active = ev_now(w->loop);
	if (w->conns == c)
		return;
	c->prev->next = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		w->conns_tail = c->prev;
	c->prev = NULL;
	c->next = w->conns;
	w->conns->prev = c;
	w->conns = c;
}

void
conn_sweep_idle(struct worker *w, double idle)
{
	struct conn *c, *next;
	ev_tstamp now = ev_now(w->loop);

	for (c = w->conns_tail; c != NULL && now - c->active >= idle;
	     c = next) {
		next = c->prev;
		/* Probing and connecting have their own timers. */
		if (c->state == CONN_RELAY)
			conn_close(c, "idle_timeout");
	}
}

static void
relay_event(struct conn *c, struct side *self, struct side *other,
	    int revents)
{
	int which = 0;

	conn_touch(c);
	if ((revents & EV_WRITE) && relay_flush(c->w, self) < 0) {
		conn_fail(c, self == &c->client ? "client_error"
						: "server_error",
			  errno);
		return;
	}
	if ((revents & EV_READ) && !side_pending(other) && !self->eof &&
	    relay_pump(c->w, self, other, c->zerocopy, &which) < 0) {
		int client_side = (self == &c->client) == (which == 0);
		conn_fail(c, client_side ? "client_error" : "server_error",
			  errno);
		return;
	}
	relay_update(c);
}

/* ---- callbacks ---- */

/* Bytes that arrive while the backend connection is being made. */
static void
connecting_read(struct conn *c)
{
	struct pbuf *p = c->probe;
	ssize_t n;

	if (p == NULL) /* a silent client on its way to on_timeout */
		p = c->probe = worker_pbuf_get(c->w,
					       (uint32_t)c->gen->cfg->probe_buffer);
	if (p == NULL || p->len == p->cap) {
		side_arm(c, &c->client, 0); /* full: wait for the backend */
		return;
	}
	n = recv(c->client.fd, p->data + p->len, p->cap - p->len, 0);
	if (n > 0) {
		p->len += (uint32_t)n;
		c->client.bytes += (uint64_t)n;
	} else if (n == 0) {
		c->client.eof = 1;
		side_arm(c, &c->client, 0);
	} else if (errno != EAGAIN && errno != EINTR) {
		conn_fail(c, "client_error", errno);
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
	if (c->state == CONN_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(c->server.fd, SOL_SOCKET, SO_ERROR, &err,
			       &len) < 0)
			err = errno;
		if (err != 0) {
			connect_retry(c, err);
			return;
		}
		relay_start(c);
	} else if (c->state == CONN_RELAY) {
		relay_event(c, &c->server, &c->client, revents);
	}
}

static void
timer_cb(EV_P_ ev_timer *t, int revents)
{
	struct conn *c = CONN_OF(t, timer);

	(void)loop;
	(void)revents;
	if (c->state == CONN_PROBING) {
		if (c->probe == NULL || c->probe->len == 0) {
			/* Silent client: it waits for the server to speak. */
			if (c->gen->on_timeout == NULL) {
				conn_close(c, "probe_timeout");
				return;
			}
			conn_connect(c, c->gen->on_timeout, VIA_ON_TIMEOUT);
			return;
		}
		/* Talking, but not enough by the deadline: decide now. */
		probe_decide(c, 1);
	} else if (c->state == CONN_CONNECTING) {
		connect_retry(c, ETIMEDOUT);
	}
}
