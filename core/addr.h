/* addr.h — socket addresses: parse "host:port" / "[v6]:port", format them,
 * resolve names. */
#ifndef PMX_ADDR_H
#define PMX_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADDR_TEXT_MAX 64 /* "[v6%scope]:65535" */

struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/*
 * Split "host:port", "[v6]:port", "v6-literal", "host" or "port" into host
 * and port. A missing part is left as "" / 0. Returns 0, or -1 with a
 * message (without location) in err.
 */
int addr_split(const char *text, char *host, size_t hostlen, long *port,
	       char *err, size_t errlen);

/* Numeric IPv4/IPv6 literal (no brackets) -> address. 0 or -1. */
int addr_from_literal(const char *host, uint16_t port, struct addr *out);

/* Resolve host (literal or name) to up to `max` addresses; blocking.
 * Returns the count (>0) or -1 with err. */
int addr_resolve(const char *host, uint16_t port, struct addr *out, int max,
		 char *err, size_t errlen);

/* Are a and b the same IPv4 or IPv6 address and port? */
int addr_same(const struct addr *a, const struct addr *b);

/* "1.2.3.4:5" or "[::1]:5". Returns buf. */
char *addr_format(const struct sockaddr *sa, char *buf, size_t len);

#endif
