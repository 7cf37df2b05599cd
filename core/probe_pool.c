/* probe_pool.c — worker threads for blocking detectors. */
#include "probe_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "thread.h"

struct probe_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct probe_job *todo, **todo_tail; /* FIFO */
	struct probe_job *done;              /* LIFO, reversed on delivery */
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

		while (pool->todo == NULL && !pool->stopping)
			pthread_cond_wait(&pool->cond, &pool->lock);
		if (pool->stopping)
			break;
		job = pool->todo;
		pool->todo = job->next;
		if (pool->todo == NULL)
			pool->todo_tail = &pool->todo;
		pthread_mutex_unlock(&pool->lock);

		const struct detector_inst *d = &job->gen->dets[job->index];
		memset(&job->res, 0, sizeof(job->res));
		job->verdict = d->plugin->desc->probe(d->instance, &job->in,
						      &job->res);
		if (job->verdict == PMX_MATCH && job->res.backend[0])
			resolve_backend(job);

		pthread_mutex_lock(&pool->lock);
		job->next = pool->done;
		pool->done = job;
		ev_async_send(pool->loop, &pool->async);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

static void
async_cb(EV_P_ ev_async *a, int revents)
{
	struct probe_pool *pool = a->data;
	struct probe_job *list, *rev = NULL;

	(void)loop;
	(void)revents;
	pthread_mutex_lock(&pool->lock);
	list = pool->done;
	pool->done = NULL;
	pthread_mutex_unlock(&pool->lock);
	while (list != NULL) { /* deliver in completion order */
		struct probe_job *next = list->next;
		list->next = rev;
		rev = list;
		list = next;
	}
	while (rev != NULL) {
		struct probe_job *job = rev;
		rev = job->next;
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
	pool->todo_tail = &pool->todo;
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
	job->next = NULL;
	*pool->todo_tail = job;
	pool->todo_tail = &job->next;
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

static void
free_list(struct probe_job *job)
{
	while (job != NULL) {
		struct probe_job *next = job->next;
		probe_job_free(job);
		job = next;
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
	free_list(pool->todo);
	free_list(pool->done);
	pthread_mutex_destroy(&pool->lock);
	pthread_cond_destroy(&pool->cond);
	free(pool->threads);
	free(pool);
}
