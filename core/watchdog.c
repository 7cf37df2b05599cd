/* watchdog.c — what systemd's watchdog asks (watchdog.h). */
#include "watchdog.h"

#include <stdlib.h>
#include <unistd.h>

static double interval = -1; /* -1: not read yet (main thread only) */

double
watchdog_interval(void)
{
	const char *usec, *pid;
	char *end;
	long long us;

	if (interval >= 0)
		return interval;
	interval = 0;
	usec = getenv("WATCHDOG_USEC");
	pid = getenv("WATCHDOG_PID");
	if (usec == NULL)
		return interval;
	us = strtoll(usec, &end, 10);
	if (*end == '\0' && us > 0 &&
	    (pid == NULL || strtol(pid, NULL, 10) == (long)getpid()))
		interval = (double)us / 1e6;
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return interval;
}
