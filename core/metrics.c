/* metrics.c — the Prometheus counters and their text rendering. */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "version.h"

const double metrics_bucket_le[METRICS_NBUCKETS] = {
	0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10,
};

/* The counters, bumped with relaxed atomics. */
static struct metrics_counters counters;
static double process_start;

/* Every series made, in order; never freed (they live as long as the
 * process). Entries up to nseries are complete: registry_lock orders the
 * makers, the release store of nseries publishes each entry to readers. */
static struct metrics_series *registry[METRICS_MAX_SERIES];
static size_t nseries;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_series overflow = {
	.detector = "(overflow)",
	.route = "(overflow)",
};

static void
bump(uint64_t *n, uint64_t by)
{
	__atomic_add_fetch(n, by, __ATOMIC_RELAXED);
}

static uint64_t
load(const uint64_t *n)
{
	return __atomic_load_n(n, __ATOMIC_RELAXED);
}

void
metrics_refused(enum metrics_refusal why)
{
	bump(&counters.refused[why], 1);
}

void
metrics_connect_failed(enum metrics_connect_failure why)
{
	bump(&counters.connect_failed[why], 1);
}

void
metrics_kernel_relay(enum metrics_kernel_relay what)
{
	bump(&counters.kernel_relay[what], 1);
}

void
metrics_probe_timeout(void)
{
	bump(&counters.probe_timeouts, 1);
}

void
metrics_detection_time(double seconds)
{
	size_t i = 0;

	if (seconds < 0)
		seconds = 0;
	while (i < METRICS_NBUCKETS && seconds > metrics_bucket_le[i])
		i++;
	bump(&counters.detect_bucket[i], 1);
	bump(&counters.detect_count, 1);
	bump(&counters.detect_sum_us, (uint64_t)(seconds * 1e6 + 0.5));
}

void
metrics_bytes(uint64_t up, uint64_t down)
{
	bump(&counters.bytes_up, up);
	bump(&counters.bytes_down, down);
}

void
metrics_series_opened(struct metrics_series *s)
{
	if (s == NULL)
		return;
	bump(&s->total, 1);
	__atomic_add_fetch(&s->active, 1, __ATOMIC_RELAXED);
}

void
metrics_series_closed(struct metrics_series *s)
{
	if (s != NULL)
		__atomic_sub_fetch(&s->active, 1, __ATOMIC_RELAXED);
}

void
metrics_reload(int ok)
{
	bump(ok ? &counters.reloads_ok : &counters.reloads_failed, 1);
}

void
metrics_process_started(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	process_start = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

struct metrics_series *
metrics_series_get(const char *detector, const char *route)
{
	struct metrics_series *s = NULL;

	pthread_mutex_lock(&registry_lock);
	for (size_t i = 0; i < nseries; i++)
		if (strcmp(registry[i]->detector, detector) == 0 &&
		    strcmp(registry[i]->route, route) == 0) {
			s = registry[i];
			goto out;
		}
	if (nseries == METRICS_MAX_SERIES) {
		s = &overflow;
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto out;
	s->detector = strdup(detector);
	s->route = strdup(route);
	if (s->detector == NULL || s->route == NULL) {
		free(s->detector);
		free(s->route);
		free(s);
		s = NULL;
		goto out;
	}
	registry[nseries] = s;
	__atomic_store_n(&nseries, nseries + 1, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&registry_lock);
	return s;
}

void
metrics_snapshot_take(struct metrics_snapshot *out)
{
	memset(out, 0, sizeof(*out));
	stats_read(&out->stats);
	for (size_t i = 0; i < METRICS_NREFUSALS; i++)
		out->c.refused[i] = load(&counters.refused[i]);
	for (size_t i = 0; i < METRICS_NCONNECT_FAILURES; i++)
		out->c.connect_failed[i] = load(&counters.connect_failed[i]);
	for (size_t i = 0; i < METRICS_NKERNEL_RELAY; i++)
		out->c.kernel_relay[i] = load(&counters.kernel_relay[i]);
	out->c.probe_timeouts = load(&counters.probe_timeouts);
	out->c.reloads_ok = load(&counters.reloads_ok);
	out->c.reloads_failed = load(&counters.reloads_failed);
	out->c.bytes_up = load(&counters.bytes_up);
	out->c.bytes_down = load(&counters.bytes_down);
	/* The count first: a reader may see buckets a little ahead of it,
	 * never +Inf behind the buckets (it is made the largest below). */
	out->c.detect_count = load(&counters.detect_count);
	out->c.detect_sum_us = load(&counters.detect_sum_us);
	for (size_t i = 0; i <= METRICS_NBUCKETS; i++)
		out->c.detect_bucket[i] = load(&counters.detect_bucket[i]);
	out->series = registry;
	out->nseries = __atomic_load_n(&nseries, __ATOMIC_ACQUIRE);
	out->version = PORTMUX_VERSION;
	out->start_time = process_start;
}

/* ---- the text ---- */

static int
text_grow(struct metrics_text *t, size_t need)
{
	size_t cap = t->cap ? t->cap : 4096;
	char *grown;

	while (cap < need)
		cap *= 2;
	if (cap == t->cap)
		return 0;
	grown = realloc(t->data, cap);
	if (grown == NULL) {
		t->failed = 1;
		return -1;
	}
	t->data = grown;
	t->cap = cap;
	return 0;
}

__attribute__((format(printf, 2, 3))) static void
text_add(struct metrics_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->data ? t->data + t->len : NULL, room, fmt,
			      ap);
		va_end(ap);
		if (n < 0) {
			t->failed = 1;
			return;
		}
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		if (text_grow(t, t->len + (size_t)n + 1) < 0)
			return;
	}
}

/* A label value with \, " and newline escaped, as the format says. */
static void
text_label_value(struct metrics_text *t, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			text_add(t, "\\\\");
		else if (*v == '"')
			text_add(t, "\\\"");
		else if (*v == '\n')
			text_add(t, "\\n");
		else
			text_add(t, "%c", *v);
	}
}

static void
text_head(struct metrics_text *t, const char *name, const char *type,
	  const char *help)
{
	text_add(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
text_u64(struct metrics_text *t, const char *name, uint64_t v)
{
	text_add(t, "%s %llu\n", name, (unsigned long long)v);
}

/* NAME{detector="...",route="..."}: a series of m. */
static void
series_name(struct metrics_text *t, const char *name,
	    const struct metrics_series *m)
{
	text_add(t, "%s{detector=\"", name);
	text_label_value(t, m->detector);
	text_add(t, "\",route=\"");
	text_label_value(t, m->route);
	text_add(t, "\"}");
}

static void
render_connections(const struct metrics_snapshot *s, struct metrics_text *t)
{
	text_head(t, "portmux_connections_total", "counter",
		  "Connections sent to a backend, by the detector that "
		  "claimed them and the configured route that served them "
		  "(detector \"(none)\": on_timeout or fallback).");
	for (size_t i = 0; i < s->nseries; i++) {
		const struct metrics_series *m = s->series[i];

		series_name(t, "portmux_connections_total", m);
		text_add(t, " %llu\n",
			 (unsigned long long)__atomic_load_n(
				 &m->total, __ATOMIC_RELAXED));
	}
	text_head(t, "portmux_connections_active", "gauge",
		  "Of portmux_connections_total, the connections open now.");
	for (size_t i = 0; i < s->nseries; i++) {
		const struct metrics_series *m = s->series[i];

		series_name(t, "portmux_connections_active", m);
		text_add(t, " %ld\n",
			 __atomic_load_n(&m->active, __ATOMIC_RELAXED));
	}
	text_head(t, "portmux_connections_open", "gauge",
		  "TCP connections open now, in any state (what "
		  "max_connections bounds).");
	text_add(t, "portmux_connections_open %ld\n", s->stats.open);
	text_head(t, "portmux_connections_accepted_total", "counter",
		  "TCP connections accepted and admitted.");
	text_u64(t, "portmux_connections_accepted_total", s->stats.accepted);
}

static void
render_outcomes(const struct metrics_snapshot *s, struct metrics_text *t)
{
	static const char *const refusal_names[METRICS_NREFUSALS] = {
		"deny", "max_connections_per_source", "rate_per_source",
		"route_deny"};
	static const char *const connect_names[METRICS_NCONNECT_FAILURES] = {
		"error", "timeout"};
	static const char *const kernel_names[METRICS_NKERNEL_RELAY] = {
		"kernel", "user_space", "unavailable"};

	text_head(t, "portmux_probe_timeouts_total", "counter",
		  "Clients silent for probe_timeout (sent to on_timeout, or "
		  "closed without one).");
	text_u64(t, "portmux_probe_timeouts_total", s->c.probe_timeouts);
	text_head(t, "portmux_on_timeout_total", "counter",
		  "Silent clients sent to on_timeout.");
	text_u64(t, "portmux_on_timeout_total", s->stats.on_timeout);
	text_head(t, "portmux_fallback_total", "counter",
		  "Clients no detector or route took, sent to fallback.");
	text_u64(t, "portmux_fallback_total", s->stats.fallback);
	text_head(t, "portmux_unserved_total", "counter",
		  "Clients closed with nowhere to go (no route and no "
		  "fallback).");
	text_u64(t, "portmux_unserved_total", s->stats.unserved);
	text_head(t, "portmux_refused_total", "counter",
		  "Clients turned away, by reason (bad_proxy: a trusted "
		  "balancer's connection without a valid PROXY header).");
	for (size_t i = 0; i < METRICS_NREFUSALS; i++)
		text_add(t, "portmux_refused_total{reason=\"%s\"} %llu\n",
			 refusal_names[i], (unsigned long long)s->c.refused[i]);
	text_add(t, "portmux_refused_total{reason=\"bad_proxy\"} %llu\n",
		 (unsigned long long)s->stats.bad_proxy);
	text_head(t, "portmux_backend_connect_failures_total", "counter",
		  "Connections whose backend could not be reached at any "
		  "of its addresses, by the last address's failure.");
	for (size_t i = 0; i < METRICS_NCONNECT_FAILURES; i++)
		text_add(t,
			 "portmux_backend_connect_failures_total{reason=\"%s\"}"
			 " %llu\n",
			 connect_names[i],
			 (unsigned long long)s->c.connect_failed[i]);
	text_head(t, "portmux_kernel_relay_total", "counter",
		  "Connections on routes with relay: kernel, by where their "
		  "bytes went: kernel (the eBPF sockmap), user_space (an EOF "
		  "first, or the sockets never drained, or the map full) or "
		  "unavailable (the kernel relay is not loaded).");
	for (size_t i = 0; i < METRICS_NKERNEL_RELAY; i++)
		text_add(t, "portmux_kernel_relay_total{result=\"%s\"} %llu\n",
			 kernel_names[i],
			 (unsigned long long)s->c.kernel_relay[i]);
}

static void
render_detection(const struct metrics_snapshot *s, struct metrics_text *t)
{
	uint64_t cumulative = 0;

	text_head(t, "portmux_detection_seconds", "histogram",
		  "Time from accept to the decision where a TCP connection "
		  "goes (a detector's match, fallback, on_timeout or "
		  "close).");
	for (size_t i = 0; i < METRICS_NBUCKETS; i++) {
		cumulative += s->c.detect_bucket[i];
		text_add(t,
			 "portmux_detection_seconds_bucket{le=\"%g\"} %llu\n",
			 metrics_bucket_le[i], (unsigned long long)cumulative);
	}
	cumulative += s->c.detect_bucket[METRICS_NBUCKETS];
	/* +Inf and _count must agree: the larger of the two reads. */
	if (cumulative < s->c.detect_count)
		cumulative = s->c.detect_count;
	text_add(t, "portmux_detection_seconds_bucket{le=\"+Inf\"} %llu\n",
		 (unsigned long long)cumulative);
	text_add(t, "portmux_detection_seconds_sum %.6f\n",
		 (double)s->c.detect_sum_us / 1e6);
	text_u64(t, "portmux_detection_seconds_count", cumulative);
}

static void
render_process(const struct metrics_snapshot *s, struct metrics_text *t)
{
	text_head(t, "portmux_bytes_total", "counter",
		  "Bytes relayed over TCP, up (client to backend) and down, "
		  "counted when a connection closes.");
	text_add(t, "portmux_bytes_total{direction=\"up\"} %llu\n",
		 (unsigned long long)s->c.bytes_up);
	text_add(t, "portmux_bytes_total{direction=\"down\"} %llu\n",
		 (unsigned long long)s->c.bytes_down);
	text_head(t, "portmux_reloads_total", "counter",
		  "Configuration reloads (SIGHUP), by result.");
	text_add(t, "portmux_reloads_total{result=\"ok\"} %llu\n",
		 (unsigned long long)s->c.reloads_ok);
	text_add(t, "portmux_reloads_total{result=\"failed\"} %llu\n",
		 (unsigned long long)s->c.reloads_failed);
	text_head(t, "portmux_build_info", "gauge",
		  "The running PortMux's version, as a label; always 1.");
	text_add(t, "portmux_build_info{version=\"");
	text_label_value(t, s->version);
	text_add(t, "\"} 1\n");
	text_head(t, "portmux_process_start_time_seconds", "gauge",
		  "When PortMux started, in seconds since the epoch.");
	text_add(t, "portmux_process_start_time_seconds %.3f\n",
		 s->start_time);
}

int
metrics_render(const struct metrics_snapshot *snap, struct metrics_text *out)
{
	render_connections(snap, out);
	render_outcomes(snap, out);
	render_detection(snap, out);
	render_process(snap, out);
	return out->failed ? -1 : 0;
}

void
metrics_text_free(struct metrics_text *t)
{
	free(t->data);
	t->data = NULL;
	t->len = t->cap = 0;
	t->failed = 0;
}
