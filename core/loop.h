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

#include "generation.h"
#include "pbuf.h"
#include "pipe_pool.h"
#include "probe_pool.h"
#include "source.h"
#include "log.h"

#define LOOP_SCRATCH_SIZE (64 * 1024)

struct conn;
TAILQ_HEAD(conn_list, conn);

struct loop_ctx {
	struct ev_loop *loop;   /* borrowed: its creator destroys it */
	struct generation *gen; /* for new connections and flows; one ref */
	/* A read buffer every relay of the loop shares (bytes never stay in
	 * it across events). Owned: loop_ctx_fini frees it. */
	uint8_t *scratch;
	size_t scratch_size;
	struct pbuf_cache pbufs;  /* owned: emptied by loop_ctx_fini */
	struct pipe_pool pipes;   /* owned: closed by loop_ctx_fini */
	struct probe_pool *pool;  /* owned, made on first use; freed by
				     loop_ctx_fini */
	/* Live connections, most recently active first (conn.c keeps the
	 * order, so the idle sweep reads only the tail). Each is owned by
	 * itself: conn_close() unlinks and frees it. */
	struct conn_list conns;
	long nconns;
	/* Per-source counts, shared by every loop (borrowed: the main
	 * thread's; NULL: no per-source limits). */
	struct source_table *sources;
	struct log_ratelimit refuse_rl; /* "refused" lines */
	/* Called after a connection was freed (the worker resumes accepting
	 * or ends its drain). May be NULL. */
	void (*on_conn_closed)(struct loop_ctx *lc);
};

/* Set up lc on `loop` with a reference to g. 0, or -1 out of memory. */
int loop_ctx_init(struct loop_ctx *lc, struct ev_loop *loop,
		  struct generation *g);
/* On the loop's thread, once every connection and flow is gone: stop the
 * probe pool (after its jobs were abandoned), close idle pipes, free the
 * buffers and drop the generation. */
void loop_ctx_fini(struct loop_ctx *lc);
/* New connections use g from now on (the caller's reference passes to
 * lc); live ones keep theirs. */
void loop_ctx_set_generation(struct loop_ctx *lc, struct generation *g);
/* The probe pool for blocking detectors (started on first use with the
 * generation's probe_threads); NULL if it cannot start. */
struct probe_pool *loop_probe_pool(struct loop_ctx *lc);

#endif
