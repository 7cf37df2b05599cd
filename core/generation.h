/* generation.h — one complete, immutable runtime configuration: the parsed
 * config, the detector instances in probe order, the route tables and the
 * resolved on_timeout / fallback targets. A reload builds a new generation
 * and swaps it in only if everything succeeded; connections keep a
 * reference to the generation they started with. */
#ifndef PMX_GENERATION_H
#define PMX_GENERATION_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "metrics.h"
#include "plugin.h"
#include "route.h"

/* Detectors one generation may run (PORTMUX.detectors). */
#define GENERATION_MAX_DETECTORS 64

struct host_ctx {
	struct pmx_host host; /* first: a host pointer is a host_ctx pointer */
	char *prefix;         /* "detector=NAME " for log lines */
};

/* Fill the services table handed to a detector instance called `name`
 * (which must outlive it); ctx->prefix is malloc'ed. */
void host_ctx_init(struct host_ctx *ctx, const char *name,
		   const char *config_dir);

struct detector_inst {
	char *name; /* instance name, as in PORTMUX.detectors */
	const struct plugin *plugin;
	char *section;                 /* config section it reads */
	const struct pmx_node *config; /* that section, NULL if absent */
	/* PMX_DF_ROUTES only: its section's table, borrowed from the
	 * generation's `tables` */
	const struct route_table *routes;
	struct host_ctx host;
	void *instance;
	int created;
	uint64_t matches; /* connections it claimed (atomic) */
	/* Connection metrics (metrics.h), made with the generation: one
	 * series per route of `routes` — its exact ones, then wildcards,
	 * then default — and one each for its explicit answers and for
	 * fallback after its match. The array is owned here; the series
	 * are the metrics registry's (never freed). */
	struct metrics_series **route_series;
	struct metrics_series *explicit_series, *fallback_series;
};

/* What the clients of one listening address run: their detectors in
 * order and where the silent and the unclaimed ones go — a `listen`
 * entry's own settings, or PORTMUX's (generation_listener). */
struct gen_listener {
	const struct listen_addr *listen; /* NULL: PORTMUX's */
	uint8_t order[GENERATION_MAX_DETECTORS]; /* indices into dets */
	size_t norder;
	const struct backend *on_timeout; /* NULL: close */
	const struct backend *fallback;   /* NULL: close */
	const char *on_timeout_label, *fallback_label; /* for logs */
};

struct generation {
	int refs; /* atomic: shared by the workers */
	uint64_t id;
	struct config *cfg;
	struct detector_inst *dets; /* in probe order */
	size_t ndets;
	struct route_table **tables; /* every route section; owned (the one
					place they are freed) */
	size_t ntables;
	const struct backend *on_timeout; /* NULL: close */
	const struct backend *fallback;   /* NULL: close */
	const char *on_timeout_label;     /* for logs: a section name */
	int udp; /* listen on UDP too: a UDP detector has a "udp" route, or
		   a datagram-only detector has routes */
	const char *fallback_label;
	/* PORTMUX's settings (the detectors of PORTMUX.detectors or the
	 * default list, the targets above), and those of each `listen` entry
	 * with settings of its own (owned). Detectors that only such entries
	 * name come after PORTMUX's in `dets`, used by those entries alone. */
	struct gen_listener dflt;
	struct gen_listener *listeners;
	size_t nlisteners;
	/* Connection metrics of clients no detector claimed: on_timeout and
	 * fallback (the metrics registry's). */
	struct metrics_series *on_timeout_series, *fallback_series;
};

#ifndef PMX_PLUGIN_DIR
#define PMX_PLUGIN_DIR "/usr/local/lib/portmux"
#endif

/*
 * Build a generation from `cfg` (ownership passes to the generation, also
 * on failure). Loads the plugins it needs and creates their instances.
 * NULL with one message in err on failure.
 */
struct generation *generation_build(struct config *cfg, char *err,
				    size_t errlen);
void generation_ref(struct generation *g);
void generation_unref(struct generation *g);

/* The settings of the listening address `bound` (a connection's or a UDP
 * flow's): its `listen` entry's, else PORTMUX's. Never NULL. */
const struct gen_listener *generation_listener(const struct generation *g,
					       const struct addr *bound);

/* The route table of a section (case-insensitive), or NULL. */
const struct route_table *generation_table(const struct generation *g,
					   const char *section);

/* The metrics series of detector det's route r (of its table). */
struct metrics_series *generation_route_series(const struct generation *g,
					       int det, const struct route *r);

/* Call fn on every backend of g: routes' choices, on_timeout, fallback. */
void generation_each_backend(struct generation *g,
			     void (*fn)(struct backend *b, void *arg),
			     void *arg);

/* The plugin directories searched, in order; returns the count. */
size_t generation_plugin_dirs(const struct config *cfg, const char **dirs,
			      size_t max);

#endif
