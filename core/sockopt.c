/* sockopt.c — latency and both: no Nagle delay; throughput: Nagle on
 * (fewer, fuller segments), buffers left to the kernel's autotuning. */
#include "sockopt.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bind_source.h"
#include "config.h"

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

int
sockopt_wants_nodelay(enum priority p)
{
	return p == PRIO_LATENCY || p == PRIO_BOTH;
}

/* TCP keepalive: a peer that vanished (no FIN, no RST) is found within
 * about two minutes: 60 s quiet, then 6 probes 10 s apart. Clients and
 * backends alike. */
void
sockopt_keepalive(int fd)
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
	sockopt_nodelay(fd, 1);
	if (keepalive)
		sockopt_keepalive(fd);
}

void
sockopt_nodelay(int fd, int on)
{
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

int
sockopt_transparent(int fd, const struct sockaddr *client)
{
	struct sockaddr_storage self;
	struct sockaddr_storage src;
	struct addr from;
	socklen_t len = sizeof(self), slen;
	int one = 1, family;

	if (getsockname(fd, (struct sockaddr *)&self, &len) < 0)
		return -1;
	family = self.ss_family;
	memset(&src, 0, sizeof(src));
	if (client->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(
		    &((const struct sockaddr_in6 *)(const void *)client)
			     ->sin6_addr)) {
		/* An IPv4 client on an IPv6 listener. */
		struct sockaddr_in *v4 = (struct sockaddr_in *)&src;
		v4->sin_family = AF_INET;
		memcpy(&v4->sin_addr,
		       ((const struct sockaddr_in6 *)(const void *)client)
				       ->sin6_addr.s6_addr +
			       12,
		       4);
	} else if (client->sa_family == AF_INET) {
		memcpy(&src, client, sizeof(struct sockaddr_in));
	} else if (client->sa_family == AF_INET6) {
		memcpy(&src, client, sizeof(struct sockaddr_in6));
	}
	if (src.ss_family != family) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (family == AF_INET) {
		((struct sockaddr_in *)&src)->sin_port = 0;
		slen = sizeof(struct sockaddr_in);
		if (setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one,
			       sizeof(one)) < 0)
			return -1;
	} else {
		((struct sockaddr_in6 *)&src)->sin6_port = 0;
		slen = sizeof(struct sockaddr_in6);
		if (setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one,
			       sizeof(one)) < 0)
			return -1;
	}
	/* The port comes at connect(), unique for the 4-tuple. */
	memcpy(&from.ss, &src, sizeof(src));
	from.len = slen;
	return bind_source(fd, &from);
}

int
sockopt_transparent_allowed(void)
{
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ok;

	if (fd < 0)
		return 0;
	ok = setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) == 0;
	close(fd);
	return ok;
}

const struct bind_sources *
sockopt_origin(const struct backend *b, const struct config *cfg,
	       int *transparent)
{
	const struct bind_sources *src =
		b->sources.n ? &b->sources : &cfg->sources;

	if (b->transparent >= 0)
		*transparent = b->transparent;
	else
		*transparent = b->sources.n ? 0 : cfg->transparent;
	return *transparent || src->n == 0 ? NULL : src;
}

/* Start fd's connection to a: connect(), or with fo sendto(MSG_FASTOPEN).
 * 0 started (connected, or connecting), -1 with errno. */
static int
origin_start(int fd, const struct addr *a, struct sockopt_fastopen *fo)
{
	const struct sockaddr *sa = (const struct sockaddr *)&a->ss;

	if (fo != NULL) {
		ssize_t n = sendto(fd, fo->data, fo->len,
				   MSG_FASTOPEN | MSG_NOSIGNAL, sa, a->len);
		fo->sent = n > 0 ? (size_t)n : 0;
		if (n >= 0 || errno == EINPROGRESS)
			return 0; /* EINPROGRESS: a SYN asking for a cookie */
		if (errno != EOPNOTSUPP)
			return -1;
		fo->unsupported = 1;
	}
	return connect(fd, sa, a->len) < 0 && errno != EINPROGRESS ? -1 : 0;
}

int
sockopt_origin_socket(const struct addr *a, int type,
		      const struct sockaddr *client,
		      const struct bind_sources *src, unsigned *turn,
		      struct sockopt_fastopen *fo)
{
	const struct sockaddr *sa = (const struct sockaddr *)&a->ss;
	unsigned n = src ? src->n : 1;
	unsigned first = src ? (*turn)++ : 0;

	errno = EAFNOSUPPORT; /* no source of a's family */
	for (unsigned k = 0; k < n; k++) {
		const struct addr *from = src ? &src->a[(first + k) % n] : NULL;
		int fd, err;

		if (from != NULL && from->ss.ss_family != sa->sa_family)
			continue;
		fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    0);
		if (fd < 0)
			return -1;
		/* Transparent: another family than the client's, or no route
		 * back, and this address cannot see the client. */
		if ((client != NULL && sockopt_transparent(fd, client) < 0) ||
		    (from != NULL && bind_source(fd, from) < 0) ||
		    origin_start(fd, a, type == SOCK_STREAM ? fo : NULL) <
			    0) {
			err = errno;
			close(fd);
			errno = err;
			if (from != NULL &&
			    (err == EADDRNOTAVAIL || err == EADDRINUSE))
				continue; /* its ports towards a: all taken */
			return -1;
		}
		return fd;
	}
	return -1;
}
