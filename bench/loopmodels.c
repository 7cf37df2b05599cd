/* bench/loopmodels.c — an experiment, not part of PortMux: the same minimal
 * relay for one workload on several event-loop models, to measure what moving
 * PortMux's connection path from readiness (epoll through libev) to
 * completions (io_uring) would be worth before doing it
 * (bench/loopmodels.sh runs it next to PortMux and the peers).
 *
 * The workload is bench/ab.sh's: a client sends a request, the backend
 * answers and closes, the client closes. Each connection is accepted, its
 * first bytes read, a backend socket connected and sent those bytes, the
 * answer relayed (with the backend's FIN in the same segment when it is
 * already there, as PortMux does), then both sockets closed. No detection,
 * no limits, no logging: only the system calls and the waiting.
 *
 *   LOOP_MODEL=epoll   epoll, level-triggered, the calls PortMux makes
 *   LOOP_MODEL=uring   io_uring: accept, recv, socket, connect, send,
 *                      shutdown and close are submitted as operations; the
 *                      loop waits in io_uring_enter (DEFER_TASKRUN)
 *   LOOP_MODEL=timers  uring, plus a libev timer per connection (armed at
 *                      accept, re-armed when it relays, stopped at close)
 *                      and ev_run(EVRUN_NOWAIT) every turn: what keeping
 *                      libev for timers would cost
 *   LOOP_MODEL=libev   timers, but the listener is a libev watcher (accept4
 *                      in its callback, as PortMux's worker does): the ring
 *                      polls libev's epoll descriptor (found through
 *                      /proc/self/fdinfo) and libev runs, without waiting,
 *                      only when that poll fires — a wait of ~1 s caps the
 *                      timers' lateness here, where none fires
 *   LOOP_MODEL=hybrid  epoll waits and does accept, the first read and the
 *                      connect; the relay after that goes through io_uring,
 *                      whose completions wake epoll through an eventfd
 *   LOOP_MODEL=evring[-coop][-efd][-poll][-acc]
 *                      libev waits (ev_run, blocking: its timers exact);
 *                      the connections' operations go on the ring, whose
 *                      descriptor (or, -efd, a registered eventfd) is a
 *                      libev read watcher, and an ev_prepare watcher
 *                      submits before libev waits. -coop: the ring without
 *                      DEFER_TASKRUN (SINGLE_ISSUER | COOP_TASKRUN): with
 *                      DEFER_TASKRUN the ring's descriptor never wakes
 *                      epoll. -poll: only readiness (one-shot polls) and
 *                      closes on the ring, the socket calls made directly —
 *                      what PortMux's core/ring.c does. -acc: the listener
 *                      a libev watcher calling accept4.
 *
 * Reads "port: N" and "fallback: {port: M" from the file after -c (the
 * YAML bench/peers.sh writes for PortMux) and listens on 127.0.0.1:N;
 * -t exits 0. Linux 6.1 or later (DEFER_TASKRUN). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BUF 16384

/* One relayed connection. Freed by finish() (epoll) or, with io_uring,
 * once closed and no operation of its is in flight. */
struct conn {
	int cfd, bfd;
	int relaying; /* the request went to the backend */
	int ceof, shut, peeked;
	int reqlen, anslen;
	int inflight, dead; /* io_uring: operations submitted, closed */
	struct { char *buf; int len, what; } pend[2]; /* evring-poll */
	ev_timer timer;     /* LOOP_MODEL=timers */
	char req[BUF] __attribute__((aligned(16)));
	char ans[BUF];
};

static struct sockaddr_in backend;
static int lfd;
static struct ev_loop *timers; /* LOOP_MODEL=timers: libev, timers only */

static struct conn *
conn_new(int fd)
{
	struct conn *c = aligned_alloc(16, sizeof(*c));

	if (c == NULL)
		abort();
	memset(c, 0, offsetof(struct conn, req));
	c->cfd = fd;
	c->bfd = -1;
	return c;
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents; /* never fires here: the workload is short */
}

/* ---------------- io_uring, raw (no liburing) ---------------- */
static struct {
	int fd;
	unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	unsigned tail, queued;
} R;

enum op { OP_ACCEPT = 1, OP_CRECV, OP_SOCKET, OP_CONNECT, OP_BSEND,
	  OP_BRECV, OP_PEEK, OP_CSEND, OP_SHUT, OP_CLOSE, OP_LIBEV,
	  OP_POLLC, OP_POLLB };
static int pollmode; /* evring-poll: readiness on the ring, calls sync */
static void completion(uint64_t data, int res, unsigned flags);
static int libev_fds;   /* LOOP_MODEL=libev: the listener is libev's */
static int libev_ready; /* libev's epoll set has events */

static void
ring_setup(void)
{
	struct io_uring_params p;
	size_t sl, cl;
	char *sq;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_COOP_TASKRUN | IORING_SETUP_CQSIZE;
	if (getenv("RING_FLAGS"))
		p.flags = (unsigned)strtoul(getenv("RING_FLAGS"), NULL, 0) |
			  IORING_SETUP_CQSIZE;
	p.cq_entries = 16384;
	R.fd = (int)syscall(__NR_io_uring_setup, 4096, &p);
	if (R.fd < 0) {
		perror("io_uring_setup");
		exit(1);
	}
	sl = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	cl = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	sq = mmap(NULL, sl > cl ? sl : cl, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, R.fd, IORING_OFF_SQ_RING);
	R.sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe),
		      PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, R.fd,
		      IORING_OFF_SQES);
	if (sq == MAP_FAILED || R.sqes == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	R.sq_tail = (void *)(sq + p.sq_off.tail);
	R.sq_mask = (void *)(sq + p.sq_off.ring_mask);
	R.sq_array = (void *)(sq + p.sq_off.array);
	R.cq_head = (void *)(sq + p.cq_off.head);
	R.cq_tail = (void *)(sq + p.cq_off.tail);
	R.cq_mask = (void *)(sq + p.cq_off.ring_mask);
	R.cqes = (void *)(sq + p.cq_off.cqes);
	R.tail = *R.sq_tail;
}

/* A new operation for c (NULL: none), tagged with what it is. */
static struct io_uring_sqe *
op(struct conn *c, enum op what, int opcode, int fd)
{
	unsigned i = R.tail & *R.sq_mask;
	struct io_uring_sqe *s = &R.sqes[i];

	R.sq_array[i] = i;
	R.tail++;
	R.queued++;
	memset(s, 0, sizeof(*s));
	s->opcode = (uint8_t)opcode;
	s->fd = fd;
	s->user_data = (uint64_t)(uintptr_t)c | (uint64_t)what;
	if (c != NULL)
		c->inflight++;
	return s;
}

/* evring-poll: a call made now, its result handled as a completion. */
static void
sync_done(struct conn *c, enum op what, long r)
{
	c->inflight++;
	completion((uint64_t)(uintptr_t)c | (uint64_t)what,
		   r < 0 ? -errno : (int)r, 0);
}

static void
op_recv(struct conn *c, enum op what, int fd, char *buf, int len, int flags)
{
	struct io_uring_sqe *s;

	if (pollmode && (flags & MSG_DONTWAIT)) {
		sync_done(c, what, recv(fd, buf, len, MSG_DONTWAIT));
		return;
	}
	if (pollmode) {
		int i = fd == c->cfd ? 0 : 1;

		c->pend[i].buf = buf;
		c->pend[i].len = len;
		c->pend[i].what = what;
		s = op(c, i ? OP_POLLB : OP_POLLC, IORING_OP_POLL_ADD, fd);
		s->poll32_events = 1; /* POLLIN */
		return;
	}
	s = op(c, what, IORING_OP_RECV, fd);

	s->addr = (uintptr_t)buf;
	s->len = (unsigned)len;
	s->msg_flags = (unsigned)flags;
}

/* link: the next operation starts only once this one succeeded. */
static void
op_send(struct conn *c, enum op what, int fd, char *buf, int len, int flags,
	int link)
{
	struct io_uring_sqe *s;

	if (pollmode) {
		sync_done(c, what, send(fd, buf, len, flags | MSG_NOSIGNAL));
		return;
	}
	s = op(c, what, IORING_OP_SEND, fd);
	s->addr = (uintptr_t)buf;
	s->len = (unsigned)len;
	s->msg_flags = (unsigned)(flags | MSG_NOSIGNAL);
	if (link)
		s->flags |= IOSQE_IO_LINK;
}

static void
op_accept(void)
{
	struct io_uring_sqe *s = op(NULL, OP_ACCEPT, IORING_OP_ACCEPT, lfd);

	s->ioprio = IORING_ACCEPT_MULTISHOT;
	s->accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
}

static void
uring_finish(struct conn *c)
{
	op(NULL, OP_CLOSE, IORING_OP_CLOSE, c->cfd);
	if (c->bfd >= 0)
		op(NULL, OP_CLOSE, IORING_OP_CLOSE, c->bfd);
	if (timers != NULL)
		ev_timer_stop(timers, &c->timer);
	c->dead = 1;
	if (c->inflight == 0)
		free(c);
}

static void
uring_accepted(int fd)
{
	struct conn *c = conn_new(fd);

	if (timers != NULL) {
		ev_timer_init(&c->timer, timer_cb, 10., 0.);
		ev_timer_start(timers, &c->timer);
	}
	op_recv(c, OP_CRECV, fd, c->req, BUF, 0);
}

/* The relay, once the request went to the backend: read the answer and
 * the client's end. */
static void
uring_relay(struct conn *c)
{
	op_recv(c, OP_BRECV, c->bfd, c->ans, BUF, 0);
	op_recv(c, OP_CRECV, c->cfd, c->req, BUF, 0);
}

static void
uring_backend_eof(struct conn *c)
{
	struct io_uring_sqe *s;

	if (pollmode) {
		sync_done(c, OP_SHUT, shutdown(c->cfd, SHUT_WR));
		return;
	}
	s = op(c, OP_SHUT, IORING_OP_SHUTDOWN, c->cfd);

	s->len = SHUT_WR;
}

/* LOOP_MODEL=libev: libev does not say which descriptor is its epoll
 * set; it is the epoll descriptor whose fdinfo lists the listener
 * (registered by then). */
static int libev_epoll_fd = -1;

static int
find_libev_epoll(void)
{
	char path[64], link[64], line[256];

	for (int fd = 0; fd < 1024; fd++) {
		ssize_t n;
		FILE *f;
		int found = 0, t;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = 0;
		if (strcmp(link, "anon_inode:[eventpoll]") != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
		f = fopen(path, "r");
		while (f != NULL && fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "tfd: %d", &t) == 1 && t == lfd)
				found = 1;
		if (f != NULL)
			fclose(f);
		if (found)
			return fd;
	}
	return -1;
}

static void
op_libev_poll(void)
{
	struct io_uring_sqe *s = op(NULL, OP_LIBEV, IORING_OP_POLL_ADD,
				    libev_epoll_fd);

	s->poll32_events = 1; /* POLLIN */
	s->len = IORING_POLL_ADD_MULTI;
}

static void
libev_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	int fd;

	(void)loop;
	(void)w;
	(void)revents;
	while ((fd = accept4(lfd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
		uring_accepted(fd);
}

static void
completion(uint64_t data, int res, unsigned flags)
{
	struct conn *c = (struct conn *)(uintptr_t)(data & ~(uint64_t)15);
	struct io_uring_sqe *s;

	if (c != NULL && --c->inflight == 0 && c->dead) {
		free(c);
		return;
	}
	if (c != NULL && c->dead)
		return;
	switch ((enum op)(data & 15)) {
	case OP_LIBEV:
		libev_ready = 1;
		if (!(flags & IORING_CQE_F_MORE))
			op_libev_poll();
		return;
	case OP_POLLC:
	case OP_POLLB: {
		int i = (data & 15) == OP_POLLB;
		int fd = i ? c->bfd : c->cfd;

		sync_done(c, c->pend[i].what,
			  recv(fd, c->pend[i].buf, c->pend[i].len, 0));
		return;
	}
	case OP_ACCEPT:
		if (!(flags & IORING_CQE_F_MORE))
			op_accept();
		if (res >= 0)
			uring_accepted(res);
		return;
	case OP_CRECV:
		if (!c->relaying) {
			if (res <= 0) {
				uring_finish(c);
				return;
			}
			c->reqlen = res;
			c->relaying = 1;
			if (timers != NULL) {
				ev_timer_stop(timers, &c->timer);
				ev_timer_set(&c->timer, 300., 0.);
				ev_timer_start(timers, &c->timer);
			}
			if (pollmode) {
				int fd = socket(AF_INET, SOCK_STREAM |
						SOCK_NONBLOCK | SOCK_CLOEXEC,
						0);
				sync_done(c, OP_SOCKET, fd);
				return;
			}
			s = op(c, OP_SOCKET, IORING_OP_SOCKET, AF_INET);
			s->off = SOCK_STREAM;
			return;
		}
		if (res <= 0) {
			c->ceof = 1;
			if (c->shut)
				uring_finish(c);
			return;
		}
		/* More from the client: not in this workload. */
		op_send(c, OP_BSEND, c->bfd, c->req, res, 0, 0);
		return;
	case OP_SOCKET:
		if (res < 0) {
			uring_finish(c);
			return;
		}
		c->bfd = res;
		if (pollmode) {
			(void)connect(c->bfd, (struct sockaddr *)&backend,
				      sizeof(backend));
			op_send(c, OP_BSEND, c->bfd, c->req, c->reqlen, 0, 0);
			uring_relay(c);
			return;
		}
		s = op(c, OP_CONNECT, IORING_OP_CONNECT, c->bfd);
		s->addr = (uintptr_t)&backend;
		s->off = sizeof(backend);
		s->flags = IOSQE_IO_LINK;
		op_send(c, OP_BSEND, c->bfd, c->req, c->reqlen, 0, 1);
		uring_relay(c);
		return;
	case OP_BRECV:
		if (res <= 0) {
			uring_backend_eof(c);
			return;
		}
		c->anslen = res;
		if (!c->peeked) { /* the FIN right behind the first answer? */
			c->peeked = 1;
			op_recv(c, OP_PEEK, c->bfd, c->ans + res, BUF - res,
				MSG_DONTWAIT);
			return;
		}
		op_send(c, OP_CSEND, c->cfd, c->ans, res, 0, 0);
		op_recv(c, OP_BRECV, c->bfd, c->ans, BUF, 0);
		return;
	case OP_PEEK:
		if (res == 0) { /* answer and FIN in one segment */
			op_send(c, OP_CSEND, c->cfd, c->ans, c->anslen,
				MSG_MORE, 1);
			uring_backend_eof(c);
			return;
		}
		if (res > 0)
			c->anslen += res;
		op_send(c, OP_CSEND, c->cfd, c->ans, c->anslen, 0, 0);
		op_recv(c, OP_BRECV, c->bfd, c->ans, BUF, 0);
		return;
	case OP_SHUT:
		c->shut = 1;
		if (c->ceof)
			uring_finish(c);
		return;
	default:
		return;
	}
}

/* Submit what is queued, wait for min completions (at most timeout_ms
 * when >= 0), handle every completion there is; how many. */
static unsigned
ring_turn(unsigned min, int timeout_ms)
{
	struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
	struct io_uring_getevents_arg arg;
	unsigned n = R.queued, head, tail;
	unsigned flags = IORING_ENTER_GETEVENTS;

	atomic_store_explicit((_Atomic unsigned *)R.sq_tail, R.tail,
			      memory_order_release);
	R.queued = 0;
	memset(&arg, 0, sizeof(arg));
	if (timeout_ms >= 0) {
		arg.ts = (uintptr_t)&ts;
		flags |= IORING_ENTER_EXT_ARG;
	}
	if (syscall(__NR_io_uring_enter, R.fd, n, min, flags,
		    timeout_ms >= 0 ? (void *)&arg : NULL,
		    timeout_ms >= 0 ? sizeof(arg) : 0) < 0 &&
	    errno != EINTR && errno != ETIME && errno != EBUSY) {
		perror("io_uring_enter");
		exit(1);
	}
	head = *R.cq_head;
	tail = atomic_load_explicit((_Atomic unsigned *)R.cq_tail,
				    memory_order_acquire);
	n = tail - head;
	for (; head != tail; head++) {
		struct io_uring_cqe *e = &R.cqes[head & *R.cq_mask];

		completion(e->user_data, e->res, e->flags);
	}
	atomic_store_explicit((_Atomic unsigned *)R.cq_head, head,
			      memory_order_release);
	return n;
}

static void
run_uring(void)
{
	static ev_io listener;

	ring_setup();
	if (libev_fds) {
		ev_io_init(&listener, libev_accept_cb, lfd, EV_READ);
		ev_io_start(timers, &listener);
		ev_run(timers, EVRUN_NOWAIT);
		libev_epoll_fd = find_libev_epoll();
		if (libev_epoll_fd < 0) {
			fprintf(stderr, "libev's epoll descriptor not found\n");
			exit(1);
		}
		op_libev_poll();
	} else {
		op_accept();
	}
	for (;;) {
		if (timers != NULL && (!libev_fds || libev_ready)) {
			libev_ready = 0;
			ev_run(timers, EVRUN_NOWAIT);
		}
		if (ring_turn(1, timers != NULL ? 1000 : -1) == 0)
			libev_ready = 1; /* the wait timed out: timers */
	}
}

/* LOOP_MODEL=evring: libev waits (ev_run, blocking: its timers exact);
 * the connections' operations go on the ring, which wakes libev through
 * its descriptor (EVRING_EFD unset) or a registered eventfd. */
static int evring_efd = -1;

static void
evring_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	uint64_t v;

	(void)loop;
	(void)w;
	(void)revents;
	if (evring_efd >= 0)
		(void)!read(evring_efd, &v, sizeof(v));
	ring_turn(0, -1);
}

static void
evring_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	while (R.queued)
		ring_turn(0, -1);
}

static void
run_evring(void)
{
	static ev_io ringw, listener;
	static ev_prepare prep;

	ring_setup();
	if (getenv("EVRING_EFD")) {
		evring_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (syscall(__NR_io_uring_register, R.fd,
			    IORING_REGISTER_EVENTFD, &evring_efd, 1) < 0) {
			perror("IORING_REGISTER_EVENTFD");
			exit(1);
		}
	}
	ev_io_init(&ringw, evring_cb, evring_efd >= 0 ? evring_efd : R.fd,
		   EV_READ);
	ev_io_start(timers, &ringw);
	ev_prepare_init(&prep, evring_prepare_cb);
	ev_prepare_start(timers, &prep);
	if (getenv("EVRING_ACCEPT")) {
		ev_io_init(&listener, libev_accept_cb, lfd, EV_READ);
		ev_io_start(timers, &listener);
	} else {
		op_accept();
	}
	ev_run(timers, 0);
	exit(1);
}

/* ---------------- epoll (and hybrid) ---------------- */
static int ep;
static int hybrid;
#define EV_RING ((void *)2) /* the eventfd io_uring signals (hybrid) */

static void
epoll_finish(struct conn *c)
{
	close(c->cfd);
	if (c->bfd >= 0)
		close(c->bfd);
	free(c);
}

static void
epoll_add(int fd, void *data, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = data};

	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

/* One direction ended (the client's EOF, or the backend's passed on):
 * finish when both have, else stop watching fd. */
static void
epoll_ended(struct conn *c, int fd)
{
	if (c->ceof && c->shut)
		epoll_finish(c);
	else
		epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
}

static void
epoll_client(struct conn *c)
{
	ssize_t r = recv(c->cfd, c->req, BUF, 0);

	if (r < 0 && errno == EAGAIN)
		return;
	if (!c->relaying) {
		if (r <= 0) {
			epoll_finish(c);
			return;
		}
		c->relaying = 1;
		c->bfd = socket(AF_INET,
				SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		connect(c->bfd, (struct sockaddr *)&backend, sizeof(backend));
		send(c->bfd, c->req, (size_t)r, MSG_NOSIGNAL);
		if (hybrid) {
			epoll_ctl(ep, EPOLL_CTL_DEL, c->cfd, NULL);
			uring_relay(c);
			return;
		}
		epoll_add(c->bfd, (void *)((uintptr_t)c | 1), EPOLLIN);
		return;
	}
	if (r > 0) {
		send(c->bfd, c->req, (size_t)r, MSG_NOSIGNAL);
		return;
	}
	c->ceof = 1;
	epoll_ended(c, c->cfd);
}

static void
epoll_backend(struct conn *c)
{
	ssize_t r = recv(c->bfd, c->ans, BUF, 0), more = 1;

	if (r < 0 && errno == EAGAIN)
		return;
	if (r > 0) {
		if (!c->peeked) {
			c->peeked = 1;
			more = recv(c->bfd, c->ans + r, BUF - (size_t)r, 0);
			if (more > 0)
				r += more;
		}
		send(c->cfd, c->ans, (size_t)r,
		     MSG_NOSIGNAL | (more == 0 ? MSG_MORE : 0));
		if (more != 0)
			return;
	}
	shutdown(c->cfd, SHUT_WR);
	c->shut = 1;
	epoll_ended(c, c->bfd);
}

static void
run_epoll(void)
{
	struct epoll_event evs[64];

	ep = epoll_create1(EPOLL_CLOEXEC);
	epoll_add(lfd, NULL, EPOLLIN);
	if (hybrid) {
		int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

		ring_setup();
		if (syscall(__NR_io_uring_register, R.fd,
			    IORING_REGISTER_EVENTFD, &efd, 1) < 0) {
			perror("IORING_REGISTER_EVENTFD");
			exit(1);
		}
		epoll_add(efd, EV_RING, EPOLLIN | EPOLLET);
	}
	for (;;) {
		int n;

		if (hybrid) /* submit, and take what completed */
			do
				ring_turn(0, -1);
			while (R.queued);
		n = epoll_wait(ep, evs, 64, -1);
		for (int i = 0; i < n; i++) {
			uintptr_t u = (uintptr_t)evs[i].data.ptr;
			struct conn *c = (struct conn *)(u & ~(uintptr_t)1);
			int fd;

			if (evs[i].data.ptr == EV_RING)
				continue;
			if (c == NULL) {
				while ((fd = accept4(lfd, NULL, NULL,
						     SOCK_NONBLOCK |
							     SOCK_CLOEXEC)) >= 0)
					epoll_add(fd, conn_new(fd), EPOLLIN);
				continue;
			}
			if (u & 1)
				epoll_backend(c);
			else
				epoll_client(c);
		}
	}
}

int
main(int argc, char **argv)
{
	const char *cfg = NULL, *model = getenv("LOOP_MODEL");
	int port = 0, bport = 0, one = 1;
	char line[512];
	FILE *f;
	struct sockaddr_in a = {.sin_family = AF_INET};

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-t") == 0)
			return 0;
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			cfg = argv[++i];
	}
	f = cfg != NULL ? fopen(cfg, "r") : NULL;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		char *p = strstr(line, "fallback: {port:");

		if (p != NULL)
			bport = atoi(p + strlen("fallback: {port:"));
		else if (port == 0)
			sscanf(line, " port: %d", &port);
	}
	if (f != NULL)
		fclose(f);
	if (port == 0 || bport == 0) {
		fprintf(stderr, "usage: loopmodels -c FILE (port: N and "
				"fallback: {port: M)\n");
		return 2;
	}
	backend.sin_family = AF_INET;
	backend.sin_port = htons((uint16_t)bport);
	backend.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(lfd, 4096) < 0) {
		perror("listen");
		return 1;
	}
	if (model == NULL || strcmp(model, "uring") == 0) {
		run_uring();
	} else if (strcmp(model, "timers") == 0) {
		timers = ev_loop_new(EVBACKEND_EPOLL);
		run_uring();
	} else if (strcmp(model, "libev") == 0) {
		timers = ev_loop_new(EVBACKEND_EPOLL);
		libev_fds = 1;
		run_uring();
	} else if (strncmp(model, "evring", 6) == 0) {
		if (strstr(model, "efd"))
			setenv("EVRING_EFD", "1", 1);
		if (strstr(model, "coop")) /* SINGLE_ISSUER | COOP_TASKRUN */
			setenv("RING_FLAGS", "0x1100", 1);
		if (strstr(model, "poll"))
			pollmode = 1;
		if (strstr(model, "acc"))
			setenv("EVRING_ACCEPT", "1", 1);
		timers = ev_loop_new(EVBACKEND_EPOLL);
		run_evring();
	} else if (strcmp(model, "epoll") == 0) {
		run_epoll();
	} else if (strcmp(model, "hybrid") == 0) {
		hybrid = 1;
		run_epoll();
	}
	fprintf(stderr, "LOOP_MODEL: epoll, uring, timers, libev, hybrid "
			"or evring[-coop][-efd][-poll][-acc]\n");
	return 2;
}
