/* conn_relay.c — connecting to the backend (each address in turn, with a
 * timeout) and relaying: the probe bytes first (after a PROXY header when
 * the route asks), then both directions with backpressure and half-close. */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn_internal.h"
#include "conn_kernel.h"
#include "log.h"
#include "metrics.h"
#include "proxyproto.h"
#include "relay.h"
#include "ring.h"
#include "sockopt.h"
#include "stats.h"

/* The probe bytes go out right after connect(): on an established socket
 * (a backend on this host is, once connect() returns) they are sent at
 * once, with no wait for writability and no SO_ERROR to ask; on one still
 * connecting send() says EAGAIN, and on one that failed it says why. */
enum first_send { SENT, NOT_YET, FAILED };

static enum first_send
first_send(struct conn *c, int fd)
{
	struct pbuf *p = c->probe;
	ssize_t n;

	if (p == NULL || p->off == p->len)
		return NOT_YET; /* nothing to send: wait to be connected */
	n = send(fd, p->data + p->off, p->len - p->off, MSG_NOSIGNAL);
	if (n > 0) {
		p->off += (uint32_t)n;
		return SENT;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return NOT_YET;
	c->last_error = n < 0 ? errno : EPIPE;
	return FAILED;
}

static void
address_failed(const struct conn *c, int err)
{
	char addr[ADDR_TEXT_MAX];

	log_debug("conn=%llu backend=%s address %s failed: %s",
		  (unsigned long long)c->id, c->backend->text,
		  addr_format((const struct sockaddr *)&c->addrs
				      ->a[c->addr_index]
				      .ss,
			      addr, sizeof(addr)),
		  strerror(err));
}

/* The kernel refused TCP Fast Open (net.ipv4.tcp_fastopen without its
 * client bit): said once per process, the connections go on with
 * connect(). */
static void
fastopen_refused(void)
{
	static int said; /* atomic: every worker connects */

	if (__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED) == 0)
		log_warn("fastopen: the kernel does not allow TCP Fast Open "
			 "(sysctl net.ipv4.tcp_fastopen needs bit 1): "
			 "connecting without it");
}

/* Start connecting to backend address c->addr_index or a later one.
 * 1 when connected (the probe bytes, or the first of them, sent: the
 * caller starts relaying), 0 when a connect is under way, -1 when every
 * address failed. */
static int
connect_next(struct conn *c)
{
	const struct addr_set *set = c->addrs;
	struct pbuf *p = c->probe;
	int transparent;
	const struct bind_sources *src =
		sockopt_origin(c->backend, c->gen->cfg, &transparent);

	for (; c->addr_index < set->n; c->addr_index++) {
		/* fastopen: the probe bytes (when there are: a server that
		 * speaks first gets a plain connect) go with the SYN. */
		struct sockopt_fastopen fo = {0};
		int tfo = c->backend->fastopen && p != NULL && p->off < p->len;
		enum first_send sent;
		int fd;

		if (tfo) {
			fo.data = p->data + p->off;
			fo.len = p->len - p->off;
		}
		fd = sockopt_origin_socket(&set->a[c->addr_index],
					   SOCK_STREAM,
					   transparent ? &c->peer.sa : NULL,
					   src, &c->lc->source_turn,
					   tfo ? &fo : NULL);
		if (fd < 0) {
			c->last_error = errno;
			if ((errno == EMFILE || errno == ENFILE) &&
			    c->lc->on_fds_exhausted != NULL)
				c->lc->on_fds_exhausted(c->lc, errno);
			continue;
		}
		if (fo.unsupported)
			fastopen_refused();
		if (fo.sent > 0) {
			/* In the SYN: sendto() said nothing of the answer
			 * (a refusal comes after), so the connection is
			 * confirmed as one under way is: by writability. */
			p->off += (uint32_t)fo.sent;
			sent = NOT_YET;
		} else {
			sent = first_send(c, fd);
		}
		if (sent == FAILED) {
			address_failed(c, c->last_error);
			close(fd);
			continue;
		}
		c->server.fd = fd;
		/* A new socket has Nagle on; the probe bytes were its first
		 * write when they went. */
		side_nodelay_later(&c->server,
				   sockopt_wants_nodelay(c->backend->priority),
				   0, sent == SENT || fo.sent > 0);
		if (sent == SENT)
			return 1;
		side_arm(c, &c->server, EV_WRITE);
		timer_arm(c, c->gen->cfg->connect_timeout);
		return 0;
	}
	return -1;
}

/* The current address failed: drop its socket and try the next. */
static void
connect_retry(struct conn *c, int err)
{
	int r;

	c->last_error = err;
	address_failed(c, err);
	side_close(c, &c->server);
	c->addr_index++;
	/* All of them to the next address, with what went in a SYN to this
	 * one (fastopen); nothing else went to a backend before it
	 * answered. */
	if (c->probe != NULL)
		c->probe->off = 0;
	r = connect_next(c);
	if (r > 0) {
		relay_start(c);
	} else if (r < 0) {
		if (c->via == VIA_DETECTOR)
			conn_reject(c, PMX_REJECT_BACKEND_DOWN, NULL);
		metrics_connect_failed(err == ETIMEDOUT
					       ? CONNECT_FAILED_TIMEOUT
					       : CONNECT_FAILED_ERROR);
		conn_fail(c, err == ETIMEDOUT ? "connect_timeout"
					      : "connect_failed",
			  c->last_error);
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
	b = pbuf_new((uint32_t)n + have);
	if (b == NULL)
		return -1;
	memcpy(b->data, head, (size_t)n);
	if (have)
		memcpy(b->data + n, c->probe->data, have);
	b->len = (uint32_t)n + have;
	pbuf_put(&c->lc->pbufs, c->probe);
	c->probe = b;
	return 0;
}

void
conn_connect(struct conn *c, const struct backend *b, enum conn_via via,
	     struct metrics_series *series)
{
	int r;

	if (!backend_admits(b, &c->peer.sa)) {
		/* on_timeout or fallback with allow / deny (a detector's
		 * route was judged with its words, in conn_probe.c). */
		stats_count(STATS_REFUSED);
		metrics_refused(REFUSED_ROUTE_DENY);
		conn_close(c, "denied");
		return;
	}
	metrics_series_opened(series);
	c->series = series;
	c->backend = b;
	c->via = (uint8_t)via;
	c->state = CONN_CONNECTING;
	/* The client watcher stays armed (a stop and restart would cost two
	 * epoll_ctl calls): what arrives meanwhile joins the probe bytes. */
	c->addr_index = 0;
	/* The addresses of this moment: a re-resolution may publish others
	 * meanwhile; this attempt keeps going through these. */
	c->addrs = backend_addrs(b);
	c->last_error = ECONNREFUSED;
	/* The backend's PROXY header goes before the probe bytes: in place
	 * before the first send. */
	if (b->proxy_protocol && proxy_out_prepend(c) < 0) {
		conn_fail(c, "proxy_header", errno);
		return;
	}
	r = connect_next(c);
	if (r > 0) {
		relay_start(c);
	} else if (r < 0) {
		if (via == VIA_DETECTOR)
			conn_reject(c, PMX_REJECT_BACKEND_DOWN, NULL);
		metrics_connect_failed(CONNECT_FAILED_ERROR);
		conn_fail(c, "connect_failed", c->last_error);
	}
}

void
connect_done(struct conn *c, int revents)
{
	int err = 0;
	socklen_t len = sizeof(err);

	/* The ring's poll tells a connect that went well from one that
	 * failed; libev's readiness does not, SO_ERROR does. */
	if (!(revents & RING_WRITABLE_CLEAN) &&
	    getsockopt(c->server.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0)
		connect_retry(c, err);
	else
		relay_start(c);
}

void
connect_timed_out(struct conn *c)
{
	connect_retry(c, ETIMEDOUT);
}

/* Bytes that arrive while the backend connection is being made. */
void
connecting_read(struct conn *c)
{
	struct pbuf *p = c->probe;
	ssize_t n;

	if (p == NULL) /* a silent client on its way to on_timeout */
		p = c->probe = pbuf_get(&c->lc->pbufs,
					(uint32_t)c->gen->cfg->probe_buffer);
	if (p == NULL || p->len == p->cap) {
		side_arm(c, &c->client, 0); /* full: wait for the backend */
		return;
	}
	n = side_recv(c->lc, &c->client, p->data + p->len, p->cap - p->len);
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

/* After any relay event: pass half-closes on, finish, or re-arm. May
 * close c. */
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
	/* A direction ended: halfclose_timeout applies from now on. */
	if (!c->ended && (c->client.eof || c->server.eof) &&
	    conn_idle_update(c) < 0) {
		conn_close(c, "out_of_memory");
		return;
	}
	for (int i = 0; i < 2; i++) {
		struct side *self = s[i], *other = s[1 - i];
		int ev = 0;

		if (!c->kernel_try)
			side_maybe_to_loop(c, self);
		/* The ring reads for it (and looks for the FIN behind the
		 * backend's first answer), but bulk is spliced and the
		 * kernel relay reads for itself. */
		if (!self->eof && !side_pending(other))
			ev |= EV_READ |
			      (self->fin_peek ? RING_WANT_FIN : 0) |
			      (self->bulk || c->kernel_try ? 0
							   : RING_WANT_DATA);
		if (side_pending(self))
			ev |= EV_WRITE;
		side_arm(c, self, ev);
	}
	for (int i = 0; i < 2; i++) {
		struct side *src = s[i], *dst = s[1 - i];
		/* Everything from src is delivered: pass its FIN on and keep
		 * the other direction flowing. Unless dst has an event of
		 * this same loop iteration still to come (checked after the
		 * arming above: a watcher restarted loses its pending
		 * event): if that is dst's
		 * own FIN, the connection ends right after and close() sends
		 * ours (a shutdown() less); if not, its relay_update()
		 * passes the FIN on. */
		if (src->eof && !side_pending(dst) && !dst->shut &&
		    !side_event_pending(c, dst)) {
			shutdown(dst->fd, SHUT_WR);
			dst->shut = 1;
		}
	}
	if (c->kernel_try)
		conn_kernel_try(c); /* relay: kernel (may close c) */
}

void
relay_start(struct conn *c)
{
	c->state = CONN_RELAY;
	ev_timer_stop(c->lc->loop, &c->timer);
	/* From now on the idle timeouts watch it (no timer of its own). */
	if (conn_idle_update(c) < 0) {
		conn_close(c, "out_of_memory");
		return;
	}
	/* It came with TCP_NODELAY from the listener, and nothing was
	 * written to it yet. */
	side_nodelay_later(&c->client,
			   sockopt_wants_nodelay(c->backend->priority), 1, 0);
	if (c->gen->cfg->tcp_keepalive)
		conn_keepalive_due(c);
	conn_relay_mode(c); /* zerocopy, relay: kernel */
	sockopt_relay_buffers(c->client.fd);
	sockopt_relay_buffers(c->server.fd);
	c->server.fin_peek = 1;
	/* The probe bytes go first, unchanged (after a PROXY header), or
	 * what connect_next() could not send of them yet. */
	c->server.out = c->probe;
	c->probe = NULL;
	if (c->server.out != NULL && relay_flush(c->lc, &c->server) < 0) {
		conn_fail(c, "server_error", errno);
		return;
	}
	relay_update(c);
}

void
relay_event(struct conn *c, struct side *self, struct side *other,
	    int revents)
{
	int which = 0;

	if (c->kernel != NULL) {
		conn_kernel_event(c, self, revents);
		return;
	}
	if (self->turns < UINT8_MAX)
		self->turns++;
	conn_touch(c);
	if ((revents & EV_WRITE) && relay_flush(c->lc, self) < 0) {
		conn_fail(c, self == &c->client ? "client_error"
						: "server_error",
			  errno);
		return;
	}
	if ((revents & EV_READ) && !side_pending(other) && !self->eof &&
	    relay_pump(c->lc, self, other, c->zerocopy,
		       (revents & RING_READ_FIN) != 0, &which) < 0) {
		int client_side = (self == &c->client) == (which == 0);
		conn_fail(c, client_side ? "client_error" : "server_error",
			  errno);
		return;
	}
	if (c->backend->priority == PRIO_LATENCY)
		loop_busy_poll(c->lc, c->gen->cfg->latency_busy_poll);
	relay_update(c);
}
