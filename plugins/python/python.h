/*
 * python.h — internals of python.so, the detector that asks a user script.
 *
 * The script never runs in the daemon. Each instance (PYTHON,
 * PYTHON:games...) has its own processes, from the portmux-python
 * program installed next to python.so (plugins/python/worker/):
 *   - a zygote that starts CPython and compiles the script, and forks
 *   - `processes` workers, each of which runs the script's top level
 *     once, in a sandbox, and then answers analyse() calls one at a time.
 * See wire.h for what they say to each other.
 *
 * Who does what here (python.so links no libpython):
 *   python.c    the descriptor: options, reading the script, create /
 *               probe / destroy
 *   procs.c     an instance's processes: spawning the zygote, the keeper
 *               thread that forks, replaces and buries workers, and one
 *               call on a worker with its deadline
 *   wire.c      frames on the sockets (shared with portmux-python)
 *   logtext.c   a script's text as a log line (shared too)
 *   strikes.c   sources whose calls keep costing workers, held back
 *   ratelimit.c log lines through an instance's host, rate limited
 *
 * Threads. probe() runs on the core's probe threads: it takes an idle
 * worker, sends the bytes and waits for the answer until the deadline;
 * at the deadline it answers NO_MATCH and hands the worker to the keeper,
 * which kills it (after asking it where it is stuck) and forks another.
 * A worker that crashes, exits or leaves threads running is replaced the
 * same way. Nothing a script does reaches the daemon's memory, threads,
 * signals or sockets.
 */
#ifndef PMX_PYTHON_H
#define PMX_PYTHON_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <portmux/detector.h>

#include "logtext.h"
#include "wire.h"

#define PMX_PY_TIMEOUT_DEFAULT 0.05 /* PYTHON.timeout, seconds */
#define PMX_PY_TIMEOUT_MIN 0.001
#define PMX_PY_TIMEOUT_MAX 10.0
#define PMX_PY_PROCESSES_DEFAULT 4  /* PYTHON.processes */
#define PMX_PY_PROCESSES_MAX 64
#define PMX_PY_MEMORY_DEFAULT 512   /* PYTHON.memory, MiB per worker */
#define PMX_PY_LOAD_TIMEOUT 10.0    /* starting Python, a top level */
#define PMX_PY_SCRIPT_MAX (16u << 20) /* bytes of source */
#define PMX_PY_WORKER "portmux-python" /* next to python.so */

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

/* ---- strikes.c ---- */

#define STRIKE_KEY 9       /* family, then 4 (IPv4) or 8 (IPv6 /64) bytes */
#define STRIKE_SLOTS 256
#define STRIKE_PROBES 8
#define STRIKE_BURST 3.0   /* workers a source may cost at once */
#define STRIKE_REFILL 5.0  /* seconds per strike earned back */

struct strikes {
	pthread_mutex_t lock;
	struct strike {
		uint8_t key[STRIKE_KEY];
		int used;
		double tokens; /* strikes left (fractions earned so far) */
		double stamp;  /* when tokens was last brought up to date */
	} slot[STRIKE_SLOTS];
};

/* May a call from this source run? (An unknown source may.) */
int strikes_allow(struct strikes *t, const struct sockaddr *peer,
		  socklen_t peer_len, double now);
/* The call cost its worker: one strike. 1 when the source has none
 * left now. */
int strikes_charge(struct strikes *t, const struct sockaddr *peer,
		   socklen_t peer_len, double now);

/* ---- one worker process ---- */

/* Why a worker is being buried (what its death line says). */
enum proc_end {
	END_NONE = 0,
	END_TIMEOUT, /* analyse() passed its deadline: killed */
	END_THREADS, /* threads still running after a call: retired */
	END_DIED,    /* its channel closed: it exited or crashed */
	END_LOAD,    /* its top level failed */
	END_STOP,    /* the instance is destroyed */
};

struct proc {
	struct proc *next;  /* the list it is on (instance lock) */
	pid_t pid;
	int chan;           /* its channel; owned, closed by proc_free */
	int out;            /* its stdout+stderr pipe (O_NONBLOCK); owned */
	int pidfd;          /* -1 without pidfd; owned */
	enum proc_end end;
	double since;       /* forked (starting), or buried (graves) */
	int signalled;      /* SIGUSR1 sent: print your stack */
	int killed;         /* SIGKILL sent */
	int exit_status;    /* wait status from the zygote; -1 unknown */
	int threads;        /* Python threads it reported (READY, ANSWER) */
	int quiet;          /* its output is a crash report: not logged */
	/* Output: the partial last line, and the last bytes seen (for the
	 * script line of a crash). Read by whoever owns the worker: its
	 * caller while busy, the keeper otherwise. */
	char line[512];
	size_t linelen;
	char tail[4096];
	size_t taillen;
	unsigned long outbytes;   /* read so far */
	unsigned long stack_from; /* outbytes when SIGUSR1 was sent */
	double last_out;          /* when outbytes last grew */
};

/* ---- the instance ---- */

struct pyinst {
	/* Set by create(), read-only afterwards. */
	char *path;       /* the script, as resolved */
	char *src;        /* its source (for a zygote restart) */
	size_t srclen;
	double timeout;   /* seconds from when the core queued a call (or
			     from probe() when it does not say) to its
			     answer */
	int processes;    /* workers kept ready */
	long memory;      /* bytes of address space per worker */
	int inert;        /* no script (default path absent): NO_MATCH */
	int input_times;  /* the core fills the input's queued/deadline */
	char *worker_path; /* portmux-python */

	/* Everything below: `lock`, except where said. Procs are owned by
	 * the list they are on; a busy one by the probe() running on it. */
	pthread_mutex_t lock;
	pthread_cond_t ready;     /* a worker became idle */
	struct proc *idle;        /* ready for a call, most recent first */
	struct proc *starting;    /* forked, running its top level (keeper) */
	struct proc *graves;      /* being killed and reported (keeper) */
	int nbusy;
	int stopping;             /* destroy() */
	int zygote_fd;            /* the zygote's socket (keeper); -1 */
	pid_t zygote_pid;         /* 0: none */
	double zygote_retry;      /* backoff: not before then */
	double backoff;           /* seconds, doubled per failure */
	int wake[2];              /* pipe: wake the keeper; owned */
	/* Exits the zygote reported for workers not yet buried (a busy
	 * one's caller buries it a moment later): keeper only. */
	struct exit_note {
		pid_t pid;
		int status;
	} exits[16];
	unsigned next_exit;
	pthread_t keeper;
	int keeper_running;

	struct strikes strikes;

	/* log_lock guards host and rl. */
	pthread_mutex_t log_lock;
	const struct pmx_host *host;
	struct ratelimit rl;
};

/* ---- procs.c ---- */

/* Start the zygote, load the script and start one worker; then the
 * keeper, which starts the others. 0, or -1 with the script's error. */
int procs_start(struct pyinst *inst, char *err, size_t errlen);
/* Kill everything and wait for the keeper (destroy()). */
void procs_stop(struct pyinst *inst);
/* analyse(data) on an idle worker by `deadline`. The verdict (backend
 * filled on MATCH); NO_MATCH when none answered in time. *cost is set
 * when the call cost its worker (deadline passed, or it died). */
int procs_call(struct pyinst *inst, const uint8_t *data, size_t len,
	       int final, double deadline, char *backend, size_t cap,
	       int *cost);

/* ---- ratelimit.c ---- */

int ratelimit_check(struct ratelimit *rl, const char *key, double now,
		    unsigned long *dropped);
/* Log through inst's host (any thread). With a key, at most one line a
 * second per key, the next one counting those suppressed. */
void inst_log(struct pyinst *inst, int level, const char *key,
	      const char *fmt, ...) PMX_PRINTF(4, 5);

#endif
