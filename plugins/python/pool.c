/*
 * pool.c — the interpreter threads, the job queue and the deadlines.
 *
 * A caller (create() or probe()) queues a job and waits on the job's
 * condition variable until it is done or its deadline passes. Callers
 * never take the GIL, so nothing a script does can hold them longer. A
 * job whose caller has gone is "abandoned": its late answer is dropped
 * and the thread that finishes it frees it.
 *
 * Workers are threads of this plugin, each with a Python thread state. A
 * job that finds no idle worker gets a new one, up to PMX_PY_THREADS_MAX,
 * so a script blocked where it cannot be interrupted (time.sleep, a
 * socket, a long C call) costs one thread, not the service. Workers never
 * exit. When every worker is busy past its job's deadline, a new job is
 * refused at once (POOL_BUSY) instead of waiting for nothing.
 *
 * The watchdog thread interrupts a call at its deadline: it takes the GIL
 * and makes portmux.Timeout the worker's asynchronous exception, which
 * Python raises at the script's next bytecode boundary: at once in a
 * loop, when the C call returns in a blocking one. It repeats every
 * PMX_PY_KICK_INTERVAL in case the script catches it.
 *
 * Lock order: the GIL, then pool.lock. Nobody waits for the GIL while
 * holding pool.lock, and callers never touch the GIL at all.
 */
#include "python.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PMX_PY_STACK_SIZE (8u << 20)

struct worker {
	pthread_t thread;
	PyThreadState *tstate;
	unsigned long ident; /* PyThread_get_thread_ident(), for kicks */
	struct job *job;     /* being run; NULL: idle or starting */
	int in_call;         /* inside script code for job; changed only
				while holding the GIL (see kick()) */
	uint64_t call;       /* counts calls: a kick's target is exact */
	double kick_at;      /* next interrupt, while in_call */
	int kicked;          /* an interrupt was sent during this call */
};

/* Process-wide (see python.h). */
static struct pool {
	pthread_mutex_t lock;
	pthread_cond_t work;  /* workers: a job was queued */
	pthread_cond_t watch; /* watchdog: a call started */
	struct job *head, *tail;
	size_t nqueued;
	struct worker workers[PMX_PY_THREADS_MAX];
	size_t nworkers;
	size_t nidle;     /* workers waiting for a job */
	size_t nstarting; /* workers not yet waiting for their first job */
} pool = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct timespec
mono_ts(double t)
{
	struct timespec ts;

	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if (ts.tv_nsec < 0)
		ts.tv_nsec = 0;
	return ts;
}

static int
cond_init(pthread_cond_t *c)
{
	pthread_condattr_t attr;
	int rc;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	rc = pthread_cond_init(c, &attr);
	pthread_condattr_destroy(&attr);
	return rc;
}

/* ---- jobs and instance references ---- */

struct job *
job_new(enum job_kind kind, struct pyinst *inst, const void *data,
	size_t len, double timeout)
{
	struct job *job = malloc(sizeof(*job) + len + 1);

	if (job == NULL)
		return NULL;
	memset(job, 0, sizeof(*job));
	if (cond_init(&job->done) != 0) {
		free(job);
		return NULL;
	}
	job->kind = kind;
	job->inst = inst;
	job->len = len;
	if (len > 0)
		memcpy(job->data, data, len);
	job->data[len] = '\0';
	job->deadline = mono_now() + timeout;
	if (kind != JOB_RELEASE)
		pyinst_ref(inst);
	return job;
}

void
job_free(struct job *job, int have_gil)
{
	if (job->kind != JOB_RELEASE && job->inst != NULL)
		pyinst_unref(job->inst, have_gil);
	pthread_cond_destroy(&job->done);
	free(job);
}

void
pyinst_ref(struct pyinst *inst)
{
	pthread_mutex_lock(&pool.lock);
	inst->refs++;
	pthread_mutex_unlock(&pool.lock);
}

void
pyinst_unref(struct pyinst *inst, int have_gil)
{
	struct job *job;
	int last;

	pthread_mutex_lock(&pool.lock);
	last = --inst->refs == 0;
	pthread_mutex_unlock(&pool.lock);
	if (!last)
		return;
	/* No job runs for it any more: its fields are stable. */
	if (inst->filename == NULL && inst->module == NULL &&
	    inst->analyse == NULL) {
		pyinst_free(inst);
	} else if (have_gil) {
		script_release(inst);
		pyinst_free(inst);
	} else if ((job = job_new(JOB_RELEASE, inst, NULL, 0,
				  PMX_PY_RELEASE_TIMEOUT)) != NULL) {
		pool_post(job);
	}
	/* (Out of memory: the instance leaks rather than being freed
	 * without the GIL.) */
}

/* ---- workers ---- */

struct pyinst *
pool_current(void)
{
	unsigned long me = PyThread_get_thread_ident();
	struct pyinst *inst = NULL;

	pthread_mutex_lock(&pool.lock);
	for (size_t i = 0; i < pool.nworkers; i++) {
		const struct worker *w = &pool.workers[i];

		if (w->ident == me && w->job != NULL)
			inst = w->job->inst;
	}
	pthread_mutex_unlock(&pool.lock);
	return inst;
}

/* Run one job; called without pool.lock, returns without it. */
static void
run(struct worker *w, struct job *job)
{
	double started;
	int skip, kicked, abandoned;

	PyEval_RestoreThread(w->tstate); /* take the GIL */
	pthread_mutex_lock(&pool.lock);
	started = mono_now();
	/* A call or load nobody waits for any more is not started. */
	skip = job->kind != JOB_RELEASE &&
	       (job->abandoned || started >= job->deadline);
	if (!skip) {
		w->in_call = 1;
		w->call++;
		w->kick_at = job->deadline;
		pthread_cond_signal(&pool.watch);
	}
	pthread_mutex_unlock(&pool.lock);

	if (skip) {
		job->verdict = job->kind == JOB_CALL ? PMX_NO_MATCH : -1;
	} else if (job->kind == JOB_RELEASE) {
		script_release(job->inst);
		pyinst_free(job->inst);
		job->inst = NULL;
	} else {
		script_run(job, started);
	}

	pthread_mutex_lock(&pool.lock);
	w->in_call = 0;
	kicked = w->kicked;
	w->kicked = 0;
	pthread_mutex_unlock(&pool.lock);
	if (kicked)
		script_drain();

	pthread_mutex_lock(&pool.lock);
	job->state = JOB_DONE;
	w->job = NULL;
	abandoned = job->abandoned;
	if (!abandoned)
		pthread_cond_signal(&job->done);
	pthread_mutex_unlock(&pool.lock);
	if (abandoned)
		job_free(job, 1); /* its late answer goes nowhere */
	PyEval_SaveThread();
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	/* A thread state of its own, registered for PyGILState (extension
	 * modules use it); the GIL is held on return. */
	(void)PyGILState_Ensure();
	w->tstate = PyEval_SaveThread();

	pthread_mutex_lock(&pool.lock);
	w->ident = PyThread_get_thread_ident();
	pool.nstarting--;
	for (;;) {
		struct job *job;

		while (pool.head == NULL) {
			pool.nidle++;
			pthread_cond_wait(&pool.work, &pool.lock);
			pool.nidle--;
		}
		job = pool.head;
		pool.head = job->next;
		if (pool.head == NULL)
			pool.tail = NULL;
		pool.nqueued--;
		job->next = NULL;
		job->state = JOB_RUNNING;
		w->job = job;
		pthread_mutex_unlock(&pool.lock);
		run(w, job);
		pthread_mutex_lock(&pool.lock);
	}
	return NULL;
}

/* A thread that runs nothing the daemon's signals are meant for: the
 * asynchronous ones stay blocked in it. */
static int
start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	static const int sync_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL,
					   SIGTRAP, SIGABRT, SIGSYS};
	pthread_attr_t attr;
	sigset_t block, old;
	int rc;

	sigfillset(&block);
	for (size_t i = 0; i < sizeof(sync_signals) / sizeof(int); i++)
		sigdelset(&block, sync_signals[i]);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, PMX_PY_STACK_SIZE);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &block, &old);
	rc = pthread_create(t, &attr, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return rc == 0 ? 0 : -1;
}

static int
spawn_locked(void)
{
	struct worker *w;

	if (pool.nworkers >= PMX_PY_THREADS_MAX)
		return -1;
	w = &pool.workers[pool.nworkers];
	memset(w, 0, sizeof(*w));
	if (start_thread(&w->thread, worker_main, w) < 0)
		return -1;
	pool.nworkers++;
	pool.nstarting++;
	return 0;
}

/* Workers that can take a job soon: idle, starting, or busy with a job
 * still within its deadline. */
static size_t
healthy_locked(double now)
{
	size_t n = 0;

	for (size_t i = 0; i < pool.nworkers; i++) {
		const struct job *j = pool.workers[i].job;

		if (j == NULL || now < j->deadline)
			n++;
	}
	return n;
}

static void
append_locked(struct job *job)
{
	job->state = JOB_QUEUED;
	job->next = NULL;
	if (pool.tail != NULL)
		pool.tail->next = job;
	else
		pool.head = job;
	pool.tail = job;
	pool.nqueued++;
	if (pool.nqueued > pool.nidle + pool.nstarting)
		(void)spawn_locked();
	pthread_cond_signal(&pool.work);
}

static void
unlink_locked(struct job *job)
{
	struct job **p = &pool.head, *prev = NULL;

	while (*p != NULL && *p != job) {
		prev = *p;
		p = &(*p)->next;
	}
	if (*p == NULL)
		return;
	*p = job->next;
	if (pool.tail == job)
		pool.tail = prev;
	pool.nqueued--;
}

enum pool_outcome
pool_run(struct job *job)
{
	struct timespec until = mono_ts(job->deadline);
	enum pool_outcome out = POOL_LATE;
	int free_it = 0;

	pthread_mutex_lock(&pool.lock);
	append_locked(job);
	if (pool.nqueued > pool.nidle + pool.nstarting &&
	    healthy_locked(mono_now()) == 0) {
		/* Every worker is stuck past its deadline and no new one
		 * can be had: do not wait for nothing. */
		unlink_locked(job);
		pthread_mutex_unlock(&pool.lock);
		job_free(job, 0);
		return POOL_BUSY;
	}
	while (job->state != JOB_DONE && mono_now() < job->deadline)
		(void)pthread_cond_timedwait(&job->done, &pool.lock, &until);
	switch (job->state) {
	case JOB_DONE:
		out = POOL_DONE;
		break;
	case JOB_QUEUED:
		unlink_locked(job);
		free_it = 1;
		break;
	case JOB_RUNNING:
		job->abandoned = 1; /* the worker frees it */
		break;
	}
	pthread_mutex_unlock(&pool.lock);
	if (free_it)
		job_free(job, 0);
	return out;
}

void
pool_post(struct job *job)
{
	pthread_mutex_lock(&pool.lock);
	job->abandoned = 1;
	append_locked(job);
	pthread_mutex_unlock(&pool.lock);
}

/* ---- the watchdog ---- */

/*
 * Interrupt w's call. Called and returns with pool.lock held. Once this
 * thread holds the GIL the worker is either inside the same call (in_call
 * and the call count unchanged: the exception lands in it) or outside any
 * call: in_call changes only under the GIL, and a worker that has left a
 * call drains any interrupt still pending before it runs the next one.
 */
static void
kick(struct worker *w, PyThreadState *tstate)
{
	uint64_t call = w->call;

	w->kick_at = mono_now() + PMX_PY_KICK_INTERVAL;
	pthread_mutex_unlock(&pool.lock);
	PyEval_RestoreThread(tstate); /* a looping script yields it within
					 the switch interval (5 ms) */
	pthread_mutex_lock(&pool.lock);
	if (w->in_call && w->call == call) {
		PyThreadState_SetAsyncExc(w->ident, pyrt.timeout_exc);
		w->kicked = 1;
	}
	pthread_mutex_unlock(&pool.lock);
	(void)PyEval_SaveThread();
	pthread_mutex_lock(&pool.lock);
}

static void *
watchdog_main(void *arg)
{
	PyThreadState *tstate;

	(void)arg;
	(void)PyGILState_Ensure();
	tstate = PyEval_SaveThread();
	pthread_mutex_lock(&pool.lock);
	for (;;) {
		double now = mono_now(), next = INFINITY;
		struct worker *due = NULL;

		for (size_t i = 0; i < pool.nworkers && due == NULL; i++) {
			struct worker *w = &pool.workers[i];

			if (!w->in_call)
				continue;
			if (w->kick_at <= now)
				due = w;
			else if (w->kick_at < next)
				next = w->kick_at;
		}
		if (due != NULL) {
			kick(due, tstate);
		} else if (isinf(next)) {
			pthread_cond_wait(&pool.watch, &pool.lock);
		} else {
			struct timespec until = mono_ts(next);

			(void)pthread_cond_timedwait(&pool.watch, &pool.lock,
						     &until);
		}
	}
	return NULL;
}

int
pool_start(char *err, size_t errlen)
{
	pthread_t t;

	if (cond_init(&pool.work) != 0 || cond_init(&pool.watch) != 0 ||
	    start_thread(&t, watchdog_main, NULL) < 0) {
		snprintf(err, errlen,
			 "cannot start Python: cannot create its threads");
		return -1;
	}
	return 0;
}
