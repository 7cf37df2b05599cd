/* config.h — the PORTMUX section and the list of the other sections.
 * Protocol sections are interpreted later (generation.c), once the detector
 * plugins that own them are loaded. */
#ifndef PMX_CONFIG_H
#define PMX_CONFIG_H

#include <stddef.h>

#include "addr.h"
#include "bind_source.h"
#include "cidr.h"
#include "route.h"
#include "yaml_tree.h"

#ifndef CONFIG_DEFAULT_PATH /* the Makefile sets it from SYSCONFDIR */
#define CONFIG_DEFAULT_PATH "/etc/portmux/config.yaml"
#endif

/* An address's text, or a unix socket's path (sun_path is 108 bytes). */
#define CONFIG_METRICS_TEXT_MAX 128

enum target_kind {
	TARGET_UNSET = 0, /* not configured: use the built-in default */
	TARGET_CLOSE,     /* close the connection */
	TARGET_SECTION,   /* a protocol section's default route */
	TARGET_BACKEND,   /* an explicit backend */
};

/* Where on_timeout / fallback send a connection. */
struct target {
	enum target_kind kind;
	char *section; /* TARGET_SECTION: the section name as configured */
	struct backend backend;
	const struct pmx_node *node;
};

/* One entry of PORTMUX.detectors: "plugin" or "plugin:label". */
struct detector_ref {
	char *name;   /* as written: instance name */
	char *plugin; /* file name without .so */
	char *label;  /* NULL or the part after ':' */
	const struct pmx_node *node;
};

/* One listening address. A `listen` entry written as a mapping may carry
 * settings of its own for the clients it accepts; what it leaves unset is
 * PORTMUX's. */
struct listen_addr {
	struct addr addr;
	char text[ADDR_TEXT_MAX];
	const struct pmx_node *node; /* the entry, for messages */
	struct detector_ref *detectors; /* NULL: PORTMUX's (owned) */
	size_t ndetectors;
	struct target on_timeout, fallback; /* TARGET_UNSET: PORTMUX's */
};

/* Does `l` have settings of its own? */
int listen_addr_custom(const struct listen_addr *l);

/* The PORTMUX fields' defaults, ranges and keys are in one table: pm_keys
 * in config.c. */
struct config {
	struct yaml_tree *tree;
	char *path;
	char *dir; /* directory of path */

	struct listen_addr *listen;
	size_t nlisten;

	double probe_timeout;   /* silent client -> on_timeout */
	double probe_deadline;  /* talking client must be decided by then */
	double connect_timeout; /* backend connect */
	long probe_buffer;      /* bytes kept while detecting */
	long max_connections;
	long probe_threads; /* threads for blocking detectors */
	long probe_queue;   /* their jobs waiting for a thread, per worker */
	double probe_source_share; /* of those threads and that queue, one
				      client source may take */
	double udp_timeout;  /* an idle UDP flow is dropped after this */
	long udp_max_flows;  /* per listening address */
	long udp_flows_per_source; /* of those, from one IPv4 address or
				      IPv6 /64 (auto: resolved here) */
	long udp_queue_bytes; /* per listening address: datagrams held while
				 flows are being decided */
	int udp;             /* -1 auto (a "udp" route), 0 no, 1 yes */
	long workers;        /* event loops (threads); 0 = one per CPU */
	double shutdown_timeout; /* SIGTERM: live connections may finish */
	double resolve_interval; /* backend names looked up again; 0: never */
	double idle_timeout;  /* relayed connection quiet this long: closed
				 (a route may say otherwise); 0: never */
	double halfclose_timeout; /* the same once one direction ended */
	int io_uring; /* connections' sockets watched through io_uring
			 (ring.h) where the kernel allows: 1 (default) */
	int tcp_keepalive;    /* keepalive probes on client and backend
				 connections */
	char *user;           /* drop root for this user after binding */
	/* Where Prometheus scrapes GET /metrics: an IP address and port, or
	 * a unix socket (ss_family AF_UNIX). len 0: not served. */
	struct addr metrics;
	char metrics_text[CONFIG_METRICS_TEXT_MAX]; /* as configured */
	int log_level; /* -1: not set */
	int log_format; /* enum log_format: text or json */

	struct detector_ref *detectors; /* NULL: not set, use the default */
	size_t ndetectors;
	char *plugin_dir; /* NULL: not set */

	struct target on_timeout, fallback;

	/* Clients from these addresses (load balancers) must start with a
	 * PROXY protocol header, which gives the real client address. */
	struct cidr_list accept_proxy;
	/* Who may connect at all, decided before a byte is read (with
	 * accept_proxy: on the header's address). */
	struct cidr_list allow, deny;
	/* Per source (an IPv4 address, an IPv6 /64): connections at once
	 * (-1: a quarter of max_connections; 0: no limit) and new connections
	 * per second (a token bucket with a burst of twice that; 0: off). */
	long max_connections_per_source;
	double rate_per_source;
	/* Connect to backends from the client's own address (a route's
	 * `transparent` overrides it). */
	int transparent;
	/* After a `priority: latency` connection relayed bytes, its worker
	 * polls without sleeping this long (seconds; 0: never). */
	double latency_busy_poll;
	/* Local addresses every backend connection comes from, in turn (a
	 * route's `source`, or `transparent`, overrides it; none: the
	 * kernel's choice). Owned: config_free frees them. */
	struct bind_sources sources;
	/* How relayed bytes move (enum relay_mode; a route's `relay`
	 * overrides it). */
	int relay;

	/* Top-level sections other than PORTMUX, in file order (borrowed from
	 * the tree). */
	const struct pmx_node **section_keys;
	const struct pmx_node **section_vals;
	size_t nsections;
};

/* Load and validate `path`. NULL with "FILE:LINE:COL: message" in err.
 * `port_override` > 0 replaces the port of every listen address. */
struct config *config_load(const char *path, int port_override, char *err,
			   size_t errlen);
struct config *config_parse(struct yaml_tree *tree, int port_override,
			    char *err, size_t errlen);
void config_free(struct config *cfg);

/* Is `sa` in one of the accept_proxy ranges? */
int config_proxy_trusted(const struct config *cfg, const struct sockaddr *sa);
/* Does any part of the configuration ask for transparent proxying
 * (PORTMUX.transparent or a route's `transparent: true`)? Read from the
 * tree, before the route tables exist: the privilege drop must keep
 * CAP_NET_ADMIN for it. */
int config_wants_transparent(const struct config *cfg);
/* Does a backend anywhere in the configuration want something: a route's
 * backend mapping (read from the tree: `map_wants`), or an on_timeout or
 * fallback target of PORTMUX or of a listen entry (`target_wants`)? */
int config_any_backend(const struct config *cfg,
		       int (*map_wants)(const struct pmx_node *b),
		       int (*target_wants)(const struct target *t));
/* Connections one source may hold (max_connections_per_source resolved:
 * auto is a quarter of max_connections, at least 1); 0: no limit. */
long config_source_limit(const struct config *cfg);

/* The value of a top-level section by name (case-insensitive), or NULL. */
const struct pmx_node *config_section(const struct config *cfg,
				      const char *name, const char **key);

#endif
