/* probe_pool.c — worker threads for blocking detectors. */
#include "probe_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "thread.h"

STAILQ_HEAD(job_queue, probe_job);

struct probe_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job_queue todo; /* waiting for a thread, oldest first */
	struct job_queue done; /* answered, in completion order */
	int stopping;
	int nthreads;
	pthread_t *threads;
	struct ev_loop *loop;
	ev_async async;
};

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
	if (in->peer && in->peer_len <= sizeof(job->peer)) {
		memcpy(&job->peer, in->peer, in->peer_len);
		job->in.peer = (struct sockaddr *)&job->peer;
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
	backend_destroy(job->backend);
	generation_unref(job->gen);
	free(job);
}

/* Here a name may be looked up: this thread is not the event loop. */
static void
resolve_backend(struct probe_job *job)
{
	job->backend = backend_new(job->res.backend, 1, job->backend_err,
				   sizeof(job->backend_err));
}

static void *
pool_thread(void *arg)
{
	struct probe_pool *pool = arg;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		struct probe_job *job;

		while (STAILQ_EMPTY(&pool->todo) && !pool->stopping)
			pthread_cond_wait(&pool->cond, &pool->lock);
		if (pool->stopping)
			break;
		job = STAILQ_FIRST(&pool->todo);
		STAILQ_REMOVE_HEAD(&pool->todo, next);
		pthread_mutex_unlock(&pool->lock);

		const struct detector_inst *d = &job->gen->dets[job->index];
		memset(&job->res, 0, sizeof(job->res));
		job->verdict = d->plugin->desc->probe(d->instance, &job->in,
						      &job->res);
		if (job->verdict == PMX_MATCH && job->res.backend[0])
			resolve_backend(job);

		pthread_mutex_lock(&pool->lock);
		STAILQ_INSERT_TAIL(&pool->done, job, next);
		ev_async_send(pool->loop, &pool->async);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

static void
async_cb(EV_P_ ev_async *a, int revents)
{
	struct probe_pool *pool = a->data;
	struct probe_job *job;
	struct job_queue answered = STAILQ_HEAD_INITIALIZER(answered);

	(void)loop;
	(void)revents;
	pthread_mutex_lock(&pool->lock);
	STAILQ_CONCAT(&answered, &pool->done);
	pthread_mutex_unlock(&pool->lock);
	/* In completion order; a callback may submit new jobs. */
	while ((job = STAILQ_FIRST(&answered)) != NULL) {
		STAILQ_REMOVE_HEAD(&answered, next);
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
	STAILQ_INIT(&pool->todo);
	STAILQ_INIT(&pool->done);
	pool->loop = loop;
	ev_async_init(&pool->async, async_cb);
	pool->async.data = pool;
	ev_async_start(loop, &pool->async);
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

int
probe_pool_submit(struct probe_pool *pool, struct probe_job *job)
{
	pthread_mutex_lock(&pool->lock);
	if (pool->stopping) {
		pthread_mutex_unlock(&pool->lock);
		return -1;
	}
	STAILQ_INSERT_TAIL(&pool->todo, job, next);
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

static void
free_queue(struct job_queue *q)
{
	struct probe_job *job;

	while ((job = STAILQ_FIRST(q)) != NULL) {
		STAILQ_REMOVE_HEAD(q, next);
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
	free_queue(&pool->todo);
	free_queue(&pool->done);
	pthread_mutex_destroy(&pool->lock);
	pthread_cond_destroy(&pool->cond);
	free(pool->threads);
	free(pool);
}
