/* activation.h — systemd socket activation (sd_listen_fds(3), spoken
 * directly): listening sockets handed over by systemd replace the
 * configured listen addresses. systemd keeps them open across restarts,
 * so a restart refuses no connection, and PortMux needs no right to bind
 * a privileged port. */
#ifndef PMX_ACTIVATION_H
#define PMX_ACTIVATION_H

#include <stddef.h>

#include "addr.h"

struct activated_socket {
	int fd;
	int udp; /* SOCK_DGRAM, else a listening SOCK_STREAM */
	struct addr addr;
	char text[ADDR_TEXT_MAX];
};

struct activation {
	struct activated_socket *sockets;
	size_t n, ntcp, nudp;
};

/* Take the sockets systemd passed (LISTEN_PID/LISTEN_FDS, fds from 3), and
 * unset those variables. 0 with a->n == 0 when there are none; -1 with err
 * when one is unusable (not an IPv4/IPv6 stream listener or datagram
 * socket). */
int activation_take(struct activation *a, char *err, size_t errlen);
void activation_release(struct activation *a);

#endif
