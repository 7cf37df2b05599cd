/* admit.h — who gets in, decided before a byte is read: PORTMUX.allow and
 * deny, then the per-source limits (source.h). A client behind a trusted
 * balancer (accept_proxy) is judged on the address its PROXY header gives,
 * once that header is read. A route's own allow / deny is judged after
 * detection (conn_relay.c, udp.c: a denied client is one with no route). */
#ifndef PMX_ADMIT_H
#define PMX_ADMIT_H

#include <sys/socket.h>

#include "loop.h"
#include "source.h"

/*
 * May a new connection from `sa` come in? 0: yes, and *src is what it
 * counts against (release with source_release when it ends). -1: refused
 * — counted in stats, and logged at most once a second per loop.
 */
int admit_client(struct loop_ctx *lc, const struct sockaddr *sa,
		 struct source **src);

#endif
