/* probe.c — the detection chain. */
#include "probe.h"

#include <string.h>

#include "log.h"

_Static_assert(GENERATION_MAX_DETECTORS <= 64,
	       "probe_state.declined has a bit per detector");

const char *
probe_verdict_name(int verdict)
{
	switch (verdict) {
	case PMX_MATCH:
		return "match";
	case PMX_NO_MATCH:
		return "no_match";
	case PMX_NEED_MORE:
		return "need_more";
	default:
		return "error";
	}
}

void
probe_state_init(struct probe_state *st, const struct gen_listener *l)
{
	memset(st, 0, sizeof(*st));
	st->order = l->order;
	st->norder = l->norder;
}

enum probe_outcome
probe_run(const struct generation *g, struct probe_state *st,
	  const struct pmx_probe_input *in, struct pmx_probe_result *res,
	  int *index)
{
	size_t n = st->order ? st->norder : g->ndets;

	for (size_t k = 0; k < n; k++) {
		size_t i = st->order ? st->order[k] : k;
		const struct detector_inst *d = &g->dets[i];
		int verdict;

		if (st->declined & (1ull << i))
			continue;
		if (!(d->plugin->desc->flags &
		      (in->transport == PMX_TRANSPORT_UDP ? PMX_DF_UDP
							  : PMX_DF_TCP))) {
			st->declined |= 1ull << i;
			continue;
		}
		if (d->plugin->desc->flags & PMX_DF_BLOCKING) {
			*index = (int)i;
			return PROBE_ASYNC;
		}
		memset(res, 0, sizeof(*res));
		verdict = d->plugin->desc->probe(d->instance, in, res);
		log_debug("probe detector=%s len=%zu final=%d verdict=%s",
			  d->name, in->len, in->final,
			  probe_verdict_name(verdict));
		if (verdict == PMX_MATCH) {
			*index = (int)i;
			return PROBE_MATCH;
		}
		if (verdict == PMX_NEED_MORE && !in->final)
			return PROBE_WAIT;
		st->declined |= 1ull << i;
	}
	return PROBE_NONE;
}

int
probe_apply(struct probe_state *st, int index, int verdict, int final)
{
	if (verdict == PMX_MATCH)
		return PROBE_MATCH;
	if (verdict == PMX_NEED_MORE && !final)
		return PROBE_WAIT;
	st->declined |= 1ull << index;
	return -1;
}
