/* ring.c — a loop's io_uring (see ring.h), on the raw system calls: the
 * submission and completion queues are shared memory, written and read
 * here; io_uring_enter() submits. */
#include "ring.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Submission queue entries: a turn that queues more submits early. */
#define RING_ENTRIES 1024
/* Completion queue entries (a full queue keeps the rest in the kernel:
 * IORING_FEAT_NODROP). */
#define RING_CQ_ENTRIES 8192
/* Rounds of submit-and-deliver in one prepare: a poll that completes at
 * once is delivered before the loop waits. */
#define RING_ROUNDS 4
/* The buffers the kernel reads into for RING_WANT_DATA watches: a fixed
 * number, each taken when bytes arrive and given back once the watch's
 * consumer took them (or the watch ended); when none is free, a read
 * completes with ENOBUFS and its watch reads the socket itself. */
#define RING_BUFS 256
#define RING_BUF_SIZE 4096
#define RING_BGID 0
/* Peer addresses for accept operations in flight or held: a fixed array
 * the kernel writes into (it never moves); with none free, a listening
 * watch polls. */
#define RING_ACCEPTS 64

/* A watch whose poll is in flight or whose event waits: the completion's
 * user_data is its index and generation, so that one arriving after the
 * watch stopped or changed (generation moved on) is dropped. */
struct slot {
	struct ring_watch *w; /* NULL: free */
	uint32_t gen;
	uint32_t next_free;
};

struct ring {
	int fd; /* owned: closed by ring_free */
	struct ev_loop *loop;
	ev_io io;           /* the ring's descriptor: completions wait */
	ev_prepare prepare; /* submit before the loop waits */
	/* The shared queues (owned mappings). */
	void *sq_map, *cq_map, *sqe_map;
	size_t sq_map_len, cq_map_len, sqe_map_len;
	unsigned *sq_head, *sq_tail, *sq_mask, *sq_flags, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	unsigned tail; /* our submission tail, ahead of *sq_tail */
	/* Watches in flight (owned array; entry 0 unused). */
	struct slot *slots;
	uint32_t nslots, free_slot;
	/* Completions taken, waiting for their callbacks (owned array). */
	uint64_t *batch;
	size_t nbatch, batch_cap;
	TAILQ_HEAD(, ring_watch) dirty; /* polls to submit */
	/* RING_BUFS buffers of RING_BUF_SIZE bytes (an owned mapping) and
	 * the ring through which they are handed to the kernel (an owned
	 * mapping, registered as buffer group RING_BGID); NULL when the
	 * kernel took none (before Linux 5.19): reads are then polls. */
	uint8_t *bufs;
	struct io_uring_buf_ring *br;
	unsigned br_tail; /* our tail of br */
	uint8_t no_more;  /* read_stop's take(): no second read (read_more) */
	/* RING_ACCEPTS peer addresses (an owned mapping) and the free ones
	 * (a stack of indexes). */
	struct ring_peer {
		struct sockaddr_storage sa;
		socklen_t len;
	} *peers;
	uint16_t peer_free[RING_ACCEPTS];
	unsigned npeer_free;
};

static int
sys_enter(int fd, unsigned submit, unsigned min, unsigned flags)
{
	return (int)syscall(__NR_io_uring_enter, fd, submit, min, flags,
			    NULL, 0);
}

/* ---- slots ---- */

static uint32_t
slot_take(struct ring *r, struct ring_watch *w)
{
	uint32_t i = r->free_slot;

	if (i == 0) {
		uint32_t n = r->nslots ? r->nslots * 2 : 256;
		struct slot *s = realloc(r->slots, n * sizeof(*s));

		if (s == NULL)
			return 0;
		memset(s + r->nslots, 0, (n - r->nslots) * sizeof(*s));
		for (uint32_t k = n - 1; k >= (r->nslots ? r->nslots : 1);
		     k--) {
			s[k].next_free = r->free_slot;
			r->free_slot = k;
		}
		r->slots = s;
		r->nslots = n;
		i = r->free_slot;
	}
	r->free_slot = r->slots[i].next_free;
	r->slots[i].w = w;
	return i;
}

static void
slot_release(struct ring *r, uint32_t i)
{
	r->slots[i].w = NULL;
	r->slots[i].gen++;
	r->slots[i].next_free = r->free_slot;
	r->free_slot = i;
}

static uint64_t
slot_data(const struct ring *r, uint32_t i)
{
	return (uint64_t)r->slots[i].gen << 32 | i;
}

/* The watch a completion is for, or NULL when it stopped or changed. */
static struct ring_watch *
slot_watch(const struct ring *r, uint64_t data)
{
	uint32_t i = (uint32_t)data;

	if (i == 0 || i >= r->nslots || r->slots[i].gen != data >> 32)
		return NULL;
	return r->slots[i].w;
}

/* ---- read buffers ---- */

/* Hand buffer bid back to the kernel. */
static void
buf_return(struct ring *r, uint16_t bid)
{
	struct io_uring_buf *b = &r->br->bufs[r->br_tail & (RING_BUFS - 1)];

	b->addr = (uint64_t)(uintptr_t)(r->bufs + (size_t)bid * RING_BUF_SIZE);
	b->len = RING_BUF_SIZE;
	b->bid = bid;
	r->br_tail++;
	atomic_store_explicit((_Atomic uint16_t *)&r->br->tail,
			      (uint16_t)r->br_tail, memory_order_release);
}

/* Forget what was read for w (its buffer goes back). */
static void
got_drop(struct ring *r, struct ring_watch *w)
{
	if (w->has_got == RING_GOT_ACCEPT) { /* a connection nobody took */
		if (w->got >= 0)
			close(w->got);
		r->peer_free[r->npeer_free++] = w->acc;
	} else if (w->has_got && w->got > 0) {
		buf_return(r, w->got_bid);
	}
	if (w->has_then && w->then_got > 0)
		buf_return(r, w->then_bid);
	w->has_got = 0;
	w->has_then = 0;
}

/* The buffers, registered; on failure (an older kernel) there are none
 * and reads are polls. */
static void
bufs_setup(struct ring *r)
{
	struct io_uring_buf_reg reg;
	struct io_uring_sync_cancel_reg cancel;
	size_t brlen = RING_BUFS * sizeof(struct io_uring_buf);

	/* A read is stopped with IORING_REGISTER_SYNC_CANCEL (read_stop):
	 * without it (before Linux 6.0), no reads. */
	memset(&cancel, 0, sizeof(cancel));
	cancel.fd = -1;
	if (syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_SYNC_CANCEL,
		    &cancel, 1) == 0 ||
	    errno != ENOENT)
		return;

	r->br = mmap(NULL, brlen, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r->bufs = mmap(NULL, (size_t)RING_BUFS * RING_BUF_SIZE,
		       PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)r->br;
	reg.ring_entries = RING_BUFS;
	reg.bgid = RING_BGID;
	if (r->br == MAP_FAILED || r->bufs == MAP_FAILED ||
	    syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_PBUF_RING,
		    &reg, 1) < 0) {
		if (r->br != MAP_FAILED)
			munmap(r->br, brlen);
		if (r->bufs != MAP_FAILED)
			munmap(r->bufs, (size_t)RING_BUFS * RING_BUF_SIZE);
		r->br = NULL;
		r->bufs = NULL;
		return;
	}
	for (uint16_t i = 0; i < RING_BUFS; i++)
		buf_return(r, i);
}

static void
peers_setup(struct ring *r)
{
	r->peers = mmap(NULL, RING_ACCEPTS * sizeof(*r->peers),
			PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	if (r->peers == MAP_FAILED) {
		r->peers = NULL;
		return;
	}
	for (unsigned i = 0; i < RING_ACCEPTS; i++)
		r->peer_free[r->npeer_free++] = (uint16_t)i;
}

static void
bufs_free(struct ring *r)
{
	if (r->peers != NULL)
		munmap(r->peers, RING_ACCEPTS * sizeof(*r->peers));
	if (r->br == NULL)
		return;
	munmap(r->br, RING_BUFS * sizeof(struct io_uring_buf));
	munmap(r->bufs, (size_t)RING_BUFS * RING_BUF_SIZE);
}

/* ---- submission ---- */

static size_t take(struct ring *r);

/* Hand the kernel what is queued. If it takes nothing (EBUSY, EAGAIN:
 * short of memory, or of room for completions on kernels that refuse
 * new work while completions overflow), take the completions waiting and
 * try again, a few times; what is left stays queued for the next turn. */
static void
submit(struct ring *r)
{
	atomic_store_explicit((_Atomic unsigned *)r->sq_tail, r->tail,
			      memory_order_release);
	for (int tries = 0; tries < 4;) {
		unsigned n = r->tail - atomic_load_explicit(
					       (_Atomic unsigned *)r->sq_head,
					       memory_order_acquire);
		int k;

		if (n == 0)
			return;
		k = sys_enter(r->fd, n, 0, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			uint8_t more = r->no_more;

			r->no_more = 1; /* (no new entry while it is full) */
			take(r);
			r->no_more = more;
			tries++;
		}
	}
}

/* A new entry, zeroed, its user_data set; NULL when the queue is full and
 * the kernel takes none of it (see submit). */
static struct io_uring_sqe *
sqe_get(struct ring *r, uint8_t opcode, int fd, uint64_t data)
{
	struct io_uring_sqe *s;
	unsigned i;

	if (r->tail - atomic_load_explicit((_Atomic unsigned *)r->sq_head,
					   memory_order_acquire) >=
	    RING_ENTRIES) {
		submit(r);
		if (r->tail - *(volatile unsigned *)r->sq_head >=
		    RING_ENTRIES)
			return NULL;
	}
	i = r->tail & *r->sq_mask;
	s = &r->sqes[i];
	r->sq_array[i] = i;
	r->tail++;
	memset(s, 0, sizeof(*s));
	s->opcode = opcode;
	s->fd = fd;
	s->user_data = data;
	return s;
}

static unsigned
poll_mask(int events)
{
	return (events & EV_READ ? POLLIN : 0) |
	       ((events & (EV_READ | RING_WANT_FIN)) ==
				(EV_READ | RING_WANT_FIN)
			? POLLPRI | POLLRDHUP
			: 0) |
	       (events & EV_WRITE ? POLLOUT : 0);
}

static void
mark_dirty(struct ring *r, struct ring_watch *w)
{
	if (!w->dirty) {
		w->dirty = 1;
		TAILQ_INSERT_TAIL(&r->dirty, w, dirty_link);
	}
}

/* What a watch's operation in flight is (ring_watch.reading). */
enum { OP_POLL, OP_READ, OP_HAND_OUT, OP_ACCEPT };

/* Does w accept through the ring (it has an address entry then)? */
static int
accepts(struct ring *r, struct ring_watch *w)
{
	if ((w->want & (EV_READ | RING_WANT_ACCEPT)) !=
		    (EV_READ | RING_WANT_ACCEPT) ||
	    r->peers == NULL || r->npeer_free == 0)
		return 0;
	w->acc = r->peer_free[--r->npeer_free];
	r->peers[w->acc].len = sizeof(r->peers[w->acc].sa);
	return 1;
}

/* Does w read through the ring (rather than poll)? */
static int
reads(const struct ring *r, const struct ring_watch *w)
{
	return r->br != NULL &&
	       (w->want & (EV_READ | EV_WRITE | RING_WANT_DATA)) ==
		       (EV_READ | RING_WANT_DATA);
}

/* Queue the polls (and reads) of the watches that want one. */
static void
arm_dirty(struct ring *r)
{
	struct ring_watch *w;

	while ((w = TAILQ_FIRST(&r->dirty)) != NULL) {
		struct io_uring_sqe *s;
		int op;

		TAILQ_REMOVE(&r->dirty, w, dirty_link);
		w->dirty = 0;
		if (w->want == 0 || w->slot != 0)
			continue;
		/* What the ring holds for it is handed out, once it reads
		 * again, by a no-op's completion: it comes as any event
		 * does. */
		op = w->has_got && (w->want & EV_READ) ? OP_HAND_OUT
		     : accepts(r, w)			 ? OP_ACCEPT
		     : reads(r, w)			 ? OP_READ
							 : OP_POLL;
		w->slot = slot_take(r, w);
		s = w->slot ? sqe_get(r,
				      op == OP_HAND_OUT ? IORING_OP_NOP
				      : op == OP_ACCEPT ? IORING_OP_ACCEPT
				      : op == OP_READ	? IORING_OP_RECV
							: IORING_OP_POLL_ADD,
				      op == OP_HAND_OUT ? -1 : w->fd,
				      slot_data(r, w->slot))
			    : NULL;
		if (s == NULL) {
			/* Out of memory, or the kernel takes no more now:
			 * the next turn tries again. */
			if (w->slot != 0)
				slot_release(r, w->slot);
			w->slot = 0;
			if (op == OP_ACCEPT)
				r->peer_free[r->npeer_free++] = w->acc;
			mark_dirty(r, w);
			return;
		}
		if (op == OP_ACCEPT) {
			s->addr = (uint64_t)(uintptr_t)&r->peers[w->acc].sa;
			s->addr2 = (uint64_t)(uintptr_t)&r->peers[w->acc].len;
			s->accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
		} else if (op == OP_READ) {
			s->flags = IOSQE_BUFFER_SELECT;
			s->buf_group = RING_BGID;
			s->len = RING_BUF_SIZE;
		} else if (op == OP_POLL) {
			s->poll32_events = poll_mask(w->want);
		}
		w->armed = w->want;
		w->reading = (uint8_t)op;
	}
}

/* ---- completion ---- */

/* What a poll's result means for a watch wanting `want`: as libev reads
 * epoll, an error or hang-up wakes both directions (the callback's own
 * call finds what it is); a failed poll too. Writable without either is
 * said too (RING_WRITABLE_CLEAN), and, when asked, a FIN queued with no
 * urgent data (RING_READ_FIN; POLLPRI, asked for with it, wakes a
 * reader, whose recv() steps over the urgent byte). */
static int
revents_of(int res, int want)
{
	int ev;

	if (res < 0)
		return want & (EV_READ | EV_WRITE);
	ev = (res & (POLLOUT | POLLERR | POLLHUP) ? EV_WRITE : 0) |
	     (res & (POLLIN | POLLPRI | POLLERR | POLLHUP | POLLRDHUP)
		      ? EV_READ
		      : 0);
	ev &= want & (EV_READ | EV_WRITE);
	if ((ev & EV_WRITE) && !(res & (POLLERR | POLLHUP)))
		ev |= RING_WRITABLE_CLEAN;
	if ((ev & EV_READ) && (want & RING_WANT_FIN) && (res & POLLRDHUP) &&
	    !(res & (POLLPRI | POLLERR)))
		ev |= RING_READ_FIN;
	return ev;
}

/* Keep a completion for deliver(); -1 when short of memory. */
static int
batch_push(struct ring *r, uint64_t data)
{
	if (r->nbatch == r->batch_cap) {
		size_t cap = r->batch_cap ? r->batch_cap * 2 : 256;
		uint64_t *b = realloc(r->batch, cap * sizeof(*b));

		if (b == NULL)
			return -1;
		r->batch = b;
		r->batch_cap = cap;
	}
	r->batch[r->nbatch++] = data;
	return 0;
}

/* What a read for w brought: kept in w for its consumer (bytes, an EOF,
 * an error; behind what it holds if this read followed another), and its
 * event. Cancelled: nothing. No buffer free: the event alone (the
 * consumer reads the socket). */
static int
read_done(struct ring *r, struct ring_watch *w, const struct io_uring_cqe *e)
{
	uint16_t bid = (uint16_t)(e->flags >> IORING_CQE_BUFFER_SHIFT);

	if (w->reading == OP_HAND_OUT)
		return EV_READ |
		       (w->has_then && w->then_got == 0 ? RING_READ_FIN : 0);
	if (w->reading == OP_ACCEPT) {
		if (e->res == -ECANCELED) {
			r->peer_free[r->npeer_free++] = w->acc;
			return 0;
		}
		/* The connection (or error) and its peer's address stay. */
		w->has_got = RING_GOT_ACCEPT;
		w->got = e->res;
		return EV_READ;
	}
	if (e->res == -ENOBUFS) /* the consumer reads the socket */
		return EV_READ;
	if (e->res == -ECANCELED) /* (a second read: the first is held) */
		return w->has_got ? EV_READ : 0;
	if (w->has_got) {
		w->has_then = 1;
		w->then_got = e->res;
		w->then_bid = bid;
		return EV_READ | (e->res == 0 ? RING_READ_FIN : 0);
	}
	w->has_got = RING_GOT_READ;
	w->got = e->res;
	w->got_off = 0;
	w->got_bid = bid;
	return EV_READ;
}

/* A first read of w's that came short while the kernel says more follows
 * (its FIN counts), for a watch that looks for the FIN: read again before
 * the event. 0 when that read is queued. */
static int
read_more(struct ring *r, struct ring_watch *w, const struct io_uring_cqe *e)
{
	struct io_uring_sqe *s;

	if (r->no_more || !(w->want & RING_WANT_FIN) || w->has_then ||
	    e->res <= 0 || e->res >= RING_BUF_SIZE ||
	    !(e->flags & IORING_CQE_F_SOCK_NONEMPTY))
		return -1;
	s = sqe_get(r, IORING_OP_RECV, w->fd, slot_data(r, w->slot));
	if (s == NULL)
		return -1;
	s->flags = IOSQE_BUFFER_SELECT;
	s->buf_group = RING_BGID;
	s->len = RING_BUF_SIZE;
	w->armed = w->want;
	return 0;
}

/* Take every completion there is into the batch (their watches marked
 * pending). How many. */
static size_t
take(struct ring *r)
{
	unsigned head = *r->cq_head, tail, n;

	if (atomic_load_explicit((_Atomic unsigned *)r->sq_flags,
				 memory_order_relaxed) &
	    IORING_SQ_CQ_OVERFLOW)
		sys_enter(r->fd, 0, 0, IORING_ENTER_GETEVENTS);
	tail = atomic_load_explicit((_Atomic unsigned *)r->cq_tail,
				    memory_order_acquire);
	n = tail - head;
	for (; head != tail; head++) {
		const struct io_uring_cqe *e = &r->cqes[head & *r->cq_mask];
		struct ring_watch *w = slot_watch(r, e->user_data);

		if (w == NULL) {
			/* A close, a removal, a stale poll, or a stale read:
			 * its buffer goes back. */
			if (e->flags & IORING_CQE_F_BUFFER)
				buf_return(r, (uint16_t)(e->flags >>
						IORING_CQE_BUFFER_SHIFT));
			continue;
		}
		w->armed = 0;
		if (w->reading == OP_POLL) {
			w->pending |= (uint8_t)revents_of(e->res, w->want);
		} else {
			int first = !w->has_got;
			int ev = read_done(r, w, e);

			if (w->reading == OP_READ && first && w->has_got &&
			    read_more(r, w, e) == 0)
				continue; /* the event waits for it */
			w->pending |= (uint8_t)ev;
		}
		w->reading = OP_POLL;
		if (batch_push(r, e->user_data) < 0) {
			/* Its event is lost: poll (or hand out) again. */
			slot_release(r, w->slot);
			w->slot = 0;
			w->pending = 0;
			mark_dirty(r, w);
		}
	}
	atomic_store_explicit((_Atomic unsigned *)r->cq_head, tail,
			      memory_order_release);
	return n;
}

/* Run the callbacks of the batch, in order; a watch stopped or changed
 * by an earlier one is skipped. */
static void
deliver(struct ring *r)
{
	for (size_t k = 0; k < r->nbatch; k++) {
		struct ring_watch *w = slot_watch(r, r->batch[k]);
		int ev;

		if (w == NULL)
			continue;
		slot_release(r, w->slot);
		w->slot = 0;
		ev = w->pending;
		w->pending = 0;
		if (w->want)
			mark_dirty(r, w); /* level-triggered: poll again */
		if (ev)
			w->cb(w, ev);
	}
	r->nbatch = 0;
}

static void
ring_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct ring *r = io->data;

	(void)loop;
	(void)revents;
	take(r);
	deliver(r);
}

static void
ring_prepare_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
	struct ring *r = p->data;

	(void)loop;
	(void)revents;
	for (int round = 0;; round++) {
		arm_dirty(r);
		if (r->tail != *r->sq_tail)
			submit(r);
		/* The last round's callbacks re-armed their watches, and the
		 * polls went in above: what completes now wakes the loop. */
		/* (Completions a ring_watch_set took wait in the batch.) */
		if (round == RING_ROUNDS ||
		    (take(r) == 0 && r->nbatch == 0))
			break;
		deliver(r);
	}
}

/* ---- watches ---- */

void
ring_watch_init(struct ring_watch *w, struct ring *r,
		void (*cb)(struct ring_watch *w, int revents))
{
	memset(w, 0, sizeof(*w));
	w->cb = cb;
	w->ring = r;
	w->fd = -1;
}

/* Take back the operation in flight named `data` (a poll, or a read when
 * `read`). It holds its socket open, so it must go even when the queue
 * has no room: then the kernel cancels it at once
 * (IORING_REGISTER_SYNC_CANCEL, Linux 6.0; waits 1 s at most). Its
 * completion, if any, is dropped (its slot moved on; a read's buffer goes
 * back). */
static void
op_cancel(struct ring *r, uint64_t data, int read)
{
	struct io_uring_sqe *s = sqe_get(r,
					 read ? IORING_OP_ASYNC_CANCEL
					      : IORING_OP_POLL_REMOVE,
					 -1, 0);
	struct io_uring_sync_cancel_reg reg;

	if (s != NULL) {
		s->addr = data;
		s->flags = IOSQE_CQE_SKIP_SUCCESS;
		return;
	}
	memset(&reg, 0, sizeof(reg));
	reg.addr = data;
	reg.fd = -1;
	reg.timeout.tv_sec = 1;
	(void)syscall(__NR_io_uring_register, r->fd,
		      IORING_REGISTER_SYNC_CANCEL, &reg, 1);
}

/* w's read in flight stops, and what it read before it could (bytes the
 * socket no longer has) stays with w. Done before this returns: the
 * socket may be read directly from now on, and those bytes come first. */
static void
read_stop(struct ring *r, struct ring_watch *w)
{
	struct io_uring_sync_cancel_reg reg;

	submit(r); /* the read may still wait in the queue */
	memset(&reg, 0, sizeof(reg));
	reg.addr = slot_data(r, w->slot);
	reg.fd = -1;
	reg.timeout.tv_sec = 1;
	(void)syscall(__NR_io_uring_register, r->fd,
		      IORING_REGISTER_SYNC_CANCEL, &reg, 1);
	r->no_more = 1;
	take(r); /* its completion, among others: delivered this turn */
	r->no_more = 0;
}

void
ring_watch_set(struct ring_watch *w, int fd, int events)
{
	struct ring *r = w->ring;

	if (fd == w->fd && events == w->want)
		return;
	/* A read stops there and then when the socket stays (its bytes
	 * first); an accept always (the kernel writes its peer's address
	 * into the ring's array, and a connection it took is the watch's
	 * to hand out, or to close if the watch ends). */
	if (w->slot != 0 && w->armed &&
	    ((w->reading == OP_READ && fd == w->fd) ||
	     w->reading == OP_ACCEPT))
		read_stop(r, w);
	if (w->slot != 0) {
		if (w->armed && w->reading != OP_HAND_OUT)
			op_cancel(r, slot_data(r, w->slot),
				  w->reading == OP_READ);
		slot_release(r, w->slot);
		w->slot = 0;
		w->armed = 0;
		w->pending = 0;
		w->reading = OP_POLL;
	}
	/* A stale accept error (EMFILE...) is not kept for after a pause. */
	if (fd != w->fd ||
	    (events == 0 && w->has_got == RING_GOT_ACCEPT && w->got < 0))
		got_drop(r, w);
	w->fd = fd;
	w->want = (uint8_t)events;
	if (events)
		mark_dirty(r, w);
	else if (w->dirty) {
		TAILQ_REMOVE(&r->dirty, w, dirty_link);
		w->dirty = 0;
	}
}

int
ring_watch_accept(struct ring_watch *w, int fd, struct sockaddr *peer,
		  socklen_t *len)
{
	struct ring *r = w->ring;
	const struct ring_peer *p;
	int got;

	if (w->has_got != RING_GOT_ACCEPT)
		return accept4(fd, peer, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	p = &r->peers[w->acc];
	got = w->got;
	if (got >= 0) {
		memcpy(peer, &p->sa, p->len < *len ? p->len : *len);
		*len = p->len;
	}
	r->peer_free[r->npeer_free++] = w->acc;
	w->has_got = 0;
	if (got < 0) {
		errno = -got;
		return -1;
	}
	return got;
}

ssize_t
ring_watch_recv(struct ring_watch *w, int fd, void *buf, size_t len)
{
	struct ring *r = w->ring;
	size_t n, whole;
	ssize_t more;

	if (!w->has_got)
		return recv(fd, buf, len, 0);
	if (w->got <= 0) {
		w->has_got = 0;
		if (w->got == 0)
			return 0;
		errno = -w->got;
		return -1;
	}
	n = (size_t)w->got - w->got_off;
	if (n > len)
		n = len;
	memcpy(buf, r->bufs + (size_t)w->got_bid * RING_BUF_SIZE + w->got_off,
	       n);
	w->got_off = (uint16_t)(w->got_off + n);
	if (w->got_off < w->got)
		return (ssize_t)n;
	whole = w->got == RING_BUF_SIZE;
	buf_return(r, w->got_bid);
	w->has_got = 0;
	if (w->has_then) { /* what followed: for the next call */
		w->has_got = RING_GOT_READ;
		w->got = w->then_got;
		w->got_bid = w->then_bid;
		w->got_off = 0;
		w->has_then = 0;
		return (ssize_t)n;
	}
	if (!whole || n == len)
		return (ssize_t)n;
	/* A whole buffer: the socket may hold more. What it says after
	 * those bytes (its EOF, an error) is kept for the next call. */
	more = recv(fd, (uint8_t *)buf + n, len - n, 0);
	if (more > 0)
		return (ssize_t)n + more;
	if (more == 0 || (errno != EAGAIN && errno != EINTR)) {
		w->has_got = RING_GOT_READ;
		w->got = more == 0 ? 0 : -errno;
	}
	return (ssize_t)n;
}

void
ring_close(struct ring *r, int fd)
{
	struct io_uring_sqe *s = sqe_get(r, IORING_OP_CLOSE, fd, 0);

	if (s == NULL)
		close(fd);
	else
		s->flags = IOSQE_CQE_SKIP_SUCCESS; /* no completion */
}

/* ---- the ring ---- */

static int
map_queues(struct ring *r, const struct io_uring_params *p)
{
	r->sq_map_len = p->sq_off.array + p->sq_entries * sizeof(unsigned);
	r->cq_map_len = p->cq_off.cqes +
			p->cq_entries * sizeof(struct io_uring_cqe);
	r->sqe_map_len = p->sq_entries * sizeof(struct io_uring_sqe);
	r->sq_map = mmap(NULL, r->sq_map_len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	r->cq_map = mmap(NULL, r->cq_map_len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
	r->sqe_map = mmap(NULL, r->sqe_map_len, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (r->sq_map == MAP_FAILED || r->cq_map == MAP_FAILED ||
	    r->sqe_map == MAP_FAILED)
		return -1;
	r->sq_head = (unsigned *)((char *)r->sq_map + p->sq_off.head);
	r->sq_tail = (unsigned *)((char *)r->sq_map + p->sq_off.tail);
	r->sq_mask = (unsigned *)((char *)r->sq_map + p->sq_off.ring_mask);
	r->sq_flags = (unsigned *)((char *)r->sq_map + p->sq_off.flags);
	r->sq_array = (unsigned *)((char *)r->sq_map + p->sq_off.array);
	r->cq_head = (unsigned *)((char *)r->cq_map + p->cq_off.head);
	r->cq_tail = (unsigned *)((char *)r->cq_map + p->cq_off.tail);
	r->cq_mask = (unsigned *)((char *)r->cq_map + p->cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)((char *)r->cq_map +
					  p->cq_off.cqes);
	r->sqes = r->sqe_map;
	r->tail = *r->sq_tail;
	return 0;
}

static void
unmap_queues(struct ring *r)
{
	if (r->sq_map != NULL && r->sq_map != MAP_FAILED)
		munmap(r->sq_map, r->sq_map_len);
	if (r->cq_map != NULL && r->cq_map != MAP_FAILED)
		munmap(r->cq_map, r->cq_map_len);
	if (r->sqe_map != NULL && r->sqe_map != MAP_FAILED)
		munmap(r->sqe_map, r->sqe_map_len);
}

struct ring *
ring_new(struct ev_loop *loop, char *err, size_t errlen)
{
	struct io_uring_params p;
	struct ring *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memset(&p, 0, sizeof(p));
	/* COOP_TASKRUN (Linux 5.19): completions are posted when the thread
	 * next enters the kernel — it waits in epoll_wait — not by
	 * interrupting it. */
	p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_CQSIZE;
	p.cq_entries = RING_CQ_ENTRIES;
	r->fd = (int)syscall(__NR_io_uring_setup, RING_ENTRIES, &p);
	if (r->fd < 0) {
		snprintf(err, errlen, "io_uring_setup: %s", strerror(errno));
		free(r);
		return NULL;
	}
	if (!(p.features & IORING_FEAT_NODROP) || map_queues(r, &p) < 0) {
		snprintf(err, errlen, "io_uring: %s",
			 !(p.features & IORING_FEAT_NODROP)
				 ? "kernel too old"
				 : strerror(errno));
		unmap_queues(r);
		close(r->fd);
		free(r);
		return NULL;
	}
	r->loop = loop;
	bufs_setup(r);
	if (r->br != NULL) /* (the synchronous cancel is there) */
		peers_setup(r);
	TAILQ_INIT(&r->dirty);
	ev_io_init(&r->io, ring_io_cb, r->fd, EV_READ);
	r->io.data = r;
	ev_io_start(loop, &r->io);
	ev_prepare_init(&r->prepare, ring_prepare_cb);
	r->prepare.data = r;
	ev_prepare_start(loop, &r->prepare);
	return r;
}

void
ring_free(struct ring *r)
{
	if (r == NULL)
		return;
	submit(r); /* the closes queued last */
	ev_io_stop(r->loop, &r->io);
	ev_prepare_stop(r->loop, &r->prepare);
	unmap_queues(r);
	close(r->fd);
	bufs_free(r);
	free(r->slots);
	free(r->batch);
	free(r);
}
