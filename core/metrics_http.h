/* metrics_http.h — PORTMUX.metrics: a tiny HTTP server for Prometheus.
 * GET /metrics answers the text of metrics.h; any other path is 404, any
 * other method 405. HTTP/1.0 and 1.1, one request per connection
 * (Connection: close).
 *
 * It runs on the main thread's loop, never on a worker's: non-blocking
 * sockets, at most METRICS_HTTP_SCRAPES_MAX scrapes at once (more wait in
 * the listen backlog), a request of at most METRICS_HTTP_REQUEST_MAX
 * bytes, and METRICS_HTTP_TIMEOUT seconds for a whole exchange. */
#ifndef PMX_METRICS_HTTP_H
#define PMX_METRICS_HTTP_H

#include <ev.h>
#include <stddef.h>

#include "config.h"

#define METRICS_HTTP_SCRAPES_MAX 16
#define METRICS_HTTP_REQUEST_MAX 4096
#define METRICS_HTTP_TIMEOUT 10.0

/* Bind and listen on cfg->metrics, if set: at start-up, with the other
 * listeners, before privileges are dropped. A unix socket left by an
 * earlier run is replaced (anything else at that path is an error).
 * 0, or -1 with a message in err. */
int metrics_http_bind(const struct config *cfg, char *err, size_t errlen);
/* Serve on `loop` (the main thread's). Nothing when not bound. */
void metrics_http_start(struct ev_loop *loop);
/* Close the listener and every scrape in progress, and remove a unix
 * socket (best effort: privileges may be gone). */
void metrics_http_stop(void);

#endif
