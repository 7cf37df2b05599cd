/* conn_internal.h — what the three parts of a connection's code share
 * (conn.c, conn_probe.c, conn_relay.c). Not for the rest of the core. */
#ifndef PMX_CONN_INTERNAL_H
#define PMX_CONN_INTERNAL_H

#include "conn.h"

/* conn.c */
/* Arm a side's watcher for `events`, touching libev only on change. */
void side_arm(struct conn *c, struct side *s, int events);
/* Stop a side's watcher, close its socket, drop what it had pending:
 * conn_close() for both sides, connect_retry() for a failed address. */
void side_close(struct conn *c, struct side *s);
/* (Re)start the connection's one timer. */
void timer_arm(struct conn *c, double seconds);
/* Close with "what:strerror(err)" as the reason (c is gone). */
void conn_fail(struct conn *c, const char *what, int err);
/* Move c to the head of its loop's activity list. */
void conn_touch(struct conn *c);

/* conn_probe.c */
void probe_read(struct conn *c);
/* Run the detection chain on the bytes so far (`final`: decide now). */
void probe_decide(struct conn *c, int final);
/* A decision: route to a backend (connecting), fall back, or close. `job`
 * is the blocking detector's job when the answer came from one. */
void conn_route(struct conn *c, int outcome, int det,
		const struct pmx_probe_result *res, struct probe_job *job);
/* Send the matched detector's words for a client it cannot serve. */
void conn_reject(struct conn *c, int why, const struct pmx_probe_result *res);

/* conn_relay.c */
void conn_connect(struct conn *c, const struct backend *b,
		  enum conn_via via);
/* Client bytes that arrive while connecting join the probe bytes. */
void connecting_read(struct conn *c);
/* The server socket became writable: connected, or try the next address. */
void connect_done(struct conn *c);
/* connect_timeout passed: try the next address. */
void connect_timed_out(struct conn *c);
void relay_start(struct conn *c);
void relay_event(struct conn *c, struct side *self, struct side *other,
		 int revents);

#endif
