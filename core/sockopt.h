/* sockopt.h — socket options per route priority (DESIGN §4). Options every
 * client connection gets are set once on the listening socket (accepted
 * sockets inherit them), so the common case costs no syscall at all. */
#ifndef PMX_SOCKOPT_H
#define PMX_SOCKOPT_H

#include "route.h"

/*
 * A non-blocking socket of `type` (SOCK_STREAM, SOCK_DGRAM) bound to `a`:
 * SO_REUSEADDR, SO_REUSEPORT when `shared` (several workers on one address:
 * the kernel spreads clients among them), IPv6-only for an IPv6 address (so
 * "0.0.0.0:P" and "[::]:P" can both be listed). Returns the fd, or -1 with
 * errno set.
 */
int sockopt_bound_socket(const struct addr *a, int type, int shared);

/* A listening socket: no Nagle delay (the default priority, `both`, wants
 * it) and, with `keepalive`, TCP keepalive probes on what it accepts. */
void sockopt_listener(int fd, int keepalive);
/* A new backend socket, before connect(): Nagle per priority. */
void sockopt_backend(int fd, enum priority p);
/* The same TCP keepalive probes as client connections (a backend host
 * that vanished does not hold the connection forever): four setsockopt()
 * calls, so conn_keepalive.c sets them only on connections that live long
 * enough to need them. */
void sockopt_keepalive(int fd);
/*
 * Transparent proxying: make a new backend socket (before connect()) come
 * from the client's own address `client` (IP_TRANSPARENT /
 * IPV6_TRANSPARENT, then bind to that address with a port of the
 * kernel's). Needs CAP_NET_ADMIN or CAP_NET_RAW, and routing that brings
 * the backend's answers back to this host (README). 0, or -1 with errno
 * (EAFNOSUPPORT when the client and the backend address are of different
 * families).
 */
int sockopt_transparent(int fd, const struct sockaddr *client);
/* Can this process make transparent sockets (CAP_NET_ADMIN or
 * CAP_NET_RAW)? */
int sockopt_transparent_allowed(void);
/* An accepted client socket, once its route is known. */
void sockopt_client(int fd, enum priority p);

#endif
