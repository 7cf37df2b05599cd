/* route.c — route tables: parsing and lookup. */
#include "route.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "portmux/detector.h"

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

static void
route_free(struct route *r)
{
	for (size_t i = 0; i < r->nchoices; i++) {
		free(r->choices[i].alpn);
		backend_clear(&r->choices[i].backend);
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
route_find(const struct route_table *t, const char *key, const char *alpn,
	   const struct route **matched)
{
	char norm[PMX_KEY_MAX];
	const struct route *found = NULL;
	const struct backend *b = NULL;
	int len;

	if (t == NULL)
		goto out;
	/* A key that fills the detector's buffer may have been cut short:
	 * never match a route on part of a name. */
	len = strlen(key) >= PMX_KEY_MAX - 1
		      ? -1
		      : route_normalize(key, strlen(key), norm, sizeof(norm));
	if (len > 0) {
		struct route probe = {.key = norm};
		const struct route *r = bsearch(&probe, t->exact, t->nexact,
						sizeof(*t->exact), cmp_exact);
		if (r != NULL && (b = route_pick(r, alpn)) != NULL) {
			found = r;
			goto out;
		}
		for (size_t i = 0; i < t->nwild; i++) {
			size_t kl = strlen(t->wild[i].key);
			/* ".example.com" needs at least one label before. */
			if ((size_t)len > kl &&
			    strcmp(norm + len - kl, t->wild[i].key) == 0 &&
			    (b = route_pick(&t->wild[i], alpn)) != NULL) {
				found = &t->wild[i];
				goto out;
			}
		}
	}
	if (t->dflt && (b = route_pick(t->dflt, alpn)) != NULL)
		found = t->dflt;
out:
	if (matched != NULL)
		*matched = found;
	return b;
}

const struct backend *
route_lookup(const struct route_table *t, const char *key, const char *alpn)
{
	return route_find(t, key, alpn, NULL);
}

int
route_has_key(const struct route_table *t, const char *key)
{
	struct route probe = {.key = (char *)(uintptr_t)key};

	return bsearch(&probe, t->exact, t->nexact, sizeof(*t->exact),
		       cmp_exact) != NULL;
}
