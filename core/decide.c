/* decide.c — detection chain with blocking detectors off the loop, and a
 * match turned into a backend. */
#include "decide.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "log.h"

/* Say why blocking detector `det` is skipped for in->peer: at most one
 * line a second on each loop thread (a flood of clients is what fills a
 * queue), with the count of those left out. */
static void
log_skipped(struct generation *g, int det, int why,
	    const struct pmx_probe_input *in)
{
	static _Thread_local struct log_ratelimit rl;
	unsigned long dropped = 0;
	char client[ADDR_TEXT_MAX] = "-";

	if (why == PROBE_REFUSED_LATE) {
		/* After the deadline: nothing unusual, the client is being
		 * decided on the other detectors. */
		log_debug("detector=%s: past probe_deadline; skipping it",
			  g->dets[det].name);
		return;
	}
	if (!log_ratelimit_ok(&rl, &dropped))
		return;
	if (in->peer != NULL)
		addr_format(in->peer, client, sizeof(client));
	switch (why) {
	case PROBE_REFUSED_FULL:
		log_warn("detector=%s client=%s: probe queue full (%ld jobs "
			 "wait, probe_queue); skipping it (%lu similar "
			 "suppressed)",
			 g->dets[det].name, client, g->cfg->probe_queue,
			 dropped);
		break;
	case PROBE_REFUSED_SOURCE:
		log_warn("detector=%s client=%s: its source has its share of "
			 "the probe queue waiting (%g of %ld, "
			 "probe_source_share); skipping it (%lu similar "
			 "suppressed)",
			 g->dets[det].name, client,
			 g->cfg->probe_source_share, g->cfg->probe_queue,
			 dropped);
		break;
	default:
		log_error("detector=%s client=%s: cannot run it off the loop; "
			  "skipping it (%lu similar suppressed)",
			  g->dets[det].name, client, dropped);
		break;
	}
}

struct probe_job *
decide_offload(struct probe_pool *pool, struct generation *g,
	       struct probe_state *st, int det,
	       const struct pmx_probe_input *in, void *owner,
	       probe_done_fn done)
{
	struct probe_job *job = NULL;
	struct pmx_probe_input one;
	int why = PROBE_REFUSED_NOMEM;

	in = probe_input_for(&g->dets[det], in, &one);
	if (pool != NULL &&
	    (job = probe_job_new(g, det, in, owner, done)) != NULL &&
	    (why = probe_pool_submit(pool, job, g->cfg->probe_queue,
				     g->cfg->probe_source_share)) !=
		    PROBE_SUBMITTED) {
		probe_job_free(job);
		job = NULL;
	}
	if (job == NULL) {
		log_skipped(g, det, why, in);
		st->declined |= 1ull << det;
	}
	return job;
}

void
decide_late(struct probe_state *st, struct probe_job *job)
{
	log_debug("detector=%s did not answer by probe_deadline: deciding "
		  "without it",
		  job->gen->dets[job->index].name);
	st->declined |= 1ull << job->index;
	probe_job_abandon(job);
}

double
decide_deadline(struct loop_ctx *lc, ev_tstamp started, double within)
{
	/* ev_now() is the loop's (wall) clock: carry the time left over. */
	return clock_mono() + (started + within - ev_now(lc->loop));
}

enum probe_outcome
decide_run(struct loop_ctx *lc, struct generation *g, struct probe_state *st,
	   const struct pmx_probe_input *in, struct pmx_probe_result *res,
	   int *det, void *owner, probe_done_fn done, struct probe_job **job)
{
	enum probe_outcome outcome;

	*job = NULL;
	/* Each round either ends or marks one more detector declined. */
	while ((outcome = probe_run(g, st, in, res, det)) == PROBE_ASYNC) {
		*job = decide_offload(loop_probe_pool(lc), g, st, *det, in,
				      owner, done);
		if (*job != NULL)
			break;
	}
	return outcome;
}

/* A detector's explicit answer as a backend of the caller's; NULL (and
 * logged) when it is not usable. */
static struct backend *
explicit_backend(const struct detector_inst *d,
		 const struct pmx_probe_result *res, struct probe_job *job,
		 const char *kind, uint64_t id)
{
	struct backend *b;
	char err[256];

	if (job != NULL) {
		/* Made (and any name resolved) on the pool thread. */
		b = job->backend;
		job->backend = NULL;
		snprintf(err, sizeof(err), "%s", job->backend_err);
	} else {
		b = backend_new(res->backend, 0, err, sizeof(err));
	}
	if (b == NULL)
		log_warn("%s=%llu detector=%s returned a bad backend '%s': %s",
			 kind, (unsigned long long)id, d->name, res->backend,
			 err);
	return b;
}

const struct backend *
decide_backend_series(struct generation *g, int det,
		      const struct pmx_probe_result *res,
		      enum pmx_transport transport, struct probe_job *job,
		      struct backend **own, const char *kind, uint64_t id,
		      struct metrics_series **series)
{
	struct detector_inst *d = &g->dets[det];
	const char *key = res->key;
	const struct route *route = NULL;
	const struct backend *b;

	__atomic_add_fetch(&d->matches, 1, __ATOMIC_RELAXED);
	*own = NULL;
	*series = NULL;
	if (res->backend[0] &&
	    (*own = explicit_backend(d, res, job, kind, id)) != NULL) {
		*series = d->explicit_series;
		return *own;
	}
	if (d->routes == NULL)
		return NULL;
	if (key[0] == '\0' && transport == PMX_TRANSPORT_UDP)
		key = "udp";
	b = route_find(d->routes, key, res->alpn, &route);
	if (b != NULL)
		*series = generation_route_series(g, det, route);
	return b;
}

const struct backend *
decide_backend(struct generation *g, int det,
	       const struct pmx_probe_result *res,
	       enum pmx_transport transport, struct probe_job *job,
	       struct backend **own, const char *kind, uint64_t id)
{
	struct metrics_series *series;

	return decide_backend_series(g, det, res, transport, job, own, kind,
				     id, &series);
}
