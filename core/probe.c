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

const struct pmx_probe_input *
probe_input_for(const struct detector_inst *d,
		const struct pmx_probe_input *in, struct pmx_probe_input *one)
{
	if (in->transport != PMX_TRANSPORT_UDP ||
	    (d->plugin->desc->flags & PMX_DF_DATAGRAMS) ||
	    (in->datagrams <= 1 && in->final))
		return in;
	*one = *in;
	if (in->datagrams > 0)
		one->len = in->datagram_end[0];
	one->capacity = one->len;
	one->final = 1;
	one->datagrams = in->datagrams > 0;
	return one;
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
		struct pmx_probe_input one;
		const struct pmx_probe_input *shown;
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
		shown = probe_input_for(d, in, &one);
		verdict = d->plugin->desc->probe(d->instance, shown, res);
		log_debug("probe detector=%s len=%zu final=%d verdict=%s",
			  d->name, shown->len, shown->final,
			  probe_verdict_name(verdict));
		if (verdict == PMX_MATCH) {
			*index = (int)i;
			return PROBE_MATCH;
		}
		if (verdict == PMX_NEED_MORE && !shown->final)
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
