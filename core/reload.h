/* reload.h — SIGHUP: build a new generation on a thread (config, plugins,
 * name resolution, detector create() — none of which may stall the event
 * loop), then swap it in on the loop. A reload asked for while one runs is
 * done right after it. A failed build leaves the running generation. */
#ifndef PMX_RELOAD_H
#define PMX_RELOAD_H

#include <ev.h>

#include "generation.h"

/* Called on the loop with the new generation (the callee takes its own
 * reference), or NULL and the error when the build failed. */
typedef void (*reload_apply_fn)(struct generation *g, const char *err);

void reload_init(struct ev_loop *loop, const char *config_path,
		 int port_override, reload_apply_fn apply);
/* Ask for a reload (loop thread). */
void reload_request(void);
/* Wait for a running build to end and drop its result (loop thread). */
void reload_fini(void);

#endif
