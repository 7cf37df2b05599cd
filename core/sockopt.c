/* sockopt.c — latency: no Nagle; throughput: Nagle on, large buffers are
 * left to the kernel's autotuning; both: no Nagle. */
#include "sockopt.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static void
set_nodelay(int fd, enum priority p)
{
	int one = 1;

	if (p == PRIO_LATENCY || p == PRIO_BOTH)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* A peer that vanished (no FIN, no RST) is found within about two
 * minutes: 60 s quiet, then 6 probes 10 s apart. */
static void
set_keepalive(int fd, int on)
{
	int idle = 60, intvl = 10, cnt = 6;

	if (!on)
		return;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

void
sockopt_backend(int fd, enum priority p, int keepalive)
{
	set_nodelay(fd, p);
	set_keepalive(fd, keepalive);
}

void
sockopt_client(int fd, enum priority p, int keepalive)
{
	set_nodelay(fd, p);
	set_keepalive(fd, keepalive);
}
