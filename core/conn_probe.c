/* conn_probe.c — the probing phase: read what the client sends, strip a
 * trusted balancer's PROXY header, run the detection chain (decide.h:
 * blocking detectors through the probe pool), and go where the answer
 * leads — a backend, fallback, on_timeout for a silent client — or close
 * (after the detector's words for a client it cannot serve). */
#include "conn.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "admit.h"
#include "conn_internal.h"
#include "decide.h"
#include "log.h"
#include "metrics.h"
#include "proxyproto.h"
#include "stats.h"

/* A route key for the log: normalised, and never able to break the
 * key=value line (client-supplied bytes). */
static char *
log_key_dup(const char *key)
{
	char norm[PMX_KEY_MAX];
	int n = route_normalize(key, strlen(key), norm, sizeof(norm));

	if (n <= 0)
		return NULL;
	for (char *p = norm; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '=' || *p == '"')
			*p = '?';
	return strdup(norm);
}

/* Route a detector's answer to a backend, or fall back. May close c. */
static void
conn_route(struct conn *c, int outcome, int det,
	   const struct pmx_probe_result *res, struct probe_job *job)
{
	const struct backend *b;
	struct metrics_series *series;

	metrics_detection_time(ev_now(c->lc->loop) - c->started);
	if (outcome == PROBE_MATCH) {
		c->det = (int16_t)det;
		if (res->key[0])
			c->key = log_key_dup(res->key);
		b = decide_backend_series(c->gen, det, res, PMX_TRANSPORT_TCP,
					  job, &c->own_backend, "conn", c->id,
					  &series);
		if (b != NULL && !backend_admits(b, &c->peer.sa)) {
			/* The route's allow / deny: as if it had none. */
			conn_reject(c, PMX_REJECT_NO_ROUTE, res);
			stats_count(STATS_REFUSED);
			metrics_refused(REFUSED_ROUTE_DENY);
			conn_close(c, "denied");
			return;
		}
		if (b != NULL) {
			conn_connect(c, b, VIA_DETECTOR, series);
			return;
		}
	}
	if (c->lsn->fallback == NULL) {
		if (outcome == PROBE_MATCH)
			conn_reject(c, PMX_REJECT_NO_ROUTE, res);
		stats_count(STATS_UNSERVED);
		conn_close(c, outcome == PROBE_MATCH ? "no_route"
						     : "unrecognised");
		return;
	}
	stats_count(STATS_FALLBACK);
	conn_connect(c, c->lsn->fallback, VIA_FALLBACK,
		     outcome == PROBE_MATCH
			     ? c->gen->dets[det].fallback_series
			     : c->gen->fallback_series);
}

static void conn_probe_done(struct probe_job *job);

/* Run the detection chain on the bytes so far (`final`: decide now). May
 * close c. */
static void
probe_decide(struct conn *c, int final)
{
	struct pmx_probe_input in = {
		.data = c->probe->data,
		.len = c->probe->len,
		.capacity = c->probe->cap,
		.transport = PMX_TRANSPORT_TCP,
		.peer = &c->peer.sa,
		.peer_len = c->peer.sa.sa_family == AF_INET6
				    ? sizeof(struct sockaddr_in6)
				    : sizeof(struct sockaddr_in),
		.local = (const struct sockaddr *)&c->bound->ss,
		.local_len = c->bound->len,
		.deadline = decide_deadline(c->lc, c->started,
					    c->gen->cfg->probe_deadline),
	};
	struct pmx_probe_result res;
	int det = -1, outcome;

	if (c->job != NULL) {
		/* A blocking detector is still deciding (the buffer is full
		 * or the client is done sending): its answer comes first;
		 * remember that we must decide then. */
		c->want_final |= (uint8_t)final;
		return;
	}
	in.final = final | c->want_final;
	outcome = decide_run(c->lc, c->gen, &c->pstate, &in, &res, &det, c,
			     conn_probe_done, &c->job);
	if (outcome == PROBE_MATCH || outcome == PROBE_NONE)
		conn_route(c, outcome, det, &res, NULL);
}

/* A blocking detector's answer, back on the loop. */
static void
conn_probe_done(struct probe_job *job)
{
	struct conn *c = job->owner;
	size_t seen = job->in.len;
	int r;

	c->job = NULL;
	log_debug("probe detector=%s len=%zu final=%d verdict=%s%s",
		  c->gen->dets[job->index].name, job->in.len, job->in.final,
		  probe_verdict_name(job->verdict),
		  job->expired ? " (expired unrun)" : "");
	r = probe_apply(&c->pstate, job->index, job->verdict,
			job->in.final);
	if (r == PROBE_MATCH) {
		conn_route(c, PROBE_MATCH, job->index, &job->res, job);
		probe_job_free(job);
		return;
	}
	probe_job_free(job);
	/* It declined (go on with the next detectors), or it wants more
	 * bytes and they, or the deadline, came while it was running. */
	if (r < 0 || c->probe->len > seen || c->want_final || c->client.eof)
		probe_decide(c, c->probe->len == c->probe->cap ||
					c->client.eof);
}

/* A trusted balancer's connection without a usable PROXY header: counted
 * and closed — what it sent is never forwarded. Closes c. */
static void
proxy_in_fail(struct conn *c, const char *reason)
{
	stats_count(STATS_BAD_PROXY);
	conn_close(c, reason);
}

/*
 * A trusted balancer's PROXY header at the start of the probe buffer: take
 * the real client address from it and drop it from the bytes. 1 when done
 * (bytes may remain), 0 when more are needed, -1 when c was closed.
 */
static int
proxy_in_consume(struct conn *c)
{
	struct pbuf *p = c->probe;
	struct sockaddr_storage client, local;
	size_t used = 0;
	enum proxy_parse r = proxy_header_parse(p->data, p->len, &used,
						&client, &local);

	if (r == PROXY_NEED_MORE && p->len < p->cap)
		return 0;
	if (r != PROXY_DONE) {
		proxy_in_fail(c, "bad_proxy_header");
		return -1;
	}
	if (client.ss_family == AF_INET || client.ss_family == AF_INET6) {
		memcpy(&c->peer, &client, sizeof(c->peer));
		memcpy(&c->local, &local, sizeof(c->local));
		c->has_local = 1;
	}
	/* The real client is known: may it come in? (A LOCAL header — the
	 * balancer's own health check — is judged on the balancer.) */
	if (admit_client(c->lc, &c->peer.sa, &c->src) < 0) {
		conn_close(c, "refused");
		return -1;
	}
	memmove(p->data, p->data + used, p->len - used);
	p->len -= (uint32_t)used;
	c->client.bytes -= used;
	c->proxy_in = 0;
	return 1;
}

/* The client is readable: read into the probe buffer (a trusted
 * balancer's header first), then decide. May close c. */
void
probe_read(struct conn *c)
{
	struct pbuf *p = c->probe;
	uint32_t before; /* the client's own bytes before this read */
	ssize_t n;

	if (p != NULL && p->len == p->cap) {
		/* Full, and a blocking detector is still deciding: read no
		 * more until it has. */
		side_arm(c, &c->client, 0);
		return;
	}
	if (p == NULL) {
		uint32_t cap = (uint32_t)c->gen->cfg->probe_buffer;
		p = c->probe = pbuf_get(&c->lc->pbufs, cap);
		if (p == NULL) {
			conn_close(c, "out_of_memory");
			return;
		}
	}
	/* Until its header is gone, a balancer's bytes are the header. */
	before = c->proxy_in ? 0 : p->len;
	n = side_recv(c->lc, &c->client, p->data + p->len, p->cap - p->len);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_fail(c, "client_error", errno);
		return;
	}
	if (n == 0) {
		c->client.eof = 1;
		side_arm(c, &c->client, 0); /* EOF stays readable */
		if (p->len == 0) {
			conn_close(c, "client_closed_silent");
			return;
		}
		if (c->proxy_in) { /* part of a header, then the end */
			proxy_in_fail(c, "bad_proxy_header");
			return;
		}
		probe_decide(c, 1);
		return;
	}
	p->len += (uint32_t)n;
	c->client.bytes += (uint64_t)n;
	if (c->proxy_in) {
		int r = proxy_in_consume(c);
		if (r <= 0 || p->len == 0)
			return; /* closed, more header to come, or silent */
	}
	if (before == 0) {
		/* The client's first bytes (in the same read as the
		 * balancer's header, or after it): from now on the client has
		 * until the probe deadline (counted from accept) to say
		 * enough. */
		const struct config *cfg = c->gen->cfg;
		timer_arm(c, cfg->probe_deadline -
				     (ev_now(c->lc->loop) - c->started));
	}
	probe_decide(c, p->len == p->cap);
}

/* The probing timer fired: a silent client goes to on_timeout (it waits
 * for the server to speak first), a talking one is decided on what it
 * sent by the deadline — without a blocking detector still deciding,
 * whose late answer is dropped; a trusted balancer that has not sent its
 * whole PROXY header by probe_timeout is closed (the header is what it
 * must send first, and part of one is never forwarded). May close c. */
void
probe_timer(struct conn *c)
{
	if (c->proxy_in) {
		proxy_in_fail(c, "proxy_header_timeout");
		return;
	}
	if (c->probe != NULL && c->probe->len > 0) {
		if (c->job != NULL) {
			decide_late(&c->pstate, c->job);
			c->job = NULL;
		}
		probe_decide(c, 1);
		return;
	}
	metrics_probe_timeout();
	metrics_detection_time(ev_now(c->lc->loop) - c->started);
	if (c->lsn->on_timeout == NULL) {
		conn_close(c, "probe_timeout");
		return;
	}
	stats_count(STATS_ON_TIMEOUT);
	conn_connect(c, c->lsn->on_timeout, VIA_ON_TIMEOUT,
		     c->gen->on_timeout_series);
}
