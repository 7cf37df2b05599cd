/* pipe_pool.c — idle pipes kept for zero-copy relays. */
#include "pipe_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int
pipe_pool_get(struct pipe_pool *pool, int fds[2])
{
	if (pool->n > 0) {
		pool->n--;
		fds[0] = pool->fds[pool->n][0];
		fds[1] = pool->fds[pool->n][1];
		return 0;
	}
	if (pool->refused > 0) {
		pool->refused--;
		errno = EPERM;
		return -1;
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	if (fcntl(fds[0], F_SETPIPE_SZ,
		  (int)(pool->size > 0 ? pool->size : PIPE_SIZE)) < 0) {
		int err = errno;

		close(fds[0]);
		close(fds[1]);
		fds[0] = fds[1] = -1;
		pool->refused = PIPE_REFUSED_SKIP;
		errno = err;
		return -1;
	}
	return 0;
}

void
pipe_pool_put(struct pipe_pool *pool, int fds[2])
{
	if (pool->n < PIPE_POOL_MAX) {
		pool->fds[pool->n][0] = fds[0];
		pool->fds[pool->n][1] = fds[1];
		pool->n++;
	} else {
		close(fds[0]);
		close(fds[1]);
	}
	fds[0] = fds[1] = -1;
}

void
pipe_pool_clear(struct pipe_pool *pool)
{
	while (pool->n > 0) {
		pool->n--;
		close(pool->fds[pool->n][0]);
		close(pool->fds[pool->n][1]);
	}
}
