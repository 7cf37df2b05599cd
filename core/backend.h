/* backend.h — where a connection goes: a host and port with its current
 * addresses, and how to treat the connection (priority, PROXY protocol,
 * idle timeout).
 *
 * Two kinds, two free paths:
 *  - configured backends live inside a route (route.h) or a target
 *    (config.h), are filled by backend_parse() and emptied by
 *    backend_clear() when their generation goes;
 *  - a detector's explicit answer ("host:port") is a backend of its own,
 *    made by backend_new() for one connection or flow and freed by
 *    backend_destroy() when that ends. */
#ifndef PMX_BACKEND_H
#define PMX_BACKEND_H

#include <stdint.h>

#include "addr.h"
#include "bind_source.h"
#include "cidr.h"
#include "yaml_tree.h"

#define BACKEND_MAX_ADDRS 8

enum priority { PRIO_LATENCY = 0, PRIO_THROUGHPUT = 1, PRIO_BOTH = 2 };

/* How a connection's bytes are moved (`relay:`): auto by priority (copy
 * for latency, splice once bulk flows otherwise), always copy, splice for
 * bulk whatever the priority, or inside the kernel (relay_kernel.h; splice
 * and copy where it cannot be loaded). */
enum relay_mode {
	RELAY_AUTO = 0,
	RELAY_COPY = 1,
	RELAY_SPLICE = 2,
	RELAY_KERNEL = 3,
};

/* A backend's addresses at one moment, tried in order. Immutable once
 * published. */
struct addr_set {
	int n;
	struct addr a[BACKEND_MAX_ADDRS];
	struct addr_set *older; /* sets retired before this one */
	double retired_at;      /* monotonic seconds; 0 while current */
};

struct backend {
	char *text; /* "host:port" as configured, for logs */
	char *host;
	uint16_t port;
	enum priority priority;
	uint8_t proxy_protocol; /* 0, or PROXY protocol version 1 / 2 */
	uint8_t idle_set;       /* idle_timeout was configured for this
				   route: it overrides PORTMUX's */
	double idle_timeout;    /* seconds (0: never), if idle_set */
	uint8_t named;          /* host is a name: re-resolved from time to
				   time (resolve.c) */
	uint8_t unresolved;     /* the last look-up failed (resolve.c) */
	int8_t transparent;     /* connect from the client's address: 1 yes,
				   0 no, -1 as PORTMUX.transparent */
	int8_t relay;           /* enum relay_mode, -1 as PORTMUX.relay */
	uint8_t fastopen;       /* TCP Fast Open: the probe bytes ride on
				   the SYN once the kernel holds a cookie
				   from this backend (conn_relay.c) */
	/* Local addresses to connect from (`source`; none: PORTMUX's, or the
	 * kernel's choice). Owned: backend_clear frees them. */
	struct bind_sources sources;
	/* Who may be sent here (mapping form `allow` / `deny`): judged after
	 * detection, a client it refuses has no route. */
	struct cidr_list allow, deny;
	/* Current addresses; read with backend_addrs(). A re-resolution
	 * publishes a new set and keeps the old one alive as long as a
	 * connection may still be trying it (backend_set_addrs) — no locks on
	 * the connect path. */
	struct addr_set *addrs;
};

/* The current address set (an acquire load: safe from any thread). */
static inline const struct addr_set *
backend_addrs(const struct backend *b)
{
	return __atomic_load_n(&b->addrs, __ATOMIC_ACQUIRE);
}

/*
 * Publish `set` as b's addresses at monotonic time `now`. The previous set
 * is retired: a connection that read it just before may still walk it, for
 * at most `grace` seconds (its connect attempts: BACKEND_MAX_ADDRS times
 * connect_timeout); sets retired longer ago than that are freed here, so
 * a name whose answer keeps changing (round-robin DNS) holds a bounded
 * number of sets. Only one thread may replace a backend's set at a time.
 */
void backend_set_addrs(struct backend *b, struct addr_set *set, double now,
		       double grace);
/* Sets b still keeps: the current one and those retired within grace. */
int backend_nsets(const struct backend *b);

/*
 * Parse a configured backend into *out: a port number, "host:port" /
 * "[v6]:port", or a mapping {port, host, priority, proxy_protocol, allow,
 * deny, transparent, source, idle_timeout, relay, fastopen} (and
 * `alpn` when `allow_alpn`: stored in *alpn, which the caller frees).
 * Resolves names (blocking). 0, or -1 with a located message in err.
 */
int backend_parse(const struct pmx_node *node, struct backend *out,
		  int allow_alpn, char **alpn, char *err, size_t errlen);
/* May the client at `sa` be sent to b (its allow / deny)? */
static inline int
backend_admits(const struct backend *b, const struct sockaddr *sa)
{
	return cidr_allowed(&b->allow, &b->deny, sa);
}

/* A `relay:` value: auto, copy, splice or kernel. 0, or -1 with a
 * located message in err. */
int backend_parse_relay(const struct pmx_node *node, int *out, char *err,
			size_t errlen);

/* Free what a parsed backend holds (not *b itself). */
void backend_clear(struct backend *b);

/*
 * A backend of its own from "host:port" / "[v6]:port" text (a detector's
 * explicit answer). A host name is resolved only when `may_block` (off the
 * event loop); otherwise only addresses (and localhost) are accepted.
 * NULL with a message in err.
 */
struct backend *backend_new(const char *text, int may_block, char *err,
			    size_t errlen);
void backend_destroy(struct backend *b);

#endif
