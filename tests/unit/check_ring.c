/* check_ring.c — a loop's io_uring watches (ring.h) behave as libev's
 * level-triggered ev_io: an event per completion while the socket stays
 * ready, nothing once stopped, a pending event lost when its watch is
 * stopped or changed by an earlier callback of the same batch, no use of a
 * watch freed after it stopped (ASan), and descriptors closed by the
 * ring. Where the kernel allows no io_uring (ENOSYS, EPERM: a seccomp
 * filter, kernel.io_uring_disabled) the tests say so and pass: PortMux
 * then watches with epoll, which the rest of the suite covers. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ring.h"
#include "testutil.h"

struct probe_watch {
	struct ring_watch w;
	int calls;
	int last;
	struct ring_watch *stop_other; /* stopped from this callback */
	int other_was_pending;
	int had_data; /* the ring held what it read for it */
};

static void
probe_cb(struct ring_watch *w, int revents)
{
	struct probe_watch *p = (struct probe_watch *)w;

	p->calls++;
	p->last = revents;
	p->had_data = ring_watch_has_data(w);
	if (p->stop_other != NULL) {
		p->other_was_pending |= ring_watch_pending(p->stop_other);
		ring_watch_set(p->stop_other, -1, 0);
	}
}

static struct ev_loop *loop;
static struct ring *ring;

/* A ring, or NULL when this kernel allows none (the reason printed). */
static struct ring *
ring_or_skip(void)
{
	char err[128];

	loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(loop);
	ring = ring_new(loop, err, sizeof(err));
	if (ring == NULL) {
		ck_assert_msg(strstr(err, "Function not implemented") ||
				      strstr(err, "Operation not permitted"),
			      "ring_new: %s", err);
		fprintf(stderr, "ring: no io_uring here (%s): skipped\n", err);
	}
	return ring;
}

static void
ring_done(void)
{
	ring_free(ring);
	ev_loop_destroy(loop);
	ring = NULL;
	loop = NULL;
}

/* One turn that does not wait (twice: the prepare submits, the poll's
 * completion wakes the ring's descriptor). */
static void
turn(void)
{
	ev_run(loop, EVRUN_NOWAIT);
	ev_run(loop, EVRUN_NOWAIT);
}

static void
pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
				    sv),
			 0);
}

START_TEST(test_ring__level_triggered)
{
	struct probe_watch p = {0};
	int sv[2], calls;
	char c;

	if (ring_or_skip() == NULL)
		return;
	pair(sv);
	ring_watch_init(&p.w, ring, probe_cb);
	ring_watch_set(&p.w, sv[0], EV_READ);
	turn();
	ck_assert_int_eq(p.calls, 0); /* nothing to read */
	ck_assert_int_eq(write(sv[1], "x", 1), 1);
	turn();
	ck_assert_int_ge(p.calls, 1);
	ck_assert_int_eq(p.last, EV_READ);
	calls = p.calls;
	turn(); /* not read: still ready, so more events */
	ck_assert_int_gt(p.calls, calls);
	ck_assert_int_eq(read(sv[0], &c, 1), 1);
	p.calls = 0;
	turn();
	ck_assert_int_eq(p.calls, 0); /* read: quiet again */
	/* For writing: a socket with room is ready at once. */
	ring_watch_set(&p.w, sv[0], EV_WRITE);
	turn();
	ck_assert_int_ge(p.calls, 1);
	/* (writable with no error: a connect known to have gone well) */
	ck_assert_int_eq(p.last, EV_WRITE | RING_WRITABLE_CLEAN);
	/* Changed back to reading: the write poll is gone. */
	ring_watch_set(&p.w, sv[0], EV_READ);
	p.calls = 0;
	turn();
	ck_assert_int_eq(p.calls, 0);
	/* The peer's close wakes a reader. */
	close(sv[1]);
	turn();
	ck_assert_int_ge(p.calls, 1);
	ck_assert_int_eq(p.last, EV_READ);
	ring_watch_set(&p.w, -1, 0);
	close(sv[0]);
	ring_done();
}
END_TEST

/* RING_READ_FIN: said to a reader that asked (RING_WANT_FIN) once the
 * peer's FIN is queued behind its bytes, not before, and not to one that
 * did not ask. */
START_TEST(test_ring__read_fin)
{
	struct probe_watch p = {0}, q = {0};
	int sv[2], sq[2];

	if (ring_or_skip() == NULL)
		return;
	pair(sv);
	pair(sq);
	ring_watch_init(&p.w, ring, probe_cb);
	ring_watch_init(&q.w, ring, probe_cb);
	ring_watch_set(&p.w, sv[0], EV_READ | RING_WANT_FIN);
	ring_watch_set(&q.w, sq[0], EV_READ);
	ck_assert_int_eq(write(sv[1], "x", 1), 1);
	ck_assert_int_eq(write(sq[1], "x", 1), 1);
	turn();
	ck_assert_int_eq(p.last, EV_READ); /* bytes, no FIN yet */
	ck_assert_int_eq(q.last, EV_READ);
	ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
	ck_assert_int_eq(shutdown(sq[1], SHUT_WR), 0);
	turn();
	ck_assert_int_eq(p.last, EV_READ | RING_READ_FIN);
	ck_assert_int_eq(q.last, EV_READ);
	ring_watch_set(&p.w, -1, 0);
	ring_watch_set(&q.w, -1, 0);
	for (int i = 0; i < 2; i++) {
		close(sv[i]);
		close(sq[i]);
	}
	ring_done();
}
END_TEST

/* A callback that reads one byte a time: the socket stays ready through
 * every round of delivery one turn makes, and the loop must not then
 * wait with the watch unarmed (it did: 37 s stalls in t_backpressure). */
struct byte_reader {
	struct ring_watch w;
	int got;
};

static void
byte_cb(struct ring_watch *w, int revents)
{
	struct byte_reader *b = (struct byte_reader *)w;
	char c;

	(void)revents;
	if (read(w->fd, &c, 1) == 1)
		b->got++;
}

static void
late_cb(struct ev_loop *l, ev_timer *t, int revents)
{
	(void)l;
	(void)revents;
	*(int *)t->data = 1;
}

START_TEST(test_ring__stays_armed_after_many_rounds)
{
	struct byte_reader b = {0};
	ev_timer late;
	int fired = 0, sv[2];

	if (ring_or_skip() == NULL)
		return;
	pair(sv);
	ring_watch_init(&b.w, ring, byte_cb);
	ring_watch_set(&b.w, sv[0], EV_READ);
	ck_assert_int_eq(write(sv[1], "0123456789abcdefghij", 20), 20);
	ev_timer_init(&late, late_cb, 2.0, 0);
	late.data = &fired;
	ev_timer_start(loop, &late);
	while (b.got < 20 && !fired)
		ev_run(loop, EVRUN_ONCE);
	ck_assert_int_eq(fired, 0);
	ck_assert_int_eq(b.got, 20);
	ev_timer_stop(loop, &late);
	ring_watch_set(&b.w, -1, 0);
	close(sv[0]);
	close(sv[1]);
	ring_done();
}
END_TEST

START_TEST(test_ring__stopped_watch_is_quiet)
{
	struct probe_watch p = {0};
	int sv[2];

	if (ring_or_skip() == NULL)
		return;
	pair(sv);
	ring_watch_init(&p.w, ring, probe_cb);
	ring_watch_set(&p.w, sv[0], EV_READ);
	turn(); /* its poll is in flight */
	ring_watch_set(&p.w, -1, 0);
	ck_assert_int_eq(write(sv[1], "x", 1), 1);
	turn();
	ck_assert_int_eq(p.calls, 0);
	/* Stopped before its first poll was even submitted. */
	ring_watch_set(&p.w, sv[0], EV_READ);
	ring_watch_set(&p.w, -1, 0);
	turn();
	ck_assert_int_eq(p.calls, 0);
	close(sv[0]);
	close(sv[1]);
	ring_done();
}
END_TEST

/* A watch freed while its poll was in flight (after it stopped): the
 * completion that comes later names a slot that moved on (ASan would see
 * a use after free). */
START_TEST(test_ring__freed_watch_not_touched)
{
	struct probe_watch *p = calloc(1, sizeof(*p));
	int sv[2];

	if (ring_or_skip() == NULL) {
		free(p);
		return;
	}
	pair(sv);
	ring_watch_init(&p->w, ring, probe_cb);
	ring_watch_set(&p->w, sv[0], EV_READ);
	turn();
	ring_watch_set(&p->w, -1, 0);
	free(p);
	ck_assert_int_eq(write(sv[1], "x", 1), 1);
	turn();
	close(sv[0]);
	close(sv[1]);
	ring_done();
}
END_TEST

/* Two events in one batch; the first callback stops the second watch:
 * its event, pending then, is not delivered. */
START_TEST(test_ring__pending_lost_when_stopped)
{
	struct probe_watch a = {0}, b = {0};
	int sa[2], sb[2];

	if (ring_or_skip() == NULL)
		return;
	pair(sa);
	pair(sb);
	ring_watch_init(&a.w, ring, probe_cb);
	ring_watch_init(&b.w, ring, probe_cb);
	ring_watch_set(&a.w, sa[0], EV_READ);
	ring_watch_set(&b.w, sb[0], EV_READ);
	turn();
	ck_assert_int_eq(write(sa[1], "x", 1), 1);
	ck_assert_int_eq(write(sb[1], "x", 1), 1);
	/* Whichever runs first stops the other. */
	a.stop_other = &b.w;
	b.stop_other = &a.w;
	ev_run(loop, EVRUN_NOWAIT);
	ck_assert_int_eq((a.calls > 0) + (b.calls > 0), 1);
	ck_assert_int_eq(a.other_was_pending + b.other_was_pending, 1);
	ring_watch_set(&a.w, -1, 0);
	ring_watch_set(&b.w, -1, 0);
	for (int i = 0; i < 2; i++) {
		close(sa[i]);
		close(sb[i]);
	}
	ring_done();
}
END_TEST

/* More watches than the first table holds, all ready in one turn. */
START_TEST(test_ring__many_watches)
{
	enum { N = 600 };
	struct probe_watch *p = calloc(N, sizeof(*p));
	int (*sv)[2] = calloc(N, sizeof(*sv));
	int total = 0;

	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(sv);
	if (ring_or_skip() == NULL) {
		free(p);
		free(sv);
		return;
	}
	for (int i = 0; i < N; i++) {
		pair(sv[i]);
		ring_watch_init(&p[i].w, ring, probe_cb);
		ring_watch_set(&p[i].w, sv[i][0], EV_READ);
		ck_assert_int_eq(write(sv[i][1], "x", 1), 1);
	}
	turn();
	for (int i = 0; i < N; i++) {
		total += p[i].calls > 0;
		ring_watch_set(&p[i].w, -1, 0);
		close(sv[i][0]);
		close(sv[i][1]);
	}
	ck_assert_int_eq(total, N);
	free(p);
	free(sv);
	ring_done();
}
END_TEST

/* ring_close closes with the turn's submission, and ring_free submits
 * what is still queued. */
/* RING_WANT_DATA: the ring reads for the watch; ring_watch_recv hands out
 * its bytes (in parts if asked so), then the peer's EOF. */
START_TEST(test_ring__reads_for_watch)
{
	struct probe_watch p = {0};
	int sv[2];
	char buf[64];

	if (ring_or_skip() == NULL)
		return;
	pair(sv);
	ring_watch_init(&p.w, ring, probe_cb);
	ring_watch_set(&p.w, sv[0], EV_READ | RING_WANT_DATA);
	turn();
	ck_assert_int_eq(p.calls, 0);
	ck_assert_int_eq(write(sv[1], "hello", 5), 5);
	turn();
	ck_assert_int_ge(p.calls, 1);
	ck_assert_int_eq(p.last, EV_READ);
	ck_assert(p.had_data);
	/* The bytes are the ring's now, not the socket's. */
	ck_assert_int_eq(recv(sv[0], buf, sizeof(buf), 0), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(ring_watch_recv(&p.w, sv[0], buf, 2), 2);
	ck_assert(memcmp(buf, "he", 2) == 0);
	ck_assert(ring_watch_has_data(&p.w));
	ck_assert_int_eq(ring_watch_recv(&p.w, sv[0], buf, sizeof(buf)), 3);
	ck_assert(memcmp(buf, "llo", 3) == 0);
	ck_assert(!ring_watch_has_data(&p.w));
	/* Nothing more: quiet. */
	p.calls = 0;
	turn();
	ck_assert_int_eq(p.calls, 0);
	/* The peer's last byte, then its EOF. */
	ck_assert_int_eq(write(sv[1], "x", 1), 1);
	close(sv[1]);
	turn();
	ck_assert(p.had_data);
	ck_assert_int_eq(ring_watch_recv(&p.w, sv[0], buf, sizeof(buf)), 1);
	ck_assert_int_eq(buf[0], 'x');
	p.calls = 0;
	turn();
	ck_assert_int_ge(p.calls, 1);
	ck_assert(p.had_data);
	ck_assert_int_eq(ring_watch_recv(&p.w, sv[0], buf, sizeof(buf)), 0);
	ring_watch_set(&p.w, -1, 0);
	close(sv[0]);
	ring_done();
}
END_TEST

/* A read that filled one of the ring's buffers: ring_watch_recv goes on
 * with what the socket holds, in order. */
START_TEST(test_ring__whole_buffer_then_socket)
{
	struct probe_watch p = {0};
	static char out[10000], in[65536];
	int sv[2];

	if (ring_or_skip() == NULL)
		return;
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 7 + i / 251);
	pair(sv);
	ring_watch_init(&p.w, ring, probe_cb);
	ring_watch_set(&p.w, sv[0], EV_READ | RING_WANT_DATA);
	turn();
	ck_assert_int_eq(write(sv[1], out, sizeof(out)), (int)sizeof(out));
	turn();
	ck_assert(p.had_data);
	ck_assert_int_eq(ring_watch_recv(&p.w, sv[0], in, sizeof(in)),
			 (int)sizeof(out));
	ck_assert(memcmp(in, out, sizeof(out)) == 0);
	ring_watch_set(&p.w, -1, 0);
	close(sv[0]);
	close(sv[1]);
	ring_done();
}
END_TEST

/* A reading watch changed while its read may have taken bytes: they stay
 * with it and come first once it reads again; none is lost or
 * reordered. Run both ways: bytes already taken by the read, and not. */
START_TEST(test_ring__change_keeps_read_bytes)
{
	for (int early = 0; early < 2; early++) {
		struct probe_watch p = {0};
		char got[16];
		size_t n = 0;
		int sv[2];

		if (ring_or_skip() == NULL)
			return;
		pair(sv);
		ring_watch_init(&p.w, ring, probe_cb);
		ring_watch_set(&p.w, sv[0], EV_READ | RING_WANT_DATA);
		if (early)
			turn(); /* the read is in flight before the bytes */
		ck_assert_int_eq(write(sv[1], "ab", 2), 2);
		ring_watch_set(&p.w, sv[0], EV_WRITE);
		ck_assert_int_eq(write(sv[1], "cd", 2), 2);
		ring_watch_set(&p.w, sv[0], EV_READ | RING_WANT_DATA);
		for (int i = 0; i < 20 && n < 4; i++) {
			ssize_t k;

			turn();
			k = ring_watch_recv(&p.w, sv[0], got + n,
					    sizeof(got) - n);
			if (k > 0)
				n += (size_t)k;
		}
		ck_assert_uint_eq(n, 4);
		ck_assert(memcmp(got, "abcd", 4) == 0);
		ring_watch_set(&p.w, -1, 0);
		close(sv[0]);
		close(sv[1]);
		ring_done();
	}
}
END_TEST

/* What a watch held goes back to the ring when the watch ends: many more
 * rounds than the ring has buffers, and the last read still comes
 * through the ring. */
START_TEST(test_ring__read_buffers_come_back)
{
	struct probe_watch p = {0};
	int sv[2];

	if (ring_or_skip() == NULL)
		return;
	pair(sv);
	ring_watch_init(&p.w, ring, probe_cb);
	for (int i = 0; i < 600; i++) {
		ring_watch_set(&p.w, sv[0], EV_READ | RING_WANT_DATA);
		ck_assert_int_eq(write(sv[1], "y", 1), 1);
		p.had_data = 0;
		turn();
		ck_assert_msg(p.had_data, "round %d: no buffer", i);
		ring_watch_set(&p.w, -1, 0); /* its byte is dropped */
	}
	ring_watch_set(&p.w, -1, 0);
	close(sv[0]);
	close(sv[1]);
	ring_done();
}
END_TEST

/* A connected TCP pair on loopback, both ends non-blocking (the kernel
 * says "more follows" after a TCP read only). */
static void
tcp_pair(int sv[2])
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	sv[1] = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(sv[1], (struct sockaddr *)&a, sizeof(a)), 0);
	sv[0] = accept(l, NULL, NULL);
	ck_assert_int_ge(sv[0], 0);
	close(l);
	ck_assert_int_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
}

/* RING_WANT_DATA with RING_WANT_FIN on TCP: an answer and the FIN behind
 * it come as one event, RING_READ_FIN said, the bytes then the EOF handed
 * out; an answer without a FIN comes without it. */
START_TEST(test_ring__read_then_fin)
{
	struct probe_watch p = {0};
	int sv[2];
	char buf[64];

	if (ring_or_skip() == NULL)
		return;
	tcp_pair(sv);
	ring_watch_init(&p.w, ring, probe_cb);
	ring_watch_set(&p.w, sv[0], EV_READ | RING_WANT_FIN | RING_WANT_DATA);
	ck_assert_int_eq(write(sv[1], "abc", 3), 3);
	turn();
	ck_assert_int_eq(p.last, EV_READ); /* no FIN yet */
	ck_assert_int_eq(ring_watch_recv(&p.w, sv[0], buf, sizeof(buf)), 3);
	ck_assert(!ring_watch_has_data(&p.w));
	ck_assert_int_eq(write(sv[1], "defg", 4), 4);
	ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
	p.calls = 0;
	for (int i = 0; i < 5 && p.calls == 0; i++)
		turn();
	ck_assert_int_ge(p.calls, 1); /* (again while not taken) */
	ck_assert_int_eq(p.last, EV_READ | RING_READ_FIN);
	ck_assert_int_eq(ring_watch_recv(&p.w, sv[0], buf, sizeof(buf)), 4);
	ck_assert(memcmp(buf, "defg", 4) == 0);
	ck_assert_int_eq(ring_watch_recv(&p.w, sv[0], buf, sizeof(buf)), 0);
	ring_watch_set(&p.w, -1, 0);
	close(sv[0]);
	close(sv[1]);
	ring_done();
}
END_TEST

/* A listening socket (non-blocking, as PortMux's) and a client of it. */
static int
listener(struct sockaddr_in *a)
{
	socklen_t alen = sizeof(*a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)a, sizeof(*a)), 0);
	ck_assert_int_eq(listen(l, 16), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)a, &alen), 0);
	return l;
}

static int
client_of(const struct sockaddr_in *a, struct sockaddr_in *local)
{
	socklen_t llen = sizeof(*local);
	int c = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_eq(connect(c, (const struct sockaddr *)a, sizeof(*a)),
			 0);
	ck_assert_int_eq(getsockname(c, (struct sockaddr *)local, &llen), 0);
	return c;
}

/* RING_WANT_ACCEPT: the ring accepts; ring_watch_accept hands out the
 * connection with its peer's address. Nothing before a client comes. */
START_TEST(test_ring__accepts_for_watch)
{
	struct probe_watch p = {0};
	struct sockaddr_in a, local, peer;
	socklen_t plen = sizeof(peer);
	int l, c, fd;

	if (ring_or_skip() == NULL)
		return;
	l = listener(&a);
	ring_watch_init(&p.w, ring, probe_cb);
	ring_watch_set(&p.w, l, EV_READ | RING_WANT_ACCEPT);
	turn();
	ck_assert_int_eq(p.calls, 0);
	c = client_of(&a, &local);
	for (int i = 0; i < 5 && p.calls == 0; i++)
		turn();
	ck_assert_int_ge(p.calls, 1);
	ck_assert_int_eq(p.last, EV_READ);
	/* It is the ring's: the socket's queue is empty. */
	ck_assert_int_eq(accept(l, NULL, NULL), -1);
	fd = ring_watch_accept(&p.w, l, (struct sockaddr *)&peer, &plen);
	ck_assert_int_ge(fd, 0);
	ck_assert_uint_eq(plen, sizeof(peer));
	ck_assert_uint_eq(peer.sin_port, local.sin_port);
	ck_assert_int_eq(write(c, "z", 1), 1);
	ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
	close(c);
	ring_watch_set(&p.w, -1, 0);
	close(l);
	ring_done();
}
END_TEST

/* Stopped (accept paused) with a connection accepted: it is handed out
 * once the watch accepts again. Ended with one: it is closed (its client
 * reads the end). */
START_TEST(test_ring__accept_stop_keeps_end_closes)
{
	struct probe_watch p = {0};
	struct sockaddr_in a, local, peer;
	socklen_t plen = sizeof(peer);
	int l, c, fd;
	char b;

	if (ring_or_skip() == NULL)
		return;
	l = listener(&a);
	ring_watch_init(&p.w, ring, probe_cb);
	ring_watch_set(&p.w, l, EV_READ | RING_WANT_ACCEPT);
	turn();
	c = client_of(&a, &local);
	ring_watch_set(&p.w, l, 0); /* paused */
	p.calls = 0;
	turn();
	ck_assert_int_eq(p.calls, 0);
	ring_watch_set(&p.w, l, EV_READ | RING_WANT_ACCEPT);
	for (int i = 0; i < 5 && p.calls == 0; i++)
		turn();
	ck_assert_int_ge(p.calls, 1);
	fd = ring_watch_accept(&p.w, l, (struct sockaddr *)&peer, &plen);
	ck_assert_int_ge(fd, 0);
	ck_assert_uint_eq(peer.sin_port, local.sin_port);
	close(fd);
	close(c);
	/* A second client, accepted and held when the watch ends. */
	c = client_of(&a, &local);
	p.calls = 0;
	for (int i = 0; i < 5 && p.calls == 0; i++)
		turn();
	ck_assert_int_ge(p.calls, 1);
	ring_watch_set(&p.w, -1, 0);
	ck_assert_int_le(read(c, &b, 1), 0);
	close(c);
	close(l);
	ring_done();
}
END_TEST

START_TEST(test_ring__close)
{
	int sv[2], sw[2];

	if (ring_or_skip() == NULL)
		return;
	pair(sv);
	pair(sw);
	ring_close(ring, sv[0]);
	ck_assert_int_ge(fcntl(sv[0], F_GETFD), 0); /* open until the turn */
	turn();
	errno = 0;
	ck_assert_int_eq(fcntl(sv[0], F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
	ring_close(ring, sw[0]);
	ring_done();
	errno = 0;
	ck_assert_int_eq(fcntl(sw[0], F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
	close(sv[1]);
	close(sw[1]);
}
END_TEST

/* More closes in one turn than the submission queue holds (1,024): the
 * queue is handed over as it fills, and every descriptor is closed. */
START_TEST(test_ring__closes_beyond_queue)
{
	enum { PAIRS = 1500 };
	int (*sv)[2] = calloc(PAIRS, sizeof(*sv));
	int open_left = 0;

	ck_assert_ptr_nonnull(sv);
	if (ring_or_skip() == NULL) {
		free(sv);
		return;
	}
	for (int i = 0; i < PAIRS; i++)
		pair(sv[i]);
	for (int i = 0; i < PAIRS; i++) {
		ring_close(ring, sv[i][0]);
		ring_close(ring, sv[i][1]);
	}
	turn();
	for (int i = 0; i < PAIRS; i++)
		for (int k = 0; k < 2; k++)
			open_left += fcntl(sv[i][k], F_GETFD) >= 0;
	ck_assert_int_eq(open_left, 0);
	free(sv);
	ring_done();
}
END_TEST

Suite *make_suite_ring(void);
Suite *
make_suite_ring(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("watch");

	tcase_add_test(tc, test_ring__level_triggered);
	tcase_add_test(tc, test_ring__read_fin);
	tcase_add_test(tc, test_ring__stays_armed_after_many_rounds);
	tcase_add_test(tc, test_ring__stopped_watch_is_quiet);
	tcase_add_test(tc, test_ring__freed_watch_not_touched);
	tcase_add_test(tc, test_ring__pending_lost_when_stopped);
	tcase_add_test(tc, test_ring__many_watches);
	tcase_add_test(tc, test_ring__close);
	tcase_add_test(tc, test_ring__closes_beyond_queue);
	tcase_add_test(tc, test_ring__reads_for_watch);
	tcase_add_test(tc, test_ring__whole_buffer_then_socket);
	tcase_add_test(tc, test_ring__change_keeps_read_bytes);
	tcase_add_test(tc, test_ring__read_buffers_come_back);
	tcase_add_test(tc, test_ring__read_then_fin);
	tcase_add_test(tc, test_ring__accepts_for_watch);
	tcase_add_test(tc, test_ring__accept_stop_keeps_end_closes);
	suite_add_tcase(s, tc);
	return s;
}
