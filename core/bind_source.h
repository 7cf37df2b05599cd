/* bind_source.h — the local addresses PortMux's own connections to a
 * backend come from (`source:` on a route, or in PORTMUX for every route).
 * Each new backend socket is bound to one of them, taken in turn, with its
 * port left to connect() (IP_BIND_ADDRESS_NO_PORT): every (source, backend
 * address) pair then has the whole ephemeral port range, and a source whose
 * ports towards that backend address are all taken (connect() says
 * EADDRNOTAVAIL) gives way to the next one (sockopt_origin_socket, for
 * TCP and UDP). Without `source` the kernel picks the route's address.
 *
 * Ownership: a parsed list belongs to the route or config holding it and
 * is freed by bind_sources_clear(). */
#ifndef PMX_BIND_SOURCE_H
#define PMX_BIND_SOURCE_H

#include "addr.h"
#include "yaml_tree.h"

#define BIND_SOURCES_MAX 64

struct bind_sources {
	struct addr *a; /* owned: n addresses, port 0 */
	unsigned n;
};

/*
 * Parse `source`: one address ("10.0.0.2", "2001:db8::2") or a list of
 * them, each an address of this host (checked by binding a socket to it,
 * so a typo or an address that went away is an error at start-up or
 * reload, not a failed connection later). `what` names the key in
 * messages. 0, or -1 with a located message in err.
 */
int bind_sources_parse(const struct pmx_node *node, const char *what,
		       struct bind_sources *out, char *err, size_t errlen);
void bind_sources_clear(struct bind_sources *s);
/* Has s an address of this family (AF_INET, AF_INET6)? */
int bind_sources_has_family(const struct bind_sources *s, int family);
/* Bind fd (before connect()) to src, the port left to connect(). 0, or
 * -1 with errno. */
int bind_source(int fd, const struct addr *src);

#endif
