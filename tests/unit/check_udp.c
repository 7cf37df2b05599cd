/* check_udp.c — the UDP listener and its flow table (udp.c) on loopback
 * sockets and a real libev loop: a claimed datagram opens a flow both
 * ways, the least recently active unanswered flow makes room at
 * udp_max_flows and an established one never does, an unclaimed datagram
 * leaves nothing behind (counted, not logged), idle flows are swept,
 * stopping the listener frees everything; and the other bounds against
 * forged datagrams: flows per source (IPv4 address, IPv6 /64), bytes held
 * while flows are decided, the descriptor budget, a table sized to
 * udp_max_flows under a keyed hash.
 *
 * The detector is the t_prefix test plugin: datagrams starting with
 * "HELLO" match, with an explicit backend (a socket of the test). The
 * loop is turned with EVRUN_ONCE next to a 10 ms guard timer, each wait
 * bounded in time. */
#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "probe_pool.h"
#include "testutil.h"
#include "udp.h"

#define WAIT_MAX 10.0

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* A non-blocking UDP socket bound to 127.0.0.1:0; its address in *a. */
static int
udp_socket(struct sockaddr_in *a)
{
	socklen_t len = sizeof(*a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)a, &len), 0);
	return fd;
}

struct ut {
	int fds_before;
	struct generation *g;
	struct ev_loop *loop;
	struct loop_ctx lc;
	struct udp_listener l;
	struct sockaddr_in laddr; /* the listener's */
	int backend;
	struct sockaddr_in baddr;
	ev_timer guard;
	int stopped;
};

static void
guard_cb(EV_P_ ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

/* A listener with udp_max_flows and udp_timeout as given, and `extra`
 * lines of PORTMUX. The detector is t_prefix ("HELLO" with the test's
 * backend; or ut_detectors, where t_gather's "udp" route is the test's
 * backend too), or python.so running tests/python/`script` when it is not
 * NULL, then openvpn.so (its "udp" route: the test's backend). */
static const char *ut_detectors = "[t_prefix]"; /* when no script */
static const char *ut_match = "HELLO";           /* t_prefix's */

static void
ut_open_cfg(struct ut *t, int max_flows, const char *timeout,
	    const char *script, const char *extra)
{
	const char *dir = getenv("PORTMUX_TEST_PLUGINS");
	char yaml[8192], err[1024], rel[256], path[4096], gather[128] = "";
	struct addr a;
	int lfd;

	ck_assert_msg(dir != NULL, "PORTMUX_TEST_PLUGINS is not set");
	memset(t, 0, sizeof(*t));
	t->fds_before = count_fds();
	log_set_level(LOG_WARN);
	t->backend = udp_socket(&t->baddr);
	/* t_gather's route: the test's backend too. */
	if (strstr(ut_detectors, "t_gather") != NULL)
		snprintf(gather, sizeof(gather),
			 "T_GATHER:\n  udp: \"127.0.0.1:%u\"\n",
			 ntohs(t->baddr.sin_port));
	if (script == NULL) {
		snprintf(yaml, sizeof(yaml),
			 "PORTMUX:\n  port: 1\n  plugin_dir: %s\n"
			 "  detectors: %s\n"
			 "  udp_max_flows: %d\n  udp_timeout: %s\n%s"
			 "T_PREFIX:\n  match: %s\n"
			 "  backend: \"127.0.0.1:%u\"\n%s",
			 dir, ut_detectors, max_flows, timeout, extra,
			 ut_match, ntohs(t->baddr.sin_port), gather);
	} else {
		snprintf(rel, sizeof(rel), "tests/python/%s", script);
		snprintf(yaml, sizeof(yaml),
			 "PORTMUX:\n  port: 1\n"
			 "  detectors: [python, openvpn]\n"
			 "  udp_max_flows: %d\n  udp_timeout: %s\n%s"
			 "PYTHON:\n  script: %s\n  timeout: 5\n"
			 "OPENVPN:\n  udp: \"127.0.0.1:%u\"\n",
			 max_flows, timeout, extra,
			 tu_src(rel, path, sizeof(path)),
			 ntohs(t->baddr.sin_port));
	}
	t->g = tu_generation(yaml, err, sizeof(err));
	ck_assert_msg(t->g != NULL, "%s", err);
	ck_assert_int_eq(t->g->cfg->udp_max_flows, max_flows);
	t->loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(t->loop);
	ck_assert_int_eq(loop_ctx_init(&t->lc, t->loop, t->g), 0);
	ev_timer_init(&t->guard, guard_cb, 0.01, 0.01);
	ev_timer_start(t->loop, &t->guard);
	lfd = udp_socket(&t->laddr);
	memset(&a, 0, sizeof(a));
	memcpy(&a.ss, &t->laddr, sizeof(t->laddr));
	a.len = sizeof(t->laddr);
	ck_assert_int_eq(udp_listener_start(&t->l, &t->lc, lfd, &a, "test"),
			 0);
}

static void
ut_open(struct ut *t, int max_flows, const char *timeout, const char *script)
{
	ut_open_cfg(t, max_flows, timeout, script, "");
}

static void
ut_stop(struct ut *t)
{
	if (t->stopped)
		return;
	udp_listener_stop(&t->l);
	t->stopped = 1;
	ck_assert_int_eq(t->l.fd, -1);
	ck_assert_uint_eq(t->l.nflows, 0);
	ck_assert_uint_eq(t->l.ndeciding, 0);
	ck_assert_uint_eq(t->l.nestablished, 0);
	for (int s = 0; s < UDP_NSTATES; s++)
		ck_assert(TAILQ_EMPTY(&t->l.lru[s]));
	ck_assert_ptr_null(t->l.buckets);
}

static void
ut_close(struct ut *t)
{
	ut_stop(t);
	ev_timer_stop(t->loop, &t->guard);
	loop_ctx_fini(&t->lc);
	ev_loop_destroy(t->loop);
	generation_unref(t->g);
	close(t->backend);
}

/* Turn the loop (waiting at most the guard's 10 ms) until `cond`. */
#define DRIVE_UNTIL(t, cond, body) \
	do { \
		double dl_ = now_s() + WAIT_MAX; \
		while (!(cond)) { \
			ck_assert_msg(now_s() < dl_, \
				      "timed out waiting for: %s", #cond); \
			body; \
			ev_run((t)->loop, EVRUN_ONCE); \
		} \
	} while (0)

/* A client: bound to 127.0.0.1:0 and connected to the listener, so
 * it hears the listener's address only. */
static int
client(struct ut *t, struct sockaddr_in *self)
{
	int fd = udp_socket(self);

	ck_assert_int_eq(connect(fd, (struct sockaddr *)&t->laddr,
				 sizeof(t->laddr)),
			 0);
	return fd;
}

static void
say(int fd, const char *text)
{
	ck_assert_int_eq(send(fd, text, strlen(text), 0),
			 (ssize_t)strlen(text));
}

/* The next datagram the backend gets: its text and where it came from
 * (the flow's own socket). */
static void
backend_hears(struct ut *t, const char *text, struct sockaddr_in *from)
{
	char buf[256];
	socklen_t flen = sizeof(*from);
	ssize_t n = -1;

	DRIVE_UNTIL(t,
		    (n = recvfrom(t->backend, buf, sizeof(buf) - 1, 0,
				  (struct sockaddr *)from, &flen)) >= 0,
		    flen = sizeof(*from));
	buf[n] = '\0';
	ck_assert_str_eq(buf, text);
	ck_assert_uint_eq(from->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
}

/* The backend has nothing (more) waiting. */
static void
backend_silent(struct ut *t)
{
	char buf[256];

	ck_assert_int_eq(recv(t->backend, buf, sizeof(buf), MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
}

/* Client `fd` gets `text`, sent from the listener's address. */
static void
client_hears(struct ut *t, int fd, const char *text)
{
	char buf[256];
	struct sockaddr_in from;
	socklen_t flen = sizeof(from);
	ssize_t n = -1;

	DRIVE_UNTIL(t,
		    (n = recvfrom(fd, buf, sizeof(buf) - 1, 0,
				  (struct sockaddr *)&from, &flen)) >= 0,
		    flen = sizeof(from));
	buf[n] = '\0';
	ck_assert_str_eq(buf, text);
	ck_assert_uint_eq(from.sin_addr.s_addr, t->laddr.sin_addr.s_addr);
	ck_assert_uint_eq(from.sin_port, t->laddr.sin_port);
}

/* ---- tests ---- */

START_TEST(test_udp__flow_both_ways)
{
	struct sockaddr_in self, from, again;
	struct ut t;
	int c;

	ut_open(&t, 3, "60", NULL);
	c = client(&t, &self);
	say(c, "HELLO one");
	backend_hears(&t, "HELLO one", &from);
	ck_assert_uint_eq(t.l.nflows, 1);
	ck_assert_uint_eq(t.l.ndeciding, 0);
	/* The flow has a socket of its own towards the backend. */
	ck_assert_uint_ne(from.sin_port, self.sin_port);
	ck_assert_uint_ne(from.sin_port, t.laddr.sin_port);

	ck_assert_int_eq(sendto(t.backend, "reply one", 9, 0,
				(struct sockaddr *)&from, sizeof(from)),
			 9);
	client_hears(&t, c, "reply one");

	/* Later datagrams follow the flow, whatever they hold. */
	say(c, "not a hello");
	backend_hears(&t, "not a hello", &again);
	ck_assert_uint_eq(again.sin_port, from.sin_port);
	ck_assert_int_eq(sendto(t.backend, "reply two", 9, 0,
				(struct sockaddr *)&from, sizeof(from)),
			 9);
	client_hears(&t, c, "reply two");
	ck_assert_uint_eq(t.l.nflows, 1);
	backend_silent(&t);
	ut_close(&t);
	close(c);
	ck_assert_int_eq(count_fds(), t.fds_before);
}
END_TEST

/* udp_max_flows = 3 and a fourth client: the least recently active flow
 * goes. Activity order decides, not age: flow 0 is touched again before
 * the fourth comes, so flow 1 is the one evicted; then a reply to flow 0
 * saves it from the next eviction. A flow's presence is
 * seen from outside: its datagrams reach the backend whatever they hold,
 * while an unknown client's "ping" is claimed by no detector. */
START_TEST(test_udp__lru_eviction)
{
	struct sockaddr_in self[4], from[4], f;
	char text[32];
	struct ut t;
	int c[4];

	ut_open(&t, 3, "60", NULL);
	for (int i = 0; i < 3; i++) {
		c[i] = client(&t, &self[i]);
		snprintf(text, sizeof(text), "HELLO %d", i);
		say(c[i], text);
		backend_hears(&t, text, &from[i]);
		ck_assert_uint_eq(t.l.nflows, (size_t)i + 1);
	}
	ck_assert_uint_ne(from[0].sin_port, from[1].sin_port);
	ck_assert_uint_ne(from[1].sin_port, from[2].sin_port);
	ck_assert_uint_ne(from[0].sin_port, from[2].sin_port);

	say(c[0], "ping 0"); /* flow 0 is the most recent again */
	backend_hears(&t, "ping 0", &f);
	ck_assert_uint_eq(f.sin_port, from[0].sin_port);

	c[3] = client(&t, &self[3]);
	say(c[3], "HELLO 3");
	backend_hears(&t, "HELLO 3", &from[3]);
	ck_assert_uint_eq(t.l.nflows, 3);
	ck_assert_uint_eq(t.l.ndeciding, 0);

	/* Flow 1 is gone: its ping is dropped (the backend hears flow 0's,
	 * sent after it, first); the others are there. */
	say(c[1], "ping 1");
	say(c[0], "ping 0 again");
	backend_hears(&t, "ping 0 again", &f);
	ck_assert_uint_eq(f.sin_port, from[0].sin_port);
	say(c[2], "ping 2");
	backend_hears(&t, "ping 2", &f);
	ck_assert_uint_eq(f.sin_port, from[2].sin_port);
	say(c[3], "ping 3");
	backend_hears(&t, "ping 3", &f);
	ck_assert_uint_eq(f.sin_port, from[3].sin_port);
	backend_silent(&t);
	ck_assert_uint_eq(t.l.nflows, 3);
	ck_assert_uint_eq(t.l.ndeciding, 0);

	/* Flow 0 is the least recently active now, but the backend
	 * answered it: established, it is never evicted; flow 2 is the
	 * least recently active of the others. */
	ck_assert_int_eq(sendto(t.backend, "to 0", 4, 0,
				(struct sockaddr *)&from[0], sizeof(from[0])),
			 4);
	client_hears(&t, c[0], "to 0");
	ck_assert_uint_eq(t.l.nestablished, 1);
	/* Client 1 comes back: a new flow, flow 2 makes room. */
	say(c[1], "HELLO 1 again");
	backend_hears(&t, "HELLO 1 again", &from[1]);
	ck_assert_uint_eq(t.l.nflows, 3);
	say(c[2], "ping 2 gone");
	say(c[0], "ping 0 kept");
	backend_hears(&t, "ping 0 kept", &f);
	ck_assert_uint_eq(f.sin_port, from[0].sin_port);
	say(c[1], "ping 1 back");
	backend_hears(&t, "ping 1 back", &f);
	ck_assert_uint_eq(f.sin_port, from[1].sin_port);
	backend_silent(&t);
	ck_assert_uint_eq(t.l.nflows, 3);
	ck_assert_uint_eq(t.l.ndeciding, 0);

	ut_close(&t);
	for (int i = 0; i < 4; i++)
		close(c[i]);
	ck_assert_int_eq(count_fds(), t.fds_before);
}
END_TEST

/* Flows whose backend answered are never evicted: with the table full of
 * them a new client is dropped (not decided, nothing reaches the backend)
 * and they keep working both ways; once one of them is not established,
 * the new client takes its place. */
START_TEST(test_udp__established_never_evicted)
{
	struct sockaddr_in self[4], from[4], f;
	char text[32];
	struct ut t;
	int c[4];

	ut_open(&t, 2, "60", NULL);
	for (int i = 0; i < 2; i++) {
		c[i] = client(&t, &self[i]);
		snprintf(text, sizeof(text), "HELLO %d", i);
		say(c[i], text);
		backend_hears(&t, text, &from[i]);
		snprintf(text, sizeof(text), "to %d", i);
		ck_assert_int_eq(sendto(t.backend, text, strlen(text), 0,
					(struct sockaddr *)&from[i],
					sizeof(from[i])),
				 (ssize_t)strlen(text));
		client_hears(&t, c[i], text);
	}
	ck_assert_uint_eq(t.l.nestablished, 2);

	/* Many newcomers, the live flows quiet meanwhile: all dropped. */
	c[2] = client(&t, &self[2]);
	for (int i = 0; i < 20; i++) {
		int queued = 1;

		snprintf(text, sizeof(text), "HELLO new %d", i);
		say(c[2], text);
		DRIVE_UNTIL(&t, queued == 0,
			    ck_assert_int_eq(ioctl(t.l.fd, FIONREAD, &queued),
					     0));
	}
	backend_silent(&t);
	ck_assert_uint_eq(t.l.nflows, 2);
	ck_assert_uint_eq(t.l.ndeciding, 0);
	ck_assert_uint_eq(t.l.dropped[UDP_DROP_TABLE_FULL], 20);
	for (int i = 0; i < 2; i++) {
		snprintf(text, sizeof(text), "ping %d", i);
		say(c[i], text);
		backend_hears(&t, text, &f);
		ck_assert_uint_eq(f.sin_port, from[i].sin_port);
		snprintf(text, sizeof(text), "again %d", i);
		ck_assert_int_eq(sendto(t.backend, text, strlen(text), 0,
					(struct sockaddr *)&from[i],
					sizeof(from[i])),
				 (ssize_t)strlen(text));
		client_hears(&t, c[i], text);
	}
	ut_close(&t);
	close(c[0]);
	close(c[1]);
	close(c[2]);

	/* One established, one not: the newcomer evicts the other. */
	ut_open(&t, 2, "60", NULL);
	for (int i = 0; i < 2; i++) {
		c[i] = client(&t, &self[i]);
		snprintf(text, sizeof(text), "HELLO %d", i);
		say(c[i], text);
		backend_hears(&t, text, &from[i]);
	}
	ck_assert_int_eq(sendto(t.backend, "to 0", 4, 0,
				(struct sockaddr *)&from[0], sizeof(from[0])),
			 4);
	client_hears(&t, c[0], "to 0");
	say(c[1], "ping 1"); /* the most recently active: still evicted */
	backend_hears(&t, "ping 1", &f);
	c[3] = client(&t, &self[3]);
	say(c[3], "HELLO 3");
	backend_hears(&t, "HELLO 3", &from[3]);
	ck_assert_uint_eq(t.l.nflows, 2);
	ck_assert_uint_eq(t.l.nestablished, 1);
	ck_assert_uint_eq(t.l.dropped[UDP_DROP_EVICTED], 1);
	say(c[1], "ping 1 gone");
	say(c[0], "ping 0 kept");
	backend_hears(&t, "ping 0 kept", &f);
	ck_assert_uint_eq(f.sin_port, from[0].sin_port);
	backend_silent(&t);
	ut_close(&t);
	close(c[0]);
	close(c[1]);
	close(c[3]);
	ck_assert_int_eq(count_fds(), t.fds_before);
}
END_TEST

/* A client bound to `ip` (an IPv4 or IPv6 literal), port 0. */
static int
client_at(const char *ip)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;

		a6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &a6->sin6_addr), 1);
		len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;

		a4->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, ip, &a4->sin_addr), 1);
		len = sizeof(*a4);
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&ss, len), 0);
	return fd;
}

/* `fd` sends `text` to the listener (at `to`); the listener has read it
 * (and judged it) when this returns. */
static void
say_to(struct ut *t, int fd, const struct sockaddr *to, socklen_t tolen,
       const char *text)
{
	int queued = 1;

	ck_assert_int_eq(sendto(fd, text, strlen(text), 0, to, tolen),
			 (ssize_t)strlen(text));
	DRIVE_UNTIL(t, queued == 0,
		    ck_assert_int_eq(ioctl(t->l.fd, FIONREAD, &queued), 0));
}

/* udp_flows_per_source: 127.0.0.1 and 127.0.0.2 are two sources; a third
 * flow from the first is dropped (counted), the second still gets its
 * own; when a flow of the first ends, it may open one again. */
START_TEST(test_udp__flows_per_source)
{
	const struct sockaddr *to;
	struct sockaddr_in f;
	struct ut t;
	int a[3], b[2];

	ut_open_cfg(&t, 3, "60", NULL, "  udp_flows_per_source: 2\n");
	to = (const struct sockaddr *)&t.laddr;
	for (int i = 0; i < 3; i++)
		a[i] = client_at("127.0.0.1");
	for (int i = 0; i < 2; i++)
		b[i] = client_at("127.0.0.2");
	say_to(&t, a[0], to, sizeof(t.laddr), "HELLO a0");
	backend_hears(&t, "HELLO a0", &f);
	say_to(&t, a[1], to, sizeof(t.laddr), "HELLO a1");
	backend_hears(&t, "HELLO a1", &f);
	say_to(&t, a[2], to, sizeof(t.laddr), "HELLO a2");
	backend_silent(&t);
	ck_assert_uint_eq(t.l.dropped[UDP_DROP_SOURCE_CAP], 1);
	ck_assert_uint_eq(t.l.ndeciding, 0);
	say_to(&t, b[0], to, sizeof(t.laddr), "HELLO b0");
	backend_hears(&t, "HELLO b0", &f);
	ck_assert_uint_eq(t.l.nflows, 3);
	/* The table is full: b1's flow pushes a0's out (the least recently
	 * active); 127.0.0.1 has one flow left, so a2 gets one now. */
	say_to(&t, b[1], to, sizeof(t.laddr), "HELLO b1");
	backend_hears(&t, "HELLO b1", &f);
	ck_assert_uint_eq(t.l.dropped[UDP_DROP_EVICTED], 1);
	say_to(&t, a[2], to, sizeof(t.laddr), "HELLO a2 again");
	backend_hears(&t, "HELLO a2 again", &f);
	ck_assert_uint_eq(t.l.dropped[UDP_DROP_SOURCE_CAP], 1);
	ck_assert_uint_eq(t.l.nflows, 3);
	ut_close(&t);
	for (int i = 0; i < 3; i++)
		close(a[i]);
	close(b[0]);
	close(b[1]);
	ck_assert_int_eq(count_fds(), t.fds_before);
}
END_TEST

/* PORTMUX.deny applies to datagrams too: no flow is made for a denied
 * source (counted as denied); others are relayed. */
START_TEST(test_udp__deny)
{
	const struct sockaddr *to;
	struct sockaddr_in f;
	struct ut t;
	int a, b;

	ut_open_cfg(&t, 3, "60", NULL, "  deny: [127.0.0.2]\n");
	to = (const struct sockaddr *)&t.laddr;
	a = client_at("127.0.0.1");
	b = client_at("127.0.0.2");
	say_to(&t, b, to, sizeof(t.laddr), "HELLO denied");
	backend_silent(&t);
	ck_assert_uint_eq(t.l.dropped[UDP_DROP_DENIED], 1);
	ck_assert_uint_eq(t.l.nflows + t.l.ndeciding, 0);
	say_to(&t, a, to, sizeof(t.laddr), "HELLO allowed");
	backend_hears(&t, "HELLO allowed", &f);
	ck_assert_uint_eq(t.l.nflows, 1);
	ut_close(&t);
	close(a);
	close(b);
	ck_assert_int_eq(count_fds(), t.fds_before);
}
END_TEST

/* Listen on IPv6 instead: on `ip6` (port 0). Its address in *la. */
static void
ut_listen6(struct ut *t, const char *ip6, struct sockaddr_in6 *la)
{
	socklen_t len = sizeof(*la);
	struct addr a;
	int off = 0, fd;

	udp_listener_stop(&t->l);
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off,
				    sizeof(off)),
			 0);
	memset(la, 0, sizeof(*la));
	la->sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, ip6, &la->sin6_addr), 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)la, sizeof(*la)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)la, &len), 0);
	memset(&a, 0, sizeof(a));
	memcpy(&a.ss, la, sizeof(*la));
	a.len = sizeof(*la);
	ck_assert_int_eq(udp_listener_start(&t->l, &t->lc, fd, &a, "test6"),
			 0);
}

/* On an IPv6 socket, IPv4 clients (IPv4-mapped addresses) are sources of
 * their own, not one /64 for all of IPv4; IPv6 clients of one /64 are one
 * source. */
START_TEST(test_udp__flows_per_source_ipv6)
{
	struct sockaddr_in6 la;
	struct sockaddr_in to4;
	struct sockaddr_in f;
	struct ut t;
	int a[3], b, c[3];

	ut_open_cfg(&t, 8, "60", NULL, "  udp_flows_per_source: 2\n");
	ut_listen6(&t, "::ffff:127.0.0.1", &la);
	memset(&to4, 0, sizeof(to4));
	to4.sin_family = AF_INET;
	to4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to4.sin_port = la.sin6_port;
	for (int i = 0; i < 3; i++)
		a[i] = client_at("127.0.0.1");
	b = client_at("127.0.0.2");
	say_to(&t, a[0], (struct sockaddr *)&to4, sizeof(to4), "HELLO a0");
	backend_hears(&t, "HELLO a0", &f);
	say_to(&t, a[1], (struct sockaddr *)&to4, sizeof(to4), "HELLO a1");
	backend_hears(&t, "HELLO a1", &f);
	say_to(&t, b, (struct sockaddr *)&to4, sizeof(to4), "HELLO b");
	backend_hears(&t, "HELLO b", &f);
	say_to(&t, a[2], (struct sockaddr *)&to4, sizeof(to4), "HELLO a2");
	backend_silent(&t);
	ck_assert_uint_eq(t.l.dropped[UDP_DROP_SOURCE_CAP], 1);
	ck_assert_uint_eq(t.l.nflows, 3);

	ut_listen6(&t, "::1", &la);
	for (int i = 0; i < 3; i++) {
		char text[32];

		c[i] = client_at("::1");
		snprintf(text, sizeof(text), "HELLO c%d", i);
		say_to(&t, c[i], (struct sockaddr *)&la, sizeof(la), text);
		if (i < 2)
			backend_hears(&t, text, &f);
	}
	backend_silent(&t);
	ck_assert_uint_eq(t.l.dropped[UDP_DROP_SOURCE_CAP], 1);
	ck_assert_uint_eq(t.l.nflows, 2);
	ut_close(&t);
	for (int i = 0; i < 3; i++) {
		close(a[i]);
		close(c[i]);
	}
	close(b);
	ck_assert_int_eq(count_fds(), t.fds_before);
}
END_TEST

/* The backend answers the flow it heard `text` from: established. */
static void
establish(struct ut *t, int c, const char *text)
{
	struct sockaddr_in from;

	backend_hears(t, text, &from);
	ck_assert_int_eq(sendto(t->backend, "ok", 2, 0,
				(struct sockaddr *)&from, sizeof(from)),
			 2);
	client_hears(t, c, "ok");
}

/* Flow sockets within the process's budget of descriptors: a new flow may
 * take the descriptor of one that is not established, else it is dropped
 * (not even decided) while the table still has room. */
START_TEST(test_udp__fd_budget)
{
	struct sockaddr_in self[4], f;
	struct ut t;
	int c[4];

	ut_open(&t, 8, "60", NULL);
	udp_set_fd_budget(2);
	for (int i = 0; i < 4; i++)
		c[i] = client(&t, &self[i]);
	say(c[0], "HELLO 0");
	establish(&t, c[0], "HELLO 0");
	say(c[1], "HELLO 1");
	backend_hears(&t, "HELLO 1", &f);
	ck_assert_int_eq(udp_fds_open(), 2);
	/* Flow 1 was never answered: it gives its descriptor up. */
	say(c[2], "HELLO 2");
	establish(&t, c[2], "HELLO 2");
	ck_assert_uint_eq(t.l.dropped[UDP_DROP_EVICTED], 1);
	ck_assert_int_eq(udp_fds_open(), 2);
	/* Both established now: no descriptor for a newcomer. */
	say_to(&t, c[3], (struct sockaddr *)&t.laddr, sizeof(t.laddr),
	       "HELLO 3");
	backend_silent(&t);
	ck_assert_uint_eq(t.l.dropped[UDP_DROP_FD_BUDGET], 1);
	ck_assert_uint_eq(t.l.nflows, 2);
	ut_close(&t);
	ck_assert_int_eq(udp_fds_open(), 0);
	udp_set_fd_budget(LONG_MAX);
	for (int i = 0; i < 4; i++)
		close(c[i]);
	ck_assert_int_eq(count_fds(), t.fds_before);
}
END_TEST

/* A datagram no detector claims is dropped with its flow; the same client
 * can still open one later. */
START_TEST(test_udp__unclaimed_dropped)
{
	struct sockaddr_in self, other, f;
	struct ut t;
	int c, d, queued = 1;

	ut_open(&t, 3, "60", NULL);
	c = client(&t, &self);
	say(c, "nope");
	DRIVE_UNTIL(&t, queued == 0,
		    ck_assert_int_eq(ioctl(t.l.fd, FIONREAD, &queued), 0));
	ck_assert_uint_eq(t.l.nflows, 0);
	ck_assert_uint_eq(t.l.ndeciding, 0);
	ck_assert(TAILQ_EMPTY(&t.l.lru[UDP_DECIDING]));
	backend_silent(&t);

	/* Dropped in order: a claimed datagram sent after it is the first
	 * the backend hears. */
	d = client(&t, &other);
	say(c, "still nope");
	say(d, "HELLO marker");
	backend_hears(&t, "HELLO marker", &f);
	backend_silent(&t);
	ck_assert_uint_eq(t.l.nflows, 1);
	ck_assert_uint_eq(t.l.ndeciding, 0);

	say(c, "HELLO at last");
	backend_hears(&t, "HELLO at last", &f);
	ck_assert_uint_eq(t.l.nflows, 2);
	/* Counted for the once-a-second summary, not logged each. */
	ck_assert_uint_eq(t.l.dropped[UDP_DROP_UNCLAIMED], 2);
	ut_close(&t);
	close(c);
	close(d);
	ck_assert_int_eq(count_fds(), t.fds_before);
}
END_TEST

/* Flows quiet for udp_timeout are swept; an active one stays. */
START_TEST(test_udp__idle_sweep)
{
	struct sockaddr_in sa, sb, fa, fb, f;
	double start, last_keep = 0, gone;
	char buf[64];
	struct ut t;
	int a, b;

	ut_open(&t, 3, "0.3", NULL);
	a = client(&t, &sa);
	b = client(&t, &sb);
	say(a, "HELLO a");
	backend_hears(&t, "HELLO a", &fa);
	say(b, "HELLO b");
	backend_hears(&t, "HELLO b", &fb);
	ck_assert_uint_eq(t.l.nflows, 2);
	start = now_s();
	/* b keeps talking every 50 ms; a is quiet. */
	DRIVE_UNTIL(&t, t.l.nflows == 1, {
		if (now_s() - last_keep >= 0.05) {
			say(b, "keep");
			last_keep = now_s();
		}
		while (recv(t.backend, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
	});
	gone = now_s() - start;
	ck_assert_msg(gone >= 0.25, "swept after %.3f s", gone);
	/* The survivor is b's flow: its datagrams still go through; a's
	 * non-matching one opens nothing. */
	while (recv(t.backend, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	say(a, "ping a");
	say(b, "ping b");
	backend_hears(&t, "ping b", &f);
	ck_assert_uint_eq(f.sin_port, fb.sin_port);
	backend_silent(&t);
	/* Quiet too now: b goes as well. */
	DRIVE_UNTIL(&t, t.l.nflows == 0, {});
	ck_assert_uint_eq(t.l.ndeciding, 0);
	ut_close(&t);
	close(a);
	close(b);
	ck_assert_int_eq(count_fds(), t.fds_before);
}
END_TEST

/* udp_listener_stop ends every flow: their sockets, explicit backends and
 * generation references (ASan's leak check and the descriptor count say
 * so); the listening port is closed. */
START_TEST(test_udp__stop_frees_everything)
{
	struct sockaddr_in self[3], f;
	char text[32], buf[16];
	struct ut t;
	int c[3];

	ut_open(&t, 3, "60", NULL);
	for (int i = 0; i < 3; i++) {
		c[i] = client(&t, &self[i]);
		snprintf(text, sizeof(text), "HELLO %d", i);
		say(c[i], text);
		backend_hears(&t, text, &f);
	}
	ck_assert_uint_eq(t.l.nflows, 3);
	ck_assert_int_eq(t.g->refs, 1 + 1 + 3); /* test, loop, flows */
	ut_stop(&t);
	ck_assert_int_eq(t.g->refs, 2);
	/* Nobody listens on the port any more: ICMP port unreachable. */
	say(c[0], "anyone?");
	{
		double dl = now_s() + WAIT_MAX;

		while (recv(c[0], buf, sizeof(buf), MSG_DONTWAIT) < 0 &&
		       errno == EAGAIN)
			ck_assert_msg(now_s() < dl, "no ICMP error");
		ck_assert_int_eq(errno, ECONNREFUSED);
	}
	ut_close(&t);
	for (int i = 0; i < 3; i++)
		close(c[i]);
	ck_assert_int_eq(count_fds(), t.fds_before);
}
END_TEST

/* The table has a bucket per flow of udp_max_flows (the power of two at
 * or above it) and a key of its own; with it full, every flow is still
 * found both ways: each client's datagrams reach the backend from its
 * flow's socket, and the backend's replies reach the right client. */
START_TEST(test_udp__many_flows_found)
{
	enum { N = 300 };
	static struct sockaddr_in self[N], from[N];
	static int c[N];
	struct sockaddr_in f;
	char text[32];
	size_t longest;
	struct ut t, other;

	ut_open(&other, 1, "60", NULL);
	ck_assert_uint_eq(other.l.nbuckets, 16);
	ut_open_cfg(&t, N, "60", NULL, "  udp_flows_per_source: 300\n");
	ck_assert_uint_eq(t.l.nbuckets, 512);
	ck_assert(memcmp(t.l.hkey, other.l.hkey, sizeof(t.l.hkey)) != 0);
	ut_close(&other);
	for (int i = 0; i < N; i++) {
		c[i] = client(&t, &self[i]);
		snprintf(text, sizeof(text), "HELLO %d", i);
		say(c[i], text);
		backend_hears(&t, text, &from[i]);
	}
	ck_assert_uint_eq(t.l.nflows, N);
	longest = udp_listener_longest_chain(&t.l);
	ck_assert_msg(longest <= 8, "a chain of %zu flows", longest);
	for (int i = 0; i < N; i++) {
		snprintf(text, sizeof(text), "to %d", i);
		ck_assert_int_eq(sendto(t.backend, text, strlen(text), 0,
					(struct sockaddr *)&from[i],
					sizeof(from[i])),
				 (ssize_t)strlen(text));
		client_hears(&t, c[i], text);
	}
	for (int i = N - 1; i >= 0; i--) {
		snprintf(text, sizeof(text), "again %d", i);
		say(c[i], text);
		backend_hears(&t, text, &f);
		ck_assert_uint_eq(f.sin_port, from[i].sin_port);
	}
	ck_assert_uint_eq(t.l.nflows, N);
	ck_assert_uint_eq(t.l.ndeciding, 0);
	backend_silent(&t);
	ut_close(&t);
	for (int i = 0; i < N; i++)
		close(c[i]);
	ck_assert_int_eq(count_fds(), other.fds_before);
}
END_TEST

/* ---- flows being decided (a blocking detector: python.so) ---- */

/* "FAST|SLOW 127.0.0.1:<backend port> tag" for tests/python/udp_decide.py */
static void
say_py(struct ut *t, int fd, const char *how, const char *tag, char *text,
       size_t cap)
{
	snprintf(text, cap, "%s 127.0.0.1:%u %s", how,
		 ntohs(t->baddr.sin_port), tag);
	say(fd, text);
}

/* While a new client's flow is decided (a second), the live flows keep
 * working and none is evicted; its later datagrams wait and follow the
 * first; once it connects, the least recently active flow whose backend
 * has not answered goes. */
START_TEST(test_udp__deciding_never_evicts_live)
{
	struct sockaddr_in self[3], from[3], f;
	char text[3][128];
	struct ut t;
	int c[3];

	ut_open(&t, 2, "60", "udp_decide.py");
	for (int i = 0; i < 2; i++) {
		c[i] = client(&t, &self[i]);
		say_py(&t, c[i], "FAST", i ? "one" : "zero", text[i],
		       sizeof(text[i]));
		backend_hears(&t, text[i], &from[i]);
	}
	DRIVE_UNTIL(&t, t.l.ndeciding == 0, {});
	ck_assert_uint_eq(t.l.nflows, 2);

	c[2] = client(&t, &self[2]);
	say_py(&t, c[2], "SLOW", "two", text[2], sizeof(text[2]));
	DRIVE_UNTIL(&t, t.l.ndeciding == 1, {});
	say(c[2], "queued a");
	say(c[2], "queued b");
	/* The table is full, and a flow is being decided: live ones stay
	 * and work both ways. Flow 0 is established (answered), flow 1 not,
	 * though it is the most recently active. */
	say(c[0], "ping 0");
	backend_hears(&t, "ping 0", &f);
	ck_assert_uint_eq(f.sin_port, from[0].sin_port);
	ck_assert_int_eq(sendto(t.backend, "to 0", 4, 0,
				(struct sockaddr *)&from[0], sizeof(from[0])),
			 4);
	client_hears(&t, c[0], "to 0");
	say(c[1], "ping 1");
	backend_hears(&t, "ping 1", &f);
	ck_assert_uint_eq(f.sin_port, from[1].sin_port);
	ck_assert_msg(t.l.ndeciding == 1 && t.l.nflows == 2,
		      "decided too early (ndeciding %zu, nflows %zu): a "
		      "loaded machine?",
		      t.l.ndeciding, t.l.nflows);

	/* Decided: the first datagram, then the queued ones, in order. */
	backend_hears(&t, text[2], &from[2]);
	backend_hears(&t, "queued a", &f);
	ck_assert_uint_eq(f.sin_port, from[2].sin_port);
	backend_hears(&t, "queued b", &f);
	ck_assert_uint_eq(f.sin_port, from[2].sin_port);
	ck_assert_uint_eq(t.l.nflows, 2);
	ck_assert_uint_eq(t.l.ndeciding, 0);

	/* Flow 1 made room: flow 0 is established. */
	say(c[1], "ping 1 gone"); /* a new flow, claimed by nobody */
	say(c[0], "ping 0 live");
	backend_hears(&t, "ping 0 live", &f);
	ck_assert_uint_eq(f.sin_port, from[0].sin_port);
	DRIVE_UNTIL(&t, t.l.ndeciding == 0, {});
	backend_silent(&t);
	ck_assert_uint_eq(t.l.nflows, 2);
	ut_close(&t);
	for (int i = 0; i < 3; i++)
		close(c[i]);
}
END_TEST

/* Flows being decided are bounded by udp_max_flows on their own: a new
 * client beyond that is dropped (not queued, not decided). Stopping the
 * listener with a decision in flight abandons its job. */
START_TEST(test_udp__deciding_bounded_and_stopped)
{
	struct sockaddr_in self[4], f;
	char text[4][128];
	int c[4], queued = 1, heard[2] = {0, 0};
	struct ut t;

	ut_open(&t, 2, "60", "udp_decide.py");
	for (int i = 0; i < 3; i++) {
		c[i] = client(&t, &self[i]);
		say_py(&t, c[i], "SLOW", i == 0 ? "a" : i == 1 ? "b" : "c",
		       text[i], sizeof(text[i]));
	}
	DRIVE_UNTIL(&t, queued == 0,
		    ck_assert_int_eq(ioctl(t.l.fd, FIONREAD, &queued), 0));
	ck_assert_uint_eq(t.l.ndeciding, 2);
	ck_assert_uint_eq(t.l.nflows, 0);
	/* The two decided ones reach the backend (in either order), the
	 * third never does. */
	for (int n = 0; n < 2; n++) {
		char buf[256];
		socklen_t flen = sizeof(f);
		ssize_t k = -1;

		DRIVE_UNTIL(&t,
			    (k = recvfrom(t.backend, buf, sizeof(buf) - 1, 0,
					  (struct sockaddr *)&f, &flen)) >= 0,
			    flen = sizeof(f));
		buf[k] = '\0';
		if (strcmp(buf, text[0]) == 0)
			heard[0]++;
		else if (strcmp(buf, text[1]) == 0)
			heard[1]++;
		else
			ck_abort_msg("the backend heard '%s'", buf);
	}
	ck_assert(heard[0] == 1 && heard[1] == 1);
	DRIVE_UNTIL(&t, t.l.ndeciding == 0, {});
	ck_assert_uint_eq(t.l.nflows, 2);
	backend_silent(&t);

	/* A decision in flight when the listener stops. */
	c[3] = client(&t, &self[3]);
	say_py(&t, c[3], "SLOW", "d", text[3], sizeof(text[3]));
	DRIVE_UNTIL(&t, t.l.ndeciding == 1, {});
	ut_stop(&t);
	ut_close(&t);
	for (int i = 0; i < 4; i++)
		close(c[i]);
}
END_TEST

/* `n` bytes of 'x' from client fd, read by the listener. */
static void
say_big(struct ut *t, int fd, size_t n)
{
	static char big[8192];
	int queued = 1;

	memset(big, 'x', sizeof(big));
	ck_assert_uint_le(n, sizeof(big));
	ck_assert_int_eq(send(fd, big, n, 0), (ssize_t)n);
	DRIVE_UNTIL(t, queued == 0,
		    ck_assert_int_eq(ioctl(t->l.fd, FIONREAD, &queued), 0));
}

/* What flows being decided hold is bounded: 16 datagrams a flow (the first
 * included) and udp_queue_bytes for the listener, counting the copy the
 * blocking detector works on. A new client without room to wait is judged
 * by the other detectors only (here none: no_room). Once decided, the
 * queues are sent and nothing is held. */
START_TEST(test_udp__queue_bytes)
{
	struct sockaddr_in self[4], f;
	char text[2][128], buf[8192];
	struct ut t;
	int c[4], heard = 0;
	size_t first[2], rlen;
	uint8_t *reset;

	ut_open_cfg(&t, 8, "60", "udp_decide.py",
		    "  udp_queue_bytes: 65536\n");
	for (int i = 0; i < 3; i++)
		c[i] = client(&t, &self[i]);
	say_py(&t, c[0], "SLOW", "a", text[0], sizeof(text[0]));
	DRIVE_UNTIL(&t, t.l.ndeciding == 1, {});
	first[0] = strlen(text[0]);
	ck_assert_uint_eq(t.l.held, 2 * first[0]); /* queue, detector */
	for (int i = 0; i < 20; i++)
		say_big(&t, c[0], 4000);
	/* 15 fit (16 with the first), 5 are dropped. */
	ck_assert_uint_eq(t.l.held, 2 * first[0] + 15 * 4000);
	ck_assert_uint_eq(t.l.dropped[UDP_DROP_QUEUE_FULL], 5);

	say_py(&t, c[1], "SLOW", "b", text[1], sizeof(text[1]));
	DRIVE_UNTIL(&t, t.l.ndeciding == 2, {});
	first[1] = strlen(text[1]);
	for (int i = 0; i < 3; i++)
		say_big(&t, c[1], 2000);
	/* 65536 - 60000 - 2 * 2 * ~22 leaves room for two of them. */
	ck_assert_uint_eq(t.l.held,
			  2 * (first[0] + first[1]) + 15 * 4000 + 2 * 2000);
	ck_assert_uint_eq(t.l.dropped[UDP_DROP_QUEUE_FULL], 6);

	/* A third client's first datagram would not fit twice: Python is
	 * skipped for it, and nobody else claims it (here: openvpn). */
	snprintf(buf, sizeof(buf), "SLOW 127.0.0.1:%u c ",
		 ntohs(t.baddr.sin_port));
	memset(buf + strlen(buf), 'x', 4000);
	buf[4000] = '\0';
	say(c[2], buf);
	DRIVE_UNTIL(&t, t.l.dropped[UDP_DROP_NO_ROOM] == 1, {});
	ck_assert_uint_eq(t.l.ndeciding, 2);
	ck_assert_uint_eq(t.l.dropped[UDP_DROP_UNCLAIMED], 0);

	/* 18 bytes left: not room enough for an OpenVPN reset to wait, so
	 * openvpn judges it at once, and its flow connects while Python is
	 * still busy with the others. */
	say_big(&t, c[1], 1430);
	ck_assert_uint_eq(t.l.held, 65536 - 18);
	reset = tu_read("tests/corpus/openvpn/udp-plain.bin", &rlen);
	ck_assert_uint_eq(rlen, 14);
	c[3] = client(&t, &self[3]);
	ck_assert_int_eq(send(c[3], reset, rlen, 0), (ssize_t)rlen);
	{
		socklen_t flen = sizeof(f);
		ssize_t n = -1;

		DRIVE_UNTIL(&t,
			    (n = recvfrom(t.backend, buf, sizeof(buf), 0,
					  (struct sockaddr *)&f, &flen)) >= 0,
			    flen = sizeof(f));
		ck_assert_int_eq(n, 14);
		ck_assert(memcmp(buf, reset, rlen) == 0);
	}
	ck_assert_uint_eq(t.l.ndeciding, 2);
	ck_assert_uint_eq(t.l.nflows, 1);
	free(reset);

	/* Decided: the first datagrams and 15 + 3 queued reach the backend,
	 * nothing is held any more. */
	while (heard < 2 + 15 + 3) {
		socklen_t flen = sizeof(f);
		ssize_t n = -1;

		DRIVE_UNTIL(&t,
			    (n = recvfrom(t.backend, buf, sizeof(buf), 0,
					  (struct sockaddr *)&f, &flen)) >= 0,
			    flen = sizeof(f));
		heard++;
	}
	backend_silent(&t);
	DRIVE_UNTIL(&t, t.l.ndeciding == 0, {});
	ck_assert_uint_eq(t.l.nflows, 3);
	ck_assert_uint_eq(t.l.held, 0);
	ut_close(&t);
	for (int i = 0; i < 4; i++)
		close(c[i]);
}
END_TEST

/* The idle sweep leaves a flow alone while its detector is at work (the
 * detector's copy of the datagram is counted until it answers): with
 * udp_timeout 0.3 s and a script taking a second, the flow is decided and
 * connected, then swept once idle. */
START_TEST(test_udp__sweep_waits_for_detector)
{
	struct sockaddr_in self, f;
	char text[128];
	struct ut t;
	int c;

	ut_open(&t, 2, "0.3", "udp_decide.py");
	c = client(&t, &self);
	say_py(&t, c, "SLOW", "patient", text, sizeof(text));
	backend_hears(&t, text, &f);
	ck_assert_uint_eq(t.l.nflows, 1);
	ck_assert_uint_eq(t.l.held, 0);
	DRIVE_UNTIL(&t, t.l.nflows == 0, {});
	ck_assert_uint_eq(t.l.ndeciding, 0);
	ut_close(&t);
	close(c);
}
END_TEST

/* A blocking detector still out at probe_deadline: the sweep decides the
 * flow on the other detectors (t_gate holds 'W' until released; t_prefix
 * matches 'W'), and the late answer changes nothing. */
START_TEST(test_udp__deadline_decides_without_blocking)
{
	void (*release)(int), (*reset)(void);
	int (*waiting)(void);
	struct sockaddr_in self, f;
	char path[4096];
	double t0, took;
	struct ut t;
	void *h;
	int c;

	ut_detectors = "[t_gate, t_prefix]";
	ut_match = "W";
	ut_open_cfg(&t, 8, "30", NULL,
		    "  probe_timeout: 0.1\n  probe_deadline: 0.3\n");
	ut_detectors = "[t_prefix]";
	ut_match = "HELLO";
	snprintf(path, sizeof(path), "%s/t_gate.so",
		 getenv("PORTMUX_TEST_PLUGINS"));
	h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	ck_assert_msg(h != NULL, "t_gate.so is not loaded: %s", dlerror());
	*(void **)&release = dlsym(h, "t_gate_release");
	*(void **)&reset = dlsym(h, "t_gate_reset");
	*(void **)&waiting = dlsym(h, "t_gate_waiting");
	ck_assert(release && reset && waiting);
	dlclose(h); /* the generation keeps it loaded */
	reset();
	c = client(&t, &self);
	t0 = now_s();
	say(c, "Wait");
	DRIVE_UNTIL(&t, waiting() == 1, {});
	ck_assert_uint_eq(t.l.ndeciding, 1);
	/* Decided by t_prefix at the first sweep after 0.3 s (once a
	 * second), t_gate still at its gate. */
	backend_hears(&t, "Wait", &f);
	took = now_s() - t0;
	ck_assert_msg(took >= 0.3 && took < 2.5, "decided after %.3f s",
		      took);
	ck_assert_int_eq(waiting(), 1);
	ck_assert_uint_eq(t.l.ndeciding, 0);
	ck_assert_uint_eq(t.l.nflows, 1);
	ck_assert_uint_eq(t.l.held, 0);
	/* The late answer is dropped: the flow stays as it is. */
	release(-1);
	DRIVE_UNTIL(&t, waiting() == 0, {});
	say(c, "again");
	backend_hears(&t, "again", &f);
	ck_assert_uint_eq(t.l.nflows, 1);
	ut_close(&t);
	close(c);
}
END_TEST

/* ---- detectors that read datagrams (t_gather) ---- */

/* Counter `sym` of test plugin `name` for its instance in t's generation
 * (the generation keeps the plugin loaded). */
static unsigned long
det_counter(struct ut *t, const char *name, const char *sym)
{
	unsigned long (*fn)(void *);
	char path[4096];
	void *h;

	snprintf(path, sizeof(path), "%s/%s.so",
		 getenv("PORTMUX_TEST_PLUGINS"), name);
	h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	ck_assert_msg(h != NULL, "%s.so is not loaded: %s", name, dlerror());
	*(void **)&fn = dlsym(h, sym);
	ck_assert_ptr_nonnull(fn);
	dlclose(h);
	for (size_t i = 0; i < t->g->ndets; i++)
		if (strcmp(t->g->dets[i].name, name) == 0)
			return fn(t->g->dets[i].instance);
	ck_abort_msg("detector %s is not in the generation", name);
	return 0;
}

/* The backend hears `n` datagrams, texts[0..n), in order, all from one
 * flow socket (its address in *from). */
static void
backend_hears_all(struct ut *t, const char *const *texts, int n,
		  struct sockaddr_in *from)
{
	struct sockaddr_in f;

	backend_hears(t, texts[0], from);
	for (int i = 1; i < n; i++) {
		backend_hears(t, texts[i], &f);
		ck_assert_uint_eq(f.sin_port, from->sin_port);
	}
}

/* A detector that reads datagrams needs more: the flow waits, holding
 * them, and it is asked again with each new one, shown all of them with
 * their boundaries; once it matches they reach the backend in order, and
 * the flow works both ways. A detector before it that does not read
 * datagrams was shown the first one alone, once, as final. */
START_TEST(test_udp__datagrams_gathered)
{
	static const char *const parts[] = {"Gat", "her", "ed!"};
	struct sockaddr_in self, from, again;
	struct ut t;
	int c;

	ut_detectors = "[t_prefix, t_gather]";
	ut_open(&t, 4, "60", NULL);
	ut_detectors = "[t_prefix]";
	c = client(&t, &self);
	say(c, parts[0]);
	DRIVE_UNTIL(&t, det_counter(&t, "t_gather", "t_gather_calls") == 1,
		    {});
	ck_assert_uint_eq(t.l.ndeciding, 1);
	ck_assert_uint_eq(t.l.held, 3);
	backend_silent(&t);
	say(c, parts[1]);
	say(c, parts[2]);
	backend_hears_all(&t, parts, 3, &from);
	ck_assert_uint_eq(det_counter(&t, "t_gather", "t_gather_calls"), 3);
	ck_assert_uint_eq(det_counter(&t, "t_gather", "t_gather_shown"), 3);
	ck_assert_uint_eq(det_counter(&t, "t_prefix", "t_prefix_calls"), 1);
	ck_assert_uint_eq(t.l.ndeciding, 0);
	ck_assert_uint_eq(t.l.nflows, 1);
	ck_assert_uint_eq(t.l.held, 0);

	ck_assert_int_eq(sendto(t.backend, "reply", 5, 0,
				(struct sockaddr *)&from, sizeof(from)),
			 5);
	client_hears(&t, c, "reply");
	say(c, "later");
	backend_hears(&t, "later", &again);
	ck_assert_uint_eq(again.sin_port, from.sin_port);
	ck_assert_uint_eq(det_counter(&t, "t_gather", "t_gather_calls"), 3);
	backend_silent(&t);
	ut_close(&t);
	close(c);
}
END_TEST

/* At probe_deadline a flow still waiting for datagrams is decided on what
 * it holds (at the first sweep after it, once a second): the detector
 * that wanted more gets its final call, and the next ones theirs — one
 * that does not read datagrams is shown the first alone. What the flow
 * held follows in order; a flow nobody claims is dropped. */
START_TEST(test_udp__datagrams_deadline)
{
	static const char *const mine[] = {"GFmine", "more"};
	static const char *const prefix[] = {"Gx one", "two"};
	struct sockaddr_in self[3], from[2];
	double t0, took;
	struct ut t;
	int c[3];

	ut_detectors = "[t_gather, t_prefix]";
	ut_match = "Gx";
	ut_open_cfg(&t, 8, "30", NULL,
		    "  probe_timeout: 0.1\n  probe_deadline: 0.3\n");
	ut_detectors = "[t_prefix]";
	ut_match = "HELLO";
	for (int i = 0; i < 3; i++)
		c[i] = client(&t, &self[i]);
	t0 = now_s();
	say(c[0], mine[0]);   /* t_gather's on its final call */
	say(c[0], mine[1]);
	say(c[1], prefix[0]); /* t_prefix's: its first datagram */
	say(c[1], prefix[1]);
	say(c[2], "Gnobody");
	DRIVE_UNTIL(&t, t.l.held == 6 + 4 + 6 + 3 + 7, {});
	ck_assert_uint_eq(t.l.ndeciding, 3);
	/* Either flow may be decided first. */
	for (int n = 0; n < 2; n++) {
		char buf[64];
		struct sockaddr_in f;
		socklen_t flen = sizeof(f);
		ssize_t k = -1;
		int which;

		DRIVE_UNTIL(&t,
			    (k = recvfrom(t.backend, buf, sizeof(buf) - 1, 0,
					  (struct sockaddr *)&f, &flen)) >= 0,
			    flen = sizeof(f));
		buf[k] = '\0';
		which = strcmp(buf, mine[0]) == 0 ? 0 : 1;
		ck_assert_str_eq(buf, which ? prefix[0] : mine[0]);
		from[which] = f;
		backend_hears(&t, which ? prefix[1] : mine[1], &f);
		ck_assert_uint_eq(f.sin_port, from[which].sin_port);
	}
	took = now_s() - t0;
	ck_assert_msg(took >= 0.3 && took < 2.5, "decided after %.3f s",
		      took);
	DRIVE_UNTIL(&t, t.l.ndeciding == 0, {});
	ck_assert_uint_eq(t.l.nflows, 2);
	ck_assert_uint_eq(t.l.held, 0);
	ck_assert_uint_eq(t.l.dropped[UDP_DROP_UNCLAIMED], 1);
	backend_silent(&t);
	ut_close(&t);
	for (int i = 0; i < 3; i++)
		close(c[i]);
}
END_TEST

/* A flow waits for at most 16 datagrams, and probe_buffer bytes of them:
 * then its detectors decide on those, at once; a datagram after the
 * decision follows the flow. */
START_TEST(test_udp__datagrams_bounded)
{
	const char *texts[17];
	char names[17][8], big[2][48];
	const char *bigs[2] = {big[0], big[1]};
	struct sockaddr_in self[2], from, f;
	struct ut t;
	double t0;
	int c[2];

	ut_detectors = "[t_gather, t_prefix]";
	ut_open_cfg(&t, 8, "30", NULL, "  probe_buffer: 64\n");
	ut_detectors = "[t_prefix]";
	for (int i = 0; i < 2; i++)
		c[i] = client(&t, &self[i]);
	t0 = now_s();
	for (int i = 0; i < 17; i++) {
		snprintf(names[i], sizeof(names[i]), i ? "p%d" : "GF", i);
		texts[i] = names[i];
		say(c[0], texts[i]);
	}
	backend_hears_all(&t, texts, 17, &from);
	ck_assert_uint_eq(det_counter(&t, "t_gather", "t_gather_shown"), 16);

	/* 47 + 47 bytes: over probe_buffer (64) with the second. */
	memset(big, 'b', sizeof(big));
	big[0][0] = 'G';
	big[0][1] = 'F';
	big[0][47] = big[1][47] = '\0';
	say(c[1], bigs[0]);
	say(c[1], bigs[1]);
	backend_hears_all(&t, bigs, 2, &f);
	ck_assert_uint_ne(f.sin_port, from.sin_port);
	ck_assert_uint_eq(det_counter(&t, "t_gather", "t_gather_shown"), 2);
	ck_assert_msg(now_s() - t0 < 2.0, "not decided at once");
	ck_assert_uint_eq(t.l.ndeciding, 0);
	ck_assert_uint_eq(t.l.held, 0);
	ut_close(&t);
	for (int i = 0; i < 2; i++)
		close(c[i]);
}
END_TEST

/* Flows that wait for more datagrams are bounded in number
 * (udp_max_flows): a new client without room to wait is decided on its
 * first datagram, as final, while the waiting one still completes. */
START_TEST(test_udp__datagrams_no_room)
{
	static const char *const waits[] = {"Gwait", "ed!"};
	struct sockaddr_in self[3], from, f;
	struct ut t;
	int c[3];

	ut_detectors = "[t_gather, t_prefix]";
	ut_open(&t, 1, "60", NULL);
	ut_detectors = "[t_prefix]";
	for (int i = 0; i < 3; i++)
		c[i] = client(&t, &self[i]);
	say(c[0], waits[0]);
	DRIVE_UNTIL(&t, t.l.ndeciding == 1, {});
	say(c[1], "Gno room"); /* final at once: not t_gather's */
	DRIVE_UNTIL(&t, t.l.dropped[UDP_DROP_UNCLAIMED] == 1, {});
	say(c[2], "GF hurried"); /* final at once: t_gather's */
	backend_hears(&t, "GF hurried", &f);
	ck_assert_uint_eq(t.l.ndeciding, 1);
	say(c[0], waits[1]);
	backend_hears_all(&t, waits, 2, &from);
	ck_assert_uint_eq(t.l.ndeciding, 0);
	backend_silent(&t);
	ut_close(&t);
	for (int i = 0; i < 3; i++)
		close(c[i]);
}
END_TEST

Suite *make_suite_udp(void);
Suite *
make_suite_udp(void)
{
	Suite *s = suite_create("udp");
	TCase *tc = tcase_create("flows");
	TCase *td = tcase_create("deciding");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_udp__flow_both_ways);
	tcase_add_test(tc, test_udp__lru_eviction);
	tcase_add_test(tc, test_udp__established_never_evicted);
	tcase_add_test(tc, test_udp__flows_per_source);
	tcase_add_test(tc, test_udp__deny);
	tcase_add_test(tc, test_udp__flows_per_source_ipv6);
	tcase_add_test(tc, test_udp__fd_budget);
	tcase_add_test(tc, test_udp__unclaimed_dropped);
	tcase_add_test(tc, test_udp__idle_sweep);
	tcase_add_test(tc, test_udp__stop_frees_everything);
	tcase_add_test(tc, test_udp__many_flows_found);
	suite_add_tcase(s, tc);
	tcase_set_timeout(td, 60);
	tcase_add_test(td, test_udp__deciding_never_evicts_live);
	tcase_add_test(td, test_udp__deciding_bounded_and_stopped);
	tcase_add_test(td, test_udp__queue_bytes);
	tcase_add_test(td, test_udp__sweep_waits_for_detector);
	tcase_add_test(td, test_udp__deadline_decides_without_blocking);
	tcase_add_test(td, test_udp__datagrams_gathered);
	tcase_add_test(td, test_udp__datagrams_deadline);
	tcase_add_test(td, test_udp__datagrams_bounded);
	tcase_add_test(td, test_udp__datagrams_no_room);
	suite_add_tcase(s, td);
	return s;
}
