/* udp.c — UDP listener, flow table and datagram relay. */
#include "udp.h"

#include <errno.h>
#include <limits.h>
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
#include "sockopt.h"
#include "siphash.h"

#define UDP_DATAGRAM_MAX 65536
#define UDP_BATCH 64 /* datagrams per event: fairness */
#define SWEEP_INTERVAL 1.0
#define UDP_BUCKETS_MIN 16

union peer {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

/*
 * The datagrams a flow holds while it is decided — at most
 * PROBE_DATAGRAMS_MAX, the first included, within the listener's
 * udp_queue_bytes — back to back, as its detectors are shown them.
 */
struct held {
	size_t n;   /* datagrams */
	size_t len; /* their bytes */
	size_t end[PROBE_DATAGRAMS_MAX]; /* datagram i ends at end[i] */
	uint8_t data[];
};

/*
 * A client address's flow. It starts DECIDING (fd < 0): its datagrams are
 * held and go through the detectors — again with each new one while a
 * detector that reads datagrams needs more, until probe_deadline; a
 * blocking one (Python) on the probe pool, while later datagrams wait —
 * then it is CONNECTED to the backend and what it held is sent on, in
 * order, and ESTABLISHED once the backend answers.
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
	struct held *queue; /* while deciding (NULL until its first
			       datagram); freed by queue_clear */
	size_t held;    /* its bytes in l->held: queue, detector's copy */
	int hurried;    /* no room to wait: blocking detectors skipped */
	uint8_t final;  /* decide on what it holds: no room to wait, a
			   datagram it could not hold, or probe_deadline */
	uint8_t shown;  /* datagrams its detectors were last shown */
	union peer client;
	socklen_t client_len;
	ev_tstamp started, last;
	uint64_t id, up, down;
	int16_t det;
	uint8_t state;                    /* enum udp_flow_state */
	struct udp_source *src;           /* its source's count */
	struct udp_flow *hnext;           /* hash chain */
	TAILQ_ENTRY(udp_flow) lru;        /* l->lru[state] */
};

/*
 * Where flows come from, for udp_flows_per_source: an IPv4 address (an
 * IPv4-mapped IPv6 one too), or an IPv6 /64 — what one host or one site
 * usually has. Made with the first flow from there, freed with the last;
 * owned by the listener (l->sources).
 */
struct udp_source {
	struct udp_source *next; /* hash chain */
	uint8_t key[1 + 8];      /* 4 and the address, or 6 and the /64 */
	uint8_t keylen;
	uint32_t nflows;
};

static uint64_t next_flow_id; /* atomic: all workers */

/*
 * Flow sockets across all workers (atomic), and how many there may be:
 * set by main from the fd limit, less the descriptors TCP needs
 * (udp_set_fd_budget); unlimited until then.
 */
static long fds_open;
static long fd_budget = LONG_MAX;

void
udp_set_fd_budget(long n)
{
	__atomic_store_n(&fd_budget, n, __ATOMIC_RELAXED);
}

long
udp_fds_open(void)
{
	return __atomic_load_n(&fds_open, __ATOMIC_RELAXED);
}

/* Is every descriptor of the budget in use? */
static int
fds_spent(void)
{
	return udp_fds_open() >= __atomic_load_n(&fd_budget, __ATOMIC_RELAXED);
}

/* A descriptor of the budget for a flow's socket: 1, or 0 when spent. */
static int
fd_take(void)
{
	if (__atomic_add_fetch(&fds_open, 1, __ATOMIC_RELAXED) <=
	    __atomic_load_n(&fd_budget, __ATOMIC_RELAXED))
		return 1;
	__atomic_sub_fetch(&fds_open, 1, __ATOMIC_RELAXED);
	return 0;
}

/* A flow's socket was closed. */
static void
fd_give(void)
{
	__atomic_sub_fetch(&fds_open, 1, __ATOMIC_RELAXED);
}

/* The bucket of a client address: SipHash of its port and address under
 * the listener's random key, so nobody can pick addresses that collide. */
static size_t
peer_hash(const struct udp_listener *l, const union peer *p)
{
	uint8_t b[2 + 16];
	size_t n;

	if (p->sa.sa_family == AF_INET) {
		memcpy(b, &p->sin.sin_port, 2);
		memcpy(b + 2, &p->sin.sin_addr, 4);
		n = 2 + 4;
	} else {
		memcpy(b, &p->sin6.sin6_port, 2);
		memcpy(b + 2, &p->sin6.sin6_addr, 16);
		n = 2 + 16;
	}
	return (size_t)(siphash24(l->hkey, b, n) & (l->nbuckets - 1));
}

/* The same client: address and port. */
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

/* The source of p as a key: its length. */
static size_t
source_key(const union peer *p, uint8_t key[1 + 8])
{
	const uint8_t *a6 = p->sin6.sin6_addr.s6_addr;

	if (p->sa.sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &p->sin.sin_addr, 4);
		return 1 + 4;
	}
	if (IN6_IS_ADDR_V4MAPPED(&p->sin6.sin6_addr)) {
		key[0] = 4;
		memcpy(key + 1, a6 + 12, 4);
		return 1 + 4;
	}
	key[0] = 6;
	memcpy(key + 1, a6, 8);
	return 1 + 8;
}

/* The slot of l->sources where the source of `p` is, or would go. */
static struct udp_source **
source_slot(struct udp_listener *l, const union peer *p, uint8_t key[1 + 8],
	    size_t *keylen)
{
	struct udp_source **sp;

	*keylen = source_key(p, key);
	sp = &l->sources[siphash24(l->hkey, key, *keylen) &
			 (l->nbuckets - 1)];
	while (*sp != NULL && ((*sp)->keylen != *keylen ||
			       memcmp((*sp)->key, key, *keylen) != 0))
		sp = &(*sp)->next;
	return sp;
}

/* How many flows the source of `p` has. */
static uint32_t
source_flows(struct udp_listener *l, const union peer *p)
{
	uint8_t key[1 + 8];
	size_t keylen;
	struct udp_source *src = *source_slot(l, p, key, &keylen);

	return src ? src->nflows : 0;
}

/* One more flow from the source of `p` (made on its first): NULL out of
 * memory. */
static struct udp_source *
source_take(struct udp_listener *l, const union peer *p)
{
	uint8_t key[1 + 8];
	size_t keylen;
	struct udp_source **sp = source_slot(l, p, key, &keylen);

	if (*sp == NULL) {
		if ((*sp = calloc(1, sizeof(**sp))) == NULL)
			return NULL;
		memcpy((*sp)->key, key, keylen);
		(*sp)->keylen = (uint8_t)keylen;
	}
	(*sp)->nflows++;
	return *sp;
}

/* A flow from src (the client address p) ended: freed with its last. */
static void
source_drop(struct udp_listener *l, struct udp_source *src,
	    const union peer *p)
{
	uint8_t key[1 + 8];
	size_t keylen;
	struct udp_source **sp;

	if (--src->nflows > 0)
		return;
	sp = source_slot(l, p, key, &keylen);
	*sp = src->next;
	free(src);
}

/* Counted in l's figures of `state` (delta 1), or taken out (-1). */
static void
state_count(struct udp_listener *l, int state, int delta)
{
	if (state == UDP_DECIDING)
		l->ndeciding += delta;
	else
		l->nflows += delta;
	if (state == UDP_ESTABLISHED)
		l->nestablished += delta;
}

/* The flow moves on to `state`: the head of that list. */
static void
flow_set_state(struct udp_flow *f, enum udp_flow_state state)
{
	struct udp_listener *l = f->l;

	TAILQ_REMOVE(&l->lru[f->state], f, lru);
	state_count(l, f->state, -1);
	f->state = (uint8_t)state;
	TAILQ_INSERT_HEAD(&l->lru[state], f, lru);
	state_count(l, state, 1);
}

/* Activity: the head of its list. */
static void
flow_touch(struct udp_flow *f)
{
	struct udp_listener *l = f->l;

	f->last = ev_now(l->lc->loop);
	if (TAILQ_FIRST(&l->lru[f->state]) != f) {
		TAILQ_REMOVE(&l->lru[f->state], f, lru);
		TAILQ_INSERT_HEAD(&l->lru[f->state], f, lru);
	}
}

/* The bytes f holds while it is decided (udp_queue_bytes) change by
 * `delta`. */
static void
flow_hold(struct udp_flow *f, ssize_t delta)
{
	f->held += (size_t)delta;
	f->l->held += (size_t)delta;
}

/* Free what the flow held, sending each datagram to the backend first,
 * in order, when `send_them`. */
static void
queue_clear(struct udp_flow *f, int send_them)
{
	struct held *q = f->queue;

	if (q == NULL)
		return;
	for (size_t i = 0; send_them && i < q->n; i++) {
		size_t start = i > 0 ? q->end[i - 1] : 0;

		(void)send(f->fd, q->data + start, q->end[i] - start, 0);
	}
	flow_hold(f, -(ssize_t)q->len);
	free(q);
	f->queue = NULL;
}

/* The summary's words for enum udp_drop. */
static const char *const drop_names[UDP_NDROPS] = {
	"unclaimed",  "no_route",   "evicted", "unreachable", "denied",
	"table_full", "source_cap", "queue_full", "no_room",  "fd_budget",
};

/* Count a drop for the next summary. */
static void
drop(struct udp_listener *l, enum udp_drop why)
{
	l->drops[why]++;
	l->dropped[why]++;
}

/* The drops since the last summary in one line, if there were any: a
 * warning when a limit was reached. */
static void
drops_report(struct udp_listener *l)
{
	ev_tstamp now = ev_now(l->lc->loop);
	int level = LOG_INFO;
	char text[256];
	size_t off = 0;

	for (int i = 0; i < UDP_NDROPS; i++) {
		if (l->drops[i] > 0 && off < sizeof(text))
			off += (size_t)snprintf(text + off, sizeof(text) - off,
						" %s=%lu", drop_names[i],
						l->drops[i]);
		if (l->drops[i] > 0 && i >= UDP_DROP_TABLE_FULL)
			level = LOG_WARN;
		l->drops[i] = 0;
	}
	if (off > 0)
		log_msg(level, "udp %s: dropped in the last %.1f s:%s",
			l->text, now - l->drops_since, text);
	l->drops_since = now;
}

/*
 * End a flow: the one place. `why` counts its end as a drop (enum
 * udp_drop) when its backend never answered, or is -1. Such flows come by
 * the thousand when sources are forged: they are summed up by
 * drops_report, each logged at debug level only; other ends get their
 * line.
 */
static void
flow_free(struct udp_flow *f, const char *reason, int why)
{
	struct udp_listener *l = f->l;
	struct udp_flow **pp = &l->buckets[peer_hash(l, &f->client)];
	int quiet = why >= 0 && f->state != UDP_ESTABLISHED;
	char client[ADDR_TEXT_MAX];

	if (quiet)
		drop(l, (enum udp_drop)why);
	if (log_get_level() >= (quiet ? LOG_DEBUG : LOG_INFO))
		log_msg(quiet ? LOG_DEBUG : LOG_INFO,
			"close udp=%llu client=%s detector=%s backend=%s "
			"up=%llu down=%llu duration=%.3f reason=%s",
			(unsigned long long)f->id,
			addr_format(&f->client.sa, client, sizeof(client)),
			f->det >= 0 ? f->gen->dets[f->det].name : "-",
			f->backend ? f->backend->text : "-",
			(unsigned long long)f->up, (unsigned long long)f->down,
			f->last - f->started, reason);
	while (*pp != f)
		pp = &(*pp)->hnext;
	*pp = f->hnext;
	TAILQ_REMOVE(&l->lru[f->state], f, lru);
	state_count(l, f->state, -1);
	source_drop(l, f->src, &f->client);
	if (f->fd >= 0) {
		ev_io_stop(l->lc->loop, &f->io);
		close(f->fd);
		fd_give();
	}
	if (f->job != NULL)
		probe_job_abandon(f->job); /* the pool frees it */
	queue_clear(f, 0);
	flow_hold(f, -(ssize_t)f->held); /* the job's copy */
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
			flow_free(f, "backend_unreachable",
				  UDP_DROP_UNREACHABLE);
			return;
		}
		f->down += (uint64_t)n;
		if (f->state != UDP_ESTABLISHED)
			flow_set_state(f, UDP_ESTABLISHED);
		flow_touch(f);
		if (sendto(f->l->fd, buf, (size_t)n, 0, &f->client.sa,
			   f->client_len) < 0 &&
		    errno != EAGAIN)
			log_debug("udp=%llu sendto client: %s",
				  (unsigned long long)f->id, strerror(errno));
	}
}

/* The flow of client p, or NULL. */
static struct udp_flow *
flow_find(struct udp_listener *l, const union peer *p)
{
	struct udp_flow *f = l->buckets[peer_hash(l, p)];

	while (f != NULL && !peer_equal(&f->client, p))
		f = f->hnext;
	return f;
}

/* The table is full: the least recently active flow that is connected
 * but not established goes. One whose backend answered is never pushed
 * out for a new one (forged first datagrams would evict live clients),
 * nor is one still being decided. 0 when there is none. */
static int
flow_make_room(struct udp_listener *l)
{
	struct udp_flow *f = TAILQ_LAST(&l->lru[UDP_CONNECTED], udp_lru);

	if (f == NULL)
		return 0;
	flow_free(f, "evicted", UDP_DROP_EVICTED);
	return 1;
}

/* The decision is made: connect to b and send what waited. 1, or 0 when
 * f was freed instead. */
static int
flow_connect(struct udp_flow *f, const struct backend *b)
{
	const struct addr_set *set = backend_addrs(b);
	int transparent;
	const struct bind_sources *src =
		sockopt_origin(b, f->gen->cfg, &transparent);
	int fd = -1;

	if ((long)f->l->nflows >= f->gen->cfg->udp_max_flows &&
	    !flow_make_room(f->l)) {
		flow_free(f, "table_full", UDP_DROP_TABLE_FULL);
		return 0;
	}
	/* A descriptor within the budget, one of an unanswered flow's if
	 * need be. */
	if (!fd_take() && (!flow_make_room(f->l) || !fd_take())) {
		flow_free(f, "fd_budget", UDP_DROP_FD_BUDGET);
		return 0;
	}
	f->backend = b;
	/* The first address that takes a socket; UDP connect() only sets the
	 * peer, so failures show up as ICMP errors later. */
	for (int i = 0; i < set->n && fd < 0; i++)
		fd = sockopt_origin_socket(&set->a[i], SOCK_DGRAM,
					   transparent ? &f->client.sa : NULL,
					   src, &f->l->lc->source_turn, NULL);
	if (fd < 0) {
		int out = errno == EMFILE || errno == ENFILE;

		log_debug("udp=%llu: cannot open a socket to %s: %s",
			  (unsigned long long)f->id, b->text, strerror(errno));
		fd_give();
		flow_free(f, out ? "fd_budget" : "backend_unreachable",
			  out ? UDP_DROP_FD_BUDGET : UDP_DROP_UNREACHABLE);
		return 0;
	}
	f->fd = fd;
	flow_set_state(f, UDP_CONNECTED);
	flow_touch(f); /* what it held goes now */
	ev_io_init(&f->io, flow_cb, fd, EV_READ);
	ev_io_start(f->l->lc->loop, &f->io);
	queue_clear(f, 1);
	return 1;
}

/* A detector's answer: its explicit backend, or its route table's. 1,
 * or 0 when f was freed. */
static int
flow_route(struct udp_flow *f, int det, const struct pmx_probe_result *res,
	   struct probe_job *job)
{
	const struct backend *b;

	f->det = (int16_t)det;
	b = decide_backend(f->gen, det, res, PMX_TRANSPORT_UDP, job,
			   &f->own_backend, "udp", f->id);
	if (b == NULL) {
		flow_free(f, "no_route", UDP_DROP_NO_ROUTE);
		return 0;
	}
	if (!backend_admits(b, &f->client.sa)) {
		flow_free(f, "denied", UDP_DROP_DENIED);
		return 0;
	}
	return flow_connect(f, b);
}

static int flow_decide(struct udp_flow *f);

/* A blocking detector's answer, back on the loop. */
static void
flow_probe_done(struct probe_job *job)
{
	struct udp_flow *f = job->owner;
	int r;

	f->job = NULL;
	flow_hold(f, -(ssize_t)job->in.len);
	r = probe_apply(&f->pstate, job->index, job->verdict, job->in.final);
	if (r == PROBE_MATCH)
		(void)flow_route(f, job->index, &job->res, job);
	else if (r < 0 || f->queue->n > f->shown || f->final)
		/* On to the next detectors; or it needs more and more came,
		 * or no more will. */
		(void)flow_decide(f);
	probe_job_free(job);
}

/*
 * Run the detectors on what the flow holds. 1 when f is decided and
 * connected, or waits — for its next datagram (a detector that reads
 * datagrams needs more), or for a blocking detector; 0 when it was freed.
 */
static int
flow_decide(struct udp_flow *f)
{
	struct udp_listener *l = f->l;
	const struct config *cfg = f->gen->cfg;
	const struct held *q = f->queue;
	size_t cap = (size_t)cfg->probe_buffer;
	struct pmx_probe_input in = {
		.data = q->data,
		.len = q->len,
		.capacity = q->len > cap ? q->len : cap,
		/* No more will come, or be held. */
		.final = f->final || q->n >= PROBE_DATAGRAMS_MAX ||
			 q->len >= cap,
		.transport = PMX_TRANSPORT_UDP,
		.peer = &f->client.sa,
		.peer_len = f->client_len,
		.local = (const struct sockaddr *)&l->addr.ss,
		.local_len = l->addr.len,
		.deadline = decide_deadline(l->lc, f->started,
					    cfg->probe_deadline),
		.datagram_end = q->end,
		.datagrams = q->n,
	};
	struct pmx_probe_result res;
	int det = -1;
	int outcome;

	f->shown = (uint8_t)q->n;
	outcome = decide_run(l->lc, f->gen, &f->pstate, &in, &res, &det, f,
			     flow_probe_done, &f->job);
	if (outcome == PROBE_ASYNC) {
		flow_hold(f, (ssize_t)f->job->in.len); /* the job's copy */
		return 1;
	}
	if (outcome == PROBE_WAIT)
		return 1;
	if (outcome == PROBE_MATCH)
		return flow_route(f, det, &res, NULL);
	flow_free(f, "unclaimed",
		  f->hurried ? UDP_DROP_NO_ROOM : UDP_DROP_UNCLAIMED);
	return 0;
}

/* Mark the blocking detectors as declined for f: it is decided now, by
 * the others. 1 if one of them reads datagrams. */
static int
skip_blocking(struct udp_flow *f)
{
	const struct generation *g = f->gen;
	int skipped = 0;

	for (size_t i = 0; i < g->ndets; i++) {
		unsigned flags = g->dets[i].plugin->desc->flags;

		if (flags & PMX_DF_BLOCKING) {
			f->pstate.declined |= 1ull << i;
			skipped |= (flags & PMX_DF_UDP) != 0;
		}
	}
	return skipped;
}

/* A new client address, whose first datagram has `len` bytes: its flow,
 * deciding. */
static struct udp_flow *
flow_new(struct udp_listener *l, const union peer *p, socklen_t plen,
	 size_t len)
{
	struct loop_ctx *lc = l->lc;
	const struct config *cfg = lc->gen->cfg;
	struct udp_flow *f;
	size_t h;

	/* Who may send at all (admit.h's rule for TCP, datagram by
	 * datagram here: no flow is made for a denied source). */
	if (!cidr_allowed(&cfg->allow, &cfg->deny, &p->sa)) {
		drop(l, UDP_DROP_DENIED);
		return NULL;
	}
	/* With every flow established there is no room for it, whatever it
	 * is; nor beyond its source's share. */
	if ((long)l->nestablished >= cfg->udp_max_flows) {
		drop(l, UDP_DROP_TABLE_FULL);
		return NULL;
	}
	if ((long)source_flows(l, p) >= cfg->udp_flows_per_source) {
		drop(l, UDP_DROP_SOURCE_CAP);
		return NULL;
	}
	if (fds_spent() && TAILQ_EMPTY(&l->lru[UDP_CONNECTED])) {
		drop(l, UDP_DROP_FD_BUDGET); /* nor a descriptor for it */
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL || (f->src = source_take(l, p)) == NULL) {
		free(f);
		return NULL;
	}
	f->fd = -1;
	f->l = l;
	f->gen = lc->gen;
	generation_ref(f->gen);
	probe_state_init(&f->pstate, generation_listener(f->gen, &l->addr));
	f->det = -1;
	memcpy(&f->client, p, plen);
	f->client_len = plen;
	f->id = __atomic_add_fetch(&next_flow_id, 1, __ATOMIC_RELAXED);
	f->started = f->last = ev_now(lc->loop);
	h = peer_hash(l, p);
	f->hnext = l->buckets[h];
	l->buckets[h] = f;
	f->state = UDP_DECIDING;
	TAILQ_INSERT_HEAD(&l->lru[UDP_DECIDING], f, lru);
	state_count(l, UDP_DECIDING, 1);
	/* A blocking detector (Python) decides off the loop while the flow
	 * waits, holding its first datagram twice (the queue's copy and the
	 * detector's) and its next ones; a detector that reads datagrams may
	 * have it wait for its next ones. Flows that wait are bounded in
	 * number (udp_max_flows) and bytes (udp_queue_bytes): without room,
	 * this one is judged at once, on its first datagram, by the other
	 * detectors. */
	if ((long)l->ndeciding > cfg->udp_max_flows ||
	    l->held + 2 * len > (size_t)cfg->udp_queue_bytes) {
		f->hurried = skip_blocking(f);
		f->final = 1;
	}
	return f;
}

/* Hold a datagram while the flow is decided (PROBE_DATAGRAMS_MAX, and
 * the listener's udp_queue_bytes: the first was weighed by flow_new).
 * 0, or -1 when it cannot be held. */
static int
flow_enqueue(struct udp_flow *f, const uint8_t *data, size_t len)
{
	struct held *q = f->queue;
	size_t n = q != NULL ? q->n : 0, have = q != NULL ? q->len : 0;

	if (n >= PROBE_DATAGRAMS_MAX ||
	    (n > 0 && f->l->held + len > (size_t)f->gen->cfg->udp_queue_bytes))
		return -1;
	q = realloc(q, sizeof(*q) + have + len);
	if (q == NULL)
		return -1; /* f->queue is as it was */
	q->n = n;
	q->len = have;
	memcpy(q->data + have, data, len);
	q->len += len;
	q->end[q->n++] = q->len;
	f->queue = q;
	flow_hold(f, (ssize_t)len);
	return 0;
}

/*
 * A datagram of a flow being decided: held, and the detectors look again
 * — unless a blocking one is at work, whose answer comes first. One that
 * cannot be held makes them decide on what is held: it follows the
 * others if that connects the flow, else it is dropped.
 */
static void
flow_receive(struct udp_flow *f, const uint8_t *data, size_t len)
{
	struct udp_listener *l = f->l;

	if (flow_enqueue(f, data, len) == 0) {
		if (f->job == NULL)
			(void)flow_decide(f);
		return;
	}
	if (f->queue == NULL || f->job != NULL) {
		drop(l, UDP_DROP_QUEUE_FULL);
		return;
	}
	f->final = 1;
	if (!flow_decide(f))
		return; /* dropped with its flow */
	if (f->state == UDP_DECIDING) {
		drop(l, UDP_DROP_QUEUE_FULL); /* a blocking detector's turn */
		return;
	}
	if (send(f->fd, data, len, 0) < 0 && errno != EAGAIN &&
	    errno != ENOBUFS)
		flow_free(f, "backend_unreachable", UDP_DROP_UNREACHABLE);
}

/* Datagrams from clients: to their flow's backend, or a new flow. */
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
		if (f == NULL &&
		    (f = flow_new(l, &p, plen, (size_t)n)) == NULL)
			continue;
		f->up += (uint64_t)n;
		flow_touch(f);
		if (f->state == UDP_DECIDING) {
			flow_receive(f, buf, (size_t)n);
			continue;
		}
		if (send(f->fd, buf, (size_t)n, 0) < 0 && errno != EAGAIN &&
		    errno != ENOBUFS)
			flow_free(f, "backend_unreachable",
				  UDP_DROP_UNREACHABLE);
	}
}

/*
 * Flows still deciding at probe_deadline, or idle for udp_timeout before
 * it, are decided now on what they hold: a blocking detector still out is
 * left behind (its late answer is dropped, decide_late), a detector that
 * wanted more datagrams gets its final call.
 */
static void
decide_overdue(struct udp_listener *l, ev_tstamp now)
{
	double idle = l->lc->gen->cfg->udp_timeout;
	struct udp_flow *f, *next;

	/* flow_decide() frees f or moves it to another list, and may free
	 * connected flows to make room; never another deciding one, so
	 * `next` stays valid. */
	for (f = TAILQ_FIRST(&l->lru[UDP_DECIDING]); f != NULL; f = next) {
		next = TAILQ_NEXT(f, lru);
		if (now - f->started < f->gen->cfg->probe_deadline &&
		    (now - f->last < idle || f->job != NULL))
			continue;
		if (f->job != NULL) {
			/* The job's copy is no longer the flow's to hold. */
			flow_hold(f, -(ssize_t)f->job->in.len);
			decide_late(&f->pstate, f->job);
			f->job = NULL;
		}
		f->final = 1;
		if (f->queue != NULL)
			(void)flow_decide(f);
		else
			flow_free(f, "idle", -1);
	}
}

/* Every second: flows still deciding at probe_deadline (or idle) are
 * decided, flows idle for udp_timeout end; the drops' summary. */
static void
sweep_cb(EV_P_ ev_timer *t, int revents)
{
	struct udp_listener *l = t->data;
	ev_tstamp now = ev_now(EV_A);
	double idle = l->lc->gen->cfg->udp_timeout;
	struct udp_flow *f;

	(void)revents;
	decide_overdue(l, now);
	for (int s = 0; s < UDP_NSTATES; s++)
		while ((f = TAILQ_LAST(&l->lru[s], udp_lru)) != NULL &&
		       now - f->last >= idle) {
			/* Its detector still at work holds a copy of its
			 * datagram (counted in udp_queue_bytes): its answer
			 * will end or connect it. */
			if (f->job != NULL)
				flow_touch(f);
			else
				flow_free(f, "idle", -1);
		}
	drops_report(l);
}

/* Buckets for up to `max_flows` flows: the power of two at or above it
 * (chains stay about one flow long), at least UDP_BUCKETS_MIN; the bound
 * of udp_max_flows (a million) bounds it too. */
static size_t
table_size(long max_flows)
{
	size_t n = UDP_BUCKETS_MIN;

	while ((long)n < max_flows)
		n *= 2;
	return n;
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
	l->nbuckets = table_size(lc->gen->cfg->udp_max_flows);
	l->buckets = calloc(l->nbuckets, sizeof(*l->buckets));
	l->sources = calloc(l->nbuckets, sizeof(*l->sources));
	if (l->buckets == NULL || l->sources == NULL ||
	    siphash_key_random(l->hkey) < 0) {
		int e = errno;

		free(l->buckets);
		free(l->sources);
		l->buckets = NULL;
		l->sources = NULL;
		close(fd);
		l->fd = -1;
		errno = e;
		return -1;
	}
	for (int s = 0; s < UDP_NSTATES; s++)
		TAILQ_INIT(&l->lru[s]);
	l->drops_since = ev_now(lc->loop);
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
	for (int s = 0; s < UDP_NSTATES; s++)
		while (!TAILQ_EMPTY(&l->lru[s]))
			flow_free(TAILQ_FIRST(&l->lru[s]), "shutdown", -1);
	drops_report(l);
	ev_io_stop(l->lc->loop, &l->io);
	ev_timer_stop(l->lc->loop, &l->sweep);
	close(l->fd);
	l->fd = -1;
	free(l->buckets);
	free(l->sources);
	l->buckets = NULL;
	l->sources = NULL;
}

size_t
udp_listener_longest_chain(const struct udp_listener *l)
{
	size_t longest = 0;

	for (size_t b = 0; b < l->nbuckets; b++) {
		size_t n = 0;

		for (const struct udp_flow *f = l->buckets[b]; f != NULL;
		     f = f->hnext)
			n++;
		longest = n > longest ? n : longest;
	}
	return longest;
}
