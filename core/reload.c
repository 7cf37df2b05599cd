/* reload.c — configuration reload off the event loop. */
#include "reload.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "thread.h"

static struct {
	struct ev_loop *loop;
	ev_async done;
	const char *path;
	int port;
	reload_apply_fn apply;
	pthread_t thread;
	int running; /* loop thread only */
	int again;   /* loop thread only */
	/* written by the build thread before ev_async_send, read after */
	struct generation *result;
	char err[2048];
} rl;

static void *
build_thread(void *arg)
{
	char err[2048] = "";
	struct config *cfg;

	(void)arg;
	cfg = config_load(rl.path, rl.port, err, sizeof(err));
	rl.result = cfg ? generation_build(cfg, err, sizeof(err)) : NULL;
	memcpy(rl.err, err, sizeof(err));
	ev_async_send(rl.loop, &rl.done);
	return NULL;
}

static void
start_build(void)
{
	rl.result = NULL;
	rl.err[0] = '\0';
	if (thread_start(&rl.thread, build_thread, NULL) != 0)
		log_error("reload: cannot start a thread; not reloading");
	else
		rl.running = 1;
}

static void
done_cb(EV_P_ ev_async *a, int revents)
{
	(void)loop;
	(void)a;
	(void)revents;
	if (!rl.running)
		return;
	pthread_join(rl.thread, NULL);
	rl.running = 0;
	rl.apply(rl.result, rl.err);
	if (rl.result)
		generation_unref(rl.result);
	rl.result = NULL;
	if (rl.again) {
		rl.again = 0;
		start_build();
	}
}

void
reload_init(struct ev_loop *loop, const char *config_path, int port_override,
	    reload_apply_fn apply)
{
	memset(&rl, 0, sizeof(rl));
	rl.loop = loop;
	rl.path = config_path;
	rl.port = port_override;
	rl.apply = apply;
	ev_async_init(&rl.done, done_cb);
	ev_async_start(loop, &rl.done);
}

void
reload_request(void)
{
	if (rl.running) {
		rl.again = 1; /* the file may have changed again meanwhile */
		return;
	}
	log_info("reload: reading %s", rl.path);
	start_build();
}

void
reload_fini(void)
{
	if (rl.running) {
		pthread_join(rl.thread, NULL);
		rl.running = 0;
		if (rl.result)
			generation_unref(rl.result);
	}
	ev_async_stop(rl.loop, &rl.done);
}
