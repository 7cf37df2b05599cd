/* route.c — backend parsing and route lookup. */
#include "route.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "portmux/detector.h"

static const char *const priority_names[] = {"latency", "throughput", "both"};

const char *
priority_name(enum priority p)
{
	return priority_names[p];
}

int
route_normalize(const char *in, size_t len, char *out, size_t outlen)
{
	size_t start = 0, end = len, n;

	while (start < end && isspace((unsigned char)in[start]))
		start++;
	while (end > start && isspace((unsigned char)in[end - 1]))
		end--;
	if (start < end && in[start] == '[') {
		/* [v6]:port or [v6] */
		const char *close = memchr(in + start, ']', end - start);
		if (close != NULL) {
			end = (size_t)(close - in);
			start++;
		}
	} else {
		const char *colon = memchr(in + start, ':', end - start);
		/* One colon: host:port. Several: a bare IPv6 literal. */
		if (colon != NULL &&
		    memchr(colon + 1, ':', end - (size_t)(colon + 1 - in)) ==
			    NULL)
			end = (size_t)(colon - in);
	}
	if (end > start && in[end - 1] == '.')
		end--;
	n = end - start;
	if (n + 1 > outlen)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)in[start + i];
		/* Client-supplied: a control character or a space can be no
		 * part of a name we route on. */
		if (ch <= 0x20 || ch == 0x7f)
			return -1;
		out[i] = (char)tolower(ch);
	}
	out[n] = '\0';
	return (int)n;
}

void
backend_set_addrs(struct backend *b, struct addr_set *set)
{
	set->older = b->addrs;
	__atomic_store_n(&b->addrs, set, __ATOMIC_RELEASE);
}

void
backend_free(struct backend *b)
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
}

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

/* Fill out->host/port from a scalar: "22", "host:port", "[v6]:port". */
static int
parse_target_text(const struct pmx_node *node, char *host, size_t hostlen,
		  long *port, char *err, size_t errlen)
{
	char msg[256];

	if (addr_split(node_scalar(node), host, hostlen, port, msg,
		       sizeof(msg)) < 0)
		return node_error(node, err, errlen, "%s", msg);
	return 0;
}

int
backend_parse(const struct pmx_node *node, struct backend *out,
	      int allow_alpn, char **alpn, char *err, size_t errlen)
{
	char host[256] = "";
	long port = 0;
	char msg[256];
	int n;

	memset(out, 0, sizeof(*out));
	out->priority = PRIO_BOTH;
	if (alpn)
		*alpn = NULL;
	switch (node_kind(node)) {
	case PMX_NODE_SCALAR:
		if (parse_target_text(node, host, sizeof(host), &port, err,
				      errlen) < 0)
			return -1;
		break;
	case PMX_NODE_MAP:
		for (size_t i = 0; i < node_size(node); i++) {
			const struct pmx_node *k = node_key(node, i);
			const struct pmx_node *v = node_at(node, i);
			const char *key = node_scalar(k);

			if (strcmp(key, "port") == 0) {
				if (node_long(v, 1, 65535, &port, err,
					      errlen) < 0)
					return -1;
			} else if (strcmp(key, "host") == 0) {
				long p = 0;
				if (node_kind(v) != PMX_NODE_SCALAR)
					return node_error(
						v, err, errlen,
						"host: expected a name or "
						"address, found %s",
						node_kind_name(v));
				if (parse_target_text(v, host, sizeof(host), &p,
						      err, errlen) < 0)
					return -1;
				if (p != 0 && port == 0)
					port = p;
			} else if (strcmp(key, "priority") == 0) {
				if (parse_priority(v, &out->priority, err,
						   errlen) < 0)
					return -1;
			} else if (strcmp(key, "proxy_protocol") == 0) {
				const char *pp;
				if (node_string(v, &pp, err, errlen) < 0)
					return -1;
				if (strcmp(pp, "v1") == 0)
					out->proxy_protocol = 1;
				else if (strcmp(pp, "v2") == 0)
					out->proxy_protocol = 2;
				else if (strcmp(pp, "none") == 0)
					out->proxy_protocol = 0;
				else
					return node_error(v, err, errlen,
							  "proxy_protocol: "
							  "expected v1, v2 or "
							  "none, found '%s'",
							  pp);
			} else if (strcmp(key, "alpn") == 0 && allow_alpn) {
				const char *s;
				if (node_string(v, &s, err, errlen) < 0)
					return -1;
				free(*alpn);
				*alpn = strdup(s);
			} else {
				return node_error(
					k, err, errlen,
					"unknown key '%s' in a route (expected "
					"port, host, priority, "
					"proxy_protocol%s)",
					key, allow_alpn ? ", alpn" : "");
			}
		}
		if (port == 0)
			return node_error(node, err, errlen,
					  "route has no port");
		break;
	default:
		return node_error(node, err, errlen,
				  "expected a port, \"host:port\" or a mapping "
				  "with port, found %s",
				  node_kind_name(node));
	}
	if (port == 0)
		return node_error(node, err, errlen, "route has no port");
	if (host[0] == '\0')
		snprintf(host, sizeof(host), "127.0.0.1");
	out->port = (uint16_t)port;
	out->addrs = calloc(1, sizeof(*out->addrs));
	if (out->addrs == NULL) {
		snprintf(msg, sizeof(msg), "out of memory");
		n = -1;
	} else {
		n = addr_resolve(host, out->port, out->addrs->a,
				 BACKEND_MAX_ADDRS, msg, sizeof(msg));
	}
	if (n < 0) {
		if (alpn) {
			free(*alpn);
			*alpn = NULL;
		}
		free(out->addrs);
		out->addrs = NULL;
		return node_error(node, err, errlen, "%s", msg);
	}
	out->addrs->n = n;
	{
		struct addr probe;
		out->named = addr_from_literal(host, 0, &probe) < 0;
	}
	out->host = strdup(host);
	{
		char text[300];
		snprintf(text, sizeof(text), strchr(host, ':') ? "[%s]:%u"
							       : "%s:%u",
			 host, out->port);
		out->text = strdup(text);
	}
	return 0;
}

static void
route_free(struct route *r)
{
	for (size_t i = 0; i < r->nchoices; i++) {
		free(r->choices[i].alpn);
		backend_free(&r->choices[i].backend);
	}
	free(r->choices);
	free(r->key);
}

void
route_table_free(struct route_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nexact; i++)
		route_free(&t->exact[i]);
	for (size_t i = 0; i < t->nwild; i++)
		route_free(&t->wild[i]);
	if (t->dflt)
		route_free(t->dflt);
	free(t->exact);
	free(t->wild);
	free(t->dflt);
	free(t->section);
	free(t);
}

static int
parse_choices(const struct pmx_node *val, struct route *r, char *err,
	      size_t errlen)
{
	size_t n = node_kind(val) == PMX_NODE_SEQ ? node_size(val) : 1;

	if (n == 0)
		return node_error(val, err, errlen, "empty list of backends");
	r->choices = calloc(n, sizeof(*r->choices));
	if (r->choices == NULL)
		return node_error(val, err, errlen, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct pmx_node *item =
			node_kind(val) == PMX_NODE_SEQ ? node_at(val, i) : val;
		struct route_choice *c = &r->choices[i];

		if (backend_parse(item, &c->backend, 1, &c->alpn, err,
				  errlen) < 0)
			return -1;
		r->nchoices++;
		/* An unconditional choice ends the list: later ones could
		 * never be reached. */
		if (c->alpn == NULL && i + 1 < n)
			return node_error(node_at(val, i + 1), err, errlen,
					  "unreachable: the backend before it "
					  "has no alpn condition");
	}
	return 0;
}

static int
cmp_exact(const void *a, const void *b)
{
	return strcmp(((const struct route *)a)->key,
		      ((const struct route *)b)->key);
}

static int
cmp_wild(const void *a, const void *b)
{
	size_t la = strlen(((const struct route *)a)->key);
	size_t lb = strlen(((const struct route *)b)->key);

	return la < lb ? 1 : la > lb ? -1 : 0;
}

struct route_table *
route_table_parse(const char *section, const struct pmx_node *node, char *err,
		  size_t errlen)
{
	struct route_table *t = calloc(1, sizeof(*t));
	size_t n = node_size(node);

	if (t == NULL || (t->section = strdup(section)) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(t);
		return NULL;
	}
	if (node_kind(node) != PMX_NODE_MAP) {
		node_error(node, err, errlen,
			   "%s: expected a mapping of routes, found %s",
			   section, node_kind_name(node));
		goto fail;
	}
	t->exact = calloc(n, sizeof(*t->exact));
	t->wild = calloc(n, sizeof(*t->wild));
	if (n && (t->exact == NULL || t->wild == NULL)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		const struct pmx_node *k = node_key(node, i);
		const char *raw = node_scalar(k);
		char key[PMX_KEY_MAX];
		struct route r = {0};
		int wildcard = 0;

		if (raw == NULL || raw[0] == '\0') {
			node_error(k, err, errlen, "empty route name");
			goto fail;
		}
		if (strncmp(raw, "*.", 2) == 0) {
			wildcard = 1;
			raw++; /* keep the dot: ".example.com" */
		}
		if (route_normalize(raw, strlen(raw), key, sizeof(key)) <= 0 ||
		    (wildcard && strlen(key) < 2) ||
		    strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789-._:") !=
			    strlen(key)) {
			node_error(k, err, errlen, "bad route name '%s'",
				   node_scalar(k));
			goto fail;
		}
		r.line = k->line;
		r.key = strdup(key);
		if (r.key == NULL ||
		    parse_choices(node_at(node, i), &r, err, errlen) < 0) {
			route_free(&r);
			goto fail;
		}
		if (!wildcard && strcmp(key, "default") == 0) {
			if (t->dflt != NULL)
				goto dup;
			t->dflt = malloc(sizeof(*t->dflt));
			if (t->dflt == NULL) {
				route_free(&r);
				goto fail;
			}
			*t->dflt = r;
			continue;
		}
		struct route *list = wildcard ? t->wild : t->exact;
		size_t *count = wildcard ? &t->nwild : &t->nexact;
		for (size_t j = 0; j < *count; j++) {
			if (strcmp(list[j].key, key) == 0) {
				int first = list[j].line;
				route_free(&r);
				node_error(k, err, errlen,
					   "duplicate route '%s' (same as "
					   "line %d)",
					   node_scalar(k), first);
				goto fail;
			}
		}
		list[(*count)++] = r;
		continue;
dup:
		route_free(&r);
		node_error(k, err, errlen, "duplicate route 'default'");
		goto fail;
	}
	qsort(t->exact, t->nexact, sizeof(*t->exact), cmp_exact);
	qsort(t->wild, t->nwild, sizeof(*t->wild), cmp_wild);
	return t;
fail:
	route_table_free(t);
	return NULL;
}

/* Is `want` one of the comma-separated protocols in `list`? */
static int
alpn_offered(const char *list, const char *want)
{
	size_t wl = strlen(want);

	while (list != NULL && *list) {
		const char *comma = strchr(list, ',');
		size_t len = comma ? (size_t)(comma - list) : strlen(list);
		if (len == wl && memcmp(list, want, wl) == 0)
			return 1;
		list = comma ? comma + 1 : NULL;
	}
	return 0;
}

static const struct backend *
route_pick(const struct route *r, const char *alpn)
{
	for (size_t i = 0; i < r->nchoices; i++) {
		const struct route_choice *c = &r->choices[i];
		if (c->alpn == NULL || alpn_offered(alpn, c->alpn))
			return &c->backend;
	}
	return NULL;
}

const struct backend *
route_lookup(const struct route_table *t, const char *key, const char *alpn)
{
	char norm[PMX_KEY_MAX];
	const struct backend *b;
	int len;

	if (t == NULL)
		return NULL;
	/* A key that fills the detector's buffer may have been cut short:
	 * never match a route on part of a name. */
	if (strlen(key) >= PMX_KEY_MAX - 1)
		return t->dflt ? route_pick(t->dflt, alpn) : NULL;
	len = route_normalize(key, strlen(key), norm, sizeof(norm));
	if (len > 0) {
		struct route probe = {.key = norm};
		const struct route *r = bsearch(&probe, t->exact, t->nexact,
						sizeof(*t->exact), cmp_exact);
		if (r != NULL && (b = route_pick(r, alpn)) != NULL)
			return b;
		for (size_t i = 0; i < t->nwild; i++) {
			size_t kl = strlen(t->wild[i].key);
			/* ".example.com" needs at least one label before. */
			if ((size_t)len > kl &&
			    strcmp(norm + len - kl, t->wild[i].key) == 0 &&
			    (b = route_pick(&t->wild[i], alpn)) != NULL)
				return b;
		}
	}
	return t->dflt ? route_pick(t->dflt, alpn) : NULL;
}

int
backend_from_text(const char *text, int may_block, struct backend *out,
		  char *err, size_t errlen)
{
	char host[256];
	long port;
	int n;

	memset(out, 0, sizeof(*out));
	out->priority = PRIO_BOTH;
	if (addr_split(text, host, sizeof(host), &port, err, errlen) < 0)
		return -1;
	if (port == 0) {
		snprintf(err, errlen, "no port");
		return -1;
	}
	if (host[0] == '\0' || strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	out->addrs = calloc(1, sizeof(*out->addrs));
	if (out->addrs == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (addr_from_literal(host, (uint16_t)port, &out->addrs->a[0]) == 0) {
		n = 1;
	} else if (!may_block) {
		snprintf(err, errlen,
			 "'%s' is a name: only a blocking detector's answer "
			 "is resolved (off the event loop)",
			 host);
		backend_free(out);
		return -1;
	} else if ((n = addr_resolve(host, (uint16_t)port, out->addrs->a,
				     BACKEND_MAX_ADDRS, err, errlen)) < 0) {
		backend_free(out);
		return -1;
	}
	out->addrs->n = n;
	out->port = (uint16_t)port;
	out->host = strdup(host);
	out->text = strdup(text);
	if (out->host == NULL || out->text == NULL) {
		backend_free(out);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int
route_has_key(const struct route_table *t, const char *key)
{
	struct route probe = {.key = (char *)(uintptr_t)key};

	return bsearch(&probe, t->exact, t->nexact, sizeof(*t->exact),
		       cmp_exact) != NULL;
}
