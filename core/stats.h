/* stats.h — process-wide figures for the status line (SIGUSR1, systemd's
 * STATUS=): atomic counters, written by every worker, read by the main
 * thread. Per-detector matches are counted in the generation
 * (detector_inst.matches). */
#ifndef PMX_STATS_H
#define PMX_STATS_H

#include <stdint.h>

struct stats {
	long open;           /* connections now (what max_connections
				bounds) */
	uint64_t accepted;   /* connections since start */
	uint64_t on_timeout; /* silent clients sent to on_timeout */
	uint64_t fallback;   /* bytes no detector claimed, sent to fallback */
	uint64_t unserved;   /* closed with nowhere to go: a match without a
				route, or unclaimed bytes, and no fallback
				(a backend that fails to connect is not
				counted here: that client had a route) */
	uint64_t refused;    /* turned away by allow / deny (PORTMUX's or a
				route's) or a per-source limit */
	uint64_t bad_proxy;  /* from a trusted balancer (accept_proxy) and
				closed for its PROXY header: invalid,
				incomplete, or none by probe_timeout */
};

enum stats_outcome {
	STATS_ON_TIMEOUT,
	STATS_FALLBACK,
	STATS_UNSERVED,
	STATS_REFUSED,
	STATS_BAD_PROXY,
};

/* A connection opens: counted, and given its process-wide number. */
uint64_t stats_conn_opened(void);
void stats_conn_closed(void);
/* Connections open now, in every worker. */
long stats_open(void);
void stats_count(enum stats_outcome what);
void stats_read(struct stats *out);

#endif
