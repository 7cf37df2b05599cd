/* udp.c — UDP listener, flow table and datagram relay. */
#include "udp.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "probe.h"
#include "probe_pool.h"
#include "sockopt.h"
#include "worker.h"

#define UDP_DATAGRAM_MAX 65536
#define UDP_BATCH 64 /* datagrams per event: fairness */
#define UDP_QUEUE_MAX 16 /* datagrams kept while a flow is being decided */
#define SWEEP_INTERVAL 1.0

union peer {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

/* A datagram kept while its flow is being decided. */
struct dgram {
	struct dgram *next;
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
	struct dgram *queue, **queue_tail;
	int nqueue;
	union peer client;
	socklen_t client_len;
	ev_tstamp started, last;
	uint64_t id, up, down;
	int16_t det;
	struct udp_flow *hnext;           /* hash chain */
	struct udp_flow *prev, *next;     /* LRU list */
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
lru_unlink(struct udp_listener *l, struct udp_flow *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		l->lru_head = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		l->lru_tail = f->prev;
	f->prev = f->next = NULL;
}

static void
lru_front(struct udp_listener *l, struct udp_flow *f)
{
	f->next = l->lru_head;
	f->prev = NULL;
	if (l->lru_head)
		l->lru_head->prev = f;
	l->lru_head = f;
	if (l->lru_tail == NULL)
		l->lru_tail = f;
}

static void
flow_touch(struct udp_flow *f)
{
	f->last = ev_now(f->l->w->loop);
	if (f->l->lru_head != f) {
		lru_unlink(f->l, f);
		lru_front(f->l, f);
	}
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
	lru_unlink(l, f);
	if (f->fd >= 0)
		l->nflows--;
	else
		l->ndeciding--;
	if (f->fd >= 0) {
		ev_io_stop(l->w->loop, &f->io);
		close(f->fd);
	}
	if (f->job != NULL)
		probe_job_abandon(f->job); /* the pool frees it */
	while (f->queue != NULL) {
		struct dgram *d = f->queue;
		f->queue = d->next;
		free(d);
	}
	if (f->own_backend != NULL) {
		backend_free(f->own_backend);
		free(f->own_backend);
	}
	generation_unref(f->gen);
	free(f);
}

/* Datagrams from the backend go back to the client, from our port. */
static void
flow_cb(EV_P_ ev_io *io, int revents)
{
	struct udp_flow *f = (struct udp_flow *)io;
	uint8_t *buf = f->l->w->scratch;

	(void)loop;
	(void)revents;
	for (int i = 0; i < UDP_BATCH; i++) {
		ssize_t n = recv(f->fd, buf, f->l->w->scratch_size, 0);
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

static void flow_decide(struct udp_flow *f);

/* The table is full: the least recently active connected flow goes (a
 * flow still being decided never pushes a live one out). */
static void
flow_make_room(struct udp_listener *l, struct udp_flow *keep)
{
	struct udp_flow *f = l->lru_tail;

	while (f != NULL && (f->fd < 0 || f == keep))
		f = f->prev;
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
	ev_io_start(f->l->w->loop, &f->io);
	while (f->queue != NULL) {
		struct dgram *d = f->queue;
		f->queue = d->next;
		(void)send(f->fd, d->data, d->len, 0);
		free(d);
	}
	f->queue_tail = &f->queue;
	f->nqueue = 0;
}

/* A detector's answer: its explicit backend, or its route table's. */
static void
flow_route(struct udp_flow *f, int det, const struct pmx_probe_result *res,
	   struct probe_job *job)
{
	const struct detector_inst *d = &f->gen->dets[det];
	const struct backend *b = NULL;
	char err[256] = "out of memory";

	f->det = (int16_t)det;
	__atomic_add_fetch(&f->gen->dets[det].matches, 1, __ATOMIC_RELAXED);
	if (res->backend[0]) {
		if (job != NULL) { /* resolved on the pool thread */
			f->own_backend = job->backend;
			job->backend = NULL;
			snprintf(err, sizeof(err), "%s", job->backend_err);
		} else if ((f->own_backend = calloc(
				    1, sizeof(*f->own_backend))) != NULL &&
			   backend_from_text(res->backend, 0, f->own_backend,
					     err, sizeof(err)) < 0) {
			free(f->own_backend);
			f->own_backend = NULL;
		}
		if (f->own_backend == NULL)
			log_warn("udp=%llu detector=%s returned a bad backend "
				 "'%s': %s",
				 (unsigned long long)f->id, d->name,
				 res->backend, err);
		b = f->own_backend;
	} else if (d->routes != NULL) {
		b = route_lookup(d->routes, res->key[0] ? res->key : "udp",
				 res->alpn);
	}
	if (b == NULL) {
		flow_free(f, "no_route");
		return;
	}
	flow_connect(f, b);
}

/* A blocking detector's answer, back on the loop. */
static void
flow_probe_done(struct probe_job *job)
{
	struct udp_flow *f = job->owner;
	int r;

	f->job = NULL;
	r = probe_apply(&f->pstate, job->index, job->verdict, 1);
	if (r == PROBE_MATCH)
		flow_route(f, job->index, &job->res, job);
	else
		flow_decide(f); /* on to the next detectors */
	probe_job_free(job);
}

/* Run the detectors on the flow's first datagram (whole, so final). */
static void
flow_decide(struct udp_flow *f)
{
	struct udp_listener *l = f->l;
	struct pmx_probe_input in = {
		.data = f->queue->data,
		.len = f->queue->len,
		.capacity = f->queue->len,
		.final = 1,
		.transport = PMX_TRANSPORT_UDP,
		.peer = &f->client.sa,
		.peer_len = f->client_len,
		.local = (const struct sockaddr *)&l->addr.ss,
		.local_len = l->addr.len,
	};
	struct pmx_probe_result res;
	struct probe_pool *pool;
	int det = -1;
	int outcome = probe_run(f->gen, &f->pstate, &in, &res, &det);

	if (outcome == PROBE_MATCH) {
		flow_route(f, det, &res, NULL);
	} else if (outcome == PROBE_ASYNC &&
		   (pool = worker_pool(l->w)) != NULL &&
		   (f->job = probe_job_new(f->gen, det, &in, f,
					   flow_probe_done)) != NULL) {
		probe_pool_submit(pool, f->job);
	} else if (outcome == PROBE_ASYNC) {
		f->pstate.declined |= 1ull << det; /* cannot run it */
		flow_decide(f);
	} else {
		unsigned long dropped;
		char client[ADDR_TEXT_MAX];
		if (log_ratelimit_ok(&l->drop_rl, &dropped))
			log_info("udp: datagram from %s claimed by no "
				 "detector, dropped (%lu similar suppressed)",
				 addr_format(&f->client.sa, client,
					     sizeof(client)),
				 dropped);
		flow_free(f, "unclaimed");
	}
}

/* A new client address: its flow, deciding. */
static struct udp_flow *
flow_new(struct udp_listener *l, const union peer *p, socklen_t plen)
{
	struct worker *w = l->w;
	struct udp_flow *f;
	size_t h;

	/* Undecided flows are bounded on their own: datagrams from many
	 * addresses that nobody claims cannot fill memory. */
	if ((long)l->ndeciding >= w->gen->cfg->udp_max_flows)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->fd = -1;
	f->l = l;
	f->gen = w->gen;
	generation_ref(f->gen);
	f->det = -1;
	f->queue_tail = &f->queue;
	memcpy(&f->client, p, plen);
	f->client_len = plen;
	f->id = __atomic_add_fetch(&next_flow_id, 1, __ATOMIC_RELAXED);
	f->started = f->last = ev_now(w->loop);
	h = peer_hash(p, l->nbuckets);
	f->hnext = l->buckets[h];
	l->buckets[h] = f;
	lru_front(l, f);
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
	d->next = NULL;
	d->len = len;
	memcpy(d->data, data, len);
	*f->queue_tail = d;
	f->queue_tail = &d->next;
	return ++f->nqueue == 1;
}

static void
listener_cb(EV_P_ ev_io *io, int revents)
{
	struct udp_listener *l = (struct udp_listener *)io;
	uint8_t *buf = l->w->scratch;

	(void)loop;
	(void)revents;
	for (int i = 0; i < UDP_BATCH; i++) {
		union peer p;
		socklen_t plen = sizeof(p);
		ssize_t n = recvfrom(l->fd, buf, l->w->scratch_size, 0, &p.sa,
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
	double idle = l->w->gen->cfg->udp_timeout;

	(void)revents;
	while (l->lru_tail != NULL && now - l->lru_tail->last >= idle)
		flow_free(l->lru_tail, "idle");
}

static int
listener_open(struct udp_listener *l, int shared, char *err, size_t errlen)
{
	l->fd = sockopt_bound_socket(&l->addr, SOCK_DGRAM, shared);
	if (l->fd < 0) {
		snprintf(err, errlen, "cannot listen on udp %s: %s", l->text,
			 strerror(errno));
		return -1;
	}
	return 0;
}

int
udp_start(struct worker *w, int shared, const struct activation *act,
	  char *err, size_t errlen)
{
	const struct config *cfg = w->gen->cfg;
	int adopted = act != NULL && act->n > 0;
	size_t n = adopted ? (w->index == 0 ? act->nudp : 0)
			   : (w->gen->udp ? cfg->nlisten : 0);

	if (n == 0)
		return 0;
	w->udp = calloc(n, sizeof(*w->udp));
	if (w->udp == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0, k = 0; i < n; i++) {
		struct udp_listener *l = &w->udp[i];

		l->w = w;
		l->fd = -1;
		l->nbuckets = 1024;
		l->buckets = calloc(l->nbuckets, sizeof(*l->buckets));
		if (adopted) {
			while (!act->sockets[k].udp)
				k++;
			l->addr = act->sockets[k].addr;
			memcpy(l->text, act->sockets[k].text, sizeof(l->text));
			l->fd = fcntl(act->sockets[k++].fd, F_DUPFD_CLOEXEC, 0);
			if (l->fd < 0)
				snprintf(err, errlen,
					 "socket from systemd (udp %s): %s",
					 l->text, strerror(errno));
		} else {
			l->addr = cfg->listen[i].addr;
			memcpy(l->text, cfg->listen[i].text, sizeof(l->text));
			if (l->buckets != NULL)
				listener_open(l, shared, err, errlen);
		}
		if (l->buckets == NULL || l->fd < 0) {
			if (l->fd >= 0)
				close(l->fd);
			free(l->buckets);
			udp_stop(w);
			return -1;
		}
		w->nudp++;
		ev_io_init(&l->io, listener_cb, l->fd, EV_READ);
		ev_io_start(w->loop, &l->io);
		ev_timer_init(&l->sweep, sweep_cb, SWEEP_INTERVAL,
			      SWEEP_INTERVAL);
		l->sweep.data = l;
		ev_timer_start(w->loop, &l->sweep);
		if (w->index == 0)
			log_info("listening on udp %s%s", l->text,
				 adopted ? " (from systemd)" : "");
	}
	return 0;
}

void
udp_stop(struct worker *w)
{
	for (size_t i = 0; i < w->nudp; i++) {
		struct udp_listener *l = &w->udp[i];
		while (l->lru_head != NULL)
			flow_free(l->lru_head, "shutdown");
		ev_io_stop(w->loop, &l->io);
		ev_timer_stop(w->loop, &l->sweep);
		close(l->fd);
		free(l->buckets);
	}
	free(w->udp);
	w->udp = NULL;
	w->nudp = 0;
}
