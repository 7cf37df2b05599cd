/* stats.c — the process-wide counters. */
#include "stats.h"

static long n_open;
static uint64_t n_accepted, n_on_timeout, n_fallback, n_unserved, n_refused,
	n_bad_proxy;

uint64_t
stats_conn_opened(void)
{
	__atomic_add_fetch(&n_open, 1, __ATOMIC_RELAXED);
	return __atomic_add_fetch(&n_accepted, 1, __ATOMIC_RELAXED);
}

void
stats_conn_closed(void)
{
	__atomic_sub_fetch(&n_open, 1, __ATOMIC_RELAXED);
}

long
stats_open(void)
{
	return __atomic_load_n(&n_open, __ATOMIC_RELAXED);
}

void
stats_count(enum stats_outcome what)
{
	uint64_t *n = what == STATS_ON_TIMEOUT ? &n_on_timeout
		      : what == STATS_FALLBACK ? &n_fallback
		      : what == STATS_REFUSED  ? &n_refused
		      : what == STATS_BAD_PROXY ? &n_bad_proxy
						: &n_unserved;

	__atomic_add_fetch(n, 1, __ATOMIC_RELAXED);
}

void
stats_read(struct stats *out)
{
	out->open = stats_open();
	out->accepted = __atomic_load_n(&n_accepted, __ATOMIC_RELAXED);
	out->on_timeout = __atomic_load_n(&n_on_timeout, __ATOMIC_RELAXED);
	out->fallback = __atomic_load_n(&n_fallback, __ATOMIC_RELAXED);
	out->unserved = __atomic_load_n(&n_unserved, __ATOMIC_RELAXED);
	out->refused = __atomic_load_n(&n_refused, __ATOMIC_RELAXED);
	out->bad_proxy = __atomic_load_n(&n_bad_proxy, __ATOMIC_RELAXED);
}
