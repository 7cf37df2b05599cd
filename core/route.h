/* route.h — per-section route tables: key -> backend (backend.h).
 * Lookup: exact key, then the longest "*.suffix" wildcard, then "default".
 * Keys are compared after normalisation (case, trailing dot, :port,
 * [brackets]). A route may hold several choices conditioned on an ALPN
 * value; the first whose condition holds wins. */
#ifndef PMX_ROUTE_H
#define PMX_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "yaml_tree.h"

struct route_choice {
	char *alpn; /* required ALPN protocol; NULL = any */
	struct backend backend;
};

struct route {
	char *key; /* normalised; for a wildcard the suffix ".example.com" */
	int line;  /* where it was configured, for messages */
	size_t nchoices;
	struct route_choice *choices;
};

struct route_table {
	char *section;
	struct route *exact; /* sorted by key */
	size_t nexact;
	struct route *wild; /* longest suffix first */
	size_t nwild;
	struct route *dflt; /* NULL when there is no "default" */
};

/*
 * Normalise a host-like key into out: lower case, "[v6]" brackets and a
 * ":port" removed, one trailing dot removed. Returns the length, or -1 if it
 * does not fit or holds a control character or a space.
 */
int route_normalize(const char *in, size_t len, char *out, size_t outlen);

/* Parse a section mapping into a route table. */
struct route_table *route_table_parse(const char *section,
				      const struct pmx_node *node, char *err,
				      size_t errlen);
void route_table_free(struct route_table *t);

/*
 * Find the backend for a raw key (Host, SNI, "" for default) and the
 * comma-separated ALPN list the client offered (may be NULL). NULL when no
 * route applies.
 */
const struct backend *route_lookup(const struct route_table *t,
				   const char *key, const char *alpn);

/* The same, and *matched (if not NULL) is the route it came from: an
 * entry of t's exact, wild or dflt (NULL with no backend). */
const struct backend *route_find(const struct route_table *t,
				 const char *key, const char *alpn,
				 const struct route **matched);

/* Does the table have an exact route for `key`? */
int route_has_key(const struct route_table *t, const char *key);

#endif
