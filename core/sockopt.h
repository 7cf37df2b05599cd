/* sockopt.h — socket options per route priority (DESIGN §4). Options every
 * client connection gets are set once on the listening socket (accepted
 * sockets inherit them), so the common case costs no syscall at all. */
#ifndef PMX_SOCKOPT_H
#define PMX_SOCKOPT_H

#include <sys/socket.h>

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
/* Does priority p want TCP_NODELAY (no Nagle delay)? latency and both
 * do; throughput lets Nagle gather small writes. Sockets get it before
 * their second write (relay.h side_nodelay_later). */
int sockopt_wants_nodelay(enum priority p);
void sockopt_nodelay(int fd, int on);
/* The same TCP keepalive probes as client connections (a backend host
 * that vanished does not hold the connection forever): four setsockopt()
 * calls, so conn_keepalive.c sets them only on connections that live long
 * enough to need them. */
void sockopt_keepalive(int fd);

/* SO_SNDBUF and SO_RCVBUF of a relayed socket: 0 leaves them to the
 * kernel's autotuning. bench/bulktune.sh measured fixed 1 MiB buffers 1.1x
 * faster on one loopback stream, no faster on four, for 1.3-1.4x the relay
 * CPU per GB, and they would cap far clients (README "Priority
 * settings"). -DRELAY_SNDBUF=N and -DRELAY_RCVBUF=N fix them, to measure
 * again; with the defaults this compiles to nothing. */
#ifndef RELAY_SNDBUF
#define RELAY_SNDBUF 0
#endif
#ifndef RELAY_RCVBUF
#define RELAY_RCVBUF 0
#endif
static inline void
sockopt_relay_buffers(int fd)
{
	int snd = RELAY_SNDBUF, rcv = RELAY_RCVBUF;

	if (snd > 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
	if (rcv > 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
}
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
struct config;
/*
 * Where connections to backend b come from: the route's own `transparent`
 * or `source` wins over PORTMUX's. *transparent says whether from the
 * client's address; the result is the sources to bind to (NULL: none, the
 * kernel's choice or the client's address).
 */
const struct bind_sources *sockopt_origin(const struct backend *b,
					  const struct config *cfg,
					  int *transparent);
/*
 * TCP Fast Open towards a backend (its route's `fastopen: true`): the
 * first bytes go in the SYN, sent with sendto(MSG_FASTOPEN) in place of
 * connect(). The kernel puts them there once it holds a cookie from that
 * backend address; before (the first connection, which asks for one) it
 * sends a plain SYN and none of them. The bytes are the caller's.
 */
struct sockopt_fastopen {
	const void *data;
	size_t len;
	size_t sent;      /* out: how many went with the SYN (0: none) */
	int unsupported;  /* out: net.ipv4.tcp_fastopen lacks the client
			     bit (1); connect() was used */
};
/*
 * A socket of `type` (SOCK_STREAM, SOCK_DGRAM) to address a, connect()
 * started (or, with fo for a SOCK_STREAM, fo's bytes sent with the SYN):
 * it comes from `client` when not NULL (transparent), else from one of
 * `src` when not NULL — each call starting at source *turn, which it
 * advances, and a source whose ports towards a are all taken giving way to
 * the next. The fd, or -1 with errno (EAFNOSUPPORT: no source of a's
 * family).
 */
int sockopt_origin_socket(const struct addr *a, int type,
			  const struct sockaddr *client,
			  const struct bind_sources *src, unsigned *turn,
			  struct sockopt_fastopen *fo);

#endif
