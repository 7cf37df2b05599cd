/* resolve.h — backends named by host name are looked up again every
 * PORTMUX.resolve_interval seconds (containers and DNS change addresses),
 * on a thread: the event loops never wait for DNS. A changed answer is
 * published to the backend; connections from then on use it, attempts
 * under way finish with the addresses they started with. */
#ifndef PMX_RESOLVE_H
#define PMX_RESOLVE_H

#include <ev.h>

#include "generation.h"

/* `current` gives the generation new connections use (the caller's
 * reference; resolve takes its own). */
void resolve_init(struct ev_loop *loop, struct generation *(*current)(void));
/* The interval may have changed (after a reload; loop thread). */
void resolve_rearm(void);
/* Wait for a run under way, stop the timer (loop thread). */
void resolve_fini(void);

#endif
