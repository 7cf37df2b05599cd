/* generation.c — config + plugins -> detector instances and route tables. */
#include "generation.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "suggest.h"

/* Default detectors when PORTMUX.detectors is not set: "plugin=SECTION"
 * pairs in probe order, each enabled when its section is in the config.
 * One source: the Makefile's DEFAULT_DETECTORS. */
#ifndef PMX_DEFAULT_DETECTORS
#error "PMX_DEFAULT_DETECTORS is set by the Makefile (DEFAULT_DETECTORS)"
#endif

static uint64_t next_generation_id; /* atomic: reload builds too */

/* ---- host services handed to plugins ---- */

static void
host_log(const struct pmx_host *host, int level, const char *fmt, ...)
{
	const struct host_ctx *ctx = (const struct host_ctx *)host;
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, ctx->prefix, fmt, ap);
	va_end(ap);
}

void
host_ctx_init(struct host_ctx *ctx, const char *name, const char *config_dir)
{
	size_t n = strlen(name) + 16;

	memset(ctx, 0, sizeof(*ctx));
	ctx->prefix = malloc(n);
	if (ctx->prefix)
		snprintf(ctx->prefix, n, "detector=%s ", name);
	ctx->host.abi_version = PMX_DETECTOR_ABI_VERSION;
	ctx->host.struct_size = sizeof(struct pmx_host);
	ctx->host.log = host_log;
	ctx->host.instance_name = name;
	ctx->host.node_kind = node_kind;
	ctx->host.node_scalar = node_scalar;
	ctx->host.node_size = node_size;
	ctx->host.node_key = node_key;
	ctx->host.node_at = node_at;
	ctx->host.node_get = node_get;
	ctx->host.node_error = node_error;
	ctx->host.node_double = node_double;
	ctx->host.node_bool = node_bool;
	ctx->host.config_dir = config_dir;
	ctx->host.node_long = node_long;
	ctx->host.node_string = node_string;
	ctx->host.input_size = sizeof(struct pmx_probe_input);
}

/* ---- plugin directories ---- */

size_t
generation_plugin_dirs(const struct config *cfg, const char **dirs,
		       size_t max)
{
	static char exe_dir[PATH_MAX];
	const char *env = getenv("PORTMUX_PLUGIN_DIR");
	size_t n = 0;

	if (max < 2)
		return 0;
	if (cfg->plugin_dir != NULL) {
		dirs[n++] = cfg->plugin_dir;
		return n;
	}
	if (env != NULL && *env != '\0') {
		dirs[n++] = env;
		return n;
	}
	dirs[n++] = PMX_PLUGIN_DIR;
	/* A binary run from its build tree finds the plugins built beside
	 * it, in ./plugins next to the executable. */
	if (exe_dir[0] == '\0') {
		ssize_t len = readlink("/proc/self/exe", exe_dir,
				       sizeof(exe_dir) - 10);
		if (len > 0) {
			exe_dir[len] = '\0';
			char *slash = strrchr(exe_dir, '/');
			size_t room = slash ? sizeof(exe_dir) -
						      (size_t)(slash - exe_dir)
					    : 0;
			if (slash) /* readlink left room for it */
				snprintf(slash, room, "/plugins");
			else
				exe_dir[0] = '\0';
		} else {
			exe_dir[0] = '\0';
		}
	}
	if (exe_dir[0] != '\0' && strcmp(exe_dir, PMX_PLUGIN_DIR) != 0)
		dirs[n++] = exe_dir;
	return n;
}

/* ---- freeing ---- */

static void
detector_inst_free(struct detector_inst *d)
{
	if (d->created && d->plugin->desc->destroy)
		d->plugin->desc->destroy(d->instance);
	free(d->route_series);
	free(d->host.prefix);
	free(d->name);
	free(d->section);
}

static void
generation_free(struct generation *g)
{
	for (size_t i = 0; i < g->ndets; i++)
		detector_inst_free(&g->dets[i]);
	free(g->dets);
	free(g->listeners);
	/* After the detectors, which borrowed them. */
	for (size_t i = 0; i < g->ntables; i++)
		route_table_free(g->tables[i]);
	free(g->tables);
	config_free(g->cfg);
	free(g);
}

/* Workers share generations: the count is atomic, and whichever thread
 * drops the last reference frees it (detector destroy() is thread-safe). */
void
generation_ref(struct generation *g)
{
	__atomic_add_fetch(&g->refs, 1, __ATOMIC_RELAXED);
}

void
generation_unref(struct generation *g)
{
	if (g != NULL && __atomic_sub_fetch(&g->refs, 1, __ATOMIC_ACQ_REL) == 0)
		generation_free(g);
}

const struct route_table *
generation_table(const struct generation *g, const char *section)
{
	for (size_t i = 0; i < g->ntables; i++)
		if (strcasecmp(g->tables[i]->section, section) == 0)
			return g->tables[i];
	return NULL;
}

/* ---- building ---- */

/* A detector the configuration asks for (or the default list offers). */
struct wanted {
	char *name;    /* instance name */
	char *plugin;  /* plugin file name */
	char *label;   /* NULL or instance label */
	char *section; /* default entries: the section that enables it */
	const struct pmx_node *node; /* where it was asked for, or NULL */
};

/* What a build works with, step after step. */
struct build {
	struct generation *g; /* being built; owns what is made */
	struct config *cfg;
	const char *dirs[4];  /* plugin directories */
	size_t ndirs;
	struct wanted *defaults; /* the build's default list */
	size_t ndefaults;
	struct wanted *want; /* the detectors to run, in order */
	size_t nwant;
	size_t nglobal; /* of those, PORTMUX's; the rest only listen
			   entries name */
	char *err;
	size_t errlen;
	char msg[1024];
};

static void
wanted_free(struct wanted *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(w[i].name);
		free(w[i].plugin);
		free(w[i].label);
		free(w[i].section);
	}
	free(w);
}

static int
oom(struct build *b)
{
	snprintf(b->err, b->errlen, "out of memory");
	return -1;
}

/* PMX_DEFAULT_DETECTORS ("plugin=SECTION,...") into a list. */
static struct wanted *
default_list(size_t *count)
{
	const char *s = PMX_DEFAULT_DETECTORS;
	struct wanted *list = NULL;
	size_t n = 0;

	while (*s) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		const char *eq = memchr(s, '=', len);
		struct wanted *grown = realloc(list, (n + 1) * sizeof(*list));

		if (grown == NULL)
			break;
		list = grown;
		memset(&list[n], 0, sizeof(list[n]));
		if (eq != NULL) {
			list[n].plugin = strndup(s, (size_t)(eq - s));
			list[n].section =
				strndup(eq + 1, len - (size_t)(eq - s) - 1);
		} else {
			list[n].plugin = strndup(s, len);
		}
		list[n].name = list[n].plugin ? strdup(list[n].plugin) : NULL;
		n++;
		s += len;
		if (*s == ',')
			s++;
	}
	*count = n;
	return list;
}

/* The detectors listen entries name that PORTMUX's list lacks, after
 * it: they run for those entries' clients only. -1: out of memory. */
static int
add_listen_detectors(struct build *b)
{
	const struct config *cfg = b->cfg;

	for (size_t i = 0; i < cfg->nlisten; i++) {
		for (size_t k = 0; k < cfg->listen[i].ndetectors; k++) {
			const struct detector_ref *d =
				&cfg->listen[i].detectors[k];
			struct wanted *w = &b->want[b->nwant];
			size_t j = 0;

			while (j < b->nwant && strcmp(b->want[j].name,
						      d->name) != 0)
				j++;
			if (j < b->nwant)
				continue;
			w->name = strdup(d->name);
			w->plugin = strdup(d->plugin);
			w->label = d->label ? strdup(d->label) : NULL;
			w->node = d->node;
			b->nwant++;
			if (w->name == NULL || w->plugin == NULL ||
			    (d->label && w->label == NULL))
				return -1;
		}
	}
	return 0;
}

/* Step 1: which detectors, in which order — PORTMUX.detectors, else the
 * default list filtered by the sections present. */
static int
choose_detectors(struct build *b)
{
	const struct config *cfg = b->cfg;
	size_t n = cfg->detectors ? cfg->ndetectors : b->ndefaults;
	size_t extra = 0;

	for (size_t i = 0; i < cfg->nlisten; i++)
		extra += cfg->listen[i].ndetectors;
	b->want = calloc(n + extra + 1, sizeof(*b->want));
	if (b->want == NULL)
		return oom(b);
	for (size_t i = 0; i < n; i++) {
		struct wanted *w = &b->want[b->nwant];

		if (cfg->detectors != NULL) {
			const struct detector_ref *d = &cfg->detectors[i];
			w->name = strdup(d->name);
			w->plugin = strdup(d->plugin);
			w->label = d->label ? strdup(d->label) : NULL;
			w->node = d->node;
		} else {
			const struct wanted *d = &b->defaults[i];
			if (d->section == NULL ||
			    config_section(cfg, d->section, NULL) == NULL)
				continue;
			w->name = strdup(d->name);
			w->plugin = strdup(d->plugin);
			w->section = strdup(d->section);
		}
		b->nwant++;
	}
	b->nglobal = b->nwant;
	if (add_listen_detectors(b) < 0)
		return oom(b);
	if (b->nwant > GENERATION_MAX_DETECTORS)
		return node_error(cfg->detectors ? cfg->detectors[0].node
						 : cfg->tree->root,
				  b->err, b->errlen,
				  "detectors: at most %d detectors",
				  GENERATION_MAX_DETECTORS);
	return 0;
}

static char *
section_name(const struct plugin *p, const char *label)
{
	size_t n = strlen(p->section) + (label ? strlen(label) + 1 : 0) + 1;
	char *s = malloc(n);

	if (s != NULL)
		snprintf(s, n, "%s%s%s", p->section, label ? ":" : "",
			 label ? label : "");
	return s;
}

/* Step 2: load their plugins (nothing is created yet); no two instances
 * may read one section. */
static int
load_detectors(struct build *b)
{
	struct generation *g = b->g;

	g->dets = calloc(b->nwant + 1, sizeof(*g->dets));
	if (g->dets == NULL)
		return oom(b);
	for (size_t i = 0; i < b->nwant; i++) {
		const struct wanted *w = &b->want[i];
		struct detector_inst *d = &g->dets[i];
		const struct plugin *p = plugin_load(b->dirs, b->ndirs,
						     w->plugin, b->msg,
						     sizeof(b->msg));

		if (p == NULL && w->node)
			return node_error(w->node, b->err, b->errlen, "%s",
					  b->msg);
		if (p == NULL) {
			snprintf(b->err, b->errlen, "%s", b->msg);
			return -1;
		}
		d->plugin = p;
		d->name = strdup(w->name);
		d->section = section_name(p, w->label);
		g->ndets++;
		if (d->name == NULL || d->section == NULL)
			return oom(b);
		d->config = config_section(b->cfg, d->section, NULL);
		host_ctx_init(&d->host, d->name, b->cfg->dir);
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(g->dets[j].section, d->section) == 0)
				return node_error(
					w->node, b->err, b->errlen,
					"detectors: '%s' and '%s' would both "
					"read section %s (give one a label: "
					"%s:NAME)",
					g->dets[j].name, d->name, d->section,
					d->plugin->name);
	}
	return 0;
}

/* The enabled detector reading section `name`, or NULL. */
static struct detector_inst *
section_reader(struct generation *g, const char *name)
{
	struct detector_inst *reader = NULL;

	for (size_t i = 0; i < g->ndets; i++)
		if (strcasecmp(g->dets[i].section, name) == 0)
			reader = &g->dets[i];
	return reader;
}

/* ", did you mean 'X'?" for a misspelt section name: PORTMUX, an
 * enabled detector's section or a default detector's (in b->msg). */
static const char *
near_section(struct build *b, const char *name)
{
	const char *names[2 * GENERATION_MAX_DETECTORS + 1];
	size_t n = 0, max = sizeof(names) / sizeof(names[0]);

	names[n++] = "PORTMUX";
	for (size_t i = 0; i < b->g->ndets && n < max; i++)
		names[n++] = b->g->dets[i].section;
	for (size_t i = 0; i < b->ndefaults && n < max; i++)
		names[n++] = b->defaults[i].section;
	return suggest_text(b->msg, sizeof(b->msg), name, names, n,
			    sizeof(names[0]));
}

/*
 * A section no enabled detector reads is still a route table when a
 * default detector would read it as one (on_timeout / fallback may name
 * it); anything else is a mistake. 0 when it is a route table.
 */
static int
check_unread_section(struct build *b, const struct pmx_node *key)
{
	const char *name = node_scalar(key);

	for (size_t i = 0; i < b->ndefaults; i++) {
		const struct wanted *d = &b->defaults[i];
		const struct plugin *p;

		if (d->section == NULL || strcasecmp(d->section, name))
			continue;
		p = plugin_load(b->dirs, b->ndirs, d->plugin, b->msg,
				sizeof(b->msg));
		if (p == NULL)
			return node_error(key, b->err, b->errlen,
					  "section %s needs detector '%s': %s",
					  name, d->plugin, b->msg);
		if (!(p->desc->flags & PMX_DF_ROUTES))
			return node_error(key, b->err, b->errlen,
					  "section %s is not used: add '%s' "
					  "to PORTMUX.detectors",
					  name, p->name);
		return 0;
	}
	return node_error(key, b->err, b->errlen,
			  "unknown section '%s' (no enabled detector reads "
			  "it)%s",
			  name, near_section(b, name));
}

/* Step 3: every section is read by someone; route sections become route
 * tables, owned by the generation and lent to their detector. */
static int
parse_route_tables(struct build *b)
{
	const struct config *cfg = b->cfg;
	struct generation *g = b->g;

	g->tables = calloc(cfg->nsections + 1, sizeof(*g->tables));
	if (g->tables == NULL)
		return oom(b);
	for (size_t s = 0; s < cfg->nsections; s++) {
		const struct pmx_node *key = cfg->section_keys[s];
		const char *name = node_scalar(key);
		struct detector_inst *reader = section_reader(g, name);
		struct route_table *t;

		if (reader != NULL &&
		    !(reader->plugin->desc->flags & PMX_DF_ROUTES))
			continue; /* the plugin's own options */
		if (reader == NULL && check_unread_section(b, key) < 0)
			return -1;
		t = route_table_parse(name, cfg->section_vals[s], b->err,
				      b->errlen);
		if (t == NULL)
			return -1;
		g->tables[g->ntables++] = t;
		if (reader != NULL)
			reader->routes = t;
	}
	return 0;
}

/* Step 4: create the instances, in order. */
static int
create_instances(struct build *b)
{
	const struct config *cfg = b->cfg;
	struct generation *g = b->g;

	for (size_t i = 0; i < g->ndets; i++) {
		struct detector_inst *d = &g->dets[i];
		const struct pmx_detector *desc = d->plugin->desc;
		size_t plen = strlen(cfg->path);

		if ((desc->flags & PMX_DF_ROUTES) && d->routes == NULL)
			return node_error(b->want[i].node ? b->want[i].node
							  : cfg->tree->root,
					  b->err, b->errlen,
					  "detector '%s' is enabled but the "
					  "config has no %s section with its "
					  "routes",
					  d->name, d->section);
		b->msg[0] = '\0';
		if (desc->create(&d->host.host, d->config, &d->instance,
				 b->msg, sizeof(b->msg)) == 0) {
			d->created = 1;
			continue;
		}
		/* A located message already names the file. */
		if (strncmp(b->msg, cfg->path, plen) == 0 &&
		    b->msg[plen] == ':')
			snprintf(b->err, b->errlen, "%s (detector %s, %s)",
				 b->msg, d->name, d->plugin->path);
		else
			snprintf(b->err, b->errlen,
				 "plugin %s: create failed: %s",
				 d->plugin->path,
				 b->msg[0] ? b->msg : "(no reason given)");
		return -1;
	}
	return 0;
}

/* Step 5: UDP is wanted when asked for, or (auto) when a detector that
 * reads datagrams has a route for them: one named "udp" (e.g. OPENVPN:
 * "udp"), or any route of a detector that reads nothing else (e.g. QUIC's
 * host names). */
static int
wants_udp(const struct generation *g)
{
	if (g->cfg->udp >= 0)
		return g->cfg->udp;
	for (size_t i = 0; i < g->ndets; i++) {
		const struct detector_inst *d = &g->dets[i];
		uint32_t flags = d->plugin->desc->flags;

		if (!(flags & PMX_DF_UDP) || d->routes == NULL)
			continue;
		if (!(flags & PMX_DF_TCP) || route_has_key(d->routes, "udp"))
			return 1;
	}
	return 0;
}

/* on_timeout / fallback as configured, to a backend (NULL = close). */
static int
resolve_target(struct build *b, const struct target *t,
	       const struct backend **out, const char **label,
	       const char *what)
{
	const struct route_table *table;

	*out = NULL;
	*label = "close";
	switch (t->kind) {
	case TARGET_UNSET:
	case TARGET_CLOSE:
		return 0;
	case TARGET_BACKEND:
		*out = &t->backend;
		*label = t->backend.text;
		return 0;
	case TARGET_SECTION:
		table = generation_table(b->g, t->section);
		if (table == NULL)
			return node_error(t->node, b->err, b->errlen,
					  "%s: section '%s' has no routes",
					  what, t->section);
		*out = route_lookup(table, "", NULL);
		if (*out == NULL)
			return node_error(t->node, b->err, b->errlen,
					  "%s: section '%s' has no \"default\" "
					  "route",
					  what, t->section);
		*label = table->section;
		return 0;
	}
	return 0;
}

/* Unset on_timeout: the default route of the first of l's detectors
 * whose clients may wait for the server to speak first (SSH). */
static void
default_on_timeout(struct generation *g, struct gen_listener *l)
{
	l->on_timeout = NULL;
	l->on_timeout_label = "close";
	for (size_t k = 0; k < l->norder; k++) {
		const struct detector_inst *d = &g->dets[l->order[k]];
		if ((d->plugin->desc->flags & PMX_DF_ON_TIMEOUT) &&
		    d->routes != NULL) {
			l->on_timeout = route_lookup(d->routes, "", NULL);
			l->on_timeout_label = d->section;
			return;
		}
	}
}

/* A listen entry's detectors, by instance name, as indices into dets
 * (each was loaded: add_listen_detectors). */
static void
listener_order(struct generation *g, const struct listen_addr *la,
	       struct gen_listener *l)
{
	if (la->detectors == NULL) {
		memcpy(l->order, g->dflt.order, sizeof(l->order));
		l->norder = g->dflt.norder;
		return;
	}
	for (size_t k = 0; k < la->ndetectors; k++)
		for (size_t i = 0; i < g->ndets; i++)
			if (strcmp(g->dets[i].name, la->detectors[k].name) ==
			    0)
				l->order[l->norder++] = (uint8_t)i;
}

/* A listen entry's settings: its own, else PORTMUX's. */
static int
resolve_listener(struct build *b, const struct listen_addr *la,
		 struct gen_listener *l)
{
	struct generation *g = b->g;

	l->listen = la;
	listener_order(g, la, l);
	if (la->on_timeout.kind != TARGET_UNSET) {
		if (resolve_target(b, &la->on_timeout, &l->on_timeout,
				   &l->on_timeout_label, "on_timeout") < 0)
			return -1;
	} else if (b->cfg->on_timeout.kind != TARGET_UNSET) {
		l->on_timeout = g->dflt.on_timeout;
		l->on_timeout_label = g->dflt.on_timeout_label;
	} else {
		default_on_timeout(g, l);
	}
	if (la->fallback.kind == TARGET_UNSET) {
		l->fallback = g->dflt.fallback;
		l->fallback_label = g->dflt.fallback_label;
		return 0;
	}
	return resolve_target(b, &la->fallback, &l->fallback,
			      &l->fallback_label, "fallback");
}

/* Step 6: where silent and unclaimed clients go, and which detectors
 * run: PORTMUX's settings, then each listen entry's. */
static int
resolve_targets(struct build *b)
{
	struct generation *g = b->g;
	struct gen_listener *d = &g->dflt;
	const struct config *cfg = b->cfg;
	size_t n = 0;

	for (size_t i = 0; i < b->nglobal; i++)
		d->order[d->norder++] = (uint8_t)i;
	if (cfg->on_timeout.kind == TARGET_UNSET)
		default_on_timeout(g, d);
	else if (resolve_target(b, &cfg->on_timeout, &d->on_timeout,
				&d->on_timeout_label, "on_timeout") < 0)
		return -1;
	if (resolve_target(b, &cfg->fallback, &d->fallback,
			   &d->fallback_label, "fallback") < 0)
		return -1;
	g->on_timeout = d->on_timeout;
	g->on_timeout_label = d->on_timeout_label;
	g->fallback = d->fallback;
	g->fallback_label = d->fallback_label;
	for (size_t i = 0; i < cfg->nlisten; i++)
		n += listen_addr_custom(&cfg->listen[i]);
	if (n == 0)
		return 0;
	g->listeners = calloc(n, sizeof(*g->listeners));
	if (g->listeners == NULL)
		return oom(b);
	for (size_t i = 0; i < cfg->nlisten; i++) {
		if (!listen_addr_custom(&cfg->listen[i]))
			continue;
		if (resolve_listener(b, &cfg->listen[i],
				     &g->listeners[g->nlisteners++]) < 0)
			return -1;
	}
	return 0;
}

const struct gen_listener *
generation_listener(const struct generation *g, const struct addr *bound)
{
	for (size_t i = 0; bound != NULL && i < g->nlisteners; i++)
		if (addr_same(&g->listeners[i].listen->addr, bound))
			return &g->listeners[i];
	return &g->dflt;
}

/* A route's label in the metrics: its configured key. */
static struct metrics_series *
route_series_get(const char *detector, const struct route_table *t,
		 const struct route *r)
{
	char label[PMX_KEY_MAX + 1];

	if (r == t->dflt)
		return metrics_series_get(detector, "default");
	if (r >= t->wild && r < t->wild + t->nwild) {
		snprintf(label, sizeof(label), "*%s", r->key);
		return metrics_series_get(detector, label);
	}
	return metrics_series_get(detector, r->key);
}

/* Step 7: the metrics series its connections are counted in. */
static int
make_series(struct build *b)
{
	struct generation *g = b->g;

	g->on_timeout_series = metrics_series_get(METRICS_NO_DETECTOR,
						  METRICS_ROUTE_ON_TIMEOUT);
	g->fallback_series = metrics_series_get(METRICS_NO_DETECTOR,
						METRICS_ROUTE_FALLBACK);
	for (size_t i = 0; i < g->ndets; i++) {
		struct detector_inst *d = &g->dets[i];
		const struct route_table *t = d->routes;
		size_t n = t ? t->nexact + t->nwild + (t->dflt != NULL) : 0;

		d->explicit_series =
			metrics_series_get(d->name, METRICS_ROUTE_EXPLICIT);
		d->fallback_series =
			metrics_series_get(d->name, METRICS_ROUTE_FALLBACK);
		if (n == 0)
			continue;
		d->route_series = calloc(n, sizeof(*d->route_series));
		if (d->route_series == NULL)
			return oom(b);
		for (size_t r = 0; r < t->nexact; r++)
			d->route_series[r] =
				route_series_get(d->name, t, &t->exact[r]);
		for (size_t r = 0; r < t->nwild; r++)
			d->route_series[t->nexact + r] =
				route_series_get(d->name, t, &t->wild[r]);
		if (t->dflt != NULL)
			d->route_series[t->nexact + t->nwild] =
				route_series_get(d->name, t, t->dflt);
	}
	return 0;
}

struct metrics_series *
generation_route_series(const struct generation *g, int det,
			const struct route *r)
{
	const struct detector_inst *d = &g->dets[det];
	const struct route_table *t = d->routes;

	if (r == NULL || t == NULL || d->route_series == NULL)
		return NULL;
	if (r == t->dflt)
		return d->route_series[t->nexact + t->nwild];
	if (r >= t->wild && r < t->wild + t->nwild)
		return d->route_series[t->nexact + (size_t)(r - t->wild)];
	if (r >= t->exact && r < t->exact + t->nexact)
		return d->route_series[r - t->exact];
	return NULL;
}

struct generation *
generation_build(struct config *cfg, char *err, size_t errlen)
{
	struct build b = {.cfg = cfg, .err = err, .errlen = errlen};
	int rc;

	b.g = calloc(1, sizeof(*b.g));
	if (b.g == NULL) {
		config_free(cfg);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b.g->refs = 1;
	b.g->id = __atomic_add_fetch(&next_generation_id, 1,
				     __ATOMIC_RELAXED);
	b.g->cfg = cfg;
	b.ndirs = generation_plugin_dirs(cfg, b.dirs, 4);
	b.defaults = default_list(&b.ndefaults);

	rc = choose_detectors(&b);
	if (rc == 0)
		rc = load_detectors(&b);
	if (rc == 0)
		rc = parse_route_tables(&b);
	if (rc == 0)
		rc = create_instances(&b);
	if (rc == 0)
		rc = resolve_targets(&b);
	if (rc == 0)
		b.g->udp = wants_udp(b.g);
	if (rc == 0)
		rc = make_series(&b);

	wanted_free(b.want, b.nwant);
	wanted_free(b.defaults, b.ndefaults);
	if (rc < 0) {
		generation_free(b.g);
		return NULL;
	}
	return b.g;
}

static void
each_route(struct route *r, void (*fn)(struct backend *b, void *arg),
	   void *arg)
{
	for (size_t i = 0; i < r->nchoices; i++)
		fn(&r->choices[i].backend, arg);
}

void
generation_each_backend(struct generation *g,
			void (*fn)(struct backend *b, void *arg), void *arg)
{
	for (size_t t = 0; t < g->ntables; t++) {
		struct route_table *rt = g->tables[t];
		for (size_t i = 0; i < rt->nexact; i++)
			each_route(&rt->exact[i], fn, arg);
		for (size_t i = 0; i < rt->nwild; i++)
			each_route(&rt->wild[i], fn, arg);
		if (rt->dflt)
			each_route(rt->dflt, fn, arg);
	}
	if (g->cfg->on_timeout.kind == TARGET_BACKEND)
		fn(&g->cfg->on_timeout.backend, arg);
	if (g->cfg->fallback.kind == TARGET_BACKEND)
		fn(&g->cfg->fallback.backend, arg);
	for (size_t i = 0; i < g->cfg->nlisten; i++) {
		struct listen_addr *l = &g->cfg->listen[i];

		if (l->on_timeout.kind == TARGET_BACKEND)
			fn(&l->on_timeout.backend, arg);
		if (l->fallback.kind == TARGET_BACKEND)
			fn(&l->fallback.backend, arg);
	}
}
