/* bench/pingpong.c — small-message round-trip latency, for
 * bench/priorities.sh (built there with cc; no library but libc).
 *
 *   pingpong echo PORT [MSG]
 *       Echo server on 127.0.0.1:PORT (TCP_NODELAY on each accepted
 *       socket, so the echo never waits for Nagle). Without MSG it sends
 *       every byte it reads back at once; with MSG it answers whole
 *       messages only: MSG bytes back once MSG bytes came in (as a server
 *       that needs the whole request before it answers). Any number of
 *       connections, one thread, epoll. Runs until killed.
 *
 *   pingpong client PORT N [SIZE [PARTS]]
 *       One connection to 127.0.0.1:PORT with TCP_NODELAY; N round trips
 *       of SIZE bytes (default 64): write SIZE bytes (in PARTS writes,
 *       default 1: a request written piecemeal), read until SIZE bytes
 *       came back, time it (CLOCK_MONOTONIC). N / 10 (at least 100)
 *       round trips first as a warm-up, not counted. Prints one line:
 *         p50_us p99_us p999_us mean_us max_us n
 *       (percentiles by nearest rank). Exit 1 on any error or a round trip
 *       that takes more than 5 s.
 *
 * Descriptors: the listening socket and each accepted one are owned by
 * echo() and live until the process ends or the peer closes (closed in
 * echo_conn()); the client's one socket lives until exit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZE 65536
#define MAX_FD 65536 /* echo: connections on higher fds are refused */

/* echo with MSG: bytes of an unanswered message, per connection's fd */
static unsigned pending[MAX_FD];
static unsigned msg_size;

static void
die(const char *what)
{
	fprintf(stderr, "pingpong: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct sockaddr_in
loopback(int port)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static void
nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Write all of buf (blocking socket). 0, or -1. */
static int
write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One readable echo connection: echo what is there (with msg_size: each
 * message once complete); close on EOF or error. */
static void
echo_conn(int ep, int fd)
{
	static char buf[MAX_SIZE];
	ssize_t r = read(fd, buf, sizeof(buf));
	size_t out = (size_t)r;

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r > 0 && msg_size > 0) {
		pending[fd] += (unsigned)r;
		out = 0;
		while (pending[fd] >= msg_size &&
		       out + msg_size <= sizeof(buf)) {
			pending[fd] -= msg_size;
			out += msg_size;
		}
	}
	if (r <= 0 || write_all(fd, buf, out) < 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
		close(fd);
	}
}

static _Noreturn void
echo(int port)
{
	struct sockaddr_in a = loopback(port);
	struct epoll_event ev, evs[64];
	int one = 1, ep, lfd = socket(AF_INET, SOCK_STREAM, 0);

	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(lfd, 1024) < 0)
		die("bind/listen");
	ep = epoll_create1(0);
	if (ep < 0)
		die("epoll_create1");
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		die("epoll_ctl");
	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd != lfd) {
				echo_conn(ep, fd);
				continue;
			}
			fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			if (fd >= MAX_FD) {
				close(fd);
				continue;
			}
			pending[fd] = 0;
			nodelay(fd);
			ev.events = EPOLLIN;
			ev.data.fd = fd;
			if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
				close(fd);
		}
	}
}

static double
now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* One round trip of size bytes written in `parts` writes: its time in
 * µs, or -1. */
static double
round_trip(int fd, char *buf, size_t size, size_t parts)
{
	double t0 = now_us();
	size_t got = 0, sent = 0;

	for (size_t i = 1; i <= parts; i++) {
		size_t upto = size * i / parts;
		if (write_all(fd, buf + sent, upto - sent) < 0)
			return -1;
		sent = upto;
	}
	while (got < size) {
		ssize_t r = read(fd, buf + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return now_us() - t0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest rank: the smallest value with at least p of them at or below. */
static double
pct(const double *v, long n, double p)
{
	long k = (long)(p * (double)n + 0.999999);

	if (k < 1)
		k = 1;
	return v[k - 1];
}

static int
client(int port, long n, size_t size, size_t parts)
{
	struct sockaddr_in a = loopback(port);
	struct timeval tv = {5, 0};
	static char buf[MAX_SIZE];
	long warm = n / 10 > 100 ? n / 10 : 100;
	double *t = malloc(sizeof(double) * (size_t)n), sum = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (!t || fd < 0)
		die("malloc/socket");
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	nodelay(fd);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(buf, 'p', size);
	for (long i = -warm; i < n; i++) {
		double us = round_trip(fd, buf, size, parts);
		if (us < 0)
			die("round trip");
		if (i >= 0) {
			t[i] = us;
			sum += us;
		}
	}
	close(fd);
	qsort(t, (size_t)n, sizeof(double), cmp_double);
	printf("%.1f %.1f %.1f %.1f %.1f %ld\n", pct(t, n, 0.50),
	       pct(t, n, 0.99), pct(t, n, 0.999), sum / (double)n, t[n - 1],
	       n);
	free(t);
	return 0;
}

int
main(int argc, char **argv)
{
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "echo") == 0) {
		long m = argc == 4 ? atol(argv[3]) : 0;
		if (m < 0 || m > MAX_SIZE) {
			fprintf(stderr, "pingpong: bad MSG\n");
			return 2;
		}
		msg_size = (unsigned)m;
		echo(atoi(argv[2]));
	}
	if (argc >= 4 && argc <= 6 && strcmp(argv[1], "client") == 0) {
		long n = atol(argv[3]);
		long size = argc >= 5 ? atol(argv[4]) : 64;
		long parts = argc == 6 ? atol(argv[5]) : 1;
		if (n < 1 || size < 1 || size > MAX_SIZE || parts < 1 ||
		    parts > size) {
			fprintf(stderr, "pingpong: bad N, SIZE or PARTS\n");
			return 2;
		}
		return client(atoi(argv[2]), n, (size_t)size, (size_t)parts);
	}
	fprintf(stderr, "usage: pingpong echo PORT [MSG] | "
			"pingpong client PORT N [SIZE [PARTS]]\n");
	return 2;
}
