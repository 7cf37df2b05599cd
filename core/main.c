/* main.c — command line, start-up, signals and reload. PortMux runs in
 * the foreground; systemd (or a terminal) supervises it. */
#include <ev.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "generation.h"
#include "log.h"
#include "plugin.h"
#include "reload.h"
#include "version.h"
#include "worker.h"

struct options {
	const char *config;
	int test_only;
	int verbose;
	int port;
};

static struct worker main_worker;
static struct options opts;

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: portmux [-c FILE] [-p PORT] [-t] [-v] [-V] [-h]\n"
		"Multiplex HTTP, HTTPS, SSH, OpenVPN and custom protocols on "
		"one port.\n\n"
		"  -c FILE  configuration file (default %s)\n"
		"  -p PORT  listen on PORT instead of the configured port\n"
		"  -t       check the configuration (and plugins) and exit\n"
		"  -v       log more (repeat for debug)\n"
		"  -V       print the version and exit\n"
		"  -h       this help\n\n"
		"Plugins are searched in PORTMUX.plugin_dir, else "
		"$PORTMUX_PLUGIN_DIR, else %s.\n",
		CONFIG_DEFAULT_PATH, PMX_PLUGIN_DIR);
}

/* Load config + plugins into a generation; NULL with a printed error. */
static struct generation *
load_generation(void)
{
	char err[2048];
	struct config *cfg = config_load(opts.config, opts.port, err,
					 sizeof(err));
	struct generation *g;

	if (cfg == NULL) {
		log_error("%s", err);
		return NULL;
	}
	g = generation_build(cfg, err, sizeof(err));
	if (g == NULL)
		log_error("%s", err);
	return g;
}

static void
apply_log_level(const struct generation *g)
{
	int level = g->cfg->log_level >= 0 ? g->cfg->log_level : LOG_INFO;

	log_set_level(level + opts.verbose);
}

static void
describe(const struct generation *g, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < g->ndets && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
					i ? "," : "", g->dets[i].name);
}

/* A new generation is ready (or failed): swap it in for new connections. */
static void
reload_apply(struct generation *g, const char *err)
{
	char names[512];
	int same;

	if (g == NULL) {
		log_error("%s", err);
		log_error("reload failed; keeping the running configuration");
		return;
	}
	/* Listening addresses are bound at start-up only. */
	same = g->cfg->nlisten == main_worker.gen->cfg->nlisten &&
	       g->udp == main_worker.gen->udp;
	for (size_t i = 0; same && i < g->cfg->nlisten; i++)
		same = strcmp(g->cfg->listen[i].text,
			      main_worker.gen->cfg->listen[i].text) == 0;
	if (!same)
		log_warn("reload: listen addresses (or UDP) changed; restart "
			 "PortMux to apply that part");
	apply_log_level(g);
	worker_set_generation(&main_worker, g);
	describe(g, names, sizeof(names));
	log_info("reload: done, generation=%llu detectors=%s on_timeout=%s "
		 "fallback=%s",
		 (unsigned long long)g->id, names, g->on_timeout_label,
		 g->fallback_label);
}

static void
sighup_cb(EV_P_ ev_signal *s, int revents)
{
	(void)loop;
	(void)s;
	(void)revents;
	reload_request();
}

static void
stop_cb(EV_P_ ev_signal *s, int revents)
{
	(void)revents;
	log_info("received signal %d, stopping", s->signum);
	ev_break(EV_A_ EVBREAK_ALL);
}

int
main(int argc, char **argv)
{
	struct generation *g;
	struct ev_loop *loop;
	ev_signal sighup, sigterm, sigint;
	char err[1024], names[512];
	int c;

	opts.config = CONFIG_DEFAULT_PATH;
	while ((c = getopt(argc, argv, "c:p:tvVh")) != -1) {
		switch (c) {
		case 'c':
			opts.config = optarg;
			break;
		case 'p': {
			char *end;
			long p = strtol(optarg, &end, 10);
			if (*end || p < 1 || p > 65535) {
				fprintf(stderr,
					"portmux: -p: '%s' is not a port "
					"(1 to 65535)\n",
					optarg);
				return 2;
			}
			opts.port = (int)p;
			break;
		}
		case 't':
			opts.test_only = 1;
			break;
		case 'v':
			opts.verbose++;
			break;
		case 'V':
			printf("portmux %s (detector ABI %u)\n",
			       PORTMUX_VERSION, PMX_DETECTOR_ABI_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "portmux: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	log_set_level(LOG_INFO + opts.verbose);
	signal(SIGPIPE, SIG_IGN);

	g = load_generation();
	if (g == NULL) {
		plugin_unload_all();
		return 1;
	}
	describe(g, names, sizeof(names));
	if (opts.test_only) {
		printf("portmux: configuration %s is ok (detectors: %s)\n",
		       opts.config, names[0] ? names : "none");
		generation_unref(g);
		plugin_unload_all();
		return 0;
	}
	apply_log_level(g);

	loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_NOENV);
	if (worker_init(&main_worker, loop, g, err, sizeof(err)) < 0) {
		log_error("%s", err);
		generation_unref(g);
		plugin_unload_all();
		return 1;
	}
	for (size_t i = 0; i < main_worker.nlisteners; i++)
		log_info("listening on %s", main_worker.listeners[i].text);
	log_info("portmux %s started: detectors=%s on_timeout=%s "
		 "fallback=%s",
		 PORTMUX_VERSION, names[0] ? names : "none",
		 g->on_timeout_label, g->fallback_label);
	generation_unref(g); /* the worker holds its own reference */

	reload_init(loop, opts.config, opts.port, reload_apply);
	ev_signal_init(&sighup, sighup_cb, SIGHUP);
	ev_signal_init(&sigterm, stop_cb, SIGTERM);
	ev_signal_init(&sigint, stop_cb, SIGINT);
	ev_signal_start(loop, &sighup);
	ev_signal_start(loop, &sigterm);
	ev_signal_start(loop, &sigint);

	ev_run(loop, 0);

	reload_fini();
	worker_fini(&main_worker);
	ev_signal_stop(loop, &sighup);
	ev_signal_stop(loop, &sigterm);
	ev_signal_stop(loop, &sigint);
	ev_loop_destroy(loop);
	plugin_unload_all();
	log_info("stopped");
	return 0;
}
