/*
 * python.h — internals of python.so, the detector that asks a user script.
 *
 * Who does what:
 *   python.c    the descriptor: options, reading the script, create/probe/
 *               destroy (never touches Python itself)
 *   interp.c    starting CPython once per process
 *   pool.c      the interpreter threads, the job queue, deadlines and the
 *               watchdog that interrupts overrunning scripts
 *   script.c    what runs on an interpreter thread under the GIL: compile
 *               a script, call analyse(), describe exceptions, release it
 *   answer.c    what analyse() returned -> verdict and backend
 *   module.c    the built-in `portmux` module scripts can import
 *   ratelimit.c log lines through an instance's host, rate limited
 *
 * Threads. probe() runs on core worker threads and never takes the GIL: it
 * queues a job and waits for it on a condition variable until its deadline.
 * Python runs only on threads this plugin owns, so a script stuck in C code
 * can make a probe late by nothing more than the wait's own slack.
 *
 * Process-wide state (the documented exception to "no globals", because
 * CPython is one interpreter per process): `pyrt` below (interp.c) and
 * the thread pool with its queue (pool.c). Everything else hangs off an
 * instance. (No thread-local variables: dynamic TLS in a dlopen()ed
 * object trips LeakSanitizer, and the pool knows who runs what.)
 */
#ifndef PMX_PYTHON_H
#define PMX_PYTHON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h> /* first: it sets feature-test macros */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <portmux/detector.h>

#define PMX_PY_TIMEOUT_DEFAULT 0.05 /* PYTHON.timeout, seconds */
#define PMX_PY_TIMEOUT_MIN 0.001
#define PMX_PY_TIMEOUT_MAX 10.0
#define PMX_PY_LOAD_TIMEOUT 10.0   /* a script's top level, in create() */
#define PMX_PY_RELEASE_TIMEOUT 1.0 /* dropping a script (its __del__s) */
#define PMX_PY_KICK_INTERVAL 0.1   /* re-interrupt a script that caught it */
#define PMX_PY_THREADS_MAX 8       /* interpreter threads, stuck included */
#define PMX_PY_SCRIPT_MAX (16u << 20) /* bytes of source */

#ifndef PMX_PY_DEFAULT_SCRIPT
#define PMX_PY_DEFAULT_SCRIPT "/etc/portmux/script.py"
#endif

/* ---- ratelimit.c ---- */

#define RL_SLOTS 16

/* Recent distinct log keys (hashed), each allowed one line a second. */
struct ratelimit {
	struct rl_slot {
		uint64_t key;
		double last;           /* CLOCK_MONOTONIC seconds; 0: free */
		unsigned long dropped; /* suppressed since `last` */
	} slot[RL_SLOTS];
};

/* ---- the instance ---- */

struct pyinst {
	/* Set by create(), read-only afterwards. */
	char *path;     /* the script, as resolved */
	double timeout; /* seconds from when the core queued a call (or
			   from probe() when it does not say) to its answer */
	int inert;      /* no script (default path absent): always NO_MATCH */
	int input_times; /* the core fills the input's queued and deadline
			    (pmx_host.input_size) */

	/* Python objects (strong references). Written on an interpreter
	 * thread under the GIL while loading and releasing; read-only in
	 * between. */
	PyObject *filename; /* str: path, as compiled (tracebacks) */
	PyObject *module;   /* the script's own module namespace */
	PyObject *analyse;  /* its analyse callable */

	unsigned refs; /* pool lock: create()'s, plus one per job */

	/* log_lock guards host and rl: destroy() clears host, so a job that
	 * outlives the core's view of the instance never logs through a
	 * host the core has freed. */
	pthread_mutex_t log_lock;
	const struct pmx_host *host;
	struct ratelimit rl;
};

/* ---- jobs: what a caller hands to an interpreter thread ---- */

enum job_kind {
	JOB_LOAD,    /* compile and run the script, find analyse */
	JOB_CALL,    /* analyse(data) */
	JOB_RELEASE, /* drop the instance's Python objects, free it */
};

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct job {
	struct job *next;      /* queue link (pool lock) */
	enum job_kind kind;
	enum job_state state;  /* pool lock */
	int abandoned;         /* pool lock: nobody waits; the pool frees it */
	pthread_cond_t done;   /* signalled when it becomes JOB_DONE */
	struct pyinst *inst;   /* holds a reference (not for JOB_RELEASE) */
	double deadline;       /* CLOCK_MONOTONIC seconds */
	int final;             /* JOB_CALL: in->final */
	/* Results, valid once JOB_DONE. */
	int verdict;           /* JOB_CALL: enum pmx_verdict; JOB_LOAD: 0/-1 */
	char backend[PMX_BACKEND_MAX];
	char err[512];         /* JOB_LOAD: why it failed */
	size_t len;
	unsigned char data[];  /* JOB_CALL: the bytes; JOB_LOAD: the source,
				  NUL-terminated */
};

struct job *job_new(enum job_kind kind, struct pyinst *inst,
		    const void *data, size_t len, double timeout);
/* Drop the job and its instance reference. have_gil: the caller holds
 * the GIL (an instance whose last reference goes is released inline). */
void job_free(struct job *job, int have_gil);

/* ---- pool.c ---- */

enum pool_outcome {
	POOL_DONE, /* finished in time: results in the job; the caller frees */
	POOL_LATE, /* deadline passed; the job is no longer the caller's */
	POOL_BUSY, /* every interpreter thread is stuck; job freed */
};

int pool_start(char *err, size_t errlen);
/* Queue `job` and wait until it is done or job->deadline passes. */
enum pool_outcome pool_run(struct job *job);
/* Queue `job` and return; the pool frees it. */
void pool_post(struct job *job);
void pyinst_ref(struct pyinst *inst);
/* Drop a reference; the last one releases the instance (inline when the
 * caller holds the GIL, else through a JOB_RELEASE). */
void pyinst_unref(struct pyinst *inst, int have_gil);
double mono_now(void);

/* ---- interp.c ---- */

/* Everything process-wide. */
struct pyrt {
	pthread_mutex_t start_lock; /* state, init_err */
	int state;             /* 0 not started, 1 running, -1 failed */
	char init_err[256];
	/* From the portmux module (strong references, never dropped). */
	PyObject *need_more;   /* portmux.NEED_MORE */
	PyObject *timeout_exc; /* portmux.Timeout */
	PyObject *drain;       /* a no-op Python function (see pool.c) */
	PyThreadState *main_tstate; /* the initialising thread's, parked */
};

extern struct pyrt pyrt;

/* Start CPython if it is not yet (main thread, from create()). */
int interp_start(char *err, size_t errlen);

/* The instance whose job the calling interpreter thread runs (for
 * portmux.log); NULL on any other thread. */
struct pyinst *pool_current(void);

/* ---- script.c (interpreter threads, GIL held) ---- */

void script_run(struct job *job, double started);
/* str(obj), or repr(obj), as a clean log fragment (never fails). */
void py_text(PyObject *obj, char *dst, size_t cap, int repr);
void script_release(struct pyinst *inst);
/* Consume an interrupt that arrived after the script had finished. */
void script_drain(void);

/* ---- answer.c (GIL held) ---- */

/* The verdict for what analyse() returned; fills job->backend on MATCH.
 * Anything unexpected is logged (rate limited) and counts as None. */
int answer_read(struct job *job, PyObject *ret);

/* ---- module.c ---- */

PyObject *portmux_module_init(void);

/* ---- ratelimit.c ---- */

/* 1: log now, with *dropped lines suppressed for this key since the last
 * one; 0: suppress. */
int ratelimit_check(struct ratelimit *rl, const char *key, double now,
		    unsigned long *dropped);
/* Log through inst's host (any thread). With a key, at most one line a
 * second per key, the next one counting those suppressed. Dropped once
 * the instance is destroyed. */
void inst_log(struct pyinst *inst, int level, const char *key,
	      const char *fmt, ...) PMX_PRINTF(4, 5);
/* Copy s into dst (cap bytes) as one printable line: control characters
 * become spaces, and it is cut (at a UTF-8 boundary) to fit. */
void log_clean(char *dst, size_t cap, const char *s, size_t n);

/* Bare struct for inst_free (python.c). */
void pyinst_free(struct pyinst *inst);

#endif
