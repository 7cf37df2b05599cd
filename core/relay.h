/* relay.h — moving bytes between the two sides of a connection.
 *
 * Copy mode reads into the loop's shared scratch buffer and writes
 * straight on; only bytes a side cannot take right away are kept (in that
 * side's `out`). Zero-copy mode (throughput and both priorities, once a
 * direction carries bulk: a read filled the scratch buffer) splice()s
 * socket -> pipe -> socket; a pipe comes from the loop's pool when bytes
 * start to flow and goes back when it is empty. Either way an idle
 * connection holds no buffer and no pipe.
 *
 * What to do next (re-arm, pass a FIN on, finish) is the connection's
 * business: conn_relay.c relay_update(). */
#ifndef PMX_RELAY_H
#define PMX_RELAY_H

#include <ev.h>
#include <stdint.h>

#include "loop.h"
#include "pbuf.h"
#include "ring.h"

/* One socket of a connection, and what waits to be written to it.
 * Owned by its connection: conn_close() closes `fd` and `pipe` and gives
 * `out` back; the relay only hands `out` and `pipe` back once they are
 * empty (pbuf_put, pipe_pool_put). */
struct side {
	/* Its socket's readiness: on the loop's ring when it has one
	 * (ring.h), else, or once on_loop, a libev watcher. */
	union {
		ev_io io;
		struct ring_watch rw;
	} w;
	int fd;
	/* Watched by libev (epoll) although the loop has a ring: a side
	 * that kept talking moves there (conn.c side_maybe_to_loop). Either
	 * watcher is stopped by side_close. */
	uint8_t on_loop;
	uint8_t turns; /* relay events it had, up to 255 */
	uint8_t eof;  /* read EOF from this side */
	uint8_t shut; /* sent our FIN (SHUT_WR) to this side */
	uint8_t bulk; /* what it sends comes in bulk: splice it */
	int events;   /* what io is armed for (0 = stopped) */
	struct pbuf *out;    /* bytes from the other side, not taken yet */
	int pipe[2];         /* zero-copy: bytes on their way to this side */
	uint32_t pipe_bytes; /* how many are in it (EAGAIN is ambiguous) */
	uint64_t bytes;      /* read from this side */
	/* TCP_NODELAY as the route's priority wants it, set before the
	 * socket's second write (side_nodelay_later): NODELAY_KEEP once
	 * set, or when the socket had it already. */
	uint8_t nodelay_due;
	uint8_t written; /* a write was made (or tried) */
	/* The backend: look for its FIN right behind its first answer
	 * (relay.c peek_fin). */
	uint8_t fin_peek;
	/* An error that look found while part of the answer still waited
	 * for the other side: reported on this side's next read, as the
	 * recv() it replaced would have (errno values fit). */
	uint8_t err_held;
};

enum { NODELAY_KEEP, NODELAY_ON, NODELAY_OFF };

/*
 * Nagle's algorithm holds a small write back only while earlier data is
 * unacknowledged, so a socket's first write goes out at once whatever
 * TCP_NODELAY says: s gets the value its route's priority wants
 * (`wanted`; it has `has` now) just before its second write. A short
 * connection — a request, an answer — never pays that setsockopt.
 * `written`: s had a write already.
 */
void side_nodelay_later(struct side *s, int wanted, int has, int written);
/* Set s's TCP_NODELAY now if it waits for one (the sockets leave for the
 * kernel relay, whose writes these hooks do not see). */
void side_nodelay_now(struct side *s);
/* Every write to s goes after this. */
static inline void
side_will_write(struct side *s)
{
	if (s->nodelay_due == NODELAY_KEEP)
		return;
	if (s->written)
		side_nodelay_now(s);
	s->written = 1;
}

/* s is watched, read and closed through the loop's ring. */
static inline int
side_on_ring(const struct loop_ctx *lc, const struct side *s)
{
	return lc->ring != NULL && !s->on_loop;
}

/* Bytes waiting to be written to this side. */
static inline int
side_pending(const struct side *s)
{
	return s->out != NULL || s->pipe_bytes != 0;
}

/* Write what is pending for dst (its `out`, then its pipe). 0 when drained
 * or blocked (check side_pending), -1 on error. */
int relay_flush(struct loop_ctx *lc, struct side *dst);
/* recv() from s's socket: what the ring read for it first (ring.h
 * RING_WANT_DATA). Every read of a relayed or probed socket goes here. */
ssize_t side_recv(struct loop_ctx *lc, struct side *s, void *buf,
		  size_t len);
/* The ring holds bytes (or an EOF, an error) read for s. */
int side_has_read(const struct loop_ctx *lc, const struct side *s);

/*
 * Move bytes from src to dst (which must have nothing pending) until src
 * is empty, src reaches EOF (src->eof set), dst blocks (the rest stays
 * pending for dst) or the per-event budget is spent. 0, or -1 on an error
 * (errno set; *which tells the side: 0 src, 1 dst). fin_queued: the poll
 * that woke src saw its FIN already queued and no urgent data
 * (RING_READ_FIN), so a short read takes every byte and the FIN is known
 * without the recv() that peek_fin would make.
 */
int relay_pump(struct loop_ctx *lc, struct side *src, struct side *dst,
	       int zerocopy, int fin_queued, int *which);

#endif
