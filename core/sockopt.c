/* sockopt.c — latency and both: no Nagle delay; throughput: Nagle on
 * (fewer, fuller segments), buffers left to the kernel's autotuning. */
#include "sockopt.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

int
sockopt_bound_socket(const struct addr *a, int type, int shared)
{
	const struct sockaddr *sa = (const struct sockaddr *)&a->ss;
	int one = 1;
	int fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if ((shared && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
				  sizeof(one)) < 0) ||
	    (sa->sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) <
		     0) ||
	    bind(fd, sa, a->len) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static int
wants_nodelay(enum priority p)
{
	return p == PRIO_LATENCY || p == PRIO_BOTH;
}

/* TCP keepalive: a peer that vanished (no FIN, no RST) is found within
 * about two minutes: 60 s quiet, then 6 probes 10 s apart. Clients and
 * backends alike. */
static void
keepalive_on(int fd)
{
	int one = 1, idle = 60, intvl = 10, cnt = 6;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

void
sockopt_listener(int fd, int keepalive)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (keepalive)
		keepalive_on(fd);
}

void
sockopt_backend(int fd, enum priority p, int keepalive)
{
	int one = 1;

	if (wants_nodelay(p))
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (keepalive)
		keepalive_on(fd);
}

void
sockopt_client(int fd, enum priority p)
{
	int zero = 0;

	/* It came with TCP_NODELAY from the listener. */
	if (!wants_nodelay(p))
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &zero, sizeof(zero));
}
