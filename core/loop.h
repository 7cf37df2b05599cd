/* loop.h — what everything on one event loop shares: the loop itself, the
 * generation new connections and flows start with, and the per-loop
 * resources they borrow (relay scratch buffer, buffer cache, pipe pool,
 * probe pool). conn, relay and udp receive this, never the worker that
 * embeds it, so they can run (and be tested) on any loop.
 *
 * Everything here is used by the loop's thread only. */
#ifndef PMX_LOOP_H
#define PMX_LOOP_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "close_batch.h"
#include "generation.h"
#include "pbuf.h"
#include "pipe_pool.h"
#include "probe_pool.h"
#include "ring.h"
#include "source.h"
#include "log.h"

#define LOOP_SCRATCH_SIZE (64 * 1024)

struct conn;
TAILQ_HEAD(conn_list, conn);

/* Relayed connections that share one timeout — a route's idle_timeout,
 * PORTMUX's, or halfclose_timeout once a direction ended — most recently
 * active first, so the one at the tail expires first. A loop has one list
 * per value in use (a few): conn.c makes a list when a connection needs a
 * value no list has, and frees it in the sweep once it is empty. Owned by
 * the loop context; loop_ctx_fini frees what is left. */
struct idle_list {
	double timeout; /* seconds, > 0 */
	uint8_t half;   /* it is halfclose_timeout (the reason logged) */
	struct conn_list conns; /* linked by conn.idle_link */
	LIST_ENTRY(idle_list) link;
};
LIST_HEAD(idle_lists, idle_list);

struct loop_ctx {
	struct ev_loop *loop;   /* borrowed: its creator destroys it */
	/* The connections' sockets' readiness and closing (ring.h); NULL:
	 * libev's watchers and close_batch (io_uring off, or not allowed
	 * here). Owned: loop_ctx_fini frees it. */
	struct ring *ring;
	struct generation *gen; /* for new connections and flows; one ref */
	/* A read buffer every relay of the loop shares (bytes never stay in
	 * it across events). Owned: loop_ctx_fini frees it. */
	uint8_t *scratch;
	size_t scratch_size;
	struct pbuf_cache pbufs;  /* owned: emptied by loop_ctx_fini */
	struct pipe_pool pipes;   /* owned: closed by loop_ctx_fini */
	struct probe_pool *pool;  /* owned, made on first use; freed by
				     loop_ctx_fini */
	/* Live connections, in no particular order. Each is owned by itself:
	 * conn_close() unlinks and frees it. */
	struct conn_list conns;
	long nconns;
	/* Per-source counts, shared by every loop (borrowed: the main
	 * thread's; NULL: no per-source limits). */
	struct source_table *sources;
	struct log_ratelimit refuse_rl; /* "refused" lines */
	/* Relayed connections with a timeout, one list per value, and the
	 * one timer that closes them: armed for the earliest deadline of the
	 * lists' tails (conn.c arms it; its cost is one check per list, never
	 * one per busy connection). */
	struct idle_lists idle;
	ev_timer idle_timer;
	/* Relayed connections whose backend socket gets its keepalive
	 * options later, oldest first, and the timer for the first
	 * (conn_keepalive.c). A connection is in it from relay_start to its
	 * deadline or its close. */
	struct conn_list keepalive_due;
	ev_timer keepalive_timer;
	/* Which `source` address the next backend connection starts at
	 * (conn_relay.c: each takes the next, modulo the route's count). */
	unsigned source_turn;
	/* Busy polling for `priority: latency` (loop_busy_poll): while
	 * active the loop polls without sleeping, until busy_until. */
	ev_idle busy_poll;
	ev_tstamp busy_until;
	/* Relayed sockets closed at the end of the turn, in runs (owned:
	 * loop_ctx_fini closes what is left). */
	struct close_batch closing;
	/* Called after a connection was freed (the worker resumes accepting
	 * or ends its drain). May be NULL. */
	void (*on_conn_closed)(struct loop_ctx *lc);
	/* Called when a backend socket could not be made for want of
	 * descriptors, `err` EMFILE or ENFILE (the worker pauses accepting:
	 * a client taken now could not be served). May be NULL. */
	void (*on_fds_exhausted)(struct loop_ctx *lc, int err);
};

/*
 * A `priority: latency` connection just relayed bytes: keep the loop
 * polling without sleeping for `window` seconds more (PORTMUX's
 * latency_busy_poll): an answer coming back within it is relayed without
 * the cost of waking the thread up (a 64-byte ping-pong through PortMux:
 * p50 -25 %, p99 -20 % on the development VM). Then the loop sleeps
 * again. 0: nothing. The loop owns the watcher (loop_ctx_fini stops it).
 */
void loop_busy_poll(struct loop_ctx *lc, double window);

/* Set up lc on `loop` with a reference to g. 0, or -1 out of memory. */
int loop_ctx_init(struct loop_ctx *lc, struct ev_loop *loop,
		  struct generation *g);
/* On the loop's thread, once every connection and flow is gone: stop the
 * idle timer and free the idle lists, stop the probe pool (after its jobs
 * were abandoned), close idle pipes, free the buffers and drop the
 * generation. */
void loop_ctx_fini(struct loop_ctx *lc);
/* New connections use g from now on (the caller's reference passes to
 * lc); live ones keep theirs. */
void loop_ctx_set_generation(struct loop_ctx *lc, struct generation *g);
/* How the loops made so far watch their connections' sockets, for the
 * start-up line: "io_uring", "epoll" (io_uring off or not allowed), or
 * "io_uring+epoll" (some loops could not have a ring). */
const char *loop_sockets_method(void);
/* The probe pool for blocking detectors (started on first use with the
 * generation's probe_threads); NULL if it cannot start. */
struct probe_pool *loop_probe_pool(struct loop_ctx *lc);

#endif
