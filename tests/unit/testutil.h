/* testutil.h — helpers shared by the Check suites. */
#ifndef PMX_TESTUTIL_H
#define PMX_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "generation.h"
#include "portmux/detector.h"

/* Absolute path of a file in the source tree ($PORTMUX_SOURCE_DIR). */
const char *tu_src(const char *rel, char *buf, size_t len);
/* Read a source-tree file (e.g. "tests/corpus/http/curl-get.bin"). */
uint8_t *tu_read(const char *rel, size_t *len);

/* A detector instance made through the real loader. */
struct tu_det {
	const struct plugin *plugin;
	struct host_ctx host;
	struct yaml_tree *tree;
	void *instance;
};

/* Load plugin `name` from $PORTMUX_PLUGIN_DIR and create an instance from
 * `section_yaml` (the body of its section, or NULL). Fails the test on
 * error. */
void tu_det_open(struct tu_det *d, const char *name, const char *section_yaml);
/* Same, but returns -1 and the message instead of failing. */
int tu_det_try(struct tu_det *d, const char *name, const char *section_yaml,
	       char *err, size_t errlen);
void tu_det_close(struct tu_det *d);
int tu_probe(struct tu_det *d, const void *data, size_t len, int final,
	     struct pmx_probe_result *res);
/* One datagram, final, as the core shows it to any UDP detector. */
int tu_probe_udp(struct tu_det *d, const void *data, size_t len,
		 struct pmx_probe_result *res);
/* A flow's first n datagrams, back to back in data, datagram i ending at
 * ends[i] — as the core shows them to a PMX_DF_DATAGRAMS detector. */
int tu_probe_datagrams(struct tu_det *d, const void *data, const size_t *ends,
		       size_t n, int final, struct pmx_probe_result *res);

/*
 * The prefix property of a real first flight: for every length 1..len-1
 * the verdict is NEED_MORE until it first becomes MATCH and MATCH after
 * that (never NO_MATCH); the whole flight MATCHes with `key` (NULL: any).
 * Returns the shortest matching length.
 */
size_t tu_assert_prefixes(struct tu_det *d, const uint8_t *data, size_t len,
			  const char *key);

/*
 * Another protocol's real first flight is never claimed: no prefix of it
 * MATCHes, and the whole of it is NO_MATCH, with and without `final`.
 */
void tu_assert_never(struct tu_det *d, const uint8_t *data, size_t len);

/* The segments socket fd received so far, the handshake's included
 * (TCP_INFO tcpi_segs_in). */
unsigned tu_tcp_segs_in(int fd);

/* Parse YAML text as a config named "test.yaml"; NULL + err on error. */
struct config *tu_config(const char *yaml, char *err, size_t errlen);
/* Config + generation (plugins from $PORTMUX_PLUGIN_DIR). */
struct generation *tu_generation(const char *yaml, char *err, size_t errlen);

#endif
