/* decide.h — from the bytes a client sent to a backend, for TCP
 * connections and UDP flows alike:
 *
 *   decide_run()     the detection chain (probe.h) on the bytes so far; a
 *                    blocking detector whose turn it is goes to the loop's
 *                    probe pool, or declines when it cannot run there
 *                    (decide_offload: the one place that says so);
 *   decide_backend() a detector's MATCH turned into a backend: its explicit
 *                    "host:port" answer, or its route table.
 *
 * What happens with the backend (connect, relay) or without one (fallback,
 * close, drop) is the caller's. */
#ifndef PMX_DECIDE_H
#define PMX_DECIDE_H

#include <stdint.h>

#include "generation.h"
#include "loop.h"
#include "probe.h"
#include "probe_pool.h"

/*
 * Run the chain on `in` (see probe_run). When a blocking detector's turn
 * comes it runs on lc's probe pool: PROBE_ASYNC, *job is the job in flight
 * and `done(job)` gets its answer on the loop (owner: the connection or
 * flow). Otherwise PROBE_WAIT, PROBE_MATCH (*det and *res set) or
 * PROBE_NONE, and *job is NULL.
 */
enum probe_outcome decide_run(struct loop_ctx *lc, struct generation *g,
			      struct probe_state *st,
			      const struct pmx_probe_input *in,
			      struct pmx_probe_result *res, int *det,
			      void *owner, probe_done_fn done,
			      struct probe_job **job);

/*
 * Blocking detector `det` of g is to decide about `in`: a job on `pool`,
 * with at most g's probe_queue jobs waiting there, and a client source's
 * probe_source_share of them and of the threads. When it cannot run
 * there — no pool (no thread could start), no memory, the pool is
 * stopping, its queue is full, the client's source has its share of it
 * waiting, or in->deadline has passed — it counts as having said
 * NO_MATCH: that is recorded in *st, logged (at most once a second per
 * loop thread) and NULL returned, so the chain goes on with the next
 * detectors.
 *
 * The same meaning, later: a job the pool drops unrun because its
 * deadline passed while it waited comes back with NO_MATCH (`expired`
 * set), and decide_late() makes a job still out at the deadline count
 * as NO_MATCH too.
 */
struct probe_job *decide_offload(struct probe_pool *pool,
				 struct generation *g, struct probe_state *st,
				 int det, const struct pmx_probe_input *in,
				 void *owner, probe_done_fn done);

/*
 * The deadline passed while `job` (the owner's blocking detector) is still
 * out: the detector counts as having declined (recorded in *st), the job
 * is abandoned and its late answer will be dropped. The caller forgets
 * the job and decides on the other detectors' verdicts.
 */
void decide_late(struct probe_state *st, struct probe_job *job);

/*
 * The deadline of a connection or flow that started at `started` (loop
 * time) and must be decided `within` seconds of it, on the clock of
 * pmx_probe_input.deadline (clock_mono(), clock.h).
 */
double decide_deadline(struct loop_ctx *lc, ev_tstamp started,
		       double within);

/*
 * Detector `det` of g matched with `res` (its job's, when it ran on the
 * pool: a name in its explicit answer was resolved there). Counts the
 * match and returns the backend:
 *  - its explicit answer (res->backend), made into a backend of the
 *    caller's: *own is set, freed with backend_destroy();
 *  - else, or when that answer is not a usable "host:port" (logged as
 *    `kind`=id, e.g. conn=7 or udp=3), its route table by res->key — for
 *    UDP an empty key means the route "udp" — then the table's default.
 * NULL when there is none: the caller falls back or gives up.
 */
const struct backend *decide_backend(struct generation *g, int det,
				     const struct pmx_probe_result *res,
				     enum pmx_transport transport,
				     struct probe_job *job,
				     struct backend **own, const char *kind,
				     uint64_t id);
/* The same, and *series: the connection metrics series (metrics.h) of
 * the backend chosen — the detector's explicit answer, or the route it
 * came from; NULL without a backend. */
const struct backend *decide_backend_series(
	struct generation *g, int det, const struct pmx_probe_result *res,
	enum pmx_transport transport, struct probe_job *job,
	struct backend **own, const char *kind, uint64_t id,
	struct metrics_series **series);

#endif
