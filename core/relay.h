/* relay.h — move bytes between the two sides of a connection.
 *
 * Copy mode reads into the worker's shared scratch buffer and writes
 * straight on; only bytes a side cannot take right away are kept (in that
 * side's `out`). Zero-copy mode (throughput and both priorities, once a
 * direction carries bulk: a read filled the scratch buffer) splice()s
 * socket -> pipe -> socket; a pipe comes from the worker's pool when bytes
 * start to flow and goes back when it is empty. Either way an
 * idle connection holds no buffer and no pipe. */
#ifndef PMX_RELAY_H
#define PMX_RELAY_H

#include "conn.h"

/* Write what is pending for dst (its `out`, then its pipe). 0 when drained
 * or blocked (check side_pending), -1 on error. */
int relay_flush(struct worker *w, struct side *dst);

/*
 * Move bytes from src to dst (which must have nothing pending) until src
 * is empty, src reaches EOF (src->eof set), dst blocks (the rest stays
 * pending for dst) or the per-event budget is spent. 0, or -1 on an error
 * (errno set; *which tells the side: 0 src, 1 dst).
 */
int relay_pump(struct worker *w, struct side *src, struct side *dst,
	       int zerocopy, int *which);

/* The worker's pool of idle pipes. */
void relay_pipes_free(struct worker *w);

#endif
