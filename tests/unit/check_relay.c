/* check_relay.c — the relay (conn_relay.c, relay.c) on real sockets and a
 * real libev loop: probe bytes replayed first, backpressure, half-close
 * both ways, zero-copy through pipes (and its fallback to copying), errors;
 * the timeouts of relayed connections (idle lists, conn.c) and the options
 * of backend sockets.
 *
 * Each test makes one connection with conn_accept() on one end of a
 * socket pair, gives it the end of another pair as its backend socket and
 * calls relay_start(); the test plays the client and the backend on the
 * far ends while it turns the loop with EVRUN_NOWAIT. Every wait is
 * bounded in time (DRIVE_UNTIL), so a relay that stalls fails the test
 * rather than hanging it. */
#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn_internal.h"
#include "log.h"
#include "testutil.h"

/* Seconds any one wait may take before the test fails. */
#define WAIT_MAX 20.0

/* ---- splice() with an injected EINVAL ----
 *
 * relay.c copies instead when splice() from a socket into a pipe says
 * EINVAL (a socket whose protocol cannot splice). No socket says so on
 * the kernels this runs on: since Linux 6.5 sock_splice_read() falls back
 * to copy_splice_read() for every protocol without a splice_read of its
 * own (AF_UNIX stream, datagram and seqpacket, UDP, TCP, MPTCP and vsock
 * all splice). So the test binary provides splice() itself (the core is
 * linked in statically and calls this one), answering EINVAL for reads
 * from one chosen descriptor and passing everything else to libc. */
static int splice_einval_fd = -1;
static unsigned long splice_einval_count;

ssize_t
splice(int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len,
       unsigned int flags)
{
	static ssize_t (*real)(int, loff_t *, int, loff_t *, size_t,
			       unsigned int);

	if (fd_in >= 0 && fd_in == splice_einval_fd) {
		splice_einval_count++;
		errno = EINVAL;
		return -1;
	}
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "splice");
	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return real(fd_in, off_in, fd_out, off_out, len, flags);
}

/* ---- close_range() counted ----
 *
 * The same way, the test binary counts the close_range() calls of the
 * close batch (close_batch.c) and passes them on. */
static unsigned long close_range_calls;

int
close_range(unsigned int first, unsigned int last, int flags)
{
	static int (*real)(unsigned int, unsigned int, int);

	close_range_calls++;
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "close_range");
	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return real(first, last, flags);
}

/* ---- fixture ---- */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A reproducible pseudo-random pattern (xorshift). */
static uint8_t *
pattern(size_t len, uint32_t seed)
{
	uint8_t *p = malloc(len ? len : 1);
	uint32_t x = seed ? seed : 1;

	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
	return p;
}

#define FNV_START 1469598103934665603ull

static uint64_t
fnv1a(uint64_t h, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

enum pair_kind { PAIR_UNIX, PAIR_TCP };

static void
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	ck_assert_int_ge(fl, 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

static void
set_bufs(int fd, int size)
{
	if (size <= 0)
		return;
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size,
				    sizeof(size)), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size,
				    sizeof(size)), 0);
}

/* A connected pair, both non-blocking: fds[0] for the relay, fds[1] the
 * test's far end. TCP pairs are on loopback; `bufsz` > 0 shrinks both
 * ends' buffers (set before the handshake, so the window follows). */
static void
make_pair(enum pair_kind kind, int bufsz, int fds[2])
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int ls;

	if (kind == PAIR_UNIX) {
		ck_assert_int_eq(socketpair(AF_UNIX,
					    SOCK_STREAM | SOCK_NONBLOCK |
						    SOCK_CLOEXEC,
					    0, fds),
				 0);
		set_bufs(fds[0], bufsz);
		set_bufs(fds[1], bufsz);
		return;
	}
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(ls, 0);
	set_bufs(ls, bufsz); /* inherited by the accepted socket */
	ck_assert_int_eq(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(ls, 1), 0);
	ck_assert_int_eq(getsockname(ls, (struct sockaddr *)&a, &alen), 0);
	fds[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fds[1], 0);
	set_bufs(fds[1], bufsz);
	ck_assert_int_eq(connect(fds[1], (struct sockaddr *)&a, sizeof(a)),
			 0);
	fds[0] = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	ck_assert_int_ge(fds[0], 0);
	close(ls);
	set_nonblock(fds[1]);
}

/* Open descriptors of the process. */
static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

struct rt {
	int fds_before;  /* count_fds() before rt_open */
	struct generation *g;
	struct ev_loop *loop;
	struct loop_ctx lc;
	struct addr bound;
	struct backend be;
	struct conn *c;  /* NULL once closed */
	int cfar, sfar;  /* the test's ends: the client, the backend */
	int relay_cfd;   /* the relay's client socket (closed by it) */
	int closed;      /* on_conn_closed calls */
	size_t probe_len; /* probe bytes handed to the relay */
};

static char be_text[] = "test";

static void
on_closed(struct loop_ctx *lc)
{
	struct rt *t = (struct rt *)(void *)((char *)lc -
					    offsetof(struct rt, lc));

	struct conn *c;

	t->closed++;
	/* Is the test's connection the one that went? (Tests of the idle
	 * timeouts have more than one.) */
	TAILQ_FOREACH(c, &lc->conns, link)
		if (c == t->c)
			return;
	t->c = NULL;
}

/* The PORTMUX section of the next rt_open (then back to the default). */
static const char *rt_yaml;

/* A connection (not started) between two pairs of `kind`, with socket
 * buffers of `client_buf` and `server_buf` bytes (0: the defaults), and
 * `probe` bytes to replay (NULL: none). */
static void
rt_open(struct rt *t, enum pair_kind kind, enum priority prio,
	int client_buf, int server_buf, const void *probe, size_t probe_len)
{
	struct sockaddr_in peer = {.sin_family = AF_INET,
				   .sin_port = htons(40000)};
	char err[1024];
	int cp[2], sp[2];

	memset(t, 0, sizeof(*t));
	t->fds_before = count_fds();
	log_set_level(LOG_WARN);
	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t->g = tu_generation(rt_yaml ? rt_yaml : "PORTMUX:\n  port: 1\n", err,
			     sizeof(err));
	rt_yaml = NULL;
	ck_assert_msg(t->g != NULL, "%s", err);
	t->loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(t->loop);
	ck_assert_int_eq(loop_ctx_init(&t->lc, t->loop, t->g), 0);
	t->lc.on_conn_closed = on_closed;
	make_pair(kind, client_buf, cp);
	make_pair(kind, server_buf, sp);
	t->relay_cfd = cp[0];
	t->cfar = cp[1];
	t->sfar = sp[1];
	t->be.text = be_text;
	t->be.priority = prio;
	t->be.proxy_protocol = 0;
	t->c = conn_accept(&t->lc, &t->bound, cp[0], (struct sockaddr *)&peer,
			   sizeof(peer));
	ck_assert_ptr_nonnull(t->c);
	ck_assert_int_eq(t->lc.nconns, 1);
	t->c->server.fd = sp[0];
	t->c->backend = &t->be;
	if (probe != NULL) {
		t->c->probe = pbuf_new((uint32_t)probe_len);
		ck_assert_ptr_nonnull(t->c->probe);
		memcpy(t->c->probe->data, probe, probe_len);
		t->c->probe->len = (uint32_t)probe_len;
		t->probe_len = probe_len;
	}
}

static void
rt_start(struct rt *t)
{
	relay_start(t->c);
	ck_assert_ptr_nonnull(t->c);
	ck_assert_int_eq(t->c->state, CONN_RELAY);
	ck_assert_int_eq(t->c->zerocopy, t->be.priority != PRIO_LATENCY);
}

static void
rt_close(struct rt *t)
{
	conn_close_all(&t->lc, "test");
	ck_assert_int_eq(t->lc.nconns, 0);
	ck_assert_ptr_null(t->c);
	loop_ctx_fini(&t->lc);
	ev_loop_destroy(t->loop);
	generation_unref(t->g);
	if (t->cfar >= 0)
		close(t->cfar);
	if (t->sfar >= 0)
		close(t->sfar);
	/* Every socket and pipe of the relay was closed. */
	ck_assert_int_eq(count_fds(), t->fds_before);
}

static size_t
held(const struct side *s)
{
	return s->out ? s->out->len - s->out->off : 0;
}

/* What must hold after every turn of the loop. */
static void
check_invariants(const struct rt *t)
{
	const struct conn *c = t->c;
	const struct side *s[2];

	if (c == NULL)
		return;
	s[0] = &c->client;
	s[1] = &c->server;
	for (int i = 0; i < 2; i++) {
		const struct side *self = s[i], *other = s[1 - i];

		/* Backpressure: no reading while the other side has bytes
		 * it did not take. */
		if (side_pending(other))
			ck_assert_msg(!(self->events & EV_READ),
				      "%s armed for reading while %zu+%u "
				      "bytes wait for the other side",
				      i ? "server" : "client", held(other),
				      other->pipe_bytes);
		if (side_pending(self))
			ck_assert_msg(self->events & EV_WRITE,
				      "bytes wait for the %s, not armed for "
				      "writing", i ? "server" : "client");
		else
			ck_assert(!(self->events & EV_WRITE));
		/* Copy mode keeps at most one short write of one read
		 * (the probe bytes excepted). */
		ck_assert_uint_le(held(self), t->probe_len > LOOP_SCRATCH_SIZE
						      ? t->probe_len
						      : LOOP_SCRATCH_SIZE);
		ck_assert_uint_le(self->pipe_bytes, PIPE_SIZE);
		ck_assert(self->out == NULL || self->pipe_bytes == 0);
		if (self->pipe_bytes > 0)
			ck_assert_int_ge(self->pipe[0], 0);
		if (!c->zerocopy) {
			ck_assert_int_eq(self->bulk, 0);
			ck_assert_int_eq(self->pipe[0], -1);
		}
	}
}

/* Turn the loop (without waiting) and do `body` until `cond`, at most
 * WAIT_MAX seconds. */
#define DRIVE_UNTIL(t, cond, body) \
	do { \
		double dl_ = now_s() + WAIT_MAX; \
		while (!(cond)) { \
			ck_assert_msg(now_s() < dl_, \
				      "timed out waiting for: %s", #cond); \
			body; \
			ev_run((t)->loop, EVRUN_NOWAIT); \
			check_invariants(t); \
		} \
	} while (0)

/* One more turn of the loop: a closed connection's sockets are closed
 * when the loop is about to poll again (close_batch.h). */
static void
rt_turn(struct rt *t)
{
	ev_run(t->loop, EVRUN_NOWAIT);
}

/* The test's side of one direction: `w` sends data[0..len) on wfd, `r`
 * reads from rfd and compares with exp[0..len). */
struct writer {
	int fd;
	const uint8_t *data;
	size_t len, sent;
	int shut_when_done; /* shutdown(SHUT_WR) once everything is sent */
	int shut;
};

struct reader {
	int fd;
	const uint8_t *exp;
	size_t len, got;
	uint64_t sum; /* FNV-1a of what was read (0: nothing yet) */
	int paused;
	int eof;
};

#define IO_CHUNK (256 * 1024)

static void
writer_step(struct writer *w)
{
	while (w->sent < w->len) {
		size_t n = w->len - w->sent;
		ssize_t k = send(w->fd, w->data + w->sent,
				 n < IO_CHUNK ? n : IO_CHUNK, MSG_NOSIGNAL);

		if (k < 0) {
			ck_assert_msg(errno == EAGAIN || errno == EINTR,
				      "send: %s", strerror(errno));
			break;
		}
		w->sent += (size_t)k;
	}
	if (w->sent == w->len && w->shut_when_done && !w->shut) {
		ck_assert_int_eq(shutdown(w->fd, SHUT_WR), 0);
		w->shut = 1;
	}
}

static void
reader_step(struct reader *r)
{
	static uint8_t buf[IO_CHUNK];

	while (!r->paused && !r->eof) {
		ssize_t k = recv(r->fd, buf, sizeof(buf), 0);

		if (k == 0) {
			r->eof = 1;
			break;
		}
		if (k < 0) {
			ck_assert_msg(errno == EAGAIN || errno == EINTR,
				      "recv: %s", strerror(errno));
			break;
		}
		ck_assert_msg(r->got + (size_t)k <= r->len,
			      "%zu bytes more than the %zu expected",
			      r->got + (size_t)k - r->len, r->len);
		ck_assert_msg(memcmp(buf, r->exp + r->got, (size_t)k) == 0,
			      "bytes differ in [%zu, %zu)", r->got,
			      r->got + (size_t)k);
		r->sum = fnv1a(r->got ? r->sum : FNV_START, buf, (size_t)k);
		r->got += (size_t)k;
	}
}

/* ---- tests ---- */

/* The probe bytes (more than the backend socket takes at once) go to the
 * server first; client bytes are not even read until they are delivered;
 * then client bytes follow in order, and server bytes reach the client. */
START_TEST(test_relay__probe_bytes_first)
{
	const size_t plen = 512 * 1024, clen = 700 * 1024, slen = 300 * 1024;
	uint8_t *probe = pattern(plen, 1), *cdata = pattern(clen, 2);
	uint8_t *sdata = pattern(slen, 3), *exp = malloc(plen + clen);
	struct writer cw = {0}, sw = {0};
	struct reader sr = {0}, cr = {0};
	struct rt t;

	ck_assert_ptr_nonnull(exp);
	memcpy(exp, probe, plen);
	memcpy(exp + plen, cdata, clen);
	rt_open(&t, PAIR_UNIX, PRIO_LATENCY, 0, 0, probe, plen);
	cw = (struct writer){.fd = t.cfar, .data = cdata, .len = clen};
	sr = (struct reader){.fd = t.sfar, .exp = exp, .len = plen + clen};
	sw = (struct writer){.fd = t.sfar, .data = sdata, .len = slen};
	cr = (struct reader){.fd = t.cfar, .exp = sdata, .len = slen};
	/* The client has sent more already. */
	writer_step(&cw);
	ck_assert_uint_gt(cw.sent, 0);
	rt_start(&t);
	ck_assert_ptr_null(t.c->probe);
	/* The backend socket could not take 512 KiB at once: the rest waits
	 * and the client is not read meanwhile. */
	ck_assert(side_pending(&t.c->server));
	ck_assert_uint_gt(held(&t.c->server), 0);
	ck_assert(!(t.c->client.events & EV_READ));
	ck_assert(t.c->server.events & EV_WRITE);
	for (int i = 0; i < 50; i++) {
		ev_run(t.loop, EVRUN_NOWAIT);
		check_invariants(&t);
	}
	ck_assert_uint_eq(t.c->client.bytes, 0);

	DRIVE_UNTIL(&t, sr.got == sr.len && cr.got == cr.len, {
		writer_step(&cw);
		writer_step(&sw);
		reader_step(&sr);
		reader_step(&cr);
	});
	ck_assert_uint_eq(t.c->client.bytes, clen);
	ck_assert_uint_eq(t.c->server.bytes, slen);
	ck_assert(!side_pending(&t.c->client));
	ck_assert(!side_pending(&t.c->server));
	ck_assert_int_eq(t.c->client.events & (EV_READ | EV_WRITE), EV_READ);
	ck_assert_int_eq(t.c->server.events & (EV_READ | EV_WRITE), EV_READ);
	ck_assert_int_eq(t.closed, 0);
	rt_close(&t);
	ck_assert_int_eq(t.closed, 1);
	free(probe);
	free(cdata);
	free(sdata);
	free(exp);
}
END_TEST

/* Copy mode: receivers that do not read. The relay stops reading each
 * source while the other side has bytes pending, holds no more than one
 * read's worth, and everything (8 MiB each way) arrives intact later. */
START_TEST(test_relay__backpressure_copy)
{
	const size_t len = 8u << 20;
	uint8_t *up = pattern(len, 11), *down = pattern(len, 12);
	struct writer cw = {0}, sw = {0};
	struct reader sr = {0}, cr = {0};
	uint64_t cbytes = 0, sbytes = 0;
	int still = 0;
	struct rt t;

	rt_open(&t, PAIR_UNIX, PRIO_LATENCY, 0, 0, NULL, 0);
	rt_start(&t);
	cw = (struct writer){.fd = t.cfar, .data = up, .len = len};
	sr = (struct reader){.fd = t.sfar, .exp = up, .len = len,
			     .paused = 1};
	sw = (struct writer){.fd = t.sfar, .data = down, .len = len};
	cr = (struct reader){.fd = t.cfar, .exp = down, .len = len,
			     .paused = 1};
	/* Until nothing moves any more for 100 turns. */
	DRIVE_UNTIL(&t, still >= 100, {
		writer_step(&cw);
		writer_step(&sw);
		if (t.c->client.bytes == cbytes &&
		    t.c->server.bytes == sbytes) {
			still++;
		} else {
			still = 0;
			cbytes = t.c->client.bytes;
			sbytes = t.c->server.bytes;
		}
	});
	/* Stuck both ways: sources not read, the rest in the kernel. */
	ck_assert_uint_lt(cw.sent, len);
	ck_assert_uint_lt(sw.sent, len);
	ck_assert_uint_lt(t.c->client.bytes, len);
	ck_assert_uint_le(t.c->client.bytes, cw.sent);
	ck_assert(side_pending(&t.c->server));
	ck_assert(side_pending(&t.c->client));
	ck_assert(!(t.c->client.events & EV_READ));
	ck_assert(!(t.c->server.events & EV_READ));
	ck_assert_int_eq(t.c->client.events, EV_WRITE);
	ck_assert_int_eq(t.c->server.events, EV_WRITE);
	ck_assert_uint_le(held(&t.c->server), LOOP_SCRATCH_SIZE);
	ck_assert_uint_le(held(&t.c->client), LOOP_SCRATCH_SIZE);
	ck_assert_int_eq(t.c->server.pipe[0], -1);
	ck_assert_uint_eq(t.lc.pipes.n, 0);

	sr.paused = cr.paused = 0;
	DRIVE_UNTIL(&t, sr.got == len && cr.got == len, {
		writer_step(&cw);
		writer_step(&sw);
		reader_step(&sr);
		reader_step(&cr);
	});
	ck_assert_uint_eq(t.c->client.bytes, len);
	ck_assert_uint_eq(t.c->server.bytes, len);
	ck_assert(sr.sum == fnv1a(FNV_START, up, len));
	ck_assert(cr.sum == fnv1a(FNV_START, down, len));
	ck_assert(sr.sum != cr.sum);
	ck_assert(!side_pending(&t.c->client) && !side_pending(&t.c->server));
	ck_assert_int_eq(t.closed, 0);
	rt_close(&t);
	free(up);
	free(down);
}
END_TEST

/* The client finishes first: once its bytes are delivered the backend
 * sees EOF while the backend's bytes still flow; when the backend
 * finishes too the connection closes and both far ends see it. */
START_TEST(test_relay__half_close_client_first)
{
	const size_t slen = 1u << 20;
	uint8_t *sdata = pattern(slen, 21), buf[64];
	const uint8_t bye[] = "last words";
	struct writer cw = {0}, sw = {0};
	struct reader sr = {0}, cr = {0};
	struct rt t;

	rt_open(&t, PAIR_UNIX, PRIO_LATENCY, 0, 0, NULL, 0);
	rt_start(&t);
	cw = (struct writer){.fd = t.cfar, .data = bye, .len = sizeof(bye),
			     .shut_when_done = 1};
	sr = (struct reader){.fd = t.sfar, .exp = bye, .len = sizeof(bye)};
	sw = (struct writer){.fd = t.sfar, .data = sdata, .len = slen};
	cr = (struct reader){.fd = t.cfar, .exp = sdata, .len = slen};
	DRIVE_UNTIL(&t, sr.eof, {
		writer_step(&cw);
		reader_step(&sr);
	});
	ck_assert_uint_eq(sr.got, sizeof(bye));
	ck_assert_ptr_nonnull(t.c);
	ck_assert(t.c->client.eof && t.c->server.shut);
	ck_assert(!t.c->server.eof && !t.c->client.shut);
	ck_assert(!(t.c->client.events & EV_READ));
	ck_assert(t.c->server.events & EV_READ);
	ck_assert_int_eq(t.lc.nconns, 1);

	/* The other direction is still open. */
	DRIVE_UNTIL(&t, cr.got == slen, {
		writer_step(&sw);
		reader_step(&cr);
	});
	ck_assert(!cr.eof);
	ck_assert_int_eq(t.closed, 0);

	ck_assert_int_eq(shutdown(t.sfar, SHUT_WR), 0);
	DRIVE_UNTIL(&t, t.closed == 1, {});
	ck_assert_int_eq(t.lc.nconns, 0);
	ck_assert_ptr_null(t.c);
	/* The client sees EOF after the last bytes; the backend's socket is
	 * gone (its peer was closed: EPIPE). */
	DRIVE_UNTIL(&t, cr.eof, reader_step(&cr));
	ck_assert_int_eq(send(t.sfar, "x", 1, MSG_NOSIGNAL), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_int_eq(recv(t.sfar, buf, sizeof(buf), MSG_DONTWAIT), 0);
	rt_close(&t);
	ck_assert_int_eq(t.closed, 1);
	free(sdata);
}
END_TEST

/* The same the other way round, over TCP: the backend finishes first. */
START_TEST(test_relay__half_close_server_first)
{
	const size_t clen = 1u << 20;
	uint8_t *cdata = pattern(clen, 31);
	const uint8_t bye[] = "HTTP/1.0 200 OK\r\n\r\nbody";
	struct writer cw = {0}, sw = {0};
	struct reader sr = {0}, cr = {0};
	struct rt t;

	rt_open(&t, PAIR_TCP, PRIO_LATENCY, 0, 0, NULL, 0);
	rt_start(&t);
	sw = (struct writer){.fd = t.sfar, .data = bye, .len = sizeof(bye),
			     .shut_when_done = 1};
	cr = (struct reader){.fd = t.cfar, .exp = bye, .len = sizeof(bye)};
	cw = (struct writer){.fd = t.cfar, .data = cdata, .len = clen,
			     .shut_when_done = 1};
	sr = (struct reader){.fd = t.sfar, .exp = cdata, .len = clen};
	DRIVE_UNTIL(&t, cr.eof, {
		writer_step(&sw);
		reader_step(&cr);
	});
	ck_assert_uint_eq(cr.got, sizeof(bye));
	ck_assert_ptr_nonnull(t.c);
	ck_assert(t.c->server.eof && t.c->client.shut);
	ck_assert(!t.c->client.eof);

	DRIVE_UNTIL(&t, t.closed == 1, {
		writer_step(&cw);
		reader_step(&sr);
	});
	ck_assert_int_eq(t.lc.nconns, 0);
	DRIVE_UNTIL(&t, sr.eof, reader_step(&sr));
	ck_assert_uint_eq(sr.got, clen);
	rt_close(&t);
	free(cdata);
}
END_TEST

/* Zero-copy: a bulk upload over TCP switches to splice (a pipe from the
 * loop's pool), every byte arrives, and the pipe goes back afterwards. */
START_TEST(test_relay__zerocopy_bulk)
{
	const size_t len = 16u << 20;
	uint8_t *up = pattern(len, 41);
	struct writer cw = {0};
	struct reader sr = {0};
	int saw_bulk = 0;
	struct rt t;

	rt_open(&t, PAIR_TCP, PRIO_THROUGHPUT, 0, 0, NULL, 0);
	rt_start(&t);
	cw = (struct writer){.fd = t.cfar, .data = up, .len = len,
			     .shut_when_done = 1};
	sr = (struct reader){.fd = t.sfar, .exp = up, .len = len};
	DRIVE_UNTIL(&t, sr.eof, {
		writer_step(&cw);
		reader_step(&sr);
		if (t.c != NULL) {
			saw_bulk |= t.c->client.bulk;
			ck_assert_int_eq(t.c->client.pipe[0], -1);
		}
	});
	ck_assert_uint_eq(sr.got, len);
	ck_assert(sr.sum == fnv1a(FNV_START, up, len));
	ck_assert_msg(saw_bulk, "the upload never went bulk");
	ck_assert_ptr_nonnull(t.c);
	ck_assert_uint_eq(t.c->client.bytes, len);
	ck_assert_int_eq(t.c->server.pipe[0], -1);
	ck_assert_int_eq(t.c->server.pipe[1], -1);
	ck_assert_uint_eq(t.c->server.pipe_bytes, 0);
	/* The pool starts empty: the relay took a pipe and gave it back. */
	ck_assert_uint_eq(t.lc.pipes.n, 1);
	rt_close(&t);
	free(up);
}
END_TEST

/* PRIO_BOTH: bulk both ways at once, each direction with its own pipe. */
/* When the kernel will not make the pool a pipe of its size (an
 * unprivileged user past fs.pipe-user-pages-soft), bulk is copied: every
 * byte arrives, no pipe is held. */
START_TEST(test_relay__zerocopy_pipe_refused_copies)
{
	const size_t len = 8u << 20;
	uint8_t *up = pattern(len, 43);
	struct writer cw = {0};
	struct reader sr = {0};
	struct rt t;

	rt_open(&t, PAIR_TCP, PRIO_THROUGHPUT, 0, 0, NULL, 0);
	t.lc.pipes.size = 0x90000000u; /* refused (EINVAL) even to root */
	rt_start(&t);
	cw = (struct writer){.fd = t.cfar, .data = up, .len = len,
			     .shut_when_done = 1};
	sr = (struct reader){.fd = t.sfar, .exp = up, .len = len};
	DRIVE_UNTIL(&t, sr.eof, {
		writer_step(&cw);
		reader_step(&sr);
		if (t.c != NULL)
			ck_assert_int_eq(t.c->server.pipe[0], -1);
	});
	ck_assert_uint_eq(sr.got, len);
	ck_assert(sr.sum == fnv1a(FNV_START, up, len));
	ck_assert_ptr_nonnull(t.c);
	ck_assert_uint_eq(t.c->client.bytes, len);
	ck_assert_uint_eq(t.lc.pipes.n, 0);
	ck_assert_uint_gt(t.lc.pipes.refused, 0); /* it did try */
	rt_close(&t);
	free(up);
}
END_TEST

START_TEST(test_relay__zerocopy_both_ways)
{
	const size_t len = 8u << 20;
	uint8_t *up = pattern(len, 51), *down = pattern(len, 52);
	struct writer cw = {0}, sw = {0};
	struct reader sr = {0}, cr = {0};
	int bulk_up = 0, bulk_down = 0;
	struct rt t;

	rt_open(&t, PAIR_TCP, PRIO_BOTH, 0, 0, NULL, 0);
	rt_start(&t);
	cw = (struct writer){.fd = t.cfar, .data = up, .len = len};
	sr = (struct reader){.fd = t.sfar, .exp = up, .len = len};
	sw = (struct writer){.fd = t.sfar, .data = down, .len = len};
	cr = (struct reader){.fd = t.cfar, .exp = down, .len = len};
	DRIVE_UNTIL(&t, sr.got == len && cr.got == len, {
		writer_step(&cw);
		writer_step(&sw);
		reader_step(&sr);
		reader_step(&cr);
		bulk_up |= t.c->client.bulk;
		bulk_down |= t.c->server.bulk;
	});
	ck_assert(bulk_up && bulk_down);
	ck_assert(sr.sum == fnv1a(FNV_START, up, len));
	ck_assert(cr.sum == fnv1a(FNV_START, down, len));
	/* Drained: no pipe held, each back in the pool. */
	DRIVE_UNTIL(&t, t.c->server.pipe[0] < 0 && t.c->client.pipe[0] < 0,
		    {});
	ck_assert_uint_ge(t.lc.pipes.n, 1);
	ck_assert_uint_le(t.lc.pipes.n, 2);
	ck_assert_uint_eq(t.c->client.pipe_bytes + t.c->server.pipe_bytes,
			  0);
	rt_close(&t);
	free(up);
	free(down);
}
END_TEST

/* A source that cannot splice (EINVAL into the pipe) is relayed by
 * copying, every byte, and no pipe stays taken. */
START_TEST(test_relay__splice_einval_copies)
{
	const size_t len = 4u << 20;
	uint8_t *up = pattern(len, 61);
	struct writer cw = {0};
	struct reader sr = {0};
	struct rt t;

	rt_open(&t, PAIR_TCP, PRIO_THROUGHPUT, 0, 0, NULL, 0);
	rt_start(&t);
	splice_einval_fd = t.relay_cfd;
	splice_einval_count = 0;
	cw = (struct writer){.fd = t.cfar, .data = up, .len = len,
			     .shut_when_done = 1};
	sr = (struct reader){.fd = t.sfar, .exp = up, .len = len};
	DRIVE_UNTIL(&t, sr.eof, {
		writer_step(&cw);
		reader_step(&sr);
		if (t.c != NULL)
			ck_assert_uint_eq(t.c->server.pipe_bytes, 0);
	});
	ck_assert_uint_eq(sr.got, len);
	ck_assert_msg(splice_einval_count > 0,
		      "the relay never tried to splice");
	ck_assert_ptr_nonnull(t.c);
	ck_assert_int_eq(t.c->server.pipe[0], -1);
	ck_assert_uint_eq(t.lc.pipes.n, 1);
	/* The other direction (a socket that splices) is unaffected. */
	splice_einval_fd = -1;
	rt_close(&t);
	free(up);
}
END_TEST

/* Zero-copy with a backend that stops reading mid-bulk: bytes stay in the
 * pipe (partly drained into a full socket), the client is not read
 * meanwhile, and every byte arrives in order once the backend reads. */
START_TEST(test_relay__zerocopy_pipe_partly_drained)
{
	const size_t len = 12u << 20;
	uint8_t *up = pattern(len, 71);
	struct writer cw = {0};
	struct reader sr = {0};
	uint64_t moved = 0;
	int still = 0, saw_bulk = 0;
	struct rt t;

	/* Small buffers towards the backend (it fills up quickly), bounded
	 * ones from the client (the kernel cannot take the whole upload). */
	rt_open(&t, PAIR_TCP, PRIO_THROUGHPUT, 256 * 1024, 64 * 1024, NULL,
		0);
	rt_start(&t);
	cw = (struct writer){.fd = t.cfar, .data = up, .len = len,
			     .shut_when_done = 1};
	sr = (struct reader){.fd = t.sfar, .exp = up, .len = len};
	/* Read until the upload went bulk... */
	DRIVE_UNTIL(&t, sr.got >= (2u << 20) && saw_bulk, {
		writer_step(&cw);
		reader_step(&sr);
		saw_bulk |= t.c->client.bulk;
	});
	/* ...then stop reading until nothing moves. */
	sr.paused = 1;
	DRIVE_UNTIL(&t, still >= 100, {
		writer_step(&cw);
		if (t.c->client.bytes == moved) {
			still++;
		} else {
			still = 0;
			moved = t.c->client.bytes;
		}
	});
	ck_assert_uint_lt(cw.sent, len);
	ck_assert_uint_gt(t.c->server.pipe_bytes, 0);
	ck_assert_int_ge(t.c->server.pipe[0], 0);
	ck_assert_ptr_null(t.c->server.out);
	ck_assert(t.c->client.bulk);
	ck_assert(!(t.c->client.events & EV_READ));
	ck_assert(t.c->server.events & EV_WRITE);

	sr.paused = 0;
	DRIVE_UNTIL(&t, sr.eof, {
		writer_step(&cw);
		reader_step(&sr);
	});
	ck_assert_uint_eq(sr.got, len);
	ck_assert_ptr_nonnull(t.c);
	ck_assert_uint_eq(t.c->client.bytes, len);
	ck_assert_uint_eq(t.c->server.pipe_bytes, 0);
	ck_assert_int_eq(t.c->server.pipe[0], -1);
	ck_assert_uint_eq(t.lc.pipes.n, 1);
	rt_close(&t);
	free(up);
}
END_TEST

/* TCP urgent data in the middle of a spliced upload. splice() stops at
 * the urgent mark (tcp_read_sock) where recv() steps over it: there it
 * says EAGAIN although the socket is readable, or 0 once the client's FIN
 * is in. Either way the in-band bytes after the mark must all arrive (as
 * they do when copying: the urgent byte itself is out of band), and EOF
 * must be passed on only after them. `fin`: the client's FIN follows the
 * last bytes at once (else only once the backend has them all). */
static void
urgent_upload(int fin)
{
	const size_t len = 2u << 20, before = 1u << 20, burst = 256 * 1024;
	uint8_t *up = pattern(len, 81 + (uint32_t)fin);
	struct writer cw = {0};
	struct reader sr = {0};
	struct rt t;

	/* Client buffers that take the bursts below without the relay. */
	rt_open(&t, PAIR_TCP, PRIO_THROUGHPUT, 1 << 20, 0, NULL, 0);
	rt_start(&t);
	cw = (struct writer){.fd = t.cfar, .data = up, .len = before};
	sr = (struct reader){.fd = t.sfar, .exp = up, .len = len};
	DRIVE_UNTIL(&t, sr.got == before, {
		writer_step(&cw);
		reader_step(&sr);
	});
	/* While the relay waits: a burst (a full read of it turns the
	 * direction to splice), the urgent byte, then the rest. */
	cw.len = before + burst;
	writer_step(&cw);
	ck_assert_uint_eq(cw.sent, cw.len);
	ck_assert_int_eq(send(t.cfar, "!", 1, MSG_OOB), 1);
	cw.len = len;
	cw.shut_when_done = fin;
	writer_step(&cw);
	if (fin)
		ck_assert_msg(cw.shut, "only %zu of %zu bytes sent", cw.sent,
			      len);
	DRIVE_UNTIL(&t, sr.got == len || sr.eof, {
		writer_step(&cw);
		reader_step(&sr);
	});
	ck_assert_msg(sr.got == len, "EOF after %zu of %zu bytes", sr.got,
		      len);
	ck_assert_ptr_nonnull(t.c);
	ck_assert_uint_eq(t.c->client.bytes, len);
	ck_assert_int_eq(t.c->client.eof, fin);
	if (!fin)
		ck_assert_int_eq(shutdown(t.cfar, SHUT_WR), 0);
	DRIVE_UNTIL(&t, sr.eof, reader_step(&sr));
	ck_assert_uint_eq(sr.got, len);
	rt_close(&t);
	free(up);
}

START_TEST(test_relay__zerocopy_urgent_data)
{
	urgent_upload(0);
}
END_TEST

START_TEST(test_relay__zerocopy_urgent_data_then_fin)
{
	urgent_upload(1);
}
END_TEST

/* The backend's first answer: bytes, an urgent byte, more bytes and its
 * FIN, all queued before the relay reads. recv() stops short at the
 * urgent mark with the FIN already in; the bytes after the mark must
 * still arrive, then the EOF (the ring's RING_READ_FIN is not said when
 * urgent data waits, and peek_fin's recv() steps over the mark). */
START_TEST(test_relay__answer_urgent_then_fin)
{
	const size_t a = 3000, b = 2000;
	uint8_t *ans = pattern(a + b, 97);
	struct reader cr = {0};
	struct rt t;

	rt_open(&t, PAIR_TCP, PRIO_BOTH, 0, 0, NULL, 0);
	ck_assert_int_eq(send(t.sfar, ans, a, 0), (ssize_t)a);
	ck_assert_int_eq(send(t.sfar, "!", 1, MSG_OOB), 1);
	ck_assert_int_eq(send(t.sfar, ans + a, b, 0), (ssize_t)b);
	ck_assert_int_eq(shutdown(t.sfar, SHUT_WR), 0);
	rt_start(&t);
	cr = (struct reader){.fd = t.cfar, .exp = ans, .len = a + b};
	DRIVE_UNTIL(&t, cr.eof, reader_step(&cr));
	ck_assert_uint_eq(cr.got, a + b);
	rt_close(&t);
	free(ans);
}
END_TEST

/* The same answer without urgent data: its FIN, seen by the ring's poll,
 * ends the answer at once. */
START_TEST(test_relay__answer_then_fin)
{
	const size_t a = 5000;
	uint8_t *ans = pattern(a, 98);
	struct reader cr = {0};
	struct rt t;

	rt_open(&t, PAIR_TCP, PRIO_BOTH, 0, 0, NULL, 0);
	ck_assert_int_eq(send(t.sfar, ans, a, 0), (ssize_t)a);
	ck_assert_int_eq(shutdown(t.sfar, SHUT_WR), 0);
	rt_start(&t);
	cr = (struct reader){.fd = t.cfar, .exp = ans, .len = a};
	DRIVE_UNTIL(&t, cr.eof, reader_step(&cr));
	ck_assert_uint_eq(cr.got, a);
	ck_assert_ptr_nonnull(t.c);
	ck_assert_int_eq(t.c->server.eof, 1);
	rt_close(&t);
	free(ans);
}
END_TEST

/* The backend goes away with bytes it never read (a TCP RST): the
 * connection closes, and the client sees its end close. */
START_TEST(test_relay__reset_closes)
{
	const size_t len = 100 * 1024;
	uint8_t *up = pattern(len, 91), buf[64];
	struct writer cw = {0};
	struct rt t;

	rt_open(&t, PAIR_TCP, PRIO_LATENCY, 0, 0, NULL, 0);
	rt_start(&t);
	cw = (struct writer){.fd = t.cfar, .data = up, .len = len};
	DRIVE_UNTIL(&t, t.c->client.bytes == len &&
				!side_pending(&t.c->server),
		    writer_step(&cw));
	close(t.sfar); /* unread bytes: RST */
	t.sfar = -1;
	DRIVE_UNTIL(&t, t.closed == 1, {});
	ck_assert_int_eq(t.lc.nconns, 0);
	ck_assert_ptr_null(t.c);
	rt_turn(&t);
	{
		double dl = now_s() + WAIT_MAX;
		ssize_t k;

		while ((k = recv(t.cfar, buf, sizeof(buf), MSG_DONTWAIT)) <
			       0 &&
		       errno == EAGAIN)
			ck_assert_msg(now_s() < dl, "no EOF for the client");
		ck_assert_int_eq(k, 0);
	}
	rt_close(&t);
	free(up);
}
END_TEST

/* The backend closed its socket: EOF is passed on; a client byte that
 * follows cannot be delivered (EPIPE) and closes the connection. */
START_TEST(test_relay__epipe_closes)
{
	uint8_t buf[64];
	struct rt t;

	rt_open(&t, PAIR_UNIX, PRIO_LATENCY, 0, 0, NULL, 0);
	rt_start(&t);
	close(t.sfar);
	t.sfar = -1;
	DRIVE_UNTIL(&t, t.c->server.eof, {});
	ck_assert(t.c->client.shut);
	ck_assert_int_eq(recv(t.cfar, buf, sizeof(buf), MSG_DONTWAIT), 0);
	ck_assert_int_eq(t.closed, 0);
	ck_assert_int_eq(send(t.cfar, "more", 4, MSG_NOSIGNAL), 4);
	DRIVE_UNTIL(&t, t.closed == 1, {});
	ck_assert_int_eq(t.lc.nconns, 0);
	rt_turn(&t);
	/* The relay's client socket is closed too. */
	ck_assert_int_eq(send(t.cfar, "x", 1, MSG_NOSIGNAL), -1);
	ck_assert_int_eq(errno, EPIPE);
	rt_close(&t);
}
END_TEST

/* ---- timeouts of relayed connections ---- */

/* What the core logs (stderr) between capture_start and capture_end. */
static FILE *cap_file;
static int cap_saved = -1;

static void
capture_start(void)
{
	fflush(stderr);
	cap_file = tmpfile();
	ck_assert_ptr_nonnull(cap_file);
	cap_saved = dup(2);
	ck_assert_int_ge(cap_saved, 0);
	ck_assert_int_ge(dup2(fileno(cap_file), 2), 0);
	log_set_level(LOG_INFO);
}

/* The text logged since capture_start (the caller frees it). */
static char *
capture_end(void)
{
	char *text = calloc(1, 65536);
	size_t n;

	ck_assert_ptr_nonnull(text);
	fflush(stderr);
	ck_assert_int_ge(dup2(cap_saved, 2), 0);
	close(cap_saved);
	cap_saved = -1;
	rewind(cap_file);
	n = fread(text, 1, 65535, cap_file);
	text[n] = '\0';
	fclose(cap_file);
	log_set_level(LOG_WARN);
	return text;
}

/* Occurrences of `what` in text. */
static int
count_of(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

/* Idle lists of the loop. */
static int
idle_lists(struct loop_ctx *lc)
{
	struct idle_list *l;
	int n = 0;

	LIST_FOREACH(l, &lc->idle, link)
		n++;
	return n;
}

/* Another relaying connection on t's loop, to backend b; the test's ends
 * in cfar, sfar. */
static struct conn *
rt_add(struct rt *t, const struct backend *b, int *cfar, int *sfar)
{
	struct sockaddr_in peer = {.sin_family = AF_INET};
	int cp[2], sp[2];
	struct conn *c;

	make_pair(PAIR_UNIX, 0, cp);
	make_pair(PAIR_UNIX, 0, sp);
	c = conn_accept(&t->lc, &t->bound, cp[0], (struct sockaddr *)&peer,
			sizeof(peer));
	ck_assert_ptr_nonnull(c);
	c->server.fd = sp[0];
	c->backend = b;
	relay_start(c);
	ck_assert_int_eq(c->state, CONN_RELAY);
	*cfar = cp[1];
	*sfar = sp[1];
	return c;
}

/* Read what is there from fd: 1 at EOF, 0 when nothing (more) yet. */
static int
drained_to_eof(int fd)
{
	uint8_t buf[4096];
	ssize_t k;

	while ((k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		;
	return k == 0;
}

/* The client says its last words and half-closes, then nothing moves
 * either way: the connection is closed halfclose_timeout later (and not
 * before), logged as such; its idle list is gone with it. Before the FIN
 * it was in no list (no idle_timeout configured). */
START_TEST(test_relay__halfclose_timeout)
{
	struct rt t;
	double t0, took;
	char *log;

	rt_yaml = "PORTMUX:\n  port: 1\n  halfclose_timeout: 0.3\n";
	rt_open(&t, PAIR_UNIX, PRIO_LATENCY, 0, 0, NULL, 0);
	rt_start(&t);
	ck_assert_ptr_null(t.c->idle);
	ck_assert_int_eq(idle_lists(&t.lc), 0);
	ck_assert_int_eq(send(t.cfar, "bye", 3, 0), 3);
	ck_assert_int_eq(shutdown(t.cfar, SHUT_WR), 0);
	capture_start();
	DRIVE_UNTIL(&t, drained_to_eof(t.sfar), {});
	t0 = now_s();
	ck_assert_ptr_nonnull(t.c);
	ck_assert(t.c->server.shut);
	ck_assert_ptr_nonnull(t.c->idle);
	ck_assert(t.c->idle->timeout == 0.3);
	ck_assert_int_eq(t.c->idle->half, 1);
	ck_assert(ev_is_active(&t.lc.idle_timer));
	DRIVE_UNTIL(&t, t.closed == 1, {});
	took = now_s() - t0;
	log = capture_end();
	ck_assert_msg(took >= 0.28 && took < 1.0, "closed after %.3f s", took);
	ck_assert_int_eq(count_of(log, "reason=halfclose_timeout"), 1);
	free(log);
	ck_assert_int_eq(idle_lists(&t.lc), 0);
	ck_assert(!ev_is_active(&t.lc.idle_timer));
	/* The client sees the end of the other direction too. */
	rt_turn(&t);
	ck_assert(drained_to_eof(t.cfar));
	rt_close(&t);
}
END_TEST

/* After the client's FIN a download goes on for two and a half times
 * halfclose_timeout, a chunk every 0.1 s: bytes moving keep it alive; it
 * is closed halfclose_timeout after the last one. */
START_TEST(test_relay__halfclose_download_goes_on)
{
	struct rt t;
	uint8_t chunk[1000], buf[65536];
	size_t got = 0, sent = 0;
	double next = 0, last = 0, took;
	ssize_t k;

	memset(chunk, 'd', sizeof(chunk));
	rt_yaml = "PORTMUX:\n  port: 1\n  halfclose_timeout: 0.6\n";
	rt_open(&t, PAIR_UNIX, PRIO_LATENCY, 0, 0, NULL, 0);
	rt_start(&t);
	ck_assert_int_eq(shutdown(t.cfar, SHUT_WR), 0);
	DRIVE_UNTIL(&t, t.c->server.shut, {});
	DRIVE_UNTIL(&t, sent == 15 * sizeof(chunk) && got == sent, {
		ck_assert_msg(t.closed == 0, "cut after %zu bytes", got);
		if (sent < 15 * sizeof(chunk) && now_s() >= next) {
			ck_assert_int_eq(send(t.sfar, chunk, sizeof(chunk),
					      0),
					 (ssize_t)sizeof(chunk));
			sent += sizeof(chunk);
			next = now_s() + 0.1;
		}
		while ((k = recv(t.cfar, buf, sizeof(buf), MSG_DONTWAIT)) >
		       0) {
			got += (size_t)k;
			last = now_s();
		}
	});
	ck_assert_int_eq(t.closed, 0);
	DRIVE_UNTIL(&t, t.closed == 1, {});
	took = now_s() - last;
	ck_assert_msg(took >= 0.58 && took < 1.5, "closed %.3f s after the "
		      "last bytes", took);
	rt_close(&t);
}
END_TEST

/* Three routes on one loop: idle_timeout 0.2 of its own, 0 (never) of its
 * own, and PORTMUX's 0.5. Two idle lists; each connection is closed at its
 * own time, whatever the order it was made in; the one that never idles
 * out still gets halfclose_timeout once its client half-closes. */
START_TEST(test_relay__idle_timeout_per_route)
{
	struct backend b_short = {.text = be_text, .idle_set = 1,
				  .idle_timeout = 0.2};
	struct backend b_never = {.text = be_text, .idle_set = 1,
				  .idle_timeout = 0};
	struct conn *c_short, *c_never;
	int sc, ss, nc, ns;
	struct rt t;
	double t0, took;
	char *log;

	rt_yaml = "PORTMUX:\n  port: 1\n  idle_timeout: 0.5\n"
		  "  halfclose_timeout: 0.3\n";
	rt_open(&t, PAIR_UNIX, PRIO_LATENCY, 0, 0, NULL, 0);
	capture_start();
	t0 = now_s();
	rt_start(&t); /* PORTMUX's 0.5, the oldest */
	c_never = rt_add(&t, &b_never, &nc, &ns);
	c_short = rt_add(&t, &b_short, &sc, &ss);
	ck_assert_ptr_null(c_never->idle);
	ck_assert(c_short->idle->timeout == 0.2);
	ck_assert(t.c->idle->timeout == 0.5);
	ck_assert_int_eq(idle_lists(&t.lc), 2);
	ck_assert_int_eq(t.lc.nconns, 3);

	DRIVE_UNTIL(&t, t.closed == 1, {});
	took = now_s() - t0;
	ck_assert_msg(took >= 0.18 && took < 0.45, "first close after %.3f s",
		      took);
	ck_assert_ptr_nonnull(t.c); /* the one on PORTMUX's timeout */
	rt_turn(&t);
	ck_assert(drained_to_eof(sc));
	DRIVE_UNTIL(&t, t.closed == 2, {});
	took = now_s() - t0;
	ck_assert_msg(took >= 0.48 && took < 1.2, "second close after %.3f s",
		      took);
	ck_assert_int_eq(idle_lists(&t.lc), 0);
	ck_assert_int_eq(t.lc.nconns, 1);
	/* Never idle: still there after twice the longest timeout. */
	{
		double until = now_s() + 0.5;
		while (now_s() < until)
			ev_run(t.loop, EVRUN_NOWAIT);
	}
	ck_assert_int_eq(t.lc.nconns, 1);
	ck_assert_ptr_null(c_never->idle);
	/* Its client half-closes: halfclose_timeout applies. */
	ck_assert_int_eq(shutdown(nc, SHUT_WR), 0);
	t0 = now_s();
	DRIVE_UNTIL(&t, t.closed == 3, {});
	took = now_s() - t0;
	ck_assert_msg(took >= 0.28 && took < 1.0, "third close after %.3f s",
		      took);
	log = capture_end();
	ck_assert_int_eq(count_of(log, "reason=idle_timeout"), 2);
	ck_assert_int_eq(count_of(log, "reason=halfclose_timeout"), 1);
	free(log);
	ck_assert_int_eq(idle_lists(&t.lc), 0);
	close(sc);
	close(ss);
	close(nc);
	close(ns);
	rt_close(&t);
}
END_TEST

/* Many connections of one route share one list: a sweep looks at its
 * tail only, so the busy ones cost nothing; the quiet one among them is
 * closed on time. */
START_TEST(test_relay__idle_busy_crowd)
{
	enum { N = 64 };
	struct backend b = {.text = be_text};
	struct conn *c[N];
	int cf[N], sf[N];
	struct rt t;
	double until, t0;

	rt_yaml = "PORTMUX:\n  port: 1\n  idle_timeout: 0.3\n";
	rt_open(&t, PAIR_UNIX, PRIO_LATENCY, 0, 0, NULL, 0);
	rt_start(&t); /* the quiet one */
	t0 = now_s();
	for (int i = 0; i < N; i++)
		c[i] = rt_add(&t, &b, &cf[i], &sf[i]);
	ck_assert_int_eq(idle_lists(&t.lc), 1);
	ck_assert_ptr_eq(c[0]->idle, t.c->idle);
	/* The others talk every 0.05 s for 0.8 s. */
	until = now_s() + 0.8;
	while (now_s() < until) {
		uint8_t buf[16];

		for (int i = 0; i < N; i++) {
			ck_assert_int_eq(send(cf[i], "p", 1, 0), 1);
			while (recv(sf[i], buf, sizeof(buf), MSG_DONTWAIT) > 0)
				;
		}
		for (int k = 0; k < 50; k++)
			ev_run(t.loop, EVRUN_NOWAIT);
		if (t.closed == 1 && t0 > 0) {
			double took = now_s() - t0;
			ck_assert_msg(took >= 0.28 && took < 0.6,
				      "quiet one closed after %.3f s", took);
			t0 = 0;
		}
		usleep(50000);
	}
	ck_assert_int_eq(t.closed, 1);
	ck_assert_int_eq(t.lc.nconns, N);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(c[i]->state, CONN_RELAY);
		conn_close(c[i], "test");
		close(cf[i]);
		close(sf[i]);
	}
	rt_close(&t);
}
END_TEST

/* A TCP socket bound to 127.0.0.1 (a port of the kernel's), listening
 * when `backlog` > 0; its address in *out. */
static int
loopback_socket(int backlog, struct addr *out)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (backlog > 0)
		ck_assert_int_eq(listen(fd, backlog), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	memcpy(&out->ss, &a, sizeof(a));
	out->len = sizeof(a);
	return fd;
}

/* rt_open gave the connection a backend socket of a pair: take it back,
 * for conn_connect() to make its own. */
static void
rt_unpair_backend(struct rt *t)
{
	close(t->c->server.fd);
	t->c->server.fd = -1;
	close(t->sfar);
}

/* The backend socket conn_connect() makes gets TCP keepalive like client
 * sockets (60 s, 10 s, 6 probes) — unless tcp_keepalive is off — once the
 * connection has lived long enough to need it (conn_keepalive.c): not at
 * connect (four setsockopt() calls a short connection never needs), but
 * when the loop's keepalive timer finds it due. */
static void
backend_keepalive(int on)
{
	struct addr_set set = {.n = 1};
	struct backend b = {.text = be_text, .priority = PRIO_BOTH};
	int ls, v, idle = 0, intvl = 0, cnt = 0;
	socklen_t vl = sizeof(v);
	struct rt t;

	rt_yaml = on ? "PORTMUX:\n  port: 1\n"
		     : "PORTMUX:\n  port: 1\n  tcp_keepalive: false\n";
	rt_open(&t, PAIR_UNIX, PRIO_LATENCY, 0, 0, NULL, 0);
	ls = loopback_socket(4, &set.a[0]);
	b.addrs = &set;
	rt_unpair_backend(&t);
	conn_connect(t.c, &b, VIA_DETECTOR, NULL);
	ck_assert_int_eq(t.c->state, CONN_CONNECTING);
	DRIVE_UNTIL(&t, t.c->state == CONN_RELAY, {});
	t.sfar = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(t.sfar, 0);
	close(ls);
	/* Young: no keepalive yet, and waiting for it if it is on. */
	ck_assert_int_eq(getsockopt(t.c->server.fd, SOL_SOCKET, SO_KEEPALIVE,
				    &v, &vl),
			 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(t.c->keepalive_queued, on);
	ck_assert_int_eq(ev_is_active(&t.lc.keepalive_timer) != 0, on);
	if (on) {
		/* Not due yet: the timer leaves it alone. */
		conn_keepalive_timer_cb(t.loop, &t.lc.keepalive_timer, 0);
		ck_assert_int_eq(t.c->keepalive_queued, 1);
		/* Due (10 s later): set, and out of the queue. */
		t.c->keepalive_at = ev_now(t.loop) - 0.001;
		conn_keepalive_timer_cb(t.loop, &t.lc.keepalive_timer, 0);
		ck_assert_int_eq(t.c->keepalive_queued, 0);
		ck_assert(TAILQ_EMPTY(&t.lc.keepalive_due));
	}
	vl = sizeof(v);
	ck_assert_int_eq(getsockopt(t.c->server.fd, SOL_SOCKET, SO_KEEPALIVE,
				    &v, &vl),
			 0);
	ck_assert_int_eq(v != 0, on);
	if (on) {
		vl = sizeof(idle);
		getsockopt(t.c->server.fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle,
			   &vl);
		getsockopt(t.c->server.fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl,
			   &vl);
		getsockopt(t.c->server.fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, &vl);
		ck_assert_int_eq(idle, 60);
		ck_assert_int_eq(intvl, 10);
		ck_assert_int_eq(cnt, 6);
	}
	/* And it relays. */
	ck_assert_int_eq(send(t.cfar, "ka", 2, 0), 2);
	{
		char buf[4] = "";
		DRIVE_UNTIL(&t, recv(t.sfar, buf, 2, MSG_DONTWAIT) == 2, {});
		ck_assert_int_eq(memcmp(buf, "ka", 2), 0);
	}
	rt_close(&t);
}

/* With probe bytes to send, conn_connect() sends them right after
 * connect(): a backend on this host is connected by then, so the
 * connection relays when conn_connect() returns — no loop iteration, no
 * wait for writability. An address that refuses is passed over on the
 * way, the bytes intact for the next one. */
START_TEST(test_relay__connect_sends_at_once)
{
	struct addr_set set = {.n = 2};
	struct backend b = {.text = be_text, .priority = PRIO_BOTH};
	char buf[16] = "";
	int ls;
	struct rt t;

	rt_open(&t, PAIR_UNIX, PRIO_LATENCY, 0, 0, "hello", 5);
	/* A port nobody listens on: bound, then closed. */
	close(loopback_socket(0, &set.a[0]));
	ls = loopback_socket(4, &set.a[1]);
	b.addrs = &set;
	rt_unpair_backend(&t);
	conn_connect(t.c, &b, VIA_DETECTOR, NULL);
	ck_assert_int_eq(t.c->state, CONN_RELAY);
	ck_assert_int_eq(t.c->addr_index, 1);
	ck_assert_ptr_null(t.c->server.out);
	t.sfar = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(t.sfar, 0);
	close(ls);
	ck_assert_int_eq(recv(t.sfar, buf, sizeof(buf), 0), 5);
	ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
	/* And it relays both ways. */
	ck_assert_int_eq(send(t.sfar, "back", 4, 0), 4);
	DRIVE_UNTIL(&t, recv(t.cfar, buf, 4, MSG_DONTWAIT) == 4, {});
	ck_assert_int_eq(memcmp(buf, "back", 4), 0);
	rt_close(&t);
}
END_TEST

static int
nodelay_of(int fd)
{
	int v = -1;
	socklen_t vl = sizeof(v);

	ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &vl),
			 0);
	return v;
}

/* "x" sent from one of the test's ends, relayed, read at the other. */
static void
relay_byte(struct rt *t, int from, int at)
{
	char c = 0;

	ck_assert_int_eq(send(from, "x", 1, MSG_NOSIGNAL), 1);
	DRIVE_UNTIL(t, recv(at, &c, 1, MSG_DONTWAIT) == 1, {});
	ck_assert_int_eq(c, 'x');
}

/* TCP_NODELAY as the priority wants it (latency: on, throughput: off),
 * set before a socket's second write, never for a socket written once:
 * the backend socket starts with Nagle on, the client socket with the
 * listener's TCP_NODELAY. */
START_TEST(test_relay__nodelay_from_second_write)
{
	static const enum priority prios[] = {PRIO_LATENCY, PRIO_THROUGHPUT};

	for (int i = 0; i < 2; i++) {
		struct addr_set set = {.n = 1};
		struct backend b = {.text = be_text, .priority = prios[i]};
		int ls, one = 1, latency = prios[i] == PRIO_LATENCY;
		char buf[8];
		struct rt t;

		rt_open(&t, PAIR_TCP, prios[i], 0, 0, "hello", 5);
		ck_assert_int_eq(setsockopt(t.relay_cfd, IPPROTO_TCP,
					    TCP_NODELAY, &one, sizeof(one)),
				 0); /* as from the listener */
		ls = loopback_socket(4, &set.a[0]);
		b.addrs = &set;
		rt_unpair_backend(&t);
		conn_connect(t.c, &b, VIA_DETECTOR, NULL);
		ck_assert_int_eq(t.c->state, CONN_RELAY);
		t.sfar = accept4(ls, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		ck_assert_int_ge(t.sfar, 0);
		close(ls);
		DRIVE_UNTIL(&t, recv(t.sfar, buf, 5, MSG_DONTWAIT) == 5, {});
		/* Written once each way at most: nothing changed yet. */
		ck_assert_int_eq(nodelay_of(t.c->server.fd), 0);
		relay_byte(&t, t.sfar, t.cfar);
		ck_assert_int_eq(nodelay_of(t.c->client.fd), 1);
		/* The second writes. */
		relay_byte(&t, t.cfar, t.sfar);
		ck_assert_int_eq(nodelay_of(t.c->server.fd), latency);
		relay_byte(&t, t.sfar, t.cfar);
		ck_assert_int_eq(nodelay_of(t.c->client.fd), latency);
		ck_assert_int_eq(t.c->server.nodelay_due, NODELAY_KEEP);
		ck_assert_int_eq(t.c->client.nodelay_due, NODELAY_KEEP);
		rt_close(&t);
	}
}
END_TEST

/* A backend that answers and closes: PortMux finds the FIN queued behind
 * the answer and passes both on in one segment (MSG_MORE, then
 * shutdown()), with either priority. A backend that answers and stays: no
 * FIN, the answer leaves at once, and later answers are relayed as they
 * come, each in its own segment. */
START_TEST(test_relay__answer_leaves_with_fin)
{
	static const enum priority prios[] = {PRIO_LATENCY, PRIO_THROUGHPUT};
	static const char answer[] =
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello";

	for (int i = 0; i < 2; i++) {
		struct reader cr;
		struct rt t;
		unsigned segs;

		rt_open(&t, PAIR_TCP, prios[i], 0, 0, NULL, 0);
		rt_start(&t);
		segs = tu_tcp_segs_in(t.cfar); /* the handshake's */
		ck_assert_int_eq(send(t.sfar, answer, sizeof(answer), 0),
				 (ssize_t)sizeof(answer));
		ck_assert_int_eq(shutdown(t.sfar, SHUT_WR), 0);
		cr = (struct reader){.fd = t.cfar,
				     .exp = (const uint8_t *)answer,
				     .len = sizeof(answer)};
		DRIVE_UNTIL(&t, cr.eof, reader_step(&cr));
		ck_assert_uint_eq(cr.got, sizeof(answer));
		ck_assert_uint_eq(tu_tcp_segs_in(t.cfar) - segs, 1);
		ck_assert(t.c->server.eof && t.c->client.shut);
		ck_assert(!t.c->client.eof && !t.c->server.shut);
		rt_close(&t);

		/* Kept alive. */
		rt_open(&t, PAIR_TCP, prios[i], 0, 0, NULL, 0);
		rt_start(&t);
		segs = tu_tcp_segs_in(t.cfar);
		relay_byte(&t, t.sfar, t.cfar);
		ck_assert_int_eq(t.c->server.fin_peek, 0);
		relay_byte(&t, t.sfar, t.cfar);
		ck_assert_uint_eq(tu_tcp_segs_in(t.cfar) - segs, 2);
		ck_assert(!t.c->server.eof && !t.c->client.shut);
		rt_close(&t);
	}
}
END_TEST

/* The backend answers and resets at once: the look for its FIN finds the
 * reset while part of the answer still waits for a slow client. The whole
 * answer reaches the client first; then the connection ends as a backend
 * error, as it did when the reset was read after the answer. */
START_TEST(test_relay__reset_behind_answer)
{
	const size_t len = 40 * 1024; /* one short read: < LOOP_SCRATCH_SIZE */
	uint8_t *answer = pattern(len, 93);
	struct linger rst = {.l_onoff = 1, .l_linger = 0};
	struct reader cr;
	struct rt t;
	char *log;

	rt_open(&t, PAIR_TCP, PRIO_LATENCY, 4096, 0, NULL, 0);
	rt_start(&t);
	capture_start();
	ck_assert_int_eq(send(t.sfar, answer, len, 0), (ssize_t)len);
	ck_assert_int_eq(setsockopt(t.sfar, SOL_SOCKET, SO_LINGER, &rst,
				    sizeof(rst)),
			 0);
	close(t.sfar);
	t.sfar = -1;
	cr = (struct reader){.fd = t.cfar, .exp = answer, .len = len};
	rt_turn(&t);
	ck_assert_ptr_nonnull(t.c);
	ck_assert_int_eq(t.c->server.err_held, ECONNRESET);
	DRIVE_UNTIL(&t, cr.eof, reader_step(&cr));
	log = capture_end();
	ck_assert_uint_eq(cr.got, len);
	ck_assert_int_eq(t.closed, 1);
	ck_assert_msg(count_of(log, "server_error") == 1, "%s", log);
	free(log);
	rt_close(&t);
	free(answer);
}
END_TEST

/* `source`: the backend socket is bound to the route's source addresses,
 * the loop's turn picking which; a route without its own takes PORTMUX's;
 * a source of another family than the backend address is passed over. */
START_TEST(test_relay__connect_from_source)
{
	static const struct {
		const char *route[2]; /* the route's sources (none: NULL) */
		unsigned turn;        /* lc.source_turn before connecting */
		const char *seen;     /* the backend's peer address */
	} cases[] = {
		{{"127.0.0.2", "127.0.0.3"}, 0, "127.0.0.2"},
		{{"127.0.0.2", "127.0.0.3"}, 1, "127.0.0.3"},
		{{"::1", "127.0.0.3"}, 0, "127.0.0.3"},
		{{NULL, NULL}, 0, "127.0.0.4"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct addr_set set = {.n = 1};
		struct addr from[2];
		struct backend b = {.text = be_text, .priority = PRIO_BOTH};
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		char seen[INET_ADDRSTRLEN] = "";
		int ls;
		struct rt t;

		for (int k = 0; k < 2 && cases[i].route[k]; k++) {
			ck_assert_int_eq(addr_from_literal(cases[i].route[k],
							   0, &from[k]),
					 0);
			b.sources.a = from;
			b.sources.n = (unsigned)k + 1;
		}
		rt_yaml = "PORTMUX:\n  port: 1\n  source: 127.0.0.4\n";
		rt_open(&t, PAIR_UNIX, PRIO_LATENCY, 0, 0, "hi", 2);
		ls = loopback_socket(4, &set.a[0]);
		b.addrs = &set;
		b.transparent = -1;
		rt_unpair_backend(&t);
		t.lc.source_turn = cases[i].turn;
		conn_connect(t.c, &b, VIA_DETECTOR, NULL);
		ck_assert_int_eq(t.c->state, CONN_RELAY);
		t.sfar = accept4(ls, (struct sockaddr *)&peer, &plen,
				 SOCK_CLOEXEC);
		ck_assert_int_ge(t.sfar, 0);
		close(ls);
		inet_ntop(AF_INET, &peer.sin_addr, seen, sizeof(seen));
		ck_assert_msg(strcmp(seen, cases[i].seen) == 0,
			      "case %zu: from %s, expected %s", i, seen,
			      cases[i].seen);
		rt_close(&t);
	}
}
END_TEST

/* latency_busy_poll: bytes relayed for a `priority: latency` route keep
 * the loop polling without sleeping (an idle watcher, active) for the
 * window, after which it stops by itself; other priorities, or a window
 * of 0, never start it. */
static void
busy_poll_case(enum priority prio, const char *yaml, int expect)
{
	char buf[8];
	struct rt t;

	rt_yaml = yaml;
	rt_open(&t, PAIR_UNIX, prio, 0, 0, NULL, 0);
	rt_start(&t);
	ck_assert(!ev_is_active(&t.lc.busy_poll));
	ck_assert_int_eq(send(t.cfar, "ping", 4, 0), 4);
	DRIVE_UNTIL(&t, recv(t.sfar, buf, sizeof(buf), MSG_DONTWAIT) == 4, {});
	ck_assert_int_eq(ev_is_active(&t.lc.busy_poll), expect);
	/* It ends by itself (the window is 10 ms). */
	DRIVE_UNTIL(&t, !ev_is_active(&t.lc.busy_poll), {});
	rt_close(&t);
}

START_TEST(test_relay__latency_busy_poll)
{
	const char *ten_ms = "PORTMUX:\n  port: 1\n  latency_busy_poll: 0.01\n";

	busy_poll_case(PRIO_LATENCY, ten_ms, 1);
	busy_poll_case(PRIO_BOTH, ten_ms, 0);
	busy_poll_case(PRIO_THROUGHPUT, ten_ms, 0);
	busy_poll_case(PRIO_LATENCY,
		       "PORTMUX:\n  port: 1\n  latency_busy_poll: 0\n", 0);
}
END_TEST

static int
fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* A closed connection's sockets wait for the end of the loop's turn and
 * are closed then, a run of consecutive descriptors in one close_range()
 * call; a full batch is closed at once. */
START_TEST(test_relay__close_batch)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct close_batch b;
	int fds[CLOSE_BATCH_MAX + 1], before = count_fds();
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	ck_assert_ptr_nonnull(loop);
	ck_assert_int_ge(null, 0);
	close_batch_init(&b, loop);
	/* Ten consecutive descriptors (the lowest free from 900 on) and one
	 * apart. */
	for (int i = 0; i < 10; i++)
		ck_assert_int_ge(fds[i] = fcntl(null, F_DUPFD_CLOEXEC, 900), 0);
	ck_assert_int_eq(fds[9], fds[0] + 9);
	ck_assert_int_ge(fds[10] = fcntl(null, F_DUPFD_CLOEXEC, 950), 0);
	for (int i = 10; i >= 0; i--) /* any order */
		close_batch_add(&b, fds[i]);
	ck_assert(ev_is_active(&b.prepare));
	for (int i = 0; i <= 10; i++)
		ck_assert(fd_open(fds[i]));
	close_range_calls = 0;
	ev_run(loop, EVRUN_NOWAIT);
	for (int i = 0; i <= 10; i++)
		ck_assert(!fd_open(fds[i]));
	ck_assert_uint_eq(close_range_calls, 1); /* the run; fds[10] alone */
	ck_assert(!ev_is_active(&b.prepare));
	ck_assert_int_eq(b.n, 0);

	/* Full: the 65th closes the 64 before it at once. */
	for (int i = 0; i <= CLOSE_BATCH_MAX; i++) {
		ck_assert_int_ge(fds[i] = fcntl(null, F_DUPFD_CLOEXEC, 900), 0);
		close_batch_add(&b, fds[i]);
	}
	ck_assert_int_eq(b.n, 1);
	for (int i = 0; i < CLOSE_BATCH_MAX; i++)
		ck_assert(!fd_open(fds[i]));
	ck_assert(fd_open(fds[CLOSE_BATCH_MAX]));
	close_batch_flush(&b); /* as loop_ctx_fini does */
	ck_assert(!fd_open(fds[CLOSE_BATCH_MAX]));
	ck_assert(!ev_is_active(&b.prepare));
	close(null);
	ck_assert_int_eq(count_fds(), before);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_relay__backend_keepalive)
{
	backend_keepalive(1);
}
END_TEST

START_TEST(test_relay__backend_keepalive_off)
{
	backend_keepalive(0);
}
END_TEST

Suite *make_suite_relay(void);
Suite *
make_suite_relay(void)
{
	Suite *s = suite_create("relay");
	TCase *tc = tcase_create("relay");

	/* Each test bounds its own waits (WAIT_MAX); this is the backstop,
	 * with room for sanitizers. */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_relay__probe_bytes_first);
	tcase_add_test(tc, test_relay__backpressure_copy);
	tcase_add_test(tc, test_relay__half_close_client_first);
	tcase_add_test(tc, test_relay__half_close_server_first);
	tcase_add_test(tc, test_relay__zerocopy_bulk);
	tcase_add_test(tc, test_relay__zerocopy_pipe_refused_copies);
	tcase_add_test(tc, test_relay__zerocopy_both_ways);
	tcase_add_test(tc, test_relay__splice_einval_copies);
	tcase_add_test(tc, test_relay__zerocopy_pipe_partly_drained);
	tcase_add_test(tc, test_relay__zerocopy_urgent_data);
	tcase_add_test(tc, test_relay__zerocopy_urgent_data_then_fin);
	tcase_add_test(tc, test_relay__answer_urgent_then_fin);
	tcase_add_test(tc, test_relay__answer_then_fin);
	tcase_add_test(tc, test_relay__reset_closes);
	tcase_add_test(tc, test_relay__epipe_closes);
	tcase_add_test(tc, test_relay__halfclose_timeout);
	tcase_add_test(tc, test_relay__halfclose_download_goes_on);
	tcase_add_test(tc, test_relay__idle_timeout_per_route);
	tcase_add_test(tc, test_relay__idle_busy_crowd);
	tcase_add_test(tc, test_relay__connect_sends_at_once);
	tcase_add_test(tc, test_relay__connect_from_source);
	tcase_add_test(tc, test_relay__latency_busy_poll);
	tcase_add_test(tc, test_relay__backend_keepalive);
	tcase_add_test(tc, test_relay__backend_keepalive_off);
	tcase_add_test(tc, test_relay__close_batch);
	tcase_add_test(tc, test_relay__nodelay_from_second_write);
	tcase_add_test(tc, test_relay__answer_leaves_with_fin);
	tcase_add_test(tc, test_relay__reset_behind_answer);
	suite_add_tcase(s, tc);
	return s;
}
