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

void
sockopt_backend(int fd, enum priority p)
{
	set_nodelay(fd, p);
}

void
sockopt_client(int fd, enum priority p)
{
	set_nodelay(fd, p);
}
