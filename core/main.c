/* main.c — command line, start-up, signals and reload. PortMux runs in
 * the foreground; systemd (or a terminal) supervises it. */
#include <ev.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "clock.h"
#include "generation.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "notify.h"
#include "plugin.h"
#include "privs.h"
#include "relay_kernel.h"
#include "reload.h"
#include "resolve.h"
#include "sockopt.h"
#include "source.h"
#include "stats.h"
#include "udp.h"
#include "version.h"
#include "worker.h"
#include "watchdog.h"

struct options {
	const char *config;
	int test_only;
	int verbose;
	int port;
};

static struct options opts;

/* The workers (one loop each) and what the main thread knows of them. */
static struct worker *workers;
static int nworkers;
static struct generation *running; /* last generation handed out; a ref */
static ev_async worker_done;       /* a worker thread has ended */
static int workers_left;           /* atomic */
static struct ev_loop *main_loop;  /* signals, reload, worker_done */
static struct activation activation; /* sockets from systemd, if any */
static struct source_table *sources; /* per-source counts, all workers */

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: portmux [-c FILE] [-p PORT] [-t] [-v] [-V] [-h]\n"
		"Multiplex HTTP, HTTPS, SSH, OpenVPN and custom protocols on "
		"one port.\n\n"
		"  -c, --config FILE  configuration file (default %s)\n"
		"  -p, --port PORT    listen on PORT instead of the configured "
		"port\n"
		"  -t, --test         check the configuration (and plugins) "
		"and exit\n"
		"  -v, --verbose      log more (debug: every detector "
		"verdict)\n"
		"  -V, --version      print the version, plugin ABI and plugin "
		"directory\n"
		"  -h, --help         this help\n\n"
		"Plugins are searched in PORTMUX.plugin_dir, else "
		"$PORTMUX_PLUGIN_DIR, else %s.\n"
		"Signals: HUP reloads, USR1 logs a status line, TERM stops "
		"gracefully.\n",
		CONFIG_DEFAULT_PATH, PMX_PLUGIN_DIR);
}

static void
version(void)
{
	printf("portmux %s\n"
	       "detector ABI %u\n"
	       "plugin directory %s\n"
	       "default configuration %s\n",
	       PORTMUX_VERSION, PMX_DETECTOR_ABI_VERSION, PMX_PLUGIN_DIR,
	       CONFIG_DEFAULT_PATH);
}

/* The configuration file, parsed and checked; NULL with a logged error. */
static struct config *
load_config(void)
{
	char err[2048];
	struct config *cfg = config_load(opts.config, opts.port, err,
					 sizeof(err));

	if (cfg == NULL)
		log_error("%s", err);
	return cfg;
}

/* Plugins loaded and their instances made (scripts run) on cfg, which
 * the generation takes over; NULL with a logged error. */
static struct generation *
build_generation(struct config *cfg)
{
	char err[2048];
	struct generation *g = generation_build(cfg, err, sizeof(err));

	if (g == NULL)
		log_error("%s", err);
	return g;
}

/* `user:` as root: become that user now (before any plugin or script). */
static int
drop_privileges(const struct config *cfg)
{
	char err[256];

	if (cfg->user == NULL)
		return 0;
	if (privs_drop(cfg->user, config_wants_transparent(cfg), err,
		       sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}

/* Transparent proxying asked for: can this process do it? Said at
 * start-up, not at the first connection. */
static int
transparent_possible(const struct config *cfg)
{
	if (!config_wants_transparent(cfg) || sockopt_transparent_allowed())
		return 1;
	log_error("transparent: connecting from the client's address needs "
		  "CAP_NET_ADMIN (or CAP_NET_RAW), which PortMux does not "
		  "have: run it as "
		  "root (user: keeps that capability alone), or under "
		  "systemd add AmbientCapabilities=CAP_NET_ADMIN (README, "
		  "\"Transparent proxying\")");
	return 0;
}

static void
apply_log_level(const struct config *cfg)
{
	int level = cfg->log_level >= 0 ? cfg->log_level : LOG_INFO;

	log_set_level(level + opts.verbose);
	log_set_format(cfg->log_format);
}

/* The names of l's detectors, in order, comma-separated. */
static void
describe_order(const struct generation *g, const struct gen_listener *l,
	       char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t k = 0; k < l->norder && off < len; k++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
					k ? "," : "",
					g->dets[l->order[k]].name);
}

/* PORTMUX's detectors (the listen entries' own are said apart). */
static void
describe(const struct generation *g, char *buf, size_t len)
{
	describe_order(g, &g->dflt, buf, len);
}

/* One line for each listen entry with settings of its own. */
static void
describe_listeners(const struct generation *g)
{
	char names[512];

	for (size_t i = 0; i < g->nlisteners; i++) {
		const struct gen_listener *l = &g->listeners[i];

		describe_order(g, l, names, sizeof(names));
		log_info("listen %s: detectors=%s on_timeout=%s fallback=%s",
			 l->listen->text, names[0] ? names : "none",
			 l->on_timeout_label, l->fallback_label);
	}
}

static void set_udp_fd_budget(const struct config *cfg, int nworkers_wanted);

/* Under socket activation the sockets are systemd's: a configuration that
 * wants UDP (a detector's "udp" route, or udp: true) gets none unless the
 * .socket unit has ListenDatagram=. Say so rather than serve no UDP
 * silently. */
static void
warn_udp_unserved(const struct generation *g)
{
	if (activation.n > 0 && activation.nudp == 0 && g->udp)
		log_warn("the configuration wants UDP (a detector's udp route "
			 "or udp: true) but systemd passed no UDP socket: no "
			 "UDP is served; add ListenDatagram= to "
			 "portmux.socket");
}

/* A new generation is ready (or failed): every worker takes it for new
 * connections; live ones keep theirs. */
static void
reload_apply(struct generation *g, const char *err)
{
	char names[512];
	int same;

	metrics_reload(g != NULL);
	if (g == NULL) {
		log_error("%s", err);
		log_error("reload failed; keeping the running configuration");
		notify_systemd("READY=1\nSTATUS=reload failed: %.200s", err);
		return;
	}
	/* Listening addresses are bound at start-up only (or systemd's). */
	same = activation.n > 0 ||
	       (g->cfg->nlisten == running->cfg->nlisten &&
	       g->udp == running->udp &&
	       g->cfg->workers == running->cfg->workers);
	for (size_t i = 0; same && i < g->cfg->nlisten; i++)
		same = strcmp(g->cfg->listen[i].text,
			      running->cfg->listen[i].text) == 0;
	if (!same)
		log_warn("reload: listen addresses, UDP or workers changed; "
			 "restart PortMux to apply that part");
	if (strcmp(g->cfg->metrics_text, running->cfg->metrics_text) != 0)
		log_warn("reload: metrics changed; restart PortMux to apply "
			 "that part");
	if (g->cfg->io_uring != running->cfg->io_uring)
		log_warn("reload: io_uring changed; restart PortMux to apply "
			 "it");
	apply_log_level(g->cfg);
	warn_udp_unserved(g);
	relay_kernel_prepare(g->cfg); /* newly asked for: may fail now */
	set_udp_fd_budget(g->cfg, nworkers); /* max_connections may change */
	for (int i = 0; i < nworkers; i++)
		worker_post_generation(&workers[i], g);
	generation_ref(g);
	generation_unref(running);
	running = g;
	resolve_rearm();
	describe(g, names, sizeof(names));
	log_info("reload: done, generation=%llu detectors=%s on_timeout=%s "
		 "fallback=%s",
		 (unsigned long long)g->id, names, g->on_timeout_label,
		 g->fallback_label);
	describe_listeners(g);
	notify_systemd("READY=1\nSTATUS=serving (generation %llu)",
		       (unsigned long long)g->id);
}

/* "connections=3 accepted=120 http=100 ssh=12 on_timeout=2 fallback=1
 * unserved=5 bad_proxy=0" — the figures of `running` and of the process.
 */
static void
status_text(char *buf, size_t len)
{
	struct stats st;
	size_t off;

	stats_read(&st);
	off = (size_t)snprintf(buf, len, "connections=%ld accepted=%llu",
			       st.open, (unsigned long long)st.accepted);
	for (size_t i = 0; i < running->ndets && off < len; i++)
		off += (size_t)snprintf(
			buf + off, len - off, " %s=%llu", running->dets[i].name,
			(unsigned long long)__atomic_load_n(
				&running->dets[i].matches, __ATOMIC_RELAXED));
	if (off < len)
		snprintf(buf + off, len - off,
			 " on_timeout=%llu fallback=%llu unserved=%llu "
			 "refused=%llu bad_proxy=%llu",
			 (unsigned long long)st.on_timeout,
			 (unsigned long long)st.fallback,
			 (unsigned long long)st.unserved,
			 (unsigned long long)st.refused,
			 (unsigned long long)st.bad_proxy);
}

/* SIGUSR1: one status line in the log. */
static void
sigusr1_cb(EV_P_ ev_signal *s, int revents)
{
	char text[1024];

	(void)loop;
	(void)s;
	(void)revents;
	status_text(text, sizeof(text));
	log_info("status generation=%llu workers=%d %s",
		 (unsigned long long)running->id, nworkers, text);
	notify_systemd("STATUS=%s", text);
}

/* Under systemd, `systemctl status` shows these figures, kept fresh. */
static void
status_timer_cb(EV_P_ ev_timer *t, int revents)
{
	char text[1024];

	(void)loop;
	(void)t;
	(void)revents;
	status_text(text, sizeof(text));
	notify_systemd("STATUS=%s", text);
}

static struct generation *
current_generation(void)
{
	return running;
}

static void
sighup_cb(EV_P_ ev_signal *s, int revents)
{
	(void)loop;
	(void)s;
	(void)revents;
	notify_reloading();
	reload_request();
}

/* SIGTERM / SIGINT: stop accepting, let live connections finish for up to
 * shutdown_timeout. A second signal closes them at once. */
static void
stop_cb(EV_P_ ev_signal *s, int revents)
{
	static int signals;
	double drain = ++signals == 1 ? running->cfg->shutdown_timeout : 0;

	(void)loop;
	(void)revents;
	if (signals == 1)
		log_info("received signal %d, stopping (live connections "
			 "have %g s to finish)",
			 s->signum, drain);
	else
		log_info("received signal %d again, closing everything",
			 s->signum);
	notify_systemd("STOPPING=1");
	for (int i = 0; i < nworkers; i++)
		worker_post_stop(&workers[i], drain);
}

/* On a worker's own thread, as it ends. */
static void
worker_exited(struct worker *w)
{
	(void)w;
	__atomic_sub_fetch(&workers_left, 1, __ATOMIC_ACQ_REL);
	ev_async_send(main_loop, &worker_done);
}

static void
worker_done_cb(EV_P_ ev_async *a, int revents)
{
	(void)a;
	(void)revents;
	if (__atomic_load_n(&workers_left, __ATOMIC_ACQUIRE) == 0)
		ev_break(EV_A_ EVBREAK_ALL);
}

static int
worker_count(const struct config *cfg)
{
	long n = cfg->workers;

	if (n <= 0) {
		n = sysconf(_SC_NPROCESSORS_ONLN);
		if (n < 1)
			n = 1;
		if (n > 64)
			n = 64;
	}
	return (int)n;
}

/* Descriptors TCP needs: two per relayed connection (and a pipe pair while
 * bulk flows), the listeners and the loops' own. */
static rlim_t
tcp_fds(const struct config *cfg, int nworkers_wanted)
{
	return (rlim_t)cfg->max_connections * 2 + 64 +
	       (rlim_t)nworkers_wanted * 64 * 2 /* pipes */ +
	       (rlim_t)nworkers_wanted * 16;
}

/*
 * UDP flows hold a descriptor each (their socket to the backend), and may
 * not take the ones TCP needs: their budget, across workers, is the soft
 * limit less tcp_fds() — and at least a quarter of the limit, so that UDP
 * still works when the limit cannot cover max_connections anyway (TCP
 * keeps three quarters then).
 */
static void
set_udp_fd_budget(const struct config *cfg, int nworkers_wanted)
{
	struct rlimit rl;
	long limit, budget;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur > LONG_MAX) {
		udp_set_fd_budget(LONG_MAX); /* RLIM_INFINITY too */
		return;
	}
	limit = (long)rl.rlim_cur;
	budget = limit - (long)tcp_fds(cfg, nworkers_wanted);
	udp_set_fd_budget(budget > limit / 4 ? budget : limit / 4);
}

/*
 * Each relayed connection holds two descriptors (and a pipe pair while bulk
 * flows), each UDP flow one: raise the soft limit so max_connections and
 * udp_max_flows can be reached — a shell's default of 1024 would stall
 * PortMux near 500 connections. Then UDP's share (set_udp_fd_budget).
 */
static void
raise_fd_limit(const struct config *cfg, int nworkers_wanted)
{
	/* (With udp: auto, whether UDP is wanted is known only once the
	 * detectors are loaded: count it as wanted.) */
	int udp = cfg->udp != 0;
	struct rlimit rl;
	rlim_t want = tcp_fds(cfg, nworkers_wanted) +
		      (udp ? (rlim_t)cfg->udp_max_flows * cfg->nlisten *
				     (rlim_t)nworkers_wanted
			   : 0);

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		goto budget;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want
			      ? want
			      : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		goto budget;
	if (rl.rlim_cur < want)
		log_warn("max_connections=%ld%s needs about %llu file "
			 "descriptors but the limit is %llu: raise it "
			 "(LimitNOFILE=, ulimit -Hn) or lower max_connections",
			 cfg->max_connections,
			 udp ? " with udp_max_flows" : "",
			 (unsigned long long)want,
			 (unsigned long long)rl.rlim_cur);
budget:
	set_udp_fd_budget(cfg, nworkers_wanted);
}

/* Stop every worker set up so far and free them: the one way workers
 * end, after a failed start-up as after a normal stop (their threads have
 * ended then, and the stop request finds nothing to do). */
static void
workers_end(void)
{
	for (int i = 0; i < nworkers; i++)
		if (workers[i].started)
			worker_post_stop(&workers[i], 0);
	for (int i = 0; i < nworkers; i++)
		worker_join(&workers[i]);
	free(workers);
	workers = NULL;
	nworkers = 0;
}

/* Bind every worker's sockets, as root when that is needed: the first
 * step of start-up (nothing of the plugins is loaded yet). */
static int
bind_workers(const struct config *cfg, char *err, size_t errlen)
{
	int n = worker_count(cfg);

	raise_fd_limit(cfg, n);
	workers = calloc((size_t)n, sizeof(*workers));
	if (workers == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (nworkers = 0; nworkers < n; nworkers++)
		if (worker_bind(&workers[nworkers], nworkers, cfg, n > 1,
				&activation, err, errlen) < 0)
			return -1;
	return 0;
}

/* Set every worker's loop up on g, then start their threads. */
static int
start_workers(struct generation *g, char *err, size_t errlen)
{
	for (int i = 0; i < nworkers; i++) {
		if (worker_init(&workers[i], g, sources, err, errlen) < 0)
			return -1;
		workers[i].on_exit = worker_exited;
	}
	workers_left = nworkers;
	for (int i = 0; i < nworkers; i++) {
		if (worker_start(&workers[i]) < 0) {
			snprintf(err, errlen, "cannot start worker threads");
			return -1;
		}
	}
	return 0;
}

/* Options into opts; -1 to exit with status *status (usage, -V, -h). */
static int
parse_args(int argc, char **argv, int *status)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"port", required_argument, NULL, 'p'},
		{"test", no_argument, NULL, 't'},
		{"verbose", no_argument, NULL, 'v'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	opts.config = CONFIG_DEFAULT_PATH;
	while ((c = getopt_long(argc, argv, "c:p:tvVh", longopts, NULL)) !=
	       -1) {
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
				*status = 2;
				return -1;
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
			version();
			*status = 0;
			return -1;
		case 'h':
			usage(stdout);
			*status = 0;
			return -1;
		default:
			usage(stderr);
			*status = 2;
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "portmux: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		*status = 2;
		return -1;
	}
	return 0;
}

/* The main thread's watchers: signals, the end of workers, status. */
static struct {
	ev_signal sighup, sigterm, sigint, sigusr1;
	ev_timer status_timer;
	ev_timer source_timer; /* forgets quiet sources */
	ev_timer watchdog_timer; /* feeds systemd's watchdog (WatchdogSec=) */
	struct log_ratelimit stall_rl;
} mw;

/* systemd's watchdog is fed only while every worker loop turns: a loop
 * stuck for half the interval stops the feeding, and systemd restarts
 * PortMux once the interval has passed without it. */
static void
watchdog_timer_cb(EV_P_ ev_timer *t, int revents)
{
	double limit = watchdog_interval() / 2;
	long long now = clock_mono_usec();
	unsigned long dropped;

	(void)loop;
	(void)t;
	(void)revents;
	for (int i = 0; i < nworkers; i++) {
		double age = worker_beat_age(&workers[i], now);

		if (age <= limit)
			continue;
		if (log_ratelimit_ok(&mw.stall_rl, &dropped))
			log_error("worker %d has not turned its loop for %.1f "
				  "s: not feeding systemd's watchdog, which "
				  "restarts PortMux after %g s",
				  i, age, watchdog_interval());
		return;
	}
	notify_systemd("WATCHDOG=1");
}

static void
source_timer_cb(EV_P_ ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	source_sweep(sources);
}

static void
main_watchers_start(struct ev_loop *loop)
{
	ev_async_init(&worker_done, worker_done_cb);
	ev_async_start(loop, &worker_done);
	/* Signals first: once workers serve, a SIGTERM must find its
	 * handler (libev holds it until the loop runs). */
	ev_signal_init(&mw.sighup, sighup_cb, SIGHUP);
	ev_signal_init(&mw.sigterm, stop_cb, SIGTERM);
	ev_signal_init(&mw.sigint, stop_cb, SIGINT);
	ev_signal_init(&mw.sigusr1, sigusr1_cb, SIGUSR1);
	ev_signal_start(loop, &mw.sighup);
	ev_signal_start(loop, &mw.sigterm);
	ev_signal_start(loop, &mw.sigint);
	ev_signal_start(loop, &mw.sigusr1);
	ev_timer_init(&mw.status_timer, status_timer_cb, 5.0, 5.0);
	ev_timer_init(&mw.source_timer, source_timer_cb, 1.0, 1.0);
	ev_init(&mw.watchdog_timer, watchdog_timer_cb);
	ev_timer_start(loop, &mw.source_timer);
}

static void
main_watchers_stop(struct ev_loop *loop)
{
	ev_signal_stop(loop, &mw.sighup);
	ev_signal_stop(loop, &mw.sigterm);
	ev_signal_stop(loop, &mw.sigint);
	ev_signal_stop(loop, &mw.sigusr1);
	ev_timer_stop(loop, &mw.status_timer);
	ev_timer_stop(loop, &mw.source_timer);
	ev_timer_stop(loop, &mw.watchdog_timer);
	ev_async_stop(loop, &worker_done);
}

static void
log_started(const struct generation *g)
{
	char names[512];

	describe(g, names, sizeof(names));
	for (size_t i = 0; i < activation.n; i++)
		if (!activation.sockets[i].udp)
			log_info("listening on %s (from systemd)",
				 activation.sockets[i].text);
	warn_udp_unserved(g);
	for (size_t i = 0; activation.n == 0 && i < g->cfg->nlisten; i++)
		log_info("listening on %s", g->cfg->listen[i].text);
	log_info("portmux %s started: workers=%d detectors=%s "
		 "on_timeout=%s fallback=%s sockets=%s",
		 PORTMUX_VERSION, nworkers, names[0] ? names : "none",
		 g->on_timeout_label, g->fallback_label,
		 loop_sockets_method());
	describe_listeners(g);
}

/*
 * Start-up in the order that keeps privileges short: bind the sockets
 * (root may be needed), drop to `user`, then load plugins and run scripts
 * (generation), then serve until the workers have stopped. Takes cfg. 0,
 * or -1 when start-up failed (logged).
 */
static int
serve(struct config *cfg)
{
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_NOENV);
	char err[1024];
	int rc = -1;

	main_loop = loop;
	watchdog_interval(); /* read (and removed from the environment)
				before any plugin or script starts */
	metrics_process_started();
	sources = source_table_new();
	if (sources == NULL) {
		log_error("out of memory");
		config_free(cfg);
		ev_loop_destroy(loop);
		return -1;
	}
	main_watchers_start(loop);
	if (activation_take(&activation, err, sizeof(err)) < 0 ||
	    bind_workers(cfg, err, sizeof(err)) < 0 ||
	    metrics_http_bind(cfg, err, sizeof(err)) < 0) {
		log_error("%s", err);
		config_free(cfg);
		goto out;
	}
	/* The kernel relay's program is loaded while root may still do it
	 * (a failure is a warning: splice/copy are used). */
	relay_kernel_prepare(cfg);
	if (!transparent_possible(cfg) || drop_privileges(cfg) < 0) {
		config_free(cfg);
		goto out;
	}
	running = build_generation(cfg); /* our reference, until the end */
	if (running == NULL)
		goto out;

	if (start_workers(running, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	log_started(running);
	metrics_http_start(loop);
	reload_init(loop, opts.config, opts.port, reload_apply);
	resolve_init(loop, current_generation);
	if (getenv("NOTIFY_SOCKET") != NULL)
		ev_timer_start(loop, &mw.status_timer);
	if (watchdog_interval() > 0) {
		double every = watchdog_interval() / 4;

		ev_timer_set(&mw.watchdog_timer, 0, every);
		ev_timer_start(loop, &mw.watchdog_timer);
	}
	notify_systemd("READY=1\nSTATUS=serving on %s (%d workers)",
		       activation.n ? activation.sockets[0].text
				    : running->cfg->listen[0].text,
		       nworkers);

	ev_run(loop, 0);

	reload_fini();
	resolve_fini();
	rc = 0;
out:
	metrics_http_stop();
	workers_end();
	relay_kernel_unload(); /* after the connections in it */
	activation_release(&activation);
	main_watchers_stop(loop);
	ev_loop_destroy(loop);
	source_table_free(sources); /* after the workers that shared it */
	sources = NULL;
	return rc;
}

/* -t: the whole configuration is built (as `user`, as it would run), then
 * reported. */
static int
check_only(struct config *cfg)
{
	char names[512];

	/* (A user checking a file of theirs stays who they are.) */
	if (geteuid() == 0 && drop_privileges(cfg) < 0) {
		config_free(cfg);
		return 1;
	}
	running = build_generation(cfg);
	if (running == NULL)
		return 1;
	describe(running, names, sizeof(names));
	printf("portmux: configuration %s is ok (detectors: %s)\n",
	       opts.config, names[0] ? names : "none");
	for (size_t i = 0; i < running->nlisteners; i++) {
		const struct gen_listener *l = &running->listeners[i];

		describe_order(running, l, names, sizeof(names));
		printf("  listen %s: detectors: %s, on_timeout: %s, "
		       "fallback: %s\n",
		       l->listen->text, names[0] ? names : "none",
		       l->on_timeout_label, l->fallback_label);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct config *cfg;
	int status = 1, served = 0;

	if (parse_args(argc, argv, &status) < 0)
		return status;
	log_set_level(LOG_INFO + opts.verbose);
	signal(SIGPIPE, SIG_IGN);

	cfg = load_config();
	if (cfg == NULL)
		goto out;
	if (opts.test_only) {
		status = check_only(cfg);
		goto out;
	}
	apply_log_level(cfg);
	if (serve(cfg) == 0)
		status = 0, served = 1;
out:
	generation_unref(running);
	plugin_unload_all();
	if (served)
		log_info("stopped");
	return status;
}
