/* config.c — PORTMUX globals, validated with file:line:col messages. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <pwd.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "log.h"
#include "suggest.h"

static void
target_free(struct target *t)
{
	free(t->section);
	backend_clear(&t->backend);
}

static void
detector_refs_free(struct detector_ref *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(d[i].name);
		free(d[i].plugin);
		free(d[i].label);
	}
	free(d);
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	detector_refs_free(cfg->detectors, cfg->ndetectors);
	for (size_t i = 0; i < cfg->nlisten; i++) {
		struct listen_addr *l = &cfg->listen[i];

		detector_refs_free(l->detectors, l->ndetectors);
		target_free(&l->on_timeout);
		target_free(&l->fallback);
	}
	free(cfg->listen);
	cidr_list_clear(&cfg->accept_proxy);
	cidr_list_clear(&cfg->allow);
	cidr_list_clear(&cfg->deny);
	bind_sources_clear(&cfg->sources);
	free(cfg->user);
	free(cfg->plugin_dir);
	target_free(&cfg->on_timeout);
	target_free(&cfg->fallback);
	free(cfg->section_keys);
	free(cfg->section_vals);
	free(cfg->path);
	free(cfg->dir);
	yaml_tree_free(cfg->tree);
	free(cfg);
}

const struct pmx_node *
config_section(const struct config *cfg, const char *name, const char **key)
{
	for (size_t i = 0; i < cfg->nsections; i++) {
		if (strcasecmp(node_scalar(cfg->section_keys[i]), name) == 0) {
			if (key)
				*key = node_scalar(cfg->section_keys[i]);
			return cfg->section_vals[i];
		}
	}
	return NULL;
}

static int
add_listen(struct config *cfg, const char *host, long port,
	   const struct pmx_node *node, char *err, size_t errlen)
{
	struct listen_addr *grown;
	struct listen_addr *l;

	grown = realloc(cfg->listen, (cfg->nlisten + 1) * sizeof(*grown));
	if (grown == NULL)
		return node_error(node, err, errlen, "out of memory");
	cfg->listen = grown;
	l = &cfg->listen[cfg->nlisten];
	memset(l, 0, sizeof(*l));
	if (addr_from_literal(host, (uint16_t)port, &l->addr) < 0)
		return node_error(node, err, errlen,
				  "'%s' is not an IPv4 or IPv6 address", host);
	addr_format((struct sockaddr *)&l->addr.ss, l->text, sizeof(l->text));
	for (size_t i = 0; i < cfg->nlisten; i++)
		if (strcmp(cfg->listen[i].text, l->text) == 0)
			return node_error(node, err, errlen,
					  "listen: %s is listed twice",
					  l->text);
	l->node = node;
	cfg->nlisten++;
	return 0;
}

int
listen_addr_custom(const struct listen_addr *l)
{
	return l->detectors != NULL || l->on_timeout.kind != TARGET_UNSET ||
	       l->fallback.kind != TARGET_UNSET;
}

/* A `detectors` list into *out (owned by the caller, also on failure). */
static int
parse_detectors(const struct pmx_node *list, struct detector_ref **out,
		size_t *count, char *err, size_t errlen)
{
	size_t n = node_size(list);
	struct detector_ref *refs;

	if (node_kind(list) == PMX_NODE_SEQ && n == 0)
		return node_error(list, err, errlen,
				  "detectors: the list is empty");
	if (node_kind(list) != PMX_NODE_SEQ)
		return node_error(list, err, errlen,
				  "detectors: expected a list of detector "
				  "names, found %s",
				  node_kind_name(list));
	refs = *out = calloc(n, sizeof(*refs));
	if (refs == NULL)
		return node_error(list, err, errlen, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct pmx_node *item = node_at(list, i);
		const char *name = node_scalar(item);
		struct detector_ref *d = &refs[i];
		const char *colon;
		size_t plen;

		if (name == NULL)
			return node_error(item, err, errlen,
					  "detectors: expected a name, found "
					  "%s",
					  node_kind_name(item));
		colon = strchr(name, ':');
		plen = colon ? (size_t)(colon - name) : strlen(name);
		for (size_t j = 0; j < plen; j++) {
			char c = name[j];
			if (!(islower((unsigned char)c) ||
			      isdigit((unsigned char)c) || c == '_'))
				plen = 0;
		}
		if (plen == 0 || (colon && colon[1] == '\0'))
			return node_error(item, err, errlen,
					  "detectors: bad detector name '%s' "
					  "(expected plugin or plugin:label, "
					  "plugin in [a-z0-9_])",
					  name);
		for (size_t j = 0; j < i; j++)
			if (strcmp(refs[j].name, name) == 0)
				return node_error(item, err, errlen,
						  "detectors: '%s' is listed "
						  "twice",
						  name);
		d->name = strdup(name);
		d->plugin = strndup(name, plen);
		d->label = colon ? strdup(colon + 1) : NULL;
		d->node = item;
		(*count)++;
		if (d->name == NULL || d->plugin == NULL ||
		    (colon && d->label == NULL))
			return node_error(item, err, errlen, "out of memory");
	}
	return 0;
}

int
config_proxy_trusted(const struct config *cfg, const struct sockaddr *sa)
{
	return cidr_list_match(&cfg->accept_proxy, sa);
}

/* Does a route's value (a backend, or a list of them) have a backend
 * mapping that `map_wants`? */
static int
route_wants(const struct pmx_node *v,
	    int (*map_wants)(const struct pmx_node *b))
{
	size_t n = node_kind(v) == PMX_NODE_SEQ ? node_size(v) : 1;

	for (size_t i = 0; i < n; i++) {
		const struct pmx_node *b =
			node_kind(v) == PMX_NODE_SEQ ? node_at(v, i) : v;

		if (node_kind(b) == PMX_NODE_MAP && map_wants(b))
			return 1;
	}
	return 0;
}

int
config_any_backend(const struct config *cfg,
		   int (*map_wants)(const struct pmx_node *b),
		   int (*target_wants)(const struct target *t))
{
	for (size_t s = 0; s < cfg->nsections; s++) {
		const struct pmx_node *sec = cfg->section_vals[s];
		if (node_kind(sec) != PMX_NODE_MAP)
			continue;
		for (size_t i = 0; i < node_size(sec); i++)
			if (route_wants(node_at(sec, i), map_wants))
				return 1;
	}
	for (size_t i = 0; i < cfg->nlisten; i++)
		if (target_wants(&cfg->listen[i].on_timeout) ||
		    target_wants(&cfg->listen[i].fallback))
			return 1;
	return target_wants(&cfg->on_timeout) ||
	       target_wants(&cfg->fallback);
}

static int
map_transparent(const struct pmx_node *b)
{
	int on = 0;

	return node_bool(node_get(b, "transparent"), &on, NULL, 0) == 0 &&
	       on;
}

static int
target_transparent(const struct target *t)
{
	return t->kind == TARGET_BACKEND && t->backend.transparent > 0;
}

int
config_wants_transparent(const struct config *cfg)
{
	return cfg->transparent ||
	       config_any_backend(cfg, map_transparent, target_transparent);
}

long
config_source_limit(const struct config *cfg)
{
	long n = cfg->max_connections_per_source;

	if (n >= 0)
		return n;
	return cfg->max_connections / 4 > 0 ? cfg->max_connections / 4 : 1;
}

static int
parse_target(struct config *cfg, const struct pmx_node *node,
	      struct target *t, char *err, size_t errlen)
{
	const char *s = node_scalar(node);

	t->node = node;
	if (s != NULL && strcasecmp(s, "close") == 0) {
		t->kind = TARGET_CLOSE;
		return 0;
	}
	if (s != NULL && config_section(cfg, s, NULL) != NULL) {
		t->kind = TARGET_SECTION;
		t->section = strdup(s);
		return t->section ? 0 : node_error(node, err, errlen, "oom");
	}
	if (s != NULL && !isdigit((unsigned char)s[0]) && s[0] != '[' &&
	    strchr(s, ':') == NULL)
		return node_error(node, err, errlen,
				  "'%s' is neither a section of this config "
				  "nor \"host:port\" (or use close)",
				  s);
	if (backend_parse(node, &t->backend, 0, NULL, err, errlen) < 0)
		return -1;
	t->kind = TARGET_BACKEND;
	return 0;
}

/* ---- listen entries: "address:port", or a mapping of its keys ---- */

/* "address:port" (an empty address: 0.0.0.0) as a listen entry. */
static int
listen_address(struct config *cfg, const struct pmx_node *v,
	       const struct pmx_node *entry, char *err, size_t errlen)
{
	char host[128], msg[200];
	long port;
	const char *s = node_scalar(v);

	if (s == NULL)
		return node_error(v, err, errlen,
				  "listen: expected \"address:port\", "
				  "found %s",
				  node_kind_name(v));
	if (addr_split(s, host, sizeof(host), &port, msg, sizeof(msg)) < 0)
		return node_error(v, err, errlen, "%s", msg);
	if (port == 0)
		return node_error(v, err, errlen, "listen: '%s' has no port",
				  s);
	if (host[0] == '\0')
		snprintf(host, sizeof(host), "0.0.0.0");
	return add_listen(cfg, host, port, entry, err, errlen);
}

static int
listen_detectors(struct config *cfg, struct listen_addr *l,
		 const struct pmx_node *v, char *err, size_t errlen)
{
	(void)cfg;
	return parse_detectors(v, &l->detectors, &l->ndetectors, err, errlen);
}

static int
listen_on_timeout(struct config *cfg, struct listen_addr *l,
		  const struct pmx_node *v, char *err, size_t errlen)
{
	return parse_target(cfg, v, &l->on_timeout, err, errlen);
}

static int
listen_fallback(struct config *cfg, struct listen_addr *l,
		const struct pmx_node *v, char *err, size_t errlen)
{
	return parse_target(cfg, v, &l->fallback, err, errlen);
}

/* The keys of a listen entry written as a mapping (`address` is read
 * first, by listen_entry). */
static const struct listen_key {
	const char *name;
	int (*read)(struct config *cfg, struct listen_addr *l,
		    const struct pmx_node *v, char *err, size_t errlen);
} listen_keys[] = {
	{"address", NULL},
	{"detectors", listen_detectors},
	{"on_timeout", listen_on_timeout},
	{"fallback", listen_fallback},
};

static int
listen_entry(struct config *cfg, const struct pmx_node *item, char *err,
	     size_t errlen)
{
	size_t nkeys = sizeof(listen_keys) / sizeof(listen_keys[0]);
	const struct pmx_node *address = node_get(item, "address");
	struct listen_addr *l;

	if (node_kind(item) != PMX_NODE_MAP)
		return listen_address(cfg, item, item, err, errlen);
	if (address == NULL)
		return node_error(item, err, errlen,
				  "listen: an entry written as a mapping "
				  "needs `address: \"address:port\"`");
	if (listen_address(cfg, address, item, err, errlen) < 0)
		return -1;
	l = &cfg->listen[cfg->nlisten - 1];
	for (size_t i = 0; i < node_size(item); i++) {
		const struct pmx_node *k = node_key(item, i);
		const struct listen_key *key = NULL;
		char near[96];

		for (size_t j = 0; j < nkeys && key == NULL; j++)
			if (strcmp(listen_keys[j].name, node_scalar(k)) == 0)
				key = &listen_keys[j];
		if (key == NULL) {
			suggest_text(near, sizeof(near), node_scalar(k),
				     listen_keys, nkeys,
				     sizeof(listen_keys[0]));
			return node_error(k, err, errlen,
					  "listen: unknown key '%s'%s "
					  "(an entry has address, detectors, "
					  "on_timeout, fallback)",
					  node_scalar(k), near);
		}
		if (key->read != NULL &&
		    key->read(cfg, l, node_at(item, i), err, errlen) < 0)
			return -1;
	}
	return 0;
}

static int
parse_listen_list(struct config *cfg, const struct pmx_node *list,
		  char *err, size_t errlen)
{
	if (node_kind(list) != PMX_NODE_SEQ || node_size(list) == 0)
		return node_error(list, err, errlen,
				  "listen: expected a list of "
				  "\"address:port\", found %s",
				  node_kind_name(list));
	for (size_t i = 0; i < node_size(list); i++)
		if (listen_entry(cfg, node_at(list, i), err, errlen) < 0)
			return -1;
	return 0;
}

/* ---- the PORTMUX section: one table of its keys ---- */

/* What parsing PORTMUX collects besides the fields. */
struct pm_parse {
	struct config *cfg;
	const struct pmx_node *ip, *port, *listen; /* where to listen */
	const struct pmx_node *deadline;           /* for its message */
	const struct pmx_node *source;             /* for its message */
	char *err;
	size_t errlen;
};

enum field_type { F_NONE, F_DOUBLE, F_LONG, F_INT };

/*
 * One key of PORTMUX: how its value is read, into which field, its range
 * and its default. Defaults apply before parsing (pm_defaults), so this
 * table is the one place that says them.
 */
struct pm_key {
	const char *name;
	int (*read)(struct pm_parse *p, const struct pm_key *k,
		    const struct pmx_node *v);
	enum field_type type; /* of the field at `offset` (F_NONE: none) */
	size_t offset;
	double min, max;
	double dflt;
};

static void *
field(struct config *cfg, const struct pm_key *k)
{
	return (char *)cfg + k->offset;
}

/* A number (seconds, a rate) in [min, max]. */
static int
read_double(struct pm_parse *p, const struct pm_key *k,
	     const struct pmx_node *v)
{
	return node_double(v, k->min, k->max, field(p->cfg, k), p->err,
			   p->errlen);
}

/* An integer in [min, max]. */
static int
read_long(struct pm_parse *p, const struct pm_key *k,
	  const struct pmx_node *v)
{
	return node_long(v, (long)k->min, (long)k->max, field(p->cfg, k),
			 p->err, p->errlen);
}

static int
read_bool(struct pm_parse *p, const struct pm_key *k,
	  const struct pmx_node *v)
{
	return node_bool(v, field(p->cfg, k), p->err, p->errlen);
}

static int
read_ip(struct pm_parse *p, const struct pm_key *k, const struct pmx_node *v)
{
	(void)k;
	p->ip = v;
	if (node_kind(v) != PMX_NODE_SCALAR)
		return node_error(v, p->err, p->errlen,
				  "ip: expected an address, found %s",
				  node_kind_name(v));
	return 0;
}

static int
read_port(struct pm_parse *p, const struct pm_key *k,
	  const struct pmx_node *v)
{
	long port;

	(void)k;
	p->port = v;
	return node_long(v, 1, 65535, &port, p->err, p->errlen);
}

static int
read_listen(struct pm_parse *p, const struct pm_key *k,
	    const struct pmx_node *v)
{
	(void)k;
	p->listen = v;
	return 0;
}

static int
read_detectors(struct pm_parse *p, const struct pm_key *k,
	       const struct pmx_node *v)
{
	(void)k;
	return parse_detectors(v, &p->cfg->detectors, &p->cfg->ndetectors,
			       p->err, p->errlen);
}

/* An address list kept in a struct cidr_list field. */
static int
read_cidrs(struct pm_parse *p, const struct pm_key *k,
	   const struct pmx_node *v)
{
	return cidr_list_parse(v, k->name, field(p->cfg, k), p->err,
			       p->errlen);
}

/* `source`: the local addresses of backend connections. */
static int
read_source(struct pm_parse *p, const struct pm_key *k,
	    const struct pmx_node *v)
{
	p->source = v;
	return bind_sources_parse(v, k->name, &p->cfg->sources, p->err,
				  p->errlen);
}

/* A number of connections, or auto (-1). */
static int
read_per_source(struct pm_parse *p, const struct pm_key *k,
		const struct pmx_node *v)
{
	const char *s = node_scalar(v);

	if (s != NULL && strcmp(s, "auto") == 0) {
		*(long *)field(p->cfg, k) = -1;
		return 0;
	}
	if (read_long(p, k, v) < 0)
		return node_error(v, p->err, p->errlen,
				  "%s: expected a number of connections (0: "
				  "no limit) or auto",
				  k->name);
	return 0;
}

/* A string kept in a char * field. */
static int
read_string(struct pm_parse *p, const struct pm_key *k,
	    const struct pmx_node *v)
{
	char **out = field(p->cfg, k);
	const char *s;

	if (node_string(v, &s, p->err, p->errlen) < 0)
		return -1;
	free(*out);
	if ((*out = strdup(s)) == NULL)
		return node_error(v, p->err, p->errlen, "oom");
	return 0;
}

static int
read_user(struct pm_parse *p, const struct pm_key *k,
	  const struct pmx_node *v)
{
	const char *s;

	if (node_string(v, &s, p->err, p->errlen) < 0)
		return -1;
	if (getpwnam(s) == NULL)
		return node_error(v, p->err, p->errlen,
				  "user: no such user '%s'", s);
	return read_string(p, k, v);
}

/* auto (-1), true or false. */
static int
read_udp(struct pm_parse *p, const struct pm_key *k,
	 const struct pmx_node *v)
{
	const char *s = node_scalar(v);

	(void)k;
	if (s != NULL && strcmp(s, "auto") == 0) {
		p->cfg->udp = -1;
		return 0;
	}
	if (node_bool(v, &p->cfg->udp, p->err, p->errlen) < 0)
		return node_error(v, p->err, p->errlen,
				  "udp: expected auto, true or false");
	return 0;
}

/* auto, copy, splice or kernel (enum relay_mode). */
static int
read_relay(struct pm_parse *p, const struct pm_key *k,
	   const struct pmx_node *v)
{
	(void)k;
	return backend_parse_relay(v, &p->cfg->relay, p->err, p->errlen);
}

/* A number of threads, or auto (0: one per CPU). */
static int
read_workers(struct pm_parse *p, const struct pm_key *k,
	     const struct pmx_node *v)
{
	const char *s = node_scalar(v);

	if (s != NULL && strcmp(s, "auto") == 0) {
		p->cfg->workers = 0;
		return 0;
	}
	if (read_long(p, k, v) < 0)
		return node_error(v, p->err, p->errlen,
				  "workers: expected a number of threads (1 "
				  "to 256) or auto");
	return 0;
}

/* A number of flows, or auto (0: resolved by pm_udp_limits). */
static int
read_flows_per_source(struct pm_parse *p, const struct pm_key *k,
		      const struct pmx_node *v)
{
	const char *s = node_scalar(v);

	if (s != NULL && strcmp(s, "auto") == 0) {
		p->cfg->udp_flows_per_source = 0;
		return 0;
	}
	if (read_long(p, k, v) < 0)
		return node_error(v, p->err, p->errlen,
				  "udp_flows_per_source: expected a number of "
				  "flows (1 to 1000000) or auto");
	return 0;
}

static int
read_resolve_interval(struct pm_parse *p, const struct pm_key *k,
		      const struct pmx_node *v)
{
	if (read_double(p, k, v) < 0)
		return -1;
	if (p->cfg->resolve_interval > 0 && p->cfg->resolve_interval < 0.1)
		return node_error(v, p->err, p->errlen,
				  "resolve_interval: 0 (never) or at least "
				  "0.1 s");
	return 0;
}

static int
read_probe_deadline(struct pm_parse *p, const struct pm_key *k,
		    const struct pmx_node *v)
{
	p->deadline = v;
	return read_double(p, k, v);
}

static int
read_log_format(struct pm_parse *p, const struct pm_key *k,
		const struct pmx_node *v)
{
	const char *s;

	(void)k;
	if (node_string(v, &s, p->err, p->errlen) < 0)
		return -1;
	p->cfg->log_format = log_format_from_name(s);
	if (p->cfg->log_format < 0)
		return node_error(v, p->err, p->errlen,
				  "log_format: unknown format '%s' (expected "
				  "text or json)",
				  s);
	return 0;
}

static int
read_log_level(struct pm_parse *p, const struct pm_key *k,
	       const struct pmx_node *v)
{
	const char *s;

	(void)k;
	if (node_string(v, &s, p->err, p->errlen) < 0)
		return -1;
	p->cfg->log_level = log_level_from_name(s);
	if (p->cfg->log_level < 0)
		return node_error(v, p->err, p->errlen,
				  "log_level: unknown level '%s' (expected "
				  "error, warn, info or debug)",
				  s);
	return 0;
}

/* "host:port", "[v6]:port" (a literal address and a port), or the
 * absolute path of a unix socket. */
static int
read_metrics(struct pm_parse *p, const struct pm_key *k,
	     const struct pmx_node *v)
{
	struct config *cfg = p->cfg;
	const char *s;
	char host[128], msg[200];
	long port;

	(void)k;
	if (node_string(v, &s, p->err, p->errlen) < 0)
		return -1;
	if (s[0] == '/') {
		struct sockaddr_un *sun =
			(struct sockaddr_un *)&cfg->metrics.ss;

		if (strlen(s) >= sizeof(sun->sun_path))
			return node_error(v, p->err, p->errlen,
					  "metrics: the socket path is longer "
					  "than %zu bytes",
					  sizeof(sun->sun_path) - 1);
		memset(&cfg->metrics, 0, sizeof(cfg->metrics));
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, s, strlen(s) + 1);
		cfg->metrics.len = (socklen_t)(offsetof(struct sockaddr_un,
							sun_path) +
					       strlen(s) + 1);
		snprintf(cfg->metrics_text, sizeof(cfg->metrics_text), "%s", s);
		return 0;
	}
	if (addr_split(s, host, sizeof(host), &port, msg, sizeof(msg)) < 0)
		return node_error(v, p->err, p->errlen, "metrics: %s", msg);
	if (host[0] == '\0' || port == 0 ||
	    addr_from_literal(host, (uint16_t)port, &cfg->metrics) < 0) {
		memset(&cfg->metrics, 0, sizeof(cfg->metrics));
		return node_error(v, p->err, p->errlen,
				  "metrics: expected \"address:port\" (an IP "
				  "address, e.g. 127.0.0.1:9100 or "
				  "[::1]:9100) or the absolute path of a unix "
				  "socket, found '%s'",
				  s);
	}
	addr_format((struct sockaddr *)&cfg->metrics.ss, cfg->metrics_text,
		    sizeof(cfg->metrics_text));
	return 0;
}

/* Read once every section is known (pm_targets). */
static int
read_later(struct pm_parse *p, const struct pm_key *k,
	   const struct pmx_node *v)
{
	(void)p;
	(void)k;
	(void)v;
	return 0;
}

#define DAY 86400.0
#define AT(f) offsetof(struct config, f)

static const struct pm_key pm_keys[] = {
	/* where to listen */
	{"ip", read_ip, F_NONE, 0, 0, 0, 0},
	{"port", read_port, F_NONE, 0, 0, 0, 0},
	{"listen", read_listen, F_NONE, 0, 0, 0, 0},
	/* detection */
	{"detectors", read_detectors, F_NONE, 0, 0, 0, 0},
	{"plugin_dir", read_string, F_NONE, AT(plugin_dir), 0, 0, 0},
	{"probe_timeout", read_double, F_DOUBLE, AT(probe_timeout), 0.001,
	 DAY, 2.0},
	{"probe_deadline", read_probe_deadline, F_DOUBLE, AT(probe_deadline),
	 0.001, DAY, 10.0},
	{"probe_buffer", read_long, F_LONG, AT(probe_buffer), 64, 1 << 20,
	 16384},
	{"probe_threads", read_long, F_LONG, AT(probe_threads), 1, 64, 4},
	{"probe_queue", read_long, F_LONG, AT(probe_queue), 1, 1000000, 256},
	{"probe_source_share", read_double, F_DOUBLE, AT(probe_source_share),
	 0.01, 1, 0.25},
	{"on_timeout", read_later, F_NONE, 0, 0, 0, 0},
	{"fallback", read_later, F_NONE, 0, 0, 0, 0},
	/* backends */
	{"connect_timeout", read_double, F_DOUBLE, AT(connect_timeout),
	 0.001, DAY, 5.0},
	{"resolve_interval", read_resolve_interval, F_DOUBLE,
	 AT(resolve_interval), 0, DAY, 60.0},
	/* limits and timers */
	{"max_connections", read_long, F_LONG, AT(max_connections), 1,
	 10000000, 10000},
	{"idle_timeout", read_double, F_DOUBLE, AT(idle_timeout), 0, DAY, 0},
	{"halfclose_timeout", read_double, F_DOUBLE, AT(halfclose_timeout), 0,
	 DAY, 60.0},
	{"tcp_keepalive", read_bool, F_INT, AT(tcp_keepalive), 0, 0, 1},
	{"io_uring", read_bool, F_INT, AT(io_uring), 0, 0, 1},
	{"latency_busy_poll", read_double, F_DOUBLE, AT(latency_busy_poll), 0,
	 0.01, 0.0001},
	{"shutdown_timeout", read_double, F_DOUBLE, AT(shutdown_timeout), 0,
	 DAY, 10.0},
	{"workers", read_workers, F_LONG, AT(workers), 1, 256, 0},
	/* UDP */
	{"udp", read_udp, F_INT, AT(udp), 0, 0, -1},
	{"udp_timeout", read_double, F_DOUBLE, AT(udp_timeout), 0.1, DAY,
	 60.0},
	{"udp_max_flows", read_long, F_LONG, AT(udp_max_flows), 1, 1000000,
	 4096},
	{"udp_flows_per_source", read_flows_per_source, F_LONG,
	 AT(udp_flows_per_source), 1, 1000000, 0},
	{"udp_queue_bytes", read_long, F_LONG, AT(udp_queue_bytes), 65536,
	 1 << 30, 1 << 20},
	/* the rest */
	/* who may connect, and how much one source may take */
	{"allow", read_cidrs, F_NONE, AT(allow), 0, 0, 0},
	{"deny", read_cidrs, F_NONE, AT(deny), 0, 0, 0},
	{"max_connections_per_source", read_per_source, F_LONG,
	 AT(max_connections_per_source), 0, 10000000, -1},
	{"rate_per_source", read_double, F_DOUBLE, AT(rate_per_source), 0,
	 1e6, 500},
	{"accept_proxy", read_cidrs, F_NONE, AT(accept_proxy), 0, 0, 0},
	{"transparent", read_bool, F_INT, AT(transparent), 0, 0, 0},
	{"source", read_source, F_NONE, AT(sources), 0, 0, 0},
	{"relay", read_relay, F_INT, AT(relay), 0, 0, RELAY_AUTO},
	{"user", read_user, F_NONE, AT(user), 0, 0, 0},
	{"metrics", read_metrics, F_NONE, AT(metrics), 0, 0, 0},
	{"log_level", read_log_level, F_INT, AT(log_level), 0, 0, -1},
	{"log_format", read_log_format, F_INT, AT(log_format), 0, 0, 0},
};

/* Every default of the table into cfg. */
static void
pm_defaults(struct config *cfg)
{
	for (size_t i = 0; i < sizeof(pm_keys) / sizeof(pm_keys[0]); i++) {
		const struct pm_key *k = &pm_keys[i];
		void *f = field(cfg, k);

		if (k->type == F_DOUBLE)
			*(double *)f = k->dflt;
		else if (k->type == F_LONG)
			*(long *)f = (long)k->dflt;
		else if (k->type == F_INT)
			*(int *)f = (int)k->dflt;
	}
}

static const struct pm_key *
pm_key(const char *name)
{
	for (size_t i = 0; i < sizeof(pm_keys) / sizeof(pm_keys[0]); i++)
		if (strcmp(pm_keys[i].name, name) == 0)
			return &pm_keys[i];
	return NULL;
}

/* `-p PORT` replaces the port of every listen address. */
static void
override_port(struct config *cfg, int port)
{
	for (size_t i = 0; i < cfg->nlisten; i++) {
		struct sockaddr *sa =
			(struct sockaddr *)&cfg->listen[i].addr.ss;
		uint16_t p = htons((uint16_t)port);

		if (sa->sa_family == AF_INET)
			((struct sockaddr_in *)sa)->sin_port = p;
		else
			((struct sockaddr_in6 *)sa)->sin6_port = p;
		addr_format(sa, cfg->listen[i].text,
			    sizeof(cfg->listen[i].text));
	}
}

/* The listen addresses: `listen`, or `ip` and `port`. */
static int
pm_listen(struct pm_parse *p, const struct pmx_node *pm, int port_override)
{
	long port = 0;

	if (p->listen != NULL) {
		if (p->ip != NULL || p->port != NULL)
			return node_error(p->listen, p->err, p->errlen,
					  "use either listen or ip/port, not "
					  "both");
		if (parse_listen_list(p->cfg, p->listen, p->err, p->errlen) <
		    0)
			return -1;
	} else {
		if (p->port == NULL && port_override <= 0)
			return node_error(pm, p->err, p->errlen,
					  "PORTMUX: no port to listen on (set "
					  "port, or listen)");
		if (p->port != NULL && node_long(p->port, 1, 65535, &port,
						 p->err, p->errlen) < 0)
			return -1;
		if (add_listen(p->cfg, p->ip ? node_scalar(p->ip) : "0.0.0.0",
			       port ? port : port_override, p->ip ? p->ip : pm,
			       p->err, p->errlen) < 0)
			return -1;
	}
	if (port_override > 0)
		override_port(p->cfg, port_override);
	return 0;
}

/* udp_flows_per_source: auto is a quarter of udp_max_flows, at least 16
 * (many clients may share an address behind NAT; one source must not
 * take the whole table). */
static void
pm_udp_limits(struct config *cfg)
{
	if (cfg->udp_flows_per_source == 0)
		cfg->udp_flows_per_source =
			cfg->udp_max_flows / 4 > 16 ? cfg->udp_max_flows / 4
						    : 16;
}

/* on_timeout and fallback may name a section: read once all are known. */
static int
pm_targets(struct pm_parse *p, const struct pmx_node *pm)
{
	for (size_t i = 0; i < node_size(pm); i++) {
		const char *key = node_scalar(node_key(pm, i));
		const struct pmx_node *v = node_at(pm, i);

		if (strcmp(key, "on_timeout") == 0 &&
		    parse_target(p->cfg, v, &p->cfg->on_timeout, p->err,
				 p->errlen) < 0)
			return -1;
		if (strcmp(key, "fallback") == 0 &&
		    parse_target(p->cfg, v, &p->cfg->fallback, p->err,
				 p->errlen) < 0)
			return -1;
	}
	return 0;
}

static int
parse_portmux(struct config *cfg, const struct pmx_node *pm,
	      int port_override, char *err, size_t errlen)
{
	struct pm_parse p = {.cfg = cfg, .err = err, .errlen = errlen};

	if (node_kind(pm) != PMX_NODE_MAP)
		return node_error(pm, err, errlen,
				  "PORTMUX: expected a mapping, found %s",
				  node_kind_name(pm));
	for (size_t i = 0; i < node_size(pm); i++) {
		const struct pmx_node *k = node_key(pm, i);
		const struct pm_key *key = pm_key(node_scalar(k));

		if (key == NULL) {
			size_t nkeys = sizeof(pm_keys) / sizeof(pm_keys[0]);
			char near[96];

			suggest_text(near, sizeof(near), node_scalar(k),
				     pm_keys, nkeys, sizeof(pm_keys[0]));
			return node_error(k, err, errlen,
					  "PORTMUX: unknown key '%s'%s",
					  node_scalar(k), near);
		}
		if (key->read(&p, key, node_at(pm, i)) < 0)
			return -1;
	}
	/* Raising probe_timeout alone raises the default deadline with it:
	 * only a deadline the user wrote can be too short. */
	if (p.deadline == NULL && cfg->probe_deadline < cfg->probe_timeout)
		cfg->probe_deadline = cfg->probe_timeout;
	if (cfg->probe_deadline < cfg->probe_timeout)
		return node_error(p.deadline, err, errlen,
				  "probe_deadline (%g s) must not be shorter "
				  "than probe_timeout (%g s)",
				  cfg->probe_deadline, cfg->probe_timeout);
	if (cfg->transparent && cfg->sources.n)
		return node_error(p.source, err, errlen,
				  "use either transparent: true or source in "
				  "PORTMUX, not both");
	if (pm_listen(&p, pm, port_override) < 0)
		return -1;
	pm_udp_limits(cfg);
	return pm_targets(&p, pm);
}

struct config *
config_parse(struct yaml_tree *tree, int port_override, char *err,
	     size_t errlen)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	const struct pmx_node *root = tree->root;
	const struct pmx_node *pm = NULL;
	size_t n = node_size(root);
	char *slash;

	if (cfg == NULL) {
		snprintf(err, errlen, "out of memory");
		yaml_tree_free(tree);
		return NULL;
	}
	cfg->tree = tree;
	cfg->path = strdup(tree->file);
	cfg->dir = strdup(tree->file);
	if (cfg->path == NULL || cfg->dir == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	slash = strrchr(cfg->dir, '/');
	if (slash == NULL) {
		free(cfg->dir);
		cfg->dir = strdup(".");
		if (cfg->dir == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	} else if (slash == cfg->dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	pm_defaults(cfg);

	if (root == NULL) {
		snprintf(err, errlen, "%s:1:1: the configuration is empty",
			 tree->file);
		goto fail;
	}
	if (node_kind(root) != PMX_NODE_MAP) {
		node_error(root, err, errlen,
			   "expected a mapping of sections (PORTMUX, HTTP, "
			   "...), found %s",
			   node_kind_name(root));
		goto fail;
	}
	cfg->section_keys = calloc(n, sizeof(*cfg->section_keys));
	cfg->section_vals = calloc(n, sizeof(*cfg->section_vals));
	if (cfg->section_keys == NULL || cfg->section_vals == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		const struct pmx_node *k = node_key(root, i);
		if (strcmp(node_scalar(k), "PORTMUX") == 0) {
			pm = node_at(root, i);
			continue;
		}
		for (size_t j = 0; j < cfg->nsections; j++) {
			if (strcasecmp(node_scalar(cfg->section_keys[j]),
				       node_scalar(k)) == 0) {
				node_error(k, err, errlen,
					   "duplicate section '%s' (first at "
					   "line %d)",
					   node_scalar(k),
					   cfg->section_keys[j]->line);
				goto fail;
			}
		}
		cfg->section_keys[cfg->nsections] = k;
		cfg->section_vals[cfg->nsections++] = node_at(root, i);
	}
	if (pm == NULL) {
		node_error(root, err, errlen, "missing section PORTMUX");
		goto fail;
	}
	if (parse_portmux(cfg, pm, port_override, err, errlen) < 0)
		goto fail;
	return cfg;
fail:
	config_free(cfg);
	return NULL;
}

struct config *
config_load(const char *path, int port_override, char *err, size_t errlen)
{
	struct yaml_tree *tree = yaml_tree_load(path, err, errlen);

	if (tree == NULL)
		return NULL;
	return config_parse(tree, port_override, err, errlen);
}
