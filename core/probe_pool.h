/* probe_pool.h — runs PMX_DF_BLOCKING detectors (user code) off the event
 * loop. A job carries its own copy of the bytes, so the connection may go
 * on (or go away) while it runs; results come back to the loop thread
 * through an ev_async and are handed to a callback there.
 *
 * Limits and fairness, per pool (one per worker):
 *  - at most `queue_max` jobs wait for a thread (PORTMUX.probe_queue); a
 *    job over it is refused, and the caller's detector declines
 *    (decide_offload);
 *  - jobs are grouped by source: the client's IPv4 address, or the /64
 *    of its IPv6 one (one host, or one customer, usually has a whole
 *    /64). A source may have at most `share` of queue_max waiting and
 *    run on at most `share` of the threads, each at least one
 *    (PORTMUX.probe_source_share, a quarter by default): a source that
 *    floods is refused while the others still find room, and another
 *    source always finds a thread free (with probe_threads 1, or a share
 *    of 1, there is no such guarantee). For Python, whose calls share
 *    one interpreter lock, one thread per source costs a busy source
 *    little: more of its calls at once would mostly wait for that lock,
 *    and make every other source's call wait longer for it;
 *  - a free thread takes the oldest job of the next source in turn (a
 *    round robin over the sources that have a job waiting and a thread
 *    to spare), not the oldest job overall: a source with one job is
 *    served after at most one job of each other source;
 *  - a job whose deadline (in.deadline) passed while it waited is not
 *    run: it comes back with NO_MATCH and `expired` set;
 *  - a job abandoned while it waits is taken out and freed at once: a
 *    closed connection's job never runs.
 *
 * Threading: submit, abandon and the callbacks happen on the loop thread
 * only. The pool's threads touch the queues and counters under the
 * pool's lock, and nothing else but the job's copy and the detector. */
#ifndef PMX_PROBE_POOL_H
#define PMX_PROBE_POOL_H

#include <ev.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "generation.h"
#include "probe.h"

/* A source's key: a family byte (0 unknown, 4, 6), then the IPv4 address
 * or the first 8 bytes of the IPv6 one. */
#define PROBE_SOURCE_KEY 9

struct probe_job;
struct probe_pool;
struct probe_source;
typedef void (*probe_done_fn)(struct probe_job *job);

enum probe_job_state {
	PROBE_JOB_NEW,
	PROBE_JOB_QUEUED,
	PROBE_JOB_RUNNING,
	PROBE_JOB_DONE,
};

struct probe_job {
	/* Pool lock: its source's queue while queued, the pool's done
	 * queue once done. */
	TAILQ_ENTRY(probe_job) next;
	struct probe_pool *pool;   /* set by probe_pool_submit */
	struct probe_source *src;  /* pool lock: while queued or running */
	uint8_t state;             /* pool lock: enum probe_job_state */
	uint8_t expired;           /* not run: its deadline passed first */
	uint8_t source[PROBE_SOURCE_KEY]; /* of in.peer */
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
	struct pmx_probe_input in; /* in.data points at data[],
				      in.datagram_end at datagram_end[] */
	struct sockaddr_storage peer, local;
	size_t datagram_end[PROBE_DATAGRAMS_MAX];
	uint8_t data[];
};

/* Why probe_pool_submit() did not take a job. */
enum probe_refusal {
	PROBE_SUBMITTED = 0,
	PROBE_REFUSED_STOPPING, /* the pool is stopping */
	PROBE_REFUSED_FULL,     /* queue_max jobs wait already */
	PROBE_REFUSED_SOURCE,   /* its source has its share waiting */
	PROBE_REFUSED_LATE,     /* its deadline has passed */
	PROBE_REFUSED_NOMEM,    /* no memory for its source */
};

/* Start `threads` threads. A job's `done` runs on the loop when its owner
 * is still set, and must free it with probe_job_free(). */
struct probe_pool *probe_pool_new(struct ev_loop *loop, int threads);
/* Stop the threads (after their current call) and free pending jobs. */
void probe_pool_free(struct probe_pool *pool);

/* A job for detector `index` of g on a copy of `in`; `done(job)` gets the
 * answer on the loop. Its source is in->peer's. */
struct probe_job *probe_job_new(struct generation *g, int index,
				const struct pmx_probe_input *in, void *owner,
				probe_done_fn done);
void probe_job_free(struct probe_job *job);
/* Queue a job (in.queued is set to clock_mono()), with at most `queue_max` jobs
 * waiting in the pool and a source's `share` (0 < share <= 1) of them and
 * of the threads: PROBE_SUBMITTED, or why not (enum probe_refusal); the
 * job is still the caller's then. */
int probe_pool_submit(struct probe_pool *pool, struct probe_job *job,
		      long queue_max, double share);
/* The owner no longer wants the answer (loop thread). A job still
 * waiting is taken out of the queue and freed now; one running or
 * answered is freed by the pool once back on the loop. */
void probe_job_abandon(struct probe_job *job);
/* Jobs waiting and running now (under the lock: a snapshot). */
void probe_pool_counts(struct probe_pool *pool, int *queued, int *running);

#endif
