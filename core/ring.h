/* ring.h — a loop's io_uring: readiness of its connections' sockets, their
 * reads, their listeners' accepts, and their closing, without an
 * epoll_ctl(), recv(), accept4() or close() call each.
 *
 * Why. A system call costs about 1.1 µs on the development VM, and a short
 * relayed connection made 14 of them on epoll, four of them epoll_ctl()
 * (libev adds a socket, changes it, removes it). Here a socket's
 * readiness is a poll operation on the ring and a close is a close
 * operation; the loop submits all of a turn's operations in one
 * io_uring_enter() just before it waits. bench/loopmodels.sh measured the
 * model of this (LOOP_MODEL=evring-coop-poll-acc) at 0.76x the CPU per
 * connection of PortMux on epoll, and the same model on epoll at 0.93x.
 *
 * How it fits in libev. libev still waits: the ring's descriptor is one of
 * its read watchers (it is readable while completions wait), and an
 * ev_prepare watcher submits what the turn queued before libev waits.
 * Timers, UDP and the rest stay libev's.
 *
 * A ring_watch behaves as a level-triggered ev_io: it is armed with a
 * one-shot poll, which completes at once when the socket is ready
 * already; its callback runs once per completion, and the poll is re-armed
 * before the loop waits again for as long as the watch wants events.
 * Completions are delivered the way libev delivers events: all of a
 * batch are taken first, then the callbacks run, and a watch changed or
 * stopped before its turn loses its event (ring_watch_pending says
 * whether one waits).
 *
 * Ownership. The loop context owns its ring (loop_ctx_init makes it when
 * the kernel allows, loop_ctx_fini frees it). The ring owns its
 * descriptor, its mappings, its table of watches in flight and its two
 * libev watchers. A ring_watch is its embedder's; it is stopped
 * (ring_watch_set(w, -1, 0)) before its memory goes: a poll still in
 * flight then completes into a slot that no longer names it, and is
 * dropped. A descriptor given to ring_close is the ring's from then on.
 *
 * Reads and accepts (RING_WANT_DATA, RING_WANT_ACCEPT). A watch may ask
 * the ring to read (or accept) for it: a recv (accept) operation in place
 * of its poll, which saves the system call that would follow the poll.
 * bench/ab.sh measured the three recv() and the accept4() of a short
 * connection done so at 0.907x the CPU per connection (4.3 system calls
 * from 8.2). The kernel picks one of the ring's buffers when bytes arrive;
 * the watch holds it until its consumer took the bytes (ring_watch_recv),
 * or its end. A watch changed while its read or accept is in flight stops
 * it there and then (a synchronous cancel) and keeps what it took, so the
 * socket's bytes keep their order whoever reads next, and no connection
 * is lost.
 *
 * Bounds. One operation at most in flight per watch (two per
 * connection), so the table of watches in flight and the batch of
 * completions grow with the live connections (max_connections), never
 * with what a client sends; both keep their largest size until
 * ring_free. Queue entries are fixed (1,024 submission, 8,192 completion;
 * completions beyond are kept by the kernel and taken on the next turn).
 * The read buffers are fixed too: 256 of 4 KiB, two at most held per
 * watch; with none free, a read says so and its watch reads itself. So
 * are the peer addresses of accepts: 64, one per accept in flight or
 * held; with none free, a listening watch polls.
 *
 * A connection's side that keeps talking leaves the ring for libev's epoll
 * after a few events (conn.c side_maybe_to_loop): re-arming a one-shot
 * operation after every event costs a kept-alive request more than
 * epoll's lasting registration does.
 *
 * Used by the loop's thread only. */
#ifndef PMX_RING_H
#define PMX_RING_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

struct ring;

/* What a watch holds (ring_watch.has_got): a read's bytes, EOF or error;
 * or an accept's descriptor or error. */
enum { RING_GOT_READ = 1, RING_GOT_ACCEPT = 2 };

struct ring_watch {
	void (*cb)(struct ring_watch *w, int revents);
	struct ring *ring; /* borrowed */
	int fd;
	uint32_t slot;   /* its entry in the ring's table while a poll is in
			    flight or its event waits; 0: none */
	uint8_t want;    /* EV_READ | EV_WRITE; 0: stopped */
	uint8_t armed;   /* the events of the poll in flight; 0: none */
	uint8_t pending; /* the events waiting for its callback */
	uint8_t dirty;   /* in the ring's list of polls to submit */
	uint8_t reading; /* what is in flight: a poll, a read, a hand-out */
	uint8_t has_got; /* `got` holds what the socket said, not yet taken:
			    RING_GOT_READ or RING_GOT_ACCEPT; 0: nothing */
	uint16_t got_bid; /* the ring's buffer holding it (got > 0) */
	uint16_t got_off; /* bytes of it taken */
	int32_t got;      /* bytes read (> 0), 0: EOF, < 0: -errno */
	/* What a second read found behind `got` (RING_WANT_FIN), handed out
	 * after it: the same three kinds. */
	uint8_t has_then;
	uint16_t then_bid;
	int32_t then_got;
	uint16_t acc; /* its entry in the ring's peer addresses: an accept in
			 flight or held (RING_GOT_ACCEPT) */
	TAILQ_ENTRY(ring_watch) dirty_link;
};

/* Flags of a callback's revents beside EV_READ and EV_WRITE (bits libev
 * leaves unused for I/O; a watch's events fit in 8 bits).
 * RING_WRITABLE_CLEAN, with EV_WRITE: the poll found the socket writable
 * with no error or hang-up (a connect that went well, known without
 * asking SO_ERROR).
 * RING_READ_FIN, with EV_READ, for a watch set with RING_WANT_FIN: the
 * poll found the peer's FIN queued (POLLRDHUP) and no TCP urgent data
 * (POLLPRI) nor error. Every byte before the FIN is then in the receive
 * queue, and a recv() that returns less than it asked for took them all:
 * only an urgent mark would have stopped it short. */
#define RING_WRITABLE_CLEAN 0x10
#define RING_READ_FIN 0x20
/* An events bit for ring_watch_set, with EV_READ: say RING_READ_FIN. */
#define RING_WANT_FIN 0x04
/* An events bit for ring_watch_set, with EV_READ (and RING_WANT_FIN): the
 * ring reads for the watch (a recv operation into one of its buffers, in
 * place of a poll and the recv() system call after it). The callback's
 * EV_READ then comes with what the socket said waiting in the watch,
 * which ring_watch_recv hands out before reading the socket itself. With
 * RING_WANT_FIN, a short read the kernel says more follows (a FIN counts)
 * is followed by a second read before the event: RING_READ_FIN when that
 * found the FIN. When the ring has no buffer free, or the watch also
 * wants EV_WRITE, it polls as without the bit. */
#define RING_WANT_DATA 0x08
/* An events bit for ring_watch_set, with EV_READ, on a listening socket:
 * the ring accepts for the watch (an accept operation in place of a poll
 * and the accept4() after it); the callback's EV_READ comes with the
 * connection (or the error) waiting in the watch, which
 * ring_watch_accept hands out. A change of the watch stops the accept in
 * flight there and then and keeps what it took; the watch's end (fd -1)
 * closes a connection it still held. */
#define RING_WANT_ACCEPT 0x10

/* A ring for `loop`, or NULL when the kernel or a seccomp filter does
 * not allow one (the reason in err). */
struct ring *ring_new(struct ev_loop *loop, char *err, size_t errlen);
/* Submit what is queued (closes), then free everything. */
void ring_free(struct ring *r);

void ring_watch_init(struct ring_watch *w, struct ring *r,
		     void (*cb)(struct ring_watch *w, int revents));
/* Watch fd for `events` (EV_READ, EV_WRITE, RING_WANT_FIN or
 * RING_WANT_DATA with EV_READ; 0 stops). Nothing happens when fd and
 * events are what they were. What the ring read for the watch stays with
 * it while fd stays (it is handed out first once EV_READ is wanted
 * again); fd -1 (the watch's end) or another fd drops it. */
void ring_watch_set(struct ring_watch *w, int fd, int events);
/* An event for w waits for its callback in this batch. */
static inline int
ring_watch_pending(const struct ring_watch *w)
{
	return w->pending != 0;
}

/* recv(fd, buf, len, 0) for the consumer of w (watching fd): what the ring read
 * for it first (its bytes, then the EOF or error the socket said), and,
 * when that was a whole buffer, what the socket holds beyond it. The one
 * way a watch's socket is read while it may have RING_WANT_DATA: a read
 * of the socket itself would pass bytes the ring holds. */
ssize_t ring_watch_recv(struct ring_watch *w, int fd, void *buf, size_t len);
/* accept4(fd, peer, len, SOCK_NONBLOCK | SOCK_CLOEXEC) for the consumer
 * of w (watching fd): the connection the ring accepted for it first. */
int ring_watch_accept(struct ring_watch *w, int fd, struct sockaddr *peer,
		      socklen_t *len);
/* The ring holds bytes (or an EOF or error) read for w. */
static inline int
ring_watch_has_data(const struct ring_watch *w)
{
	return w->has_got != 0;
}

/* The ring holds nothing for w: no operation in flight, no event
 * waiting for its callback, nothing read for it. It can then be given up
 * (ring_watch_set(w, -1, 0)) and its socket watched another way without
 * losing a byte or an event. */
static inline int
ring_watch_idle(const struct ring_watch *w)
{
	return w->slot == 0 && w->has_got == 0;
}

/* Close fd with the turn's submission (no watch may watch it any more). */
void ring_close(struct ring *r, int fd);

#endif
