/* thread.h — starting the core's helper threads. Signals belong to the
 * main thread (libev's ev_signal watchers there): every other thread is
 * born with all of them blocked, so none can land on it. */
#ifndef PMX_THREAD_H
#define PMX_THREAD_H

#include <pthread.h>

/* pthread_create with every signal blocked in the new thread (the caller's
 * mask is left as it was). 0, or an error number. */
int thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

#endif
