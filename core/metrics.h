/* metrics.h — the figures PORTMUX.metrics serves to Prometheus: counters
 * the workers bump (relaxed atomics, no locks on the relay path), and
 * their rendering in the Prometheus text exposition format (version
 * 0.0.4). The HTTP side is metrics_http.h; the older process-wide
 * counters (stats.h) are rendered here too.
 *
 * Connections are counted by series: one (detector, route) pair, where
 * route is a configuration key (never anything a client sent), so the
 * number of series is bounded by the configurations loaded — and capped
 * at METRICS_MAX_SERIES, beyond which pairs share one "(overflow)"
 * series. A series is made when a generation is built (generation.c),
 * never on a loop, and lives until the process ends: a reload reuses the
 * series of the pairs it keeps, so counters run on across reloads. */
#ifndef PMX_METRICS_H
#define PMX_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"

#define METRICS_MAX_SERIES 4096
/* Route labels that are not configuration keys. */
#define METRICS_ROUTE_EXPLICIT "(explicit)"   /* the detector's own answer */
#define METRICS_ROUTE_FALLBACK "(fallback)"   /* unclaimed or no route */
#define METRICS_ROUTE_ON_TIMEOUT "(on_timeout)" /* a silent client */
#define METRICS_NO_DETECTOR "(none)"

/* One (detector, route) pair. The names are fixed once made; the counts
 * are atomic. */
struct metrics_series {
	char *detector;
	char *route;
	uint64_t total; /* connections sent to a backend this way */
	long active;    /* of those, open now */
};

/* Why a client was turned away (portmux_refused_total's reason). */
enum metrics_refusal {
	REFUSED_DENY,         /* PORTMUX's allow / deny */
	REFUSED_PER_SOURCE,   /* max_connections_per_source */
	REFUSED_RATE,         /* rate_per_source */
	REFUSED_ROUTE_DENY,   /* a route's (or target's) allow / deny */
	METRICS_NREFUSALS
};

enum metrics_connect_failure {
	CONNECT_FAILED_ERROR,   /* every address refused or unreachable */
	CONNECT_FAILED_TIMEOUT, /* the last one by connect_timeout */
	METRICS_NCONNECT_FAILURES
};

/* What became of a connection whose route asks for relay: kernel
 * (portmux_kernel_relay_total's result). */
enum metrics_kernel_relay {
	KERNEL_RELAY_IN,          /* its sockets went into the sockmap */
	KERNEL_RELAY_USER,        /* relayed in user space: an EOF first, the
				     moment never came, or the map refused */
	KERNEL_RELAY_UNAVAILABLE, /* the kernel relay is not loaded (no
				     capabilities, or an older kernel) */
	METRICS_NKERNEL_RELAY
};

/* Upper bounds (seconds) of the detection-time histogram; +Inf after. */
#define METRICS_NBUCKETS 9
extern const double metrics_bucket_le[METRICS_NBUCKETS];

/* The counters of this file, as read at one moment. */
struct metrics_counters {
	uint64_t refused[METRICS_NREFUSALS];
	uint64_t connect_failed[METRICS_NCONNECT_FAILURES];
	uint64_t kernel_relay[METRICS_NKERNEL_RELAY];
	uint64_t probe_timeouts; /* silent clients at probe_timeout */
	uint64_t reloads_ok, reloads_failed;
	uint64_t bytes_up, bytes_down; /* of closed TCP connections */
	/* detection time: per bucket (not cumulative; the last is +Inf),
	 * their count, and the sum in microseconds */
	uint64_t detect_bucket[METRICS_NBUCKETS + 1];
	uint64_t detect_count;
	uint64_t detect_sum_us;
};

/* Everything rendered: counters, series, the process. */
struct metrics_snapshot {
	struct stats stats;
	struct metrics_counters c;
	struct metrics_series *const *series; /* counts read when rendered */
	size_t nseries;
	const char *version;
	double start_time; /* seconds since the epoch */
};

/* Text being built; owned by whoever declared it (metrics_text_free). */
struct metrics_text {
	char *data;
	size_t len, cap;
	int failed; /* out of memory: data is incomplete */
};

/* ---- bumped on the loops (relaxed atomics) ---- */

void metrics_refused(enum metrics_refusal why);
void metrics_connect_failed(enum metrics_connect_failure why);
void metrics_kernel_relay(enum metrics_kernel_relay what);
void metrics_probe_timeout(void);
/* A connection was decided (or given up on) `seconds` after accept. */
void metrics_detection_time(double seconds);
/* A TCP connection ended after moving these bytes. */
void metrics_bytes(uint64_t up, uint64_t down);
/* A connection goes to a backend by series s (s may be NULL: uncounted),
 * and later ends. */
void metrics_series_opened(struct metrics_series *s);
void metrics_series_closed(struct metrics_series *s);

/* ---- the main thread ---- */

void metrics_reload(int ok);
/* Remember now as the process's start time. */
void metrics_process_started(void);

/* ---- generation builders (any thread; a lock is taken) ---- */

/* The series of (detector, route), made on first use. NULL only when out
 * of memory. */
struct metrics_series *metrics_series_get(const char *detector,
					  const char *route);

/* ---- rendering ---- */

void metrics_snapshot_take(struct metrics_snapshot *out);
/* The exposition text of `snap` appended to `out`. 0, or -1 out of
 * memory. */
int metrics_render(const struct metrics_snapshot *snap,
		   struct metrics_text *out);
void metrics_text_free(struct metrics_text *t);

#endif
