/* probe_pool.c — worker threads for blocking detectors, with a bounded
 * queue shared fairly between sources (see probe_pool.h). */
#include "probe_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "thread.h"

#define SOURCE_BUCKETS 64 /* a power of two */

TAILQ_HEAD(job_queue, probe_job);

/*
 * The jobs of one source (pool lock). It exists while it has a job
 * waiting or running, in the pool's hash; it is in the pool's turns while
 * it has a job waiting and runs fewer than run_max.
 */
struct probe_source {
	uint8_t key[PROBE_SOURCE_KEY];
	int queued, running;
	int in_turns;
	struct job_queue jobs;              /* waiting, oldest first */
	TAILQ_ENTRY(probe_source) turn;     /* pool->turns */
	struct probe_source *hnext;         /* hash chain */
};

TAILQ_HEAD(source_ring, probe_source);

struct probe_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Everything below up to `done`: pool lock. Sources are owned by
	 * the pool: made by submit, freed when their last job leaves. */
	struct probe_source *buckets[SOURCE_BUCKETS];
	struct source_ring turns; /* the next source to serve first */
	int nqueued, nrunning;
	int run_max;              /* jobs of one source running at once */
	struct job_queue done;    /* answered, in completion order */
	int stopping;
	int nthreads;
	pthread_t *threads;
	struct ev_loop *loop;
	ev_async async;
};

/* The source of a client address: its IPv4 address (an IPv4-mapped IPv6
 * address is IPv4), or its IPv6 /64. Unknown: all zeros. */
static void
source_key(const struct sockaddr *sa, socklen_t len,
	   uint8_t key[PROBE_SOURCE_KEY])
{
	memset(key, 0, PROBE_SOURCE_KEY);
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET &&
	    len >= (socklen_t)sizeof(struct sockaddr_in)) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr,
		       4);
	} else if (sa->sa_family == AF_INET6 &&
		   len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			key[0] = 4;
			memcpy(key + 1, a->s6_addr + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a->s6_addr, 8);
		}
	}
}

struct probe_job *
probe_job_new(struct generation *g, int index,
	      const struct pmx_probe_input *in, void *owner, probe_done_fn done)
{
	struct probe_job *job = calloc(1, sizeof(*job) + in->len);

	if (job == NULL)
		return NULL;
	job->owner = owner;
	job->done = done;
	job->gen = g;
	generation_ref(g);
	job->index = index;
	job->in = *in;
	memcpy(job->data, in->data, in->len);
	job->in.data = job->data;
	/* A UDP flow's datagrams: where each ends (at most as many as a flow
	 * shows its detectors). */
	job->in.datagrams = in->datagrams < PROBE_DATAGRAMS_MAX
				    ? in->datagrams
				    : PROBE_DATAGRAMS_MAX;
	if (job->in.datagrams > 0)
		memcpy(job->datagram_end, in->datagram_end,
		       job->in.datagrams * sizeof(*in->datagram_end));
	job->in.datagram_end = job->in.datagrams ? job->datagram_end : NULL;
	if (in->peer && in->peer_len <= sizeof(job->peer)) {
		memcpy(&job->peer, in->peer, in->peer_len);
		job->in.peer = (struct sockaddr *)&job->peer;
		source_key(in->peer, in->peer_len, job->source);
	}
	if (in->local && in->local_len <= sizeof(job->local)) {
		memcpy(&job->local, in->local, in->local_len);
		job->in.local = (struct sockaddr *)&job->local;
	}
	return job;
}

void
probe_job_free(struct probe_job *job)
{
	if (job == NULL)
		return;
	backend_destroy(job->backend);
	generation_unref(job->gen);
	free(job);
}

/* ---- sources (pool lock) ---- */

/* Hash bucket of a key (FNV-1a). */
static struct probe_source **
bucket(struct probe_pool *pool, const uint8_t *key)
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < PROBE_SOURCE_KEY; i++)
		h = (h ^ key[i]) * 16777619u;
	return &pool->buckets[h & (SOURCE_BUCKETS - 1)];
}

/* The source of `key`, made when it has no job yet; NULL out of
 * memory. */
static struct probe_source *
source_get(struct probe_pool *pool, const uint8_t *key)
{
	struct probe_source **b = bucket(pool, key), *s;

	for (s = *b; s != NULL; s = s->hnext)
		if (memcmp(s->key, key, PROBE_SOURCE_KEY) == 0)
			return s;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	memcpy(s->key, key, PROBE_SOURCE_KEY);
	TAILQ_INIT(&s->jobs);
	s->hnext = *b;
	*b = s;
	return s;
}

/* After s's counts changed: it takes its turn again (at the end of the
 * ring) when it has a job waiting and a thread to spare, leaves the ring
 * when not, and is freed once it has no job at all. */
static void
source_settle(struct probe_pool *pool, struct probe_source *s)
{
	int eligible = s->queued > 0 && s->running < pool->run_max;

	if (s->in_turns && !eligible) {
		TAILQ_REMOVE(&pool->turns, s, turn);
		s->in_turns = 0;
	} else if (!s->in_turns && eligible) {
		TAILQ_INSERT_TAIL(&pool->turns, s, turn);
		s->in_turns = 1;
		pthread_cond_signal(&pool->cond);
	}
	if (s->queued == 0 && s->running == 0) {
		struct probe_source **p = bucket(pool, s->key);

		while (*p != s)
			p = &(*p)->hnext;
		*p = s->hnext;
		free(s);
	}
}

/* The next job to run: the oldest of the source whose turn it is, which
 * then goes to the end of the ring. The turns must not be empty. */
static struct probe_job *
take_next(struct probe_pool *pool)
{
	struct probe_source *s = TAILQ_FIRST(&pool->turns);
	struct probe_job *job = TAILQ_FIRST(&s->jobs);

	TAILQ_REMOVE(&pool->turns, s, turn);
	s->in_turns = 0;
	TAILQ_REMOVE(&s->jobs, job, next);
	s->queued--;
	pool->nqueued--;
	s->running++;
	pool->nrunning++;
	job->state = PROBE_JOB_RUNNING;
	source_settle(pool, s);
	return job;
}

/* A job taken by take_next() is over (run, or expired): it leaves its
 * source and waits for the loop in the done queue. */
static void
finish(struct probe_pool *pool, struct probe_job *job)
{
	struct probe_source *s = job->src;

	job->src = NULL;
	s->running--;
	pool->nrunning--;
	source_settle(pool, s);
	job->state = PROBE_JOB_DONE;
	TAILQ_INSERT_TAIL(&pool->done, job, next);
	ev_async_send(pool->loop, &pool->async);
}

/* ---- the threads ---- */

/* Here a name may be looked up: this thread is not the event loop. */
static void
resolve_backend(struct probe_job *job)
{
	job->backend = backend_new(job->res.backend, 1, job->backend_err,
				   sizeof(job->backend_err));
}

/* Call the job's detector (without the lock). */
static void
run(struct probe_job *job)
{
	const struct detector_inst *d = &job->gen->dets[job->index];

	memset(&job->res, 0, sizeof(job->res));
	job->verdict = d->plugin->desc->probe(d->instance, &job->in,
					      &job->res);
	if (job->verdict == PMX_MATCH && job->res.backend[0])
		resolve_backend(job);
}

static void *
pool_thread(void *arg)
{
	struct probe_pool *pool = arg;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		struct probe_job *job;

		while (TAILQ_EMPTY(&pool->turns) && !pool->stopping)
			pthread_cond_wait(&pool->cond, &pool->lock);
		if (pool->stopping)
			break;
		job = take_next(pool);
		if (job->in.deadline > 0 && clock_mono() >= job->in.deadline) {
			/* Nobody waits for its answer any more. */
			job->expired = 1;
			job->verdict = PMX_NO_MATCH;
		} else {
			pthread_mutex_unlock(&pool->lock);
			run(job);
			pthread_mutex_lock(&pool->lock);
		}
		finish(pool, job);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

/* Answers back on the loop: to their owners, or freed. */
static void
async_cb(EV_P_ ev_async *a, int revents)
{
	struct probe_pool *pool = a->data;
	struct probe_job *job;
	struct job_queue answered = TAILQ_HEAD_INITIALIZER(answered);

	(void)loop;
	(void)revents;
	pthread_mutex_lock(&pool->lock);
	TAILQ_CONCAT(&answered, &pool->done, next);
	pthread_mutex_unlock(&pool->lock);
	/* In completion order; a callback may submit new jobs. */
	while ((job = TAILQ_FIRST(&answered)) != NULL) {
		TAILQ_REMOVE(&answered, job, next);
		if (job->owner != NULL)
			job->done(job);
		else
			probe_job_free(job);
	}
}

struct probe_pool *
probe_pool_new(struct ev_loop *loop, int threads)
{
	struct probe_pool *pool = calloc(1, sizeof(*pool));

	if (pool == NULL)
		return NULL;
	pool->threads = calloc((size_t)threads, sizeof(*pool->threads));
	if (pool->threads == NULL) {
		free(pool);
		return NULL;
	}
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->cond, NULL);
	TAILQ_INIT(&pool->turns);
	TAILQ_INIT(&pool->done);
	pool->loop = loop;
	ev_async_init(&pool->async, async_cb);
	pool->async.data = pool;
	ev_async_start(loop, &pool->async);
	pool->run_max = 1; /* until the first submit says the share */
	for (int i = 0; i < threads; i++) {
		if (thread_start(&pool->threads[i], pool_thread, pool) != 0) {
			log_error("probe pool: cannot start thread %d", i);
			break;
		}
		pool->nthreads++;
	}
	if (pool->nthreads == 0) {
		probe_pool_free(pool);
		return NULL;
	}
	return pool;
}

/* `share` of n, at least 1. */
static long
share_of(long n, double share)
{
	long k = (long)((double)n * share);

	return k > 0 ? k : 1;
}

int
probe_pool_submit(struct probe_pool *pool, struct probe_job *job,
		  long queue_max, double share)
{
	long queue_share = share_of(queue_max, share);
	struct probe_source *s;
	int why = PROBE_SUBMITTED;

	job->in.queued = clock_mono();
	if (job->in.deadline > 0 && job->in.queued >= job->in.deadline)
		return PROBE_REFUSED_LATE;
	pthread_mutex_lock(&pool->lock);
	/* The job's generation says the share (a reload may change it):
	 * sources whose turn it is are settled again as their jobs come
	 * and go. */
	pool->run_max = (int)share_of(pool->nthreads, share);
	if (pool->stopping)
		why = PROBE_REFUSED_STOPPING;
	else if (pool->nqueued >= queue_max)
		why = PROBE_REFUSED_FULL;
	else if ((s = source_get(pool, job->source)) == NULL)
		why = PROBE_REFUSED_NOMEM;
	else if (s->queued >= queue_share) {
		why = PROBE_REFUSED_SOURCE;
	} else {
		job->pool = pool;
		job->src = s;
		job->state = PROBE_JOB_QUEUED;
		TAILQ_INSERT_TAIL(&s->jobs, job, next);
		s->queued++;
		pool->nqueued++;
		source_settle(pool, s);
	}
	pthread_mutex_unlock(&pool->lock);
	return why;
}

void
probe_job_abandon(struct probe_job *job)
{
	struct probe_pool *pool = job->pool;
	int unrun = 0;

	job->owner = NULL;
	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	if (job->state == PROBE_JOB_QUEUED) {
		struct probe_source *s = job->src;

		TAILQ_REMOVE(&s->jobs, job, next);
		s->queued--;
		pool->nqueued--;
		job->src = NULL;
		source_settle(pool, s);
		unrun = 1;
	}
	pthread_mutex_unlock(&pool->lock);
	if (unrun)
		probe_job_free(job);
}

void
probe_pool_counts(struct probe_pool *pool, int *queued, int *running)
{
	pthread_mutex_lock(&pool->lock);
	*queued = pool->nqueued;
	*running = pool->nrunning;
	pthread_mutex_unlock(&pool->lock);
}

static void
free_queue(struct job_queue *q)
{
	struct probe_job *job;

	while ((job = TAILQ_FIRST(q)) != NULL) {
		TAILQ_REMOVE(q, job, next);
		probe_job_free(job);
	}
}

void
probe_pool_free(struct probe_pool *pool)
{
	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = 1;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	for (int i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	ev_async_stop(pool->loop, &pool->async);
	/* Only the loop is left: jobs still waiting, and their sources. */
	for (int i = 0; i < SOURCE_BUCKETS; i++) {
		struct probe_source *s;

		while ((s = pool->buckets[i]) != NULL) {
			pool->buckets[i] = s->hnext;
			free_queue(&s->jobs);
			free(s);
		}
	}
	free_queue(&pool->done);
	pthread_mutex_destroy(&pool->lock);
	pthread_cond_destroy(&pool->cond);
	free(pool->threads);
	free(pool);
}
