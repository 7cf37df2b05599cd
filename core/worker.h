/* worker.h — one event loop on its own thread: its listening sockets (TCP
 * and UDP; SO_REUSEPORT when there are several workers, so the kernel
 * spreads clients), accept() with its pauses, and the mailbox through
 * which the main thread reaches it (a new generation on reload, a stop).
 * What runs on the loop — connections, flows and the resources they share
 * — hangs off the loop context (loop.h) the worker embeds. */
#ifndef PMX_WORKER_H
#define PMX_WORKER_H

#include <ev.h>
#include <pthread.h>
#include <stddef.h>

#include "activation.h"
#include "addr.h"
#include "generation.h"
#include "log.h"
#include "loop.h"
#include "ring.h"
#include "udp.h"

struct worker;

/* A listening TCP socket. Owned by its worker: listeners_close() closes
 * it; the array lives until worker_join() (connections point at addr). */
/* Accepts in flight at once on a listening socket, with the loop's ring:
 * each completion brings one connection, so several keep a busy listener
 * drained between two waits of the loop. */
#define LISTENER_ACCEPTS 4

struct tcp_listener;

/* One of them: the ring accepts for it (RING_WANT_ACCEPT). */
struct accept_watch {
	struct ring_watch rw;
	struct tcp_listener *l;
};

struct tcp_listener {
	ev_io io; /* its readiness, without a ring */
	/* With the loop's ring (on_ring): accepts are its operations. */
	struct accept_watch acc[LISTENER_ACCEPTS];
	uint8_t on_ring;
	int fd;
	struct worker *w;
	struct addr addr;
	char text[ADDR_TEXT_MAX];
};

struct worker {
	struct loop_ctx lc; /* the loop and what runs on it */
	int index;
	struct ev_loop *loop; /* owned: made by worker_init, destroyed by
				 worker_join (the main thread may still post
				 to it until then); NULL while only bound */
	pthread_t thread;
	int started;

	/* mailbox, written by the main thread under `lock` */
	pthread_mutex_t lock;
	ev_async wake;
	struct generation *next_gen; /* one ref, or NULL */
	int stop_asked;
	double drain_seconds;

	/* loop thread only from here */
	struct tcp_listener *listeners;
	size_t nlisteners;
	struct udp_listener *udp; /* UDP on the same addresses, if wanted */
	size_t nudp;
	int udp_adopted; /* its UDP sockets came from systemd */
	size_t nudp_started; /* udp[0..n) serve (udp_listener_start); the
				others are only bound */
	int mutex_made;
	ev_timer accept_timer; /* resumes accepting after a pause */
	int accept_paused;     /* 1: fd exhaustion, 2: max_connections */
	int draining;          /* stop asked: no new connections */
	ev_timer drain_timer;
	ev_timer beat_timer;   /* systemd's watchdog: stores beat_usec */
	long long beat_usec;   /* atomic: CLOCK_MONOTONIC µs of the last
				  beat, read by the main thread */
	int loop_ended;        /* atomic: its loop stopped turning for good
				  (a drained worker beats no more) */
	struct log_ratelimit accept_rl;
	void (*on_exit)(struct worker *w); /* called on its thread at the end */
};

/*
 * Start-up happens in two steps, so that the sockets are bound as root and
 * everything else — plugins, scripts, the loop — is made after the
 * privilege drop:
 *
 * worker_bind: bind every listen address of cfg (with SO_REUSEPORT when
 * `shared`), TCP and UDP (unless `udp: false`) — or, when systemd passed
 * sockets (`act`), take those instead. -1 with err (nothing left open).
 */
int worker_bind(struct worker *w, int index, const struct config *cfg,
		int shared, const struct activation *act, char *err,
		size_t errlen);
/*
 * worker_init: set up the loop on generation g, sharing the per-source
 * table `sources` (the caller's, which outlives the worker; NULL: no
 * per-source limits); UDP sockets the generation does not want are closed.
 * The thread is not started yet. -1 with err (worker_join frees it).
 */
int worker_init(struct worker *w, struct generation *g,
		struct source_table *sources, char *err, size_t errlen);
/* Run the loop on a new thread (signals blocked there). */
int worker_start(struct worker *w);
/* Main thread: use g for new connections from now on (takes a ref). */
void worker_post_generation(struct worker *w, struct generation *g);
/* Main thread: stop accepting, let live connections finish for up to
 * drain_seconds, then close them and end the thread. */
void worker_post_stop(struct worker *w, double drain_seconds);
/* Main thread: wait for the thread to end (if it was started) and free
 * everything the worker holds, at whatever step it is. */
void worker_join(struct worker *w);
/* For the watchdog (main thread): how long ago, in seconds, w's loop last
 * beat; 0 when it has ended (it is not stalled, it is done). */
double worker_beat_age(struct worker *w, long long now_usec);

#endif
