/* log.c — stderr logging. Under journald (JOURNAL_STREAM set) the journal
 * adds timestamps itself, so we add ours only on a terminal or a file. */
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Read by every thread, changed by the main one on reload: atomic. */
static int current_level = LOG_INFO;
static int stamp = -1; /* -1: not decided yet; atomic */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void
log_set_level(int level)
{
	if (level < LOG_ERROR)
		level = LOG_ERROR;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	__atomic_store_n(&current_level, level, __ATOMIC_RELAXED);
}

int
log_get_level(void)
{
	return __atomic_load_n(&current_level, __ATOMIC_RELAXED);
}

int
log_level_from_name(const char *name)
{
	for (int i = 0; i <= LOG_DEBUG; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

void
log_vmsg(int level, const char *prefix, const char *fmt, va_list ap)
{
	char line[2048];
	size_t off = 0;
	int with_stamp = __atomic_load_n(&stamp, __ATOMIC_RELAXED);

	if (level > log_get_level())
		return;
	if (with_stamp < 0) {
		with_stamp = getenv("JOURNAL_STREAM") == NULL;
		__atomic_store_n(&stamp, with_stamp, __ATOMIC_RELAXED);
	}
	if (level < LOG_ERROR)
		level = LOG_ERROR;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	if (with_stamp) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		off = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		off += (size_t)snprintf(line + off, sizeof(line) - off,
					".%03ldZ ", ts.tv_nsec / 1000000);
	}
	off += (size_t)snprintf(line + off, sizeof(line) - off, "%s %s",
				level_names[level], prefix ? prefix : "");
	if (off < sizeof(line))
		vsnprintf(line + off, sizeof(line) - off, fmt, ap);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s\n", line);
	pthread_mutex_unlock(&log_lock);
}

void
log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, NULL, fmt, ap);
	va_end(ap);
}

int
log_ratelimit_ok(struct log_ratelimit *rl, unsigned long *suppressed)
{
	struct timespec ts;
	double now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	if (rl->last != 0 && now - rl->last < 1.0) {
		rl->dropped++;
		return 0;
	}
	rl->last = now;
	*suppressed = rl->dropped;
	rl->dropped = 0;
	return 1;
}
