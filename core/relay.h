/* relay.h — move bytes between the two sides of a connection. Reads use
 * the worker's shared scratch buffer; only bytes a side cannot take right
 * away are kept (in that side's `out`), so an idle connection holds no
 * buffer at all. */
#ifndef PMX_RELAY_H
#define PMX_RELAY_H

#include "conn.h"

/* Write dst->out. 0 when drained or blocked (check dst->out), -1 error. */
int relay_flush(struct side *dst);

/*
 * Read from src and write to dst (which must have nothing pending) until
 * src is empty, src reaches EOF (src->eof set), dst blocks (the rest goes to
 * dst->out) or the per-event budget is spent. 0, or -1 on an error (errno
 * set; *which tells the side: 0 src, 1 dst).
 */
int relay_pump(struct worker *w, struct side *src, struct side *dst,
	       int *which);

#endif
