/* conn_kernel.c — a relaying connection in the kernel relay
 * (conn_kernel.h). */
#include "conn_kernel.h"

#include <errno.h>
#include <limits.h>
#include <linux/sockios.h> /* SIOCINQ, SIOCOUTQ */
#include <linux/tcp.h>     /* struct tcp_info with its byte counters */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "conn_internal.h"
#include "log.h"
#include "metrics.h"
#include "relay_kernel.h"

/* How many user-space relay events may pass before a connection gives up
 * going into the kernel relay (bytes keep arriving as it tries). */
#define KERNEL_TRIES 32
/* Waiting for redirected bytes to land before a FIN is passed on: first
 * look after this, then twice as long each time, up to WAIT_MAX. */
#define WAIT_FIRST 0.001
#define WAIT_MAX 0.1
/* Bytes the program passed up that the kernel holds for a connection, not
 * yet read, at most: beyond, the connection is closed (kernel_queue_full).
 * A client that sends and never reads, to a backend that stops reading
 * when its answers back up, makes them queue in the socket's sockmap
 * backlog behind those answers, where no receive buffer counts them and
 * TCP's window stays open. Looked at every GUARD_EVERY s while a side is
 * relayed by copy (the kernel wakes nobody for them). */
#define HELD_MAX (256u << 20)
#define GUARD_EVERY 0.1

/* How one side's bytes go to the other, as PortMux watches them. */
enum dir {
	DIR_KERNEL = 0, /* redirected by the program: its FIN is seen in its
			   TCP state */
	/* The program passed bytes up: they wait (in order) until every byte
	 * redirected before has landed, then DIR_USER. */
	DIR_SWITCH = 1,
	/* Read and sent on by copy here; once all passed up bytes are sent,
	 * the program is told it may redirect again (pmx_resume), and it does
	 * at its next skb if nothing was passed up meanwhile: then only the
	 * FIN (or more bytes passed up) wakes this side. */
	DIR_USER = 2,
};

/* Linux TCP states (include/net/tcp_states.h). */
enum {
	ST_ESTABLISHED = 1,
	ST_FIN_WAIT2 = 5,
	ST_TIME_WAIT = 6,
	ST_CLOSE = 7,
	ST_CLOSE_WAIT = 8,
	ST_LAST_ACK = 9,
	ST_CLOSING = 11,
};

/* A connection's part of the kernel relay. Owned by the connection
 * (c->kernel); conn_kernel_end() frees it. Index 0 is the client, 1 the
 * server. */
struct kpair {
	long pair;          /* its slots: 2 * pair (client), + 1 (server) */
	uint64_t cookie[2]; /* socket cookies: the keys of pmx_peers */
	/* Bytes written to each socket by user space before it went in (an
	 * upper bound): what the kernel writes comes on top. */
	uint64_t base[2];
	uint64_t read0[2];  /* each side's `bytes` (read by user space) then */
	uint64_t mark[2];   /* the last resume count written, + 1 (0: none) */
	uint64_t seen;      /* bytes moved, at the last conn_kernel_moved */
	uint8_t dir[2];     /* how side i's bytes go (enum dir) */
	/* Side i read as ready with nothing to read (its FIN, or bytes
	 * passed up still on their way: TCP counts them as unread): its
	 * reads wait for the timer (wait_to_read). */
	uint8_t read_wait[2];
	double read_after;  /* that look, in s (doubles each time; 0 once
			       bytes came) */
	uint8_t alone;      /* the server socket could not go in: both
			       directions stay in user space */
	double wait;        /* the next look for landed bytes, in s */
};

static struct side *
side_at(struct conn *c, int i)
{
	return i ? &c->server : &c->client;
}

/* Bytes of side i that user space read since c went in: all of them were
 * passed up by the program. */
static uint64_t
read_since_in(const struct conn *c, int i)
{
	const struct side *s = i ? &c->server : &c->client;

	return s->bytes - c->kernel->read0[i];
}

static int
tcp_info_of(int fd, struct tcp_info *ti)
{
	socklen_t len = sizeof(*ti);

	memset(ti, 0, sizeof(*ti));
	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, &len);
}

/*
 * Bytes written into fd's socket so far (plus a constant): the bytes its
 * peer acknowledged and those still in its send queue, read one after the
 * other. Acks arriving between the two reads make the sum too small when
 * the acks are read first (`upper` 0) and too large the other way round:
 * a check that must never pass early uses a lower bound against an upper
 * one. Both are exact once the acks stop moving.
 */
static int
written(int fd, int upper, uint64_t *out)
{
	struct tcp_info ti;
	int outq = 0;

	if (upper && ioctl(fd, SIOCOUTQ, &outq) < 0)
		return -1;
	if (tcp_info_of(fd, &ti) < 0)
		return -1;
	if (!upper && ioctl(fd, SIOCOUTQ, &outq) < 0)
		return -1;
	*out = ti.tcpi_bytes_acked + (uint64_t)(outq > 0 ? outq : 0);
	return 0;
}

/* The program's counts for side i's bytes. -1 with errno if they cannot
 * be read, or if the stream broke (repeated bytes the program could not
 * cut: going on would hand them over twice). */
static int
counts(const struct kpair *kp, int i, struct relay_kernel_counts *n)
{
	if (relay_kernel_peer_get(kp->cookie[i], n) < 0)
		return -1;
	if (n->broken) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

static void
set_lowat(struct conn *c, int v)
{
	(void)setsockopt(c->client.fd, SOL_SOCKET, SO_RCVLOWAT, &v,
			 sizeof(v));
	(void)setsockopt(c->server.fd, SOL_SOCKET, SO_RCVLOWAT, &v,
			 sizeof(v));
}

void
conn_relay_mode(struct conn *c)
{
	int mode = c->backend->relay >= 0 ? c->backend->relay
					  : c->gen->cfg->relay;

	c->zerocopy = mode == RELAY_SPLICE ||
		      (mode != RELAY_COPY &&
		       c->backend->priority != PRIO_LATENCY);
	c->kernel_try = mode == RELAY_KERNEL && relay_kernel_ready()
				? KERNEL_TRIES
				: 0;
	if (mode == RELAY_KERNEL && c->kernel_try == 0)
		metrics_kernel_relay(KERNEL_RELAY_UNAVAILABLE);
}

/* ---- going in ---- */

/* Is this the moment: both sockets open and drained, nothing pending?
 * 1 yes, 0 not yet, -1 never (an EOF came first, or a socket that is not
 * an established TCP socket). */
static int
moment(struct conn *c)
{
	for (int i = 0; i < 2; i++) {
		struct side *s = side_at(c, i);
		struct tcp_info ti;
		int inq = 0;

		if (s->eof || s->shut)
			return -1;
		if (side_pending(s) || side_has_read(c->lc, s))
			return 0;
		if (ioctl(s->fd, SIOCINQ, &inq) < 0 ||
		    tcp_info_of(s->fd, &ti) < 0 ||
		    ti.tcpi_state != ST_ESTABLISHED)
			return -1;
		if (inq != 0)
			return 0;
	}
	return 1;
}

static void kernel_update(struct conn *c);

/* Undo a half-made entry (no socket went in). */
static void
enter_undo(struct kpair *kp)
{
	(void)relay_kernel_peer_del(kp->cookie[0]);
	(void)relay_kernel_peer_del(kp->cookie[1]);
	relay_kernel_pair_put(kp->pair);
	free(kp);
}

/* Both sockets into the map. 0 in, -1 staying in user space (nothing
 * changed). */
static int
enter(struct conn *c)
{
	struct kpair *kp = calloc(1, sizeof(*kp));
	uint32_t slot;
	struct relay_kernel_counts n;

	if (kp == NULL)
		return -1;
	kp->pair = relay_kernel_pair_get();
	if (kp->pair < 0) {
		free(kp);
		return -1;
	}
	slot = (uint32_t)(2 * kp->pair);
	for (int i = 0; i < 2; i++) {
		socklen_t len = sizeof(kp->cookie[i]);

		/* The kernel's writes do not go through side_will_write. */
		side_nodelay_now(side_at(c, i));

		if (getsockopt(side_at(c, i)->fd, SOL_SOCKET, SO_COOKIE,
			       &kp->cookie[i], &len) < 0 ||
		    written(side_at(c, i)->fd, 1, &kp->base[i]) < 0) {
			relay_kernel_pair_put(kp->pair);
			free(kp);
			return -1;
		}
	}
	/* Bytes arriving now wait in the receive queues (no data-ready
	 * call below the low-water mark, unless the queue fills or a FIN
	 * comes) until both sockets are in. */
	set_lowat(c, INT_MAX);
	if (relay_kernel_peer_set(kp->cookie[0], slot + 1, kp->base[1]) < 0 ||
	    relay_kernel_peer_set(kp->cookie[1], slot, kp->base[0]) < 0 ||
	    relay_kernel_sock_set(slot, c->client.fd) < 0) {
		set_lowat(c, 1);
		enter_undo(kp);
		return -1;
	}
	if (relay_kernel_sock_set(slot + 1, c->server.fd) < 0) {
		/* The client is in, alone: its bytes go to user space (the
		 * program cannot redirect them) and the server's never go
		 * through the kernel. Both directions are relayed here. */
		kp->dir[0] = kp->dir[1] = DIR_USER;
		kp->alone = 1;
	}
	/* Back to 1: setting it runs the verdict on what waited. */
	set_lowat(c, 1);
	if (kp->dir[0] == DIR_KERNEL &&
	    relay_kernel_peer_get(kp->cookie[0], &n) == 0 && n.user)
		kp->dir[0] = DIR_SWITCH; /* (nothing was redirected) */
	kp->read0[0] = c->client.bytes;
	kp->read0[1] = c->server.bytes;
	c->kernel = kp;
	log_debug("conn=%llu relay: kernel%s", (unsigned long long)c->id,
		  kp->dir[1]   ? " refused the server socket; copying"
		  : kp->dir[0] ? " (client to server by copy)"
			       : "");
	return 0;
}

void
conn_kernel_try(struct conn *c)
{
	int m = moment(c);

	if (m < 0 || (m == 1 && enter(c) < 0)) {
		c->kernel_try = 0; /* user space for good */
		metrics_kernel_relay(KERNEL_RELAY_USER);
		return;
	}
	if (m == 0) {
		if (--c->kernel_try == 0)
			metrics_kernel_relay(KERNEL_RELAY_USER);
		return;
	}
	c->kernel_try = 0;
	metrics_kernel_relay(c->kernel->alone ? KERNEL_RELAY_USER
					      : KERNEL_RELAY_IN);
	kernel_update(c);
}

/* ---- relaying ---- */

/* The program passes side i's bytes up now: wait for what it redirected
 * before to land, then relay by copy. Its FIN, if seen, is read again
 * after the bytes that wait. */
static void
dir_switch(struct conn *c, int i)
{
	c->kernel->dir[i] = DIR_SWITCH;
	side_at(c, i)->eof = 0;
	log_debug("conn=%llu relay: kernel: the %s's bytes go by copy for a "
		  "while",
		  (unsigned long long)c->id, i ? "server" : "client");
}

/*
 * Did every byte of side i's reach the other side's send queue — those
 * the program redirected, and those user space read (it sends what it
 * reads, or keeps it pending)? 1 yes, 0 not yet, -1 error. The program's
 * count is final once side i's FIN was seen (the kernel handles a
 * segment's FIN and runs the verdict on its bytes under the socket's
 * lock, which the TCP_INFO read or recv() that saw the FIN waited for) or
 * once it passes them up; a kernel direction found passing them up
 * switches (*n: the counts read).
 */
static int
delivered(struct conn *c, int i, struct relay_kernel_counts *n)
{
	struct kpair *kp = c->kernel;
	uint64_t w, want;

	if (counts(kp, i, n) < 0 || written(side_at(c, !i)->fd, 0, &w) < 0)
		return -1;
	if (n->user && kp->dir[i] == DIR_KERNEL)
		dir_switch(c, i);
	want = kp->base[!i] + n->bytes + read_since_in(c, i);
	return w >= want;
}

/* An event on side i, whose bytes the kernel redirects: an error, bytes
 * the program passed up (the direction switches), or its FIN (seen in its
 * state, never by reading: a read could take bytes the program is about
 * to redirect). 0, or -1 with errno. */
static int
kernel_side_event(struct conn *c, int i)
{
	struct side *s = side_at(c, i);
	struct relay_kernel_counts n;
	struct tcp_info ti;
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	if (counts(c->kernel, i, &n) < 0)
		return -1;
	if (n.user) {
		dir_switch(c, i);
		return 0;
	}
	if (tcp_info_of(s->fd, &ti) < 0)
		return -1;
	switch (ti.tcpi_state) {
	case ST_CLOSE_WAIT:
	case ST_LAST_ACK:
	case ST_CLOSING:
	case ST_TIME_WAIT:
	case ST_CLOSE:
		s->eof = 1;
		break;
	default:
		break;
	}
	return 0;
}

/* Side i relays by copy and has sent on all it read: if that is every
 * byte the program passed up, tell it it may redirect again, and watch
 * the side as a kernel direction again (more bytes passed up — the
 * program did not resume, or paused again — switch it back once what it
 * redirected landed). */
static void
resume(struct conn *c, int i)
{
	struct kpair *kp = c->kernel;
	struct relay_kernel_counts n;
	uint64_t read = read_since_in(c, i);

	if (kp->alone || kp->mark[i] == read + 1 ||
	    relay_kernel_peer_get(kp->cookie[i], &n) < 0 || !n.user ||
	    n.passed != read)
		return;
	if (relay_kernel_resume(kp->cookie[i], read) == 0) {
		kp->mark[i] = read + 1;
		kp->dir[i] = DIR_KERNEL;
		log_debug("conn=%llu relay: kernel: the %s's bytes may be "
			  "redirected again after %llu by copy",
			  (unsigned long long)c->id, i ? "server" : "client",
			  (unsigned long long)read);
	}
}

/* The timer fires within `after` s: armed if it is not, or would fire
 * later; never pushed back (events may come more often than it). */
static void
timer_soon(struct conn *c, double after)
{
	if (!ev_is_active(&c->timer) ||
	    ev_timer_remaining(c->lc->loop, &c->timer) > after)
		timer_arm(c, after);
}

/* Like relay_update: pass FINs on once what preceded them landed, finish
 * when both are passed on, re-arm. May close c. */
static void
kernel_update(struct conn *c)
{
	struct kpair *kp = c->kernel;
	int waiting = 0, read_waiting = 0;

	if (!c->ended && (c->client.eof || c->server.eof) &&
	    conn_idle_update(c) < 0) {
		conn_close(c, "out_of_memory");
		return;
	}
	for (int i = 0; i < 2; i++) {
		struct side *src = side_at(c, i), *dst = side_at(c, !i);
		struct relay_kernel_counts n;
		int done;

		if (kp->dir[i] != DIR_SWITCH &&
		    (!src->eof || dst->shut || side_pending(dst)))
			continue;
		done = delivered(c, i, &n);
		if (done < 0) {
			conn_fail(c, i ? "client_error" : "server_error",
				  errno);
			return;
		}
		if (kp->dir[i] == DIR_SWITCH) {
			if (done) {
				kp->dir[i] = DIR_USER; /* its turn now */
			} else {
				waiting = 1;
			}
			continue;
		}
		if (done) {
			shutdown(dst->fd, SHUT_WR);
			dst->shut = 1;
		} else {
			waiting = 1;
		}
	}
	if (c->client.shut && c->server.shut) {
		/* Both directions are over and every byte landed. */
		conn_close(c, "eof");
		return;
	}
	for (int i = 0; i < 2; i++) {
		struct side *self = side_at(c, i), *other = side_at(c, !i);
		int ev = 0;

		if (kp->read_wait[i])
			read_waiting = 1;
		else if (!self->eof && (kp->dir[i] == DIR_KERNEL ||
					(kp->dir[i] == DIR_USER &&
					 !side_pending(other))))
			ev |= EV_READ;
		if (side_pending(self))
			ev |= EV_WRITE;
		side_arm(c, self, ev);
	}
	if (waiting) {
		kp->wait = kp->wait > 0 ? kp->wait * 2 : WAIT_FIRST;
		if (kp->wait > WAIT_MAX)
			kp->wait = WAIT_MAX;
	} else {
		kp->wait = 0;
	}
	if (read_waiting && (!waiting || kp->read_after < kp->wait))
		timer_soon(c, kp->read_after);
	else if (waiting)
		timer_soon(c, kp->wait);
	else if (kp->dir[0] != DIR_KERNEL || kp->dir[1] != DIR_KERNEL)
		timer_soon(c, GUARD_EVERY); /* (held_too_much) */
	else
		ev_timer_stop(c->lc->loop, &c->timer);
	/* What moved until now came with this event: the idle sweep asks
	 * about what moves after it. */
	(void)conn_kernel_moved(c);
}

/* Side i reads as ready with nothing queued: its FIN, or bytes passed up
 * still in the kernel's backlog (the socket reads as ready until they are
 * read, FIONREAD counts them only once they land). Look again after a
 * while, longer each time (they may wait for the other side's reader),
 * instead of spinning on the readiness. */
static void
wait_to_read(struct kpair *kp, int i)
{
	kp->read_after = kp->read_after > 0 ? kp->read_after * 2 : WAIT_FIRST;
	if (kp->read_after > WAIT_MAX)
		kp->read_after = WAIT_MAX;
	kp->read_wait[i] = 1;
}

/*
 * src (side i) shows its FIN and nothing to read: is that its end? Only
 * once every byte the program passed up was read. The kernel may still
 * hold some of them on their way up (in the socket's backlog, behind the
 * other side's redirected bytes that wait for room), invisible to
 * FIONREAD; it wakes the socket when they land. 1 yes, 0 not yet, -1
 * error.
 */
static int
passed_all_read(struct conn *c, int i)
{
	struct kpair *kp = c->kernel;
	struct relay_kernel_counts n;

	if (counts(kp, i, &n) < 0)
		return -1;
	if (read_since_in(c, i) >= n.passed)
		return 1;
	if (kp->read_after == 0)
		log_debug("conn=%llu relay: kernel: the %s's FIN came before "
			  "%llu of its bytes passed up: waiting for them",
			  (unsigned long long)c->id, i ? "server" : "client",
			  (unsigned long long)(n.passed -
					       read_since_in(c, i)));
	wait_to_read(kp, i);
	return 0;
}

/*
 * Copy what the program passed up from src to dst, whole messages only.
 * The kernel keeps them as messages of one skb each, and a read that ends
 * inside one was seen to hand bytes over twice (Linux 6.18, a 64 KiB
 * buffer: a few runs in a hundred of t_kernel_relay's backpressure part);
 * reading exactly the bytes queued (FIONREAD) never ends inside one. What
 * is queued is bounded by src's receive buffer. src's FIN is seen in its
 * state once nothing is queued. 0, or -1 with errno (*which: 0 src, 1
 * dst).
 */
static int
pump_whole(struct conn *c, int i, struct side *src, struct side *dst,
	   int *which)
{
	uint8_t *buf;
	ssize_t n, sent;
	int queued = 0, end;

	*which = 0;
	if (ioctl(src->fd, FIONREAD, &queued) < 0)
		return -1;
	if (queued <= 0) {
		struct tcp_info ti;

		if (tcp_info_of(src->fd, &ti) < 0)
			return -1;
		if (ti.tcpi_state == ST_CLOSE_WAIT ||
		    ti.tcpi_state == ST_LAST_ACK ||
		    ti.tcpi_state == ST_CLOSING ||
		    ti.tcpi_state == ST_TIME_WAIT ||
		    ti.tcpi_state == ST_CLOSE) {
			/* Bytes that came with the FIN are queued by now
			 * (the state was read under the socket's lock). */
			if (ioctl(src->fd, FIONREAD, &queued) < 0)
				return -1;
			if (queued <= 0) {
				end = passed_all_read(c, i);
				if (end < 0)
					return -1;
				src->eof = (uint8_t)end;
			}
		} else {
			wait_to_read(c->kernel, i);
		}
		if (queued <= 0)
			return 0;
	}
	c->kernel->read_after = 0;
	buf = malloc((size_t)queued);
	if (buf == NULL) {
		errno = ENOMEM;
		return -1;
	}
	n = recv(src->fd, buf, (size_t)queued, MSG_DONTWAIT);
	if (n <= 0) {
		free(buf);
		if (n == 0) {
			end = passed_all_read(c, i);
			if (end < 0)
				return -1;
			src->eof = (uint8_t)end;
			return 0;
		}
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	}
	src->bytes += (uint64_t)n;
	side_will_write(dst);
	sent = send(dst->fd, buf, (size_t)n, MSG_NOSIGNAL);
	if (sent < 0 && errno != EAGAIN && errno != EINTR) {
		free(buf);
		*which = 1;
		return -1;
	}
	if (sent < 0)
		sent = 0;
	if (sent < n) {
		dst->out = pbuf_copy(buf + sent, (size_t)(n - sent));
		if (dst->out == NULL) {
			free(buf);
			errno = ENOMEM;
			*which = 1;
			return -1;
		}
	}
	free(buf);
	return 0;
}

void
conn_kernel_event(struct conn *c, struct side *self, int revents)
{
	int i = self == &c->server;
	struct side *other = side_at(c, !i);
	const char *mine = i ? "server_error" : "client_error";
	int which = 0;

	conn_touch(c);
	if ((revents & EV_WRITE) && relay_flush(c->lc, self) < 0) {
		conn_fail(c, mine, errno);
		return;
	}
	if ((revents & EV_READ) && !self->eof) {
		if (c->kernel->dir[i] == DIR_KERNEL) {
			if (kernel_side_event(c, i) < 0) {
				conn_fail(c, mine, errno);
				return;
			}
		} else if (c->kernel->dir[i] == DIR_USER &&
			   !side_pending(other)) {
			struct relay_kernel_counts n;
			/* (a server left out of the map reads as usual) */
			int rc = c->kernel->alone && i == 1
					 ? relay_pump(c->lc, self, other, 0, 0,
						      &which)
				 : counts(c->kernel, i, &n) < 0
					 ? -1 /* (nothing read of a broken
						 stream) */
					 : pump_whole(c, i, self, other,
						      &which);

			if (rc < 0) {
				conn_fail(c, which == 0 ? mine
					  : i ? "client_error"
					      : "server_error",
					  errno);
				return;
			}
			if (!self->eof && !side_pending(other))
				resume(c, i);
		}
	}
	/* other's bytes waited for self: sent, they may resume too */
	if ((revents & EV_WRITE) && !side_pending(self) &&
	    c->kernel->dir[!i] == DIR_USER && !other->eof)
		resume(c, !i);
	kernel_update(c);
}

/* Does the kernel hold more than HELD_MAX of c's bytes passed up, unread?
 * Then it is logged (warning) and 1. */
static int
held_too_much(struct conn *c)
{
	struct kpair *kp = c->kernel;

	for (int i = 0; i < 2; i++) {
		struct relay_kernel_counts n;
		uint64_t read = read_since_in(c, i);

		if (relay_kernel_peer_get(kp->cookie[i], &n) < 0 ||
		    n.passed <= read || n.passed - read <= HELD_MAX)
			continue;
		log_warn("conn=%llu relay: kernel: the kernel holds %llu MiB "
			 "of the %s's bytes that the other side does not "
			 "take: closing",
			 (unsigned long long)c->id,
			 (unsigned long long)((n.passed - read) >> 20),
			 i ? "server" : "client");
		return 1;
	}
	return 0;
}

void
conn_kernel_timer(struct conn *c)
{
	if (held_too_much(c)) {
		conn_close(c, "kernel_queue_full");
		return;
	}
	/* (a side that waits for bytes passed up reads again) */
	c->kernel->read_wait[0] = c->kernel->read_wait[1] = 0;
	kernel_update(c);
}

int
conn_kernel_moved(struct conn *c)
{
	struct kpair *kp = c->kernel;
	uint64_t sum = 0;

	for (int i = 0; i < 2; i++) {
		struct relay_kernel_counts n;
		struct tcp_info ti;

		if (relay_kernel_peer_get(kp->cookie[i], &n) < 0 ||
		    tcp_info_of(side_at(c, i)->fd, &ti) < 0)
			return 0;
		sum += n.bytes + n.passed + ti.tcpi_bytes_acked;
		/* The ack of our FIN is no activity (its sequence number is
		 * in bytes_acked). */
		if (ti.tcpi_state == ST_FIN_WAIT2 ||
		    ti.tcpi_state == ST_TIME_WAIT)
			sum--;
	}
	if (sum == kp->seen)
		return 0;
	kp->seen = sum;
	return 1;
}

void
conn_kernel_end(struct conn *c)
{
	struct kpair *kp = c->kernel;

	for (int i = 0; i < 2; i++) {
		struct relay_kernel_counts n;

		/* (the bytes passed up are in `bytes`: user space read them) */
		if (relay_kernel_peer_get(kp->cookie[i], &n) < 0)
			continue;
		side_at(c, i)->bytes += n.bytes;
		if (n.repeated > 0)
			log_debug("conn=%llu relay: kernel: %llu of the %s's "
				  "bytes came twice from the kernel (a "
				  "retransmission): cut",
				  (unsigned long long)c->id,
				  (unsigned long long)n.repeated,
				  i ? "server" : "client");
	}
	/* Out of the map before close(): bytes still on their way are lost
	 * here, as pending ones are in user space (every normal end waited
	 * for them to land). */
	(void)relay_kernel_sock_del((uint32_t)(2 * kp->pair));
	(void)relay_kernel_sock_del((uint32_t)(2 * kp->pair + 1));
	(void)relay_kernel_peer_del(kp->cookie[0]);
	(void)relay_kernel_peer_del(kp->cookie[1]);
	relay_kernel_pair_put(kp->pair);
	free(kp);
	c->kernel = NULL;
}
