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
/* Each splice moves up to this. Measured against 64 KiB, 256 KiB and 4 MiB
 * (bench/bulktune.sh, README "Priority settings"): 1 MiB spent the least
 * relay CPU per GB and was the fastest on 1 and 4 streams.
 * -DPIPE_SIZE=N builds another, to measure again. */
#ifndef PIPE_SIZE
#define PIPE_SIZE (1024 * 1024)
#endif
/* After the kernel refused a pipe its size, the next gets that find the
 * pool empty fail at once, without a system call. */
#define PIPE_REFUSED_SKIP 64

struct pipe_pool {
	int fds[PIPE_POOL_MAX][2];
	size_t n;
	unsigned size;     /* of new pipes; 0: PIPE_SIZE */
	unsigned refused;  /* gets left that fail at once */
};

/* A pipe (read end fds[0], write end fds[1]), non-blocking: an idle one,
 * or a new one of the pool's size. 0, or -1 with errno: out of fds, or the
 * kernel would not make it that big (an unprivileged user past
 * fs.pipe-user-pages-soft gets 8 KiB pipes: splicing through one would
 * take a system call per 8 KiB, copying does 64 KiB per call), then the
 * next PIPE_REFUSED_SKIP gets fail at once. The caller copies instead. */
int pipe_pool_get(struct pipe_pool *pool, int fds[2]);
/* An empty pipe back to the pool (closed if the pool is full); fds[] is
 * set to -1. */
void pipe_pool_put(struct pipe_pool *pool, int fds[2]);
/* Close every idle pipe. */
void pipe_pool_clear(struct pipe_pool *pool);

#endif
