/* sockopt.h — socket options per route priority (DESIGN §4). Options every
 * client connection gets are set once on the listening socket (accepted
 * sockets inherit them), so the common case costs no syscall at all. */
#ifndef PMX_SOCKOPT_H
#define PMX_SOCKOPT_H

#include "route.h"

/* A listening socket: no Nagle delay (the default priority, `both`, wants
 * it) and, with `keepalive`, TCP keepalive probes on what it accepts. */
void sockopt_listener(int fd, int keepalive);
/* A new backend socket, before connect(). */
void sockopt_backend(int fd, enum priority p);
/* An accepted client socket, once its route is known. */
void sockopt_client(int fd, enum priority p);

#endif
