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
/* A new backend socket, before connect(): Nagle per priority and, with
 * `keepalive`, the same keepalive probes as client connections (a
 * backend host that vanished does not hold the connection forever). */
void sockopt_backend(int fd, enum priority p, int keepalive);
/* An accepted client socket, once its route is known. */
void sockopt_client(int fd, enum priority p);

#endif
