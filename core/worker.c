/* worker.c — listening sockets and accept(). */
#include "worker.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "relay.h"
#include "udp.h"

#define ACCEPT_BATCH 64
#define ACCEPT_RETRY 0.1 /* seconds before retrying after EMFILE */
#define SCRATCH_SIZE (64 * 1024)

static void
listeners_start(struct worker *w, int on)
{
	for (size_t i = 0; i < w->nlisteners; i++) {
		if (on)
			ev_io_start(w->loop, &w->listeners[i].io);
		else
			ev_io_stop(w->loop, &w->listeners[i].io);
	}
}

static void
accept_pause(struct worker *w, int why)
{
	if (w->accept_paused)
		return;
	w->accept_paused = why;
	listeners_start(w, 0);
	if (why == 1) {
		ev_timer_set(&w->accept_timer, ACCEPT_RETRY, 0);
		ev_timer_start(w->loop, &w->accept_timer);
	}
}

static void
accept_resume(struct worker *w)
{
	if (!w->accept_paused)
		return;
	w->accept_paused = 0;
	ev_timer_stop(w->loop, &w->accept_timer);
	listeners_start(w, 1);
}

static void
accept_timer_cb(EV_P_ ev_timer *t, int revents)
{
	struct worker *w = t->data;

	(void)loop;
	(void)revents;
	accept_resume(w);
}

void
worker_conn_closed(struct worker *w)
{
	w->nconns--;
	if (w->accept_paused == 2 && w->nconns < w->gen->cfg->max_connections)
		accept_resume(w);
}

static void
accept_cb(EV_P_ ev_io *io, int revents)
{
	struct listener *l = (struct listener *)io;
	struct worker *w = l->w;
	unsigned long dropped;

	(void)loop;
	(void)revents;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd;

		if (w->nconns >= w->gen->cfg->max_connections) {
			if (log_ratelimit_ok(&w->accept_rl, &dropped))
				log_warn("accept paused: max_connections=%ld "
					 "reached",
					 w->gen->cfg->max_connections);
			accept_pause(w, 2);
			return;
		}
		fd = accept4(l->fd, (struct sockaddr *)&peer, &plen,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED || errno == EPROTO)
				return;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				if (log_ratelimit_ok(&w->accept_rl, &dropped))
					log_warn("accept failed on %s: %s; "
						 "pausing accept (%lu similar "
						 "suppressed)",
						 l->text, strerror(errno),
						 dropped);
				accept_pause(w, 1);
				return;
			}
			log_error("accept failed on %s: %s", l->text,
				  strerror(errno));
			return;
		}
		conn_accept(w, l, fd, (struct sockaddr *)&peer, plen);
	}
}

static int
listener_open(struct listener *l, char *err, size_t errlen)
{
	const struct sockaddr *sa = (const struct sockaddr *)&l->addr.ss;
	int one = 1;
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
					       SOCK_CLOEXEC,
			0);

	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* An IPv6 listener serves IPv6 only, so "0.0.0.0:P" and "[::]:P"
	 * can both be listed. */
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, sa, l->addr.len) < 0 || listen(fd, SOMAXCONN) < 0)
		goto fail;
	l->fd = fd;
	return 0;
fail:
	snprintf(err, errlen, "cannot listen on %s: %s", l->text,
		 strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

int
worker_init(struct worker *w, struct ev_loop *loop, struct generation *g,
	    char *err, size_t errlen)
{
	const struct config *cfg = g->cfg;

	memset(w, 0, sizeof(*w));
	w->loop = loop;
	w->scratch_size = SCRATCH_SIZE;
	w->scratch = malloc(w->scratch_size);
	w->listeners = calloc(cfg->nlisten, sizeof(*w->listeners));
	if (w->scratch == NULL || w->listeners == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < cfg->nlisten; i++) {
		struct listener *l = &w->listeners[i];

		l->w = w;
		l->addr = cfg->listen[i].addr;
		memcpy(l->text, cfg->listen[i].text, sizeof(l->text));
		if (listener_open(l, err, errlen) < 0)
			goto fail;
		w->nlisteners++;
		ev_io_init(&l->io, accept_cb, l->fd, EV_READ);
	}
	ev_init(&w->accept_timer, accept_timer_cb);
	w->accept_timer.data = w;
	generation_ref(g);
	w->gen = g;
	if (udp_start(w, err, errlen) < 0) {
		generation_unref(g);
		w->gen = NULL;
		goto fail;
	}
	listeners_start(w, 1);
	return 0;
fail:
	for (size_t i = 0; i < w->nlisteners; i++)
		close(w->listeners[i].fd);
	free(w->listeners);
	free(w->scratch);
	memset(w, 0, sizeof(*w));
	return -1;
}

struct probe_pool *
worker_pool(struct worker *w)
{
	if (w->pool == NULL)
		w->pool = probe_pool_new(w->loop,
					 (int)w->gen->cfg->probe_threads,
					 conn_probe_done);
	return w->pool;
}

void
worker_set_generation(struct worker *w, struct generation *g)
{
	generation_ref(g);
	generation_unref(w->gen);
	w->gen = g;
}

void
worker_fini(struct worker *w)
{
	listeners_start(w, 0);
	ev_timer_stop(w->loop, &w->accept_timer);
	for (size_t i = 0; i < w->nlisteners; i++)
		close(w->listeners[i].fd);
	while (w->conns != NULL)
		conn_close(w->conns, "shutdown");
	udp_stop(w);
	relay_pipes_free(w);
	probe_pool_free(w->pool); /* after the connections abandoned jobs */
	w->pool = NULL;
	free(w->listeners);
	free(w->scratch);
	generation_unref(w->gen);
	w->listeners = NULL;
	w->scratch = NULL;
	w->gen = NULL;
	w->nlisteners = 0;
}
