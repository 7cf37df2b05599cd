/*
 * python.so — custom protocol detection by a user script.
 *
 *   PYTHON:
 *     script: /etc/portmux/script.py   # default; relative to the config
 *     timeout: 0.05                    # seconds for an answer
 *     processes: 4                     # workers running the script
 *     memory: 512                      # MiB of address space each
 *
 * The script defines analyse(buffer) (see worker/answer.c for what it may
 * return and etc/portmux/script.py for an example). Each configured
 * instance — `python`, `python:games`... reading PYTHON, PYTHON:games —
 * runs its own script in its own processes (procs.c). A syntax error, an
 * exception at the top level, or no analyse fails create() with the
 * script's file and line. Without a `script:` key and no file at the
 * default path the detector says NO_MATCH to everything (one warning).
 *
 * probe() may block up to the timeout (PMX_DF_BLOCKING): the core must
 * call it off its event loop. It returns by the deadline whatever the
 * script does. The timeout counts from when the core queued
 * the call for its probe threads (pmx_probe_input.queued, from a core
 * that gives it): time spent waiting there is taken off the script's,
 * and a call that waited longer does not run at all. Nor is a call
 * waited for past the connection's own deadline (input.deadline).
 */
#include "python.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct options {
	const char *script;                /* NULL: the default path */
	const struct pmx_node *script_node; /* for located errors */
	double timeout;
	long processes;
	long memory; /* MiB */
};

#define KNOWN "(known: script, timeout, processes, memory)"

static int
parse_options(const struct pmx_host *host, const struct pmx_node *section,
	      struct options *o, char *err, size_t errlen)
{
	size_t n;

	o->script = NULL;
	o->script_node = NULL;
	o->timeout = PMX_PY_TIMEOUT_DEFAULT;
	o->processes = PMX_PY_PROCESSES_DEFAULT;
	o->memory = PMX_PY_MEMORY_DEFAULT;
	switch (host->node_kind(section)) {
	case PMX_NODE_NONE:
		return 0; /* absent or empty: defaults */
	case PMX_NODE_MAP:
		break;
	default:
		return host->node_error(section, err, errlen,
					"expected a map of python options "
					KNOWN);
	}
	n = host->node_size(section);
	for (size_t i = 0; i < n; i++) {
		const struct pmx_node *k = host->node_key(section, i);
		const struct pmx_node *v = host->node_at(section, i);
		const char *key = host->node_scalar(k);

		if (key != NULL && strcmp(key, "script") == 0) {
			o->script = host->node_scalar(v);
			o->script_node = v;
			if (o->script == NULL || o->script[0] == '\0')
				return host->node_error(v, err, errlen,
							"script: expected the "
							"path of a Python "
							"file");
		} else if (key != NULL && strcmp(key, "timeout") == 0) {
			if (host->node_double(v, PMX_PY_TIMEOUT_MIN,
					      PMX_PY_TIMEOUT_MAX, &o->timeout,
					      err, errlen) < 0)
				return -1;
		} else if (key != NULL && strcmp(key, "processes") == 0) {
			if (host->node_long(v, 1, PMX_PY_PROCESSES_MAX,
					    &o->processes, err, errlen) < 0)
				return -1;
		} else if (key != NULL && strcmp(key, "memory") == 0) {
			if (host->node_long(v, 0, 1L << 20, &o->memory, err,
					    errlen) < 0)
				return -1;
		} else {
			return host->node_error(k, err, errlen,
						"unknown python option '%s' "
						KNOWN,
						key ? key : "?");
		}
	}
	return 0;
}

static char *
resolve(const struct pmx_host *host, const char *path)
{
	const char *dir = host->config_dir ? host->config_dir : ".";
	size_t n;
	char *out;

	if (path[0] == '/')
		return strdup(path);
	n = strlen(dir) + strlen(path) + 2;
	out = malloc(n);
	if (out != NULL)
		snprintf(out, n, "%s/%s", dir, path);
	return out;
}

/* The whole file, NUL-terminated. NULL with errno on failure (EFBIG: too
 * large, EINVAL: not a regular file or it contains a NUL byte). */
static char *
read_source(const char *path, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), saved;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if ((uintmax_t)st.st_size > PMX_PY_SCRIPT_MAX) {
		errno = EFBIG;
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		goto fail;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	if (memchr(buf, '\0', got) != NULL) {
		errno = EINVAL;
		goto fail;
	}
	close(fd);
	*len = got;
	return buf;
fail:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return NULL;
}

/* Does this core fill the input's `queued` and `deadline` (ABI 1, appended:
 * see pmx_host.input_size)? */
static int
host_gives_times(const struct pmx_host *host)
{
	return host->struct_size >= offsetof(struct pmx_host, input_size) +
					    sizeof(host->input_size) &&
	       host->input_size >= offsetof(struct pmx_probe_input, deadline) +
					   sizeof(double);
}

static struct pyinst *
inst_new(const struct pmx_host *host, char *path, const struct options *o)
{
	struct pyinst *inst = calloc(1, sizeof(*inst));

	if (inst == NULL)
		return NULL;
	pthread_mutex_init(&inst->log_lock, NULL);
	inst->host = host;
	inst->path = path;
	inst->timeout = o->timeout;
	inst->processes = (int)o->processes;
	inst->memory = o->memory << 20;
	inst->input_times = host_gives_times(host);
	inst->zygote_fd = -1;
	inst->wake[0] = inst->wake[1] = -1;
	return inst;
}

/* Everything of an instance: its processes first (no probe() runs any
 * more), then the rest. */
static void
inst_free(struct pyinst *inst, int started)
{
	if (started)
		procs_stop(inst);
	pthread_mutex_destroy(&inst->log_lock);
	free(inst->src);
	free(inst->path);
	free(inst);
}

static int
create(const struct pmx_host *host, const struct pmx_node *section,
       void **instance, char *err, size_t errlen)
{
	struct options o;
	struct pyinst *inst;
	char *path;

	if (parse_options(host, section, &o, err, errlen) < 0)
		return -1;
	path = resolve(host, o.script ? o.script : PMX_PY_DEFAULT_SCRIPT);
	inst = path ? inst_new(host, path, &o) : NULL;
	if (inst == NULL) {
		free(path);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* (inst now owns path.) */
	inst->src = read_source(path, &inst->srclen);
	if (inst->src == NULL && o.script == NULL && errno == ENOENT) {
		host->log(host, PMX_LOG_WARN,
			  "no script at %s: every connection is NO_MATCH "
			  "(set PYTHON.script)",
			  path);
		inst->inert = 1;
		*instance = inst;
		return 0;
	}
	if (inst->src == NULL) {
		int e = errno;

		if (o.script_node != NULL)
			host->node_error(o.script_node, err, errlen,
					 "cannot read script %s: %s", path,
					 e == EINVAL ? "not a regular file, or "
						       "it contains a NUL byte"
						     : strerror(e));
		else
			snprintf(err, errlen, "cannot read script %s: %s",
				 path, strerror(e));
		inst_free(inst, 0);
		return -1;
	}
	if (procs_start(inst, err, errlen) < 0) {
		inst->host = NULL; /* nothing more is logged through it */
		inst_free(inst, 1);
		return -1;
	}
	host->log(host, PMX_LOG_INFO,
		  "script %s loaded (timeout %g s, %d processes)", path,
		  o.timeout, inst->processes);
	*instance = inst;
	return 0;
}

/*
 * When the answer is due: `timeout` after the core queued the call (the
 * time it waited for a probe thread counts), and never after the
 * connection's own deadline. Without those times from the core (an older
 * one), `timeout` from now.
 */
static double
call_deadline(const struct pyinst *inst, const struct pmx_probe_input *in,
	      double now)
{
	double start = now, deadline;

	if (inst->input_times && in->queued > 0 && in->queued < now)
		start = in->queued;
	deadline = start + inst->timeout;
	if (inst->input_times && in->deadline > 0 && in->deadline < deadline)
		deadline = in->deadline;
	return deadline;
}

/* Once per source that runs out of strikes (rate limited). */
static void
log_held_back(struct pyinst *inst, const struct pmx_probe_input *in)
{
	char addr[INET6_ADDRSTRLEN] = "?", key[96];
	const struct sockaddr *sa = in->peer;

	if (sa != NULL && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			  addr, sizeof(addr));
	else if (sa != NULL && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)sa)->sin6_addr, addr,
			  sizeof(addr));
	snprintf(key, sizeof(key), "held back %s", addr);
	inst_log(inst, PMX_LOG_WARN, key,
		 "client %s: its calls cost %g workers (timeouts, crashes): "
		 "its next connections skip the script, one more call "
		 "allowed every %g s",
		 addr, STRIKE_BURST, STRIKE_REFILL);
}

static enum pmx_verdict
probe(void *instance, const struct pmx_probe_input *in,
      struct pmx_probe_result *out)
{
	struct pyinst *inst = instance;
	double now, deadline;
	int verdict, cost;

	if (inst->inert)
		return PMX_NO_MATCH;
	now = wire_now();
	deadline = call_deadline(inst, in, now);
	if (deadline <= now) {
		/* It waited its whole time in the core's queue: the script
		 * is not even called (a flood costs no Python time). */
		inst_log(inst, PMX_LOG_WARN, "queued",
			 "no time left for analyse(): the call waited %.3f s "
			 "for a probe thread (timeout %g s): NO_MATCH",
			 in->queued > 0 ? now - in->queued : 0.0,
			 inst->timeout);
		return PMX_NO_MATCH;
	}
	if (!strikes_allow(&inst->strikes, in->peer, in->peer_len, now)) {
		inst_log(inst, PMX_LOG_WARN, "strikes",
			 "a source whose calls keep costing workers: "
			 "analyse() not called for it (NO_MATCH) until it "
			 "earns a strike back (one every %g s)",
			 STRIKE_REFILL);
		return PMX_NO_MATCH;
	}
	verdict = procs_call(inst, in->data, in->len, in->final, deadline,
			     out->backend, sizeof(out->backend), &cost);
	if (cost && strikes_charge(&inst->strikes, in->peer, in->peer_len,
				   wire_now()))
		log_held_back(inst, in);
	return (enum pmx_verdict)verdict;
}

static void
destroy(void *instance)
{
	struct pyinst *inst = instance;

	pthread_mutex_lock(&inst->log_lock);
	inst->host = NULL; /* the core may free it from now on */
	pthread_mutex_unlock(&inst->log_lock);
	inst_free(inst, !inst->inert);
}

static const struct pmx_detector descriptor = {
	.abi_version = PMX_DETECTOR_ABI_VERSION,
	.struct_size = sizeof(struct pmx_detector),
	.name = "python",
	.version = "1.0",
	.description = "custom protocols: a Python script's analyse(buffer) "
		       "decides",
	.section = "PYTHON",
	.flags = PMX_DF_TCP | PMX_DF_UDP | PMX_DF_BLOCKING,
	.create = create,
	.probe = probe,
	.destroy = destroy,
};

PMX_EXPORT const struct pmx_detector *
pmx_detector_entry(void)
{
	return &descriptor;
}
