/*
 * t_gate — a blocking detector the test drives, for the probe pool's
 * tests: PMX_DF_BLOCKING, TCP and UDP, no route table (its section, if
 * any, is ignored). Bytes starting with 'W' wait at a gate until the test
 * lets them through (t_gate_release); every call is recorded, in call
 * order, as its bytes after the first (up to 15), so a test sees which
 * jobs ran, in which order. 'W' and 'M' answer MATCH, anything else
 * NO_MATCH. State is process-wide (a test plugin may have globals): the
 * test finds the functions below with dlopen(RTLD_NOLOAD) and dlsym.
 */
#include <portmux/detector.h>
#include <pthread.h>
#include <string.h>

#define CALLS_MAX 256

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long permits;  /* waiting calls that may pass */
static int open_all;  /* every call passes */
static int waiting;   /* calls at the gate now */
static int ncalls;
static char calls[CALLS_MAX][16];
static double last_queued, last_deadline;

static int
create(const struct pmx_host *h, const struct pmx_node *s, void **out,
       char *err, size_t errlen)
{
	(void)h;
	(void)s;
	(void)err;
	(void)errlen;
	*out = NULL;
	return 0;
}

static enum pmx_verdict
probe(void *i, const struct pmx_probe_input *in, struct pmx_probe_result *o)
{
	size_t n = in->len > 1 ? in->len - 1 : 0;

	(void)i;
	(void)o;
	pthread_mutex_lock(&lock);
	if (ncalls < CALLS_MAX) {
		if (n > 15)
			n = 15;
		memcpy(calls[ncalls], in->data + 1, n);
		calls[ncalls][n] = '\0';
		ncalls++;
	}
	last_queued = in->queued;
	last_deadline = in->deadline;
	if (in->len > 0 && in->data[0] == 'W') {
		waiting++;
		pthread_cond_broadcast(&cond);
		while (!open_all && permits == 0)
			pthread_cond_wait(&cond, &lock);
		if (!open_all)
			permits--;
		waiting--;
	}
	pthread_mutex_unlock(&lock);
	if (in->len > 0 && (in->data[0] == 'W' || in->data[0] == 'M'))
		return PMX_MATCH;
	return PMX_NO_MATCH;
}

static const struct pmx_detector d = {
	.abi_version = PMX_DETECTOR_ABI_VERSION,
	.struct_size = sizeof(d),
	.name = "t_gate",
	.flags = PMX_DF_TCP | PMX_DF_UDP | PMX_DF_BLOCKING,
	.create = create,
	.probe = probe,
};

PMX_EXPORT const struct pmx_detector *
pmx_detector_entry(void)
{
	return &d;
}

/* ---- for the tests ---- */

/* Close the gate and forget the calls. */
PMX_EXPORT void t_gate_reset(void);
void
t_gate_reset(void)
{
	pthread_mutex_lock(&lock);
	permits = 0;
	open_all = 0;
	ncalls = 0;
	pthread_mutex_unlock(&lock);
}

/* Let n waiting calls through (now or when they come); n < 0: open the
 * gate for good. */
PMX_EXPORT void t_gate_release(int n);
void
t_gate_release(int n)
{
	pthread_mutex_lock(&lock);
	if (n < 0)
		open_all = 1;
	else
		permits += n;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

/* Calls waiting at the gate now. */
PMX_EXPORT int t_gate_waiting(void);
int
t_gate_waiting(void)
{
	int n;

	pthread_mutex_lock(&lock);
	n = waiting;
	pthread_mutex_unlock(&lock);
	return n;
}

/* The calls so far, their records joined by spaces into buf. */
PMX_EXPORT int t_gate_calls(char *buf, size_t cap);
int
t_gate_calls(char *buf, size_t cap)
{
	size_t used = 0;
	int n;

	pthread_mutex_lock(&lock);
	n = ncalls;
	if (cap > 0)
		buf[0] = '\0';
	for (int i = 0; i < ncalls; i++) {
		size_t len = strlen(calls[i]);

		if (used + len + 2 > cap)
			break;
		if (used > 0)
			buf[used++] = ' ';
		memcpy(buf + used, calls[i], len + 1);
		used += len;
	}
	pthread_mutex_unlock(&lock);
	return n;
}

/* The input's queued and deadline of the last call. */
PMX_EXPORT void t_gate_times(double *queued, double *deadline);
void
t_gate_times(double *queued, double *deadline)
{
	pthread_mutex_lock(&lock);
	*queued = last_queued;
	*deadline = last_deadline;
	pthread_mutex_unlock(&lock);
}
