/* udp.c — UDP listener, flow table and datagram relay. */
#include "udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "decide.h"
#include "log.h"
#include "probe.h"
#include "probe_pool.h"

#define UDP_DATAGRAM_MAX 65536
#define UDP_BATCH 64 /* datagrams per event: fairness */
#define UDP_QUEUE_MAX 16 /* datagrams kept while a flow is being decided,
			   the first one included */
#define SWEEP_INTERVAL 1.0
#define UDP_BUCKETS 1024

union peer {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

/* A datagram kept while its flow is being decided. */
struct dgram {
	STAILQ_ENTRY(dgram) next;
	size_t len;
	uint8_t data[];
};

/*
 * A client address's flow. It starts DECIDING (fd < 0): its first datagram
 * goes through the detectors — a blocking one (Python) on the probe pool,
 * while later datagrams wait in a short queue — then it is connected to the
 * backend and the queue is flushed.
 */
struct udp_flow {
	ev_io io; /* backend socket */
	int fd;   /* -1 while deciding */
	struct udp_listener *l;
	struct generation *gen; /* one ref: its backend lives there */
	const struct backend *backend; /* NULL while deciding */
	struct backend *own_backend;   /* a detector's explicit answer */
	struct probe_state pstate;
	struct probe_job *job;         /* a blocking detector deciding */
	STAILQ_HEAD(, dgram) queue;    /* while deciding, the first one
					  included */
	int nqueue;
	union peer client;
	socklen_t client_len;
	ev_tstamp started, last;
	uint64_t id, up, down;
	int16_t det;
	struct udp_flow *hnext;           /* hash chain */
	TAILQ_ENTRY(udp_flow) lru;        /* l->lru */
};

static uint64_t next_flow_id; /* atomic: all workers */

static size_t
peer_hash(const union peer *p, size_t nbuckets)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	const uint8_t *b;
	size_t n;

	if (p->sa.sa_family == AF_INET) {
		b = (const uint8_t *)&p->sin.sin_addr;
		n = 4;
		h = (h ^ p->sin.sin_port) * 1099511628211ull;
	} else {
		b = (const uint8_t *)&p->sin6.sin6_addr;
		n = 16;
		h = (h ^ p->sin6.sin6_port) * 1099511628211ull;
	}
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return (size_t)(h & (nbuckets - 1));
}

static int
peer_equal(const union peer *a, const union peer *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return 0;
	if (a->sa.sa_family == AF_INET)
		return a->sin.sin_port == b->sin.sin_port &&
		       a->sin.sin_addr.s_addr == b->sin.sin_addr.s_addr;
	return a->sin6.sin6_port == b->sin6.sin6_port &&
	       memcmp(&a->sin6.sin6_addr, &b->sin6.sin6_addr, 16) == 0;
}

static void
flow_touch(struct udp_flow *f)
{
	struct udp_listener *l = f->l;

	f->last = ev_now(l->lc->loop);
	if (TAILQ_FIRST(&l->lru) != f) {
		TAILQ_REMOVE(&l->lru, f, lru);
		TAILQ_INSERT_HEAD(&l->lru, f, lru);
	}
}

/* Empty the flow's queue, sending each datagram to the backend first when
 * `send_them`. */
static void
queue_clear(struct udp_flow *f, int send_them)
{
	struct dgram *d;

	while ((d = STAILQ_FIRST(&f->queue)) != NULL) {
		STAILQ_REMOVE_HEAD(&f->queue, next);
		if (send_them)
			(void)send(f->fd, d->data, d->len, 0);
		free(d);
	}
	f->nqueue = 0;
}

static void
flow_free(struct udp_flow *f, const char *reason)
{
	struct udp_listener *l = f->l;
	struct udp_flow **pp = &l->buckets[peer_hash(&f->client, l->nbuckets)];
	char client[ADDR_TEXT_MAX];

	log_info("close udp=%llu client=%s detector=%s backend=%s up=%llu "
		 "down=%llu duration=%.3f reason=%s",
		 (unsigned long long)f->id,
		 addr_format(&f->client.sa, client, sizeof(client)),
		 f->det >= 0 ? f->gen->dets[f->det].name : "-",
		 f->backend ? f->backend->text : "-",
		 (unsigned long long)f->up, (unsigned long long)f->down,
		 f->last - f->started, reason);
	while (*pp != f)
		pp = &(*pp)->hnext;
	*pp = f->hnext;
	TAILQ_REMOVE(&l->lru, f, lru);
	if (f->fd >= 0)
		l->nflows--;
	else
		l->ndeciding--;
	if (f->fd >= 0) {
		ev_io_stop(l->lc->loop, &f->io);
		close(f->fd);
	}
	if (f->job != NULL)
		probe_job_abandon(f->job); /* the pool frees it */
	queue_clear(f, 0);
	backend_destroy(f->own_backend);
	generation_unref(f->gen);
	free(f);
}

/* Datagrams from the backend go back to the client, from our port. */
static void
flow_cb(EV_P_ ev_io *io, int revents)
{
	struct udp_flow *f = (struct udp_flow *)io;
	uint8_t *buf = f->l->lc->scratch;

	(void)loop;
	(void)revents;
	for (int i = 0; i < UDP_BATCH; i++) {
		ssize_t n = recv(f->fd, buf, f->l->lc->scratch_size, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			/* ICMP unreachable from the backend: drop the flow,
			 * the next datagram opens a new one. */
			flow_free(f, "backend_unreachable");
			return;
		}
		f->down += (uint64_t)n;
		flow_touch(f);
		if (sendto(f->l->fd, buf, (size_t)n, 0, &f->client.sa,
			   f->client_len) < 0 &&
		    errno != EAGAIN)
			log_debug("udp=%llu sendto client: %s",
				  (unsigned long long)f->id, strerror(errno));
	}
}

static struct udp_flow *
flow_find(struct udp_listener *l, const union peer *p)
{
	struct udp_flow *f = l->buckets[peer_hash(p, l->nbuckets)];

	while (f != NULL && !peer_equal(&f->client, p))
		f = f->hnext;
	return f;
}

/* The table is full: the least recently active connected flow goes (a
 * flow still being decided never pushes a live one out). */
static void
flow_make_room(struct udp_listener *l, struct udp_flow *keep)
{
	struct udp_flow *f = TAILQ_LAST(&l->lru, udp_lru);

	while (f != NULL && (f->fd < 0 || f == keep))
		f = TAILQ_PREV(f, udp_lru, lru);
	if (f != NULL)
		flow_free(f, "evicted");
}

/* The decision is made: connect to b and send what waited. */
static void
flow_connect(struct udp_flow *f, const struct backend *b)
{
	const struct addr_set *set = backend_addrs(b);
	int fd = -1;

	if ((long)f->l->nflows >= f->gen->cfg->udp_max_flows)
		flow_make_room(f->l, f);
	f->backend = b;
	/* The first address that takes a socket; UDP connect() only sets the
	 * peer, so failures show up as ICMP errors later. */
	for (int i = 0; i < set->n && fd < 0; i++) {
		const struct sockaddr *sa =
			(const struct sockaddr *)&set->a[i].ss;
		fd = socket(sa->sa_family,
			    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, sa, set->a[i].len) < 0) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) {
		log_warn("udp: cannot open a socket to %s: %s", b->text,
			 strerror(errno));
		flow_free(f, "backend_unreachable");
		return;
	}
	f->fd = fd;
	f->l->ndeciding--;
	f->l->nflows++;
	ev_io_init(&f->io, flow_cb, fd, EV_READ);
	ev_io_start(f->l->lc->loop, &f->io);
	queue_clear(f, 1);
}

/* A detector's answer: its explicit backend, or its route table's. */
static void
flow_route(struct udp_flow *f, int det, const struct pmx_probe_result *res,
	   struct probe_job *job)
{
	const struct backend *b;

	f->det = (int16_t)det;
	b = decide_backend(f->gen, det, res, PMX_TRANSPORT_UDP, job,
			   &f->own_backend, "udp", f->id);
	if (b == NULL) {
		flow_free(f, "no_route");
		return;
	}
	flow_connect(f, b);
}

static void flow_decide(struct udp_flow *f);

/* A blocking detector's answer, back on the loop. */
static void
flow_probe_done(struct probe_job *job)
{
	struct udp_flow *f = job->owner;
	int r;

	f->job = NULL;
	r = probe_apply(&f->pstate, job->index, job->verdict, job->in.final);
	if (r == PROBE_MATCH)
		flow_route(f, job->index, &job->res, job);
	else
		flow_decide(f); /* on to the next detectors */
	probe_job_free(job);
}

/* Nobody claims the datagram: drop the flow, and say so now and then
 * (the source address of a datagram may be forged). */
static void
flow_unclaimed(struct udp_flow *f)
{
	unsigned long dropped;
	char client[ADDR_TEXT_MAX];

	if (log_ratelimit_ok(&f->l->drop_rl, &dropped))
		log_info("udp: datagram from %s claimed by no detector, "
			 "dropped (%lu similar suppressed)",
			 addr_format(&f->client.sa, client, sizeof(client)),
			 dropped);
	flow_free(f, "unclaimed");
}

/* Run the detectors on the flow's first datagram (whole, so final). */
static void
flow_decide(struct udp_flow *f)
{
	struct udp_listener *l = f->l;
	struct pmx_probe_input in = {
		.data = STAILQ_FIRST(&f->queue)->data,
		.len = STAILQ_FIRST(&f->queue)->len,
		.capacity = STAILQ_FIRST(&f->queue)->len,
		.final = 1,
		.transport = PMX_TRANSPORT_UDP,
		.peer = &f->client.sa,
		.peer_len = f->client_len,
		.local = (const struct sockaddr *)&l->addr.ss,
		.local_len = l->addr.len,
		.deadline = decide_deadline(l->lc, f->started,
					    f->gen->cfg->probe_deadline),
	};
	struct pmx_probe_result res;
	int det = -1;
	int outcome = decide_run(l->lc, f->gen, &f->pstate, &in, &res, &det, f,
				 flow_probe_done, &f->job);

	if (outcome == PROBE_MATCH)
		flow_route(f, det, &res, NULL);
	else if (outcome != PROBE_ASYNC)
		flow_unclaimed(f);
}

/* A new client address: its flow, deciding. */
static struct udp_flow *
flow_new(struct udp_listener *l, const union peer *p, socklen_t plen)
{
	struct loop_ctx *lc = l->lc;
	struct udp_flow *f;
	size_t h;

	/* Undecided flows are bounded on their own: datagrams from many
	 * addresses that nobody claims cannot fill memory. */
	if ((long)l->ndeciding >= lc->gen->cfg->udp_max_flows)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->fd = -1;
	f->l = l;
	f->gen = lc->gen;
	generation_ref(f->gen);
	f->det = -1;
	STAILQ_INIT(&f->queue);
	memcpy(&f->client, p, plen);
	f->client_len = plen;
	f->id = __atomic_add_fetch(&next_flow_id, 1, __ATOMIC_RELAXED);
	f->started = f->last = ev_now(lc->loop);
	h = peer_hash(p, l->nbuckets);
	f->hnext = l->buckets[h];
	l->buckets[h] = f;
	TAILQ_INSERT_HEAD(&l->lru, f, lru);
	l->ndeciding++;
	return f;
}

/* Keep a datagram while the flow is decided (a short queue: more are
 * dropped, as a congested link would). 1 if it is the first. */
static int
flow_enqueue(struct udp_flow *f, const uint8_t *data, size_t len)
{
	struct dgram *d;

	if (f->nqueue >= UDP_QUEUE_MAX)
		return 0;
	d = malloc(sizeof(*d) + len);
	if (d == NULL)
		return 0;
	d->len = len;
	memcpy(d->data, data, len);
	STAILQ_INSERT_TAIL(&f->queue, d, next);
	return ++f->nqueue == 1;
}

static void
listener_cb(EV_P_ ev_io *io, int revents)
{
	struct udp_listener *l = (struct udp_listener *)io;
	uint8_t *buf = l->lc->scratch;

	(void)loop;
	(void)revents;
	for (int i = 0; i < UDP_BATCH; i++) {
		union peer p;
		socklen_t plen = sizeof(p);
		ssize_t n = recvfrom(l->fd, buf, l->lc->scratch_size, 0, &p.sa,
				     &plen);
		struct udp_flow *f;

		if (n < 0)
			return; /* EAGAIN, or an ICMP error for a client */
		f = flow_find(l, &p);
		if (f == NULL && (f = flow_new(l, &p, plen)) == NULL)
			continue;
		f->up += (uint64_t)n;
		flow_touch(f);
		if (f->fd < 0) { /* being decided */
			if (flow_enqueue(f, buf, (size_t)n) && f->job == NULL)
				flow_decide(f);
			continue;
		}
		if (send(f->fd, buf, (size_t)n, 0) < 0 && errno != EAGAIN &&
		    errno != ENOBUFS)
			flow_free(f, "backend_unreachable");
	}
}

static void
sweep_cb(EV_P_ ev_timer *t, int revents)
{
	struct udp_listener *l = t->data;
	ev_tstamp now = ev_now(EV_A);
	double idle = l->lc->gen->cfg->udp_timeout;
	struct udp_flow *f;

	(void)revents;
	while ((f = TAILQ_LAST(&l->lru, udp_lru)) != NULL &&
	       now - f->last >= idle)
		flow_free(f, "idle");
}

int
udp_listener_start(struct udp_listener *l, struct loop_ctx *lc, int fd,
		   const struct addr *a, const char *text)
{
	memset(l, 0, sizeof(*l));
	l->fd = fd;
	l->lc = lc;
	l->addr = *a;
	snprintf(l->text, sizeof(l->text), "%s", text);
	l->nbuckets = UDP_BUCKETS;
	l->buckets = calloc(l->nbuckets, sizeof(*l->buckets));
	if (l->buckets == NULL) {
		close(fd);
		l->fd = -1;
		return -1;
	}
	TAILQ_INIT(&l->lru);
	ev_io_init(&l->io, listener_cb, l->fd, EV_READ);
	ev_io_start(lc->loop, &l->io);
	ev_timer_init(&l->sweep, sweep_cb, SWEEP_INTERVAL, SWEEP_INTERVAL);
	l->sweep.data = l;
	ev_timer_start(lc->loop, &l->sweep);
	return 0;
}

void
udp_listener_stop(struct udp_listener *l)
{
	if (l->fd < 0)
		return;
	while (!TAILQ_EMPTY(&l->lru))
		flow_free(TAILQ_FIRST(&l->lru), "shutdown");
	ev_io_stop(l->lc->loop, &l->io);
	ev_timer_stop(l->lc->loop, &l->sweep);
	close(l->fd);
	l->fd = -1;
	free(l->buckets);
	l->buckets = NULL;
}
