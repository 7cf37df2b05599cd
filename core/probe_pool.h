/* probe_pool.h — runs PMX_DF_BLOCKING detectors (user code) off the event
 * loop. A job carries its own copy of the bytes, so the connection may go
 * on (or go away) while it runs; results come back to the loop thread
 * through an ev_async and are handed to a callback there.
 *
 * Threading: submit/abandon/callback happen on the loop thread only; the
 * pool's threads touch nothing but the job's copy and the detector. */
#ifndef PMX_PROBE_POOL_H
#define PMX_PROBE_POOL_H

#include <ev.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "generation.h"

struct probe_job;
typedef void (*probe_done_fn)(struct probe_job *job);

struct probe_job {
	STAILQ_ENTRY(probe_job) next; /* the pool's todo or done queue */
	void *owner;           /* loop thread: NULL once abandoned */
	probe_done_fn done;    /* called on the loop with the answer */
	struct generation *gen; /* one ref, taken and dropped on the loop */
	int index;              /* detector index in gen */
	int verdict;
	struct pmx_probe_result res;
	/* A MATCH naming a backend: resolved on the pool thread (names
	 * included), or why it could not be. The owner takes `backend`. */
	struct backend *backend;
	char backend_err[200];
	struct pmx_probe_input in; /* in.data points at data[] */
	struct sockaddr_storage peer, local;
	uint8_t data[];
};

struct probe_pool;

/* Start `threads` threads. A job's `done` runs on the loop when its owner
 * is still set, and must free it with probe_job_free(). */
struct probe_pool *probe_pool_new(struct ev_loop *loop, int threads);
/* Stop the threads (after their current call) and free pending jobs. */
void probe_pool_free(struct probe_pool *pool);

/* A job for detector `index` of g on a copy of `in`; `done(job)` gets the
 * answer on the loop. */
struct probe_job *probe_job_new(struct generation *g, int index,
				const struct pmx_probe_input *in, void *owner,
				probe_done_fn done);
void probe_job_free(struct probe_job *job);
/* Queue a job: 0, or -1 when the pool takes no more (it is stopping); the
 * job is still the caller's then. */
int probe_pool_submit(struct probe_pool *pool, struct probe_job *job);
/* The owner no longer wants the answer (loop thread). */
static inline void
probe_job_abandon(struct probe_job *job)
{
	job->owner = NULL;
}

#endif
