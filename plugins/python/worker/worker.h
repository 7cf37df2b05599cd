/*
 * worker.h — portmux-python, the program that runs a python detector's
 * script outside the daemon (see ../wire.h for the conversation).
 *
 * Who does what:
 *   main.c     arguments, the zygote's loop, forking a worker
 *   sandbox.c  what the zygote gives up (root, capabilities, core dumps)
 *              and what a worker may not do (signal, trace, fork, exec:
 *              a seccomp filter) and use (memory, files)
 *   interp.c   starting CPython, once, in the zygote
 *   script.c   compiling the script and running its top level (zygote),
 *              calling analyse() (worker), describing exceptions
 *   answer.c   what analyse() returned -> verdict and backend
 *   module.c   the built-in `portmux` module
 *
 * One process, one script, one thread running Python: process-wide state
 * is the program's own (`wk` below), not an instance's.
 */
#ifndef PMX_PY_WORKER_H
#define PMX_PY_WORKER_H

#define PY_SSIZE_T_CLEAN
#include <Python.h> /* first: it sets feature-test macros */

#include <stddef.h>

#include <portmux/detector.h>

#include "../logtext.h"
#include "../wire.h"

/* fd 3: in the zygote its socket to python.so, in a worker its channel. */
#define WK_FD 3

struct wk {
	int fd;              /* WK_FD */
	int is_worker;       /* a forked worker (else the zygote) */
	long memory;         /* bytes of address space a worker may use; 0 */
	char *path;          /* the script's path (from LOAD) */
	PyObject *filename;  /* str: path, as compiled (tracebacks) */
	PyObject *code;      /* the compiled script */
	PyObject *analyse;   /* its analyse callable (zygote, inherited) */
	PyObject *need_more; /* portmux.NEED_MORE */
};

extern struct wk wk;

/* ---- sandbox.c ---- */

/* The zygote, before Python starts: never root (becomes `nobody`), no
 * capabilities, no_new_privs, no core dumps. 0, or -1 with a message. */
int sandbox_zygote(char *err, size_t errlen);
/* The zygote, before the script's top level runs: the limits and the
 * seccomp filter every worker inherits. 0, or -1 with a message. */
int sandbox_script(char *err, size_t errlen);
/* A worker, after fork: no new processes. 0, or -1 with a message. */
int sandbox_worker(char *err, size_t errlen);
/* A worker about to take calls: its lower CPU priority. */
void sandbox_worker_ready(void);

/* ---- interp.c ---- */

int interp_start(char *err, size_t errlen);

/* ---- script.c (GIL held) ---- */

/* Compile wk.path's source into wk.code. 0, or -1 with "path:line: ...". */
int script_compile(const char *src, char *err, size_t errlen);
/* Run the top level and find analyse (zygote). 0, or -1 with a
 * message. */
int script_load(char *err, size_t errlen);
/* analyse(data): the verdict, backend filled on MATCH. */
int script_call(const unsigned char *data, size_t len, int final,
		char *backend, size_t cap);
/* Python threads alive in this process (1: only the caller). */
int script_threads(void);
/* str(obj), or repr(obj), as a clean log fragment (never fails). */
void py_text(PyObject *obj, char *dst, size_t cap, int repr);

/* ---- answer.c (GIL held) ---- */

int answer_read(PyObject *ret, int final, char *backend, size_t cap);

/* ---- module.c ---- */

PyObject *portmux_module_init(void);

/* ---- main.c ---- */

/* A line in PortMux's log through python.so. With a key, python.so
 * rate limits it (one a second per key). */
void wk_log(int level, const char *key, const char *fmt, ...)
	PMX_PRINTF(3, 4);

#endif
