/*
 * main.c — portmux-python: a python detector instance's zygote, and the
 * workers it forks (see ../wire.h for the conversation, worker.h for the
 * files).
 *
 *   portmux-python [--memory BYTES]      fd 3: the socket to python.so
 *
 * The zygote starts CPython, compiles the script and runs its top level
 * (in the sandbox, see sandbox.c), then forks a worker whenever python.so
 * asks, and reports each worker's end (EXITED). When python.so closes its
 * socket (the
 * instance is destroyed, or the daemon is gone) the zygote exits, and its
 * workers die with it (PR_SET_PDEATHSIG).
 *
 * A worker gets its own channel (fd 3) and output pipe (fds 1 and 2: a
 * script's print() and tracebacks of a crash, read by python.so), closes
 * every other descriptor, tightens the sandbox (no new processes) and
 * answers calls, one at a time, until it is killed or its
 * channel closes. It holds the GIL throughout: threads a script starts
 * run only while analyse() runs (python.so replaces a worker that still
 * has threads after a call).
 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct wk wk = {.fd = WK_FD};

/* Every descriptor from `from` up is closed. */
static void
close_from(int from)
{
	if (syscall(SYS_close_range, (unsigned)from, ~0u, 0) == 0)
		return;
	for (int fd = from; fd < 1024; fd++)
		(void)close(fd);
}

void
wk_log(int level, const char *key, const char *fmt, ...)
{
	char text[1024];
	size_t klen = key ? strlen(key) : 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* Under the GIL (every caller runs Python): frames never interleave.
	 * A daemon that is gone is noticed by the next recv. */
	(void)wire_send(wk.fd, WIRE_LOG, (uint32_t)level, (uint32_t)klen, key,
			klen, text, strlen(text), NULL, 0, 0);
}

static void
send_error(const char *msg)
{
	(void)wire_send(wk.fd, WIRE_ERROR, 0, 0, msg, strlen(msg), NULL, 0,
			NULL, 0, 0);
}

/* ---- a worker ---- */

static void
worker_calls(void)
{
	struct wire_frame f;
	char backend[PMX_BACKEND_MAX];

	for (;;) {
		int verdict;

		if (wire_recv(wk.fd, &f, 0) < 0)
			_exit(0); /* python.so is done with us */
		if (f.hdr.type != WIRE_CALL) {
			wire_frame_free(&f);
			_exit(2);
		}
		backend[0] = '\0';
		verdict = script_call((const unsigned char *)f.payload,
				      f.hdr.len, f.hdr.a != 0, backend,
				      sizeof(backend));
		wire_frame_free(&f);
		if (verdict != PMX_MATCH)
			backend[0] = '\0';
		if (wire_send(wk.fd, WIRE_ANSWER, (uint32_t)verdict,
			      (uint32_t)script_threads(), backend,
			      strlen(backend), NULL, 0, NULL, 0, 0) < 0)
			_exit(0);
	}
}

static void
worker_main(int chan, int out, pid_t zygote)
{
	char err[1024];
	sigset_t none;

	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != zygote)
		_exit(0); /* the zygote died before the line above */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(chan, WK_FD) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(1);
	close_from(WK_FD + 1);
	wk.is_worker = 1;
	if (sandbox_worker(err, sizeof(err)) < 0) {
		send_error(err);
		_exit(1);
	}
	/* A crash (a C extension, ctypes) prints the Python stack to fd 2,
	 * where python.so finds the script's line; so does SIGUSR1, which
	 * python.so sends a call stuck past its deadline before SIGKILL
	 * (from the signal handler: no GIL needed). (Importing signal on the
	 * main thread installs Python's SIGINT handler: a worker has none.) */
	if (PyRun_SimpleString(
		    "faulthandler.enable(all_threads=True)\n"
		    "faulthandler.register(signal.SIGUSR1, all_threads=True)\n"
		    "signal.signal(signal.SIGINT, signal.SIG_DFL)\n") != 0)
		PyErr_Clear();
	if (wire_send(wk.fd, WIRE_READY, (uint32_t)script_threads(), 0, NULL,
		      0, NULL, 0, NULL, 0, 0) < 0)
		_exit(0);
	sandbox_worker_ready();
	worker_calls();
}

/* ---- the zygote ---- */

static void
fork_worker(void)
{
	int sv[2], out[2], fds[3], nfds = 2, pidfd;
	pid_t pid, me = getpid();

	if (wk.code == NULL) {
		send_error("no script loaded");
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		send_error(strerror(errno));
		return;
	}
	if (pipe2(out, O_CLOEXEC) < 0) {
		send_error(strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return;
	}
	PyOS_BeforeFork();
	pid = fork();
	if (pid == 0) {
		PyOS_AfterFork_Child();
		close(sv[0]);
		close(out[0]);
		worker_main(sv[1], out[1], me);
		_exit(0);
	}
	PyOS_AfterFork_Parent();
	close(sv[1]);
	close(out[1]);
	if (pid < 0) {
		send_error(strerror(errno));
		close(sv[0]);
		close(out[0]);
		return;
	}
	fds[0] = sv[0];
	fds[1] = out[0];
	/* Not reaped before EXITED is sent: the pid names this child. */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0)
		fds[nfds++] = pidfd;
	(void)wire_send(wk.fd, WIRE_FORKED, (uint32_t)pid, 0, NULL, 0, NULL, 0,
			fds, nfds, 0);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
}

static void
load(struct wire_frame *f)
{
	char err[1024];
	size_t plen = strnlen(f->payload, f->hdr.len);

	if (plen >= f->hdr.len || wk.analyse != NULL) {
		send_error("one LOAD with a script per process");
		return;
	}
	free(wk.path);
	wk.path = strdup(f->payload);
	if (wk.path == NULL) {
		send_error("out of memory");
		return;
	}
	/* The top level runs here, once: workers are forked with the
	 * script's module as it left it (as gunicorn's preload does). */
	if (script_compile(f->payload + plen + 1, err, sizeof(err)) < 0 ||
	    sandbox_script(err, sizeof(err)) < 0 ||
	    script_load(err, sizeof(err)) < 0) {
		send_error(err);
		return;
	}
	/* Objects the top level made are never collected from now on:
	 * each worker's first collection would otherwise write to, and so
	 * copy, every page it shares with the zygote. */
	if (PyRun_SimpleString("import gc\ngc.freeze()\n") != 0)
		PyErr_Clear();
	(void)wire_send(wk.fd, WIRE_LOADED, (uint32_t)script_threads(), 0,
			NULL, 0, NULL, 0, NULL, 0, 0);
}

static void
reap(int sfd)
{
	struct signalfd_siginfo si;
	pid_t pid;
	int st;

	while (read(sfd, &si, sizeof(si)) > 0)
		;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		(void)wire_send(wk.fd, WIRE_EXITED, (uint32_t)pid,
				(uint32_t)st, NULL, 0, NULL, 0, NULL, 0, 0);
}

static void
zygote_loop(int sfd)
{
	for (;;) {
		struct pollfd p[2] = {{.fd = wk.fd, .events = POLLIN},
				      {.fd = sfd, .events = POLLIN}};
		struct wire_frame f;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (p[1].revents)
			reap(sfd);
		if (!p[0].revents)
			continue;
		if (wire_recv(wk.fd, &f, 0) < 0)
			_exit(0); /* python.so is done: workers die with us */
		if (f.hdr.type == WIRE_LOAD)
			load(&f);
		else if (f.hdr.type == WIRE_FORK)
			fork_worker();
		else
			send_error("unexpected message");
		wire_frame_free(&f);
	}
}

static int
parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char *end;

		if (strcmp(argv[i], "--memory") == 0 && i + 1 < argc) {
			errno = 0;
			wk.memory = strtol(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || wk.memory < 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char err[1024];
	sigset_t chld;
	int sfd, devnull;

	if (fcntl(WK_FD, F_GETFD) < 0 || parse_args(argc, argv) < 0) {
		fprintf(stderr,
			"portmux-python: run by PortMux's python.so, which "
			"passes fd 3 (usage: portmux-python [--memory BYTES])"
			"\n");
		return 2;
	}
	(void)fcntl(WK_FD, F_SETFD, FD_CLOEXEC);
	close_from(WK_FD + 1);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		(void)dup2(devnull, 0);
		(void)dup2(devnull, 1);
		close(devnull);
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0 || sandbox_zygote(err, sizeof(err)) < 0 ||
	    interp_start(err, sizeof(err)) < 0) {
		send_error(sfd < 0 ? strerror(errno) : err);
		_exit(1);
	}
	/* What every worker uses, imported once (standard library only,
	 * before the script's top level). */
	if (PyRun_SimpleString("import faulthandler, signal\n") != 0) {
		send_error("cannot import faulthandler");
		_exit(1);
	}
	zygote_loop(sfd); /* never returns: the process ends with _exit,
			     without Python's finalisation */
	return 0;
}
