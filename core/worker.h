/* worker.h — one libev loop on its own thread, with its own listening
 * sockets (SO_REUSEPORT when there are several workers, so the kernel
 * spreads connections), its connections, UDP flows, relay pipes and probe
 * threads. The main thread talks to a worker only through its mailbox: a
 * new generation (reload) or a stop request. */
#ifndef PMX_WORKER_H
#define PMX_WORKER_H

#include <ev.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "activation.h"
#include "addr.h"
#include "generation.h"
#include "log.h"
#include "probe_pool.h"

struct conn;
struct worker;

struct listener {
	ev_io io;
	int fd;
	struct worker *w;
	struct addr addr;
	char text[ADDR_TEXT_MAX];
};

struct worker {
	int index;
	struct ev_loop *loop;
	pthread_t thread;
	int started;

	/* mailbox, written by the main thread under `lock` */
	pthread_mutex_t lock;
	ev_async wake;
	struct generation *next_gen; /* one ref, or NULL */
	int stop_asked;
	double drain_seconds;

	/* loop thread only from here */
	struct generation *gen; /* for new connections; holds one ref */
	struct listener *listeners;
	size_t nlisteners;
	ev_timer accept_timer; /* resumes accepting after a pause */
	int accept_paused;     /* 1: fd exhaustion, 2: max_connections */
	int draining;          /* stop asked: no new connections */
	ev_timer drain_timer;
	long nconns;
	struct conn *conns;      /* every live connection, most recent first */
	struct conn *conns_tail; /* the least recently active */
	ev_timer idle_timer;     /* sweeps the tail for idle_timeout */
	uint8_t *scratch;   /* relay read buffer, shared by all connections */
	size_t scratch_size;
	struct log_ratelimit accept_rl;
	struct probe_pool *pool;  /* blocking detectors; made on first use */
	struct udp_listener *udp; /* UDP on the same addresses, if wanted */
	size_t nudp;
	int pipes[64][2]; /* idle pipes for zero-copy relays (relay.c) */
	size_t npipes;
	/* Free probe buffers kept for the next connections: a malloc and
	 * free of 16 KiB per connection made glibc trim the heap (madvise)
	 * each time. */
	struct pbuf *pbufs[64];
	size_t npbufs;
	void (*on_exit)(struct worker *w); /* called on its thread at the end */
};

/*
 * Bind every listen address of g (with SO_REUSEPORT when `shared`) — or,
 * when systemd passed sockets (`act`), listen on those instead — and set up
 * the loop; the thread is not started yet. -1 with err on failure (nothing
 * left open).
 */
int worker_init(struct worker *w, int index, struct generation *g, int shared,
		const struct activation *act, char *err, size_t errlen);
/* Run the loop on a new thread (signals blocked there). */
int worker_start(struct worker *w);
/* Main thread: use g for new connections from now on (takes a ref). */
void worker_post_generation(struct worker *w, struct generation *g);
/* Main thread: stop accepting, let live connections finish for up to
 * drain_seconds, then close them and end the thread. */
void worker_post_stop(struct worker *w, double drain_seconds);
/* Main thread: wait for the thread to end and free what is left. */
void worker_join(struct worker *w);

/* The pool for blocking detectors (started on first use); NULL if it
 * cannot start. */
struct probe_pool *worker_pool(struct worker *w);

/* A probe buffer of `cap` bytes (from the cache when it fits), and giving
 * any pbuf back (cached when it is probe-sized, else freed). */
struct pbuf *worker_pbuf_get(struct worker *w, uint32_t cap);
void worker_pbuf_put(struct worker *w, struct pbuf *b);

/* Called by conn.c when a connection starts and ends. */
void worker_conn_opened(struct worker *w);
void worker_conn_closed(struct worker *w);
/* A process-wide connection number, for the log. */
uint64_t worker_next_conn_id(void);

/* Process-wide figures for status lines (atomic counters). */
struct worker_stats {
	long open;            /* connections now */
	uint64_t accepted;    /* since start */
	uint64_t on_timeout;  /* silent clients sent to on_timeout */
	uint64_t fallback;    /* unclaimed bytes sent to fallback */
	uint64_t unserved;    /* closed: no route, nothing claimed, failures */
};
void worker_stats(struct worker_stats *out);
/* Count an outcome (conn.c): VIA_ON_TIMEOUT, VIA_FALLBACK, or -1 for a
 * connection closed without a backend. */
void worker_count_outcome(int via);

#endif
