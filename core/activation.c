/* activation.c — sockets from systemd. */
#include "activation.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_FDS_START 3

static int
describe(struct activated_socket *s, char *err, size_t errlen)
{
	int type = 0, listening = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(s->fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
		snprintf(err, errlen, "socket activation: fd %d: %s", s->fd,
			 strerror(errno));
		return -1;
	}
	len = sizeof(listening);
	if (type == SOCK_STREAM &&
	    (getsockopt(s->fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) <
		     0 ||
	     !listening)) {
		snprintf(err, errlen,
			 "socket activation: fd %d is a stream socket that is "
			 "not listening (Accept=no in the .socket unit)",
			 s->fd);
		return -1;
	}
	s->addr.len = sizeof(s->addr.ss);
	if ((type != SOCK_STREAM && type != SOCK_DGRAM) ||
	    getsockname(s->fd, (struct sockaddr *)&s->addr.ss, &s->addr.len) <
		    0 ||
	    (s->addr.ss.ss_family != AF_INET &&
	     s->addr.ss.ss_family != AF_INET6)) {
		snprintf(err, errlen,
			 "socket activation: fd %d is not an IPv4/IPv6 TCP "
			 "listener or UDP socket",
			 s->fd);
		return -1;
	}
	s->udp = type == SOCK_DGRAM;
	addr_format((struct sockaddr *)&s->addr.ss, s->text, sizeof(s->text));
	/* Ours now: not inherited by children, never blocking the loop. */
	fcntl(s->fd, F_SETFD, FD_CLOEXEC);
	fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
	return 0;
}

int
activation_take(struct activation *a, char *err, size_t errlen)
{
	const char *pid = getenv("LISTEN_PID");
	const char *fds = getenv("LISTEN_FDS");
	char *end;
	long n;

	memset(a, 0, sizeof(*a));
	if (pid == NULL || fds == NULL ||
	    strtol(pid, &end, 10) != (long)getpid() || *end != '\0')
		return 0; /* not for us */
	n = strtol(fds, &end, 10);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (*end != '\0' || n <= 0 || n > 64)
		return 0;
	a->sockets = calloc((size_t)n, sizeof(*a->sockets));
	if (a->sockets == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (long i = 0; i < n; i++) {
		struct activated_socket *s = &a->sockets[a->n];
		s->fd = LISTEN_FDS_START + (int)i;
		a->n++;
		if (describe(s, err, errlen) < 0) {
			activation_release(a);
			return -1;
		}
		if (s->udp)
			a->nudp++;
		else
			a->ntcp++;
	}
	return 0;
}

void
activation_release(struct activation *a)
{
	for (size_t i = 0; i < a->n; i++)
		close(a->sockets[i].fd);
	free(a->sockets);
	memset(a, 0, sizeof(*a));
}
