/* sockopt.h — socket options per route priority (DESIGN §4). */
#ifndef PMX_SOCKOPT_H
#define PMX_SOCKOPT_H

#include "route.h"

/* A new backend socket, before connect(). */
void sockopt_backend(int fd, enum priority p, int keepalive);
/* The client socket, once its route is known. */
void sockopt_client(int fd, enum priority p, int keepalive);

#endif
