/*
 * procs.c — an instance's Python processes (see python.h).
 *
 * A worker is always on exactly one list, or held by the one probe()
 * running a call on it:
 *
 *   zygote FORKED -> starting --READY--> idle --probe()--> busy
 *                        |                 ^                 |
 *                        |                 +----answered-----+
 *                        v                                   |
 *                      graves <--timeout, crash, threads-----+
 *
 * The keeper thread owns `starting` and `graves` and the zygote's
 * socket: it forks workers until `processes` are alive, reads their
 * first word, and buries workers. One that passed its deadline is first
 * asked where it is stuck (SIGUSR1: faulthandler prints its stack from
 * the signal handler, whatever holds the GIL), then killed (SIGKILL
 * through a pidfd, so never another process that reused the pid) as soon
 * as its stack is out, STACK_WAIT at most. Its end is logged once,
 * with the script's line when there is one, when the zygote reports the
 * exit.
 * When the zygote itself dies (its workers die with it) the keeper
 * starts another, backing off while it keeps failing.
 */
#include "python.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STACK_WAIT 0.25   /* at most, for a stuck worker's stack */
#define CALL_LOGS 32      /* portmux.log lines kept per call */
#define STACK_QUIET 0.002 /* its stack is out when it wrote nothing since */
#define EXIT_WAIT 2.0     /* for the zygote's word on a buried worker */
#define BACKOFF_MIN 0.1
#define BACKOFF_MAX 30.0

/* ---- small things ---- */

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

static void
wake_keeper(struct pyinst *inst)
{
	ssize_t r = write(inst->wake[1], "", 1);

	(void)r; /* full: the keeper is awake already */
}

static struct proc *
proc_new(pid_t pid, int chan, int out, int pidfd)
{
	struct proc *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->pid = pid;
	p->chan = chan;
	p->out = out;
	p->pidfd = pidfd;
	p->exit_status = -1;
	p->since = wire_now();
	(void)fcntl(out, F_SETFL, fcntl(out, F_GETFL) | O_NONBLOCK);
	return p;
}

static void
proc_free(struct proc *p)
{
	close(p->chan);
	if (p->out >= 0)
		close(p->out);
	if (p->pidfd >= 0)
		close(p->pidfd);
	free(p);
}

static void
proc_signal(struct proc *p, int sig)
{
	if (p->pidfd >= 0)
		(void)syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0);
	else if (p->exit_status < 0)
		(void)kill(p->pid, sig);
}

static void
push(struct proc **list, struct proc *p)
{
	p->next = *list;
	*list = p;
}

static void
unlink_proc(struct proc **list, struct proc *p)
{
	for (struct proc **q = list; *q != NULL; q = &(*q)->next)
		if (*q == p) {
			*q = p->next;
			p->next = NULL;
			return;
		}
}

static int
count(const struct proc *p)
{
	int n = 0;

	for (; p != NULL; p = p->next)
		n++;
	return n;
}

/* ---- a worker's output: print() lines, crash reports ---- */

static void
keep_tail(struct proc *p, const char *b, size_t n)
{
	if (n >= sizeof(p->tail)) {
		b += n - sizeof(p->tail);
		n = sizeof(p->tail);
	}
	if (p->taillen + n > sizeof(p->tail)) {
		size_t drop = p->taillen + n - sizeof(p->tail);

		memmove(p->tail, p->tail + drop, p->taillen - drop);
		p->taillen -= drop;
	}
	memcpy(p->tail + p->taillen, b, n);
	p->taillen += n;
}

static void
output_line(struct pyinst *inst, struct proc *p, int log_lines)
{
	char clean[sizeof(p->line) + 1];

	if (strncmp(p->line, "Fatal Python error", 18) == 0)
		p->quiet = 1; /* a crash: its death line says it all */
	if (log_lines && !p->quiet && p->linelen > 0) {
		log_clean(clean, sizeof(clean), p->line, p->linelen);
		inst_log(inst, PMX_LOG_INFO, "output", "script output: %s",
			 clean);
	}
	p->linelen = 0;
}

/* Read what the worker wrote (until it would block). With log_lines,
 * whole lines go to the log (rate limited). 0 at end of file. */
static int
output_read(struct pyinst *inst, struct proc *p, int log_lines)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(p->out, buf, sizeof(buf))) > 0) {
		keep_tail(p, buf, (size_t)n);
		p->outbytes += (unsigned long)n;
		p->last_out = wire_now();
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				output_line(inst, p, log_lines);
			} else if (p->linelen < sizeof(p->line) - 1) {
				p->line[p->linelen++] = buf[i];
			}
		}
	}
	if (n == 0) {
		close(p->out);
		p->out = -1;
		return 0;
	}
	return 1;
}

/* The script's line in the last stack faulthandler printed (innermost
 * frame first): 0 when there is none. */
static long
stack_line(const struct pyinst *inst, struct proc *p)
{
	char pat[600];
	const char *s, *hit, *last = NULL;

	if (p->taillen == 0)
		return 0;
	if (p->taillen == sizeof(p->tail))
		p->tail[p->taillen - 1] = '\0';
	else
		p->tail[p->taillen] = '\0';
	for (s = p->tail; (hit = strstr(s, "most recent call first")) != NULL;
	     s = hit + 1)
		last = hit;
	if (last == NULL)
		return 0;
	snprintf(pat, sizeof(pat), "File \"%s\", line ", inst->path);
	hit = strstr(last, pat);
	return hit ? strtol(hit + strlen(pat), NULL, 10) : 0;
}

/* ---- the end of a worker, logged once ---- */

static void
report_end(struct pyinst *inst, struct proc *p)
{
	char at[64] = "", key[96];
	long line = stack_line(inst, p);
	int st = p->exit_status;

	if (line > 0)
		snprintf(at, sizeof(at), " at %s:%ld", inst->path, line);
	switch (p->end) {
	case END_TIMEOUT:
		snprintf(key, sizeof(key), "timeout %ld", line);
		inst_log(inst, PMX_LOG_WARN, key,
			 "analyse() did not answer within %g s%s: NO_MATCH; "
			 "worker %d killed and replaced",
			 inst->timeout, line > 0 ? at : "", (int)p->pid);
		break;
	case END_THREADS:
		inst_log(inst, PMX_LOG_WARN, "threads",
			 "analyse() left %d threads running: worker %d "
			 "replaced",
			 p->threads - 1, (int)p->pid);
		break;
	case END_DIED:
		if (st >= 0 && WIFSIGNALED(st)) {
			snprintf(key, sizeof(key), "signal %d %ld",
				 WTERMSIG(st), line);
			inst_log(inst, PMX_LOG_ERROR, key,
				 "worker %d died of signal %d (%s)%s: "
				 "replaced",
				 (int)p->pid, WTERMSIG(st),
				 strsignal(WTERMSIG(st)), at);
		} else if (st >= 0 && WIFEXITED(st)) {
			snprintf(key, sizeof(key), "exit %d %ld",
				 WEXITSTATUS(st), line);
			inst_log(inst, PMX_LOG_ERROR, key,
				 "worker %d exited with status %d (the "
				 "script ended its process)%s: replaced",
				 (int)p->pid, WEXITSTATUS(st), at);
		} else {
			inst_log(inst, PMX_LOG_ERROR, "died",
				 "worker %d ended: replaced", (int)p->pid);
		}
		break;
	default:
		break; /* END_LOAD was logged; END_STOP is quiet */
	}
}

/* ---- the zygote ---- */

/* portmux-python, next to this python.so. */
static char *
worker_path(void)
{
	Dl_info info;
	char *copy, *dir, *path = NULL;
	size_t n;

	memset(&info, 0, sizeof(info));
	if (dladdr((void *)&procs_start, &info) == 0 ||
	    info.dli_fname == NULL)
		return NULL;
	copy = strdup(info.dli_fname);
	if (copy == NULL)
		return NULL;
	dir = dirname(copy);
	n = strlen(dir) + sizeof(PMX_PY_WORKER) + 2;
	path = malloc(n);
	if (path != NULL)
		snprintf(path, n, "%s/%s", dir, PMX_PY_WORKER);
	free(copy);
	return path;
}

static void
zygote_close(struct pyinst *inst)
{
	if (inst->zygote_fd >= 0)
		close(inst->zygote_fd);
	inst->zygote_fd = -1;
	if (inst->zygote_pid > 0) {
		/* It exits at end of file; make sure, then reap it. */
		(void)kill(inst->zygote_pid, SIGKILL);
		(void)waitpid(inst->zygote_pid, NULL, 0);
	}
	inst->zygote_pid = 0;
}

static int
zygote_spawn(struct pyinst *inst, char *err, size_t errlen)
{
	static char *const envp[] = {"LANG=C.UTF-8", NULL};
	char memory[32];
	char *argv[] = {inst->worker_path, "--memory", memory, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int sv[2], child, rc;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	/* Never fd 3 itself: dup2(3, 3) would keep close-on-exec. */
	child = sv[1];
	if (child == 3) {
		child = fcntl(sv[1], F_DUPFD_CLOEXEC, 4);
		close(sv[1]);
	}
	snprintf(memory, sizeof(memory), "%ld", inst->memory);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, child, 3);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	/* A session of its own: a terminal's ^C is for the daemon, which
	 * then closes the socket the zygote lives by. */
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF |
						POSIX_SPAWN_SETSID);
	/* The daemon's ambient capabilities (CAP_NET_BIND_SERVICE under
	 * systemd) would pass to the program: not from this thread. They
	 * matter only across exec, which the daemon never does. */
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	rc = child < 0 ? errno
		       : posix_spawn(&pid, inst->worker_path, &fa, &attr, argv,
				     envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (child >= 0)
		close(child);
	if (rc != 0) {
		close(sv[0]);
		snprintf(err, errlen, "cannot start %s: %s", inst->worker_path,
			 strerror(rc));
		return -1;
	}
	inst->zygote_fd = sv[0];
	inst->zygote_pid = pid;
	return 0;
}

static struct proc *
find(struct proc *list, pid_t pid)
{
	while (list != NULL && list->pid != pid)
		list = list->next;
	return list;
}

/* The zygote says a worker ended: note its status on its grave. One
 * that died idle or starting is buried now; a busy one's caller buries
 * it a moment later (the status waits in `exits`). */
static void
note_exit(struct pyinst *inst, pid_t pid, int status)
{
	struct proc *p;

	pthread_mutex_lock(&inst->lock);
	p = find(inst->graves, pid);
	if (p == NULL) {
		struct proc **list = &inst->idle;

		if ((p = find(*list, pid)) == NULL)
			p = find(*(list = &inst->starting), pid);
		if (p != NULL) {
			unlink_proc(list, p);
			p->end = END_DIED;
			p->since = wire_now();
			push(&inst->graves, p);
		}
	}
	if (p != NULL) {
		p->exit_status = status;
	} else {
		struct exit_note *e = &inst->exits[inst->next_exit++ % 16];

		e->pid = pid;
		e->status = status;
	}
	pthread_mutex_unlock(&inst->lock);
}

static void relay_log(struct pyinst *inst, const struct wire_frame *f);

/* The next reply from the zygote that is not an EXITED note or a line
 * the top level logs. */
static int
zygote_reply(struct pyinst *inst, struct wire_frame *f, double deadline)
{
	for (;;) {
		if (wire_recv(inst->zygote_fd, f, deadline) < 0)
			return -1;
		if (f->hdr.type == WIRE_EXITED)
			note_exit(inst, (pid_t)f->hdr.a, (int)f->hdr.b);
		else if (f->hdr.type == WIRE_LOG)
			relay_log(inst, f);
		else
			return 0;
		wire_frame_free(f);
	}
}

static int
zygote_load(struct pyinst *inst, char *err, size_t errlen)
{
	double deadline = wire_now() + PMX_PY_LOAD_TIMEOUT;
	struct wire_frame f;
	int rc = -1;

	if (wire_send(inst->zygote_fd, WIRE_LOAD, 0, 0, inst->path,
		      strlen(inst->path) + 1, inst->src, inst->srclen + 1,
		      NULL, 0, deadline) < 0 ||
	    zygote_reply(inst, &f, deadline) < 0) {
		if (errno == ETIMEDOUT)
			snprintf(err, errlen,
				 "%s: the script's top-level code did not "
				 "finish within %g s",
				 inst->path, PMX_PY_LOAD_TIMEOUT);
		else
			snprintf(err, errlen,
				 "%s: Python ended while loading the script "
				 "(%s)",
				 inst->path, strerror(errno));
		return -1;
	}
	if (f.hdr.type == WIRE_LOADED) {
		rc = 0;
		if (f.hdr.a > 1)
			inst_log(inst, PMX_LOG_WARN, "top threads",
				 "%s: the top level started threads: they run "
				 "in the Python zygote only, not in the "
				 "workers that call analyse()",
				 inst->path);
	}
	else if (f.hdr.type == WIRE_ERROR)
		snprintf(err, errlen, "%s", f.payload);
	else
		snprintf(err, errlen, "%s: unexpected answer from Python",
			 inst->path);
	wire_frame_free(&f);
	return rc;
}

/* Ask the zygote for a worker; NULL with err when it cannot. */
static struct proc *
zygote_fork(struct pyinst *inst, char *err, size_t errlen)
{
	double deadline = wire_now() + PMX_PY_LOAD_TIMEOUT;
	struct wire_frame f;
	struct proc *p = NULL;

	if (wire_send(inst->zygote_fd, WIRE_FORK, 0, 0, NULL, 0, NULL, 0, NULL,
		      0, deadline) < 0 ||
	    zygote_reply(inst, &f, deadline) < 0) {
		snprintf(err, errlen, "the Python zygote is gone (%s)",
			 strerror(errno));
		return NULL;
	}
	if (f.hdr.type == WIRE_FORKED && f.nfds >= 2) {
		p = proc_new((pid_t)f.hdr.a, f.fds[0], f.fds[1],
			     f.nfds > 2 ? f.fds[2] : -1);
		if (p != NULL)
			f.nfds = 0; /* the fds are the proc's now */
		else
			snprintf(err, errlen, "out of memory");
	} else {
		snprintf(err, errlen, "cannot fork a Python worker: %s",
			 f.hdr.type == WIRE_ERROR ? f.payload : "no answer");
	}
	wire_frame_free(&f);
	return p;
}

/* ---- probe(): one call ---- */

static struct proc *
take(struct pyinst *inst, double deadline)
{
	struct timespec until = mono_ts(deadline);
	struct proc *p;

	pthread_mutex_lock(&inst->lock);
	while (inst->idle == NULL && !inst->stopping &&
	       wire_now() < deadline)
		(void)pthread_cond_timedwait(&inst->ready, &inst->lock,
					     &until);
	p = inst->idle;
	if (p != NULL) {
		inst->idle = p->next;
		p->next = NULL;
		inst->nbusy++;
	}
	pthread_mutex_unlock(&inst->lock);
	return p;
}

static void
give_back(struct pyinst *inst, struct proc *p)
{
	pthread_mutex_lock(&inst->lock);
	push(&inst->idle, p);
	inst->nbusy--;
	pthread_cond_signal(&inst->ready);
	pthread_mutex_unlock(&inst->lock);
}

/* Hand a worker to the keeper to be killed and reported. */
static void
bury(struct pyinst *inst, struct proc *p, enum proc_end end)
{
	pthread_mutex_lock(&inst->lock);
	p->end = end;
	p->since = wire_now();
	inst->nbusy--;
	for (unsigned i = 0; i < 16; i++)
		if (inst->exits[i].pid == p->pid) {
			p->exit_status = inst->exits[i].status;
			inst->exits[i].pid = 0;
		}
	push(&inst->graves, p);
	pthread_mutex_unlock(&inst->lock);
	wake_keeper(inst);
}

static int
log_level(uint32_t level)
{
	return level <= PMX_LOG_DEBUG ? (int)level : PMX_LOG_WARN;
}

/* A LOG frame: "key" then text (b: the key's length). */
static void
relay_log(struct pyinst *inst, const struct wire_frame *f)
{
	char key[256];
	size_t klen = f->hdr.b <= f->hdr.len ? f->hdr.b : 0;

	if (klen >= sizeof(key))
		klen = sizeof(key) - 1;
	memcpy(key, f->payload, klen);
	key[klen] = '\0';
	inst_log(inst, log_level(f->hdr.a), klen ? key : NULL, "%s",
		 f->payload + (f->hdr.b <= f->hdr.len ? f->hdr.b : 0));
}

int
procs_call(struct pyinst *inst, const uint8_t *data, size_t len, int final,
	   double deadline, char *backend, size_t cap, int *cost)
{
	struct proc *p = take(inst, deadline);
	struct wire_frame f;
	unsigned logs = 0;

	*cost = 0;
	if (p == NULL) {
		int busy, starting;

		pthread_mutex_lock(&inst->lock);
		busy = inst->nbusy;
		starting = count(inst->starting);
		pthread_mutex_unlock(&inst->lock);
		inst_log(inst, PMX_LOG_WARN, "busy",
			 "no Python worker was free in time (%d of %d busy, "
			 "%d starting): NO_MATCH",
			 busy, inst->processes, starting);
		return PMX_NO_MATCH;
	}
	if (wire_send(p->chan, WIRE_CALL, final ? 1 : 0, 0, data, len, NULL, 0,
		      NULL, 0, deadline) < 0) {
		bury(inst, p, errno == ETIMEDOUT ? END_TIMEOUT : END_DIED);
		*cost = 1;
		return PMX_NO_MATCH;
	}
	for (;;) {
		struct pollfd pf[2] = {{.fd = p->chan, .events = POLLIN},
				       {.fd = p->out, .events = POLLIN}};
		double left = deadline - wire_now();
		int verdict;

		if (left <= 0) {
			bury(inst, p, END_TIMEOUT);
			*cost = 1;
			return PMX_NO_MATCH;
		}
		if (poll(pf, 2, (int)(left * 1000.0) + 1) < 0 &&
		    errno != EINTR) {
			bury(inst, p, END_DIED);
			*cost = 1;
			return PMX_NO_MATCH;
		}
		if (pf[1].revents)
			(void)output_read(inst, p, 1);
		if (!pf[0].revents)
			continue;
		if (wire_recv(p->chan, &f, deadline) < 0) {
			bury(inst, p, errno == ETIMEDOUT ? END_TIMEOUT
							 : END_DIED);
			*cost = 1;
			return PMX_NO_MATCH;
		}
		if (f.hdr.type == WIRE_LOG) {
			/* A script logging in a loop gets CALL_LOGS lines
			 * per call, then a count. */
			if (++logs <= CALL_LOGS)
				relay_log(inst, &f);
			wire_frame_free(&f);
			continue;
		}
		if (f.hdr.type != WIRE_ANSWER) {
			wire_frame_free(&f);
			bury(inst, p, END_DIED);
			*cost = 1;
			return PMX_NO_MATCH;
		}
		verdict = (int)(int32_t)f.hdr.a;
		if (verdict == PMX_MATCH)
			pmx_result_setn(backend, cap, f.payload, f.hdr.len);
		else if (verdict != PMX_NEED_MORE && verdict != PMX_ERROR)
			verdict = PMX_NO_MATCH;
		p->threads = (int)f.hdr.b;
		wire_frame_free(&f);
		/* (What it printed before answering was read above: the
		 * pipe had it before the channel had the answer.) */
		if (logs > CALL_LOGS)
			inst_log(inst, PMX_LOG_WARN, "call logs",
				 "analyse() logged %u lines in one call: the "
				 "first %d were kept",
				 logs, CALL_LOGS);
		if (p->threads > 1)
			bury(inst, p, END_THREADS);
		else
			give_back(inst, p);
		return verdict;
	}
}

/* ---- the keeper ---- */

static void
backoff(struct pyinst *inst)
{
	inst->backoff = inst->backoff < BACKOFF_MIN ? BACKOFF_MIN
						    : inst->backoff * 2;
	if (inst->backoff > BACKOFF_MAX)
		inst->backoff = BACKOFF_MAX;
	inst->zygote_retry = wire_now() + inst->backoff;
}

/* The zygote ended: its workers die with it (PR_SET_PDEATHSIG). */
static void
zygote_lost(struct pyinst *inst)
{
	struct proc *p;

	zygote_close(inst);
	pthread_mutex_lock(&inst->lock);
	while ((p = inst->idle) != NULL || (p = inst->starting) != NULL) {
		unlink_proc(p == inst->idle ? &inst->idle : &inst->starting,
			    p);
		p->end = END_STOP;
		p->since = wire_now();
		push(&inst->graves, p);
	}
	pthread_mutex_unlock(&inst->lock);
	inst_log(inst, PMX_LOG_ERROR, "zygote",
		 "the Python processes of %s ended: starting them again",
		 inst->path);
	backoff(inst);
}

/* Fork workers until `processes` are alive (lock held; dropped while
 * talking to the zygote). */
static void
refill_locked(struct pyinst *inst)
{
	char err[512];

	while (!inst->stopping &&
	       count(inst->idle) + count(inst->starting) + inst->nbusy <
		       inst->processes &&
	       wire_now() >= inst->zygote_retry) {
		struct proc *p;

		pthread_mutex_unlock(&inst->lock);
		if (inst->zygote_fd < 0 &&
		    (zygote_spawn(inst, err, sizeof(err)) < 0 ||
		     zygote_load(inst, err, sizeof(err)) < 0)) {
			inst_log(inst, PMX_LOG_ERROR, "zygote", "%s", err);
			zygote_close(inst);
			backoff(inst);
			pthread_mutex_lock(&inst->lock);
			return;
		}
		p = zygote_fork(inst, err, sizeof(err));
		if (p == NULL) {
			zygote_lost(inst);
			pthread_mutex_lock(&inst->lock);
			return;
		}
		pthread_mutex_lock(&inst->lock);
		push(&inst->starting, p);
	}
}

/* A starting worker spoke. */
static void
starting_frame(struct pyinst *inst, struct proc *p)
{
	struct wire_frame f;
	enum proc_end end = END_DIED;

	if (wire_recv(p->chan, &f, wire_now() + 1.0) == 0) {
		if (f.hdr.type == WIRE_LOG) {
			relay_log(inst, &f);
			wire_frame_free(&f);
			return;
		}
		if (f.hdr.type == WIRE_READY) {
			wire_frame_free(&f);
			p->threads = (int)f.hdr.a;
			pthread_mutex_lock(&inst->lock);
			unlink_proc(&inst->starting, p);
			push(&inst->idle, p);
			inst->backoff = 0;
			pthread_cond_signal(&inst->ready);
			pthread_mutex_unlock(&inst->lock);
			return;
		}
		if (f.hdr.type == WIRE_ERROR) {
			inst_log(inst, PMX_LOG_ERROR, "load",
				 "a Python worker could not start: %s",
				 f.payload);
			end = END_LOAD;
			backoff(inst);
		}
		wire_frame_free(&f);
	}
	pthread_mutex_lock(&inst->lock);
	unlink_proc(&inst->starting, p);
	p->end = end;
	p->since = wire_now();
	push(&inst->graves, p);
	pthread_mutex_unlock(&inst->lock);
}

/* Advance a grave: ask, kill, report, free. Returns when to look again
 * (0: freed). Lock not held; the keeper owns the graves' contents. */
static double
grave_step(struct pyinst *inst, struct proc *p, double now)
{
	if (p->out >= 0)
		(void)output_read(inst, p, 0);
	if (p->end == END_TIMEOUT && !p->signalled && p->exit_status < 0) {
		proc_signal(p, SIGUSR1); /* faulthandler: where are you? */
		p->signalled = 1;
		p->stack_from = p->outbytes;
		p->since = now;
		return now + STACK_QUIET;
	}
	if (!p->killed && p->exit_status < 0) {
		/* Until its stack is out (the script's line in what it
		 * printed since the call, then quiet for STACK_QUIET), or
		 * STACK_WAIT. */
		int stack_out = p->outbytes > p->stack_from &&
				now >= p->last_out + STACK_QUIET &&
				stack_line(inst, p) > 0;

		if (p->end == END_TIMEOUT && !stack_out &&
		    now < p->since + STACK_WAIT && p->out >= 0)
			return p->outbytes > p->stack_from
				       ? p->last_out + STACK_QUIET
				       : p->since + STACK_WAIT;
		proc_signal(p, SIGKILL);
		p->killed = 1;
	}
	if (p->exit_status < 0 && inst->zygote_fd >= 0 &&
	    now < p->since + EXIT_WAIT)
		return p->since + EXIT_WAIT;
	if (p->out >= 0)
		(void)output_read(inst, p, 0);
	report_end(inst, p);
	return 0;
}

static void
graves_step(struct pyinst *inst, double *next)
{
	double now = wire_now();
	struct proc *p, *nextp;

	pthread_mutex_lock(&inst->lock);
	p = inst->graves;
	pthread_mutex_unlock(&inst->lock);
	for (; p != NULL; p = nextp) {
		double when;

		pthread_mutex_lock(&inst->lock);
		nextp = p->next;
		pthread_mutex_unlock(&inst->lock);
		when = grave_step(inst, p, now);
		if (when == 0) {
			pthread_mutex_lock(&inst->lock);
			unlink_proc(&inst->graves, p);
			pthread_mutex_unlock(&inst->lock);
			proc_free(p);
		} else if (when < *next) {
			*next = when;
		}
	}
}

#define POLL_MAX (3 + 2 * 2 * PMX_PY_PROCESSES_MAX)

static void
keeper_wait(struct pyinst *inst, double next)
{
	struct pollfd pf[POLL_MAX];
	struct proc *who[POLL_MAX];
	int n = 0, ms = -1;

	pf[n] = (struct pollfd){.fd = inst->wake[0], .events = POLLIN};
	who[n++] = NULL;
	if (inst->zygote_fd >= 0) {
		pf[n] = (struct pollfd){.fd = inst->zygote_fd,
					.events = POLLIN};
		who[n++] = NULL;
	}
	pthread_mutex_lock(&inst->lock);
	for (struct proc *p = inst->starting; p != NULL && n < POLL_MAX;
	     p = p->next) {
		pf[n] = (struct pollfd){.fd = p->chan, .events = POLLIN};
		who[n++] = p;
		if (p->since + PMX_PY_LOAD_TIMEOUT < next)
			next = p->since + PMX_PY_LOAD_TIMEOUT;
	}
	for (struct proc *p = inst->graves; p != NULL && n < POLL_MAX;
	     p = p->next)
		if (p->out >= 0) {
			pf[n] = (struct pollfd){.fd = p->out,
						.events = POLLIN};
			who[n++] = NULL; /* graves_step reads them */
		}
	pthread_mutex_unlock(&inst->lock);
	if (inst->zygote_retry > wire_now() && inst->zygote_retry < next)
		next = inst->zygote_retry;
	if (next < 1e300) {
		double left = next - wire_now();

		ms = left <= 0 ? 0 : (int)(left * 1000.0) + 1;
	}
	if (poll(pf, (nfds_t)n, ms) <= 0)
		return;
	if (pf[0].revents) {
		char buf[64];

		while (read(inst->wake[0], buf, sizeof(buf)) > 0)
			;
	}
	if (n > 1 && who[1] == NULL && pf[1].fd == inst->zygote_fd &&
	    pf[1].revents) {
		struct wire_frame f;

		if (wire_recv(inst->zygote_fd, &f, wire_now() + 1.0) < 0) {
			zygote_lost(inst);
			return;
		}
		if (f.hdr.type == WIRE_EXITED)
			note_exit(inst, (pid_t)f.hdr.a, (int)f.hdr.b);
		wire_frame_free(&f);
	}
	for (int i = 1; i < n; i++)
		if (who[i] != NULL && pf[i].revents)
			starting_frame(inst, who[i]);
}

/* Starting workers past the top level's time limit. */
static void
starting_timeouts(struct pyinst *inst)
{
	double now = wire_now();
	struct proc *p, *nextp;

	pthread_mutex_lock(&inst->lock);
	for (p = inst->starting; p != NULL; p = nextp) {
		nextp = p->next;
		if (now < p->since + PMX_PY_LOAD_TIMEOUT)
			continue;
		unlink_proc(&inst->starting, p);
		p->end = END_LOAD;
		p->since = now;
		push(&inst->graves, p);
		inst_log(inst, PMX_LOG_ERROR, "load",
			 "%s: a worker's top level did not finish within "
			 "%g s: killed",
			 inst->path, PMX_PY_LOAD_TIMEOUT);
		backoff(inst);
	}
	pthread_mutex_unlock(&inst->lock);
}

static void *
keeper_main(void *arg)
{
	struct pyinst *inst = arg;

	pthread_mutex_lock(&inst->lock);
	while (!inst->stopping) {
		double next = 1e308;

		refill_locked(inst);
		pthread_mutex_unlock(&inst->lock);
		graves_step(inst, &next);
		starting_timeouts(inst);
		keeper_wait(inst, next);
		pthread_mutex_lock(&inst->lock);
	}
	pthread_mutex_unlock(&inst->lock);
	return NULL;
}

/* ---- start and stop ---- */

static void
free_list(struct proc **list)
{
	struct proc *p;

	while ((p = *list) != NULL) {
		*list = p->next;
		proc_signal(p, SIGKILL);
		proc_free(p);
	}
}

/* Wait for a new worker's top level: 0 and it is idle, or -1 with why
 * (the worker is freed). */
static int
await_ready(struct pyinst *inst, struct proc *p, double deadline, char *err,
	    size_t errlen)
{
	struct wire_frame f;

	for (;;) {
		if (wire_recv(p->chan, &f, deadline) < 0) {
			snprintf(err, errlen,
				 "%s: a Python worker did not start (%s)",
				 inst->path,
				 errno == ETIMEDOUT ? "timed out"
						    : "it ended");
			break;
		}
		if (f.hdr.type == WIRE_LOG) {
			relay_log(inst, &f);
			wire_frame_free(&f);
			continue;
		}
		if (f.hdr.type == WIRE_READY) {
			p->threads = (int)f.hdr.a;
			wire_frame_free(&f);
			push(&inst->idle, p);
			return 0;
		}
		snprintf(err, errlen, "%s",
			 f.hdr.type == WIRE_ERROR ? f.payload
						  : "unexpected message");
		wire_frame_free(&f);
		break;
	}
	proc_signal(p, SIGKILL);
	proc_free(p);
	return -1;
}

/* All `processes` workers, ready, before create() returns: they run
 * their top levels at once. The first error is create()'s. */
static int
first_workers(struct pyinst *inst, char *err, size_t errlen)
{
	struct proc *forked[PMX_PY_PROCESSES_MAX];
	double deadline = wire_now() + PMX_PY_LOAD_TIMEOUT;
	int n = 0, rc = 0;

	while (n < inst->processes) {
		forked[n] = zygote_fork(inst, err, errlen);
		if (forked[n] == NULL)
			break;
		n++;
	}
	if (n < inst->processes)
		rc = -1;
	for (int i = 0; i < n; i++) {
		char why[512];

		if (await_ready(inst, forked[i], deadline, why, sizeof(why)) <
			    0 &&
		    rc == 0) {
			snprintf(err, errlen, "%s", why);
			rc = -1;
		}
	}
	return rc;
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

int
procs_start(struct pyinst *inst, char *err, size_t errlen)
{
	inst->zygote_fd = -1;
	inst->wake[0] = inst->wake[1] = -1;
	pthread_mutex_init(&inst->lock, NULL);
	pthread_mutex_init(&inst->strikes.lock, NULL);
	if (cond_init(&inst->ready) != 0 ||
	    pipe2(inst->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "cannot start Python: %s",
			 strerror(errno));
		return -1;
	}
	inst->worker_path = worker_path();
	if (inst->worker_path == NULL ||
	    access(inst->worker_path, X_OK) < 0) {
		snprintf(err, errlen, "cannot find %s next to python.so",
			 PMX_PY_WORKER);
		return -1;
	}
	/* No process of the same user (a worker) may read or write the
	 * daemon's memory through /proc: not dumpable. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (zygote_spawn(inst, err, errlen) < 0 ||
	    zygote_load(inst, err, errlen) < 0 ||
	    first_workers(inst, err, errlen) < 0)
		return -1;
	if (pthread_create(&inst->keeper, NULL, keeper_main, inst) != 0) {
		snprintf(err, errlen, "cannot start Python: no thread");
		return -1;
	}
	inst->keeper_running = 1;
	return 0;
}

void
procs_stop(struct pyinst *inst)
{
	pthread_mutex_lock(&inst->lock);
	inst->stopping = 1;
	pthread_cond_broadcast(&inst->ready);
	pthread_mutex_unlock(&inst->lock);
	if (inst->keeper_running) {
		wake_keeper(inst);
		pthread_join(inst->keeper, NULL);
		inst->keeper_running = 0;
	}
	/* No probe() runs any more (destroy()): every worker is listed. */
	free_list(&inst->idle);
	free_list(&inst->starting);
	free_list(&inst->graves);
	zygote_close(inst);
	if (inst->wake[0] >= 0)
		close(inst->wake[0]);
	if (inst->wake[1] >= 0)
		close(inst->wake[1]);
	pthread_cond_destroy(&inst->ready);
	pthread_mutex_destroy(&inst->lock);
	pthread_mutex_destroy(&inst->strikes.lock);
	free(inst->worker_path);
}
