/* watchdog.h — systemd's service watchdog (WatchdogSec=): the main thread
 * sends WATCHDOG=1 only while every worker loop is turning. Each worker
 * beats (a timer on its own loop stores the time); the main thread feeds
 * systemd when no running worker's last beat is older than half the
 * interval, so one stalled loop — a plugin stuck on it, a deadlock — gets
 * the whole process restarted by systemd. */
#ifndef PMX_WATCHDOG_H
#define PMX_WATCHDOG_H

/* The interval systemd asked for (WATCHDOG_USEC, for this process when
 * WATCHDOG_PID says so), in seconds; 0: no watchdog. Read once, at the
 * first call (the variables are then removed from the environment, so
 * no child inherits them). */
double watchdog_interval(void);

#endif
