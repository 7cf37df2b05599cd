/* worker.h — one libev loop with its listeners, its connections and its
 * current generation. (Several workers, one per core with SO_REUSEPORT, can
 * each own one of these.) */
#ifndef PMX_WORKER_H
#define PMX_WORKER_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

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
	struct ev_loop *loop;
	struct generation *gen; /* for new connections; holds one ref */
	struct listener *listeners;
	size_t nlisteners;
	ev_timer accept_timer; /* resumes accepting after EMFILE */
	int accept_paused;     /* 1: fd exhaustion, 2: max_connections */
	long nconns;
	uint64_t next_id;
	struct conn *conns; /* every live connection */
	uint8_t *scratch;   /* relay read buffer, shared by all connections */
	size_t scratch_size;
	struct log_ratelimit accept_rl;
	struct probe_pool *pool; /* blocking detectors; made on first use */
	struct udp_listener *udp; /* UDP on the same addresses, if wanted */
	size_t nudp;
	int pipes[64][2]; /* idle pipes for zero-copy relays (relay.c) */
	size_t npipes;
};

/* Bind every listen address of g->cfg and start accepting. Takes a ref on
 * g. -1 with err on failure (nothing left open). */
int worker_init(struct worker *w, struct ev_loop *loop, struct generation *g,
		char *err, size_t errlen);
/* New connections use g from now on (takes a ref, drops the old one). */
void worker_set_generation(struct worker *w, struct generation *g);
/* Close listeners and every connection; drop the generation. */
void worker_fini(struct worker *w);

/* The pool for blocking detectors (started on first use); NULL if it
 * cannot start. */
struct probe_pool *worker_pool(struct worker *w);

/* Called by conn.c when a connection ends. */
void worker_conn_closed(struct worker *w);

#endif
