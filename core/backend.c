/* backend.c — configured backends (parsed from YAML) and a detector's
 * explicit ones (from "host:port" text). */
#include "backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "suggest.h"

static const char *const priority_names[] = {"latency", "throughput", "both"};
static const char *const relay_names[] = {"auto", "copy", "splice", "kernel"};

void
backend_set_addrs(struct backend *b, struct addr_set *set, double now,
		  double grace)
{
	struct addr_set *old = b->addrs, **pp;

	set->older = old;
	set->retired_at = 0;
	old->retired_at = now;
	__atomic_store_n(&b->addrs, set, __ATOMIC_RELEASE);
	/* Newest first: from the first set retired too long ago, no reader
	 * can be left on any. */
	for (pp = &old->older; *pp != NULL && (*pp)->retired_at + grace > now;
	     pp = &(*pp)->older)
		;
	while (*pp != NULL) {
		struct addr_set *gone = *pp;
		*pp = gone->older;
		free(gone);
	}
}

int
backend_nsets(const struct backend *b)
{
	int n = 0;

	for (const struct addr_set *s = b->addrs; s != NULL; s = s->older)
		n++;
	return n;
}

void
backend_clear(struct backend *b)
{
	if (b == NULL)
		return;
	while (b->addrs != NULL) {
		struct addr_set *older = b->addrs->older;
		free(b->addrs);
		b->addrs = older;
	}
	free(b->text);
	free(b->host);
	b->text = b->host = NULL;
	cidr_list_clear(&b->allow);
	cidr_list_clear(&b->deny);
	bind_sources_clear(&b->sources);
}

void
backend_destroy(struct backend *b)
{
	backend_clear(b);
	free(b);
}

/* ---- configured backends ---- */

static int
parse_priority(const struct pmx_node *node, enum priority *out, char *err,
	       size_t errlen)
{
	const char *s;

	if (node_string(node, &s, err, errlen) < 0)
		return -1;
	for (int i = 0; i < 3; i++) {
		if (strcasecmp(s, priority_names[i]) == 0) {
			*out = (enum priority)i;
			return 0;
		}
	}
	return node_error(node, err, errlen,
			  "unknown priority '%s' (expected latency, "
			  "throughput or both)",
			  s);
}

int
backend_parse_relay(const struct pmx_node *node, int *out, char *err,
		    size_t errlen)
{
	const char *s;

	if (node_string(node, &s, err, errlen) < 0)
		return -1;
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, relay_names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return node_error(node, err, errlen,
			  "relay: unknown mode '%s' (expected auto, copy, "
			  "splice or kernel)",
			  s);
}

static int
parse_proxy_protocol(const struct pmx_node *node, uint8_t *out, char *err,
		     size_t errlen)
{
	const char *pp;

	if (node_string(node, &pp, err, errlen) < 0)
		return -1;
	if (strcmp(pp, "v1") == 0)
		*out = 1;
	else if (strcmp(pp, "v2") == 0)
		*out = 2;
	else if (strcmp(pp, "none") == 0)
		*out = 0;
	else
		return node_error(node, err, errlen,
				  "proxy_protocol: expected v1, v2 or none, "
				  "found '%s'",
				  pp);
	return 0;
}

/* Host and port from a scalar: "22", "host:port", "[v6]:port". */
static int
parse_host_port(const struct pmx_node *node, char *host, size_t hostlen,
		long *port, char *err, size_t errlen)
{
	char msg[256];

	if (addr_split(node_scalar(node), host, hostlen, port, msg,
		       sizeof(msg)) < 0)
		return node_error(node, err, errlen, "%s", msg);
	return 0;
}

/* The mapping form: {port, host, priority, proxy_protocol, allow, deny,
 * transparent, source, idle_timeout, relay, fastopen, alpn}. */
static int
parse_map(const struct pmx_node *node, char *host, size_t hostlen,
	  long *port, struct backend *out, int allow_alpn, char **alpn,
	  char *err, size_t errlen)
{
	for (size_t i = 0; i < node_size(node); i++) {
		const struct pmx_node *k = node_key(node, i);
		const struct pmx_node *v = node_at(node, i);
		const char *key = node_scalar(k);
		long p = 0;
		const char *s;
		int rc;

		if (strcmp(key, "port") == 0) {
			rc = node_long(v, 1, 65535, port, err, errlen);
		} else if (strcmp(key, "host") == 0) {
			if (node_kind(v) != PMX_NODE_SCALAR)
				return node_error(v, err, errlen,
						  "host: expected a name or "
						  "address, found %s",
						  node_kind_name(v));
			rc = parse_host_port(v, host, hostlen, &p, err,
					     errlen);
			if (rc == 0 && p != 0 && *port == 0)
				*port = p;
		} else if (strcmp(key, "priority") == 0) {
			rc = parse_priority(v, &out->priority, err, errlen);
		} else if (strcmp(key, "proxy_protocol") == 0) {
			rc = parse_proxy_protocol(v, &out->proxy_protocol, err,
						  errlen);
		} else if (strcmp(key, "transparent") == 0) {
			int on;
			rc = node_bool(v, &on, err, errlen);
			out->transparent = (int8_t)on;
		} else if (strcmp(key, "source") == 0) {
			rc = bind_sources_parse(v, "source", &out->sources,
						err, errlen);
		} else if (strcmp(key, "allow") == 0) {
			rc = cidr_list_parse(v, "allow", &out->allow, err,
					     errlen);
		} else if (strcmp(key, "deny") == 0) {
			rc = cidr_list_parse(v, "deny", &out->deny, err,
					     errlen);
		} else if (strcmp(key, "idle_timeout") == 0) {
			rc = node_double(v, 0, 86400, &out->idle_timeout, err,
					 errlen);
			out->idle_set = 1;
		} else if (strcmp(key, "relay") == 0) {
			int mode = -1;
			rc = backend_parse_relay(v, &mode, err, errlen);
			out->relay = (int8_t)mode;
		} else if (strcmp(key, "fastopen") == 0) {
			int on = 0;
			rc = node_bool(v, &on, err, errlen);
			out->fastopen = (uint8_t)on;
		} else if (strcmp(key, "alpn") == 0 && allow_alpn) {
			rc = node_string(v, &s, err, errlen);
			if (rc == 0) {
				free(*alpn);
				*alpn = strdup(s);
			}
		} else {
			static const char *const keys[] = {
				"port", "host", "priority", "proxy_protocol",
				"allow", "deny", "transparent", "source",
				"idle_timeout", "relay", "fastopen", "alpn",
			};
			char near[96];

			suggest_text(near, sizeof(near), key, keys,
				     sizeof(keys) / sizeof(keys[0]) -
					     !allow_alpn,
				     sizeof(keys[0]));
			return node_error(k, err, errlen,
					  "unknown key '%s' in a route "
					  "(expected port, host, priority, "
					  "proxy_protocol, allow, deny, "
					  "transparent, source, idle_timeout, "
					  "relay, fastopen%s)%s",
					  key, allow_alpn ? ", alpn" : "",
					  near);
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* Text for logs: "host:port", "[v6]:port". */
static char *
backend_text(const char *host, uint16_t port)
{
	char text[300];

	snprintf(text, sizeof(text), strchr(host, ':') ? "[%s]:%u" : "%s:%u",
		 host, port);
	return strdup(text);
}

/* Resolve host into out's first address set and name it. */
static int
resolve_into(struct backend *out, const char *host, char *err,
	     size_t errlen)
{
	struct addr literal;
	int n;

	out->addrs = calloc(1, sizeof(*out->addrs));
	if (out->addrs == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n = addr_resolve(host, out->port, out->addrs->a, BACKEND_MAX_ADDRS,
			 err, errlen);
	if (n < 0) {
		free(out->addrs);
		out->addrs = NULL;
		return -1;
	}
	out->addrs->n = n;
	out->named = addr_from_literal(host, 0, &literal) < 0;
	out->host = strdup(host);
	out->text = backend_text(host, out->port);
	return 0;
}

/* `source` fits the rest of the route: not with `transparent: true` (the
 * client's address is the source then), and of a family some address of
 * the backend has. */
static int
check_sources(const struct pmx_node *node, const struct backend *b,
	      char *err, size_t errlen)
{
	const struct addr_set *set = b->addrs;

	if (b->sources.n == 0)
		return 0;
	if (b->transparent > 0)
		return node_error(node, err, errlen,
				  "use either transparent: true or source "
				  "in a route, not both");
	for (int i = 0; i < set->n; i++)
		if (bind_sources_has_family(&b->sources,
					    set->a[i].ss.ss_family))
			return 0;
	return node_error(node, err, errlen,
			  "source: no address of the same family (IPv4 / "
			  "IPv6) as %s's",
			  b->text);
}

int
backend_parse(const struct pmx_node *node, struct backend *out,
	      int allow_alpn, char **alpn, char *err, size_t errlen)
{
	char host[256] = "";
	char msg[256];
	long port = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	out->priority = PRIO_BOTH;
	out->transparent = -1;
	out->relay = -1;
	if (alpn)
		*alpn = NULL;
	switch (node_kind(node)) {
	case PMX_NODE_SCALAR:
		rc = parse_host_port(node, host, sizeof(host), &port, err,
				     errlen);
		break;
	case PMX_NODE_MAP:
		rc = parse_map(node, host, sizeof(host), &port, out,
			       allow_alpn, alpn, err, errlen);
		break;
	default:
		return node_error(node, err, errlen,
				  "expected a port, \"host:port\" or a mapping "
				  "with port, found %s",
				  node_kind_name(node));
	}
	if (rc == 0 && port == 0)
		rc = node_error(node, err, errlen, "route has no port");
	if (rc == 0) {
		if (host[0] == '\0')
			snprintf(host, sizeof(host), "127.0.0.1");
		out->port = (uint16_t)port;
		if (resolve_into(out, host, msg, sizeof(msg)) < 0)
			rc = node_error(node, err, errlen, "%s", msg);
	}
	if (rc == 0)
		rc = check_sources(node, out, err, errlen);
	if (rc < 0) {
		backend_clear(out);
		if (alpn) {
			free(*alpn);
			*alpn = NULL;
		}
	}
	return rc;
}

/* ---- a detector's explicit answer ---- */

struct backend *
backend_new(const char *text, int may_block, char *err, size_t errlen)
{
	struct backend *b;
	char host[256];
	long port;
	int n;

	if (addr_split(text, host, sizeof(host), &port, err, errlen) < 0)
		return NULL;
	if (port == 0) {
		snprintf(err, errlen, "no port");
		return NULL;
	}
	if (host[0] == '\0' || strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	b = calloc(1, sizeof(*b));
	if (b == NULL || (b->addrs = calloc(1, sizeof(*b->addrs))) == NULL) {
		free(b);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b->priority = PRIO_BOTH;
	b->transparent = -1;
	b->relay = -1;
	b->port = (uint16_t)port;
	if (addr_from_literal(host, b->port, &b->addrs->a[0]) == 0) {
		n = 1;
	} else if (!may_block) {
		snprintf(err, errlen,
			 "'%s' is a name: only a blocking detector's answer "
			 "is resolved (off the event loop)",
			 host);
		n = -1;
	} else {
		n = addr_resolve(host, b->port, b->addrs->a, BACKEND_MAX_ADDRS,
				 err, errlen);
	}
	if (n < 0) {
		backend_destroy(b);
		return NULL;
	}
	b->addrs->n = n;
	b->host = strdup(host);
	b->text = strdup(text);
	if (b->host == NULL || b->text == NULL) {
		backend_destroy(b);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return b;
}
