/* conn.h — one client connection, from accept to close:
 *
 *   PROBING ──(detector match / timeout / deadline / EOF)──► CONNECTING
 *   CONNECTING ──(connected)──► RELAY ──(both directions done)──► freed
 *   any state ──(error, no route)──► freed
 *
 * The connection owns both sockets, their watchers, one timer, the probe
 * buffer and any pending bytes; conn_close() is the one place that frees
 * them. Bytes read while probing are replayed to the backend first. */
#ifndef PMX_CONN_H
#define PMX_CONN_H

#include <ev.h>
#include <netinet/in.h>
#include <stdint.h>

#include "probe.h"
#include "worker.h"

/* Bytes waiting to be written (also the probe buffer while probing). */
struct pbuf {
	uint32_t off, len, cap;
	uint8_t data[];
};

/* One socket of a connection. `out` holds bytes read from the other side
 * that this side could not take yet. */
struct side {
	ev_io io;
	int fd;
	uint8_t eof;  /* read EOF from this side */
	uint8_t shut; /* sent our FIN (SHUT_WR) to this side */
	uint8_t bulk; /* what it sends comes in bulk: splice it */
	int events;   /* what io is armed for (0 = stopped) */
	struct pbuf *out;
	int pipe[2];         /* zero-copy: bytes on their way to this side */
	uint32_t pipe_bytes; /* how many are in it (EAGAIN is ambiguous) */
	uint64_t bytes;      /* read from this side */
};

/* Bytes waiting to be written to this side. */
static inline int
side_pending(const struct side *s)
{
	return s->out != NULL || s->pipe_bytes != 0;
}

enum conn_state { CONN_PROBING, CONN_CONNECTING, CONN_RELAY };

enum conn_via { VIA_NONE, VIA_DETECTOR, VIA_ON_TIMEOUT, VIA_FALLBACK };

struct conn {
	struct side client, server;
	ev_timer timer; /* probe timeout/deadline, then connect timeout */
	struct worker *w;
	struct generation *gen; /* one ref */
	struct pbuf *probe;     /* PROBING only */
	struct probe_job *job;  /* a blocking detector's call in flight */
	struct probe_state pstate;
	const struct backend *backend; /* borrowed from gen, or own_backend */
	const struct addr_set *addrs;  /* its addresses being tried */
	struct backend *own_backend;   /* a detector's explicit backend */
	char *key;                     /* matched route key, for the log */
	ev_tstamp started;
	ev_tstamp active; /* last relay event, for idle_timeout */
	uint64_t id;
	int addr_index;  /* backend address being tried */
	int last_error;  /* errno of the last failed connect */
	int16_t det;     /* detector that matched, -1 none */
	uint8_t state;   /* enum conn_state */
	uint8_t via;     /* enum conn_via */
	uint8_t want_final; /* decide on what we have once `job` is back */
	uint8_t zerocopy;   /* relay with splice() through pipes */
	uint8_t proxy_in;   /* a PROXY header from a trusted balancer is due */
	uint8_t has_local;  /* `local` came from that header */
	const struct listener *listener;
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} peer, local; /* the client (real one, behind a balancer) */
	struct conn *prev, *next; /* worker's list, most recent first */
};

/* Take ownership of an accepted, non-blocking socket. */
void conn_accept(struct worker *w, const struct listener *l, int fd,
		 const struct sockaddr *peer, socklen_t peer_len);

/* A blocking detector's answer is back (loop thread; see probe_pool). */
void conn_probe_done(struct probe_job *job);

/* Close relayed connections quiet for `idle` seconds (worker's sweep). */
void conn_sweep_idle(struct worker *w, double idle);

/* Log the closing line and free everything. `c` is gone afterwards. */
void conn_close(struct conn *c, const char *reason);

#endif
