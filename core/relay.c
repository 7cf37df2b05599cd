/* relay.c — copy and zero-copy relays. */
#include "relay.h"

#include <errno.h>
#include <fcntl.h> /* splice */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockopt.h"

/* Work per event and direction: one fast pair must not starve others. */
#define RELAY_BUDGET 16
/* Zero-copy pays off for bulk only: a direction switches to splice when a
 * read fills the scratch buffer, and back to copying when a splice brings
 * less than this. Small request/response traffic stays on plain copies. */
#define BULK_BELOW (16 * 1024)

/* ---- Nagle, from the second write on ---- */

void
side_nodelay_later(struct side *s, int wanted, int has, int written)
{
	s->nodelay_due = !wanted == !has ? NODELAY_KEEP
			 : wanted	 ? NODELAY_ON
					 : NODELAY_OFF;
	s->written = written != 0;
}

void
side_nodelay_now(struct side *s)
{
	if (s->nodelay_due == NODELAY_KEEP)
		return;
	sockopt_nodelay(s->fd, s->nodelay_due == NODELAY_ON);
	s->nodelay_due = NODELAY_KEEP;
}

/* ---- reading ---- */

ssize_t
side_recv(struct loop_ctx *lc, struct side *s, void *buf, size_t len)
{
	if (side_on_ring(lc, s))
		return ring_watch_recv(&s->w.rw, s->fd, buf, len);
	return recv(s->fd, buf, len, 0);
}

int
side_has_read(const struct loop_ctx *lc, const struct side *s)
{
	return side_on_ring(lc, s) && ring_watch_has_data(&s->w.rw);
}

/* ---- writing what is pending ---- */

static int
flush_buffer(struct loop_ctx *lc, struct side *dst)
{
	struct pbuf *b = dst->out;

	while (b->off < b->len) {
		ssize_t n;

		side_will_write(dst);
		n = send(dst->fd, b->data + b->off, b->len - b->off,
				 MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		b->off += (uint32_t)n;
	}
	pbuf_put(&lc->pbufs, b);
	dst->out = NULL;
	return 0;
}

/* Splice the pipe's bytes into dst until it is empty or dst is full. */
static int
drain_pipe(struct side *dst)
{
	while (dst->pipe_bytes > 0) {
		ssize_t n;

		side_will_write(dst);
		n = splice(dst->pipe[0], NULL, dst->fd, NULL, dst->pipe_bytes,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		dst->pipe_bytes -= (uint32_t)n;
	}
	return 0;
}

static int
flush_pipe(struct loop_ctx *lc, struct side *dst)
{
	if (drain_pipe(dst) < 0)
		return -1;
	if (dst->pipe_bytes == 0)
		pipe_pool_put(&lc->pipes, dst->pipe);
	return 0;
}

int
relay_flush(struct loop_ctx *lc, struct side *dst)
{
	if (dst->out != NULL && flush_buffer(lc, dst) < 0)
		return -1;
	if (dst->out == NULL && dst->pipe_bytes > 0)
		return flush_pipe(lc, dst);
	return 0;
}

/* ---- copy mode ---- */

/* What dst could not take now waits in a buffer of exactly that size. */
static int
keep_rest(struct side *dst, const uint8_t *data, size_t len)
{
	dst->out = pbuf_copy(data, len);
	if (dst->out == NULL) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/*
 * A backend that answers and closes (HTTP with Connection: close) has
 * often queued its FIN behind the answer by the time PortMux reads it. One
 * recv() more after its first short read finds it; the answer then leaves
 * corked (MSG_MORE) and relay_update()'s shutdown() puts our FIN in the
 * same segment: one packet less each way for the client and for PortMux.
 * Only the first answer: a kept-alive connection pays one recv() that says
 * EAGAIN, once. Bytes that arrived meanwhile join the answer (the count
 * returned); an error is left in *err for after the answer went (in
 * src->err_held if part of it waits for the other side).
 */
static size_t
peek_fin(struct loop_ctx *lc, struct side *src, uint8_t *at, size_t room,
	 int *err)
{
	ssize_t m;

	src->fin_peek = 0;
	m = side_recv(lc, src, at, room);
	if (m == 0)
		src->eof = 1;
	else if (m < 0 && errno != EAGAIN && errno != EINTR)
		*err = errno;
	return m > 0 ? (size_t)m : 0;
}

static int
pump_copy(struct loop_ctx *lc, struct side *src, struct side *dst,
	  int zerocopy, int fin_queued, int *which)
{
	if (src->err_held != 0) {
		errno = src->err_held;
		*which = 0;
		return -1;
	}
	for (int i = 0; i < RELAY_BUDGET; i++) {
		ssize_t n = side_recv(lc, src, lc->scratch, lc->scratch_size);
		ssize_t sent;
		int err = 0;

		if (n == 0) {
			src->eof = 1;
			return 0;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			*which = 0;
			return -1;
		}
		if (src->fin_peek && (size_t)n < lc->scratch_size) {
			if (fin_queued) { /* the poll saw it: no recv() */
				src->fin_peek = 0;
				src->eof = 1;
			} else {
				n += (ssize_t)peek_fin(
					lc, src, lc->scratch + n,
					lc->scratch_size - (size_t)n, &err);
			}
		}
		src->bytes += (uint64_t)n;
		side_will_write(dst);
		sent = send(dst->fd, lc->scratch, (size_t)n,
			    MSG_NOSIGNAL | (src->eof ? MSG_MORE : 0));
		if (sent < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				*which = 1;
				return -1;
			}
			sent = 0;
		}
		if (sent < n) {
			*which = 1;
			src->err_held = (uint8_t)err;
			return keep_rest(dst, lc->scratch + sent,
					 (size_t)(n - sent));
		}
		if (err != 0) {
			errno = err;
			*which = 0;
			return -1;
		}
		if (src->eof)
			return 0;
		/* A short read means the socket is drained: skip the recv
		 * that would only say EAGAIN. A full one means bulk. */
		if ((size_t)n < lc->scratch_size)
			return 0;
		if (zerocopy) {
			src->bulk = 1;
			return 0;
		}
	}
	return 0;
}

/* ---- zero-copy mode ---- */

static int
pump_splice(struct loop_ctx *lc, struct side *src, struct side *dst, int *which)
{
	if (dst->pipe[0] < 0 && pipe_pool_get(&lc->pipes, dst->pipe) < 0)
		return pump_copy(lc, src, dst, 0, 0, which); /* no pipe */
	for (int i = 0; i < RELAY_BUDGET; i++) {
		ssize_t n = splice(src->fd, NULL, dst->pipe[1], NULL,
				   PIPE_SIZE,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

		if (n == 0 || (n < 0 && errno == EAGAIN && i == 0)) {
			/* EOF, a spurious wake-up, or TCP urgent data:
			 * splice() stops at its mark, where recv() steps
			 * over it, and says 0 if a FIN is queued behind
			 * (EAGAIN if not, the socket still readable). recv()
			 * tells; the pipe is empty at the top of a round. */
			pipe_pool_put(&lc->pipes, dst->pipe);
			src->bulk = 0;
			return pump_copy(lc, src, dst, 1, 0, which);
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break; /* src empty (the pipe was empty) */
			if (errno == EINVAL && dst->pipe_bytes == 0) {
				/* This socket cannot splice: copy instead. */
				pipe_pool_put(&lc->pipes, dst->pipe);
				src->bulk = 0;
				return pump_copy(lc, src, dst, 0, 0, which);
			}
			*which = 0;
			return -1;
		}
		src->bytes += (uint64_t)n;
		dst->pipe_bytes += (uint32_t)n;
		if (drain_pipe(dst) < 0) {
			*which = 1;
			return -1;
		}
		if (dst->pipe_bytes > 0)
			return 0; /* dst is full: wait until it can take more */
		if (n < BULK_BELOW) {
			src->bulk = 0; /* the bulk is over: copy again */
			break;
		}
	}
	if (dst->pipe_bytes == 0)
		pipe_pool_put(&lc->pipes, dst->pipe);
	return 0;
}

int
relay_pump(struct loop_ctx *lc, struct side *src, struct side *dst,
	   int zerocopy, int fin_queued, int *which)
{
	/* (What the ring read for src goes first, copied.) */
	return zerocopy && src->bulk && !side_has_read(lc, src)
		       ? pump_splice(lc, src, dst, which)
		       : pump_copy(lc, src, dst, zerocopy, fin_queued, which);
}
