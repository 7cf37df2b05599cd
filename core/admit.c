/* admit.c — allow / deny and per-source limits at the door. */
#include "admit.h"

#include "addr.h"
#include "log.h"
#include "metrics.h"
#include "stats.h"

/* Say why a client was turned away, at most once a second per loop (the
 * source address may be one of thousands in a flood). */
static void
refused(struct loop_ctx *lc, const struct sockaddr *sa, const char *why,
	enum metrics_refusal reason)
{
	unsigned long dropped;
	char client[ADDR_TEXT_MAX];

	stats_count(STATS_REFUSED);
	metrics_refused(reason);
	if (log_ratelimit_ok(&lc->refuse_rl, &dropped))
		log_warn("refused client=%s reason=%s (%lu similar "
			 "suppressed)",
			 addr_format(sa, client, sizeof(client)), why,
			 dropped);
}

int
admit_client(struct loop_ctx *lc, const struct sockaddr *sa,
	     struct source **src)
{
	const struct config *cfg = lc->gen->cfg;
	enum source_verdict v;

	*src = NULL;
	if (!cidr_allowed(&cfg->allow, &cfg->deny, sa)) {
		refused(lc, sa, "deny", REFUSED_DENY);
		return -1;
	}
	v = source_admit(lc->sources, sa, config_source_limit(cfg),
			 cfg->rate_per_source, src);
	if (v != SOURCE_OK) {
		refused(lc, sa, source_verdict_name(v),
			v == SOURCE_RATE ? REFUSED_RATE : REFUSED_PER_SOURCE);
		return -1;
	}
	return 0;
}
