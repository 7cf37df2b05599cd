/* conn_keepalive.c — TCP keepalive on backend sockets, for the connections
 * that live long enough to need it.
 *
 * A client socket inherits its keepalive options from the listening
 * socket, at no cost. A backend socket needs four setsockopt() calls of
 * its own: a fifth of the system calls of a short connection. Probes start
 * only after TCP_KEEPIDLE (60 s) of silence, so a connection that ends
 * sooner never needs them: each relayed connection waits in its loop's
 * FIFO for KEEPALIVE_AFTER seconds and gets the options then, if it is
 * still open. A vanished backend is found at most KEEPALIVE_AFTER seconds
 * later than with options set at connect (about 2 min 10 s instead of
 * 2 min). All connections wait the same time, so the FIFO is in deadline
 * order and one timer serves it. */
#include "conn.h"

#include <stddef.h>

#include "conn_internal.h"
#include "sockopt.h"

#define KEEPALIVE_AFTER 10.0 /* seconds */

static void
due_timer_arm(struct loop_ctx *lc, ev_tstamp at)
{
	double after = at - ev_now(lc->loop);

	ev_timer_set(&lc->keepalive_timer, after > 0.001 ? after : 0.001, 0);
	ev_timer_start(lc->loop, &lc->keepalive_timer);
}

void
conn_keepalive_due(struct conn *c)
{
	struct loop_ctx *lc = c->lc;

	if (c->keepalive_queued || c->server.fd < 0)
		return;
	c->keepalive_at = ev_now(lc->loop) + KEEPALIVE_AFTER;
	c->keepalive_queued = 1;
	TAILQ_INSERT_TAIL(&lc->keepalive_due, c, keepalive_link);
	if (!ev_is_active(&lc->keepalive_timer))
		due_timer_arm(lc, c->keepalive_at);
}

void
conn_keepalive_forget(struct conn *c)
{
	if (!c->keepalive_queued)
		return;
	TAILQ_REMOVE(&c->lc->keepalive_due, c, keepalive_link);
	c->keepalive_queued = 0;
}

void
conn_keepalive_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct loop_ctx *lc = (struct loop_ctx *)(void *)((char *)t -
				offsetof(struct loop_ctx, keepalive_timer));
	ev_tstamp now = ev_now(loop);
	struct conn *c;

	(void)revents;
	while ((c = TAILQ_FIRST(&lc->keepalive_due)) != NULL &&
	       c->keepalive_at <= now) {
		conn_keepalive_forget(c);
		if (c->server.fd >= 0)
			sockopt_keepalive(c->server.fd);
	}
	if (c != NULL)
		due_timer_arm(lc, c->keepalive_at);
}
