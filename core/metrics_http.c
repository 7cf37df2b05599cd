/* metrics_http.c — the HTTP side of PORTMUX.metrics, on the main loop. */
#include "metrics_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

/* One scrape: a client connection, from accept to close. */
struct scrape {
	int fd; /* owned: closed by scrape_end; -1 when the slot is free */
	ev_io io;       /* reading the request, then writing the answer */
	ev_timer timer; /* METRICS_HTTP_TIMEOUT from accept */
	char req[METRICS_HTTP_REQUEST_MAX];
	size_t req_len;
	char *resp; /* owned: the whole answer, freed by scrape_end */
	size_t resp_len, sent;
};

/* The one server of the process; everything here is the main thread's
 * and owned by this file: metrics_http_stop closes and frees it all. */
static struct {
	struct ev_loop *loop;  /* borrowed: main's */
	int fd;                /* listening socket; -1: not bound */
	ev_io accept_io;       /* readable listener, stopped while full */
	ev_timer retry;        /* accept failed (out of descriptors) */
	char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct scrape scrapes[METRICS_HTTP_SCRAPES_MAX];
	int nscrapes; /* slots in use */
} server = {.fd = -1};

int
metrics_http_bind(const struct config *cfg, char *err, size_t errlen)
{
	const struct sockaddr *sa = (const struct sockaddr *)&cfg->metrics.ss;
	int one = 1;
	int fd;

	if (cfg->metrics.len == 0)
		return 0;
	if (sa->sa_family == AF_UNIX) {
		const char *path = ((const struct sockaddr_un *)sa)->sun_path;
		struct stat st;

		if (lstat(path, &st) == 0) {
			if (!S_ISSOCK(st.st_mode)) {
				snprintf(err, errlen,
					 "metrics: %s exists and is not a "
					 "socket",
					 path);
				return -1;
			}
			unlink(path); /* an earlier run's */
		}
	}
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		goto fail;
	if (sa->sa_family != AF_UNIX)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, sa, cfg->metrics.len) < 0 ||
	    listen(fd, METRICS_HTTP_SCRAPES_MAX) < 0)
		goto fail;
	server.fd = fd;
	if (sa->sa_family == AF_UNIX)
		snprintf(server.unix_path, sizeof(server.unix_path), "%s",
			 ((const struct sockaddr_un *)sa)->sun_path);
	for (int i = 0; i < METRICS_HTTP_SCRAPES_MAX; i++)
		server.scrapes[i].fd = -1;
	log_info("metrics on %s (GET /metrics)", cfg->metrics_text);
	return 0;
fail:
	snprintf(err, errlen, "metrics: cannot listen on %s: %s",
		 cfg->metrics_text, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static void
accepting(int on)
{
	if (on)
		ev_io_start(server.loop, &server.accept_io);
	else
		ev_io_stop(server.loop, &server.accept_io);
}

/* The scrape is over: everything of it closed and freed, its slot free,
 * and the listener accepting again. */
static void
scrape_end(struct scrape *s)
{
	ev_io_stop(server.loop, &s->io);
	ev_timer_stop(server.loop, &s->timer);
	close(s->fd);
	s->fd = -1;
	free(s->resp);
	s->resp = NULL;
	server.nscrapes--;
	if (!ev_is_active(&server.retry))
		accepting(1);
}

static void
scrape_write_cb(EV_P_ ev_io *io, int revents)
{
	struct scrape *s = io->data;

	(void)loop;
	(void)revents;
	while (s->sent < s->resp_len) {
		ssize_t n = send(s->fd, s->resp + s->sent,
				 s->resp_len - s->sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			break;
		}
		s->sent += (size_t)n;
	}
	shutdown(s->fd, SHUT_WR);
	scrape_end(s);
}

/* The answer to send: status line, headers and (unless HEAD) body. -1
 * out of memory. */
static int
scrape_answer(struct scrape *s, const char *status, const char *body,
	      size_t body_len, int head_only)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %s\r\n"
			 "Content-Type: text/plain; version=0.0.4; "
			 "charset=utf-8\r\n"
			 "Content-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 status, body_len);

	if (head_only)
		body_len = 0;
	s->resp = malloc((size_t)n + body_len);
	if (s->resp == NULL)
		return -1;
	memcpy(s->resp, head, (size_t)n);
	if (body_len)
		memcpy(s->resp + n, body, body_len);
	s->resp_len = (size_t)n + body_len;
	s->sent = 0;
	return 0;
}

/* The request line of s->req (complete headers are there): what to
 * answer. */
static int
scrape_respond(struct scrape *s)
{
	static const char not_found[] = "Not found: try /metrics\n";
	static const char bad_method[] = "Only GET\n";
	char *line = s->req, *sp1, *sp2, *q;
	int head_only = 0;

	line[strcspn(line, "\r\n")] = '\0';
	sp1 = strchr(line, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (sp1 == NULL || sp2 == NULL || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return scrape_answer(s, "400 Bad Request", "Bad request\n", 12,
				     0);
	*sp1 = *sp2 = '\0';
	if (strcmp(line, "HEAD") == 0)
		head_only = 1;
	else if (strcmp(line, "GET") != 0)
		return scrape_answer(s, "405 Method Not Allowed", bad_method,
				     sizeof(bad_method) - 1, 0);
	q = strchr(sp1 + 1, '?');
	if (q != NULL)
		*q = '\0';
	if (strcmp(sp1 + 1, "/metrics") != 0)
		return scrape_answer(s, "404 Not Found", not_found,
				     sizeof(not_found) - 1, head_only);
	{
		struct metrics_snapshot snap;
		struct metrics_text text = {0};
		int rc;

		metrics_snapshot_take(&snap);
		if (metrics_render(&snap, &text) < 0)
			rc = scrape_answer(s, "500 Internal Server Error",
					   "Out of memory\n", 14, head_only);
		else
			rc = scrape_answer(s, "200 OK", text.data, text.len,
					   head_only);
		metrics_text_free(&text);
		return rc;
	}
}

static void
scrape_read_cb(EV_P_ ev_io *io, int revents)
{
	struct scrape *s = io->data;
	size_t room = sizeof(s->req) - 1 - s->req_len;
	ssize_t n;
	int rc;

	(void)revents;
	n = recv(s->fd, s->req + s->req_len, room, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		scrape_end(s);
		return;
	}
	s->req_len += (size_t)n;
	s->req[s->req_len] = '\0';
	if (strstr(s->req, "\r\n\r\n") != NULL ||
	    strstr(s->req, "\n\n") != NULL)
		rc = scrape_respond(s);
	else if (s->req_len == sizeof(s->req) - 1)
		rc = scrape_answer(s, "431 Request Header Fields Too Large",
				   "Request too large\n", 18, 0);
	else
		return; /* more to come */
	if (rc < 0) {
		scrape_end(s);
		return;
	}
	ev_io_stop(EV_A_ io);
	ev_io_init(io, scrape_write_cb, s->fd, EV_WRITE);
	io->data = s;
	ev_io_start(EV_A_ io);
}

static void
scrape_timeout_cb(EV_P_ ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	scrape_end(t->data);
}

static void
retry_cb(EV_P_ ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	ev_timer_stop(EV_A_ t);
	if (server.nscrapes < METRICS_HTTP_SCRAPES_MAX)
		accepting(1);
}

static struct scrape *
free_slot(void)
{
	for (int i = 0; i < METRICS_HTTP_SCRAPES_MAX; i++)
		if (server.scrapes[i].fd < 0)
			return &server.scrapes[i];
	return NULL;
}

static void
accept_cb(EV_P_ ev_io *io, int revents)
{
	(void)revents;
	while (server.nscrapes < METRICS_HTTP_SCRAPES_MAX) {
		struct scrape *s;
		int fd = accept4(io->fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			/* Out of descriptors, most likely: try again in a
			 * second rather than spin on a readable listener. */
			log_warn("metrics: accept: %s", strerror(errno));
			accepting(0);
			ev_timer_set(&server.retry, 1.0, 0);
			ev_timer_start(EV_A_ & server.retry);
			return;
		}
		s = free_slot();
		s->fd = fd;
		s->req_len = 0;
		s->resp = NULL;
		ev_io_init(&s->io, scrape_read_cb, fd, EV_READ);
		s->io.data = s;
		ev_io_start(EV_A_ & s->io);
		ev_timer_init(&s->timer, scrape_timeout_cb,
			      METRICS_HTTP_TIMEOUT, 0);
		s->timer.data = s;
		ev_timer_start(EV_A_ & s->timer);
		server.nscrapes++;
	}
	accepting(0); /* full: the rest wait in the backlog */
}

void
metrics_http_start(struct ev_loop *loop)
{
	if (server.fd < 0)
		return;
	server.loop = loop;
	ev_io_init(&server.accept_io, accept_cb, server.fd, EV_READ);
	ev_init(&server.retry, retry_cb);
	accepting(1);
}

void
metrics_http_stop(void)
{
	if (server.fd < 0)
		return;
	if (server.loop != NULL) {
		for (int i = 0; i < METRICS_HTTP_SCRAPES_MAX; i++)
			if (server.scrapes[i].fd >= 0)
				scrape_end(&server.scrapes[i]);
		ev_io_stop(server.loop, &server.accept_io);
		ev_timer_stop(server.loop, &server.retry);
	}
	close(server.fd);
	server.fd = -1;
	server.loop = NULL;
	if (server.unix_path[0] != '\0')
		unlink(server.unix_path);
	server.unix_path[0] = '\0';
}
