/* config.c — PORTMUX globals, validated with file:line:col messages. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <pwd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#define DEFAULT_PROBE_TIMEOUT 2.0
#define DEFAULT_PROBE_DEADLINE 10.0
#define DEFAULT_CONNECT_TIMEOUT 5.0
#define DEFAULT_PROBE_BUFFER 16384
#define DEFAULT_MAX_CONNECTIONS 10000
#define DEFAULT_PROBE_THREADS 4
#define DEFAULT_UDP_TIMEOUT 60.0
#define DEFAULT_UDP_MAX_FLOWS 4096
#define DEFAULT_SHUTDOWN_TIMEOUT 10.0
#define DEFAULT_RESOLVE_INTERVAL 60.0

static void
target_free(struct target *t)
{
	free(t->section);
	backend_clear(&t->backend);
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->ndetectors; i++) {
		free(cfg->detectors[i].name);
		free(cfg->detectors[i].plugin);
		free(cfg->detectors[i].label);
	}
	free(cfg->detectors);
	free(cfg->listen);
	free(cfg->accept_proxy);
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
	if (addr_from_literal(host, (uint16_t)port, &l->addr) < 0)
		return node_error(node, err, errlen,
				  "'%s' is not an IPv4 or IPv6 address", host);
	addr_format((struct sockaddr *)&l->addr.ss, l->text, sizeof(l->text));
	cfg->nlisten++;
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
	for (size_t i = 0; i < node_size(list); i++) {
		const struct pmx_node *item = node_at(list, i);
		char host[128], msg[200];
		long port;

		if (node_kind(item) == PMX_NODE_SCALAR) {
			if (addr_split(node_scalar(item), host, sizeof(host),
				       &port, msg, sizeof(msg)) < 0)
				return node_error(item, err, errlen, "%s", msg);
		} else {
			return node_error(item, err, errlen,
					  "listen: expected \"address:port\", "
					  "found %s",
					  node_kind_name(item));
		}
		if (port == 0)
			return node_error(item, err, errlen,
					  "listen: '%s' has no port",
					  node_scalar(item));
		if (host[0] == '\0')
			snprintf(host, sizeof(host), "0.0.0.0");
		if (add_listen(cfg, host, port, item, err, errlen) < 0)
			return -1;
	}
	return 0;
}

static int
parse_detectors(struct config *cfg, const struct pmx_node *list, char *err,
		size_t errlen)
{
	size_t n = node_size(list);

	if (node_kind(list) == PMX_NODE_SEQ && n == 0)
		return node_error(list, err, errlen,
				  "detectors: the list is empty");
	if (node_kind(list) != PMX_NODE_SEQ)
		return node_error(list, err, errlen,
				  "detectors: expected a list of detector "
				  "names, found %s",
				  node_kind_name(list));
	cfg->detectors = calloc(n, sizeof(*cfg->detectors));
	if (cfg->detectors == NULL)
		return node_error(list, err, errlen, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct pmx_node *item = node_at(list, i);
		const char *name = node_scalar(item);
		struct detector_ref *d = &cfg->detectors[i];
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
			if (strcmp(cfg->detectors[j].name, name) == 0)
				return node_error(item, err, errlen,
						  "detectors: '%s' is listed "
						  "twice",
						  name);
		d->name = strdup(name);
		d->plugin = strndup(name, plen);
		d->label = colon ? strdup(colon + 1) : NULL;
		d->node = item;
		cfg->ndetectors++;
		if (d->name == NULL || d->plugin == NULL ||
		    (colon && d->label == NULL))
			return node_error(item, err, errlen, "out of memory");
	}
	return 0;
}

static int
parse_cidrs(struct config *cfg, const struct pmx_node *list, char *err,
	    size_t errlen)
{
	size_t n = node_size(list);

	if (node_kind(list) != PMX_NODE_SEQ || n == 0)
		return node_error(list, err, errlen,
				  "accept_proxy: expected a list of addresses "
				  "or ranges (\"10.0.0.0/8\"), found %s",
				  node_kind_name(list));
	cfg->accept_proxy = calloc(n, sizeof(*cfg->accept_proxy));
	if (cfg->accept_proxy == NULL)
		return node_error(list, err, errlen, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct pmx_node *item = node_at(list, i);
		const char *s = node_scalar(item);
		struct cidr *c = &cfg->accept_proxy[i];
		char ip[INET6_ADDRSTRLEN + 1];
		const char *slash;
		size_t iplen;
		long bits = -1;

		if (s == NULL)
			return node_error(item, err, errlen,
					  "accept_proxy: expected an address");
		slash = strchr(s, '/');
		iplen = slash ? (size_t)(slash - s) : strlen(s);
		if (iplen >= sizeof(ip))
			goto bad;
		memcpy(ip, s, iplen);
		ip[iplen] = '\0';
		if (inet_pton(AF_INET, ip, c->addr) == 1)
			c->family = AF_INET;
		else if (inet_pton(AF_INET6, ip, c->addr) == 1)
			c->family = AF_INET6;
		else
			goto bad;
		if (slash) {
			char *end;
			bits = strtol(slash + 1, &end, 10);
			if (*end || slash[1] == '\0' || bits < 0 ||
			    bits > (c->family == AF_INET ? 32 : 128))
				goto bad;
		}
		c->bits = bits >= 0 ? (int)bits
				    : (c->family == AF_INET ? 32 : 128);
		cfg->naccept_proxy++;
		continue;
bad:
		return node_error(item, err, errlen,
				  "accept_proxy: '%s' is not an address or a "
				  "range like 10.0.0.0/8 or fd00::/8",
				  s);
	}
	return 0;
}

int
config_proxy_trusted(const struct config *cfg, const struct sockaddr *sa)
{
	const uint8_t *a;
	uint8_t mapped[16];
	int family = sa->sa_family;

	if (family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;
		a = (const uint8_t *)&sin->sin_addr;
	} else if (family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		/* An IPv4 client on an IPv6 socket: compare as IPv4. */
		if (IN6_IS_ADDR_V4MAPPED(
			    &((const struct sockaddr_in6 *)sa)->sin6_addr)) {
			memcpy(mapped, a + 12, 4);
			a = mapped;
			family = AF_INET;
		}
	} else {
		return 0;
	}
	for (size_t i = 0; i < cfg->naccept_proxy; i++) {
		const struct cidr *c = &cfg->accept_proxy[i];
		int full = c->bits / 8, rest = c->bits % 8;

		if (c->family != family || memcmp(a, c->addr, (size_t)full))
			continue;
		if (rest == 0 ||
		    ((a[full] ^ c->addr[full]) & (0xff << (8 - rest))) == 0)
			return 1;
	}
	return 0;
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

static int
parse_seconds(const struct pmx_node *v, double min, double *out, char *err,
	      size_t errlen)
{
	return node_double(v, min, 86400.0, out, err, errlen);
}

static int
parse_portmux(struct config *cfg, const struct pmx_node *pm,
	      int port_override, char *err, size_t errlen)
{
	const struct pmx_node *ip = NULL, *port = NULL, *listen = NULL;
	const struct pmx_node *deadline_node = NULL;

	if (node_kind(pm) != PMX_NODE_MAP)
		return node_error(pm, err, errlen,
				  "PORTMUX: expected a mapping, found %s",
				  node_kind_name(pm));
	for (size_t i = 0; i < node_size(pm); i++) {
		const struct pmx_node *k = node_key(pm, i);
		const struct pmx_node *v = node_at(pm, i);
		const char *key = node_scalar(k);
		int rc = 0;

		if (strcmp(key, "ip") == 0) {
			ip = v;
			if (node_kind(v) != PMX_NODE_SCALAR)
				rc = node_error(v, err, errlen,
						"ip: expected an address, "
						"found %s",
						node_kind_name(v));
		} else if (strcmp(key, "port") == 0) {
			long p;
			port = v;
			rc = node_long(v, 1, 65535, &p, err, errlen);
		} else if (strcmp(key, "listen") == 0) {
			listen = v;
		} else if (strcmp(key, "detectors") == 0) {
			rc = parse_detectors(cfg, v, err, errlen);
		} else if (strcmp(key, "plugin_dir") == 0) {
			const char *s;
			rc = node_string(v, &s, err, errlen);
			if (rc == 0 && (cfg->plugin_dir = strdup(s)) == NULL)
				rc = node_error(v, err, errlen, "oom");
		} else if (strcmp(key, "probe_timeout") == 0) {
			rc = parse_seconds(v, 0.001, &cfg->probe_timeout, err,
					   errlen);
		} else if (strcmp(key, "probe_deadline") == 0) {
			deadline_node = v;
			rc = parse_seconds(v, 0.001, &cfg->probe_deadline, err,
					   errlen);
		} else if (strcmp(key, "connect_timeout") == 0) {
			rc = parse_seconds(v, 0.001, &cfg->connect_timeout,
					   err, errlen);
		} else if (strcmp(key, "probe_buffer") == 0) {
			rc = node_long(v, 64, 1 << 20, &cfg->probe_buffer, err,
				       errlen);
		} else if (strcmp(key, "max_connections") == 0) {
			rc = node_long(v, 1, 10000000, &cfg->max_connections,
				       err, errlen);
		} else if (strcmp(key, "probe_threads") == 0) {
			rc = node_long(v, 1, 64, &cfg->probe_threads, err,
				       errlen);
		} else if (strcmp(key, "udp_timeout") == 0) {
			rc = parse_seconds(v, 0.1, &cfg->udp_timeout, err,
					   errlen);
		} else if (strcmp(key, "udp") == 0) {
			const char *s = node_scalar(v);
			if (s != NULL && strcmp(s, "auto") == 0)
				cfg->udp = -1;
			else if (node_bool(v, &cfg->udp, err, errlen) < 0)
				rc = node_error(v, err, errlen,
						"udp: expected auto, true or "
						"false");
		} else if (strcmp(key, "udp_max_flows") == 0) {
			rc = node_long(v, 1, 1000000, &cfg->udp_max_flows, err,
				       errlen);
		} else if (strcmp(key, "accept_proxy") == 0) {
			rc = parse_cidrs(cfg, v, err, errlen);
		} else if (strcmp(key, "idle_timeout") == 0) {
			rc = parse_seconds(v, 0, &cfg->idle_timeout, err,
					   errlen);
		} else if (strcmp(key, "tcp_keepalive") == 0) {
			rc = node_bool(v, &cfg->tcp_keepalive, err, errlen);
		} else if (strcmp(key, "user") == 0) {
			const char *s;
			rc = node_string(v, &s, err, errlen);
			if (rc == 0 && getpwnam(s) == NULL)
				rc = node_error(v, err, errlen,
						"user: no such user '%s'", s);
			else if (rc == 0 && (cfg->user = strdup(s)) == NULL)
				rc = node_error(v, err, errlen, "oom");
		} else if (strcmp(key, "workers") == 0) {
			const char *s = node_scalar(v);
			if (s != NULL && strcmp(s, "auto") == 0)
				cfg->workers = 0;
			else if (node_long(v, 1, 256, &cfg->workers, err,
					   errlen) < 0)
				rc = node_error(v, err, errlen,
						"workers: expected a number of "
						"threads (1 to 256) or auto");
		} else if (strcmp(key, "resolve_interval") == 0) {
			rc = parse_seconds(v, 0, &cfg->resolve_interval, err,
					   errlen);
			if (rc == 0 && cfg->resolve_interval > 0 &&
			    cfg->resolve_interval < 0.1)
				rc = node_error(v, err, errlen,
						"resolve_interval: 0 (never) "
						"or at least 0.1 s");
		} else if (strcmp(key, "shutdown_timeout") == 0) {
			rc = parse_seconds(v, 0, &cfg->shutdown_timeout, err,
					   errlen);
		} else if (strcmp(key, "log_level") == 0) {
			const char *s;
			rc = node_string(v, &s, err, errlen);
			if (rc == 0 &&
			    (cfg->log_level = log_level_from_name(s)) < 0)
				rc = node_error(v, err, errlen,
						"log_level: unknown level '%s' "
						"(expected error, warn, info "
						"or debug)",
						s);
		} else if (strcmp(key, "on_timeout") == 0 ||
			   strcmp(key, "fallback") == 0) {
			/* parsed below, once sections are known */
		} else {
			rc = node_error(k, err, errlen,
					"PORTMUX: unknown key '%s'", key);
		}
		if (rc < 0)
			return -1;
	}
	if (cfg->probe_deadline < cfg->probe_timeout)
		return node_error(deadline_node ? deadline_node : pm, err,
				  errlen,
				  "probe_deadline (%g s) must not be shorter "
				  "than probe_timeout (%g s)",
				  cfg->probe_deadline, cfg->probe_timeout);
	if (listen != NULL) {
		if (ip != NULL || port != NULL)
			return node_error(listen, err, errlen,
					  "use either listen or ip/port, not "
					  "both");
		if (parse_listen_list(cfg, listen, err, errlen) < 0)
			return -1;
	} else {
		long p = 0;
		if (port == NULL && port_override <= 0)
			return node_error(pm, err, errlen,
					  "PORTMUX: no port to listen on (set "
					  "port, or listen)");
		if (port != NULL && node_long(port, 1, 65535, &p, err,
					      errlen) < 0)
			return -1;
		if (add_listen(cfg, ip ? node_scalar(ip) : "0.0.0.0",
			       p ? p : port_override, ip ? ip : pm, err,
			       errlen) < 0)
			return -1;
	}
	if (port_override > 0) {
		for (size_t i = 0; i < cfg->nlisten; i++) {
			struct sockaddr *sa =
				(struct sockaddr *)&cfg->listen[i].addr.ss;
			uint16_t p = htons((uint16_t)port_override);
			if (sa->sa_family == AF_INET)
				((struct sockaddr_in *)sa)->sin_port = p;
			else
				((struct sockaddr_in6 *)sa)->sin6_port = p;
			addr_format(sa, cfg->listen[i].text,
				    sizeof(cfg->listen[i].text));
		}
	}
	for (size_t i = 0; i < node_size(pm); i++) {
		const char *key = node_scalar(node_key(pm, i));
		const struct pmx_node *v = node_at(pm, i);

		if (strcmp(key, "on_timeout") == 0 &&
		    parse_target(cfg, v, &cfg->on_timeout, err, errlen) < 0)
			return -1;
		if (strcmp(key, "fallback") == 0 &&
		    parse_target(cfg, v, &cfg->fallback, err, errlen) < 0)
			return -1;
	}
	return 0;
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
	cfg->probe_timeout = DEFAULT_PROBE_TIMEOUT;
	cfg->probe_deadline = DEFAULT_PROBE_DEADLINE;
	cfg->connect_timeout = DEFAULT_CONNECT_TIMEOUT;
	cfg->probe_buffer = DEFAULT_PROBE_BUFFER;
	cfg->max_connections = DEFAULT_MAX_CONNECTIONS;
	cfg->probe_threads = DEFAULT_PROBE_THREADS;
	cfg->udp_timeout = DEFAULT_UDP_TIMEOUT;
	cfg->udp_max_flows = DEFAULT_UDP_MAX_FLOWS;
	cfg->udp = -1;
	cfg->workers = 0; /* auto */
	cfg->shutdown_timeout = DEFAULT_SHUTDOWN_TIMEOUT;
	cfg->resolve_interval = DEFAULT_RESOLVE_INTERVAL;
	cfg->idle_timeout = 0; /* off: an idle SSH session is not dead */
	cfg->tcp_keepalive = 1;
	cfg->log_level = -1;

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
