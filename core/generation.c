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
#include "probe.h"

static uint64_t next_generation_id = 1;

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

/* ---- building ---- */

struct wanted {
	char *name;    /* instance name */
	char *plugin;  /* plugin file name */
	char *label;   /* NULL or instance label */
	char *section; /* expected section for default entries, or NULL */
	const struct pmx_node *node;
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

/* Parse PMX_DEFAULT_DETECTORS into a list. */
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

static void
detector_inst_free(struct detector_inst *d)
{
	if (d->created && d->plugin->desc->destroy)
		d->plugin->desc->destroy(d->instance);
	route_table_free(d->routes);
	free(d->host.prefix);
	free(d->name);
	free(d->section);
}

static void
generation_free(struct generation *g)
{
	/* Tables a detector owns go with it; the others (route-only
	 * sections) here. Decide before the detectors are freed. */
	for (size_t i = 0; i < g->ntables; i++) {
		int owned = 0;
		for (size_t j = 0; j < g->ndets; j++)
			owned |= g->dets[j].routes == g->tables[i];
		if (!owned)
			route_table_free(g->tables[i]);
	}
	free(g->tables);
	for (size_t i = 0; i < g->ndets; i++)
		detector_inst_free(&g->dets[i]);
	free(g->dets);
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

static int
add_table(struct generation *g, struct route_table *t)
{
	struct route_table **grown =
		realloc(g->tables, (g->ntables + 1) * sizeof(*grown));

	if (grown == NULL)
		return -1;
	g->tables = grown;
	g->tables[g->ntables++] = t;
	return 0;
}

/* Resolve on_timeout / fallback to a backend (NULL = close). */
static int
resolve_target(struct generation *g, const struct target *t,
	       const struct backend **out, const char **label, char *err,
	       size_t errlen, const char *what)
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
		table = generation_table(g, t->section);
		if (table == NULL)
			return node_error(t->node, err, errlen,
					  "%s: section '%s' has no routes",
					  what, t->section);
		*out = route_lookup(table, "", NULL);
		if (*out == NULL)
			return node_error(t->node, err, errlen,
					  "%s: section '%s' has no \"default\" "
					  "route",
					  what, t->section);
		*label = table->section;
		return 0;
	}
	return 0;
}

struct generation *
generation_build(struct config *cfg, char *err, size_t errlen)
{
	struct generation *g = calloc(1, sizeof(*g));
	const char *dirs[4];
	size_t ndirs;
	struct wanted *defaults = NULL, *want = NULL;
	size_t ndefaults = 0, nwant = 0;
	char msg[1024];

	if (g == NULL) {
		config_free(cfg);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->refs = 1;
	g->id = next_generation_id++;
	g->cfg = cfg;
	ndirs = generation_plugin_dirs(cfg, dirs, 4);
	defaults = default_list(&ndefaults);

	/* 1. Which detectors, in which order. */
	if (cfg->detectors != NULL) {
		want = calloc(cfg->ndetectors, sizeof(*want));
		if (want == NULL)
			goto oom;
		for (size_t i = 0; i < cfg->ndetectors; i++) {
			const struct detector_ref *d = &cfg->detectors[i];
			want[i].name = strdup(d->name);
			want[i].plugin = strdup(d->plugin);
			want[i].label = d->label ? strdup(d->label) : NULL;
			want[i].node = d->node;
			nwant++;
		}
	} else {
		want = calloc(ndefaults + 1, sizeof(*want));
		if (want == NULL)
			goto oom;
		for (size_t i = 0; i < ndefaults; i++) {
			if (defaults[i].section == NULL ||
			    config_section(cfg, defaults[i].section, NULL) ==
				    NULL)
				continue;
			want[nwant].name = strdup(defaults[i].name);
			want[nwant].plugin = strdup(defaults[i].plugin);
			want[nwant].section = strdup(defaults[i].section);
			nwant++;
		}
	}

	if (nwant > PROBE_MAX_DETECTORS) {
		node_error(cfg->detectors[0].node, err, errlen,
			   "detectors: at most %d detectors",
			   PROBE_MAX_DETECTORS);
		goto fail;
	}

	/* 2. Load their plugins and create nothing yet. */
	g->dets = calloc(nwant + 1, sizeof(*g->dets));
	if (g->dets == NULL)
		goto oom;
	for (size_t i = 0; i < nwant; i++) {
		struct detector_inst *d = &g->dets[i];
		const struct plugin *p =
			plugin_load(dirs, ndirs, want[i].plugin, msg,
				    sizeof(msg));

		if (p == NULL) {
			if (want[i].node)
				node_error(want[i].node, err, errlen, "%s",
					   msg);
			else
				snprintf(err, errlen, "%s", msg);
			goto fail;
		}
		d->plugin = p;
		d->name = strdup(want[i].name);
		d->section = section_name(p, want[i].label);
		g->ndets++;
		if (d->name == NULL || d->section == NULL)
			goto oom;
		d->config = config_section(cfg, d->section, NULL);
		host_ctx_init(&d->host, d->name, cfg->dir);
		for (size_t j = 0; j < i; j++) {
			if (strcasecmp(g->dets[j].section, d->section) == 0) {
				node_error(want[i].node, err, errlen,
					   "detectors: '%s' and '%s' would "
					   "both read section %s (give one a "
					   "label: %s:NAME)",
					   g->dets[j].name, d->name, d->section,
					   d->plugin->name);
				goto fail;
			}
		}
	}

	/* 3. Every section must be read by someone. Sections of default
	 * detectors that are not enabled still count as route tables (for
	 * on_timeout / fallback). */
	for (size_t s = 0; s < cfg->nsections; s++) {
		const char *sname = node_scalar(cfg->section_keys[s]);
		const struct pmx_node *sval = cfg->section_vals[s];
		struct detector_inst *owner = NULL;
		const struct plugin *p = NULL;
		struct route_table *t;

		for (size_t i = 0; i < g->ndets; i++)
			if (strcasecmp(g->dets[i].section, sname) == 0)
				owner = &g->dets[i];
		if (owner != NULL) {
			if (!(owner->plugin->desc->flags & PMX_DF_ROUTES))
				continue; /* the plugin's own options */
		} else {
			for (size_t i = 0; i < ndefaults && p == NULL; i++) {
				if (defaults[i].section == NULL ||
				    strcasecmp(defaults[i].section, sname))
					continue;
				p = plugin_load(dirs, ndirs,
						defaults[i].plugin, msg,
						sizeof(msg));
				if (p == NULL) {
					node_error(cfg->section_keys[s], err,
						   errlen,
						   "section %s needs detector "
						   "'%s': %s",
						   sname, defaults[i].plugin,
						   msg);
					goto fail;
				}
				if (!(p->desc->flags & PMX_DF_ROUTES)) {
					node_error(cfg->section_keys[s], err,
						   errlen,
						   "section %s is not used: "
						   "add '%s' to "
						   "PORTMUX.detectors",
						   sname, p->name);
					goto fail;
				}
			}
			if (p == NULL) {
				node_error(cfg->section_keys[s], err, errlen,
					   "unknown section '%s' (no enabled "
					   "detector reads it)",
					   sname);
				goto fail;
			}
		}
		t = route_table_parse(sname, sval, err, errlen);
		if (t == NULL)
			goto fail;
		if (add_table(g, t) < 0) {
			route_table_free(t);
			goto oom;
		}
		if (owner != NULL)
			owner->routes = t;
	}

	/* 4. Create the instances, in order. */
	for (size_t i = 0; i < g->ndets; i++) {
		struct detector_inst *d = &g->dets[i];
		const struct pmx_detector *desc = d->plugin->desc;

		if ((desc->flags & PMX_DF_ROUTES) && d->routes == NULL) {
			const struct pmx_node *at =
				want[i].node ? want[i].node
					     : cfg->tree->root;
			node_error(at, err, errlen,
				   "detector '%s' is enabled but the config "
				   "has no %s section with its routes",
				   d->name, d->section);
			goto fail;
		}
		msg[0] = '\0';
		if (desc->create(&d->host.host, d->config, &d->instance, msg,
				 sizeof(msg)) != 0) {
			if (strncmp(msg, cfg->path, strlen(cfg->path)) == 0 &&
			    msg[strlen(cfg->path)] == ':')
				snprintf(err, errlen, "%s (detector %s, %s)",
					 msg, d->name, d->plugin->path);
			else
				snprintf(err, errlen,
					 "plugin %s: create failed: %s",
					 d->plugin->path,
					 msg[0] ? msg : "(no reason given)");
			goto fail;
		}
		d->created = 1;
	}

	/* 5. UDP is wanted when asked for, or (auto) when a detector that
	 * reads datagrams has a route for them (e.g. OPENVPN: "udp"). */
	g->udp = cfg->udp > 0;
	for (size_t i = 0; cfg->udp < 0 && i < g->ndets; i++) {
		const struct detector_inst *d = &g->dets[i];
		if ((d->plugin->desc->flags & PMX_DF_UDP) && d->routes &&
		    route_has_key(d->routes, "udp"))
			g->udp = 1;
	}

	/* 6. Where silent and unclaimed clients go. */
	if (cfg->on_timeout.kind == TARGET_UNSET) {
		for (size_t i = 0; i < g->ndets; i++) {
			if ((g->dets[i].plugin->desc->flags &
			     PMX_DF_ON_TIMEOUT) &&
			    g->dets[i].routes != NULL) {
				g->on_timeout =
					route_lookup(g->dets[i].routes, "",
						     NULL);
				g->on_timeout_label = g->dets[i].section;
				break;
			}
		}
		if (g->on_timeout == NULL)
			g->on_timeout_label = "close";
	} else if (resolve_target(g, &cfg->on_timeout, &g->on_timeout,
				  &g->on_timeout_label, err, errlen,
				  "on_timeout") < 0) {
		goto fail;
	}
	if (resolve_target(g, &cfg->fallback, &g->fallback,
			   &g->fallback_label, err, errlen, "fallback") < 0)
		goto fail;

	wanted_free(want, nwant);
	wanted_free(defaults, ndefaults);
	return g;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	wanted_free(want, nwant);
	wanted_free(defaults, ndefaults);
	generation_free(g);
	return NULL;
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
}
