/* conn.h — one client connection, from accept to close:
 *
 *   accept ─► PROBING ──(a detector decides / timeout / deadline / EOF)──►
 *   CONNECTING ──(connected)──► RELAY ──(both directions done)──► closed
 *   any state ──(error, nowhere to go)──► closed
 *
 * Bytes read while probing are replayed to the backend first.
 *
 * Ownership. A connection owns itself and everything it holds: both
 * sockets and their watchers, its one timer, the probe buffer, the bytes
 * and pipes pending for each side (relay.h), its explicit backend, a
 * reference to its generation, and its place in the loop's lists (every
 * connection; the idle list of its timeout). A probe job in flight is the
 * pool's; the connection only abandons it.
 *
 * Timeouts while relaying. No connection has a timer of its own once it
 * relays: one with a timeout — its route's idle_timeout, else PORTMUX's;
 * halfclose_timeout once a direction ended, if shorter — sits in the
 * loop's idle list for that value (loop.h), moved to the head on every
 * relay event, and the loop's one idle timer closes the lists' tails as
 * they expire.
 *
 * Closing. conn_close() is the one way a connection ends, and it frees
 * all of the above; `c` is gone when it returns, so the caller returns
 * at once and touches nothing of c after. Any function that may close c
 * says so, and its callers return after it the same way. Descriptors are
 * closed only here, with two exceptions, both on the way to the next
 * state: a backend address that failed is closed before the next one is
 * tried (conn_relay.c), and a relay hands an emptied pipe back to the
 * loop's pool (relay.c). */
#ifndef PMX_CONN_H
#define PMX_CONN_H

#include <ev.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/queue.h>

#include "loop.h"
#include "probe.h"
#include "relay.h"

enum conn_state { CONN_PROBING, CONN_CONNECTING, CONN_RELAY };

enum conn_via { VIA_NONE, VIA_DETECTOR, VIA_ON_TIMEOUT, VIA_FALLBACK };

struct conn {
	struct side client, server;
	ev_timer timer; /* probe timeout/deadline, then connect timeout */
	struct loop_ctx *lc;
	struct generation *gen; /* one ref */
	/* Its listening address's detectors and targets (gen's) */
	const struct gen_listener *lsn;
	struct pbuf *probe;     /* PROBING and CONNECTING: bytes to replay */
	struct probe_job *job;  /* a blocking detector's call in flight */
	struct probe_state pstate;
	const struct backend *backend; /* borrowed from gen, or own_backend */
	const struct addr_set *addrs;  /* its addresses being tried */
	struct backend *own_backend;   /* a detector's explicit backend */
	struct source *src; /* what it counts against (per-source limits) */
	char *key;                     /* matched route key, for the log */
	/* The metrics series it is counted in as active (metrics.h; the
	 * registry's), from when it goes to a backend; NULL: none. */
	struct metrics_series *series;
	ev_tstamp started;
	ev_tstamp active; /* last relay event, for the idle timeouts */
	uint64_t id;
	int addr_index;  /* backend address being tried */
	int last_error;  /* errno of the last failed connect */
	int16_t det;     /* detector that matched, -1 none */
	uint8_t state;   /* enum conn_state */
	uint8_t via;     /* enum conn_via */
	uint8_t want_final; /* decide on what we have once `job` is back */
	uint8_t zerocopy;   /* relay with splice() through pipes */
	uint8_t kernel_try; /* relay: kernel wanted: tries left to go in
			       (conn_kernel.h); 0: stays in user space */
	uint8_t proxy_in;   /* a PROXY header from a trusted balancer is due */
	uint8_t has_local;  /* `local` came from that header */
	uint8_t ended;      /* a direction had ended when the idle list
			       was chosen (halfclose_timeout may apply) */
	const struct addr *bound; /* the listening address (its listener
				     outlives every connection it accepted) */
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} peer, local; /* the client (real one, behind a balancer) */
	TAILQ_ENTRY(conn) link; /* lc->conns */
	struct idle_list *idle; /* the list of its timeout, or NULL (none,
				   or not relaying yet) */
	struct kpair *kernel;   /* in the kernel relay (conn_kernel.h):
				   owned, freed by conn_close; NULL: not */
	TAILQ_ENTRY(conn) idle_link; /* idle->conns */
	/* Waiting for its backend socket's keepalive options
	 * (conn_keepalive.c): in lc->keepalive_due until keepalive_at. */
	TAILQ_ENTRY(conn) keepalive_link;
	ev_tstamp keepalive_at;
	uint8_t keepalive_queued;
};

/* Take ownership of an accepted, non-blocking socket from the listener
 * bound to `bound`. The new connection, or NULL (fd closed) when the
 * client may not come in (admit.h) or memory ran out. */
struct conn *conn_accept(struct loop_ctx *lc, const struct addr *bound,
			 int fd, const struct sockaddr *peer,
			 socklen_t peer_len);

/* The loop context's idle timer (loop.c sets it up, conn.c arms it for
 * the earliest deadline): closes the relayed connections whose timeout
 * passed — "idle_timeout" or "halfclose_timeout" — frees the emptied idle
 * lists, and re-arms for the next deadline. */
void conn_idle_timer_cb(struct ev_loop *loop, ev_timer *t, int revents);

/* The loop's keepalive timer (loop.c sets it up; conn_keepalive.c): sets
 * TCP keepalive on the backend sockets of the connections that are due. */
void conn_keepalive_timer_cb(struct ev_loop *loop, ev_timer *t, int revents);

/* Close every connection of the loop (shutdown). */
void conn_close_all(struct loop_ctx *lc, const char *reason);

/* Log the closing line and free everything. `c` is gone afterwards. */
void conn_close(struct conn *c, const char *reason);

#endif
