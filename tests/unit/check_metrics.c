/* check_metrics.c — the Prometheus text for known counter values: names,
 * labels and their escaping, the cumulative histogram; the counters the
 * loops bump; the series registry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide.h"
#include "metrics.h"
#include "testutil.h"

/* A snapshot with a value in every field, and two series. */
static struct metrics_series series_a = {
	.detector = "http", .route = "a.test", .total = 7, .active = 2};
static struct metrics_series series_b = {
	.detector = "tls", .route = "we\"ird\\key", .total = 1, .active = 0};
static struct metrics_series *const two_series[] = {&series_a, &series_b};

static void
known_snapshot(struct metrics_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->stats.open = 3;
	s->stats.accepted = 42;
	s->stats.on_timeout = 4;
	s->stats.fallback = 5;
	s->stats.unserved = 6;
	s->stats.bad_proxy = 8;
	s->c.refused[REFUSED_DENY] = 9;
	s->c.refused[REFUSED_PER_SOURCE] = 10;
	s->c.refused[REFUSED_RATE] = 11;
	s->c.refused[REFUSED_ROUTE_DENY] = 12;
	s->c.connect_failed[CONNECT_FAILED_ERROR] = 13;
	s->c.connect_failed[CONNECT_FAILED_TIMEOUT] = 14;
	s->c.kernel_relay[KERNEL_RELAY_IN] = 16;
	s->c.kernel_relay[KERNEL_RELAY_USER] = 17;
	s->c.kernel_relay[KERNEL_RELAY_UNAVAILABLE] = 18;
	s->c.probe_timeouts = 15;
	s->c.reloads_ok = 16;
	s->c.reloads_failed = 17;
	s->c.bytes_up = 1000;
	s->c.bytes_down = 2000000;
	/* 2 at <= 1 ms, 1 at <= 50 ms, 1 over 10 s */
	s->c.detect_bucket[0] = 2;
	s->c.detect_bucket[3] = 1;
	s->c.detect_bucket[METRICS_NBUCKETS] = 1;
	s->c.detect_count = 4;
	s->c.detect_sum_us = 12345678;
	s->series = two_series;
	s->nseries = 2;
	s->version = "9.8.7";
	s->start_time = 1700000000.25;
}

static char *
render(const struct metrics_snapshot *s)
{
	struct metrics_text t = {0};

	ck_assert_int_eq(metrics_render(s, &t), 0);
	ck_assert_uint_gt(t.len, 0);
	ck_assert_uint_lt(t.len, t.cap);
	ck_assert_uint_eq(strlen(t.data), t.len);
	return t.data;
}

static void
has_line(const char *text, const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\n%s\n", line);
	ck_assert_msg(strstr(text, want) != NULL, "missing line '%s' in:\n%s",
		      line, text);
}

START_TEST(test_metrics__render_known_values)
{
	struct metrics_snapshot s;
	char *text;

	known_snapshot(&s);
	text = render(&s);
	ck_assert(strncmp(text, "# HELP portmux_connections_total ", 33) == 0);
	has_line(text, "# TYPE portmux_connections_total counter");
	has_line(text,
		 "portmux_connections_total{detector=\"http\",route=\"a.test\"} 7");
	has_line(text, "portmux_connections_total{detector=\"tls\","
		       "route=\"we\\\"ird\\\\key\"} 1");
	has_line(text, "# TYPE portmux_connections_active gauge");
	has_line(text,
		 "portmux_connections_active{detector=\"http\",route=\"a.test\"} 2");
	has_line(text, "portmux_connections_open 3");
	has_line(text, "portmux_connections_accepted_total 42");
	has_line(text, "portmux_probe_timeouts_total 15");
	has_line(text, "portmux_on_timeout_total 4");
	has_line(text, "portmux_fallback_total 5");
	has_line(text, "portmux_unserved_total 6");
	has_line(text, "portmux_refused_total{reason=\"deny\"} 9");
	has_line(text, "portmux_refused_total{reason=\"max_connections_per_source\"} 10");
	has_line(text, "portmux_refused_total{reason=\"rate_per_source\"} 11");
	has_line(text, "portmux_refused_total{reason=\"route_deny\"} 12");
	has_line(text, "portmux_refused_total{reason=\"bad_proxy\"} 8");
	has_line(text, "portmux_backend_connect_failures_total{reason=\"error\"} 13");
	has_line(text, "portmux_backend_connect_failures_total{reason=\"timeout\"} 14");
	has_line(text, "# TYPE portmux_kernel_relay_total counter");
	has_line(text, "portmux_kernel_relay_total{result=\"kernel\"} 16");
	has_line(text, "portmux_kernel_relay_total{result=\"user_space\"} 17");
	has_line(text, "portmux_kernel_relay_total{result=\"unavailable\"} 18");
	has_line(text, "# TYPE portmux_detection_seconds histogram");
	has_line(text, "portmux_detection_seconds_bucket{le=\"0.001\"} 2");
	has_line(text, "portmux_detection_seconds_bucket{le=\"0.005\"} 2");
	has_line(text, "portmux_detection_seconds_bucket{le=\"0.01\"} 2");
	has_line(text, "portmux_detection_seconds_bucket{le=\"0.05\"} 3");
	has_line(text, "portmux_detection_seconds_bucket{le=\"0.1\"} 3");
	has_line(text, "portmux_detection_seconds_bucket{le=\"0.5\"} 3");
	has_line(text, "portmux_detection_seconds_bucket{le=\"1\"} 3");
	has_line(text, "portmux_detection_seconds_bucket{le=\"5\"} 3");
	has_line(text, "portmux_detection_seconds_bucket{le=\"10\"} 3");
	has_line(text, "portmux_detection_seconds_bucket{le=\"+Inf\"} 4");
	has_line(text, "portmux_detection_seconds_sum 12.345678");
	has_line(text, "portmux_detection_seconds_count 4");
	has_line(text, "portmux_bytes_total{direction=\"up\"} 1000");
	has_line(text, "portmux_bytes_total{direction=\"down\"} 2000000");
	has_line(text, "portmux_reloads_total{result=\"ok\"} 16");
	has_line(text, "portmux_reloads_total{result=\"failed\"} 17");
	has_line(text, "portmux_build_info{version=\"9.8.7\"} 1");
	has_line(text, "portmux_process_start_time_seconds 1700000000.250");
	free(text);
}
END_TEST

/* Every sample line belongs to the family whose TYPE came last, each
 * family is described once, and the text ends with a newline. */
START_TEST(test_metrics__render_well_formed)
{
	struct metrics_snapshot s;
	char *text, *line, *save = NULL;
	char family[128] = "";
	int types = 0;

	known_snapshot(&s);
	text = render(&s);
	ck_assert_int_eq(text[strlen(text) - 1], '\n');
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# TYPE ", 7) == 0) {
			ck_assert_int_eq(sscanf(line + 7, "%127s", family), 1);
			types++;
			continue;
		}
		if (line[0] == '#')
			continue;
		ck_assert_msg(strncmp(line, family, strlen(family)) == 0 &&
				      strchr("{ _", line[strlen(family)]),
			      "'%s' outside its family %s", line, family);
	}
	ck_assert_int_eq(types, 16);
	free(text);
}
END_TEST

/* No series yet (no generation): the families are still there. */
START_TEST(test_metrics__render_empty)
{
	struct metrics_snapshot s;
	char *text;

	memset(&s, 0, sizeof(s));
	s.version = "1";
	text = render(&s);
	has_line(text, "# TYPE portmux_connections_active gauge");
	ck_assert_ptr_null(strstr(text, "portmux_connections_total{"));
	has_line(text, "portmux_detection_seconds_bucket{le=\"+Inf\"} 0");
	free(text);
}
END_TEST

/* What the loops bump lands in the snapshot. */
START_TEST(test_metrics__counters)
{
	struct metrics_snapshot before, after;

	metrics_snapshot_take(&before);
	metrics_refused(REFUSED_RATE);
	metrics_connect_failed(CONNECT_FAILED_TIMEOUT);
	metrics_probe_timeout();
	metrics_reload(1);
	metrics_reload(0);
	metrics_reload(0);
	metrics_bytes(10, 20);
	metrics_detection_time(0.0005); /* le 0.001 */
	metrics_detection_time(0.001);  /* le 0.001: bounds are inclusive */
	metrics_detection_time(0.2);    /* le 0.5 */
	metrics_detection_time(60);     /* +Inf */
	metrics_snapshot_take(&after);
	ck_assert_uint_eq(after.c.refused[REFUSED_RATE] -
				  before.c.refused[REFUSED_RATE],
			  1);
	ck_assert_uint_eq(after.c.connect_failed[CONNECT_FAILED_TIMEOUT] -
				  before.c.connect_failed[CONNECT_FAILED_TIMEOUT],
			  1);
	ck_assert_uint_eq(after.c.probe_timeouts - before.c.probe_timeouts, 1);
	ck_assert_uint_eq(after.c.reloads_ok - before.c.reloads_ok, 1);
	ck_assert_uint_eq(after.c.reloads_failed - before.c.reloads_failed, 2);
	ck_assert_uint_eq(after.c.bytes_up - before.c.bytes_up, 10);
	ck_assert_uint_eq(after.c.bytes_down - before.c.bytes_down, 20);
	ck_assert_uint_eq(after.c.detect_bucket[0] - before.c.detect_bucket[0],
			  2);
	ck_assert_uint_eq(after.c.detect_bucket[5] - before.c.detect_bucket[5],
			  1);
	ck_assert_uint_eq(after.c.detect_bucket[METRICS_NBUCKETS] -
				  before.c.detect_bucket[METRICS_NBUCKETS],
			  1);
	ck_assert_uint_eq(after.c.detect_count - before.c.detect_count, 4);
	ck_assert_uint_eq(after.c.detect_sum_us - before.c.detect_sum_us,
			  500 + 1000 + 200000 + 60000000);
}
END_TEST

/* One series per (detector, route), shared by every generation. */
START_TEST(test_metrics__series_registry)
{
	struct metrics_series *a = metrics_series_get("http", "x.test");
	struct metrics_series *b = metrics_series_get("http", "y.test");
	struct metrics_series *again = metrics_series_get("http", "x.test");
	struct metrics_snapshot snap;
	int seen = 0;

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_ne(a, b);
	ck_assert_ptr_eq(a, again);
	metrics_series_opened(a);
	metrics_series_opened(a);
	metrics_series_closed(a);
	metrics_series_opened(NULL); /* uncounted: nothing happens */
	metrics_series_closed(NULL);
	ck_assert_uint_eq(a->total, 2);
	ck_assert_int_eq(a->active, 1);
	metrics_snapshot_take(&snap);
	for (size_t i = 0; i < snap.nseries; i++)
		seen += snap.series[i] == a || snap.series[i] == b;
	ck_assert_int_eq(seen, 2);
}
END_TEST

/* A generation makes the series of its routes; route_find tells which
 * route served, and that is the series a connection counts in. */
START_TEST(test_metrics__generation_series)
{
	char err[1024];
	struct generation *g = tu_generation(
		"PORTMUX:\n  port: 1\n  detectors: [http]\n"
		"HTTP:\n  a.test: 1\n  \"*.w.test\": 2\n  default: 3\n",
		err, sizeof(err));
	struct pmx_probe_result res;
	struct backend *own;
	struct metrics_series *s;
	const struct backend *b;

	ck_assert_msg(g != NULL, "%s", err);
	memset(&res, 0, sizeof(res));
	snprintf(res.key, sizeof(res.key), "A.Test:80");
	b = decide_backend_series(g, 0, &res, PMX_TRANSPORT_TCP, NULL, &own,
				  "test", 1, &s);
	ck_assert_ptr_nonnull(b);
	ck_assert_str_eq(s->detector, "http");
	ck_assert_str_eq(s->route, "a.test");
	snprintf(res.key, sizeof(res.key), "x.w.test");
	decide_backend_series(g, 0, &res, PMX_TRANSPORT_TCP, NULL, &own,
			      "test", 2, &s);
	ck_assert_str_eq(s->route, "*.w.test");
	snprintf(res.key, sizeof(res.key), "client-chosen.example");
	decide_backend_series(g, 0, &res, PMX_TRANSPORT_TCP, NULL, &own,
			      "test", 3, &s);
	ck_assert_str_eq(s->route, "default"); /* never the client's name */
	ck_assert_str_eq(g->on_timeout_series->route, "(on_timeout)");
	ck_assert_str_eq(g->dets[0].fallback_series->route, "(fallback)");
	generation_unref(g);
}
END_TEST

Suite *make_suite_metrics(void);
Suite *
make_suite_metrics(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_test(tc, test_metrics__render_known_values);
	tcase_add_test(tc, test_metrics__render_well_formed);
	tcase_add_test(tc, test_metrics__render_empty);
	tcase_add_test(tc, test_metrics__counters);
	tcase_add_test(tc, test_metrics__series_registry);
	tcase_add_test(tc, test_metrics__generation_series);
	suite_add_tcase(s, tc);
	return s;
}
