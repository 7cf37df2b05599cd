/* route.h — backends and per-section route tables: key -> backend.
 * Lookup: exact key, then the longest "*.suffix" wildcard, then "default".
 * Keys are compared after normalisation (case, trailing dot, :port,
 * [brackets]). A route may hold several choices conditioned on an ALPN
 * value; the first whose condition holds wins. */
#ifndef PMX_ROUTE_H
#define PMX_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "yaml_tree.h"

#define BACKEND_MAX_ADDRS 8

enum priority { PRIO_LATENCY = 0, PRIO_THROUGHPUT = 1, PRIO_BOTH = 2 };

/* A backend's addresses at one moment, tried in order. Immutable once
 * published. */
struct addr_set {
	int n;
	struct addr a[BACKEND_MAX_ADDRS];
	struct addr_set *older; /* retired sets, freed with the backend */
};

struct backend {
	char *text; /* "host:port" as configured, for logs */
	char *host;
	uint16_t port;
	enum priority priority;
	uint8_t proxy_protocol; /* 0, or PROXY protocol version 1 / 2 */
	uint8_t named;          /* host is a name: re-resolved from time to
				   time (resolve.c) */
	uint8_t unresolved;     /* the last look-up failed (resolve.c) */
	/* Current addresses; read with backend_addrs(). A re-resolution
	 * publishes a new set and keeps the old one alive until the backend
	 * (its generation) is freed, so a connection still trying an old set
	 * never sees it freed — no locks on the connect path. */
	struct addr_set *addrs;
};

/* The current address set (an acquire load: safe from any thread). */
static inline const struct addr_set *
backend_addrs(const struct backend *b)
{
	return __atomic_load_n(&b->addrs, __ATOMIC_ACQUIRE);
}

/* Publish `set` as b's addresses; the previous set is retired (kept until
 * backend_free). Only one thread may replace a backend's set at a time. */
void backend_set_addrs(struct backend *b, struct addr_set *set);

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

/*
 * Parse a backend: a port number, "host:port" / "[v6]:port", or a mapping
 * {port, host, priority}. `allow_alpn` lets a mapping carry `alpn:` (stored
 * in *alpn, which the caller frees). Resolves names (blocking).
 */
int backend_parse(const struct pmx_node *node, struct backend *out,
		  int allow_alpn, char **alpn, char *err, size_t errlen);
void backend_free(struct backend *b);
const char *priority_name(enum priority p);

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

/* Does the table have an exact route for `key`? */
int route_has_key(const struct route_table *t, const char *key);

/* A backend from "host:port" / "[v6]:port" text (a detector's explicit
 * answer). A host name is resolved only when `may_block` (off the event
 * loop); otherwise only addresses (and localhost) are accepted. */
int backend_from_text(const char *text, int may_block, struct backend *out,
		      char *err, size_t errlen);

#endif
