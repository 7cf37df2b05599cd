/* pipe_pool.h — pipes for zero-copy relays (socket -> pipe -> socket with
 * splice). Making a pipe and sizing it costs three syscalls, so idle ones
 * are kept, one pool per event loop.
 *
 * Ownership: an idle pipe belongs to the pool (closed by pipe_pool_put when
 * the pool is full, or by pipe_pool_clear); a pipe carrying bytes belongs
 * to the relay side that took it, until it is empty and put back, or until
 * its connection closes it. */
#ifndef PMX_PIPE_POOL_H
#define PMX_PIPE_POOL_H

#include <stddef.h>

#define PIPE_POOL_MAX 64          /* idle pipes kept per loop */
#define PIPE_SIZE (1024 * 1024)   /* fewer splice calls per megabyte */

struct pipe_pool {
	int fds[PIPE_POOL_MAX][2];
	size_t n;
};

/* A pipe (read end fds[0], write end fds[1]), non-blocking: an idle one,
 * or a new one of PIPE_SIZE bytes. 0, or -1 with errno (out of fds). */
int pipe_pool_get(struct pipe_pool *pool, int fds[2]);
/* An empty pipe back to the pool (closed if the pool is full); fds[] is
 * set to -1. */
void pipe_pool_put(struct pipe_pool *pool, int fds[2]);
/* Close every idle pipe. */
void pipe_pool_clear(struct pipe_pool *pool);

#endif
