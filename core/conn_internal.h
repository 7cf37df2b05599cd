/* conn_internal.h — what the three parts of a connection's code share:
 *
 *   conn.c        life: accept, event dispatch by state, idle timeouts,
 *                 close
 *   conn_probe.c  PROBING: read, strip a balancer's PROXY header, decide
 *                 (decide.h), route or answer a client it cannot serve
 *   conn_relay.c  CONNECTING and RELAY: each backend address in turn, then
 *                 the probe bytes and both directions (relay.h)
 *
 * Not for the rest of the core. A function marked "may close c" can end
 * the connection (conn.h, "Closing"): its caller returns right after it
 * and touches c no more. */
#ifndef PMX_CONN_INTERNAL_H
#define PMX_CONN_INTERNAL_H

#include "conn.h"

/* ---- conn.c ---- */

/* Arm a side's watcher for `events`, touching libev only on change. */
void side_arm(struct conn *c, struct side *s, int events);
/* An event for s waits for its callback in this turn of the loop (a
 * watcher re-armed for other events loses it). */
int side_event_pending(const struct conn *c, struct side *s);
/* A relaying side that had SIDE_RING_TURNS events and holds nothing
 * on the ring (no operation in flight, no bytes read for it) goes on
 * with a libev watcher (epoll) instead: see conn.c. */
#ifndef SIDE_RING_TURNS /* -D: bench/bulktune.sh variants */
#define SIDE_RING_TURNS 4
#endif
void side_maybe_to_loop(struct conn *c, struct side *s);
/* Stop a side's watcher, close its socket, drop what it had pending:
 * conn_close() for both sides, connect_retry() for a failed address. */
void side_close(struct conn *c, struct side *s);
/* (Re)start the connection's one timer. */
void timer_arm(struct conn *c, double seconds);
/* Close with "what:strerror(err)" as the reason. Closes c. */
void conn_fail(struct conn *c, const char *what, int err);
/* Send the matched detector's words for a client PortMux cannot serve
 * (an HTTP error, a TLS alert), best effort; the caller closes c. */
void conn_reject(struct conn *c, int why, const struct pmx_probe_result *res);
/* c was active now: to the head of its idle list, if it is in one. */
void conn_touch(struct conn *c);
/* Put a relaying c in the idle list its timeout calls for now (none: in
 * no list), at the head: called when it starts relaying and when one of
 * its directions ends. -1 out of memory (c unchanged, still open). */
int conn_idle_update(struct conn *c);

/* ---- conn_keepalive.c ---- */

/* c relays now: its backend socket gets TCP keepalive if it lives on. */
void conn_keepalive_due(struct conn *c);
/* c closes: out of the keepalive FIFO. */
void conn_keepalive_forget(struct conn *c);

/* ---- conn_probe.c ---- */

/* The client is readable. May close c. */
void probe_read(struct conn *c);
/* The probing timer fired (probe_timeout or probe_deadline). May close
 * c. */
void probe_timer(struct conn *c);

/* ---- conn_relay.c ---- */

/* Connect to b (each of its addresses in turn), counted in `series`
 * (metrics.h; may be NULL). May close c. */
void conn_connect(struct conn *c, const struct backend *b,
		  enum conn_via via, struct metrics_series *series);
/* Client bytes that arrive while connecting join the probe bytes. May
 * close c. */
void connecting_read(struct conn *c);
/* The server socket became writable (revents: its watcher's): connected,
 * or try the next address. May close c. */
void connect_done(struct conn *c, int revents);
/* connect_timeout passed: try the next address. May close c. */
void connect_timed_out(struct conn *c);
/* The backend socket (c->server.fd) is connected: replay the probe bytes
 * (after a PROXY header when the route asks), then relay. May close c. */
void relay_start(struct conn *c);
/* A relay socket is ready. May close c. */
void relay_event(struct conn *c, struct side *self, struct side *other,
		 int revents);

#endif
