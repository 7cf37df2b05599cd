/* probe.h — run a generation's detectors, in order, on the bytes a client
 * has sent so far. Pure: no sockets, no timers, so it is unit-tested
 * directly.
 *
 * Order is priority: detector i decides only once every detector before it
 * has said NO_MATCH. A detector that said NO_MATCH is not asked again for
 * that connection (bytes only grow). With `final` set, NEED_MORE counts as
 * NO_MATCH, so the answer is always MATCH or NONE. */
#ifndef PMX_PROBE_H
#define PMX_PROBE_H

#include <stdint.h>

#include "generation.h"

enum probe_outcome {
	PROBE_WAIT = 0,  /* someone needs more bytes */
	PROBE_MATCH = 1, /* *index matched; result filled */
	PROBE_NONE = 2,  /* every detector said NO_MATCH */
	PROBE_ASYNC = 3, /* *index is a blocking detector whose turn it is:
			    run it off the loop, then probe_apply() */
};

struct probe_state {
	uint64_t declined; /* bit i: detector i said NO_MATCH (a generation
			      has at most GENERATION_MAX_DETECTORS = 64) */
	/* The detectors this client runs, in order: its listening
	 * address's (gen_listener, borrowed from the generation). NULL:
	 * every detector of the generation, in its order. */
	const uint8_t *order;
	size_t norder;
};

/* A client accepted on listening address `l` runs l's detectors. */
void probe_state_init(struct probe_state *st, const struct gen_listener *l);

enum probe_outcome probe_run(const struct generation *g,
			     struct probe_state *st,
			     const struct pmx_probe_input *in,
			     struct pmx_probe_result *res, int *index);

/*
 * Record the verdict of detector `index` that ran asynchronously. Returns
 * PROBE_MATCH (the caller routes with its result), PROBE_WAIT (it needs
 * more bytes), or -1: it declined, run probe_run() again to go on.
 */
int probe_apply(struct probe_state *st, int index, int verdict, int final);

const char *probe_verdict_name(int verdict);

#endif
