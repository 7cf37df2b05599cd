/* clock.h — CLOCK_MONOTONIC, read outside libev (whose ev_now() is the
 * loop's cached time): by probe jobs and their deadlines, the per-source
 * buckets, resolver grace periods and the watchdog's beats. */
#ifndef PMX_CLOCK_H
#define PMX_CLOCK_H

#include <time.h>

/* Seconds. */
static inline double
clock_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Microseconds (an integer, for atomics). */
static inline long long
clock_mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

#endif
