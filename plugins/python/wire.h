/*
 * wire.h — the messages between python.so (in the daemon) and its Python
 * processes (plugins/python/worker/, the portmux-python program).
 *
 * Each instance of the detector has one zygote: a portmux-python process
 * that starts CPython once, compiles the script, runs its top level and
 * forks workers on request. A worker answers calls one at a time. Both
 * talk to python.so over AF_UNIX stream sockets, in frames: a header and
 * `len` bytes of payload. File descriptors travel
 * with a header (SCM_RIGHTS), never alone.
 *
 *   daemon -> zygote   LOAD     payload: path NUL source (NUL-terminated)
 *   zygote -> daemon   LOADED   the script compiled and its top level ran;
 *                               a = threads the top level left running
 *                      ERROR    payload: why not (path:line: ...)
 *                      LOG      (the top level's portmux.log, as below)
 *   daemon -> zygote   FORK
 *   zygote -> daemon   FORKED   a = pid; fds: channel, output, pidfd (or
 *                               two fds when the kernel has no pidfd)
 *                      EXITED   a = pid, b = wait status
 *   worker -> daemon   READY    a = threads running
 *                      ERROR    payload: why it cannot serve
 *   daemon -> worker   CALL     a = final; payload: the bytes
 *   worker -> daemon   LOG      a = level, b = key length; payload: key
 *                               then text (b == 0: not rate limited)
 *                      ANSWER   a = verdict, b = threads still running;
 *                               payload: backend (MATCH)
 */
#ifndef PMX_PY_WIRE_H
#define PMX_PY_WIRE_H

#include <stddef.h>
#include <stdint.h>

enum wire_type {
	WIRE_LOAD = 1,
	WIRE_LOADED,
	WIRE_ERROR,
	WIRE_FORK,
	WIRE_FORKED,
	WIRE_EXITED,
	WIRE_READY,
	WIRE_CALL,
	WIRE_LOG,
	WIRE_ANSWER,
};

struct wire_hdr {
	uint32_t type;
	uint32_t a, b;
	uint32_t len; /* payload bytes that follow */
};

/* Payloads: the probe buffer (at most 1 MiB) plus room; a script's
 * source has its own limit (PMX_PY_SCRIPT_MAX, 16 MiB). */
#define WIRE_PAYLOAD_MAX ((16u << 20) + 4096u)
#define WIRE_FDS_MAX 3

/* A received frame: the payload is malloc'ed (NUL-terminated, so text
 * payloads are strings) and owned by the frame until wire_frame_free. */
struct wire_frame {
	struct wire_hdr hdr;
	char *payload;
	int fds[WIRE_FDS_MAX]; /* -1 when absent; owned by the receiver */
	int nfds;
};

/*
 * Send a frame (header, then the payload in one or two parts, then fds
 * with the header). `deadline` is CLOCK_MONOTONIC seconds, or 0 to block.
 * 0, or -1 with errno (ETIMEDOUT at the deadline, EPIPE when the other
 * side is gone).
 */
int wire_send(int fd, uint32_t type, uint32_t a, uint32_t b,
	      const void *p1, size_t n1, const void *p2, size_t n2,
	      const int *fds, int nfds, double deadline);

/* Receive one frame (blocking, or until `deadline`). 0, or -1 with
 * errno: ECONNRESET on end of stream, ETIMEDOUT, EPROTO on garbage. */
int wire_recv(int fd, struct wire_frame *f, double deadline);

void wire_frame_free(struct wire_frame *f);

double wire_now(void); /* CLOCK_MONOTONIC seconds */

#endif
