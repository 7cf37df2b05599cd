/*
 * wire.c — frames over a stream socket, with deadlines (see wire.h).
 * Compiled into python.so and into portmux-python.
 */
#include "wire.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

double
wire_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait until fd is ready for `events` or the deadline (0: no deadline)
 * passes. 0, or -1 with errno ETIMEDOUT. */
static int
wait_fd(int fd, short events, double deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int ms = -1, r;

		if (deadline > 0) {
			double left = deadline - wire_now();

			if (left <= 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			ms = (int)(left * 1000.0) + 1;
		}
		r = poll(&p, 1, ms);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

int
wire_send(int fd, uint32_t type, uint32_t a, uint32_t b, const void *p1,
	  size_t n1, const void *p2, size_t n2, const int *fds, int nfds,
	  double deadline)
{
	struct wire_hdr h = {type, a, b, (uint32_t)(n1 + n2)};
	struct iovec iov[3] = {
		{&h, sizeof(h)},
		{(void *)(uintptr_t)p1, n1},
		{(void *)(uintptr_t)p2, n2},
	};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * WIRE_FDS_MAX)];
	} ctl;
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 3};
	int flags = MSG_NOSIGNAL | (deadline > 0 ? MSG_DONTWAIT : 0);

	if (n1 + n2 > WIRE_PAYLOAD_MAX || nfds > WIRE_FDS_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		m.msg_control = ctl.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	while (m.msg_iovlen > 0) {
		ssize_t w = sendmsg(fd, &m, flags);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLOUT, deadline) < 0)
				return -1;
			continue;
		}
		if (w < 0)
			return -1;
		/* The fds went with the first bytes. */
		m.msg_control = NULL;
		m.msg_controllen = 0;
		while (m.msg_iovlen > 0 && (size_t)w >= m.msg_iov->iov_len) {
			w -= (ssize_t)m.msg_iov->iov_len;
			m.msg_iov++;
			m.msg_iovlen--;
		}
		if (m.msg_iovlen > 0) {
			m.msg_iov->iov_base = (char *)m.msg_iov->iov_base + w;
			m.msg_iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static void
keep_fds(struct wire_frame *f, struct msghdr *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c != NULL;
	     c = CMSG_NXTHDR(m, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (f->nfds < WIRE_FDS_MAX)
				f->fds[f->nfds++] = fd;
			else
				close(fd);
		}
	}
}

/* Read exactly n bytes into p (the first read may carry fds). */
static int
read_all(int fd, void *p, size_t n, struct wire_frame *fds_to,
	 double deadline)
{
	size_t got = 0;
	int flags = MSG_CMSG_CLOEXEC | (deadline > 0 ? MSG_DONTWAIT : 0);

	while (got < n) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * WIRE_FDS_MAX)];
		} ctl;
		struct iovec iov = {(char *)p + got, n - got};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t r;

		if (fds_to != NULL) {
			m.msg_control = ctl.buf;
			m.msg_controllen = sizeof(ctl.buf);
		}
		r = recvmsg(fd, &m, flags);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLIN, deadline) < 0)
				return -1;
			continue;
		}
		if (r < 0)
			return -1;
		if (fds_to != NULL)
			keep_fds(fds_to, &m);
		if (r == 0) {
			errno = ECONNRESET;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

int
wire_recv(int fd, struct wire_frame *f, double deadline)
{
	memset(f, 0, sizeof(*f));
	for (int i = 0; i < WIRE_FDS_MAX; i++)
		f->fds[i] = -1;
	if (read_all(fd, &f->hdr, sizeof(f->hdr), f, deadline) < 0)
		goto fail;
	if (f->hdr.len > WIRE_PAYLOAD_MAX) {
		errno = EPROTO;
		goto fail;
	}
	f->payload = malloc((size_t)f->hdr.len + 1);
	if (f->payload == NULL)
		goto fail;
	if (read_all(fd, f->payload, f->hdr.len, NULL, deadline) < 0)
		goto fail;
	f->payload[f->hdr.len] = '\0';
	return 0;
fail:
	{
		int e = errno;

		wire_frame_free(f);
		errno = e;
	}
	return -1;
}

void
wire_frame_free(struct wire_frame *f)
{
	for (int i = 0; i < f->nfds; i++)
		if (f->fds[i] >= 0)
			close(f->fds[i]);
	f->nfds = 0;
	free(f->payload);
	f->payload = NULL;
}
